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
use tokio::net::TcpListener;
use tower_http::{
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing::Level;

use crate::{
    admin, config::Config, federation, federation::urls::Urls, store::Store, web,
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
}

impl Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, store: Store) -> anyhow::Result<Self> {
        let urls = Urls::new(config.base_url.clone());
        let templates = Templates::new()?;
        Ok(AppState(Arc::new(StateInner {
            config,
            store,
            urls,
            templates,
        })))
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

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let router = router(state).await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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
