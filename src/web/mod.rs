//! What people see in a browser: the home page and organisation profiles
//! (statement pages join later), plus the health check.

pub mod templates;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use minijinja::context;

use crate::{
    app::AppState, error::AppError, federation::actor::profile_fields, html,
    organisations::Organisation, store::ACCEPTED,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

/// `GET /healthz`: 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "health check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"error": "database unavailable"})),
            )
                .into_response()
        }
    }
}

fn page(body: String) -> Response {
    let mut response = Html(body).into_response();
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn base_context(state: &AppState) -> minijinja::Value {
    context! {
        instance_name => state.config.instance_name,
        instance_description => state.config.instance_description,
    }
}

async fn index(State(state): State<AppState>) -> Result<Response, AppError> {
    let organisations: Vec<_> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .map(|org| {
            context! {
                name => org.name,
                url => state.urls.organisation(&org.handle).to_string(),
                acct => format!("@{}@{}", org.handle, state.urls.domain()),
            }
        })
        .collect();
    let body = state.templates.render(
        "index.html",
        context! { organisations => organisations, ..base_context(&state) },
    )?;
    Ok(page(body))
}

/// The HTML profile of an organisation, served at its actor URL to browsers.
pub async fn profile_page(state: &AppState, org: &Organisation) -> Result<Response, AppError> {
    let followers_count = state.store.count_followers(org.id, ACCEPTED).await?;
    let statuses_count = state.store.count_outbox(org.id).await?;
    let fields: Vec<_> = profile_fields(org)
        .into_iter()
        .map(
            |(name, value)| context! { name => name, value_html => html::field_value_html(&value) },
        )
        .collect();
    let body = state.templates.render(
        "profile.html",
        context! {
            org => context! {
                name => org.name,
                acct => format!("@{}@{}", org.handle, state.urls.domain()),
                url => state.urls.organisation(&org.handle).to_string(),
                summary_html => html::markdown_to_html(&org.summary),
                avatar_url => org.avatar_url,
                header_url => org.header_url,
                fields => fields,
                followers_count => followers_count,
                statuses_count => statuses_count,
            },
            ..base_context(state)
        },
    )?;
    Ok(page(body))
}
