//! `/api/v1`: reactions to statements, the reply moderation queue, quotes,
//! reports and remote blocks. Each handler calls one function of
//! `services::moderation`.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use super::{auth::Admin, openapi::QueryRejected};
use crate::{
    error::{ApiPath, ApiQuery, AppError, ErrorBody},
    services::{
        Paging,
        moderation::{self, QuoteListing, Reactions, ReplyListing, ReportListing},
    },
    state::AppState,
    store::{Quote, RemoteBlock, Reply, Report},
};

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
        (status = 200, description = "The reactions.", body = Reactions),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn reactions(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Reactions>, AppError> {
    Ok(Json(
        moderation::reactions(&state.services, &id, paging).await?,
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
        (status = 200, description = "A page of replies.", body = Vec<Reply>),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn replies(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<ReplyListing>,
) -> Result<Json<Vec<Reply>>, AppError> {
    Ok(Json(moderation::replies(&state.services, listing).await?))
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
        (status = 200, description = "The reply, approved.", body = Reply),
        (status = 404, description = "No such reply.", body = ErrorBody),
    ),
)]
pub async fn approve_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Reply>, AppError> {
    Ok(Json(
        moderation::moderate_reply(&state.services, id, true).await?,
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
        (status = 200, description = "The reply, hidden.", body = Reply),
        (status = 404, description = "No such reply.", body = ErrorBody),
    ),
)]
pub async fn hide_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Reply>, AppError> {
    Ok(Json(
        moderation::moderate_reply(&state.services, id, false).await?,
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
        (status = 200, description = "A page of quotes.", body = Vec<Quote>),
        (status = 404, description = "No such statement.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn quotes(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<QuoteListing>,
) -> Result<Json<Vec<Quote>>, AppError> {
    Ok(Json(moderation::quotes(&state.services, listing).await?))
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
        (status = 200, description = "The quote, revoked.", body = Quote),
        (status = 404, description = "No such quote.", body = ErrorBody),
        (status = 409, description = "The quote is revoked already.", body = ErrorBody),
    ),
)]
pub async fn revoke_quote(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Quote>, AppError> {
    Ok(Json(moderation::revoke_quote(&state.services, &id).await?))
}

/// A report as the editor reads it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReportView {
    #[serde(flatten)]
    report: Report,
    /// The reported statements' ids.
    statements: Vec<String>,
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
    let reports = moderation::reports(&state.services, listing).await?;
    Ok(Json(
        reports
            .into_iter()
            .map(|report| ReportView {
                statements: serde_json::from_str(&report.statements_json).unwrap_or_default(),
                report,
            })
            .collect(),
    ))
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
        (status = 200, description = "A page of blocks.", body = Vec<RemoteBlock>),
        QueryRejected,
    ),
)]
pub async fn blocks(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Vec<RemoteBlock>>, AppError> {
    Ok(Json(moderation::blocks(&state.services, paging).await?))
}
