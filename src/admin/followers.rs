//! `/api/v1/organisations/{handle}/followers` and `/follow-requests`: who
//! follows an organisation, and the requests an editor accepts or rejects.
//! Each handler calls one function of `services::follows`.

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use super::auth::Admin;
use crate::{
    error::{ApiPath, ApiQuery, AppError},
    services::{Paging, follows},
    state::AppState,
    store::{ACCEPTED, Follower, PENDING},
};

#[derive(Serialize)]
pub struct FollowerPage {
    total: i64,
    limit: i64,
    offset: i64,
    items: Vec<Follower>,
}

async fn page(
    state: &AppState,
    handle: &str,
    follow_state: &str,
    paging: Paging,
) -> Result<Json<FollowerPage>, AppError> {
    let (total, items) = follows::followers(&state.services, handle, follow_state, paging).await?;
    Ok(Json(FollowerPage {
        total,
        limit: paging.limit,
        offset: paging.offset,
        items,
    }))
}

/// `GET …/followers?limit=&offset=`: accepted followers with their servers.
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<FollowerPage>, AppError> {
    page(&state, &handle, ACCEPTED, paging).await
}

/// `GET …/follow-requests`
pub async fn requests(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<FollowerPage>, AppError> {
    page(&state, &handle, PENDING, paging).await
}

/// `POST …/follow-requests/{id}/accept`
pub async fn accept(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<Json<Follower>, AppError> {
    Ok(Json(follows::approve(&state.services, &handle, id).await?))
}

/// `POST …/follow-requests/{id}/reject`
pub async fn reject(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<Json<Follower>, AppError> {
    Ok(Json(follows::reject(&state.services, &handle, id).await?))
}

/// `DELETE …/followers/{id}`
pub async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, AppError> {
    follows::remove(&state.services, &handle, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
