//! `/api/v1/organisations`: create, list, show, edit and delete signatories.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};

use super::auth::Admin;
use crate::{
    delivery::Outgoing,
    error::{ApiJson, ApiPath, AppError},
    federation::activities::{self, Activity},
    keys::generate_keypair,
    organisations::{Organisation, Profile, ProfileField, validate_handle},
    state::AppState,
    store::{ACCEPTED, NewOrganisation, StoreError, Transition, now_ms},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganisation {
    handle: String,
    name: String,
    summary: String,
    website: Option<String>,
    #[serde(default)]
    fields: Vec<ProfileField>,
    avatar_url: Option<String>,
    header_url: Option<String>,
    #[serde(default)]
    manually_approves_followers: bool,
    discoverable: Option<bool>,
    indexable: Option<bool>,
}

/// Every field optional; `null` clears the optional ones.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganisation {
    handle: Option<String>,
    name: Option<String>,
    summary: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    website: Option<Option<String>>,
    fields: Option<Vec<ProfileField>>,
    #[serde(default, deserialize_with = "super::nullable")]
    avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    header_url: Option<Option<String>>,
    manually_approves_followers: Option<bool>,
    discoverable: Option<bool>,
    indexable: Option<bool>,
}

/// An organisation as the admin API shows it. Never includes a private key.
#[derive(Serialize)]
pub struct OrganisationView {
    handle: String,
    name: String,
    summary: String,
    website: Option<String>,
    fields: Vec<ProfileField>,
    avatar_url: Option<String>,
    header_url: Option<String>,
    manually_approves_followers: bool,
    discoverable: bool,
    indexable: bool,
    actor_url: String,
    acct: String,
    followers_count: i64,
    follow_requests_count: i64,
    statuses_count: i64,
    created_at: String,
    updated_at: String,
}

async fn view(state: &AppState, org: Organisation) -> Result<OrganisationView, AppError> {
    let followers_count = state.store.count_followers(org.id, ACCEPTED).await?;
    let follow_requests_count = state
        .store
        .count_followers(org.id, crate::store::PENDING)
        .await?;
    let statuses_count = state.store.count_outbox(org.id).await?;
    Ok(OrganisationView {
        actor_url: state.urls.organisation(&org.handle).to_string(),
        acct: format!("@{}@{}", org.handle, state.urls.domain()),
        followers_count,
        follow_requests_count,
        statuses_count,
        created_at: crate::store::from_ms(org.created_at).to_rfc3339(),
        updated_at: crate::store::from_ms(org.updated_at).to_rfc3339(),
        handle: org.handle,
        name: org.name,
        summary: org.summary,
        website: org.website,
        fields: org.fields,
        avatar_url: org.avatar_url,
        header_url: org.header_url,
        manually_approves_followers: org.manually_approves_followers,
        discoverable: org.discoverable,
        indexable: org.indexable,
    })
}

/// `POST /api/v1/organisations` → 201 with the stored organisation.
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<CreateOrganisation>,
) -> Result<impl IntoResponse, AppError> {
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
    }
    .validate()?;
    // Key generation takes milliseconds of CPU: keep it off the async threads.
    let (private_key, public_key_pem) = tokio::task::spawn_blocking(generate_keypair)
        .await
        .map_err(anyhow::Error::from)?
        .map_err(anyhow::Error::from)?;
    let created = state
        .store
        .create_organisation(NewOrganisation {
            handle: input.handle.clone(),
            profile,
            public_key_pem,
            private_key,
        })
        .await
        .map_err(|err| match err {
            StoreError::Conflict => AppError::Conflict(format!(
                "handle: {} is taken (handles of deleted organisations are never reused)",
                input.handle
            )),
            other => other.into(),
        })?;
    tracing::info!(handle = %created.handle, "organisation created");
    Ok((StatusCode::CREATED, Json(view(&state, created).await?)))
}

/// Applies `change` to the organisation and queues `activity` about it for
/// all its followers, in one transaction; 404 if the organisation was
/// deleted meanwhile (then nothing changed).
async fn change_and_tell(
    state: &AppState,
    org: &Organisation,
    change: Transition,
    activity: Activity,
) -> Result<(), AppError> {
    let inboxes = state.store.follower_inboxes(&[org.id]).await?;
    let outgoing = Outgoing {
        organisation_id: org.id,
        statement_id: None,
        activity,
    };
    let (done, _) = state
        .outbox
        .send_all(Some(change), vec![(outgoing, inboxes)])
        .await?;
    if !done {
        return Err(AppError::not_found(format!(
            "no organisation {}",
            org.handle
        )));
    }
    Ok(())
}

/// `GET /api/v1/organisations`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<OrganisationView>>, AppError> {
    let mut views = Vec::new();
    for org in state.store.organisations().await? {
        views.push(view(&state, org).await?);
    }
    Ok(Json(views))
}

pub(super) async fn find(state: &AppState, handle: &str) -> Result<Organisation, AppError> {
    state
        .store
        .organisation(handle)
        .await
        .map_err(|err| match err {
            StoreError::NotFound => AppError::not_found(format!("no organisation {handle}")),
            other => other.into(),
        })
}

/// `GET /api/v1/organisations/{handle}`
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<OrganisationView>, AppError> {
    let org = find(&state, &handle).await?;
    Ok(Json(view(&state, org).await?))
}

/// `PATCH /api/v1/organisations/{handle}`: changes the given fields only.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateOrganisation>,
) -> Result<Json<OrganisationView>, AppError> {
    let org = find(&state, &handle).await?;
    if input.handle.is_some_and(|h| h != org.handle) {
        return Err(AppError::invalid(
            "handle",
            "cannot be changed: it is part of the organisation's fediverse address",
        ));
    }
    let profile = Profile {
        name: input.name.unwrap_or(org.name.clone()),
        summary: input.summary.unwrap_or(org.summary.clone()),
        website: input.website.unwrap_or(org.website.clone()),
        fields: input.fields.unwrap_or(org.fields.clone()),
        avatar_url: input.avatar_url.unwrap_or(org.avatar_url.clone()),
        header_url: input.header_url.unwrap_or(org.header_url.clone()),
        manually_approves_followers: input
            .manually_approves_followers
            .unwrap_or(org.manually_approves_followers),
        discoverable: input.discoverable.unwrap_or(org.discoverable),
        indexable: input.indexable.unwrap_or(org.indexable),
    }
    .validate()?;
    let at = now_ms();
    let edited = org.with_profile(&profile, at);
    let update = activities::update_actor(&state.urls, &edited);
    change_and_tell(
        &state,
        &org,
        Transition::UpdateOrganisation {
            organisation_id: org.id,
            profile: Box::new(profile),
            at,
        },
        update,
    )
    .await?;
    state.documents.forget(&org.handle).await;
    tracing::info!(handle = %org.handle, "organisation updated");
    let updated = find(&state, &handle).await?;
    Ok(Json(view(&state, updated).await?))
}

/// `DELETE /api/v1/organisations/{handle}` → 204. The handle stays taken.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let org = find(&state, &handle).await?;
    // The followers are read before the row is marked deleted; the key
    // stays, so the Delete is still signed.
    change_and_tell(
        &state,
        &org,
        Transition::DeleteOrganisation {
            organisation_id: org.id,
        },
        activities::delete_actor(&state.urls, &org.handle),
    )
    .await?;
    state.documents.forget(&org.handle).await;
    tracing::info!(handle = %org.handle, "organisation deleted");
    Ok(StatusCode::NO_CONTENT)
}
