//! Prometheus metrics: what is recorded, under which names, and the
//! `/metrics` endpoint that renders them.
//!
//! Code anywhere records through the small functions below (the `metrics`
//! facade underneath). Until [`install`] runs — only in a process started
//! with `metrics_listen` — no recorder exists and recording costs a branch.
//! The endpoint is served on its own address, never on the public one:
//! queue figures and latencies are for the operator, not for the fediverse.
//!
//! Queue depths are read from the database at scrape time, so with several
//! processes on one PostgreSQL every process reports the same, whole queue;
//! counters and histograms are per process (sum them across `instance`).

use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::{net::TcpListener, sync::watch};

use crate::store::{DeliveryState, Store, now_ms};

/// Deliveries finished by this process, by `outcome`: `delivered`, `retry`
/// (failed, will be tried again) or `failed` (given up).
pub const DELIVERIES: &str = "broadside_deliveries_total";
/// Time from sending a delivery's request to its answer (or error).
pub const DELIVERY_SECONDS: &str = "broadside_delivery_duration_seconds";
/// Delivery rows by `state` (`queued`, `sending`, `delivered`, `failed`).
pub const QUEUE_DEPTH: &str = "broadside_delivery_queue_depth";
/// How long the oldest delivery that is due has waited (0: none waits).
pub const OLDEST_DUE: &str = "broadside_delivery_oldest_due_age_seconds";
/// Activities POSTed to our inboxes, by `outcome` (`accepted`/`rejected`)
/// and HTTP `status`.
pub const INBOX_REQUESTS: &str = "broadside_inbox_requests_total";
/// HTTP requests served, by `method`, `route` (the route pattern, not the
/// path) and `status`.
pub const HTTP_SECONDS: &str = "broadside_http_request_duration_seconds";
/// GETs of remote documents (actors, keys), by `outcome`: `ok`, `refused`
/// (an HTTP error status) or `error` (no answer).
pub const REMOTE_FETCHES: &str = "broadside_remote_fetches_total";

/// Seconds: from a fast loopback answer to the 30 s request timeout.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder; later calls return the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), BUCKETS)
                .expect("buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(DELIVERIES, "Deliveries finished, by outcome");
    metrics::describe_histogram!(
        DELIVERY_SECONDS,
        metrics::Unit::Seconds,
        "Time to a delivery's answer"
    );
    metrics::describe_gauge!(QUEUE_DEPTH, "Delivery rows by state");
    metrics::describe_gauge!(
        OLDEST_DUE,
        metrics::Unit::Seconds,
        "Age of the oldest due delivery"
    );
    metrics::describe_counter!(INBOX_REQUESTS, "Inbox requests, by outcome and status");
    metrics::describe_histogram!(
        HTTP_SECONDS,
        metrics::Unit::Seconds,
        "HTTP request latency, by method, route and status"
    );
    metrics::describe_counter!(REMOTE_FETCHES, "Remote document fetches, by outcome");
}

pub fn delivery_finished(outcome: &'static str, elapsed: Duration) {
    metrics::counter!(DELIVERIES, "outcome" => outcome).increment(1);
    metrics::histogram!(DELIVERY_SECONDS).record(elapsed.as_secs_f64());
}

pub fn inbox_request(status: StatusCode) {
    let outcome = if status.is_success() {
        "accepted"
    } else {
        "rejected"
    };
    metrics::counter!(INBOX_REQUESTS, "outcome" => outcome, "status" => status.as_str().to_owned())
        .increment(1);
}

pub fn remote_fetch(outcome: &'static str) {
    metrics::counter!(REMOTE_FETCHES, "outcome" => outcome).increment(1);
}

/// Middleware (a route layer, so the route pattern is known) timing every
/// request. Added to the router only when metrics are on.
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics::histogram!(
        HTTP_SECONDS,
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_owned()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

#[derive(Clone)]
struct Scrape {
    store: Store,
    handle: PrometheusHandle,
}

/// Serves `GET /metrics` on `addr` until `shutdown` turns true.
pub async fn serve(
    addr: SocketAddr,
    store: Store,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let handle = install();
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(listen = %addr, "metrics served at /metrics");
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            store,
            handle: handle.clone(),
        });
    Ok(tokio::spawn(async move {
        // Histogram samples wait in buffers until a scrape or this upkeep
        // folds them in: without it an unscraped process would grow.
        let upkeep = async {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        };
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        });
        tokio::select! {
            result = server => if let Err(err) = result {
                tracing::error!(error = %err, "metrics server failed");
            },
            _ = upkeep => {}
        }
    }))
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    // The same counts the admin API reports, and the oldest due delivery.
    match scrape.store.delivery_counts(None).await {
        Ok(counts) => {
            for (state, count) in [
                (DeliveryState::Queued, counts.queued),
                (DeliveryState::Sending, counts.sending),
                (DeliveryState::Delivered, counts.delivered),
                (DeliveryState::Failed, counts.failed),
            ] {
                metrics::gauge!(QUEUE_DEPTH, "state" => state.as_str()).set(count as f64);
            }
        }
        // The process's own figures are still worth having.
        Err(err) => tracing::error!(error = %err, "metrics: reading the queue failed"),
    }
    match scrape.store.oldest_due_age_ms(now_ms()).await {
        Ok(age_ms) => metrics::gauge!(OLDEST_DUE).set(age_ms as f64 / 1000.0),
        Err(err) => tracing::error!(error = %err, "metrics: reading the queue failed"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        scrape.handle.render(),
    )
        .into_response()
}
