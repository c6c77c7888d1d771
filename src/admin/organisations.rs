//! `/api/v1/organisations`: create, list, show, edit and delete signatories.
//! Each handler calls one function of `services::organisations`.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;

use super::auth::Admin;
use crate::{
    error::{ApiJson, ApiPath, AppError},
    organisations::{Organisation, ProfileField},
    services::organisations::{self, NewProfile, ProfileChanges},
    state::AppState,
    store::{ACCEPTED, PENDING},
    vocabulary::activity::OUTBOX,
};

/// An organisation as the admin API shows it. Never includes a private key.
#[derive(Serialize)]
pub struct OrganisationView {
    handle: String,
    name: String,
    summary: String,
    website: Option<String>,
    fields: Vec<ProfileField>,
    avatar_url: Option<String>,
    header_url: Option<String>,
    manually_approves_followers: bool,
    discoverable: bool,
    indexable: bool,
    approve_replies: bool,
    actor_url: String,
    acct: String,
    followers_count: i64,
    follow_requests_count: i64,
    statuses_count: i64,
    created_at: String,
    updated_at: String,
}

async fn view(state: &AppState, org: Organisation) -> Result<OrganisationView, AppError> {
    let followers_count = state.store.count_followers(org.id, ACCEPTED).await?;
    let follow_requests_count = state.store.count_followers(org.id, PENDING).await?;
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

/// `POST /api/v1/organisations` → 201 with the stored organisation.
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<NewProfile>,
) -> Result<impl IntoResponse, AppError> {
    let created = organisations::create(&state.services, input).await?;
    Ok((StatusCode::CREATED, Json(view(&state, created).await?)))
}

/// `GET /api/v1/organisations`
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

/// `GET /api/v1/organisations/{handle}`
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
) -> Result<Json<OrganisationView>, AppError> {
    let org = organisations::find(&state.services, &handle).await?;
    Ok(Json(view(&state, org).await?))
}

/// `PATCH /api/v1/organisations/{handle}`: changes the given fields only.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiJson(changes): ApiJson<ProfileChanges>,
) -> Result<Json<OrganisationView>, AppError> {
    let updated = organisations::update(&state.services, &handle, changes).await?;
    Ok(Json(view(&state, updated).await?))
}

/// `DELETE /api/v1/organisations/{handle}` → 204. The handle stays taken.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    organisations::delete(&state.services, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}
