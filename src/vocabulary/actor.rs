//! The `Organization` actor document (docs/interop.md §2): the one
//! function that builds it, and its types.

use activitypub_federation::{kinds::object::ImageType, protocol::public_key::PublicKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    clock::from_ms,
    html,
    organisations::{Organisation, image_media_type},
    urls::Urls,
};

/// `Organization` as Mastodon reads it (`process_account_service.rb`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationActor {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Url,
    pub preferred_username: String,
    pub name: String,
    pub summary: String,
    pub url: Url,
    pub inbox: Url,
    pub outbox: Url,
    pub followers: Url,
    pub following: Url,
    pub featured: Url,
    pub endpoints: Endpoints,
    pub public_key: PublicKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<Image>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// Always an array: Mastodon ignores a single object here.
    pub attachment: Vec<PropertyValue>,
    pub manually_approves_followers: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub attribution_domains: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    pub shared_inbox: Url,
}

/// An `Image` object: Mastodon fetches a bare string as a document instead.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    #[serde(rename = "type")]
    pub kind: ImageType,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PropertyValue {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub value: String,
}

fn image(url: &Option<String>) -> Option<Image> {
    url.as_ref().map(|url| Image {
        kind: ImageType::Image,
        url: url.clone(),
        media_type: image_media_type(url).map(str::to_string),
    })
}

/// The profile fields shown on the actor: the website first, then the rest.
pub fn profile_fields(org: &Organisation) -> Vec<(String, String)> {
    let mut fields = Vec::with_capacity(org.profile.fields.len() + 1);
    if let Some(website) = &org.profile.website
        && !org.profile.fields.iter().any(|f| f.value == *website)
    {
        fields.push(("Website".to_string(), website.clone()));
    }
    fields.extend(
        org.profile
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.value.clone())),
    );
    fields
}

/// Builds the actor document of an organisation. The one place it is built.
pub fn organisation_actor(org: &Organisation, urls: &Urls) -> OrganisationActor {
    let id = urls.organisation(&org.handle);
    OrganisationActor {
        kind: "Organization".into(),
        preferred_username: org.handle.clone(),
        name: org.profile.name.clone(),
        summary: html::markdown_to_html(&org.profile.summary),
        url: id.clone(),
        inbox: urls.inbox(&org.handle),
        outbox: urls.outbox(&org.handle),
        followers: urls.followers(&org.handle),
        following: urls.following(&org.handle),
        featured: urls.featured(&org.handle),
        endpoints: Endpoints {
            shared_inbox: urls.shared_inbox(),
        },
        public_key: PublicKey {
            id: urls.key_id(&id),
            owner: id.clone(),
            public_key_pem: org.public_key_pem.clone(),
        },
        icon: image(&org.profile.avatar_url),
        image: image(&org.profile.header_url),
        attachment: profile_fields(org)
            .into_iter()
            .map(|(name, value)| PropertyValue {
                kind: "PropertyValue".into(),
                value: html::field_value_html(&value),
                name,
            })
            .collect(),
        manually_approves_followers: org.profile.manually_approves_followers,
        discoverable: org.profile.discoverable,
        indexable: org.profile.indexable,
        published: from_ms(org.created_at),
        updated: from_ms(org.updated_at),
        attribution_domains: vec![urls.base().host_str().unwrap_or_default().to_string()],
        id,
    }
}
