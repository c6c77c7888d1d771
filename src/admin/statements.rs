//! `/api/v1/statements`: write, schedule, publish, edit and delete joint
//! statements; add signatories; follow their deliveries; pin them. Each
//! handler calls one function of `services::statements`.

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};

use super::{
    auth::Admin,
    deliveries::{DeliveryQuery, DeliveryReport, report},
    media::MediaView,
};
use crate::{
    error::{ApiJson, ApiPath, ApiQuery, AppError},
    services::statements::{self, Changes, Draft, Listing},
    state::AppState,
    statements::{Statement, TranslationText},
    store::from_ms,
};

#[derive(Serialize)]
pub struct SignatoryView {
    handle: String,
    name: String,
    actor_url: String,
}

#[derive(Serialize)]
pub struct StatementView {
    id: String,
    url: String,
    title: String,
    body: String,
    summary: Option<String>,
    content_warning: Option<String>,
    language: Option<String>,
    tags: Vec<String>,
    format: &'static str,
    original_date: Option<String>,
    disclaimer: Option<String>,
    quote_policy: &'static str,
    /// The statement in other languages, by language tag.
    translations: BTreeMap<String, TranslationText>,
    /// Its images, in order.
    media: Vec<MediaView>,
    status: &'static str,
    publish_at: Option<String>,
    published_at: Option<String>,
    edited_at: Option<String>,
    signatories: Vec<SignatoryView>,
    created_at: String,
    updated_at: String,
}

fn date(ms: Option<i64>) -> Option<String> {
    ms.map(|ms| from_ms(ms).to_rfc3339())
}

pub(super) fn view(state: &AppState, s: Statement) -> StatementView {
    StatementView {
        url: state.urls.statement(&s.public_id).to_string(),
        signatories: s
            .signatories
            .iter()
            .map(|o| SignatoryView {
                handle: o.handle.clone(),
                name: o.name.clone(),
                actor_url: state.urls.organisation(&o.handle).to_string(),
            })
            .collect(),
        id: s.public_id,
        title: s.title,
        body: s.body,
        summary: s.summary,
        content_warning: s.content_warning,
        language: s.language,
        tags: s.tags,
        format: s.format.as_str(),
        original_date: s.original_date,
        disclaimer: s.disclaimer,
        quote_policy: s.quote_policy.as_str(),
        media: s
            .media
            .iter()
            .map(|m| MediaView::of_attachment(state, m))
            .collect(),
        translations: s
            .translations
            .iter()
            .map(|t| (t.language.clone(), t.text()))
            .collect(),
        status: s.state.as_str(),
        publish_at: date(s.publish_at),
        published_at: date(s.published_at),
        edited_at: date(s.edited_at),
        created_at: from_ms(s.created_at).to_rfc3339(),
        updated_at: from_ms(s.updated_at).to_rfc3339(),
    }
}

/// `POST /api/v1/statements` → 201. A draft unless `publish` or `publish_at`.
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(draft): ApiJson<Draft>,
) -> Result<impl IntoResponse, AppError> {
    let statement = statements::create(&state.services, draft).await?;
    Ok((StatusCode::CREATED, Json(view(&state, statement))))
}

/// `GET /api/v1/statements?organisation=&status=&limit=&offset=`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<Listing>,
) -> Result<Json<Vec<StatementView>>, AppError> {
    let found = statements::list(&state.services, listing).await?;
    Ok(Json(found.into_iter().map(|s| view(&state, s)).collect()))
}

/// `GET /api/v1/statements/{id}`
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StatementView>, AppError> {
    Ok(Json(view(
        &state,
        statements::find(&state.services, &id).await?,
    )))
}

/// `PATCH /api/v1/statements/{id}`: a published statement's edit goes out
/// as an Update.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(changes): ApiJson<Changes>,
) -> Result<Json<StatementView>, AppError> {
    let statement = statements::update(&state.services, &id, changes).await?;
    Ok(Json(view(&state, statement)))
}

/// `DELETE /api/v1/statements/{id}` → 204; a published statement is
/// withdrawn with a Delete, and its URL answers 404 from then on.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    statements::withdraw(&state.services, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PublishQuery {
    /// Publish even though an image has no alt text.
    #[serde(default)]
    allow_missing_alt: bool,
}

/// `POST /api/v1/statements/{id}/publish?allow_missing_alt=`
pub async fn publish_now(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PublishQuery>,
) -> Result<Json<StatementView>, AppError> {
    let statement = statements::publish_now(&state.services, &id, query.allow_missing_alt).await?;
    Ok(Json(view(&state, statement)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSignatory {
    handle: String,
}

/// `POST /api/v1/statements/{id}/signatories {handle}`: on a published
/// statement the new signatory Announces it and the statement gets an Update.
pub async fn add_signatory(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AddSignatory>,
) -> Result<Json<StatementView>, AppError> {
    let statement = statements::add_signatory(&state.services, &id, &input.handle).await?;
    Ok(Json(view(&state, statement)))
}

/// `GET /api/v1/statements/{id}/deliveries?state=…`
pub async fn deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryReport>, AppError> {
    let statement = statements::find_any(&state.services, &id).await?;
    Ok(Json(report(&state, Some(statement.id), query).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    statement: String,
}

/// `POST /api/v1/organisations/{handle}/featured {statement}`: pins a
/// published statement the organisation signed.
pub async fn pin(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiJson(input): ApiJson<Pin>,
) -> Result<StatusCode, AppError> {
    statements::pin(&state.services, &handle, &input.statement).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/organisations/{handle}/featured/{statement}`
pub async fn unpin(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, statement)): ApiPath<(String, String)>,
) -> Result<StatusCode, AppError> {
    statements::unpin(&state.services, &handle, &statement).await?;
    Ok(StatusCode::NO_CONTENT)
}
