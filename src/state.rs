//! What every HTTP handler can reach: [`AppState`], built once per process
//! from the configuration and the store. It holds the services and caches
//! below HTTP and knows nothing of routes (`app` wires those).

use std::{ops::Deref, sync::Arc};

use crate::{
    config::Config,
    delivery::Outbox,
    documents::Documents,
    instance::InstanceActor,
    limits::{Limits, Rates},
    services::Services,
    store::Store,
    templates::Templates,
    transport,
    urls::Urls,
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
    /// What handlers call to change anything.
    pub services: Services,
    /// The identity that signs our GETs.
    pub instance: InstanceActor,
    /// The one outbound HTTP client.
    pub http: reqwest::Client,
    /// Serialised actors and WebFinger answers, briefly.
    pub documents: Documents,
    /// How much work other servers and clients may ask of us.
    pub limits: Limits,
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
        let templates = Templates::default();
        let instance = InstanceActor::load(&store).await?;
        let http = transport::client(config.allow_private_addresses);
        let outbox = Outbox::new(store.clone());
        let documents = Documents::default();
        let limits = Limits::new(Rates {
            inbox_per_client: config.rate_limit_inbox_per_client,
            inbox_per_server: config.rate_limit_inbox_per_server,
            fetches_per_server: config.rate_limit_fetches_per_server,
        });
        let services = Services {
            store: store.clone(),
            outbox: outbox.clone(),
            urls: urls.clone(),
            documents: documents.clone(),
            disclaimer: config.disclaimer.clone(),
            approve_replies: config.approve_replies,
            files: crate::media::Files::from_config(&config)?,
            media_unused_hours: config.media_unused_hours,
        };
        Ok(AppState(Arc::new(StateInner {
            config,
            store,
            urls,
            templates,
            outbox,
            services,
            instance,
            http,
            documents,
            limits,
        })))
    }
}
