//! Follows of our organisations by remote actors: pending requests and
//! accepted followers, received Follows stored with the Accept that
//! answers them, and the followers' part of an outbox transition.

use super::{
    Backend, NewActivity, Store, StoreError, StoreResult, UnknownState, now_ms, on_pool, on_writer,
    outbox::delivery_targets,
};

/// A follow with the follower's addresses, as the admin API and the
/// collections show it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Follower {
    /// The follow's id, for accepting, rejecting or removing it.
    pub id: i64,
    #[serde(skip)]
    pub organisation_id: i64,
    #[serde(skip)]
    pub actor_id: i64,
    /// The follower's actor id (a URL).
    pub actor: String,
    /// The follower's server, host[:port].
    pub domain: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    /// The id of the Follow activity.
    pub follow_activity_id: String,
    /// pending or accepted.
    #[sqlx(try_from = "String")]
    pub state: FollowerState,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub accepted_at: Option<i64>,
}

/// Where a follow stands; stored as text in `followers.state`, and this is
/// the one place that text is mapped.
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
pub enum FollowerState {
    /// A request waiting for the editor.
    Pending,
    Accepted,
}

impl FollowerState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for FollowerState {
    type Error = UnknownState;

    fn try_from(text: String) -> Result<Self, UnknownState> {
        text.parse().map_err(|_| UnknownState)
    }
}

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

/// Stores a follow ($1 organisation, $2 actor, $3 Follow id, $4 state, $5
/// now, $6 [`FollowerState::Accepted`]): an `INSERT … SELECT` for the
/// caller to finish with a `FROM` or `WHERE` and [`follow_conflict!`].
macro_rules! follow_insert {
    () => {
        "INSERT INTO followers (organisation_id, actor_id, follow_activity_id, state, created_at, accepted_at) \
         SELECT $1, $2, $3, $4, $5, CASE WHEN $4 = $6 THEN $5 END"
    };
}

/// A repeated Follow updates the stored Follow id (the Accept must echo the
/// latest one) and never demotes an accepted follower.
macro_rules! follow_conflict {
    () => {
        " ON CONFLICT (organisation_id, actor_id) DO UPDATE SET \
         follow_activity_id = excluded.follow_activity_id, \
         state = CASE WHEN followers.state = $6 THEN $6 ELSE excluded.state END, \
         accepted_at = COALESCE(followers.accepted_at, excluded.accepted_at)"
    };
}

/// A Follow's id recorded, the follow stored and its Accept queued — only
/// for a fresh Follow, the Accept only if the follow ends up accepted — all
/// or nothing, in one round trip ([`Store::follow_received`]). Parameters:
/// $1 organisation, $2 actor, $3 Follow id, $4 state asked, $5 now, $6
/// [`FollowerState::Accepted`], $7 the Accept's public id, $8 its kind, $9
/// its body, $10 and $11 the inbox and host it goes to (NULL when the
/// server is not delivered to). The
/// follow's state comes back, as a row, when the Follow was fresh.
///
/// On SQLite, one script run as a transaction in one command
/// (`sqlite::Connections::transaction`): `changes()` is the row count of
/// the statement before, so the follow is stored only if the Follow's id
/// was new, the Accept only if that follow was stored and is accepted.
const FOLLOW_RECEIVED_SQLITE: &str = concat!(
    "INSERT INTO received_activities (activity_id, received_at) VALUES ($3, $5) \
     ON CONFLICT (activity_id) DO NOTHING; ",
    follow_insert!(),
    " WHERE changes() = 1",
    follow_conflict!(),
    " RETURNING state; \
     INSERT INTO outbound_activities (public_id, organisation_id, kind, statement_id, body, created_at) \
     SELECT $7, $1, $8, NULL, $9, $5 WHERE changes() = 1 AND (SELECT state FROM followers \
     WHERE organisation_id = $1 AND actor_id = $2) = $6; \
     INSERT INTO deliveries (activity_id, inbox, host, run_at, created_at) \
     SELECT a.id, $10, $11, $5, $5 FROM outbound_activities a WHERE a.public_id = $7 AND $10 IS NOT NULL \
     ON CONFLICT (activity_id, inbox) DO NOTHING"
);

/// [`FOLLOW_RECEIVED_SQLITE`] on PostgreSQL: one statement (every
/// data-modifying CTE runs to its end, and a statement outside a
/// transaction is one), each step fed by the rows the one before returned.
/// Other processes' workers hear of the Accept from
/// `Store::announce_deliveries` once it is committed, not from a NOTIFY in
/// here: that would make every Follow's commit wait its turn (there).
const FOLLOW_RECEIVED_POSTGRES: &str = concat!(
    "WITH fresh AS (INSERT INTO received_activities (activity_id, received_at) VALUES ($3, $5) \
     ON CONFLICT (activity_id) DO NOTHING RETURNING activity_id), \
     follow AS (",
    follow_insert!(),
    " FROM fresh",
    follow_conflict!(),
    " RETURNING state), \
     a AS (INSERT INTO outbound_activities (public_id, organisation_id, kind, statement_id, body, created_at) \
     SELECT $7, $1, $8, NULL, $9, $5 FROM follow WHERE follow.state = $6 RETURNING id), \
     queued AS (INSERT INTO deliveries (activity_id, inbox, host, run_at, created_at) \
     SELECT a.id, $10, $11, $5, $5 FROM a WHERE $10 IS NOT NULL ON CONFLICT (activity_id, inbox) DO NOTHING) \
     SELECT state FROM follow"
);

