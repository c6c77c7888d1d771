//! `/api/v1/organisations/{handle}/followers` and `/follow-requests`: who
//! follows an organisation, and the requests an editor accepts or rejects.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use super::{auth::Admin, organisations::find};
use crate::{
    error::{ApiPath, ApiQuery, AppError},
    federation::follows,
    state::AppState,
    store::{ACCEPTED, Follower, PENDING, StoreError},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paging {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    40
}

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
    if !(1..=200).contains(&paging.limit) || paging.offset < 0 {
        return Err(AppError::invalid(
            "limit",
            "limit must be 1 to 200 and offset at least 0",
        ));
    }
    let org = find(state, handle).await?;
    let total = state.store.count_followers(org.id, follow_state).await?;
    let items = state
        .store
        .followers(org.id, follow_state, paging.limit, paging.offset)
        .await?;
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

fn no_such(what: &str, id: i64) -> impl FnOnce(StoreError) -> AppError + '_ {
    move |err| match err {
        StoreError::NotFound => AppError::not_found(format!("no {what} {id}")),
        other => other.into(),
    }
}

/// `POST …/follow-requests/{id}/accept`
pub async fn accept(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<Json<Follower>, AppError> {
    let org = find(&state, &handle).await?;
    let follower = follows::approve(&state, &org, id)
        .await
        .map_err(no_such("follow request", id))?;
    Ok(Json(follower))
}

/// `POST …/follow-requests/{id}/reject`
pub async fn reject(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<Json<Follower>, AppError> {
    let org = find(&state, &handle).await?;
    let follower = follows::reject(&state, &org, id)
        .await
        .map_err(no_such("follow request", id))?;
    Ok(Json(follower))
}

/// `DELETE …/followers/{id}`
pub async fn remove(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, AppError> {
    let org = find(&state, &handle).await?;
    follows::remove(&state, &org, id)
        .await
        .map_err(no_such("follower", id))?;
    Ok(StatusCode::NO_CONTENT)
}
