//! Outbound activities: each stored once with the exact JSON we send, and a
//! `deliveries` row for each target inbox, queued in the same transaction
//! as the change the activities announce ([`Transition`]). Each subject
//! applies its own part of a transition in its own file; this one holds
//! the transaction that applies it and queues the activities.

use super::{
    Backend, FollowerState, Store, StoreResult, cache::FailingHosts, followers::FollowerWrites,
    inbox_host, now_ms, on_pool, on_writer, organisations::OrganisationWrites, queue::QueueWrites,
    reactions::QuoteWrites, statements::StatementWrites,
};
use crate::{
    domains::BlockList,
    organisations::Profile,
    statements::{State, ValidContent},
};

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
        state: FollowerState,
    },
}

/// Rows per multi-row INSERT: 4 parameters each stays far below both
/// databases' parameter limits.
pub(crate) const INSERT_CHUNK: usize = 500;

/// Inserts an activity and one delivery row per `(inbox, host)` target
/// inside a transaction. Only [`Store::enqueue_batch`] uses it: queuing has
/// one way in, besides the Accept of a received Follow, which
/// [`Store::follow_received`] writes in a command of its own (`followers`).
///
/// The activity and its first [`INSERT_CHUNK`] deliveries go in one round
/// trip (on SQLite two statements in one command, on PostgreSQL one
/// statement with the activity's insert as a CTE): each round trip holds
/// SQLite's one writer for a hop to its thread and back. A macro, private
/// to this file: its body is compiled once per backend's transaction.
macro_rules! insert_activity {
    ($tx:expr, $sqlite:expr, $activity:expr, $targets:expr, $now:expr) => {{
        let activity: &NewActivity<'_> = $activity;
        let targets: &[(String, String)] = $targets;
        let mut chunks = targets.chunks($crate::store::outbox::INSERT_CHUNK);
        let first = chunks.next().unwrap_or_default();
        let sql = $crate::store::outbox::activity_insert_sql($sqlite, first.len());
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
            let sql = $crate::store::outbox::deliveries_insert_sql(2, 3, chunk.len());
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
pub(super) fn value_pairs(first: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
        .collect::<Vec<_>>()
        .join(",")
}

/// Deliveries of the activity whose public id is $1: `n` `(inbox, host)`
/// pairs from `$first` on, due at `$now`.
fn deliveries_insert_sql(now: usize, first: usize, n: usize) -> String {
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
fn activity_insert_sql(sqlite: bool, deliveries: usize) -> String {
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
pub(super) fn delivery_targets(
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
                        Transition::Publish { statement_id, at } => {
                            tx.apply_publish(*statement_id, *at, now).await?
                        }
                        Transition::Edit {
                            statement_id,
                            expected,
                            content,
                            publish_at,
                            at,
                        } => {
                            tx.apply_edit(*statement_id, *expected, content, *publish_at, *at)
                                .await?
                        }
                        Transition::Delete { statement_id } => {
                            let changed = tx.apply_delete(*statement_id, now).await?;
                            if changed == 1 {
                                tx.fail_queued_of_statement(*statement_id, now).await?;
                            }
                            changed
                        }
                        Transition::AddSignatory {
                            statement_id,
                            expected,
                            organisation_id,
                            at,
                        } => {
                            tx.apply_add_signatory(*statement_id, *expected, *organisation_id, *at)
                                .await?
                        }
                        Transition::AcceptQuote {
                            public_id,
                            statement_id,
                            actor_id,
                            request_id,
                            object_id,
                            url,
                            content,
                        } => {
                            tx.apply_accept_quote(
                                public_id,
                                *statement_id,
                                *actor_id,
                                request_id,
                                object_id,
                                url.as_deref(),
                                content,
                                now,
                            )
                            .await?
                        }
                        Transition::RevokeQuote { quote_id } => {
                            tx.apply_revoke_quote(*quote_id, now).await?
                        }
                        Transition::ApproveFollow {
                            organisation_id,
                            follower_id,
                        } => {
                            tx.apply_approve_follow(*organisation_id, *follower_id, now)
                                .await?
                        }
                        Transition::UpdateOrganisation {
                            organisation_id,
                            profile,
                            at,
                        } => {
                            tx.apply_update_organisation(*organisation_id, profile, *at)
                                .await?
                        }
                        Transition::DeleteOrganisation { organisation_id } => {
                            tx.apply_delete_organisation(*organisation_id, now).await?
                        }
                        Transition::EndFollow {
                            organisation_id,
                            follower_id,
                            state,
                        } => {
                            tx.apply_end_follow(*organisation_id, *follower_id, *state)
                                .await?
                        }
                    };
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
                .bind(offset)
                .bind(State::Published.as_str());
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
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .bind(organisation_id)
                .bind(State::Published.as_str());
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
             WHERE a.public_id = $1 AND (s.id IS NULL OR s.state <> $2 OR a.kind IN ({}))",
            if kept_after_deletion.is_empty() {
                "NULL".to_string()
            } else {
                super::placeholders(3, kept_after_deletion.len())
            }
        );
        Ok(on_pool!(self, |pool| {
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .bind(public_id)
                .bind(State::Deleted.as_str());
            for kind in kept_after_deletion {
                query = query.bind(*kind);
            }
            query.fetch_optional(&mut *pool).await
        })?)
    }
}

/// The condition selecting an organisation's (`$1`) activities of `kinds`
/// (bound from `$first + 1` on) about its published statements (alias
/// `a`; `$first` is [`State::Published`]).
fn published_by(kinds: &[&str], first: usize) -> String {
    format!(
        "JOIN statements s ON s.id = a.statement_id \
         WHERE a.organisation_id = $1 AND s.state = ${first} AND a.kind IN ({})",
        if kinds.is_empty() {
            "NULL".to_string()
        } else {
            super::placeholders(first + 1, kinds.len())
        }
    )
}