macro_rules! follower_select {
    () => {
        "SELECT f.id, f.organisation_id, f.actor_id, a.uri AS actor, a.domain, a.inbox, \
         a.shared_inbox, a.preferred_username, a.name, f.follow_activity_id, f.state, \
         f.created_at, f.accepted_at FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
    };
}

impl Store {
    /// Stores a follow without queueing anything (tests and benchmarks; an
    /// inbox Follow goes through `Store::follow_received`).
    #[cfg(feature = "test-support")]
    pub async fn record_follow(
        &self,
        organisation_id: i64,
        actor_id: i64,
        follow_activity_id: &str,
        accept_now: bool,
    ) -> StoreResult<Follower> {
        let now = now_ms();
        let state = if accept_now {
            FollowerState::Accepted
        } else {
            FollowerState::Pending
        };
        let id: i64 = on_writer!(self, |pool| {
            sqlx::query_scalar(concat!(
                follow_insert!(),
                " WHERE true",
                follow_conflict!(),
                " RETURNING id"
            ))
            .bind(organisation_id)
            .bind(actor_id)
            .bind(follow_activity_id)
            .bind(state.as_str())
            .bind(now)
            .bind(FollowerState::Accepted.as_str())
            .fetch_one(&mut *pool)
            .await
        })?;
        self.follower(organisation_id, id).await
    }

