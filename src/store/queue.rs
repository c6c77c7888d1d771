//! The delivery queue: workers claim due deliveries with a lease, keep
//! their claims alive with heartbeats, and record each attempt's outcome;
//! the counts and listings of deliveries the admin API and metrics show.
//!
//! Workers claim rows atomically with a lease: on PostgreSQL with `FOR
//! UPDATE SKIP LOCKED` so several processes never take the same row; on
//! SQLite the single writer makes the same UPDATE atomic. A row whose lease
//! expired (its worker died) is claimed again.

use serde::Serialize;
use sqlx::types::Json;

use super::{
    Backend, INSERT_CHUNK, Store, StoreResult, UNAVAILABLE_AFTER_DAYS, UnknownState, now_ms,
    on_pool, on_writer, placeholders,
};

/// Arguments for one command, in `$1, $2, …` order, for either database.
macro_rules! arguments {
    ($kind:ty; $($value:expr),* $(,)?) => {{
        use sqlx::Arguments as _;
        let mut arguments = <$kind>::default();
        $( arguments.add($value).map_err(sqlx::Error::Encode)?; )*
        arguments
    }};
}

/// A delivery a worker has claimed and must finish.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub activity_id: i64,
    pub inbox: String,
    pub host: String,
    /// Including this one.
    pub attempts: i32,
    /// Its activity, when the claim brought it (PostgreSQL, on the first of
    /// each activity's rows in a claim): one round trip fewer for every
    /// activity sent, and each received Follow's Accept is one. Otherwise
    /// the worker has it already or reads it ([`Store::activity_to_send`]).
    #[sqlx(skip)]
    pub activity: Option<ActivityToSend>,
}

/// A row of PostgreSQL's claim: the delivery, and its activity's columns
/// (`body` only on the first row of each activity).
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    #[sqlx(flatten)]
    delivery: ClaimedDelivery,
    organisation_id: i64,
    kind: String,
    body: Option<String>,
}

/// What a worker needs to send an activity: its body and who signs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityToSend {
    pub id: i64,
    pub organisation_id: i64,
    /// Its ActivityStreams type (`Create`, `Accept` …).
    pub kind: String,
    pub body: String,
}

/// How many deliveries are in each state.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DeliveryCounts {
    pub queued: i64,
    /// Of `queued`, those whose earlier attempts failed and that wait for
    /// their next one: every other delivery has had its first try.
    pub retrying: i64,
    pub sending: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// Where a delivery stands; stored as text in `deliveries.state`, and this is the one place that
/// text is mapped.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum DeliveryState {
    /// Due at its `run_at` (its first try, or a retry).
    Queued,
    /// Claimed by a worker, under a lease.
    Sending,
    Delivered,
    /// Given up for good.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for DeliveryState {
    type Error = UnknownState;

    fn try_from(text: String) -> Result<Self, UnknownState> {
        text.parse().map_err(|_| UnknownState)
    }
}

// The claim and the queries of due or queued rows keep `'queued'` and
// `'sending'` as literals in their SQL: PostgreSQL uses its partial indexes
// `deliveries_claim` and `deliveries_host` (`WHERE state IN ('queued',
// 'sending')`) only when it can prove the query's condition implies theirs,
// which a bound parameter does not let it do. They are the texts of
// `DeliveryState::Queued` and `DeliveryState::Sending`.

/// One server's share of a statement's deliveries.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HostDeliveries {
    pub host: String,
    pub waiting: i64,
    pub delivered: i64,
    pub failed: i64,
    pub last_error: Option<String>,
}

/// A delivery process silent this long is gone, and the rows it leased are
/// taken back: four missed heartbeats (`delivery::HEARTBEAT`) and a margin
/// for clocks that differ between machines.
pub const WORKER_GONE_AFTER_MS: i64 = 5_000;

