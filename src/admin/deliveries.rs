//! `/api/v1/deliveries`: how the queue is doing.

use axum::{Json, extract::State};
use serde::Deserialize;

use super::{auth::Admin, openapi::QueryRejected, views::DeliveryReport};
use crate::{
    error::{ApiQuery, AppError},
    state::AppState,
    store::DeliveryState,
};

/// Which deliveries to list.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// queued, sending, delivered or failed: lists the latest deliveries
    /// in that state.
    state: Option<String>,
    /// How many to list, 1 to 500.
    #[serde(default = "default_limit")]
    #[param(default = default_limit)]
    limit: i64,
}

fn default_limit() -> i64 {
    50
}

/// Counts per state, the failing servers with their last error, and with
/// `?state=…` the latest deliveries in that state.
pub async fn report(
    state: &AppState,
    statement_id: Option<i64>,
    query: DeliveryQuery,
) -> Result<DeliveryReport, AppError> {
    let wanted = match query.state.as_deref().map(str::parse::<DeliveryState>) {
        None => None,
        Some(Ok(wanted)) => Some(wanted),
        Some(Err(_)) => {
            let all: Vec<_> = <DeliveryState as strum::VariantArray>::VARIANTS
                .iter()
                .map(|s| s.as_str())
                .collect();
            return Err(AppError::invalid(
                "state",
                format!("must be one of {}", all.join(", ")),
            ));
        }
    };
    if !(1..=500).contains(&query.limit) {
        return Err(AppError::invalid("limit", "must be 1 to 500"));
    }
    let deliveries = match wanted {
        Some(s) => Some(
            state
                .store
                .deliveries_in_state(s, statement_id, query.limit)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ),
        None => None,
    };
    Ok(DeliveryReport {
        counts: state.store.delivery_counts(statement_id).await?.into(),
        failing_hosts: state
            .store
            .failing_hosts(50)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
        deliveries,
    })
}

/// Report on deliveries
///
/// Counts per state, the failing servers with their last error, and with
/// `?state=…` the latest deliveries in that state.
#[utoipa::path(
    get,
    path = "/deliveries",
    tag = "deliveries",
    operation_id = "list_deliveries",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "The report.", body = DeliveryReport),
        QueryRejected,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryReport>, AppError> {
    Ok(Json(report(&state, None, query).await?))
}
