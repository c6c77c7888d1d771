//! ActivityPub and its discovery protocols: the documents other servers read
//! (actors, collections, WebFinger, NodeInfo) and, in later modules, the
//! inbox. Documents are built with activitypub_federation's types; each
//! document has exactly one function that builds it.

pub mod actor;
pub mod authorized_fetch;
pub mod collections;
pub mod inbox;
pub mod instance_actor;
pub mod nodeinfo;
pub mod remote_actor;
pub mod webfinger;

use activitypub_federation::{
    FEDERATION_CONTENT_TYPE,
    config::{FederationConfig, FederationMiddleware},
};
use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;

use crate::{config::Config, state::AppState, transport};

/// Routes other servers use. Only the inboxes get the federation library's
/// middleware (which gives handlers `Data<AppState>`): it clones the whole
/// `FederationConfig` into every request it sees, and on the reads that
/// need none of it that was 5–7 % of the server's CPU (CHANGELOG.md,
/// "Performance history").
pub fn routes(config: &Config, federation: &FederationConfig<AppState>) -> Router<AppState> {
    let inboxes = Router::new()
        .route(
            "/organisations/{handle}/inbox",
            post(inbox::organisation_inbox),
        )
        .route("/inbox", post(inbox::shared_inbox))
        .route("/actor/inbox", post(inbox::shared_inbox))
        .layer(DefaultBodyLimit::max(config.max_inbox_body_bytes))
        .layer(FederationMiddleware::new(federation.clone()));
    Router::new()
        .merge(inboxes)
        .route("/actor", get(instance_actor::instance_actor))
        .route("/activities/{id}", get(activity))
        .route("/.well-known/webfinger", get(webfinger::webfinger))
        .route("/.well-known/host-meta", get(webfinger::host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo::discovery))
        .route("/nodeinfo/2.1", get(nodeinfo::nodeinfo))
        .route("/statements/{id}/likes", get(collections::likes))
        .route("/statements/{id}/shares", get(collections::shares))
        .route("/statements/{id}/replies", get(collections::replies))
        .route(
            "/quote-authorizations/{id}",
            get(collections::quote_authorization),
        )
        .route("/organisations/{handle}/outbox", get(collections::outbox))
        .route(
            "/organisations/{handle}/followers",
            get(collections::followers),
        )
        .route(
            "/organisations/{handle}/following",
            get(collections::following),
        )
        .route(
            "/organisations/{handle}/featured",
            get(collections::featured),
        )
}

/// The most remote documents one inbound request may make us fetch.
pub const MAX_FETCHES_PER_REQUEST: u32 = 5;

/// The federation library's configuration: our domain, our guarded client
/// that signs its GETs with the instance actor's key, and whether plain
/// http and private addresses are allowed (tests and local trials only).
pub async fn federation_config(state: AppState) -> anyhow::Result<FederationConfig<AppState>> {
    let allow_private = state.config.allow_private_addresses;
    let domain = state.urls.domain().to_string();
    let signing = transport::SignedFetches {
        signer: state.instance.private_key.signer()?,
        key_id: state.urls.key_id(&state.urls.instance_actor()),
        allow_private_addresses: allow_private,
        limits: state.limits.clone(),
    };
    let client = reqwest_middleware::ClientBuilder::new(state.http.clone())
        .with(signing)
        .build();
    Ok(FederationConfig::builder()
        .domain(domain)
        .app_data(state)
        .client(client)
        .debug(allow_private)
        .allow_http_urls(allow_private)
        .request_timeout(transport::FETCH_TIMEOUT)
        // Fetches one inbound request may cause: the actor, a refetch when
        // its key changed, the library's refetch from a document's own id,
        // and a little room. A request that needs more is refused.
        .http_fetch_limit(MAX_FETCHES_PER_REQUEST)
        .build()
        .await?)
}

/// `GET /activities/{id}`: an activity we sent, as we sent it.
async fn activity(
    State(state): State<AppState>,
    crate::error::ApiPath(id): crate::error::ApiPath<String>,
) -> Result<Response, crate::error::AppError> {
    let body = state
        .store
        .activity_body(&id, &crate::vocabulary::activity::KEPT_AFTER_DELETION)
        .await?
        .ok_or_else(|| crate::error::AppError::not_found("no such activity"))?;
    let value: serde_json::Value = serde_json::from_str(&body).map_err(anyhow::Error::from)?;
    Ok(ActivityJson(value).into_response())
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

pub use crate::vocabulary::context;

/// An ActivityPub response: `application/activity+json; charset=utf-8`,
/// varying on Accept because the same URLs serve HTML to browsers.
pub struct ActivityJson<T>(pub T);

impl<T: Serialize> IntoResponse for ActivityJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => activity_json_bytes(body.into()),
            Err(err) => crate::error::AppError::Internal(err.into()).into_response(),
        }
    }
}

/// An already serialised ActivityPub document as a response, with the
/// headers of [`ActivityJson`].
pub fn activity_json_bytes(body: axum::body::Bytes) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("{FEDERATION_CONTENT_TYPE}; charset=utf-8"))
            .expect("static header"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}
