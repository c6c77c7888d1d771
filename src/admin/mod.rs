//! The admin HTTP API under `/api/v1`: JSON in and out, every route behind a
//! bearer token ([`auth::Admin`]). Handlers extract a service's request
//! type, call one function of `services` and render its answer; they never
//! build ActivityPub documents or queue anything themselves.

pub mod auth;
mod deliveries;
mod domain_blocks;
mod followers;
mod imports;
pub mod media;

pub use imports::ImportQuery;
mod organisations;
mod reactions;
mod statements;

use axum::{
    Router,
    routing::{delete, get, post, put},
};

use crate::state::AppState;

/// The admin API. `max_media_bytes` bounds an upload's body (the rest keep
/// the admin body limit the caller sets).
pub fn routes(max_media_bytes: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/organisations",
            get(organisations::list).post(organisations::create),
        )
        .route(
            "/organisations/{handle}",
            get(organisations::show)
                .patch(organisations::update)
                .delete(organisations::delete),
        )
        .route("/organisations/{handle}/followers", get(followers::list))
        .route(
            "/organisations/{handle}/followers/{id}",
            delete(followers::remove),
        )
        .route(
            "/organisations/{handle}/follow-requests",
            get(followers::requests),
        )
        .route(
            "/organisations/{handle}/follow-requests/{id}/accept",
            post(followers::accept),
        )
        .route(
            "/organisations/{handle}/follow-requests/{id}/reject",
            post(followers::reject),
        )
        .route(
            "/domain-blocks",
            get(domain_blocks::list).post(domain_blocks::create),
        )
        .route("/domain-blocks/{domain}", delete(domain_blocks::delete))
        .route("/deliveries", get(deliveries::list))
        .route(
            "/statements",
            get(statements::list).post(statements::create),
        )
        .route(
            "/statements/{id}",
            get(statements::show)
                .patch(statements::update)
                .delete(statements::delete),
        )
        .route("/statements/{id}/publish", post(statements::publish_now))
        .route(
            "/statements/{id}/signatories",
            post(statements::add_signatory),
        )
        .route("/statements/{id}/deliveries", get(statements::deliveries))
        .route("/imports/{key}", put(imports::import))
        .route(
            "/media",
            post(media::upload).layer(axum::extract::DefaultBodyLimit::max(
                max_media_bytes + 64 * 1024,
            )),
        )
        .route(
            "/media/{id}",
            get(media::show).patch(media::update).delete(media::delete),
        )
        .route("/statements/{id}/reactions", get(reactions::reactions))
        .route("/replies", get(reactions::replies))
        .route("/replies/{id}", delete(reactions::delete_reply))
        .route("/replies/{id}/approve", post(reactions::approve_reply))
        .route("/replies/{id}/hide", post(reactions::hide_reply))
        .route("/quotes", get(reactions::quotes))
        .route("/quotes/{id}/revoke", post(reactions::revoke_quote))
        .route("/reports", get(reactions::reports))
        .route("/reports/{id}/resolve", post(reactions::resolve_report))
        .route("/blocks", get(reactions::blocks))
        .route("/organisations/{handle}/featured", post(statements::pin))
        .route(
            "/organisations/{handle}/featured/{statement}",
            delete(statements::unpin),
        )
        .fallback(not_found)
}

async fn not_found() -> crate::error::AppError {
    crate::error::AppError::not_found("no such API route")
}
