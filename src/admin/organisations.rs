//! `/api/v1/organisations`: create, list, show, edit and delete signatories.
//! Each handler calls one function of `services::organisations`.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};

use super::{
    auth::Admin,
    openapi::BodyRejected,
    views::{OrganisationCounts, OrganisationView},
};
use crate::{
    error::ErrorBody,
    error::{ApiJson, ApiPath, AppError},
    organisations::Organisation,
    services::organisations::{self, NewProfile, ProfileChanges},
    state::AppState,
    store::FollowerState,
    vocabulary::activity::OUTBOX,
};

async fn view(state: &AppState, org: Organisation) -> Result<OrganisationView, AppError> {
    let counts = OrganisationCounts {
        followers: state
            .store
            .count_followers(org.id, FollowerState::Accepted)
            .await?,
        follow_requests: state
            .store
            .count_followers(org.id, FollowerState::Pending)
            .await?,
        statuses: state
            .store
            .count_statement_activities(org.id, &OUTBOX)
            .await?,
    };
    Ok(OrganisationView::new(&state.urls, org, counts))
}

/// Create an organisation
///
/// A new fediverse account with a fresh key pair; it can sign statements
/// at once.
#[utoipa::path(
    post,
    path = "/organisations",
    tag = "organisations",
    operation_id = "create_organisation",
    request_body = NewProfile,
    responses(
        (status = 201, description = "The stored organisation.", body = OrganisationView),
        (status = 409, description = "The handle is taken (handles of deleted organisations are never reused).", body = ErrorBody),
        BodyRejected,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<NewProfile>,
) -> Result<impl IntoResponse, AppError> {
    let created = organisations::create(&state.services, input).await?;
    Ok((StatusCode::CREATED, Json(view(&state, created).await?)))
}

/// List organisations
///
/// Every live organisation, with its counts.
#[utoipa::path(
    get,
    path = "/organisations",
    tag = "organisations",
    operation_id = "list_organisations",
    responses(
        (status = 200, description = "Every organisation.", body = Vec<OrganisationView>),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<OrganisationView>>, AppError> {
    let mut views = Vec::new();
    for org in state.store.organisations().await? {
        views.push(view(&state, org).await?);
    }
    Ok(Json(views))
}

/// Show an organisation
#[utoipa::path(
    get,
    path = "/organisations/{handle}",
    tag = "organisations",
    operation_id = "show_organisation",
    params(("handle" = String, Path, description = "The organisation's handle.")),
    responses(
        (status = 200, description = "The organisation.", body = OrganisationView),
        (status = 404, description = "No such organisation.", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<OrganisationView>, AppError> {
    let org = organisations::find(&state.services, &handle).await?;
    Ok(Json(view(&state, org).await?))
}

/// Edit an organisation
///
/// Changes the given fields only; followers' servers get the new profile
/// (an Update) at once.
#[utoipa::path(
    patch,
    path = "/organisations/{handle}",
    tag = "organisations",
    operation_id = "update_organisation",
    params(("handle" = String, Path, description = "The organisation's handle.")),
    request_body = ProfileChanges,
    responses(
        (status = 200, description = "The organisation as changed.", body = OrganisationView),
        (status = 404, description = "No such organisation.", body = ErrorBody),
        BodyRejected,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiJson(changes): ApiJson<ProfileChanges>,
) -> Result<Json<OrganisationView>, AppError> {
    let updated = organisations::update(&state.services, &handle, changes).await?;
    Ok(Json(view(&state, updated).await?))
}

/// Delete an organisation
///
/// Followers' servers get a Delete of the account. The handle stays taken
/// for good.
#[utoipa::path(
    delete,
    path = "/organisations/{handle}",
    tag = "organisations",
    operation_id = "delete_organisation",
    params(("handle" = String, Path, description = "The organisation's handle.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such organisation.", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    organisations::delete(&state.services, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}
