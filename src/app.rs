//! The running process: the router that joins every module's routes, the
//! background work (scheduler, delivery workers, metrics), and `serve` and
//! `deliver` with their graceful shutdown. The state they share is
//! [`crate::state::AppState`].

use std::{future::IntoFuture, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderValue, header},
    middleware,
    routing::get,
};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceBuilder;
use tower_http::{
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing::Level;

use crate::{
    admin,
    delivery::{
        self,
        worker::{Worker, WorkerSettings},
    },
    desk, federation, ops, services,
    state::AppState,
    store::Store,
    web,
};

impl AppState {
    /// Starts this process's background work: the statement scheduler, the
    /// delivery workers (with, on PostgreSQL, a listener that wakes them when
    /// any process queues deliveries) and the metrics endpoint if configured.
    pub async fn start_background(&self) -> anyhow::Result<Background> {
        let (shutdown, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(services::statements::run_scheduler(
            self.services.clone(),
            stopped.clone(),
        ))];
        if let Some(addr) = self.config.metrics_listen {
            tasks.push(ops::metrics::serve(addr, self.store.clone(), stopped.clone()).await?);
        }
        if self.config.delivery_workers > 0 {
            tasks.push(tokio::spawn(delivery::forward_announcements(
                self.store.clone(),
                self.outbox.wake_handle(),
                stopped.clone(),
            )));
        }
        for _ in 0..self.config.delivery_workers {
            let worker = Worker::new(
                self.store.clone(),
                self.urls.clone(),
                self.http.clone(),
                WorkerSettings::from_config(&self.config),
                self.outbox.wake_handle(),
            );
            tasks.push(tokio::spawn(worker.run(stopped.clone())));
        }
        Ok(Background { shutdown, tasks })
    }
}

/// The background tasks of a process: delivery workers and the scheduler.
/// [`Background::stop`] lets them finish what is in flight; dropped without
/// it (the serving task was cancelled), they are aborted with it.
pub struct Background {
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every process answers, web or worker: the liveness and readiness
/// probes.
fn probes(store: Store) -> Router {
    Router::new()
        .route("/healthz", get(ops::health::healthz))
        .route("/readyz", get(ops::health::readyz))
        .with_state(store)
}

/// Every route of the server, with logging, body limits and, where
/// handlers need `Data<AppState>`, the federation library's configuration.
pub async fn router(state: AppState) -> anyhow::Result<Router> {
    let federation_config = federation::federation_config(state.clone()).await?;
    let mut routes = Router::new()
        .merge(web::routes())
        .merge(desk::routes(&state))
        .merge(federation::routes(&state.config, &federation_config))
        // Already below /api/v1 (`admin::BASE`), where its document says.
        .merge(admin::routes().layer(DefaultBodyLimit::max(state.config.max_admin_body_bytes)));
    if state.config.authorized_fetch {
        routes = routes.route_layer(middleware::from_fn_with_state(
            Arc::new(federation_config),
            federation::authorized_fetch::gate,
        ));
    }
    if state.config.metrics_listen.is_some() {
        routes = routes.route_layer(middleware::from_fn(ops::metrics::track_http));
    }
    let router = routes
        .with_state(state.clone())
        .merge(probes(state.store.clone()))
        // One `layer` call for the four: axum boxes each route once per
        // call and clones the boxes for every request.
        .layer(
            ServiceBuilder::new()
                .layer(trace_layer())
                // Every response, JSON and probes included, gets these
                // unless its handler chose stricter or looser ones (pages
                // set their own CSP).
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
                    ),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                )),
        );
    Ok(router)
}

/// One log line per request, with its status and duration.
type RequestLog = TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&Request) -> tracing::Span,
    (),
    fn(&axum::response::Response, Duration, &tracing::Span),
>;

fn trace_layer() -> RequestLog {
    fn span(req: &Request) -> tracing::Span {
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
    }
    fn served(res: &axum::response::Response, latency: Duration, _span: &tracing::Span) {
        tracing::info!(
            status = res.status().as_u16(),
            ms = latency.as_millis() as u64,
            "served"
        );
    }
    TraceLayer::new_for_http()
        .make_span_with(span as fn(&Request) -> tracing::Span)
        .on_request(())
        .on_response(served as fn(&axum::response::Response, Duration, &tracing::Span))
        .on_failure(DefaultOnFailure::new().level(Level::ERROR))
}

/// Serves HTTP and runs the background work until Ctrl-C or SIGTERM (or
/// until `stop` resolves). Then both wind down together: HTTP finishes the
/// requests it has, and the workers stop claiming and finish what is in
/// flight.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let background = state.start_background().await?;
    let router = router(state).await?;
    crate::ops::memory::release_free_heap();
    let (stopping, stopped) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown_signal() => {}
            _ = stop => {}
        }
        let _ = stopping.send(true);
    });
    let mut http_stopped = stopped.clone();
    // The client's address reaches handlers (the desk's sign-in limit).
    let http = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = http_stopped.wait_for(|stop| *stop).await;
    });
    let mut background_stopped = stopped;
    let background = async move {
        let _ = background_stopped.wait_for(|stop| *stop).await;
        background.stop().await;
    };
    let (served, ()) = tokio::join!(http.into_future(), background);
    Ok(served?)
}

/// A worker process (`broadside deliver`): the background work, and on
/// `listen` only the probes, so that the image's HEALTHCHECK and an
/// orchestrator see workers as they see web processes. On SIGTERM it stops
/// claiming and drains the requests in flight before it exits.
pub async fn deliver(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let background = state.start_background().await?;
    let probes = probes(state.store.clone()).layer(trace_layer());
    let (stopped, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, probes)
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await
    });
    shutdown_signal().await;
    background.stop().await;
    let _ = stopped.send(());
    server.await??;
    tracing::info!("deliveries drained");
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
