//! The delivery worker: claims due deliveries from the database, signs each
//! request with the sending organisation's key and POSTs it.
//!
//! - Concurrency is bounded overall (`delivery_concurrency`) and per host
//!   (`delivery_per_host_concurrency`, with a short waiting line and a
//!   circuit breaker: [`super::admission`] decides). Failures on 7 distinct
//!   days make a host unavailable (the store keeps that record).
//! - Results are written in batches by one recorder task: a fan-out to a
//!   thousand inboxes costs a few transactions, not a thousand. A success is
//!   logged only once it is written, and successes waiting for their write
//!   take a slot of `delivery_concurrency` like requests in flight: after a
//!   crash, at most that many deliveries are sent again.
//! - A process that dies leaves its leases to the others (or to itself,
//!   restarted) as soon as its heartbeat stops (`super::heartbeat`).
//! - Several workers, in one process or many, share the queue safely: claims
//!   are atomic and leased (see `store::queue`).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use tokio::{
    sync::{Notify, mpsc, watch},
    task::JoinSet,
};
use url::Url;

use super::{
    admission::{Admission, Finished, Hosts},
    retry::{Verdict, classify, retry_delay},
};
use crate::{
    config::Config,
    keys::Signer,
    ops::metrics,
    store::{ActivityToSend, ClaimedDelivery, Store, StoreError, now_ms},
    transport::{self, message_signatures, signatures},
    urls::Urls,
    vocabulary::Kind,
};

/// How many claimed deliveries may wait for one host: as many rounds of
/// its slots as fit in the lease after one full request timeout each, so
/// a waiting delivery is sent (or fails) before anyone else may claim it.
fn waiting_capacity(settings: &WorkerSettings) -> usize {
    let rounds = settings.lease.as_secs() / transport::REQUEST_TIMEOUT.as_secs();
    settings.per_host * (rounds.saturating_sub(1) as usize)
}

/// A claimed delivery going back to the queue unattempted, due `after`.
fn release(delivery: &ClaimedDelivery, after: Duration) -> Outcome {
    Outcome::Release {
        id: delivery.id,
        attempts: delivery.attempts,
        run_at: now_ms() + after.as_millis() as i64,
    }
}

/// Most rows claimed in one query.
const CLAIM_BATCH: usize = 128;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub per_host: usize,
    pub max_attempts: u32,
    pub lease: Duration,
    pub retry_unit: Duration,
    /// How often an idle worker looks for due rows nobody announced
    /// (retries, expired leases, a missed notification).
    pub poll_interval: Duration,
    pub allow_private_addresses: bool,
    /// Knock with RFC 9421 first (`delivery_rfc9421_first`).
    pub rfc9421_first: bool,
}

impl WorkerSettings {
    pub fn from_config(config: &Config) -> Self {
        WorkerSettings {
            concurrency: config.delivery_concurrency,
            per_host: config.delivery_per_host_concurrency,
            max_attempts: config.delivery_max_attempts,
            lease: Duration::from_secs(config.delivery_lease_seconds),
            retry_unit: Duration::from_millis(config.delivery_retry_unit_ms),
            poll_interval: Duration::from_millis(config.delivery_poll_interval_ms),
            allow_private_addresses: config.allow_private_addresses,
            rfc9421_first: config.delivery_rfc9421_first,
        }
    }
}

/// An activity as it goes on the wire, prepared once for all its inboxes.
struct Prepared {
    organisation_id: i64,
    body: Bytes,
    digest: String,
    /// An Accept or Reject: the answer to one server that is talking to us
    /// now (it sent a Follow; we fetched its actor a moment ago).
    answer: bool,
}

/// How a delivery's request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Cavage,
    MessageSignature,
}

/// How long a server's answer to RFC 9421 is remembered.
const STYLE_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);

/// An organisation's parsed key and key id, kept across deliveries.
struct KeyedSigner {
    signer: Signer,
    key_id: String,
}

enum Outcome {
    Delivered {
        delivery: ClaimedDelivery,
        status: u16,
        ms: u64,
    },
    Failed {
        delivery: ClaimedDelivery,
        status: Option<u16>,
        error: String,
        verdict: Verdict,
    },
    /// Not attempted (busy host, open breaker): back to the queue.
    Release { id: i64, attempts: i32, run_at: i64 },
}

