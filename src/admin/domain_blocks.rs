//! `/api/v1/domain-blocks`: servers we refuse to federate with.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;

use super::auth::Admin;
use crate::{
    error::{ApiJson, ApiPath, AppError},
    state::AppState,
    store::DomainBlock,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBlock {
    domain: String,
    #[serde(default)]
    reason: String,
}

/// A domain as people type it, in the one normal form, or a 422.
fn normalise(domain: &str) -> Result<String, AppError> {
    crate::domains::normalise(domain)
        .ok_or_else(|| AppError::invalid("domain", "must be a host name such as example.org"))
}

/// `POST /api/v1/domain-blocks {domain, reason?}` → 201. Followers from the
/// domain and its subdomains are removed and deliveries to them dropped.
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<NewBlock>,
) -> Result<(StatusCode, Json<DomainBlock>), AppError> {
    let domain = normalise(&input.domain)?;
    let block = state
        .store
        .block_domain(&domain, input.reason.trim())
        .await?;
    tracing::info!(domain, "domain blocked");
    Ok((StatusCode::CREATED, Json(block)))
}

/// `GET /api/v1/domain-blocks`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<DomainBlock>>, AppError> {
    Ok(Json(state.store.domain_blocks().await?))
}

/// `DELETE /api/v1/domain-blocks/{domain}`
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(domain): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let domain = normalise(&domain)?;
    if state.store.unblock_domain(&domain).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found(format!("{domain} is not blocked")))
    }
}
