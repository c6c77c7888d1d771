//! `/api/v1`: reactions to statements, the reply moderation queue, quotes,
//! reports and remote blocks. Each handler calls one function of
//! `services::moderation`.

use axum::{Json, extract::State, http::StatusCode};

use super::{
    auth::Admin,
    openapi::QueryRejected,
    views::{QuoteView, ReactionsView, RemoteBlockView, ReplyView, ReportView},
};
use crate::{
    error::{ApiPath, ApiQuery, AppError, ErrorBody},
    services::{
        Paging,
        moderation::{self, QuoteListing, ReplyListing, ReportListing},
    },
    state::AppState,
};

/// Each of `rows` as its view.
fn views<R, V: From<R>>(rows: Vec<R>) -> Vec<V> {
    rows.into_iter().map(V::from).collect()
}

/// Show a statement's reactions
///
/// Counts, and a page each of its boosts, likes and quotes. Deleted
/// statements too.
#[utoipa::path(
    get,
    path = "/statements/{id}/reactions",
    tag = "moderation",
    operation_id = "statement_reactions",
    params(("id" = String, Path, description = "The statement's id."), Paging),
    responses(
        (status = 200, description = "The reactions.", body = ReactionsView),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn reactions(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<ReactionsView>, AppError> {
    Ok(Json(
        moderation::reactions(&state.services, &id, paging)
            .await?
            .into(),
    ))
}

/// List replies
///
/// Replies to our statements, by moderation state and statement.
#[utoipa::path(
    get,
    path = "/replies",
    tag = "moderation",
    operation_id = "list_replies",
    params(ReplyListing),
    responses(
        (status = 200, description = "A page of replies.", body = Vec<ReplyView>),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn replies(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<ReplyListing>,
) -> Result<Json<Vec<ReplyView>>, AppError> {
    Ok(Json(views(
        moderation::replies(&state.services, listing).await?,
    )))
}

/// Approve a reply
///
/// Shown under the statement and listed in its `replies` collection.
#[utoipa::path(
    post,
    path = "/replies/{id}/approve",
    tag = "moderation",
    operation_id = "approve_reply",
    params(("id" = i64, Path, description = "The reply's id.")),
    responses(
        (status = 200, description = "The reply, approved.", body = ReplyView),
        (status = 404, description = "No such reply.", body = ErrorBody),
    ),
)]
pub async fn approve_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReplyView>, AppError> {
    Ok(Json(
        moderation::moderate_reply(&state.services, id, true)
            .await?
            .into(),
    ))
}

/// Hide a reply
#[utoipa::path(
    post,
    path = "/replies/{id}/hide",
    tag = "moderation",
    operation_id = "hide_reply",
    params(("id" = i64, Path, description = "The reply's id.")),
    responses(
        (status = 200, description = "The reply, hidden.", body = ReplyView),
        (status = 404, description = "No such reply.", body = ErrorBody),
    ),
)]
pub async fn hide_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ReplyView>, AppError> {
    Ok(Json(
        moderation::moderate_reply(&state.services, id, false)
            .await?
            .into(),
    ))
}

/// Delete a reply
///
/// Forgets it here; the author's server keeps it.
#[utoipa::path(
    delete,
    path = "/replies/{id}",
    tag = "moderation",
    operation_id = "delete_reply",
    params(("id" = i64, Path, description = "The reply's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such reply.", body = ErrorBody),
    ),
)]
pub async fn delete_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    moderation::delete_reply(&state.services, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List quotes
///
/// Remote posts quoting our statements.
#[utoipa::path(
    get,
    path = "/quotes",
    tag = "moderation",
    operation_id = "list_quotes",
    params(QuoteListing),
    responses(
        (status = 200, description = "A page of quotes.", body = Vec<QuoteView>),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn quotes(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<QuoteListing>,
) -> Result<Json<Vec<QuoteView>>, AppError> {
    Ok(Json(views(
        moderation::quotes(&state.services, listing).await?,
    )))
}

/// Revoke a quote
///
/// Its authorisation answers 410 from now on, and the quoting server gets
/// a Delete of it.
#[utoipa::path(
    post,
    path = "/quotes/{id}/revoke",
    tag = "moderation",
    operation_id = "revoke_quote",
    params(("id" = String, Path, description = "The quote's `public_id`.")),
    responses(
        (status = 200, description = "The quote, revoked.", body = QuoteView),
        (status = 404, description = "No such quote.", body = ErrorBody),
        (status = 409, description = "The quote is revoked already.", body = ErrorBody),
    ),
)]
pub async fn revoke_quote(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<QuoteView>, AppError> {
    Ok(Json(
        moderation::revoke_quote(&state.services, &id).await?.into(),
    ))
}

/// List reports
///
/// Reports (Flags) from other servers about our organisations and
/// statements.
#[utoipa::path(
    get,
    path = "/reports",
    tag = "moderation",
    operation_id = "list_reports",
    params(ReportListing),
    responses(
        (status = 200, description = "A page of reports.", body = Vec<ReportView>),
        QueryRejected,
    ),
)]
pub async fn reports(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<ReportListing>,
) -> Result<Json<Vec<ReportView>>, AppError> {
    Ok(Json(views(
        moderation::reports(&state.services, listing).await?,
    )))
}

/// Resolve a report
#[utoipa::path(
    post,
    path = "/reports/{id}/resolve",
    tag = "moderation",
    operation_id = "resolve_report",
    params(("id" = i64, Path, description = "The report's id.")),
    responses(
        (status = 204, description = "Resolved."),
        (status = 404, description = "No such open report.", body = ErrorBody),
    ),
)]
pub async fn resolve_report(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    moderation::resolve_report(&state.services, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List remote blocks
///
/// Remote actors that block our organisations.
#[utoipa::path(
    get,
    path = "/blocks",
    tag = "moderation",
    operation_id = "list_remote_blocks",
    params(Paging),
    responses(
        (status = 200, description = "A page of blocks.", body = Vec<RemoteBlockView>),
        QueryRejected,
    ),
)]
pub async fn blocks(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Vec<RemoteBlockView>>, AppError> {
    Ok(Json(views(
        moderation::blocks(&state.services, paging).await?,
    )))
}
