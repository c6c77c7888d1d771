//! `/api/v1/imports/{key}`: statements brought in from an archive, each
//! under a key that stays the same across runs (`broadside import` uses the
//! file's name). Calls `services::statements::import`.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};

use super::{auth::Admin, openapi::BodyRejected, statements::view, views::ImportOutcome};
use crate::{
    error::{ApiJson, ApiPath, ApiQuery, AppError, ErrorBody},
    services::statements::{self, Draft, Imported},
    state::AppState,
};

#[derive(Deserialize, Serialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check everything, store nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Import an archived statement
///
/// The statement is published at its `original_date` and delivered to
/// nobody (it shows on the site, in feeds and outboxes). 201 when it is
/// created; 200 when the key was imported before (nothing changes) or in a
/// dry run. `publish` and `publish_at` are refused.
#[utoipa::path(
    put,
    path = "/imports/{key}",
    tag = "imports",
    operation_id = "import_statement",
    params(
        ("key" = String, Path, description = "Stays the same across runs (`broadside import` uses the file's name): letters, digits, `-`, `_` or `.`, not starting with `.`."),
        ImportQuery,
    ),
    request_body = Draft,
    responses(
        (status = 201, description = "Created.", body = ImportOutcome),
        (status = 200, description = "Imported before (`unchanged`), or a dry run (`would_create`).", body = ImportOutcome),
        (status = 409, description = "Another import of the key changed it meanwhile; try again.", body = ErrorBody),
        BodyRejected,
    ),
)]
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
            outcome: outcome.to_string(),
            statement: statement.map(|s| view(&state, s)),
        }),
    ))
}
