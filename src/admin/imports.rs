//! `/api/v1/imports/{key}`: statements brought in from an archive, each
//! under a key that stays the same across runs (`broadside import` uses the
//! file's name). Calls `services::statements::import`.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use super::{
    auth::Admin,
    statements::{StatementView, view},
};
use crate::{
    error::{ApiJson, ApiPath, ApiQuery, AppError},
    services::statements::{self, Draft, Imported},
    state::AppState,
};

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check everything, store nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an import did: `created`, `unchanged` (the key was imported
/// before; nothing changed) or, in a dry run, `would_create`.
#[derive(Serialize)]
pub struct ImportOutcome {
    outcome: &'static str,
    statement: Option<StatementView>,
}

/// `PUT /api/v1/imports/{key}?dry_run=` with a statement: 201 when it is
/// created (published at its `original_date`, delivered to nobody), 200
/// when the key exists already or in a dry run.
pub async fn import(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(key): ApiPath<String>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    ApiJson(draft): ApiJson<Draft>,
) -> Result<(StatusCode, Json<ImportOutcome>), AppError> {
    let (status, outcome, statement) =
        match statements::import(&state.services, &key, draft, query.dry_run).await? {
            Imported::Created(s) => (StatusCode::CREATED, "created", Some(s)),
            Imported::Unchanged(s) => (StatusCode::OK, "unchanged", Some(s)),
            Imported::WouldCreate => (StatusCode::OK, "would_create", None),
        };
    Ok((
        status,
        Json(ImportOutcome {
            outcome,
            statement: statement.map(|s| view(&state, s)),
        }),
    ))
}