impl Store {
    /// Claims up to `limit` deliveries that are due, or whose lease expired,
    /// for `lease_ms`. Each claim counts as an attempt.
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease_ms: i64,
        claimant: &str,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let now = now_ms();
        // Literals in the condition: the partial index `deliveries_claim`
        // (see `DeliveryState`).
        let claimed = match &self.backend {
            Backend::Postgres(pool) => {
                let rows: Vec<ClaimedRow> = sqlx::query_as(
                    "WITH claimed AS (UPDATE deliveries SET state = $6, attempts = attempts + 1, locked_until = $2, locked_by = $4 \
                     WHERE id IN (SELECT id FROM deliveries \
                       WHERE (state = 'queued' AND run_at <= $1) OR (state = 'sending' AND (locked_until < $1 OR locked_by IS NULL \
                         OR locked_by NOT IN (SELECT claimant FROM delivery_workers WHERE heartbeat_at >= $5))) \
                       ORDER BY run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                     RETURNING id, activity_id, inbox, host, attempts) \
                     SELECT c.id, c.activity_id, c.inbox, c.host, c.attempts, a.organisation_id, a.kind, \
                       CASE WHEN c.id = MIN(c.id) OVER (PARTITION BY c.activity_id) THEN a.body END AS body \
                     FROM claimed c JOIN outbound_activities a ON a.id = c.activity_id",
                )
                .bind(now)
                .bind(now + lease_ms)
                .bind(limit)
                .bind(claimant)
                .bind(now - WORKER_GONE_AFTER_MS)
                .bind(DeliveryState::Sending.as_str())
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        let mut delivery = row.delivery;
                        delivery.activity = row.body.map(|body| ActivityToSend {
                            id: delivery.activity_id,
                            organisation_id: row.organisation_id,
                            kind: row.kind,
                            body,
                        });
                        delivery
                    })
                    .collect()
            }
            Backend::Sqlite { writer, .. } => {
                sqlx::query_as(
                    "UPDATE deliveries SET state = $6, attempts = attempts + 1, locked_until = $2, locked_by = $4 \
                     WHERE id IN (SELECT id FROM deliveries \
                       WHERE (state = 'queued' AND run_at <= $1) OR (state = 'sending' AND (locked_until < $1 OR locked_by IS NULL \
                         OR locked_by NOT IN (SELECT claimant FROM delivery_workers WHERE heartbeat_at >= $5))) \
                        \
                       ORDER BY run_at, id LIMIT $3) \
                     RETURNING id, activity_id, inbox, host, attempts",
                )
                .bind(now)
                .bind(now + lease_ms)
                .bind(limit)
                .bind(claimant)
                .bind(now - WORKER_GONE_AFTER_MS)
                .bind(DeliveryState::Sending.as_str())
                .fetch_all(&mut *writer.lend().await?)
                .await?
            }
        };
        Ok(claimed)
    }

    /// Says this process's workers are alive (and registers them the first
    /// time); forgets processes silent for a day.
    pub async fn worker_heartbeat(&self, claimant: &str) -> StoreResult<()> {
        let now = now_ms();
        on_writer!(self, |pool| {
            async {
                sqlx::query(
                    "INSERT INTO delivery_workers (claimant, started_at, heartbeat_at) VALUES ($1, $2, $2) \
                     ON CONFLICT (claimant) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                )
                .bind(claimant)
                .bind(now)
                .execute(&mut *pool)
                .await?;
                sqlx::query("DELETE FROM delivery_workers WHERE heartbeat_at < $1")
                    .bind(now - 24 * 3600 * 1000)
                    .execute(&mut *pool)
                    .await
                    .map(|_| ())
            }
            .await
        })?;
        Ok(())
    }

    /// This process's workers have stopped: what they still hold (nothing,
    /// after a clean stop) may be taken at once.
    pub async fn worker_gone(&self, claimant: &str) -> StoreResult<()> {
        on_writer!(self, |pool| {
            sqlx::query("DELETE FROM delivery_workers WHERE claimant = $1")
                .bind(claimant)
                .execute(&mut *pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Puts a claimed delivery back without counting the attempt (its host
    /// was busy or its circuit breaker open) — if the claim, attempt
    /// `attempts`, is still ours: a row taken over meanwhile stays with its
    /// new holder.
    pub async fn release_delivery(&self, id: i64, attempts: i32, run_at: i64) -> StoreResult<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE deliveries SET state = $4, attempts = attempts - 1, run_at = $2, \
                 locked_until = NULL WHERE id = $1 AND state = $5 AND attempts = $3",
            )
            .bind(id)
            .bind(run_at)
            .bind(attempts)
            .bind(DeliveryState::Queued.as_str())
            .bind(DeliveryState::Sending.as_str())
            .execute(&mut *pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn activity_to_send(&self, activity_id: i64) -> StoreResult<ActivityToSend> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, organisation_id, kind, body FROM outbound_activities WHERE id = $1",
            )
            .bind(activity_id)
            .fetch_one(&mut *pool)
            .await
        })?)
    }

    /// Records 2xx answers, and clears the failure records of their hosts,
    /// in one transaction and one round trip: the claims and hosts go as
    /// arrays (JSON on SQLite), so the statement's text is the same for any
    /// batch and stays prepared. Workers record every batch they send, and
    /// on SQLite each round trip of a transaction holds the one writer
    /// (benches/README.md).
    pub async fn deliveries_succeeded(&self, done: &[ClaimedDelivery]) -> StoreResult<()> {
        if done.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut hosts: Vec<&str> = done.iter().map(|d| d.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                // Only claims that are still ours: a row whose lease ran out
                // and was claimed again has a higher attempt count.
                let claims = Json(done.iter().map(|d| (d.id, d.attempts)).collect::<Vec<_>>());
                writer
                    .transaction(
                        "UPDATE deliveries SET state = $4, last_error = NULL, \
                         locked_until = NULL, finished_at = $1 \
                         FROM (SELECT value ->> 0 AS id, value ->> 1 AS attempts FROM json_each($2)) AS claim \
                         WHERE deliveries.id = claim.id AND deliveries.attempts = claim.attempts \
                         AND deliveries.state = $5; \
                         DELETE FROM delivery_hosts WHERE host IN (SELECT value FROM json_each($3))",
                        arguments!(sqlx::sqlite::SqliteArguments; now, claims, Json(&hosts),
                            DeliveryState::Delivered.as_str(), DeliveryState::Sending.as_str()),
                    )
                    .await?;
            }
            Backend::Postgres(pool) => {
                let ids: Vec<i64> = done.iter().map(|d| d.id).collect();
                let attempts: Vec<i32> = done.iter().map(|d| d.attempts).collect();
                sqlx::query(
                    "WITH delivered AS (UPDATE deliveries SET state = $5, last_error = NULL, \
                     locked_until = NULL, finished_at = $1 \
                     FROM unnest($2::bigint[], $3::integer[]) AS claim (id, attempts) \
                     WHERE deliveries.id = claim.id AND deliveries.attempts = claim.attempts \
                     AND deliveries.state = $6) \
                     DELETE FROM delivery_hosts WHERE host = ANY($4)",
                )
                .bind(now)
                .bind(&ids)
                .bind(&attempts)
                .bind(&hosts)
                .bind(DeliveryState::Delivered.as_str())
                .bind(DeliveryState::Sending.as_str())
                .execute(pool)
                .await?;
            }
        }
        if !self
            .cache
            .failing_hosts
            .get(&())
            .is_ok_and(|failing| hosts.iter().all(|h| !failing.has_record(h)))
        {
            self.cache.failing_hosts.forget();
        }
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or given up for good
    /// when `retry_at` is `None`. `count_against_host` feeds the host's
    /// unavailability record (network errors and 5xx, not a 4xx about this
    /// one activity).
    pub async fn delivery_failed(
        &self,
        delivery: &ClaimedDelivery,
        status: Option<u16>,
        error: &str,
        retry_at: Option<i64>,
        count_against_host: bool,
    ) -> StoreResult<()> {
        let now = now_ms();
        let error: String = error.chars().take(500).collect();
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                match retry_at {
                    Some(at) => sqlx::query(
                        "UPDATE deliveries SET state = $6, run_at = $2, last_status = $3, \
                         last_error = $4, locked_until = NULL \
                         WHERE id = $1 AND state = $7 AND attempts = $5",
                    )
                    .bind(delivery.id)
                    .bind(at)
                    .bind(status.map(i32::from))
                    .bind(&error)
                    .bind(delivery.attempts)
                    .bind(DeliveryState::Queued.as_str())
                    .bind(DeliveryState::Sending.as_str())
                    .execute(&mut *tx)
                    .await?,
                    None => sqlx::query(
                        "UPDATE deliveries SET state = $6, last_status = $2, last_error = $3, \
                         locked_until = NULL, finished_at = $4 \
                         WHERE id = $1 AND state = $7 AND attempts = $5",
                    )
                    .bind(delivery.id)
                    .bind(status.map(i32::from))
                    .bind(&error)
                    .bind(now)
                    .bind(delivery.attempts)
                    .bind(DeliveryState::Failed.as_str())
                    .bind(DeliveryState::Sending.as_str())
                    .execute(&mut *tx)
                    .await?,
                };
                if count_against_host {
                    // One failure day more when the last one was another day;
                    // unavailable from the seventh.
                    sqlx::query(
                        "INSERT INTO delivery_hosts (host, failure_days, last_failure_day, last_error, updated_at) \
                         VALUES ($1, 1, $2, $3, $4) \
                         ON CONFLICT (host) DO UPDATE SET \
                         failure_days = delivery_hosts.failure_days + \
                           CASE WHEN delivery_hosts.last_failure_day = excluded.last_failure_day THEN 0 ELSE 1 END, \
                         last_failure_day = excluded.last_failure_day, last_error = excluded.last_error, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(&delivery.host)
                    .bind(&today)
                    .bind(&error)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE delivery_hosts SET unavailable_since = $2 \
                         WHERE host = $1 AND failure_days >= $3 AND unavailable_since IS NULL",
                    )
                    .bind(&delivery.host)
                    .bind(now)
                    .bind(UNAVAILABLE_AFTER_DAYS)
                    .execute(&mut *tx)
                    .await?;
                    // Nothing more goes to an unavailable host until it is alive again.
                    // A literal: the partial index `deliveries_host`.
                    sqlx::query(
                        "UPDATE deliveries SET state = $3, last_error = 'host unavailable', \
                         locked_until = NULL, finished_at = $2 \
                         WHERE host = $1 AND state = 'queued' AND EXISTS \
                         (SELECT 1 FROM delivery_hosts h WHERE h.host = $1 AND h.unavailable_since IS NOT NULL)",
                    )
                    .bind(&delivery.host)
                    .bind(now)
                    .bind(DeliveryState::Failed.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            }
            .await
        })?;
        if count_against_host {
            self.cache.failing_hosts.forget();
        }
        Ok(())
    }

    /// How long the oldest delivery that is due has waited, in ms (0 when
    /// none waits).
    pub async fn oldest_due_age_ms(&self, now: i64) -> StoreResult<i64> {
        // A literal: the partial index `deliveries_claim`.
        let oldest: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT MIN(run_at) FROM deliveries WHERE state = 'queued' AND run_at <= $1",
            )
            .bind(now)
            .fetch_one(&mut *pool)
            .await
        })?;
        Ok(oldest.map_or(0, |at| (now - at).max(0)))
    }

    /// Counts per state, over everything or one statement's activities.
    pub async fn delivery_counts(&self, statement_id: Option<i64>) -> StoreResult<DeliveryCounts> {
        let rows: Vec<(String, i64, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT d.state, CAST(CASE WHEN d.attempts > 0 THEN 1 ELSE 0 END AS BIGINT), COUNT(*) \
                 FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                 WHERE $1 IS NULL OR a.statement_id = $1 \
                 GROUP BY d.state, CAST(CASE WHEN d.attempts > 0 THEN 1 ELSE 0 END AS BIGINT)",
            )
            .bind(statement_id)
            .fetch_all(&mut *pool)
            .await
        })?;
        let mut counts = DeliveryCounts::default();
        for (state, retried, n) in rows {
            match state.parse() {
                Ok(DeliveryState::Queued) => {
                    counts.queued += n;
                    if retried == 1 {
                        counts.retrying += n;
                    }
                }
                Ok(DeliveryState::Sending) => counts.sending += n,
                Ok(DeliveryState::Delivered) => counts.delivered += n,
                Ok(DeliveryState::Failed) | Err(_) => counts.failed += n,
            }
        }
        Ok(counts)
    }

    /// A statement's deliveries by server: how many are queued (or being
    /// sent), delivered and failed at each, with the last error seen there.
    /// Servers still waiting or failing come first.
    pub async fn statement_delivery_hosts(
        &self,
        statement_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<HostDeliveries>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT d.host, \
                 SUM(CASE WHEN d.state IN ($3, $4) THEN 1 ELSE 0 END) AS waiting, \
                 SUM(CASE WHEN d.state = $5 THEN 1 ELSE 0 END) AS delivered, \
                 SUM(CASE WHEN d.state NOT IN ($3, $4, $5) THEN 1 ELSE 0 END) AS failed, \
                 MAX(d.last_error) AS last_error \
                 FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                 WHERE a.statement_id = $1 GROUP BY d.host \
                 ORDER BY SUM(CASE WHEN d.state = $5 THEN 0 ELSE 1 END) DESC, d.host LIMIT $2",
            )
            .bind(statement_id)
            .bind(limit)
            .bind(DeliveryState::Queued.as_str())
            .bind(DeliveryState::Sending.as_str())
            .bind(DeliveryState::Delivered.as_str())
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Deliveries in one state, newest first, for the admin API.
    pub async fn deliveries_in_state(
        &self,
        state: DeliveryState,
        statement_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryInfo>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT d.id, a.public_id AS activity, a.kind, d.inbox, d.host, d.state, d.attempts, \
                 d.run_at, d.last_status, d.last_error, d.finished_at FROM deliveries d \
                 JOIN outbound_activities a ON a.id = d.activity_id \
                 WHERE d.state = $1 AND ($2 IS NULL OR a.statement_id = $2) ORDER BY d.id DESC LIMIT $3",
            )
            .bind(state.as_str())
            .bind(statement_id)
            .bind(limit)
            .fetch_all(&mut *pool)
            .await
        })?)
    }
}

