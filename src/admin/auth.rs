//! Bearer-token authentication of the admin API.
//!
//! Tokens are 256 random bits shown once at creation; the database keeps only
//! their SHA-256, so a leaked database leaks no usable token. A lookup by hash
//! needs no constant-time comparison: the secret never meets stored bytes.

use axum::{extract::FromRequestParts, http::request::Parts};

pub use crate::secrets::hash_secret as hash_token;
use crate::{error::AppError, secrets::random_secret, state::AppState, store::AdminToken};

/// A new random token: `bst_` and 43 URL-safe characters.
pub fn new_token() -> String {
    format!("bst_{}", random_secret())
}

/// An authenticated admin request; extracting it checks the token.
pub struct Admin(pub AdminToken);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::Unauthorized("an Authorization: Bearer token is required".into())
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized("an Authorization: Bearer token is required".into())
            })?;
        match state.store.token_by_hash(&hash_token(token)).await? {
            Some(found) => Ok(Admin(found)),
            None => Err(AppError::Unauthorized("invalid token".into())),
        }
    }
}
