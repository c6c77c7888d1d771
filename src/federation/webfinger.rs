//! WebFinger (RFC 7033) and host-meta: how `@cras@statements.example.org`
//! becomes an actor URL (docs/interop.md §1).

use activitypub_federation::fetch::webfinger::{Webfinger, build_webfinger_response_with_type};
use axum::{
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use url::Url;

use crate::{error::AppError, state::AppState, urls::Urls};

#[derive(Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// The handle a WebFinger resource names, if it names one of ours:
/// `acct:handle@domain` (the `acct:` is optional, as some clients omit it)
/// or the actor URL itself.
pub fn requested_handle(resource: &str, urls: &Urls) -> Option<String> {
    if let Ok(url) = Url::parse(resource)
        && matches!(url.scheme(), "http" | "https")
    {
        return urls.handle_of(&url);
    }
    let acct = resource.strip_prefix("acct:").unwrap_or(resource);
    let (handle, domain) = acct.rsplit_once('@')?;
    let handle = handle.strip_prefix('@').unwrap_or(handle);
    (domain.eq_ignore_ascii_case(urls.domain()) && !handle.is_empty()).then(|| handle.to_string())
}

/// `GET /.well-known/webfinger?resource=…`
pub async fn webfinger(
    State(state): State<AppState>,
    Query(query): Query<WebfingerQuery>,
) -> Result<Response, AppError> {
    let resource = query
        .resource
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AppError::BadRequest("the resource parameter is required".into()))?;
    let handle = requested_handle(&resource, &state.urls)
        .ok_or_else(|| AppError::not_found(format!("no such resource here: {resource}")))?;
    if let Some(document) = state.documents.webfinger(&handle).await {
        return Ok(jrd(document));
    }
    let org = super::actor::live_organisation(&state, &handle).await?;
    let document: axum::body::Bytes = serde_json::to_vec(&webfinger_document(&state, &org.handle))
        .map_err(anyhow::Error::from)?
        .into();
    state
        .documents
        .keep_webfinger(&org.handle, document.clone())
        .await;
    Ok(jrd(document))
}

/// The JRD of an organisation: the subject with its canonical handle, a
/// profile-page link and the `self` link Mastodon reads.
pub fn webfinger_document(state: &AppState, handle: &str) -> Webfinger {
    let actor = state.urls.organisation(handle);
    let mut document = build_webfinger_response_with_type(
        state.urls.acct(handle),
        vec![(actor.clone(), Some("Organization"))],
    );
    document.aliases = vec![actor];
    document
}

fn jrd(document: axum::body::Bytes) -> Response {
    let mut response = document.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jrd+json; charset=utf-8"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /.well-known/host-meta`: the XRD with the WebFinger template, which
/// Mastodon tries once when WebFinger answers 404.
pub async fn host_meta(State(state): State<AppState>) -> Response {
    let template = format!("{}?resource={{uri}}", state.urls.webfinger());
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}\"/>\n</XRD>\n",
        crate::html::escape(&template)
    );
    (
        [(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")],
        body,
    )
        .into_response()
}