/// One activity's delivery to one inbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryInfo {
    pub id: i64,
    /// The activity's id (a URL).
    pub activity: String,
    /// The activity's type: Create, Announce, Update, Delete, Accept, …
    pub kind: String,
    pub inbox: String,
    /// host[:port] of the inbox.
    pub host: String,
    /// queued, sending, delivered or failed.
    #[sqlx(try_from = "String")]
    pub state: DeliveryState,
    pub attempts: i32,
    /// When it is (or was) due, in milliseconds since the epoch.
    pub run_at: i64,
    /// The HTTP status of the last attempt.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// Milliseconds since the epoch.
    pub finished_at: Option<i64>,
}

/// The queue's part of an outbox [`Transition`](super::Transition), on the
/// outbox's transaction. Implemented for both backends' connections.
pub(super) trait QueueWrites {
    /// What has not gone out about a deleted statement yet never will.
    async fn fail_queued_of_statement(&mut self, statement_id: i64, now: i64) -> sqlx::Result<()>;
    /// The hosts with deliveries queued or being sent.
    async fn waiting_hosts(&mut self) -> sqlx::Result<Vec<String>>;
    /// Gives up, for `why`, every delivery queued for or being sent to
    /// `hosts`.
    async fn fail_waiting_for(&mut self, hosts: &[String], why: &str, now: i64)
    -> sqlx::Result<()>;
}

