//! Bearer-token authentication of the admin API.
//!
//! Tokens are 256 random bits shown once at creation; the database keeps only
//! their SHA-256, so a leaked database leaks no usable token. A lookup by hash
//! needs no constant-time comparison: the secret never meets stored bytes.

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{error::AppError, state::AppState, store::AdminToken};

/// A new random token: `bst_` and 43 URL-safe characters.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("bst_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The hash stored for a token.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
