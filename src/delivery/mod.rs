//! Everything we send goes through here: an activity is stored with one
//! delivery row per distinct inbox ([`Outbox::send`]), and workers
//! ([`worker`]) sign and POST them, retrying on Mastodon's schedule. Nothing
//! is sent from a request handler, so a slow peer never slows the API, and a
//! restart loses nothing.
//!
//! Workers may run in any process on the same database. Queuing wakes this
//! process's workers directly and, on PostgreSQL, every other process's
//! through `LISTEN/NOTIFY` ([`forward_announcements`]); a one-second poll
//! covers what a notification misses.

pub mod admission;
pub mod retry;
pub mod worker;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use tokio::sync::{Notify, watch};

use crate::{
    store::{FollowStored, NewActivity, ReceivedFollow, Store, StoreError, Transition},
    vocabulary::Activity,
};

/// The entry point for sending: stores and queues, then wakes the workers of
/// this process (the store notifies the others).
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    wake: Arc<Notify>,
}

/// An activity ready to queue: who sends it and what statement it is about.
pub struct Outgoing {
    pub organisation_id: i64,
    pub statement_id: Option<i64>,
    pub activity: Activity,
}

impl Outgoing {
    /// The exact JSON sent (and stored).
    fn body(&self) -> String {
        serde_json::to_string(self.activity.body()).expect("activities serialise")
    }

    /// The row the store keeps for it, with its serialised `body`.
    fn to_store<'a>(&'a self, body: &'a str) -> NewActivity<'a> {
        NewActivity {
            public_id: self.activity.public_id(),
            organisation_id: self.organisation_id,
            kind: self.activity.kind().as_str(),
            statement_id: self.statement_id,
            body,
        }
    }
}

impl Outbox {
    pub fn new(store: Store) -> Self {
        Outbox {
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// What workers of this process wait on.
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stores `activity` and queues it for each inbox (duplicates collapse).
    /// Returns how many deliveries were queued.
    pub async fn send(&self, activity: Outgoing, inboxes: &[String]) -> Result<usize, StoreError> {
        let (_, queued) = self
            .send_all(None, vec![(activity, inboxes.to_vec())])
            .await?;
        Ok(queued)
    }

    /// Stores several activities, with a statement's change of state, in one
    /// transaction. `false` when the statement was not in a state the
    /// transition starts from: then nothing was queued.
    pub async fn send_all(
        &self,
        transition: Option<Transition>,
        activities: Vec<(Outgoing, Vec<String>)>,
    ) -> Result<(bool, usize), StoreError> {
        let bodies: Vec<String> = activities
            .iter()
            .map(|(outgoing, _)| outgoing.body())
            .collect();
        let batch: Vec<(NewActivity<'_>, &[String])> = activities
            .iter()
            .zip(&bodies)
            .map(|((outgoing, inboxes), body)| (outgoing.to_store(body), inboxes.as_slice()))
            .collect();
        let (done, queued) = self.store.enqueue_batch(transition, &batch).await?;
        if done {
            for (activity, inboxes) in &activities {
                tracing::info!(kind = activity.activity.kind().as_str(), id = %activity.activity.id(), inboxes = inboxes.len(), "activity queued");
            }
            self.wake.notify_one();
        }
        Ok((done, queued))
    }

    /// A Follow received, stored with `accept` queued for `inbox` if the
    /// follow ends up accepted, together (`Store::follow_received`: the
    /// inbox's busiest write has a single round trip of its own).
    pub async fn follow_received(
        &self,
        follow: ReceivedFollow<'_>,
        accept: Activity,
        inbox: &str,
    ) -> Result<FollowStored, StoreError> {
        let accept = Outgoing {
            organisation_id: follow.organisation_id,
            statement_id: None,
            activity: accept,
        };
        let body = accept.body();
        let stored = self
            .store
            .follow_received(follow, &accept.to_store(&body), inbox)
            .await?;
        if let FollowStored::Accepted { queued } = stored {
            let accept = &accept.activity;
            tracing::info!(kind = accept.kind().as_str(), id = %accept.id(), inboxes = queued, "activity queued");
            self.wake.notify_one();
        }
        Ok(stored)
    }
}

/// How often a process with delivery workers says it is alive. Rows it
/// leased are taken back by others once it has been silent for
/// `store::WORKER_GONE_AFTER_MS`: a crash costs seconds, not the lease.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Beats for this process (`claimant`) every [`HEARTBEAT`] until aborted.
/// The first beat is the caller's ([`worker::Worker::run`]), before it
/// claims: a worker must be known alive before it holds anything.
pub async fn heartbeat(store: Store) {
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(err) = store.worker_heartbeat(claimant()).await {
            // Others may take our rows while we are silent: duplicates, never loss.
            tracing::warn!(error = %err, "delivery heartbeat failed");
        }
    }
}

/// This process's name on the leases it takes (`locked_by`): its pid and a
/// random part, since containers all run as pid 1.
pub fn claimant() -> &'static str {
    static CLAIMANT: OnceLock<String> = OnceLock::new();
    CLAIMANT.get_or_init(|| format!("{}-{:08x}", std::process::id(), rand::random::<u32>()))
}

/// Wakes this process's workers whenever any process announces queued
/// deliveries (PostgreSQL); returns at once on SQLite. Reconnects after a
/// lost connection, waking the workers in case something was missed.
pub async fn forward_announcements(
    store: Store,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut listener = match store.listen_for_deliveries().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "listening for queued deliveries failed; polling");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
            }
        };
        loop {
            tokio::select! {
                received = listener.next() => match received {
                    Ok(()) => wake.notify_one(),
                    Err(err) => {
                        tracing::warn!(error = %err, "listening for queued deliveries failed; reconnecting");
                        wake.notify_one();
                        break;
                    }
                },
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}
