//! `/api/v1/domain-blocks`: servers we refuse to federate with.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;

use super::{auth::Admin, openapi::BodyRejected, views::DomainBlockView};
use crate::{
    error::{ApiJson, ApiPath, AppError, ErrorBody},
    services::domain_blocks,
    state::AppState,
};

/// A server to block.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBlock {
    /// A host name as people type it (any case, a trailing dot, an IDN);
    /// the block covers its subdomains too.
    domain: String,
    /// Why, for the other admins.
    #[serde(default)]
    reason: String,
}

/// Block a server
///
/// Followers from the domain and its subdomains are removed and deliveries
/// to them dropped; nothing is sent to or accepted from them any more.
/// Blocking a blocked domain again replaces its reason.
#[utoipa::path(
    post,
    path = "/domain-blocks",
    tag = "domain-blocks",
    operation_id = "create_domain_block",
    request_body = NewBlock,
    responses(
        (status = 201, description = "The block.", body = DomainBlockView),
        BodyRejected,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<NewBlock>,
) -> Result<(StatusCode, Json<DomainBlockView>), AppError> {
    let block = domain_blocks::block(&state.services, &input.domain, &input.reason).await?;
    Ok((StatusCode::CREATED, Json(block.into())))
}

/// List domain blocks
#[utoipa::path(
    get,
    path = "/domain-blocks",
    tag = "domain-blocks",
    operation_id = "list_domain_blocks",
    responses(
        (status = 200, description = "Every block.", body = Vec<DomainBlockView>),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<DomainBlockView>>, AppError> {
    Ok(Json(
        domain_blocks::list(&state.services)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Lift a domain block
#[utoipa::path(
    delete,
    path = "/domain-blocks/{domain}",
    tag = "domain-blocks",
    operation_id = "delete_domain_block",
    params(("domain" = String, Path, description = "The blocked domain.")),
    responses(
        (status = 204, description = "Lifted."),
        (status = 404, description = "The domain is not blocked.", body = ErrorBody),
        (status = 422, description = "Not a host name.", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(domain): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    domain_blocks::unblock(&state.services, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}
