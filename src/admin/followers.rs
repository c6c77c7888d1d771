//! `/api/v1/organisations/{handle}/followers` and `/follow-requests`: who
//! follows an organisation, and the requests an editor accepts or rejects.
//! Each handler calls one function of `services::follows`.

use axum::{Json, extract::State, http::StatusCode};

use super::{
    auth::Admin,
    openapi::QueryRejected,
    views::{FollowerPage, FollowerView},
};
use crate::{
    error::{ApiPath, ApiQuery, AppError, ErrorBody},
    services::{Paging, follows},
    state::AppState,
    store::FollowerState,
};

async fn page(
    state: &AppState,
    handle: &str,
    follow_state: FollowerState,
    paging: Paging,
) -> Result<Json<FollowerPage>, AppError> {
    let (total, items) = follows::followers(&state.services, handle, follow_state, paging).await?;
    Ok(Json(FollowerPage {
        total,
        limit: paging.limit,
        offset: paging.offset,
        items: items.into_iter().map(FollowerView::from).collect(),
    }))
}

/// List followers
///
/// Accepted followers with their servers, a page at a time.
#[utoipa::path(
    get,
    path = "/organisations/{handle}/followers",
    tag = "followers",
    operation_id = "list_followers",
    params(("handle" = String, Path, description = "The organisation's handle."), Paging),
    responses(
        (status = 200, description = "A page of followers.", body = FollowerPage),
        (status = 404, description = "No such organisation.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<FollowerPage>, AppError> {
    page(&state, &handle, FollowerState::Accepted, paging).await
}

/// List follow requests
///
/// Follows awaiting an editor's approval (organisations that approve
/// followers manually).
#[utoipa::path(
    get,
    path = "/organisations/{handle}/follow-requests",
    tag = "followers",
    operation_id = "list_follow_requests",
    params(("handle" = String, Path, description = "The organisation's handle."), Paging),
    responses(
        (status = 200, description = "A page of pending follows.", body = FollowerPage),
        (status = 404, description = "No such organisation.", body = ErrorBody),
        QueryRejected,
    ),
)]
pub async fn requests(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<FollowerPage>, AppError> {
    page(&state, &handle, FollowerState::Pending, paging).await
}

/// Accept a follow request
///
/// The follower's server gets an Accept.
#[utoipa::path(
    post,
    path = "/organisations/{handle}/follow-requests/{id}/accept",
    tag = "followers",
    operation_id = "accept_follow_request",
    params(
        ("handle" = String, Path, description = "The organisation's handle."),
        ("id" = i64, Path, description = "The follow request's id."),
    ),
    responses(
        (status = 200, description = "The follow, now accepted.", body = FollowerView),
        (status = 404, description = "No such organisation or pending request.", body = ErrorBody),
    ),
)]
pub async fn accept(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<Json<FollowerView>, AppError> {
    Ok(Json(
        follows::approve(&state.services, &handle, id).await?.into(),
    ))
}

/// Reject a follow request
///
/// The follower's server gets a Reject.
#[utoipa::path(
    post,
    path = "/organisations/{handle}/follow-requests/{id}/reject",
    tag = "followers",
    operation_id = "reject_follow_request",
    params(
        ("handle" = String, Path, description = "The organisation's handle."),
        ("id" = i64, Path, description = "The follow request's id."),
    ),
    responses(
        (status = 200, description = "The follow as it was before it was rejected.", body = FollowerView),
        (status = 404, description = "No such organisation or pending request.", body = ErrorBody),
    ),
)]
pub async fn reject(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<Json<FollowerView>, AppError> {
    Ok(Json(
        follows::reject(&state.services, &handle, id).await?.into(),
    ))
}

/// Remove a follower
///
/// The follower's server gets an Undo of our Accept, so it stops
/// showing the follow.
#[utoipa::path(
    delete,
    path = "/organisations/{handle}/followers/{id}",
    tag = "followers",
    operation_id = "remove_follower",
    params(
        ("handle" = String, Path, description = "The organisation's handle."),
        ("id" = i64, Path, description = "The follow's id."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such organisation or follower.", body = ErrorBody),
    ),
)]
pub async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, AppError> {
    follows::remove(&state.services, &handle, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
