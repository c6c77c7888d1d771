//! `/api/v1/organisations`: create, list, show, edit and delete signatories.
//! Each handler calls one function of `services::organisations`.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;

use super::{auth::Admin, openapi::BodyRejected};
use crate::{
    error::ErrorBody,
    error::{ApiJson, ApiPath, AppError},
    organisations::{Organisation, ProfileField},
    services::organisations::{self, NewProfile, ProfileChanges},
    state::AppState,
    store::FollowerState,
    vocabulary::activity::OUTBOX,
};

/// An organisation as the admin API shows it. Never includes a private key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganisationView {
    handle: String,
    /// The display name.
    name: String,
    /// The biography, plain text.
    summary: String,
    website: Option<String>,
    fields: Vec<ProfileField>,
    avatar_url: Option<String>,
    header_url: Option<String>,
    /// Follows wait for an editor's approval.
    manually_approves_followers: bool,
    /// Listed in directories.
    discoverable: bool,
    /// Its statements may be indexed by search.
    indexable: bool,
    /// Replies to its statements skip the moderation queue.
    approve_replies: bool,
    /// Its ActivityPub id, also its profile page.
    actor_url: String,
    /// Its fediverse address, `@handle@host`.
    acct: String,
    followers_count: i64,
    /// Follows awaiting approval.
    follow_requests_count: i64,
    /// Activities in its outbox.
    statuses_count: i64,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

async fn view(state: &AppState, org: Organisation) -> Result<OrganisationView, AppError> {
    let followers_count = state
        .store
        .count_followers(org.id, FollowerState::Accepted)
        .await?;
    let follow_requests_count = state
        .store
        .count_followers(org.id, FollowerState::Pending)
        .await?;
    let statuses_count = state
        .store
        .count_statement_activities(org.id, &OUTBOX)
        .await?;
    Ok(OrganisationView {
        actor_url: state.urls.organisation(&org.handle).to_string(),
        acct: format!("@{}@{}", org.handle, state.urls.domain()),
        followers_count,
        follow_requests_count,
        statuses_count,
        created_at: crate::store::from_ms(org.created_at).to_rfc3339(),
        updated_at: crate::store::from_ms(org.updated_at).to_rfc3339(),
        handle: org.handle,
        name: org.name,
        summary: org.summary,
        website: org.website,
        fields: org.fields,
        avatar_url: org.avatar_url,
        header_url: org.header_url,
        manually_approves_followers: org.manually_approves_followers,
        discoverable: org.discoverable,
        indexable: org.indexable,
        approve_replies: org.approve_replies,
    })
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
