//! Outbound activities and the durable delivery queue.
//!
//! An activity is stored once with the exact JSON we send; each target inbox
//! gets a `deliveries` row. Workers claim rows atomically with a lease: on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED` so several processes never take
//! the same row; on SQLite the single writer makes the same UPDATE atomic. A
//! row whose lease expired (its worker died) is claimed again.

use serde::Serialize;
use sqlx::types::Json;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicI64, AtomicUsize, Ordering},
    },
};

use super::{Backend, Store, StoreResult, cache::FailingHosts, now_ms, on_pool, on_writer};
use crate::{
    domains::BlockList,
    organisations::Profile,
    statements::{Change, State, ValidContent},
};

/// A Follow received, to store with the Accept that answers it
/// ([`Store::follow_received`]).
#[derive(Debug, Clone, Copy)]
pub struct ReceivedFollow<'a> {
    /// The Follow's id: recorded, so the same Follow again changes nothing.
    pub activity_id: &'a str,
    pub organisation_id: i64,
    pub actor_id: i64,
    /// Accepted at once; otherwise a request waits for the editor (unless
    /// this follower was accepted before).
    pub accept_now: bool,
}

/// What became of a received Follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowStored {
    /// Its id was seen before: nothing changed.
    Replayed,
    /// A request waiting for the editor.
    Pending,
    /// Accepted, its Accept queued for `queued` inboxes (none when the
    /// follower's server is marked unavailable).
    Accepted { queued: usize },
}

/// Arguments for one command, in `$1, $2, …` order, for either database.
macro_rules! arguments {
    ($kind:ty; $($value:expr),* $(,)?) => {{
        use sqlx::Arguments as _;
        let mut arguments = <$kind>::default();
        $( arguments.add($value).map_err(sqlx::Error::Encode)?; )*
        arguments
    }};
}

/// An activity to store and deliver.
pub struct NewActivity<'a> {
    pub public_id: &'a str,
    pub organisation_id: i64,
    pub kind: &'a str,
    pub statement_id: Option<i64>,
    pub body: &'a str,
}

/// A change to a statement that must commit together with queuing the
/// activities announcing it, or not at all.
#[derive(Debug, Clone)]
pub enum Transition {
    /// draft or scheduled → published, at `at` (ms): the `published` date the
    /// activities carry.
    Publish { statement_id: i64, at: i64 },
    /// New content at `at` (ms, the edit date an Update carries), and for a
    /// draft or scheduled statement perhaps a new `publish_at` (`Some(None)`:
    /// back to draft). Applies only while the statement is still in
    /// `expected`, the state the change was decided on.
    Edit {
        statement_id: i64,
        expected: State,
        content: Box<ValidContent>,
        publish_at: Option<Option<i64>>,
        at: i64,
    },
    /// published → deleted
    Delete { statement_id: i64 },
    /// A signatory added at the end of the list at `at` (ms), while the
    /// statement is still in `expected`. On a published statement it
    /// counts as an edit: its Update must carry a later `updated` for
    /// Mastodon to apply it.
    AddSignatory {
        statement_id: i64,
        expected: State,
        organisation_id: i64,
        at: i64,
    },
    /// A quote of a statement accepted: the quote stored (its
    /// authorisation `public_id` then answers) with our Accept. Nothing if
    /// the same post already quotes the statement.
    AcceptQuote {
        public_id: String,
        statement_id: i64,
        actor_id: i64,
        request_id: String,
        object_id: String,
        url: Option<String>,
        content: String,
    },
    /// An accepted quote revoked: its authorisation answers 410 from then
    /// on, and the Delete of it goes out.
    RevokeQuote { quote_id: i64 },
    /// A pending follow request approved.
    ApproveFollow {
        organisation_id: i64,
        follower_id: i64,
    },
    /// A new profile for a live organisation, at `at` (ms: the `updated`
    /// its Update carries).
    UpdateOrganisation {
        organisation_id: i64,
        profile: Box<Profile>,
        at: i64,
    },
    /// A live organisation deleted (its row stays: the handle is never
    /// given out again).
    DeleteOrganisation { organisation_id: i64 },
    /// A follow in `state` ended by us (a rejected request, a removed
    /// follower).
    EndFollow {
        organisation_id: i64,
        follower_id: i64,
        state: &'static str,
    },
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

/// Every state a delivery row can be in.
pub const DELIVERY_STATES: [&str; 4] = ["queued", "sending", "delivered", "failed"];

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
/// One server's share of a statement's deliveries.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HostDeliveries {
    pub host: String,
    pub waiting: i64,
    pub delivered: i64,
    pub failed: i64,
    pub last_error: Option<String>,
}

