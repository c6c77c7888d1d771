//! ActivityPub and its discovery protocols: the documents other servers read
//! (actors, collections, WebFinger, NodeInfo) and, in later modules, the
//! inbox. Documents are built with activitypub_federation's types; each
//! document has exactly one function that builds it.

pub mod actor;
pub mod collections;
pub mod keys;
pub mod nodeinfo;
pub mod urls;
pub mod webfinger;

use activitypub_federation::{
    FEDERATION_CONTENT_TYPE,
    config::FederationConfig,
};
use axum::{
    Router,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::{app::AppState, config::Config};

/// Routes other servers use.
pub fn routes(_config: &Config) -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route("/.well-known/host-meta", get(webfinger::host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo::discovery))
        .route("/nodeinfo/2.1", get(nodeinfo::nodeinfo))
        .route("/organisations/{handle}", get(actor::organisation))
        .route("/organisations/{handle}/outbox", get(collections::outbox))
        .route("/organisations/{handle}/followers", get(collections::followers))
        .route("/organisations/{handle}/following", get(collections::following))
        .route("/organisations/{handle}/featured", get(collections::featured))
}

/// The federation library's configuration: our domain, and whether plain
/// http and private addresses are allowed (tests and local trials only).
pub async fn federation_config(state: AppState) -> anyhow::Result<FederationConfig<AppState>> {
    let allow_private = state.config.allow_private_addresses;
    let domain = state.urls.domain().to_string();
    Ok(FederationConfig::builder()
        .domain(domain)
        .app_data(state)
        .debug(allow_private)
        .allow_http_urls(allow_private)
        .http_signature_compat(true)
        .build()
        .await?)
}

/// Whether the client asked for ActivityPub JSON rather than a web page.
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|accept| {
            let accept = accept.to_ascii_lowercase();
            accept.contains("application/activity+json") || accept.contains("application/ld+json")
        })
}

/// The JSON-LD context of our documents: ActivityStreams, security (for
/// `publicKey`) and the Mastodon extension terms we use, compacted as
/// Mastodon expects (it does no JSON-LD expansion).
pub fn context() -> serde_json::Value {
    serde_json::json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": { "@id": "toot:featured", "@type": "@id" },
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "attributionDomains": { "@id": "toot:attributionDomains", "@type": "@id" },
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}

/// An ActivityPub response: `application/activity+json; charset=utf-8`,
/// varying on Accept because the same URLs serve HTML to browsers.
pub struct ActivityJson<T>(pub T);

impl<T: Serialize> IntoResponse for ActivityJson<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self.0).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&format!("{FEDERATION_CONTENT_TYPE}; charset=utf-8"))
                .expect("static header"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        response
    }
}
