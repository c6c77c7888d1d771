//! Follows of our organisations by remote actors: pending requests and
//! accepted followers.

use super::{Store, StoreResult, now_ms, on_pool, on_writer};

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
    pub state: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub accepted_at: Option<i64>,
}

pub const PENDING: &str = "pending";

/// Stores a follow ($1 organisation, $2 actor, $3 Follow id, $4 state, $5
/// now): an `INSERT … SELECT` for the caller to finish with a `WHERE` and
/// [`follow_conflict!`].
macro_rules! follow_insert {
    () => {
        "INSERT INTO followers (organisation_id, actor_id, follow_activity_id, state, created_at, accepted_at) \
         SELECT $1, $2, $3, $4, $5, CASE WHEN $4 = 'accepted' THEN $5 END"
    };
}
pub(crate) use follow_insert;

/// A repeated Follow updates the stored Follow id (the Accept must echo the
/// latest one) and never demotes an accepted follower.
macro_rules! follow_conflict {
    () => {
        " ON CONFLICT (organisation_id, actor_id) DO UPDATE SET \
         follow_activity_id = excluded.follow_activity_id, \
         state = CASE WHEN followers.state = 'accepted' THEN 'accepted' ELSE excluded.state END, \
         accepted_at = COALESCE(followers.accepted_at, excluded.accepted_at)"
    };
}
pub(crate) use follow_conflict;
pub const ACCEPTED: &str = "accepted";

macro_rules! follower_select {
    () => {
        "SELECT f.id, f.organisation_id, f.actor_id, a.uri AS actor, a.domain, a.inbox, \
         a.shared_inbox, a.preferred_username, a.name, f.follow_activity_id, f.state, \
         f.created_at, f.accepted_at FROM followers f JOIN remote_actors a ON a.id = f.actor_id "
    };
}

impl Store {
    /// Stores a follow without queueing anything (imports and benchmarks;
    /// an inbox Follow goes through `Store::follow_received`).
    pub async fn record_follow(
        &self,
        organisation_id: i64,
        actor_id: i64,
        follow_activity_id: &str,
        accept_now: bool,
    ) -> StoreResult<Follower> {
        let now = now_ms();
        let state = if accept_now { ACCEPTED } else { PENDING };
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
            .bind(state)
            .bind(now)
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
        state: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Follower>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                follower_select!(),
                "WHERE f.organisation_id = $1 AND f.state = $2 ORDER BY f.id LIMIT $3 OFFSET $4"
            ))
            .bind(organisation_id)
            .bind(state)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    pub async fn count_followers(&self, organisation_id: i64, state: &str) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM followers WHERE organisation_id = $1 AND state = $2",
            )
            .bind(organisation_id)
            .bind(state)
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
                     WHERE f.organisation_id = $1 AND f.state = 'accepted'",
                )
                .bind(organisation_id)
                .fetch_all(&mut *pool)
                .await
            })?;
            inboxes.extend(found);
        }
        inboxes.sort();
        inboxes.dedup();
        Ok(inboxes)
    }
}