    pub async fn follower(&self, organisation_id: i64, id: i64) -> StoreResult<Follower> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                follower_select!(),
                "WHERE f.organisation_id = $1 AND f.id = $2"
            ))
            .bind(organisation_id)
            .bind(id)
            .fetch_one(&mut *pool)
            .await
        })?)
    }

    /// The follow of `actor_uri`, if any.
    pub async fn follow_of(
        &self,
        organisation_id: i64,
        actor_uri: &str,
    ) -> StoreResult<Option<Follower>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                follower_select!(),
                "WHERE f.organisation_id = $1 AND a.uri = $2"
            ))
            .bind(organisation_id)
            .bind(actor_uri)
            .fetch_optional(&mut *pool)
            .await
        })?)
    }

    /// Removes a follow (pending or accepted) by id and returns what it was.
    pub async fn remove_follow(&self, organisation_id: i64, id: i64) -> StoreResult<Follower> {
        let follower = self.follower(organisation_id, id).await?;
        on_writer!(self, |pool| {
            sqlx::query("DELETE FROM followers WHERE id = $1")
                .bind(id)
                .execute(&mut *pool)
                .await
                .map(|_| ())
        })?;
        Ok(follower)
    }

    /// Follows of one organisation in one state, oldest first.
    pub async fn followers(
        &self,
        organisation_id: i64,
        state: FollowerState,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Follower>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                follower_select!(),
                "WHERE f.organisation_id = $1 AND f.state = $2 ORDER BY f.id LIMIT $3 OFFSET $4"
            ))
            .bind(organisation_id)
            .bind(state.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    pub async fn count_followers(
        &self,
        organisation_id: i64,
        state: FollowerState,
    ) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM followers WHERE organisation_id = $1 AND state = $2",
            )
            .bind(organisation_id)
            .bind(state.as_str())
            .fetch_one(&mut *pool)
            .await
        })?)
    }

    /// The distinct inboxes that reach every accepted follower of these
    /// organisations: a server's shared inbox when it has one.
    pub async fn follower_inboxes(&self, organisation_ids: &[i64]) -> StoreResult<Vec<String>> {
        let mut inboxes = Vec::new();
        for organisation_id in organisation_ids {
            let found: Vec<String> = on_pool!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT DISTINCT COALESCE(a.shared_inbox, a.inbox) FROM followers f \
                     JOIN remote_actors a ON a.id = f.actor_id \
                     WHERE f.organisation_id = $1 AND f.state = $2",
                )
                .bind(organisation_id)
                .bind(FollowerState::Accepted.as_str())
                .fetch_all(&mut *pool)
                .await
            })?;
            inboxes.extend(found);
        }
        inboxes.sort();
        inboxes.dedup();
        Ok(inboxes)
    }

    /// A Follow received: its id recorded, the follow stored and, if it
    /// ends up accepted, `accept` queued for `inbox` — all or nothing, in
    /// one round trip (the inbox's busiest write: on SQLite every round trip
    /// of a transaction holds the one writer while its caller waits to be
    /// scheduled again, and a [`Transition`](super::Transition) through
    /// [`Store::enqueue_batch`] takes four).
    pub async fn follow_received(
        &self,
        follow: ReceivedFollow<'_>,
        accept: &NewActivity<'_>,
        inbox: &str,
    ) -> StoreResult<FollowStored> {
        let (unavailable, blocked) = self.hosts_not_to_deliver_to().await?;
        let targets = delivery_targets(&[inbox.to_string()], &unavailable, &blocked);
        let asked = if follow.accept_now {
            FollowerState::Accepted
        } else {
            FollowerState::Pending
        };
        let (inbox, host) = targets.first().cloned().unzip();
        let now = now_ms();
        let state: Option<String> = match &self.backend {
            Backend::Sqlite { writer, .. } => {
                use sqlx::Arguments as _;
                let mut arguments = sqlx::sqlite::SqliteArguments::default();
                let encode = sqlx::Error::Encode;
                arguments.add(follow.organisation_id).map_err(encode)?;
                arguments.add(follow.actor_id).map_err(encode)?;
                arguments.add(follow.activity_id).map_err(encode)?;
                arguments.add(asked.as_str()).map_err(encode)?;
                arguments.add(now).map_err(encode)?;
                arguments
                    .add(FollowerState::Accepted.as_str())
                    .map_err(encode)?;
                arguments.add(accept.public_id).map_err(encode)?;
                arguments.add(accept.kind).map_err(encode)?;
                arguments.add(accept.body).map_err(encode)?;
                arguments.add(inbox).map_err(encode)?;
                arguments.add(host).map_err(encode)?;
                let rows = writer
                    .transaction(FOLLOW_RECEIVED_SQLITE, arguments)
                    .await?;
                rows.first()
                    .map(|row| sqlx::Row::try_get(row, "state"))
                    .transpose()?
            }
            Backend::Postgres(pool) => {
                sqlx::query_scalar(FOLLOW_RECEIVED_POSTGRES)
                    .bind(follow.organisation_id)
                    .bind(follow.actor_id)
                    .bind(follow.activity_id)
                    .bind(asked.as_str())
                    .bind(now)
                    .bind(FollowerState::Accepted.as_str())
                    .bind(accept.public_id)
                    .bind(accept.kind)
                    .bind(accept.body)
                    .bind(inbox)
                    .bind(host)
                    .fetch_optional(pool)
                    .await?
            }
        };
        let state = state.map(FollowerState::try_from).transpose();
        let state = state.map_err(|_| StoreError::Corrupt("a follow's state".into()))?;
        let stored = match state {
            None => FollowStored::Replayed,
            Some(FollowerState::Accepted) => FollowStored::Accepted {
                queued: targets.len(),
            },
            Some(_) => FollowStored::Pending,
        };
        if matches!(stored, FollowStored::Accepted { queued } if queued > 0) {
            self.announce_deliveries();
        }
        Ok(stored)
    }
}

/// The followers' part of an outbox [`Transition`](super::Transition), on
/// the outbox's transaction: each returns how many follows it changed (0:
/// not in the state the change starts from any more). Implemented for both
/// backends' connections.
pub(super) trait FollowerWrites {
    /// A pending follow request approved.
    async fn apply_approve_follow(
        &mut self,
        organisation_id: i64,
        follower_id: i64,
        now: i64,
    ) -> sqlx::Result<u64>;
    /// A follow in `state` ended by us.
    async fn apply_end_follow(
        &mut self,
        organisation_id: i64,
        follower_id: i64,
        state: FollowerState,
    ) -> sqlx::Result<u64>;
}

/// [`FollowerWrites`] for a backend's connection.
macro_rules! follower_writes {
    ($($connection:ty),*) => {$(
        impl FollowerWrites for $connection {
            async fn apply_approve_follow(
                &mut self,
                organisation_id: i64,
                follower_id: i64,
                now: i64,
            ) -> sqlx::Result<u64> {
                Ok(sqlx::query(
                    "UPDATE followers SET state = $4, accepted_at = $3 \
                     WHERE organisation_id = $1 AND id = $2 AND state = $5",
                )
                .bind(organisation_id)
                .bind(follower_id)
                .bind(now)
                .bind(FollowerState::Accepted.as_str())
                .bind(FollowerState::Pending.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected())
            }

            async fn apply_end_follow(
                &mut self,
                organisation_id: i64,
                follower_id: i64,
                state: FollowerState,
            ) -> sqlx::Result<u64> {
                Ok(sqlx::query(
                    "DELETE FROM followers WHERE organisation_id = $1 AND id = $2 AND state = $3",
                )
                .bind(organisation_id)
                .bind(follower_id)
                .bind(state.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected())
            }
        }
    )*};
}
follower_writes!(sqlx::SqliteConnection, sqlx::PgConnection);
