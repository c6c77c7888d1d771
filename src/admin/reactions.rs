//! `/api/v1`: reactions to statements, the reply moderation queue, quotes,
//! reports and remote blocks. Each handler calls one function of
//! `services::moderation`.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use super::auth::Admin;
use crate::{
    error::{ApiPath, ApiQuery, AppError},
    services::{
        Paging,
        moderation::{self, QuoteListing, Reactions, ReplyListing, ReportListing},
    },
    state::AppState,
    store::{Quote, RemoteBlock, Reply, Report},
};

/// `GET /statements/{id}/reactions?limit=&offset=`
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

/// `GET /replies?status=&statement=&limit=&offset=`
pub async fn replies(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<ReplyListing>,
) -> Result<Json<Vec<Reply>>, AppError> {
    Ok(Json(moderation::replies(&state.services, listing).await?))
}

/// `POST /replies/{id}/approve`
pub async fn approve_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Reply>, AppError> {
    Ok(Json(
        moderation::moderate_reply(&state.services, id, true).await?,
    ))
}

/// `POST /replies/{id}/hide`
pub async fn hide_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Reply>, AppError> {
    Ok(Json(
        moderation::moderate_reply(&state.services, id, false).await?,
    ))
}

/// `DELETE /replies/{id}`
pub async fn delete_reply(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    moderation::delete_reply(&state.services, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /quotes?statement=&limit=&offset=`
pub async fn quotes(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(listing): ApiQuery<QuoteListing>,
) -> Result<Json<Vec<Quote>>, AppError> {
    Ok(Json(moderation::quotes(&state.services, listing).await?))
}

/// `POST /quotes/{id}/revoke`
pub async fn revoke_quote(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Quote>, AppError> {
    Ok(Json(moderation::revoke_quote(&state.services, &id).await?))
}

/// A report as the editor reads it.
#[derive(Serialize)]
pub struct ReportView {
    #[serde(flatten)]
    report: Report,
    /// The reported statements' ids.
    statements: Vec<String>,
}

/// `GET /reports?status=open|resolved`
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

/// `POST /reports/{id}/resolve`
pub async fn resolve_report(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    moderation::resolve_report(&state.services, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /blocks`: remote actors that block our organisations.
pub async fn blocks(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Vec<RemoteBlock>>, AppError> {
    Ok(Json(moderation::blocks(&state.services, paging).await?))
}
