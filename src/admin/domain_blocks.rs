//! `/api/v1/domain-blocks`: servers we refuse to federate with.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;

use super::auth::Admin;
use crate::{
    error::{ApiJson, ApiPath, AppError},
    services::domain_blocks,
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

/// `POST /api/v1/domain-blocks {domain, reason?}` → 201. Followers from the
/// domain and its subdomains are removed and deliveries to them dropped.
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<NewBlock>,
) -> Result<(StatusCode, Json<DomainBlock>), AppError> {
    let block = domain_blocks::block(&state.services, &input.domain, &input.reason).await?;
    Ok((StatusCode::CREATED, Json(block)))
}

/// `GET /api/v1/domain-blocks`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<DomainBlock>>, AppError> {
    Ok(Json(domain_blocks::list(&state.services).await?))
}

/// `DELETE /api/v1/domain-blocks/{domain}`
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(domain): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    domain_blocks::unblock(&state.services, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}