pub struct Worker {
    store: Store,
    urls: Urls,
    client: reqwest::Client,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    slot_freed: Notify,
    in_flight: AtomicUsize,
    /// Successes sent to the recorder and not yet written.
    unrecorded: AtomicUsize,
    hosts: Mutex<Hosts<ClaimedDelivery>>,
    prepared: Mutex<HashMap<i64, Arc<Prepared>>>,
    signers: Mutex<HashMap<i64, Arc<KeyedSigner>>>,
    /// Per server, the signature style it took last (only with
    /// `rfc9421_first`): bounded, and forgotten after a week.
    styles: moka::future::Cache<String, Style>,
}

impl Worker {
    pub fn new(
        store: Store,
        urls: Urls,
        client: reqwest::Client,
        settings: WorkerSettings,
        wake: Arc<Notify>,
    ) -> Arc<Self> {
        let hosts = Mutex::new(Hosts::new(settings.per_host, waiting_capacity(&settings)));
        Arc::new(Worker {
            store,
            urls,
            client,
            settings,
            wake,
            slot_freed: Notify::new(),
            in_flight: AtomicUsize::new(0),
            unrecorded: AtomicUsize::new(0),
            hosts,
            prepared: Mutex::new(HashMap::new()),
            signers: Mutex::new(HashMap::new()),
            styles: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(STYLE_MEMORY)
                .build(),
        })
    }

