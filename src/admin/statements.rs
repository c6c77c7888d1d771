//! `/api/v1/statements`: write, schedule, publish, edit and delete joint
//! statements; add signatories; follow their deliveries; pin them. Each
//! handler calls one function of `services::statements`.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Deserialize;

use super::{
    auth::Admin,
    deliveries::{DeliveryQuery, report},
    openapi::{BodyRejected, QueryRejected},
    views::{DeliveryReport, StatementView},
};
use crate::{
    error::{ApiJson, ApiPath, ApiQuery, AppError, ErrorBody},
    services::statements::{self, Changes, Draft, Listing},
    state::AppState,
    statements::Statement,
};

pub(super) fn view(state: &AppState, s: Statement) -> StatementView {
    StatementView::new(&state.urls, s)
}

/// Write a statement
///
/// A draft, unless `publish` (published at once: the lead's followers get
/// a Create, each co-signer's followers an Announce) or `publish_at`
/// (scheduled).
#[utoipa::path(
    post,
    path = "/statements",
    tag = "statements",
    operation_id = "create_statement",
    request_body = Draft,
    responses(
        (status = 201, description = "The stored statement.", body = StatementView),
        BodyRejected,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(draft): ApiJson<Draft>,
) -> Result<impl IntoResponse, AppError> {
    let statement = statements::create(&state.services, draft).await?;
    Ok((StatusCode::CREATED, Json(view(&state, statement))))
}

/// List statements
///
/// By signatory and state, newest first.
#[utoipa::path(
    get,
    path = "/statements",
    tag = "statements",
    operation_id = "list_statements",
    params(Listing),
    responses(
        (status = 200, description = "A page of statements.", body = Vec<StatementView>),
        (status = 404, description = "No such organisation.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<Listing>,
) -> Result<Json<Vec<StatementView>>, AppError> {
    let found = statements::list(&state.services, listing).await?;
    Ok(Json(found.into_iter().map(|s| view(&state, s)).collect()))
}

/// Show a statement
#[utoipa::path(
    get,
    path = "/statements/{id}",
    tag = "statements",
    operation_id = "show_statement",
    params(("id" = String, Path, description = "The statement's id.")),
    responses(
        (status = 200, description = "The statement.", body = StatementView),
        (status = 404, description = "No such statement, or it is deleted.", body = ErrorBody),
    ),
)]
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

/// Edit a statement
///
/// Changes the given fields only; a published statement's edit goes out
/// as an Update to everyone who has it.
#[utoipa::path(
    patch,
    path = "/statements/{id}",
    tag = "statements",
    operation_id = "update_statement",
    params(("id" = String, Path, description = "The statement's id.")),
    request_body = Changes,
    responses(
        (status = 200, description = "The statement as changed.", body = StatementView),
        (status = 404, description = "No such statement, or it is deleted.", body = ErrorBody),
        (status = 409, description = "The statement changed meanwhile; try again.", body = ErrorBody),
        BodyRejected,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(changes): ApiJson<Changes>,
) -> Result<Json<StatementView>, AppError> {
    let statement = statements::update(&state.services, &id, changes).await?;
    Ok(Json(view(&state, statement)))
}

/// Delete a statement
///
/// A published statement is withdrawn with a Delete to everyone who has
/// it, and its URL answers 404 from then on; one that never went out is
/// discarded.
#[utoipa::path(
    delete,
    path = "/statements/{id}",
    tag = "statements",
    operation_id = "delete_statement",
    params(("id" = String, Path, description = "The statement's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such statement, or it is deleted.", body = ErrorBody),
        (status = 409, description = "The statement changed meanwhile; try again.", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    statements::withdraw(&state.services, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PublishQuery {
    /// Publish even though an image has no alt text.
    #[serde(default)]
    allow_missing_alt: bool,
}

/// Publish a statement now
///
/// A draft or scheduled statement goes out at once.
#[utoipa::path(
    post,
    path = "/statements/{id}/publish",
    tag = "statements",
    operation_id = "publish_statement",
    params(("id" = String, Path, description = "The statement's id."), PublishQuery),
    responses(
        (status = 200, description = "The published statement.", body = StatementView),
        (status = 404, description = "No such statement, or it is deleted.", body = ErrorBody),
        (status = 409, description = "The statement is already published.", body = ErrorBody),
        (status = 422, description = "An image has no alt text (and allow_missing_alt was not given).", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn publish_now(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PublishQuery>,
) -> Result<Json<StatementView>, AppError> {
    let statement = statements::publish_now(&state.services, &id, query.allow_missing_alt).await?;
    Ok(Json(view(&state, statement)))
}

/// A signatory to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSignatory {
    /// The organisation's handle.
    handle: String,
}

/// Add a signatory
///
/// At the end of the list. On a published statement the new signatory
/// Announces it and everyone who has it gets an Update.
#[utoipa::path(
    post,
    path = "/statements/{id}/signatories",
    tag = "statements",
    operation_id = "add_signatory",
    params(("id" = String, Path, description = "The statement's id.")),
    request_body = AddSignatory,
    responses(
        (status = 200, description = "The statement with its new signatory.", body = StatementView),
        (status = 404, description = "No such statement, or it is deleted.", body = ErrorBody),
        (status = 409, description = "The statement changed meanwhile; try again.", body = ErrorBody),
        BodyRejected,
    ),
)]
pub async fn add_signatory(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AddSignatory>,
) -> Result<Json<StatementView>, AppError> {
    let statement = statements::add_signatory(&state.services, &id, &input.handle).await?;
    Ok(Json(view(&state, statement)))
}

/// Report on a statement's deliveries
///
/// Counts per state for this statement's activities, the failing servers,
/// and with `?state=…` its latest deliveries in that state. Deleted
/// statements too.
#[utoipa::path(
    get,
    path = "/statements/{id}/deliveries",
    tag = "deliveries",
    operation_id = "list_statement_deliveries",
    params(("id" = String, Path, description = "The statement's id."), DeliveryQuery),
    responses(
        (status = 200, description = "The report.", body = DeliveryReport),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryReport>, AppError> {
    let statement = statements::find_any(&state.services, &id).await?;
    Ok(Json(report(&state, Some(statement.id), query).await?))
}

/// A statement to pin.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The statement's id.
    statement: String,
}

/// Pin a statement
///
/// To the organisation's profile (`featured`): a published statement of
/// which it is the lead signatory.
#[utoipa::path(
    post,
    path = "/organisations/{handle}/featured",
    tag = "statements",
    operation_id = "pin_statement",
    params(("handle" = String, Path, description = "The organisation's handle.")),
    request_body = Pin,
    responses(
        (status = 204, description = "Pinned."),
        (status = 404, description = "No such organisation.", body = ErrorBody),
        BodyRejected,
    ),
)]
pub async fn pin(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiJson(input): ApiJson<Pin>,
) -> Result<StatusCode, AppError> {
    statements::pin(&state.services, &handle, &input.statement).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Unpin a statement
#[utoipa::path(
    delete,
    path = "/organisations/{handle}/featured/{statement}",
    tag = "statements",
    operation_id = "unpin_statement",
    params(
        ("handle" = String, Path, description = "The organisation's handle."),
        ("statement" = String, Path, description = "The statement's id."),
    ),
    responses(
        (status = 204, description = "Unpinned."),
        (status = 404, description = "No such organisation or statement, or it is not pinned.", body = ErrorBody),
    ),
)]
pub async fn unpin(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, statement)): ApiPath<(String, String)>,
) -> Result<StatusCode, AppError> {
    statements::unpin(&state.services, &handle, &statement).await?;
    Ok(StatusCode::NO_CONTENT)
}
