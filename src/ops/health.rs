//! `/healthz` and `/readyz`, answered by every process (web and worker).
//!
//! Liveness says only that the process serves HTTP, so an orchestrator does
//! not restart a server whose database is briefly away; readiness says it
//! can do its work: the database answers and every migration this binary
//! knows is applied (a web process of a newer release waits for them).

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::store::Store;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /readyz`: 200 when the database answers and is fully migrated,
/// else 503 with the reason.
pub async fn readyz(State(store): State<Store>) -> Response {
    let problem = match store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => None,
        Ok(pending) => Some(format!(
            "database migrations not applied: {}",
            pending
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(err) => {
            tracing::error!(error = %err, "readiness: the database does not answer");
            Some("database unavailable".to_string())
        }
    };
    match problem {
        None => Json(json!({"status": "ready", "database": store.backend_name()})).into_response(),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": error})),
        )
            .into_response(),
    }
}
