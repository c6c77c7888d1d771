//! The health of the servers we deliver to (failure days, unavailable
//! hosts) and the announcements that wake other processes' workers when
//! deliveries are queued.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use super::{Backend, Store, StoreResult, cache::FailingHosts, on_pool, on_writer};
use crate::domains::BlockList;

/// A server our deliveries fail to reach.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailingHost {
    /// host[:port]
    pub host: String,
    /// On how many distinct days deliveries failed without a success in
    /// between (7 make it unavailable).
    pub failure_days: i32,
    pub last_error: Option<String>,
    /// Milliseconds since the epoch; while set, nothing is sent to it.
    pub unavailable_since: Option<i64>,
}

/// Failures on this many distinct days, without a success in between, make a
/// host unavailable (Mastodon's `DeliveryFailureTracker`).
pub const UNAVAILABLE_AFTER_DAYS: i32 = 7;

/// The PostgreSQL channel on which queued deliveries are announced.
const DELIVERIES_CHANNEL: &str = "broadside_deliveries";

/// How many announcements were asked for ([`Store::announce_deliveries`])
/// since the notification being sent was begun; 0 when none is being sent.
#[derive(Debug, Default)]
pub(crate) struct Announcements {
    asked: AtomicUsize,
}

/// Announcements of queued deliveries (PostgreSQL `LISTEN`).
pub struct DeliveryListener {
    listener: sqlx::postgres::PgListener,
}

impl DeliveryListener {
    /// Waits for the next announcement. After a lost connection it
    /// reconnects and returns at once: announcements may have been missed.
    pub async fn next(&mut self) -> StoreResult<()> {
        self.listener.try_recv().await?;
        Ok(())
    }
}

/// The host part of an inbox URL as the queue keys it: `host[:port]`.
pub fn inbox_host(inbox: &str) -> Option<String> {
    let url = url::Url::parse(inbox).ok()?;
    Some(crate::domains::host_and_port(&url))
}

impl Store {
    /// Clears a host's failure record: it sent us a validly signed request,
    /// so it is alive (Mastodon does the same in `inboxes_controller.rb`).
    /// Most requests come from healthy hosts: those cost no query.
    pub async fn host_is_alive(&self, host: &str) -> StoreResult<()> {
        let host = host.to_ascii_lowercase();
        if !self.hosts_with_failures().await?.has_record(&host) {
            return Ok(());
        }
        on_writer!(self, |pool| {
            sqlx::query("DELETE FROM delivery_hosts WHERE host = $1")
                .bind(&host)
                .execute(&mut *pool)
                .await
                .map(|_| ())
        })?;
        self.cache.failing_hosts.forget();
        Ok(())
    }

    /// The hosts with a failure record: this process's copy, at most
    /// `cache::MAX_AGE` old.
    async fn hosts_with_failures(&self) -> StoreResult<Arc<FailingHosts>> {
        self.cache
            .failing_hosts
            .get_or_read((), async {
                let rows: Vec<(String, bool)> = on_pool!(self, |pool| {
                    sqlx::query_as("SELECT host, unavailable_since IS NOT NULL FROM delivery_hosts")
                        .fetch_all(&mut *pool)
                        .await
                })?;
                Ok(Arc::new(FailingHosts::new(rows)))
            })
            .await
    }

    /// Unavailable hosts (exactly) and blocked domains (with their
    /// subdomains): nothing is queued for them.
    pub(super) async fn hosts_not_to_deliver_to(
        &self,
    ) -> StoreResult<(Arc<FailingHosts>, Arc<BlockList>)> {
        Ok((self.hosts_with_failures().await?, self.block_list().await?))
    }

    /// Tells workers in every process that deliveries were queued
    /// (PostgreSQL `NOTIFY`; SQLite has one process, whose workers the
    /// outbox wakes directly). Called once the queuing is committed; it
    /// does not wait for the notification, and a lost one costs one poll
    /// interval.
    ///
    /// Not a NOTIFY inside the queuing statement: PostgreSQL makes a
    /// committing transaction that notifies hold a lock, shared by the
    /// whole server, until its commit is flushed, so queuing connections
    /// would commit one at a time. The Follow's statement ran at
    /// 1,560–1,590/s with its own NOTIFY and at 2,700–3,000/s without
    /// (pgbench, 32 clients). Here a process sends one
    /// NOTIFY at a time, and it covers everything committed before it
    /// began: under load, one notification for many queuings.
    pub(crate) fn announce_deliveries(&self) {
        let Backend::Postgres(pool) = &self.backend else {
            return;
        };
        if self.announcements.asked.fetch_add(1, Ordering::AcqRel) > 0 {
            // A notification is being sent; it will be sent again.
            return;
        }
        let (pool, announcements) = (pool.clone(), self.announcements.clone());
        tokio::spawn(async move {
            loop {
                let covered = announcements.asked.load(Ordering::Acquire);
                if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
                    .bind(DELIVERIES_CHANNEL)
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %err, "notifying workers failed; they will poll");
                }
                // Asked again while it was sent: those queuings may have
                // committed after it, so once more.
                if announcements
                    .asked
                    .compare_exchange(covered, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
            }
        });
    }

    /// A subscription to [`Self::announce_deliveries`] from any process, or
    /// `None` on SQLite.
    pub async fn listen_for_deliveries(&self) -> StoreResult<Option<DeliveryListener>> {
        match &self.backend {
            Backend::Sqlite { .. } => Ok(None),
            Backend::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(DELIVERIES_CHANNEL).await?;
                Ok(Some(DeliveryListener { listener }))
            }
        }
    }

    /// Hosts with failures on record, the worst first.
    pub async fn failing_hosts(&self, limit: i64) -> StoreResult<Vec<FailingHost>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT host, failure_days, last_error, unavailable_since FROM delivery_hosts \
                 ORDER BY failure_days DESC, host LIMIT $1",
            )
            .bind(limit)
            .fetch_all(&mut *pool)
            .await
        })?)
    }
}
