//! The editor's desk: `/admin`, a web interface for what the admin API does.
//!
//! Server-rendered pages from the same templates engine as the public site;
//! every action is a plain HTML form (POST, then a 303 to the page that shows
//! the result), so all of it works without JavaScript. Handlers turn form
//! fields into the services' own request types and call the same service
//! functions as the API: validation and publishing exist once. A refusal
//! renders the form again, with the service's message beside the field it
//! names (its `field`).

mod moderation;
mod organisations;
mod session;
mod settings;
mod statements;

use std::collections::HashMap;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequest, Request},
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use minijinja::context;
use serde::Serialize;

use crate::{
    error::AppError, organisations::Invalid, services::ServiceError, state::AppState, web,
};

pub use session::Editor;
/// A desk page's error: shown as an HTML page with the right status.
pub use web::PageError as DeskError;

pub type DeskResult = Result<Response, DeskError>;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(statements::dashboard))
        .route(
            "/admin/login",
            get(session::login_page).post(session::login),
        )
        .route("/admin/logout", post(session::logout))
        .route(
            "/admin/statements",
            get(statements::list).post(statements::create),
        )
        .route("/admin/statements/new", get(statements::compose))
        .route("/admin/statements/preview", post(statements::live_preview))
        .route(
            "/admin/statements/{id}",
            get(statements::show).post(statements::update),
        )
        .route("/admin/statements/{id}/publish", post(statements::publish))
        .route("/admin/statements/{id}/sign", post(statements::sign))
        .route("/admin/statements/{id}/delete", post(statements::delete))
        .route(
            "/admin/statements/{id}/deliveries",
            get(statements::deliveries),
        )
        .route(
            "/admin/organisations",
            get(organisations::list).post(organisations::create),
        )
        .route("/admin/organisations/new", get(organisations::new))
        .route(
            "/admin/organisations/{handle}",
            get(organisations::show).post(organisations::update),
        )
        .route(
            "/admin/organisations/{handle}/followers/{id}/{action}",
            post(organisations::follower),
        )
        .route("/admin/moderation", get(moderation::queue))
        .route(
            "/admin/moderation/replies/{id}/{action}",
            post(moderation::reply),
        )
        .route(
            "/admin/moderation/quotes/{id}/revoke",
            post(moderation::revoke_quote),
        )
        .route(
            "/admin/moderation/reports/{id}/resolve",
            post(moderation::resolve_report),
        )
        .route("/admin/settings", get(settings::show))
        .route("/admin/settings/blocks", post(settings::block))
        .route(
            "/admin/settings/blocks/{domain}/delete",
            post(settings::unblock),
        )
        .route("/admin/settings/editors", post(settings::create_editor))
        .route(
            "/admin/settings/editors/{name}/delete",
            post(settings::delete_editor),
        )
        .layer(DefaultBodyLimit::max(state.config.max_admin_body_bytes))
}

/// What every desk page knows: the site, and who is signed in.
#[derive(Serialize)]
struct Desk<'a> {
    name: &'a str,
    stylesheet: &'a str,
    htmx: &'a str,
    public_url: String,
}

/// Renders a desk page: never cached, never framed, no script but ours.
fn page(state: &AppState, template: &str, context: minijinja::Value) -> DeskResult {
    let body = state.templates.render(
        template,
        context! {
            desk => Desk {
                name: &state.config.instance_name,
                stylesheet: web::stylesheet(),
                htmx: web::htmx(),
                public_url: state.urls.base().to_string(),
            },
            ..context
        },
    )?;
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let headers = response.headers_mut();
    web::secure_with_script(headers);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A signed-in page: the editor and their CSRF token for the page's forms.
fn signed_in(editor: &Editor) -> minijinja::Value {
    context! { editor => editor.label, csrf => editor.csrf_token, is_admin => editor.is_admin }
}

/// Where a form goes after it worked: the page that shows the result.
fn done(to: &str) -> DeskResult {
    Ok(Redirect::to(to).into_response())
}

/// A service's refusal as errors beside the form's fields: `Invalid` names
/// its field, a `Conflict` belongs beside `conflict_field`; anything else is
/// not the editor's to fix and stays an error.
fn refusal(
    err: ServiceError,
    conflict_field: &str,
) -> Result<HashMap<String, String>, ServiceError> {
    match err {
        ServiceError::Invalid(invalid) => Ok(field_errors(&invalid)),
        ServiceError::Conflict(why) => Ok(HashMap::from([(conflict_field.to_string(), why)])),
        other => Err(other),
    }
}

/// Field errors for a form, by field: a service's `Invalid` names the field
/// the message belongs beside (`signatories[1]` belongs to `signatories`).
fn field_errors(invalid: &Invalid) -> HashMap<String, String> {
    let field = invalid
        .field
        .split(['[', '.'])
        .next()
        .unwrap_or(&invalid.field)
        .to_string();
    HashMap::from([(field, invalid.message.clone())])
}

/// An `application/x-www-form-urlencoded` body, fields in order (a field
/// may repeat).
pub struct DeskForm {
    fields: Vec<(String, String)>,
}

impl DeskForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A text field, `None` when empty.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<S: Send + Sync> FromRequest<S> for DeskForm {
    type Rejection = DeskError;

    async fn from_request(req: Request, state: &S) -> Result<Self, DeskError> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::UnsupportedMediaType(
                "forms are sent as application/x-www-form-urlencoded".into(),
            )
            .into());
        }
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge("the form is too large".into()))?;
        Ok(DeskForm {
            fields: form_urlencoded::parse(&body).into_owned().collect(),
        })
    }
}
