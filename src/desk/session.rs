//! Signing in and out of the desk, the session cookie, and the CSRF check
//! every state-changing form goes through.
//!
//! The cookie is `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure`
//! (with the `__Host-` prefix) whenever the instance is served over https;
//! only plain-http instances (a laptop's localhost) go without. Forms carry
//! the session's CSRF token; the sign-in form, before any session exists,
//! carries a token that must match a short-lived cookie of its own.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use minijinja::context;
use serde::Deserialize;

use super::{DeskError, DeskForm, DeskResult, page};
use crate::{
    error::AppError,
    secrets::{random_secret, same_secret},
    services::{
        ServiceError,
        editors::{self, Credentials},
    },
    state::AppState,
};

const LOGIN_CSRF_COOKIE: &str = "broadside_login_csrf";

/// The session cookie's name: `__Host-` binds it to this origin over https.
fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-broadside_session"
    } else {
        "broadside_session"
    }
}

fn secure(state: &AppState) -> bool {
    state.config.base_url.scheme() == "https"
}

fn cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie values are URL-safe base64")
}

fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A signed-in editor. Extracting it checks the cookie; without a live
/// session a browser is sent to the sign-in page.
pub struct Editor {
    pub label: String,
    pub csrf_token: String,
    /// Signed in with an admin token (not a named account): may manage
    /// editor accounts.
    pub is_admin: bool,
    cookie: String,
}

impl Editor {
    /// Refuses a form whose CSRF token is not this session's (403).
    pub fn check(&self, form: &DeskForm) -> Result<(), DeskError> {
        if same_secret(&self.csrf_token, form.get("csrf").unwrap_or_default()) {
            Ok(())
        } else {
            Err(DeskError(AppError::Forbidden(
                "the form is out of date or was not sent from this desk: reload the page and try again"
                    .into(),
            )))
        }
    }
}

impl FromRequestParts<AppState> for Editor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/admin");
            let target = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            Redirect::to(&format!("/admin/login?{target}")).into_response()
        };
        let Some(cookie) = read_cookie(&parts.headers, cookie_name(state)) else {
            return Err(to_login());
        };
        match editors::session(&state.services, cookie).await {
            Ok(Some(session)) => Ok(Editor {
                label: session.label,
                csrf_token: session.csrf_token,
                is_admin: session.editor_id.is_none(),
                cookie: cookie.to_string(),
            }),
            Ok(None) => Err(to_login()),
            Err(err) => Err(DeskError(err.into()).into_response()),
        }
    }
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only our own desk pages: never an absolute URL (an open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with("/admin") && !next.starts_with("//") => next.to_string(),
        _ => "/admin".to_string(),
    }
}

/// `GET /admin/login`.
pub async fn login_page(State(state): State<AppState>, Query(next): Query<Next>) -> DeskResult {
    login_form(&state, next.next.as_deref(), None, "", StatusCode::OK)
}

fn login_form(
    state: &AppState,
    next: Option<&str>,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> DeskResult {
    let csrf = random_secret();
    let mut response = page(
        state,
        "desk/login.html",
        context! {
            csrf => csrf,
            next => safe_next(next),
            error => error,
            username => username,
        },
    )?;
    *response.status_mut() = status;
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(state, LOGIN_CSRF_COOKIE, &csrf, 3600),
    );
    Ok(response)
}

/// `POST /admin/login`: a name and password, or an admin token.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: DeskForm,
) -> DeskResult {
    let next = form.get("next");
    let username = form.get("username").unwrap_or_default().trim();
    let expected = read_cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let sent = form.get("csrf").unwrap_or_default();
    if !same_secret(expected, sent) {
        tracing::info!("sign-in refused: CSRF token missing or wrong");
        return login_form(
            &state,
            next,
            Some("The sign-in form expired: please try again."),
            username,
            StatusCode::FORBIDDEN,
        );
    }
    let credentials = match form.get("token").map(str::trim).filter(|t| !t.is_empty()) {
        Some(token) => Credentials::Token(token),
        None => Credentials::Password {
            username,
            password: form.get("password").unwrap_or_default(),
        },
    };
    let client = crate::limits::client_key(crate::limits::client_ip(
        peer,
        &headers,
        state.config.trust_forwarded_for,
    ));
    let lifetime = state.config.session_lifetime_seconds;
    match editors::sign_in(&state.services, &client, credentials, lifetime).await {
        Ok(session) => {
            tracing::info!(who = %session.label, "signed in to the desk");
            let mut response = Redirect::to(&safe_next(next)).into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                cookie(&state, cookie_name(&state), &session.cookie, lifetime),
            );
            headers.append(header::SET_COOKIE, cookie(&state, LOGIN_CSRF_COOKIE, "", 0));
            Ok(response)
        }
        Err(err @ (ServiceError::Unauthorized(_) | ServiceError::Limited(..))) => {
            let retry_after = match &err {
                ServiceError::Limited(_, after) => Some(*after),
                _ => None,
            };
            let status = AppError::from(err).status();
            tracing::info!(%status, %client, "sign-in refused");
            let message = if status == StatusCode::TOO_MANY_REQUESTS {
                "Too many failed sign-ins: try again in 15 minutes."
            } else {
                "Wrong name or password (or token)."
            };
            let mut response = login_form(&state, next, Some(message), username, status)?;
            if let Some(after) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, crate::error::retry_after_value(after));
            }
            Ok(response)
        }
        Err(err) => Err(DeskError(err.into())),
    }
}

/// `POST /admin/logout`: ends this session, here and in the database.
pub async fn logout(State(state): State<AppState>, editor: Editor, form: DeskForm) -> DeskResult {
    editor.check(&form)?;
    editors::sign_out(&state.services, &editor.cookie)
        .await
        .map_err(|err| DeskError(err.into()))?;
    tracing::info!(who = %editor.label, "signed out of the desk");
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(&state, cookie_name(&state), "", 0),
    );
    Ok(response)
}
