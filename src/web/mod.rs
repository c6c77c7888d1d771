//! What people see in a browser: the home page, organisation profiles,
//! statement pages (which serve ActivityPub JSON too) and hashtag pages.

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use minijinja::context;

use crate::{
    error::{ApiPath, AppError},
    federation::{ActivityJson, actor, wants_activity_json},
    html,
    organisations::Organisation,
    state::AppState,
    statements::State as StatementState,
    store::{ACCEPTED, StatementFilter, StoreError, from_ms},
    vocabulary::{activity::OUTBOX, actor::profile_fields, statement as document},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/organisations/{handle}", get(organisation))
        .route("/statements/{id}", get(statement))
        .route("/tags/{tag}", get(tag))
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

/// `GET /organisations/{handle}`: the actor for ActivityPub clients, the
/// profile page for browsers; 404, or 410 for an organisation that was
/// deleted, either way.
async fn organisation(
    State(state): State<AppState>,
    axum::extract::Path(handle): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if wants_activity_json(&headers) {
        return actor::actor_document(&state, &handle).await;
    }
    let org = actor::live_organisation(&state, &handle).await?;
    profile_page(&state, &org).await
}

/// The HTML profile of an organisation, served at its actor URL to browsers.
async fn profile_page(state: &AppState, org: &Organisation) -> Result<Response, AppError> {
    let followers_count = state.store.count_followers(org.id, ACCEPTED).await?;
    let statuses_count = state
        .store
        .count_statement_activities(org.id, &OUTBOX)
        .await?;
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

/// `GET /statements/{id}`: the Note or Article for ActivityPub clients, the
/// page for browsers. Drafts and deleted statements are 404: from Mastodon
/// 4.4 a 404 on refetch removes its copy (a 410 would not).
async fn statement(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let statement = match state.store.statement(&id).await {
        Ok(s) if s.state == StatementState::Published => s,
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(AppError::not_found(format!("no statement {id}")));
        }
        Err(err) => return Err(err.into()),
    };
    if wants_activity_json(&headers) {
        let mut object =
            document::statement_object(&statement, &state.urls, &state.config.disclaimer);
        object["@context"] = document::context();
        return Ok(ActivityJson(object).into_response());
    }
    let content_html = document::content_html(&statement, &state.urls, &state.config.disclaimer);
    let lead = statement.lead();
    let description: String = statement
        .summary
        .clone()
        .unwrap_or_else(|| statement.body.chars().take(200).collect());
    let body = state.templates.render(
        "statement.html",
        context! {
            statement => context! {
                title => statement.title,
                url => state.urls.statement(&statement.public_id).to_string(),
                creator => format!("@{}@{}", lead.handle, state.urls.domain()),
                description => description,
                content_html => content_html,
                published => statement.published_at.map(|t| from_ms(t).to_rfc3339()),
                edited => statement.edited_at.map(|t| from_ms(t).to_rfc3339()),
            },
            ..base_context(&state)
        },
    )?;
    Ok(page(body))
}

/// `GET /tags/{tag}`: published statements with a hashtag.
async fn tag(
    State(state): State<AppState>,
    ApiPath(tag): ApiPath<String>,
) -> Result<Response, AppError> {
    let statements = state
        .store
        .statements(&StatementFilter {
            state: Some(StatementState::Published),
            tag: Some(tag.clone()),
            limit: 100,
            ..StatementFilter::default()
        })
        .await?;
    let items: Vec<_> = statements
        .iter()
        .map(|s| {
            context! {
                title => s.title,
                url => state.urls.statement(&s.public_id).to_string(),
                signatories => s.signatories.iter().map(|o| o.name.clone()).collect::<Vec<_>>().join(", "),
            }
        })
        .collect();
    let body = state.templates.render(
        "tag.html",
        context! { tag => tag, statements => items, ..base_context(&state) },
    )?;
    Ok(page(body))
}