    /// Runs until `shutdown` turns true, then waits (up to 30 s) for the
    /// requests in flight. Unfinished claims return to the queue when their
    /// lease expires.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        // Known alive before holding anything, and for as long as this runs
        // (the beat stops with it, also when the process dies).
        while let Err(err) = self.store.worker_heartbeat(super::claimant()).await {
            tracing::error!(error = %err, "registering the delivery worker failed");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            }
        }
        let mut heartbeat = JoinSet::new();
        heartbeat.spawn(super::heartbeat(self.store.clone()));
        let (outcomes, receiver) = mpsc::unbounded_channel();
        // Owned here: if this future is dropped (the process is going down
        // hard), the requests in flight and the recorder go with it, and the
        // leases bring their deliveries back.
        let mut recorder = JoinSet::new();
        recorder.spawn(self.clone().record(receiver));
        let mut sending = JoinSet::new();
        loop {
            while sending.try_join_next().is_some() {}
            if *shutdown.borrow() {
                break;
            }
            let busy = self.in_flight.load(Ordering::Acquire)
                + self.unrecorded.load(Ordering::Acquire)
                + self.hosts.lock().expect("hosts lock").waiting();
            let free = self.settings.concurrency.saturating_sub(busy);
            if free == 0 {
                tokio::select! {
                    _ = self.slot_freed.notified() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let lease_ms = self.settings.lease.as_millis() as i64;
            let claimed = match self
                .store
                .claim_deliveries(free.min(CLAIM_BATCH) as i64, lease_ms, super::claimant())
                .await
            {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::error!(error = %err, "claiming deliveries failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for delivery in claimed {
                let host = delivery.host.clone();
                let admission =
                    self.hosts
                        .lock()
                        .expect("hosts lock")
                        .admit(&host, delivery, Instant::now());
                match admission {
                    Admission::Send(delivery) => {
                        self.spawn_send(&mut sending, delivery, outcomes.clone())
                    }
                    Admission::Wait => {}
                    Admission::Release(delivery, after) => {
                        let _ = outcomes.send(release(&delivery, after));
                    }
                }
            }
        }
        // Deliveries still waiting for a host go back to the queue now.
        let waiting = self.hosts.lock().expect("hosts lock").drain_waiting();
        for delivery in waiting {
            let _ = outcomes.send(release(&delivery, Duration::ZERO));
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while sending.join_next().await.is_some() {}
        })
        .await;
        drop(outcomes);
        while recorder.join_next().await.is_some() {}
        // Nothing is held any more: others need not wait for our silence.
        heartbeat.abort_all();
        if let Err(err) = self.store.worker_gone(super::claimant()).await {
            tracing::warn!(error = %err, "could not say the delivery worker stopped");
        }
    }

    /// Sends `delivery`, then whatever waits for the same host, in one task.
    fn spawn_send(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        delivery: ClaimedDelivery,
        outcomes: mpsc::UnboundedSender<Outcome>,
    ) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let worker = self.clone();
        tasks.spawn(async move {
            let mut next = Some(delivery);
            while let Some(delivery) = next.take() {
                let host = delivery.host.clone();
                let outcome = worker.deliver(delivery).await;
                next = worker.finish(&host, &outcome, &outcomes);
                if matches!(outcome, Outcome::Delivered { .. }) {
                    worker.unrecorded.fetch_add(1, Ordering::AcqRel);
                }
                let _ = outcomes.send(outcome);
            }
            worker.in_flight.fetch_sub(1, Ordering::AcqRel);
            worker.slot_freed.notify_one();
        });
    }

    /// Frees the host's slot, feeds its circuit breaker, returns what
    /// waited for a host now paused to the queue, and hands back the next
    /// delivery waiting for the host (which takes the slot over).
    fn finish(
        &self,
        host: &str,
        outcome: &Outcome,
        outcomes: &mpsc::UnboundedSender<Outcome>,
    ) -> Option<ClaimedDelivery> {
        let finished = match outcome {
            Outcome::Delivered { .. } => Finished::Delivered,
            Outcome::Failed {
                verdict: Verdict::Retry,
                ..
            } => Finished::Failed,
            _ => Finished::Refused,
        };
        let after = self
            .hosts
            .lock()
            .expect("hosts lock")
            .finish(host, finished, Instant::now());
        for waiting in &after.released {
            let _ = outcomes.send(release(waiting, after.pause));
        }
        after.next
    }

    async fn deliver(&self, mut delivery: ClaimedDelivery) -> Outcome {
        let started = Instant::now();
        let carried = delivery.activity.take();
        let result = self.try_deliver(&delivery, carried).await;
        let elapsed = started.elapsed();
        let outcome = self.outcome(delivery, result, elapsed);
        metrics::delivery_finished(
            match &outcome {
                Outcome::Delivered { .. } => "delivered",
                Outcome::Failed {
                    delivery, verdict, ..
                } if *verdict == Verdict::Retry
                    && (delivery.attempts as u32) < self.settings.max_attempts =>
                {
                    "retry"
                }
                _ => "failed",
            },
            elapsed,
        );
        outcome
    }

    /// What a request's result means for its delivery, logged once.
    fn outcome(
        &self,
        delivery: ClaimedDelivery,
        result: Result<u16, DeliverError>,
        elapsed: Duration,
    ) -> Outcome {
        let ms = elapsed.as_millis() as u64;
        match result {
            Ok(status) => match classify(Some(status)) {
                // Logged by the recorder, once it is written.
                Verdict::Delivered => Outcome::Delivered {
                    delivery,
                    status,
                    ms,
                },
                verdict => {
                    tracing::warn!(inbox = %delivery.inbox, status, ms, attempt = delivery.attempts, "delivery refused");
                    Outcome::Failed {
                        delivery,
                        status: Some(status),
                        error: format!("HTTP {status}"),
                        verdict,
                    }
                }
            },
            Err(DeliverError::Permanent(error)) => {
                tracing::warn!(inbox = %delivery.inbox, error, "delivery impossible");
                Outcome::Failed {
                    delivery,
                    status: None,
                    error,
                    verdict: Verdict::Permanent,
                }
            }
            Err(DeliverError::Network(error)) => {
                tracing::warn!(inbox = %delivery.inbox, error, ms, attempt = delivery.attempts, "delivery failed");
                Outcome::Failed {
                    delivery,
                    status: None,
                    error,
                    verdict: Verdict::Retry,
                }
            }
        }
    }

    async fn try_deliver(
        &self,
        delivery: &ClaimedDelivery,
        carried: Option<ActivityToSend>,
    ) -> Result<u16, DeliverError> {
        // Checked at each send (the store's copy is at most
        // `store::cache::MAX_AGE` old), so a delivery claimed before a block
        // went in is not sent after it.
        let blocks = self.store.block_list().await.map_err(DeliverError::store)?;
        if blocks.blocks(&delivery.host) {
            return Err(DeliverError::Permanent("domain blocked".into()));
        }
        let activity = self.prepared(delivery.activity_id, carried).await?;
        let signer = self.signer(activity.organisation_id).await?;
        let url = Url::parse(&delivery.inbox)
            .map_err(|e| DeliverError::Permanent(format!("bad inbox URL: {e}")))?;
        transport::check_url(&url, self.settings.allow_private_addresses)
            .map_err(|e| DeliverError::Permanent(e.to_string()))?;
        // Double knocking: RFC 9421 first unless this server refused it
        // lately; a refusal of the signature gets draft-cavage at once.
        let knock = self.settings.rfc9421_first
            && self.styles.get(&delivery.host).await != Some(Style::Cavage);
        if knock {
            let status = self
                .post(&url, &activity, &signer, Style::MessageSignature, true)
                .await?;
            if !matches!(status, 400 | 401 | 403) {
                if (200..300).contains(&status) {
                    self.styles
                        .insert(delivery.host.clone(), Style::MessageSignature)
                        .await;
                }
                return Ok(status);
            }
        }
        // What an organisation publishes goes to every follower's server
        // once. An idle connection costs about 29 kB, so keeping each one
        // open after its request would cost memory in proportion to the
        // servers a statement reaches (a thousand: 29 MB), not to the
        // requests in flight: it stays open only while more waits
        // for its server. An answer (Accept, Reject) goes to a server that
        // is talking to us now and is likely to again: its connection stays.
        let keep_alive = activity.answer
            || !self
                .hosts
                .lock()
                .expect("hosts lock")
                .last_for_host(&delivery.host);
        let status = self
            .post(&url, &activity, &signer, Style::Cavage, keep_alive)
            .await?;
        if knock && (200..300).contains(&status) {
            self.styles
                .insert(delivery.host.clone(), Style::Cavage)
                .await;
        }
        Ok(status)
    }

    /// One signed POST of `activity` to `url`; its status.
    async fn post(
        &self,
        url: &Url,
        activity: &Prepared,
        signer: &KeyedSigner,
        style: Style,
        keep_alive: bool,
    ) -> Result<u16, DeliverError> {
        let now = SystemTime::now();
        let headers = match style {
            Style::Cavage => {
                signatures::sign_post(&signer.signer, &signer.key_id, url, &activity.digest, now)
            }
            Style::MessageSignature => message_signatures::sign_post(
                &signer.signer,
                &signer.key_id,
                url,
                &activity.body,
                now,
            ),
        }
        .map_err(|e| DeliverError::Permanent(e.to_string()))?;
        let mut request = self
            .client
            .post(url.clone())
            .header("Content-Type", "application/activity+json")
            .header("Accept", "application/activity+json")
            .body(activity.body.clone());
        if !keep_alive {
            request = request.header("Connection", "close");
        }
        for (name, value) in headers {
            if name != "Host" {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.map_err(|e| {
            if refused_address(&e) {
                DeliverError::Permanent(format!(
                    "refused: not a public address ({})",
                    error_chain(&e)
                ))
            } else {
                DeliverError::Network(error_chain(&e))
            }
        })?;
        Ok(response.status().as_u16())
    }

    /// The activity ready to send: from the cache, else from what the
    /// claim `carried`, else read.
    async fn prepared(
        &self,
        activity_id: i64,
        carried: Option<ActivityToSend>,
    ) -> Result<Arc<Prepared>, DeliverError> {
        if let Some(found) = self.prepared.lock().expect("cache lock").get(&activity_id) {
            return Ok(found.clone());
        }
        let activity = match carried {
            Some(activity) => activity,
            None => self
                .store
                .activity_to_send(activity_id)
                .await
                .map_err(DeliverError::store)?,
        };
        let digest = signatures::digest_header(activity.body.as_bytes());
        let prepared = Arc::new(Prepared {
            answer: [Kind::Accept, Kind::Reject]
                .iter()
                .any(|kind| kind.as_str() == activity.kind),
            organisation_id: activity.organisation_id,
            body: Bytes::from(activity.body),
            digest,
        });
        let mut cache = self.prepared.lock().expect("cache lock");
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(activity_id, prepared.clone());
        Ok(prepared)
    }

    async fn signer(&self, organisation_id: i64) -> Result<Arc<KeyedSigner>, DeliverError> {
        if let Some(found) = self
            .signers
            .lock()
            .expect("signer lock")
            .get(&organisation_id)
        {
            return Ok(found.clone());
        }
        let (handle, key) = self
            .store
            .organisation_key(organisation_id)
            .await
            .map_err(DeliverError::store)?;
        let signer = key
            .signer()
            .map_err(|e| DeliverError::Permanent(e.to_string()))?;
        let keyed = Arc::new(KeyedSigner {
            signer,
            key_id: self.urls.key_id(&self.urls.organisation(&handle)),
        });
        self.signers
            .lock()
            .expect("signer lock")
            .insert(organisation_id, keyed.clone());
        Ok(keyed)
    }
}

enum DeliverError {
    /// Nothing will make this delivery possible.
    Permanent(String),
    /// No answer: connection refused, timeout, TLS failure…
    Network(String),
}

impl DeliverError {
    fn store(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => {
                DeliverError::Permanent("activity or sender no longer exists".into())
            }
            other => DeliverError::Network(format!("database: {other}")),
        }
    }
}