pub fn inbox_host(inbox: &str) -> Option<String> {
    let url = url::Url::parse(inbox).ok()?;
    Some(crate::domains::host_and_port(&url))
}

/// Inserts an activity and one delivery row per `(inbox, host)` target
/// inside a transaction. Only [`Store::enqueue_batch`] uses it: queuing has
/// one way in, besides the Accept of a received Follow, which
/// [`Store::follow_received`] writes in a command of its own.
///
/// The activity and its first [`INSERT_CHUNK`] deliveries go in one round
/// trip (on SQLite two statements in one command, on PostgreSQL one
/// statement with the activity's insert as a CTE): each round trip holds
/// SQLite's one writer for a hop to its thread and back (README
/// "Benchmarks").
macro_rules! insert_activity {
    ($tx:expr, $sqlite:expr, $activity:expr, $targets:expr, $now:expr) => {{
        let activity: &NewActivity<'_> = $activity;
        let targets: &[(String, String)] = $targets;
        let mut chunks = targets.chunks($crate::store::deliveries::INSERT_CHUNK);
        let first = chunks.next().unwrap_or_default();
        let sql = $crate::store::deliveries::activity_insert_sql($sqlite, first.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(activity.public_id)
            .bind(activity.organisation_id)
            .bind(activity.kind)
            .bind(activity.statement_id)
            .bind(activity.body)
            .bind($now);
        for (inbox, host) in first {
            query = query.bind(inbox).bind(host);
        }
        query.execute(&mut *$tx).await?;
        for chunk in chunks {
            let sql = $crate::store::deliveries::deliveries_insert_sql(2, 3, chunk.len());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(activity.public_id)
                .bind($now);
            for (inbox, host) in chunk {
                query = query.bind(inbox).bind(host);
            }
            query.execute(&mut *$tx).await?;
        }
    }};
}

/// `($first, $first+1), ($first+2, $first+3), …` for `n` pairs.
pub(crate) fn value_pairs(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// Deliveries of the activity whose public id is $1: `n` `(inbox, host)`
/// pairs from `$first` on, due at `$now`.
pub(crate) fn deliveries_insert_sql(now: usize, first: usize, n: usize) -> String {
    format!(
        "WITH v (inbox, host) AS (VALUES {}) \
         INSERT INTO deliveries (activity_id, inbox, host, run_at, created_at) \
         SELECT (SELECT id FROM outbound_activities WHERE public_id = $1), v.inbox, v.host, ${now}, ${now} \
         FROM v WHERE true ON CONFLICT (activity_id, inbox) DO NOTHING",
        value_pairs(first, n)
    )
}

/// The activity ($1 public id, $2 organisation, $3 kind, $4 statement, $5
/// body, $6 now) and `deliveries` `(inbox, host)` pairs from $7 on, in one
/// command (see [`insert_activity!`]).
pub(crate) fn activity_insert_sql(sqlite: bool, deliveries: usize) -> String {
    let activity = "INSERT INTO outbound_activities (public_id, organisation_id, kind, statement_id, body, created_at) \
                    VALUES ($1, $2, $3, $4, $5, $6)";
    if deliveries == 0 {
        return activity.to_string();
    }
    if sqlite {
        format!("{activity}; {}", deliveries_insert_sql(6, 7, deliveries))
    } else {
        let pairs = value_pairs(7, deliveries);
        format!(
            "WITH a AS ({activity} RETURNING id), v (inbox, host) AS (VALUES {pairs}) \
             INSERT INTO deliveries (activity_id, inbox, host, run_at, created_at) \
             SELECT a.id, v.inbox, v.host, $6, $6 FROM a, v \
             ON CONFLICT (activity_id, inbox) DO NOTHING"
        )
    }
}

/// The `(inbox, host)` pairs to deliver to: each inbox once, none on a
/// server that is unavailable or blocked.
fn delivery_targets(
    inboxes: &[String],
    unavailable: &FailingHosts,
    blocked: &BlockList,
) -> Vec<(String, String)> {
    let mut targets: Vec<(String, String)> = inboxes
        .iter()
        .filter_map(|inbox| inbox_host(inbox).map(|host| (inbox.clone(), host)))
        .filter(|(_, host)| !unavailable.is_unavailable(host) && !blocked.blocks(host))
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// A Follow's id recorded, the follow stored and its Accept queued — only
/// for a fresh Follow, the Accept only if the follow ends up accepted —
/// in one round trip of SQLite's writer ([`Store::follow_received`]).
/// Parameters: $1 organisation, $2 actor, $3 Follow id, $4 state asked, $5
/// now, $6 the Accept's public id, $7 its kind, $8 its body, then
/// `deliveries` `(inbox, host)` pairs from $9. The follow's state comes
/// back, as a row, when the Follow was fresh.
fn follow_received_sqlite(deliveries: usize) -> String {
    use super::followers::{follow_conflict, follow_insert};
    // `changes()` is the row count of the statement before: the follow is
    // stored only if the Follow's id was new, the Accept only if that
    // follow was stored and is accepted.
    let mut sql = format!(
        "INSERT INTO received_activities (activity_id, received_at) VALUES ($3, $5) \
         ON CONFLICT (activity_id) DO NOTHING; \
         {} WHERE changes() = 1{} RETURNING state; \
         INSERT INTO outbound_activities (public_id, organisation_id, kind, statement_id, body, created_at) \
         SELECT $6, $1, $7, NULL, $8, $5 WHERE changes() = 1 AND (SELECT state FROM followers \
         WHERE organisation_id = $1 AND actor_id = $2) = 'accepted'",
        follow_insert!(),
        follow_conflict!()
    );
    if deliveries > 0 {
        sql += &format!(
            "; WITH v (inbox, host) AS (VALUES {}) \
             INSERT INTO deliveries (activity_id, inbox, host, run_at, created_at) \
             SELECT a.id, v.inbox, v.host, $5, $5 FROM outbound_activities a, v WHERE a.public_id = $6 \
             ON CONFLICT (activity_id, inbox) DO NOTHING",
            value_pairs(9, deliveries)
        );
    }
    sql
}

/// One received Follow in PostgreSQL's statement for a batch of them
/// ([`write_follows`]), as an element of its JSON array.
#[derive(Debug, Serialize)]
pub(crate) struct FollowRow {
    /// Tells this caller's outcome from the others' in its batch.
    ticket: i64,
    activity_id: String,
    organisation_id: i64,
    actor_id: i64,
    /// The state asked: accepted, or pending.
    state: &'static str,
    accept_public_id: String,
    accept_kind: String,
    accept_body: String,
    /// Where the Accept goes; none when the server is not delivered to.
    inbox: Option<String>,
    host: Option<String>,
}

/// What a batch of Follows did, by ticket: the follow's state when the
/// Follow was fresh, `None` when it was a replay. A ticket that is missing
/// was not in the batch (`write_follows`).
pub(crate) type FollowOutcomes = Arc<HashMap<i64, Option<String>>>;

/// Tickets for [`FollowRow`]s, unique in this process.
static FOLLOW_TICKETS: AtomicI64 = AtomicI64::new(0);

/// Received Follows, each recorded, stored and its Accept queued as
/// [`follow_received_sqlite`] does for one, in one PostgreSQL statement
/// (every data-modifying CTE runs to its end, and a statement outside a
/// transaction is one), whatever their number: the batches of
/// `Store::follow_writes`, or one alone. PostgreSQL refuses to change a row
/// twice in a statement, so a Follow whose id, or whose follower of the same
/// organisation, came earlier in the batch is left out of it, for its
/// caller to write alone after. Other processes' workers hear of the
/// Accepts from `Store::announce_deliveries` once they are committed, not
/// from a NOTIFY in here: that would make every Follow's commit wait its
/// turn (there).
async fn write_follows(
    pool: &sqlx::PgPool,
    mut follows: Vec<FollowRow>,
) -> sqlx::Result<HashMap<i64, Option<String>>> {
    let (mut ids, mut followers) = (HashSet::new(), HashSet::new());
    follows.retain(|f| {
        ids.insert(f.activity_id.clone()) && followers.insert((f.organisation_id, f.actor_id))
    });
    let rows: Vec<(i64, Option<String>)> = sqlx::query_as(concat!(
        "WITH i AS (SELECT * FROM jsonb_to_recordset($1) AS i (ticket bigint, activity_id text, \
         organisation_id bigint, actor_id bigint, state text, accept_public_id text, \
         accept_kind text, accept_body text, inbox text, host text)), \
         fresh AS (INSERT INTO received_activities (activity_id, received_at) \
         SELECT activity_id, $2 FROM i ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id), \
         follow AS (INSERT INTO followers (organisation_id, actor_id, follow_activity_id, state, created_at, accepted_at) \
         SELECT i.organisation_id, i.actor_id, i.activity_id, i.state, $2, \
         CASE WHEN i.state = 'accepted' THEN $2 END FROM i JOIN fresh USING (activity_id)",
        super::followers::follow_conflict!(),
        " RETURNING follow_activity_id, state), \
         a AS (INSERT INTO outbound_activities (public_id, organisation_id, kind, statement_id, body, created_at) \
         SELECT i.accept_public_id, i.organisation_id, i.accept_kind, NULL, i.accept_body, $2 \
         FROM i JOIN follow f ON f.follow_activity_id = i.activity_id WHERE f.state = 'accepted' \
         RETURNING id, public_id), \
         queued AS (INSERT INTO deliveries (activity_id, inbox, host, run_at, created_at) \
         SELECT a.id, i.inbox, i.host, $2, $2 FROM a JOIN i ON i.accept_public_id = a.public_id \
         WHERE i.inbox IS NOT NULL ON CONFLICT (activity_id, inbox) DO NOTHING) \
         SELECT i.ticket, f.state FROM i LEFT JOIN follow f ON f.follow_activity_id = i.activity_id"
    ))
    .bind(Json(follows))
    .bind(now_ms())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Rows per multi-row INSERT: 4 parameters each stays far below both
/// databases' parameter limits.
pub(crate) const INSERT_CHUNK: usize = 500;

/// A delivery process silent this long is gone, and the rows it leased are
/// taken back: four missed heartbeats (`delivery::HEARTBEAT`) and a margin
/// for clocks that differ between machines.
pub const WORKER_GONE_AFTER_MS: i64 = 5_000;

impl Store {
    /// Stores several activities and their deliveries in one transaction,
    /// together with a statement's change of state: if the statement is not
    /// in a state the transition starts from, nothing is stored and `false`
    /// comes back (another process got there first).
    pub async fn enqueue_batch(
        &self,
        transition: Option<Transition>,
        batch: &[(NewActivity<'_>, &[String])],
    ) -> StoreResult<(bool, usize)> {
        let now = now_ms();
        let (unavailable, blocked) = self.hosts_not_to_deliver_to().await?;
        let targets: Vec<Vec<(String, String)>> = batch
            .iter()
            .map(|(_, inboxes)| delivery_targets(inboxes, &unavailable, &blocked))
            .collect();
        let queued = targets.iter().map(Vec::len).sum();
        let sqlite = matches!(self.backend, Backend::Sqlite { .. });
        let done = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                if let Some(transition) = &transition {
                    let changed = match transition {
                        Transition::Publish { statement_id, at } => sqlx::query(sqlx::AssertSqlSafe(format!(
                            "UPDATE statements SET state = 'published', published_at = $2, updated_at = $3 \
                             WHERE id = $1 AND {}",
                            Change::Publish.guard()
                        )))
                        .bind(statement_id)
                        .bind(at)
                        // Not `at`: an import is published at its original
                        // date, but it changes the site now (feeds' Last-Modified).
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::Edit { statement_id, expected, content: c, publish_at, at } => {
                            let mut changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "UPDATE statements SET title = $3, body = $4, summary = $5, content_warning = $6, \
                                 language = $7, tags = $8, format = $9, original_date = $10, disclaimer = $11, \
                                 quote_policy = $13, body_html = $14, page_html = $15, translations = $16, media = $17, updated_at = $12, edited_at = CASE WHEN state = 'published' THEN $12 ELSE edited_at END \
                                 WHERE id = $1 AND state = $2 AND {}",
                                Change::Edit.guard()
                            )))
                            .bind(statement_id)
                            .bind(expected.as_str())
                            .bind(&c.title)
                            .bind(&c.body)
                            .bind(&c.summary)
                            .bind(&c.content_warning)
                            .bind(&c.language)
                            .bind(super::statements::tags_json(&c.tags))
                            .bind(c.format.as_str())
                            .bind(&c.original_date)
                            .bind(&c.disclaimer)
                            .bind(at)
                            .bind(c.quote_policy.as_str())
                            .bind(&c.rendered.federated)
                            .bind(&c.rendered.page)
                            .bind(super::statements::translations_json(&c.translations))
                            .bind(super::statements::media_json(&c.media))
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                            if changed == 1 {
                                super::statements::write_tags!(tx, *statement_id, &c.tags).await?;
                                super::media::attach_media!(tx, *statement_id, &super::statements::media_ids(&c.media)).await?;
                            }
                            if let (1, Some(publish_at)) = (changed, publish_at) {
                                changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                                    "UPDATE statements SET state = $2, publish_at = $3 WHERE id = $1 AND {}",
                                    Change::Reschedule.guard()
                                )))
                                .bind(statement_id)
                                .bind(if publish_at.is_some() { "scheduled" } else { "draft" })
                                .bind(publish_at)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                            }
                            changed
                        }
                        Transition::Delete { statement_id } => sqlx::query(sqlx::AssertSqlSafe(format!(
                            "UPDATE statements SET state = 'deleted', deleted_at = $2, updated_at = $2 \
                             WHERE id = $1 AND {}",
                            Change::Withdraw.guard()
                        )))
                        .bind(statement_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::AddSignatory { statement_id, expected, organisation_id, at } => {
                            let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "UPDATE statements SET updated_at = $3, \
                                 edited_at = CASE WHEN state = 'published' THEN $3 ELSE edited_at END \
                                 WHERE id = $1 AND state = $2 AND {}",
                                Change::Sign.guard()
                            )))
                            .bind(statement_id)
                            .bind(expected.as_str())
                            .bind(at)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                            if changed == 1 {
                                sqlx::query(
                                    "INSERT INTO statement_signatories (statement_id, organisation_id, position, added_at) \
                                     VALUES ($1, $2, (SELECT COALESCE(MAX(position), -1) + 1 FROM statement_signatories \
                                     WHERE statement_id = $1), $3)",
                                )
                                .bind(statement_id)
                                .bind(organisation_id)
                                .bind(at)
                                .execute(&mut *tx)
                                .await?;
                            }
                            changed
                        }
                        Transition::AcceptQuote { public_id, statement_id, actor_id, request_id, object_id, url, content } => sqlx::query(
                            "INSERT INTO quotes (public_id, statement_id, actor_id, request_id, object_id, url, content, \
                             state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'accepted', $8) ON CONFLICT DO NOTHING",
                        )
                        .bind(public_id)
                        .bind(statement_id)
                        .bind(actor_id)
                        .bind(request_id)
                        .bind(object_id)
                        .bind(url)
                        .bind(content)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::RevokeQuote { quote_id } => sqlx::query(
                            "UPDATE quotes SET state = 'revoked', revoked_at = $2 WHERE id = $1 AND state = 'accepted'",
                        )
                        .bind(quote_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::ApproveFollow { organisation_id, follower_id } => sqlx::query(
                            "UPDATE followers SET state = 'accepted', accepted_at = $3 \
                             WHERE organisation_id = $1 AND id = $2 AND state = 'pending'",
                        )
                        .bind(organisation_id)
                        .bind(follower_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::UpdateOrganisation { organisation_id, profile: p, at } => sqlx::query(
                            "UPDATE organisations SET name = $2, summary = $3, website = $4, fields = $5, \
                             avatar_url = $6, header_url = $7, manually_approves_followers = $8, \
                             discoverable = $9, indexable = $10, updated_at = $11, approve_replies = $12 \
                             WHERE id = $1 AND deleted_at IS NULL",
                        )
                        .bind(organisation_id)
                        .bind(&p.name)
                        .bind(&p.summary)
                        .bind(&p.website)
                        .bind(super::organisations::fields_json(&p.fields))
                        .bind(&p.avatar_url)
                        .bind(&p.header_url)
                        .bind(p.manually_approves_followers)
                        .bind(p.discoverable)
                        .bind(p.indexable)
                        .bind(at)
                        .bind(p.approve_replies)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::DeleteOrganisation { organisation_id } => sqlx::query(
                            "UPDATE organisations SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
                        )
                        .bind(organisation_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        Transition::EndFollow { organisation_id, follower_id, state } => sqlx::query(
                            "DELETE FROM followers WHERE organisation_id = $1 AND id = $2 AND state = $3",
                        )
                        .bind(organisation_id)
                        .bind(follower_id)
                        .bind(*state)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                    };
                    if let (Transition::Delete { statement_id }, 1) = (transition, changed) {
                        // Its reactions go with it.
                        for table in ["reactions", "replies", "quotes"] {
                            sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DELETE FROM {table} WHERE statement_id = $1"
                            )))
                            .bind(*statement_id)
                            .execute(&mut *tx)
                            .await?;
                        }
                        // What has not gone out about it yet never will.
                        sqlx::query(
                            "UPDATE deliveries SET state = 'failed', last_error = 'statement deleted', \
                             locked_until = NULL, finished_at = $2 WHERE state = 'queued' AND activity_id IN \
                             (SELECT id FROM outbound_activities WHERE statement_id = $1)",
                        )
                        .bind(*statement_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if changed == 0 {
                        tx.rollback().await?;
                        return Ok::<_, sqlx::Error>(false);
                    }
                }
                for ((activity, _), targets) in batch.iter().zip(&targets) {
                    insert_activity!(tx, sqlite, activity, targets, now);
                }
                tx.commit().await?;
                Ok(true)
            }
            .await
        })?;
        if done
            && matches!(
                transition,
                Some(Transition::UpdateOrganisation { .. } | Transition::DeleteOrganisation { .. })
            )
        {
            self.cache.organisations.forget();
        }
        if done && queued > 0 {
            self.announce_deliveries();
        }
        Ok((done, if done { queued } else { 0 }))
    }

    /// A Follow received: its id recorded, the follow stored and, if it
    /// ends up accepted, `accept` queued for `inbox` — all or nothing, in
    /// one round trip. This is the inbox's busiest write: on SQLite every
    /// round trip of a transaction holds the one writer while its caller
    /// waits to be scheduled again (README "Benchmarks"; a [`Transition`]
    /// through [`Store::enqueue_batch`] takes four), and on PostgreSQL
    /// every statement is a commit, so the Follows that arrive while one
    /// batch is written go together in the next (`follow_writes`); if that
    /// batch fails, this Follow is written alone, for its own error.
    pub async fn follow_received(
        &self,
        follow: ReceivedFollow<'_>,
        accept: &NewActivity<'_>,
        inbox: &str,
    ) -> StoreResult<FollowStored> {
        let (unavailable, blocked) = self.hosts_not_to_deliver_to().await?;
        let targets = delivery_targets(&[inbox.to_string()], &unavailable, &blocked);
        let asked = if follow.accept_now {
            super::ACCEPTED
        } else {
            super::PENDING
        };
        let state: Option<String> = match &self.backend {
            Backend::Sqlite { writer, .. } => {
                let mut arguments = arguments!(sqlx::sqlite::SqliteArguments;
                    follow.organisation_id, follow.actor_id, follow.activity_id, asked, now_ms(),
                    accept.public_id, accept.kind, accept.body);
                for (inbox, host) in &targets {
                    sqlx::Arguments::add(&mut arguments, inbox).map_err(sqlx::Error::Encode)?;
                    sqlx::Arguments::add(&mut arguments, host).map_err(sqlx::Error::Encode)?;
                }
                let rows = writer
                    .transaction(&follow_received_sqlite(targets.len()), arguments)
                    .await?;
                rows.first()
                    .map(|row| sqlx::Row::try_get(row, "state"))
                    .transpose()?
            }
            Backend::Postgres(pool) => {
                // Made again only for the rare write alone, rather than
                // cloned for every Follow in case one is needed.
                let ticket = FOLLOW_TICKETS.fetch_add(1, Ordering::Relaxed);
                let row = || FollowRow {
                    ticket,
                    activity_id: follow.activity_id.to_string(),
                    organisation_id: follow.organisation_id,
                    actor_id: follow.actor_id,
                    state: asked,
                    accept_public_id: accept.public_id.to_string(),
                    accept_kind: accept.kind.to_string(),
                    accept_body: accept.body.to_string(),
                    inbox: targets.first().map(|(inbox, _)| inbox.clone()),
                    host: targets.first().map(|(_, host)| host.clone()),
                };
                let shared = pool.clone();
                let batch = self
                    .follow_writes
                    .run_or_alone(row(), "Follows", |follows| async move {
                        write_follows(&shared, follows).await
                    })
                    .await;
                match batch.as_ref().and_then(|outcomes| outcomes.get(&ticket)) {
                    Some(state) => state.clone(),
                    None => write_follows(pool, vec![row()])
                        .await?
                        .remove(&ticket)
                        .flatten(),
                }
            }
        };
        let stored = match state.as_deref() {
            None => FollowStored::Replayed,
            Some(super::ACCEPTED) => FollowStored::Accepted {
                queued: targets.len(),
            },
            Some(_) => FollowStored::Pending,
        };
        if matches!(stored, FollowStored::Accepted { queued } if queued > 0) {
            self.announce_deliveries();
        }
        Ok(stored)
    }

    /// Claims up to `limit` deliveries that are due, or whose lease expired,
    /// for `lease_ms`. Each claim counts as an attempt.
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease_ms: i64,
        claimant: &str,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let now = now_ms();
        let claimed = match &self.backend {
            Backend::Postgres(pool) => {
                let rows: Vec<ClaimedRow> = sqlx::query_as(
                    "WITH claimed AS (UPDATE deliveries SET state = 'sending', attempts = attempts + 1, locked_until = $2, locked_by = $4 \
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
                    "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, locked_until = $2, locked_by = $4 \
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
                "UPDATE deliveries SET state = 'queued', attempts = attempts - 1, run_at = $2, \
                 locked_until = NULL WHERE id = $1 AND state = 'sending' AND attempts = $3",
            )
            .bind(id)
            .bind(run_at)
            .bind(attempts)
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
    /// (README "Benchmarks").
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
                        "UPDATE deliveries SET state = 'delivered', last_error = NULL, \
                         locked_until = NULL, finished_at = $1 \
                         FROM (SELECT value ->> 0 AS id, value ->> 1 AS attempts FROM json_each($2)) AS claim \
                         WHERE deliveries.id = claim.id AND deliveries.attempts = claim.attempts \
                         AND deliveries.state = 'sending'; \
                         DELETE FROM delivery_hosts WHERE host IN (SELECT value FROM json_each($3))",
                        arguments!(sqlx::sqlite::SqliteArguments; now, claims, Json(&hosts)),
                    )
                    .await?;
            }
            Backend::Postgres(pool) => {
                let ids: Vec<i64> = done.iter().map(|d| d.id).collect();
                let attempts: Vec<i32> = done.iter().map(|d| d.attempts).collect();
                sqlx::query(
                    "WITH delivered AS (UPDATE deliveries SET state = 'delivered', last_error = NULL, \
                     locked_until = NULL, finished_at = $1 \
                     FROM unnest($2::bigint[], $3::integer[]) AS claim (id, attempts) \
                     WHERE deliveries.id = claim.id AND deliveries.attempts = claim.attempts \
                     AND deliveries.state = 'sending') \
                     DELETE FROM delivery_hosts WHERE host = ANY($4)",
                )
                .bind(now)
                .bind(&ids)
                .bind(&attempts)
                .bind(&hosts)
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
                        "UPDATE deliveries SET state = 'queued', run_at = $2, last_status = $3, \
                         last_error = $4, locked_until = NULL \
                         WHERE id = $1 AND state = 'sending' AND attempts = $5",
                    )
                    .bind(delivery.id)
                    .bind(at)
                    .bind(status.map(i32::from))
                    .bind(&error)
                    .bind(delivery.attempts)
                    .execute(&mut *tx)
                    .await?,
                    None => sqlx::query(
                        "UPDATE deliveries SET state = 'failed', last_status = $2, last_error = $3, \
                         locked_until = NULL, finished_at = $4 \
                         WHERE id = $1 AND state = 'sending' AND attempts = $5",
                    )
                    .bind(delivery.id)
                    .bind(status.map(i32::from))
                    .bind(&error)
                    .bind(now)
                    .bind(delivery.attempts)
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
                    sqlx::query(
                        "UPDATE deliveries SET state = 'failed', last_error = 'host unavailable', \
                         locked_until = NULL, finished_at = $2 \
                         WHERE host = $1 AND state = 'queued' AND EXISTS \
                         (SELECT 1 FROM delivery_hosts h WHERE h.host = $1 AND h.unavailable_since IS NOT NULL)",
                    )
                    .bind(&delivery.host)
                    .bind(now)
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
    async fn hosts_not_to_deliver_to(&self) -> StoreResult<(Arc<FailingHosts>, Arc<BlockList>)> {
        Ok((self.hosts_with_failures().await?, self.block_list().await?))
    }

    /// How long the oldest delivery that is due has waited, in ms (0 when
    /// none waits).
    pub async fn oldest_due_age_ms(&self, now: i64) -> StoreResult<i64> {
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
    /// (pgbench, 32 clients; README "Benchmarks"). Here a process sends one
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
            match state.as_str() {
                "queued" => {
                    counts.queued += n;
                    if retried == 1 {
                        counts.retrying += n;
                    }
                }
                "sending" => counts.sending += n,
                "delivered" => counts.delivered += n,
                _ => counts.failed += n,
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
                 SUM(CASE WHEN d.state IN ('queued', 'sending') THEN 1 ELSE 0 END) AS waiting, \
                 SUM(CASE WHEN d.state = 'delivered' THEN 1 ELSE 0 END) AS delivered, \
                 SUM(CASE WHEN d.state NOT IN ('queued', 'sending', 'delivered') THEN 1 ELSE 0 END) AS failed, \
                 MAX(d.last_error) AS last_error \
                 FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                 WHERE a.statement_id = $1 GROUP BY d.host \
                 ORDER BY SUM(CASE WHEN d.state = 'delivered' THEN 0 ELSE 1 END) DESC, d.host LIMIT $2",
            )
            .bind(statement_id)
            .bind(limit)
            .fetch_all(&mut *pool)
            .await
        })?)
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

    /// Deliveries in one state, newest first, for the admin API.
    pub async fn deliveries_in_state(
        &self,
        state: &str,
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
            .bind(state)
            .bind(statement_id)
            .bind(limit)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// The stored JSON of an organisation's activities of the given
    /// `kinds` about its published statements, newest first. Which kinds an
    /// outbox lists is the caller's business.
    pub async fn statement_activities(
        &self,
        organisation_id: i64,
        kinds: &[&str],
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<String>> {
        let sql = format!(
            "SELECT a.body FROM outbound_activities a {} ORDER BY a.id DESC LIMIT $2 OFFSET $3",
            published_by(kinds, 4)
        );
        Ok(on_pool!(self, |pool| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .bind(organisation_id)
                .bind(limit)
                .bind(offset);
            for kind in kinds {
                query = query.bind(*kind);
            }
            query.fetch_all(&mut *pool).await
        })?)
    }

    /// How many activities [`Store::statement_activities`] would list in all.
    pub async fn count_statement_activities(
        &self,
        organisation_id: i64,
        kinds: &[&str],
    ) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM outbound_activities a {}",
            published_by(kinds, 2)
        );
        Ok(on_pool!(self, |pool| {
            let mut query =
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(organisation_id);
            for kind in kinds {
                query = query.bind(*kind);
            }
            query.fetch_one(&mut *pool).await
        })?)
    }

    /// A stored activity's JSON by its public id, for dereferencing. Once
    /// a statement is deleted, only its activities of the kinds in
    /// `kept_after_deletion` stay readable (the others carry its text).
    pub async fn activity_body(
        &self,
        public_id: &str,
        kept_after_deletion: &[&str],
    ) -> StoreResult<Option<String>> {
        let sql = format!(
            "SELECT a.body FROM outbound_activities a LEFT JOIN statements s ON s.id = a.statement_id \
             WHERE a.public_id = $1 AND (s.id IS NULL OR s.state <> 'deleted' OR a.kind IN ({}))",
            if kept_after_deletion.is_empty() {
                "NULL".to_string()
            } else {
                super::placeholders(2, kept_after_deletion.len())
            }
        );
        Ok(on_pool!(self, |pool| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(public_id);
            for kind in kept_after_deletion {
                query = query.bind(*kind);
            }
            query.fetch_optional(&mut *pool).await
        })?)
    }
}

/// The condition selecting an organisation's (`$1`) activities of `kinds`
/// (bound from `$first` on) about its published statements (alias `a`).
fn published_by(kinds: &[&str], first: usize) -> String {
    format!(
        "JOIN statements s ON s.id = a.statement_id \
         WHERE a.organisation_id = $1 AND s.state = 'published' AND a.kind IN ({})",
        if kinds.is_empty() {
            "NULL".to_string()
        } else {
            super::placeholders(first, kinds.len())
        }
    )
}

/// Failures on this many distinct days, without a success in between, make a
/// host unavailable (Mastodon's `DeliveryFailureTracker`).
pub const UNAVAILABLE_AFTER_DAYS: i32 = 7;

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
    pub state: String,
    pub attempts: i32,
    /// When it is (or was) due, in milliseconds since the epoch.
    pub run_at: i64,
    /// The HTTP status of the last attempt.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// Milliseconds since the epoch.
    pub finished_at: Option<i64>,
}
