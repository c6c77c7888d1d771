//! The admin HTTP API under `/api/v1`: JSON in and out, every route behind a
//! bearer token ([`auth::Admin`]). Handlers validate input, call the store
//! and the publishing code, and never build ActivityPub documents themselves.

pub mod auth;
mod organisations;

use axum::{
    Router,
    routing::get,
};

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
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
        .fallback(not_found)
}

async fn not_found() -> crate::error::AppError {
    crate::error::AppError::not_found("no such API route")
}
