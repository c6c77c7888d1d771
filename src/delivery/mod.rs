//! Everything we send goes through here: an activity is stored with one
//! delivery row per distinct inbox ([`Outbox::send`]), and workers
//! ([`worker`]) sign and POST them, retrying on Mastodon's schedule. Nothing
//! is sent from a request handler, so a slow peer never slows the API, and a
//! restart loses nothing.

pub mod retry;
pub mod worker;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Notify;
use url::Url;

use crate::{
    federation::urls::Urls,
    store::{NewActivity, Store, StoreError, Transition},
};

/// The entry point for sending: stores and queues, then wakes the workers of
/// this process (workers elsewhere find the rows on their next poll).
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    urls: Urls,
    wake: Arc<Notify>,
}

/// An activity ready to queue: its JSON (with its `id`) and what it is about.
pub struct Outgoing {
    pub organisation_id: i64,
    pub kind: &'static str,
    pub statement_id: Option<i64>,
    pub body: Value,
}

impl Outbox {
    pub fn new(store: Store, urls: Urls) -> Self {
        Outbox {
            store,
            urls,
            wake: Arc::new(Notify::new()),
        }
    }

    /// An activity as the store keeps it: its public id (the last segment of
    /// its `/activities/` id) and its JSON text.
    pub fn stored_form(&self, body: &Value) -> (String, String) {
        let id = body["id"]
            .as_str()
            .and_then(|id| Url::parse(id).ok())
            .expect("activities are built with an id");
        let public_id = id
            .path()
            .strip_prefix("/activities/")
            .filter(|_| self.urls.is_local(&id))
            .expect("activity ids come from Urls::activity")
            .to_string();
        (
            public_id,
            serde_json::to_string(body).expect("activities serialise"),
        )
    }

    /// Wakes this process's workers for activities queued by other means
    /// (a transaction that also stored something else).
    pub fn wake(&self) {
        self.wake.notify_one();
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
        let prepared: Vec<(String, String, &Outgoing)> = activities
            .iter()
            .map(|(activity, _)| {
                let (public_id, body) = self.stored_form(&activity.body);
                (public_id, body, activity)
            })
            .collect();
        let batch: Vec<(NewActivity<'_>, &[String])> = prepared
            .iter()
            .zip(&activities)
            .map(|((public_id, body, activity), (_, inboxes))| {
                (
                    NewActivity {
                        public_id,
                        organisation_id: activity.organisation_id,
                        kind: activity.kind,
                        statement_id: activity.statement_id,
                        body,
                    },
                    inboxes.as_slice(),
                )
            })
            .collect();
        let (done, queued) = self.store.enqueue_batch(transition, &batch).await?;
        if done {
            for (activity, inboxes) in &activities {
                tracing::info!(kind = activity.kind, id = %activity.body["id"], inboxes = inboxes.len(), "activity queued");
            }
            self.wake.notify_one();
        }
        Ok((done, queued))
    }
}
