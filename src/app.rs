//! The running server: shared state, the router that joins every module's
//! routes, and the HTTP server with graceful shutdown.

use std::{ops::Deref, sync::Arc, time::Duration};

use activitypub_federation::config::FederationMiddleware;
use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderValue, header},
    routing::get,
};
use tokio::{net::TcpListener, sync::watch};
use tower_http::{
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing::Level;

use crate::{
    admin,
    config::Config,
    delivery::{
        Outbox,
        worker::{Worker, WorkerSettings},
    },
    federation::{self, instance_actor::InstanceActor, urls::Urls},
    store::Store,
    transport, web,
    web::templates::Templates,
};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    pub config: Config,
    pub store: Store,
    pub urls: Urls,
    pub templates: Templates,
    /// Where every outgoing activity is queued.
    pub outbox: Outbox,
    /// The identity that signs our GETs.
    pub instance: InstanceActor,
    /// The one outbound HTTP client.
    pub http: reqwest::Client,
    /// Serialised actors and WebFinger answers, briefly.
    pub documents: federation::cache::Documents,
}

impl Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

impl AppState {
    /// Builds the state; the instance actor's keys are created on first use.
    pub async fn new(config: Config, store: Store) -> anyhow::Result<Self> {
        let urls = Urls::new(config.base_url.clone());
        let templates = Templates::new()?;
        let instance = InstanceActor::load(&store).await?;
        let http = transport::client(config.allow_private_addresses);
        let outbox = Outbox::new(store.clone(), urls.clone());
        Ok(AppState(Arc::new(StateInner {
            config,
            store,
            urls,
            templates,
            outbox,
            instance,
            http,
            documents: Default::default(),
        })))
    }

    /// Starts this process's delivery workers and the statement scheduler.
    pub fn start_background(&self) -> Background {
        let (shutdown, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(crate::statements::publish::run_scheduler(
            self.clone(),
            stopped.clone(),
        ))];
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
        Background { shutdown, tasks }
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

/// Every route of the server, with logging, body limits and the federation
/// library's middleware (which gives handlers `Data<AppState>`).
pub async fn router(state: AppState) -> anyhow::Result<Router> {
    let federation_config = federation::federation_config(state.clone()).await?;
    let router = Router::new()
        .route("/healthz", get(web::healthz))
        .merge(web::routes())
        .merge(federation::routes(&state.config))
        .nest(
            "/api/v1",
            admin::routes().layer(DefaultBodyLimit::max(state.config.max_admin_body_bytes)),
        )
        .with_state(state)
        .layer(FederationMiddleware::new(federation_config))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_request(())
                .on_response(
                    |res: &axum::response::Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = res.status().as_u16(),
                            ms = latency.as_millis() as u64,
                            "served"
                        );
                    },
                )
                .on_failure(DefaultOnFailure::new().level(Level::ERROR)),
        );
    Ok(router)
}

/// Serves HTTP and runs the delivery workers until Ctrl-C or SIGTERM (or
/// until `stop` resolves), then lets the workers finish what is in flight.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let background = state.start_background();
    let router = router(state).await?;
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop => {}
            }
        })
        .await;
    background.stop().await;
    Ok(served?)
}

/// Runs only the delivery workers (`broadside deliver`), for deployments
/// that send from other machines than they serve from.
pub async fn deliver(state: AppState) -> anyhow::Result<()> {
    let background = state.start_background();
    shutdown_signal().await;
    background.stop().await;
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
