//! Authorized fetch (Mastodon's "secure mode", config `authorized_fetch`):
//! ActivityPub GETs of actors, statements, activities and collections are
//! answered only to a request signed — draft-cavage or RFC 9421 — by a key
//! of a server that is not blocked. A blocked server gets 403 even when its
//! signature is good; an unsigned or badly signed request 401.
//!
//! What stays open, so that other servers can still find us and sign: the
//! instance actor (`/actor`, whose key signs our own fetches and theirs of
//! us), WebFinger, host-meta, NodeInfo, and every HTML page and feed (the
//! website is public; only its ActivityPub form is gated).
//!
//! The key is found by its id: from the cache of remote actors when we
//! know it, else fetched (within the per-server fetch limit, which
//! `transport::SignedFetches` applies to every fetch), with one refetch
//! when it does not verify (keys rotate).

use std::{sync::Arc, time::SystemTime};

use activitypub_federation::config::{Data, FederationConfig};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, Uri, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use url::Url;

use super::{remote_actor, wants_activity_json};
use crate::{
    domains::host_and_port, error::AppError, state::AppState, transport::inbound::Inbound,
};

/// Paths that are ActivityPub whatever the client accepts.
const ACTIVITYPUB_ONLY: &[&str] = &["/activities/", "/quote-authorizations/"];
/// Collection names under an organisation or a statement.
const COLLECTIONS: &[&str] = &[
    "outbox",
    "followers",
    "following",
    "featured",
    "likes",
    "shares",
    "replies",
];

/// Whether a GET of `path` is an ActivityPub read that the gate covers.
pub fn is_gated(path: &str, wants_activitypub: bool) -> bool {
    if ACTIVITYPUB_ONLY.iter().any(|p| path.starts_with(p)) {
        return true;
    }
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        // An actor or a statement, when asked for as ActivityPub.
        (Some("organisations" | "statements"), Some(id), None, None) if !id.is_empty() => {
            wants_activitypub
        }
        (Some("organisations" | "statements"), Some(_), Some(collection), None) => {
            COLLECTIONS.contains(&collection)
        }
        _ => false,
    }
}

/// The middleware, on every route when the mode is on (`app::router`):
/// passes what is not gated. The federation library's request data is made
/// only for a request it checks.
pub async fn gate(
    State(federation): State<Arc<FederationConfig<AppState>>>,
    request: Request,
    next: Next,
) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD)
        || !is_gated(request.uri().path(), wants_activity_json(request.headers()))
    {
        return next.run(request).await;
    }
    // Only what the check reads: a request body is not `Sync`, and the
    // check awaits.
    let (method, uri, headers) = (
        request.method().clone(),
        request.uri().clone(),
        request.headers().clone(),
    );
    match signed_by(&federation.to_request_data(), &method, &uri, &headers).await {
        Ok(server) => {
            tracing::debug!(server, "signed fetch");
            let mut response = next.run(request).await;
            // The answer depends on who asked: no shared cache may keep it.
            let headers = response.headers_mut();
            headers.insert(header::VARY, HeaderValue::from_static("Accept, Signature"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
            response
        }
        Err(err) => err.into_response(),
    }
}

/// The server whose key signed `request`, if the signature is good and the
/// server is not blocked.
async fn signed_by(
    data: &Data<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, AppError> {
    let unauthorized = |why: String| AppError::Unauthorized(format!("authorized fetch: {why}"));
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let now = SystemTime::now();
    let sig = Inbound::read_for_us(method, data.urls.base(), path, headers, &[], now)
        .map_err(|e| unauthorized(e.to_string()))?;
    let key_id = Url::parse(sig.key_id()).map_err(|_| unauthorized("keyId is not a URL".into()))?;
    if !matches!(key_id.scheme(), "http" | "https") {
        return Err(unauthorized("keyId is not an http(s) URL".into()));
    }
    let server = host_and_port(&key_id);
    if data.store.is_domain_blocked(&server).await? {
        return Err(AppError::Forbidden(format!("{server} is blocked")));
    }
    let verifies = |pem: &str| sig.verify(method, path, headers, pem).is_ok();
    if let Some(known) = data.store.remote_actor_by_key(key_id.as_str()).await?
        && verifies(&known.public_key_pem)
    {
        return Ok(server);
    }
    let fetch_failed = |e: remote_actor::PeerError| {
        tracing::info!(key = %key_id, error = %e, "key of a signed fetch could not be fetched");
        match e.limited() {
            Some(limited) => limited.clone().into(),
            None => unauthorized("the signing key could not be fetched".into()),
        }
    };
    let owner = remote_actor::key_owner(&key_id, data)
        .await
        .map_err(fetch_failed)?;
    if verifies(&owner.record.public_key_pem) {
        Ok(server)
    } else {
        Err(unauthorized("the signature does not verify".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::is_gated;

    #[test]
    fn what_the_gate_covers() {
        for path in [
            "/activities/abc",
            "/quote-authorizations/1",
            "/organisations/cras/outbox",
            "/organisations/cras/followers",
            "/statements/x/likes",
            "/statements/x/replies",
        ] {
            assert!(is_gated(path, false), "{path}");
        }
        assert!(is_gated("/organisations/cras", true));
        assert!(is_gated("/statements/x", true));
        for path in [
            "/organisations/cras",
            "/statements/x",
            "/organisations/cras/feed.atom",
            "/actor",
            "/.well-known/webfinger",
            "/nodeinfo/2.1",
            "/",
            "/tags/x",
        ] {
            assert!(!is_gated(path, false), "{path}");
        }
        for path in [
            "/actor",
            "/.well-known/webfinger",
            "/organisations/cras/feed.atom",
        ] {
            assert!(!is_gated(path, true), "{path}");
        }
    }
}
