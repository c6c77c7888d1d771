//! How a page leaves the server: the security headers every HTML response
//! carries, `Vary: Accept` (the same URLs serve ActivityPub), validators
//! (`ETag`, and `Last-Modified` where we know it) with 304 answers, and
//! the error page a browser sees instead of the API's JSON.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::{clock::from_ms, error::AppError, html::escape, secrets::hex};

/// No script at all, styles and images from us (images also from https
/// origins: avatars may live elsewhere), forms to us or, through our
/// remote-follow redirect, to a visitor's https server; never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; \
     form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'";

/// What a rendered document is, for its headers.
#[derive(Clone, Copy)]
pub enum Kind {
    Html,
    Atom,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Kind::Html => "text/html; charset=utf-8",
            Kind::Atom => "application/atom+xml; charset=utf-8",
        }
    }
}

/// A rendered page or feed, answered 200 or, when the client's copy is
/// current, 304 without a body.
pub struct Rendered {
    pub kind: Kind,
    pub body: String,
    /// Only where every part of the document has a timestamp (feeds): pages
    /// with live counts and follower numbers validate by `ETag` alone.
    pub last_modified: Option<i64>,
}

impl Rendered {
    pub fn html(body: String) -> Rendered {
        Rendered {
            kind: Kind::Html,
            body,
            last_modified: None,
        }
    }

    pub fn respond(self, request: &HeaderMap) -> Response {
        // Weak: compression changes the bytes, not what they mean.
        let etag = format!(
            "W/\"{}\"",
            &hex(&Sha256::digest(self.body.as_bytes()))[..32]
        );
        let last_modified = self
            .last_modified
            .map(|ms| httpdate::fmt_http_date(from_ms(ms).into()));
        let fresh = match request.get(header::IF_NONE_MATCH) {
            // RFC 9110 §13.2.2: If-None-Match decides when present.
            Some(tags) => tags.to_str().is_ok_and(|tags| {
                tags.split(',')
                    .map(|tag| tag.trim().trim_start_matches("W/"))
                    .any(|tag| tag == "*" || tag == etag.trim_start_matches("W/"))
            }),
            None => match (&self.last_modified, request.get(header::IF_MODIFIED_SINCE)) {
                (Some(ms), Some(since)) => since
                    .to_str()
                    .ok()
                    .and_then(|since| httpdate::parse_http_date(since).ok())
                    .is_some_and(|since| {
                        let since: chrono::DateTime<chrono::Utc> = since.into();
                        since.timestamp() >= ms.div_euclid(1000)
                    }),
                _ => false,
            },
        };
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(header::CONTENT_TYPE, self.kind.content_type())],
                self.body,
            )
                .into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, value(&etag));
        if let Some(last_modified) = last_modified {
            headers.insert(header::LAST_MODIFIED, value(&last_modified));
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        if matches!(self.kind, Kind::Html) {
            secure(headers);
        }
        response
    }
}

/// The desk's pages: the same, except that scripts from us (htmx) may run
/// and call back to us.
const DESK_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn secure_with_script(headers: &mut HeaderMap) {
    secure(headers);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DESK_CONTENT_SECURITY_POLICY),
    );
}

/// The headers every HTML response carries, error pages included.
pub fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("validators are ASCII")
}

/// A page handler's error: the API's [`AppError`], shown to a browser as a
/// small HTML page with the same status (and logged once, by `AppError`).
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = match &self.0 {
            AppError::Internal(_) => "Something went wrong on our side.".to_string(),
            other => other.to_string(),
        };
        // Logs it, once, the way every other error is logged.
        drop(self.0.into_response());
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
             <body><main id=\"main\"><h1>{title}</h1><p>{message}</p>\
             <p><a href=\"/\">Go to the home page</a></p></main></body></html>\n",
            css = super::assets::STYLESHEET.path(),
            message = escape(&message),
        );
        let mut response = (
            status,
            [(header::CONTENT_TYPE, Kind::Html.content_type())],
            body,
        )
            .into_response();
        secure(response.headers_mut());
        response
    }
}
