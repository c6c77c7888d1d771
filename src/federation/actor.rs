//! The organisation's URL as ActivityPub clients read it: the actor
//! document (built by `vocabulary::actor`), served from a short cache, 404
//! or 410 once there is none. `web` negotiates: browsers get the profile.

use activitypub_federation::protocol::context::WithContext;
use axum::response::Response;

use super::activity_json_bytes;
use crate::{
    error::AppError,
    organisations::Organisation,
    state::AppState,
    vocabulary::{actor::organisation_actor, context},
};

/// The organisation a public URL names: 404 if there never was one, 410
/// if it was deleted (WebFinger's 410 makes Mastodon drop its cached account).
pub async fn live_organisation(state: &AppState, handle: &str) -> Result<Organisation, AppError> {
    match state.store.organisation(handle).await {
        Ok(org) => Ok(org),
        Err(crate::store::StoreError::NotFound) => {
            Err(if state.store.organisation_was_deleted(handle).await? {
                AppError::Gone(format!("organisation {handle} was deleted"))
            } else {
                AppError::not_found(format!("no organisation {handle}"))
            })
        }
        Err(err) => Err(err.into()),
    }
}

/// The `Organization` actor document of `handle` as served at its URL
/// (serialised once, kept briefly in the document cache); 404 or 410 as
/// [`live_organisation`] says. `web` negotiates: browsers get the profile.
pub async fn actor_document(state: &AppState, handle: &str) -> Result<Response, AppError> {
    if let Some(document) = state.documents.actor(handle).await {
        return Ok(activity_json_bytes(document));
    }
    let org = live_organisation(state, handle).await?;
    let actor = organisation_actor(&org, &state.urls);
    let document: axum::body::Bytes = serde_json::to_vec(&WithContext::new(actor, context()))
        .map_err(anyhow::Error::from)?
        .into();
    state
        .documents
        .keep_actor(&org.handle, document.clone())
        .await;
    Ok(activity_json_bytes(document))
}
