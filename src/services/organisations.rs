//! Creating, editing and deleting organisations. An edit goes out as an
//! `Update{Organization}` and a deletion as a `Delete{actor}` to every
//! follower, each in the transaction that makes the change.

use serde::{Deserialize, Serialize};

use super::{ServiceError, ServiceResult, Services, named};
use crate::{
    clock::now_ms,
    delivery::Outgoing,
    keys::generate_keypair,
    organisations::{Invalid, Organisation, Profile, ProfileField, validate_handle},
    store::{NewOrganisation, StoreError, Transition},
    vocabulary::{Activity, activities},
};

/// A new organisation, as the editor describes it (the admin API reads
/// it; the CLI builds it from flags or an organisations file).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct NewProfile {
    /// The name in its fediverse address `@handle@host`: lower-case
    /// letters, digits, `_`, and `.` or `-` between them, at most 30
    /// characters. It can never change.
    pub handle: String,
    /// The display name (at most 100 characters).
    pub name: String,
    /// The biography, plain text (at most 5,000 characters).
    pub summary: String,
    /// An https URL.
    pub website: Option<String>,
    /// Name/value pairs shown on the profile (at most 8).
    #[serde(default)]
    pub fields: Vec<ProfileField>,
    /// An https URL of the avatar image.
    pub avatar_url: Option<String>,
    /// An https URL of the header image.
    pub header_url: Option<String>,
    /// Follows wait for an editor's approval.
    #[serde(default)]
    pub manually_approves_followers: bool,
    /// Listed in directories (default true).
    pub discoverable: Option<bool>,
    /// Its statements may be indexed by search (default true).
    pub indexable: Option<bool>,
    /// Replies to its statements skip the moderation queue.
    #[serde(default)]
    pub approve_replies: bool,
}

/// Changes to a profile: every field optional; `null` clears the optional
/// ones.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct ProfileChanges {
    /// Only the current handle is accepted: a handle cannot change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "super::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    /// Replaces every field; absent or `null` keeps them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<ProfileField>>,
    /// Absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "super::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    /// Absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "super::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub header_url: Option<Option<String>>,
    /// Absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manually_approves_followers: Option<bool>,
    /// Absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discoverable: Option<bool>,
    /// Absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indexable: Option<bool>,
    /// Absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approve_replies: Option<bool>,
    /// An upload (`POST /api/v1/media`) to be the avatar, served by us, in
    /// place of `avatar_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_media: Option<String>,
    /// An upload to be the header image, in place of `header_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_media: Option<String>,
}

/// The live organisation `handle`, or `NotFound` naming it.
pub async fn find(services: &Services, handle: &str) -> ServiceResult<Organisation> {
    named(services.store.organisation(handle).await, || {
        format!("no organisation {handle}")
    })
}

/// Validates and stores a new organisation with a fresh key pair.
pub async fn create(services: &Services, input: NewProfile) -> ServiceResult<Organisation> {
    validate_handle(&input.handle)?;
    let profile = Profile {
        name: input.name,
        summary: input.summary,
        website: input.website,
        fields: input.fields,
        avatar_url: input.avatar_url,
        header_url: input.header_url,
        manually_approves_followers: input.manually_approves_followers,
        discoverable: input.discoverable.unwrap_or(true),
        indexable: input.indexable.unwrap_or(true),
        approve_replies: input.approve_replies,
    }
    .validate()?;
    // Key generation takes milliseconds of CPU: keep it off the async threads.
    let (private_key, public_key_pem) = tokio::task::spawn_blocking(generate_keypair)
        .await
        .map_err(anyhow::Error::from)?
        .map_err(anyhow::Error::from)?;
    let created = services
        .store
        .create_organisation(NewOrganisation {
            handle: input.handle.clone(),
            profile,
            public_key_pem,
            private_key,
        })
        .await
        .map_err(|err| match err {
            StoreError::Conflict => ServiceError::Conflict(format!(
                "handle: {} is taken (handles of deleted organisations are never reused)",
                input.handle
            )),
            other => other.into(),
        })?;
    tracing::info!(handle = %created.handle, "organisation created");
    Ok(created)
}

