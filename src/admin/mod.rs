//! The admin HTTP API under `/api/v1`: JSON in and out, every route behind a
//! bearer token ([`auth::Admin`]) except its own description. Handlers
//! extract a service's request type, call one function of `services` and
//! render its answer; they never build ActivityPub documents or queue
//! anything themselves.
//!
//! Every handler carries a `#[utoipa::path]` annotation and is registered
//! only through `routes!` in [`api`]: the router and the OpenAPI document
//! ([`openapi::openapi`], served at `/api/v1/openapi.json` and, for people,
//! `/api/v1/docs`) are built from that one list. Answers are the types of
//! [`views`], never store rows; the CLI reads them back as the same types.

pub mod auth;
mod deliveries;
mod domain_blocks;
mod followers;
mod imports;
pub mod media;
pub mod openapi;
pub mod views;

pub use imports::ImportQuery;
mod organisations;
mod reactions;
mod statements;

use axum::Router;
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};

use crate::state::AppState;

/// Where the API lives; every path in the document starts with it.
pub const BASE: &str = "/api/v1";

/// Every route of the API, below [`BASE`], each with its operation. Methods
/// on the same path share one `routes!`.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(organisations::list, organisations::create))
        .routes(routes!(
            organisations::show,
            organisations::update,
            organisations::delete
        ))
        .routes(routes!(followers::list))
        .routes(routes!(followers::remove))
        .routes(routes!(followers::requests))
        .routes(routes!(followers::accept))
        .routes(routes!(followers::reject))
        .routes(routes!(statements::pin))
        .routes(routes!(statements::unpin))
        .routes(routes!(domain_blocks::list, domain_blocks::create))
        .routes(routes!(domain_blocks::delete))
        .routes(routes!(deliveries::list))
        .routes(routes!(statements::list, statements::create))
        .routes(routes!(
            statements::show,
            statements::update,
            statements::delete
        ))
        .routes(routes!(statements::publish_now))
        .routes(routes!(statements::add_signatory))
        .routes(routes!(statements::deliveries))
        .routes(routes!(imports::import))
        // Uploads bound their own body, field by field (`media::upload`).
        .routes(routes!(media::upload).layer(axum::extract::DefaultBodyLimit::disable()))
        .routes(routes!(media::show, media::update, media::delete))
        .routes(routes!(reactions::reactions))
        .routes(routes!(reactions::replies))
        .routes(routes!(reactions::delete_reply))
        .routes(routes!(reactions::approve_reply))
        .routes(routes!(reactions::hide_reply))
        .routes(routes!(reactions::quotes))
        .routes(routes!(reactions::revoke_quote))
        .routes(routes!(reactions::reports))
        .routes(routes!(reactions::resolve_report))
        .routes(routes!(reactions::blocks))
        .routes(routes!(openapi::document))
        .routes(routes!(openapi::docs))
        .fallback(not_found)
}

/// The API's router (paths below [`BASE`]) and its OpenAPI document, from
/// the one list in [`api`].
fn router_and_document() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(openapi::base())
        .nest(BASE, api())
        .split_for_parts();
    openapi::complete(&mut document);
    (router, document)
}

/// Every route of the API, under [`BASE`].
pub fn routes() -> Router<AppState> {
    router_and_document().0
}

async fn not_found() -> crate::error::AppError {
    crate::error::AppError::not_found("no such API route")
}
