//! Bearer-token authentication of the admin API, and what each token's
//! scope lets it do.
//!
//! Scopes, decided here for every route at once: `read` may only GET;
//! `editor` may also write statements, organisations, signatures and
//! moderation, but not domain blocks (they remove followers, which is the
//! operator's call); `admin` may do everything and sign in to the desk.
//! A token may expire; an expired one is refused like an unknown one.
//!
//! Tokens are 256 random bits shown once at creation; the database keeps only
//! their SHA-256, so a leaked database leaks no usable token. A lookup by hash
//! needs no constant-time comparison: the secret never meets stored bytes.

use axum::{
    extract::FromRequestParts,
    http::{Method, request::Parts},
};

pub use crate::secrets::hash_secret as hash_token;
use crate::{
    error::AppError, secrets::random_secret, services::tokens, state::AppState, store::AdminToken,
};

/// A new random token: `bst_` and 43 URL-safe characters.
pub fn new_token() -> String {
    format!("bst_{}", random_secret())
}

/// The credentials of an `Authorization` header using `scheme`, which
/// compares without regard to case (RFC 9110 §11.1: `BEARER x` is `Bearer x`).
pub fn credentials<'h>(header: &'h str, scheme: &str) -> Option<&'h str> {
    let (given, rest) = header.trim_start().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Editor,
    Admin,
}

impl Scope {
    pub const NAMES: &[&str] = &["read", "editor", "admin"];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Editor => "editor",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        match name {
            "read" => Some(Scope::Read),
            "editor" => Some(Scope::Editor),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Whether this scope allows `method` on `path` (below `/api/v1`).
    pub fn allows(self, method: &Method, path: &str) -> bool {
        let reads = matches!(*method, Method::GET | Method::HEAD);
        match self {
            Scope::Admin => true,
            Scope::Editor => reads || !path.starts_with("/domain-blocks"),
            Scope::Read => reads,
        }
    }
}

/// An authenticated admin request; extracting it checks the token and its
/// scope.
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
        let token = credentials(header, "Bearer")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AppError::Unauthorized("an Authorization: Bearer token is required".into())
            })?;
        let Some(found) = tokens::presented(&state.services, token).await? else {
            return Err(AppError::Unauthorized("invalid or expired token".into()));
        };
        // An unknown scope (written by a newer version) grants nothing.
        let scope = Scope::parse(&found.scope).unwrap_or(Scope::Read);
        let path = parts.uri.path();
        let path = path.strip_prefix("/api/v1").unwrap_or(path);
        if !scope.allows(&parts.method, path) {
            return Err(AppError::Forbidden(format!(
                "the token {:?} has the {} scope, which does not allow {} {path}",
                found.name, found.scope, parts.method
            )));
        }
        Ok(Admin(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
        assert!(Scope::Read.allows(&get, "/statements"));
        assert!(!Scope::Read.allows(&post, "/statements"));
        assert!(Scope::Editor.allows(&post, "/statements"));
        assert!(Scope::Editor.allows(&get, "/domain-blocks"));
        assert!(!Scope::Editor.allows(&post, "/domain-blocks"));
        assert!(!Scope::Editor.allows(&delete, "/domain-blocks/x.example"));
        assert!(Scope::Admin.allows(&delete, "/domain-blocks/x.example"));
        assert_eq!(Scope::parse("owner"), None);
        for name in Scope::NAMES {
            assert_eq!(Scope::parse(name).unwrap().name(), *name);
        }
    }
}