/// Applies the given changes; followers' servers get the new profile at
/// once.
pub async fn update(
    services: &Services,
    handle: &str,
    input: ProfileChanges,
) -> ServiceResult<Organisation> {
    let org = find(services, handle).await?;
    if input.handle.as_ref().is_some_and(|h| *h != org.handle) {
        return Err(Invalid::new(
            "handle",
            "cannot be changed: it is part of the organisation's fediverse address",
        )
        .into());
    }
    if input.avatar_media.is_some() && input.avatar_url.is_some() {
        return Err(
            Invalid::new("avatar_media", "give avatar_media or avatar_url, not both").into(),
        );
    }
    if input.header_media.is_some() && input.header_url.is_some() {
        return Err(
            Invalid::new("header_media", "give header_media or header_url, not both").into(),
        );
    }
    let mut input = input;
    input.handle = None;
    for (role, upload) in [
        ("avatar", input.avatar_media.take()),
        ("header", input.header_media.take()),
    ] {
        let Some(upload) = upload else { continue };
        let field = format!("{role}_media");
        let found = match services.store.media(&upload).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => {
                return Err(Invalid::new(field, format!("no upload {upload}")).into());
            }
            Err(err) => return Err(err.into()),
        };
        match services
            .store
            .set_profile_media(org.id, role, &upload)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(Invalid::new(field, format!("{upload} is used elsewhere")).into());
            }
            Err(err) => return Err(err.into()),
        }
        let url = Some(Some(services.urls.media(&found.file).to_string()));
        if role == "avatar" {
            input.avatar_url = url;
        } else {
            input.header_url = url;
        }
    }
    let profile = Profile {
        name: input.name.unwrap_or(org.profile.name.clone()),
        summary: input.summary.unwrap_or(org.profile.summary.clone()),
        website: input.website.unwrap_or(org.profile.website.clone()),
        fields: input.fields.unwrap_or(org.profile.fields.clone()),
        avatar_url: input.avatar_url.unwrap_or(org.profile.avatar_url.clone()),
        header_url: input.header_url.unwrap_or(org.profile.header_url.clone()),
        manually_approves_followers: input
            .manually_approves_followers
            .unwrap_or(org.profile.manually_approves_followers),
        discoverable: input.discoverable.unwrap_or(org.profile.discoverable),
        indexable: input.indexable.unwrap_or(org.profile.indexable),
        approve_replies: input.approve_replies.unwrap_or(org.profile.approve_replies),
    }
    .validate()?;
    let at = now_ms();
    let update = activities::update_actor(&services.urls, &org.with_profile(&profile, at));
    change_and_tell(
        services,
        &org,
        Transition::UpdateOrganisation {
            organisation_id: org.id,
            profile: Box::new(profile),
            at,
        },
        update,
    )
    .await?;
    tracing::info!(handle = %org.handle, "organisation updated");
    find(services, handle).await
}

/// Deletes the organisation; its handle stays taken for good, and its key
/// stays so that the Delete is still signed.
pub async fn delete(services: &Services, handle: &str) -> ServiceResult<()> {
    let org = find(services, handle).await?;
    change_and_tell(
        services,
        &org,
        Transition::DeleteOrganisation {
            organisation_id: org.id,
        },
        activities::delete_actor(&services.urls, &org.handle),
    )
    .await?;
    tracing::info!(handle = %org.handle, "organisation deleted");
    Ok(())
}

/// Applies `change` and queues `activity` about it for every follower, in
/// one transaction; `NotFound` if the organisation was deleted meanwhile
/// (then nothing changed).
async fn change_and_tell(
    services: &Services,
    org: &Organisation,
    change: Transition,
    activity: Activity,
) -> ServiceResult<()> {
    let inboxes = services.store.follower_inboxes(&[org.id]).await?;
    let outgoing = Outgoing {
        organisation_id: org.id,
        statement_id: None,
        activity,
    };
    let (done, _) = services
        .outbox
        .send_all(Some(change), vec![(outgoing, inboxes)])
        .await?;
    services.documents.forget(&org.handle).await;
    if !done {
        return Err(ServiceError::NotFound(format!(
            "no organisation {}",
            org.handle
        )));
    }
    Ok(())
}