/// [`QueueWrites`] for a backend's connection.
macro_rules! queue_writes {
    ($($connection:ty),*) => {$(
        impl QueueWrites for $connection {
            async fn fail_queued_of_statement(&mut self, statement_id: i64, now: i64) -> sqlx::Result<()> {
                sqlx::query(
                    "UPDATE deliveries SET state = $3, last_error = 'statement deleted', \
                     locked_until = NULL, finished_at = $2 WHERE state = $4 AND activity_id IN \
                     (SELECT id FROM outbound_activities WHERE statement_id = $1)",
                )
                .bind(statement_id)
                .bind(now)
                .bind(DeliveryState::Failed.as_str())
                .bind(DeliveryState::Queued.as_str())
                .execute(&mut *self)
                .await?;
                Ok(())
            }

            async fn waiting_hosts(&mut self) -> sqlx::Result<Vec<String>> {
                // Literals: the partial index `deliveries_host` (above).
                sqlx::query_scalar(
                    "SELECT DISTINCT host FROM deliveries WHERE state IN ('queued', 'sending')",
                )
                .fetch_all(&mut *self)
                .await
            }

            async fn fail_waiting_for(&mut self, hosts: &[String], why: &str, now: i64) -> sqlx::Result<()> {
                for chunk in hosts.chunks(INSERT_CHUNK) {
                    // Literals: the partial index `deliveries_host` (above).
                    let sql = format!(
                        "UPDATE deliveries SET state = $3, last_error = $2, \
                         locked_until = NULL, finished_at = $1 \
                         WHERE state IN ('queued', 'sending') AND host IN ({})",
                        placeholders(4, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(now)
                        .bind(why)
                        .bind(DeliveryState::Failed.as_str());
                    for host in chunk {
                        query = query.bind(host);
                    }
                    query.execute(&mut *self).await?;
                }
                Ok(())
            }
        }
    )*};
}
queue_writes!(sqlx::SqliteConnection, sqlx::PgConnection);
