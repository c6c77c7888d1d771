//! The instance actor (`/actor`, type `Application`): the identity that signs
//! our GET requests, so servers in authorized-fetch mode answer us. It can be
//! fetched unsigned, as Mastodon's can, or nobody could verify it.

use activitypub_federation::protocol::{context::WithContext, public_key::PublicKey};
use axum::{extract::State, response::IntoResponse};
use serde_json::json;

use super::ActivityJson;
pub use crate::instance::{InstanceActor, USERNAME};
use crate::{state::AppState, urls::Urls};

/// The instance actor document.
pub fn instance_actor_document(
    actor: &InstanceActor,
    urls: &Urls,
    name: &str,
) -> serde_json::Value {
    let id = urls.instance_actor();
    json!({
        "type": "Application",
        "id": id,
        "preferredUsername": USERNAME,
        "name": name,
        "inbox": urls.join_path("/actor/inbox"),
        "outbox": urls.join_path("/actor/outbox"),
        "url": urls.base(),
        "manuallyApprovesFollowers": true,
        "endpoints": { "sharedInbox": urls.shared_inbox() },
        "publicKey": PublicKey {
            id: urls.key_id(&id),
            owner: id.clone(),
            public_key_pem: actor.public_key_pem.clone(),
        },
    })
}

/// `GET /actor`
pub async fn instance_actor(State(state): State<AppState>) -> impl IntoResponse {
    let document =
        instance_actor_document(&state.instance, &state.urls, &state.config.instance_name);
    ActivityJson(WithContext::new(document, super::context()))
}