/// Whether the client's resolver refused the inbox's address as private:
/// no retry will change that.
fn refused_address(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(inner) = source {
        if inner
            .downcast_ref::<transport::addresses::RefusedAddress>()
            .is_some()
        {
            return true;
        }
        source = inner.source();
    }
    false
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

impl Worker {
    /// Writes outcomes to the database: successes in batches (whatever
    /// arrived while the last write ran, up to 256), failures one by one.
    async fn record(self: Arc<Self>, mut outcomes: mpsc::UnboundedReceiver<Outcome>) {
        let (store, settings) = (&self.store, &self.settings);
        let mut batch = Vec::with_capacity(256);
        while outcomes.recv_many(&mut batch, 256).await > 0 {
            let mut delivered = Vec::new();
            let mut logged = Vec::new();
            for outcome in batch.drain(..) {
                match outcome {
                    Outcome::Delivered {
                        delivery,
                        status,
                        ms,
                    } => {
                        logged.push((status, ms));
                        delivered.push(delivery);
                    }
                    Outcome::Release {
                        id,
                        attempts,
                        run_at,
                    } => {
                        if let Err(err) = store.release_delivery(id, attempts, run_at).await {
                            tracing::error!(error = %err, "returning a delivery to the queue failed");
                        }
                    }
                    Outcome::Failed {
                        delivery,
                        status,
                        error,
                        verdict,
                    } => {
                        let retry_at = (verdict == Verdict::Retry
                            && (delivery.attempts as u32) < settings.max_attempts)
                            .then(|| {
                                now_ms()
                                    + retry_delay(delivery.attempts as u32, settings.retry_unit)
                                        .as_millis() as i64
                            });
                        let count_against_host = verdict == Verdict::Retry;
                        if let Err(err) = store
                            .delivery_failed(
                                &delivery,
                                status,
                                &error,
                                retry_at,
                                count_against_host,
                            )
                            .await
                        {
                            tracing::error!(error = %err, "recording a failed delivery failed");
                        }
                        if retry_at.is_none() {
                            tracing::warn!(inbox = %delivery.inbox, attempts = delivery.attempts, error, "delivery given up");
                        }
                    }
                }
            }
            match store.deliveries_succeeded(&delivered).await {
                Ok(()) => {
                    for (delivery, (status, ms)) in delivered.iter().zip(logged) {
                        tracing::info!(inbox = %delivery.inbox, status, ms, attempt = delivery.attempts, "delivered");
                    }
                }
                Err(err) => tracing::error!(
                    error = %err,
                    deliveries = delivered.len(),
                    "recording deliveries failed; their leases will expire and they will be resent"
                ),
            }
            if !delivered.is_empty() {
                self.unrecorded.fetch_sub(delivered.len(), Ordering::AcqRel);
                self.slot_freed.notify_one();
            }
        }
    }
}
