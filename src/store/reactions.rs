//! What remote actors do with our statements: likes and boosts, replies
//! (with their moderation state), quotes (with the authorisation we
//! serve), reports and blocks. Rows that name a remote actor go with it
//! (`ON DELETE CASCADE`); those of a statement go when it is deleted
//! (`Transition::Delete`). Every lookup that changes a remote actor's row
//! names the actor too: an actor touches only what it created.

use serde::Serialize;

use super::{Store, StoreResult, UnknownState, now_ms, on_pool, on_writer};
use crate::statements::State;

/// How many of each a statement has.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ReactionCounts {
    pub likes: i64,
    pub boosts: i64,
    /// Approved replies: the public count.
    pub replies: i64,
    pub pending_replies: i64,
    pub quotes: i64,
}

/// Who a remote actor is, as the editor sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Author {
    /// The remote actor's id (a URL).
    pub actor: String,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// host[:port]
    pub server: String,
    pub avatar_url: Option<String>,
}

/// A like or a boost.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReactionRow {
    pub id: i64,
    /// like or boost.
    pub kind: String,
    /// The Like or Announce activity's id.
    pub activity_id: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[sqlx(flatten)]
    pub author: Author,
}

/// Where a reply stands in moderation; stored as text in `replies.state`, and this is the one place that
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
pub enum ReplyState {
    /// Waiting for an editor (organisations that approve replies).
    Pending,
    /// Shown and listed.
    Approved,
    Hidden,
}

impl ReplyState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for ReplyState {
    type Error = UnknownState;

    fn try_from(text: String) -> Result<Self, UnknownState> {
        text.parse().map_err(|_| UnknownState)
    }
}

/// Where a quote stands; stored as text in `quotes.state`, and this is the one place that
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
pub enum QuoteState {
    Accepted,
    /// Its authorisation answers 410.
    Revoked,
}

impl QuoteState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for QuoteState {
    type Error = UnknownState;

    fn try_from(text: String) -> Result<Self, UnknownState> {
        text.parse().map_err(|_| UnknownState)
    }
}

/// Where a report stands; stored as text in `reports.state`, and this is the one place that
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
pub enum ReportState {
    Open,
    Resolved,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for ReportState {
    type Error = UnknownState;

    fn try_from(text: String) -> Result<Self, UnknownState> {
        text.parse().map_err(|_| UnknownState)
    }
}

/// A remote reply to one of our statements.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Reply {
    pub id: i64,
    #[serde(skip)]
    pub statement_id: i64,
    /// The id of the statement it answers.
    pub statement: String,
    /// The reply's ActivityPub id.
    pub object_id: String,
    pub url: Option<String>,
    /// Sanitised HTML.
    pub content: String,
    pub summary: Option<String>,
    pub language: Option<String>,
    /// pending, approved or hidden.
    #[sqlx(try_from = "String")]
    pub state: ReplyState,
    /// Milliseconds since the epoch.
    pub published_at: i64,
    /// Milliseconds since the epoch.
    pub edited_at: Option<i64>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub author: Author,
}

/// A reply to store (its HTML sanitised already).
pub struct NewReply<'a> {
    pub statement_id: i64,
    pub actor_id: i64,
    pub object_id: &'a str,
    pub url: Option<&'a str>,
    pub content: &'a str,
    pub summary: Option<&'a str>,
    pub language: Option<&'a str>,
    pub state: ReplyState,
    pub published_at: i64,
}

/// A remote post quoting one of our statements.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Quote {
    pub id: i64,
    /// Names the QuoteAuthorization; the id to revoke it by.
    pub public_id: String,
    #[serde(skip)]
    pub statement_id: i64,
    /// The id of the quoted statement.
    pub statement: String,
    /// The QuoteRequest activity's id.
    pub request_id: String,
    /// The quoting post's ActivityPub id.
    pub object_id: String,
    pub url: Option<String>,
    /// Sanitised HTML.
    pub content: String,
    /// accepted or revoked.
    #[sqlx(try_from = "String")]
    pub state: QuoteState,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub revoked_at: Option<i64>,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub author: Author,
}

/// A report (Flag) from another server.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Report {
    pub id: i64,
    /// The Flag activity's id.
    pub activity_id: String,
    /// Who reported (an actor id).
    pub actor: String,
    #[serde(skip)]
    pub organisation_id: i64,
    /// The reported organisation's handle.
    pub organisation: String,
    /// The reporter's comment.
    pub content: String,
    /// JSON array of statement ids; `statements` in the API.
    #[serde(skip)]
    pub statements_json: String,
    /// open or resolved.
    #[sqlx(try_from = "String")]
    pub state: ReportState,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub resolved_at: Option<i64>,
}

/// A remote actor blocking one of our organisations.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteBlock {
    /// The blocked organisation's handle.
    pub organisation: String,
    /// The Block activity's id.
    pub activity_id: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[sqlx(flatten)]
    pub author: Author,
}

macro_rules! author_columns {
    () => {
        "r.uri AS actor, r.name, r.preferred_username, r.domain AS server, r.icon_url AS avatar_url"
    };
}

macro_rules! reply_select {
    () => {
        concat!(
            "SELECT p.id, p.statement_id, s.public_id AS statement, p.object_id, p.url, p.content, p.summary, \
             p.language, p.state, p.published_at, p.edited_at, p.created_at, ",
            author_columns!(),
            " FROM replies p JOIN remote_actors r ON r.id = p.actor_id JOIN statements s ON s.id = p.statement_id"
        )
    };
}

macro_rules! quote_select {
    () => {
        concat!(
            "SELECT q.id, q.public_id, q.statement_id, s.public_id AS statement, q.request_id, q.object_id, q.url, \
             q.content, q.state, q.created_at, q.revoked_at, ",
            author_columns!(),
            " FROM quotes q JOIN remote_actors r ON r.id = q.actor_id JOIN statements s ON s.id = q.statement_id"
        )
    };
}

impl Store {
    /// Records a like or boost of the published statement `public_id`, in
    /// one statement (the lookup of its row is part of the insert: a viral
    /// statement's reactions pay one round trip, not two). `false` if this
    /// actor's was counted already, or no published statement has that id.
    pub async fn record_reaction(
        &self,
        public_id: &str,
        kind: &str,
        actor_id: i64,
        activity_id: &str,
    ) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO reactions (statement_id, kind, actor_id, activity_id, created_at) \
                 SELECT id, $2, $3, $4, $5 FROM statements WHERE public_id = $1 AND state = $6 \
                 ON CONFLICT (statement_id, kind, actor_id) DO NOTHING",
            )
            .bind(public_id)
            .bind(kind)
            .bind(actor_id)
            .bind(activity_id)
            .bind(now_ms())
            .bind(State::Published.as_str())
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// Removes the actor's reaction of `kind` (any kind if `None`) made by
    /// the activity `activity_id`, or else of that kind on `statement_id`.
    pub async fn remove_reaction(
        &self,
        actor_id: i64,
        kind: Option<&str>,
        activity_id: &str,
        statement_id: Option<i64>,
    ) -> StoreResult<u64> {
        Ok(on_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM reactions WHERE actor_id = $1 AND ($2 IS NULL OR kind = $2) \
                 AND (activity_id = $3 OR statement_id = $4)",
            )
            .bind(actor_id)
            .bind(kind)
            .bind(activity_id)
            .bind(statement_id.filter(|_| kind.is_some()))
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?)
    }

    pub async fn reaction_counts(&self, statement_id: i64) -> StoreResult<ReactionCounts> {
        let (likes, boosts, replies, pending_replies, quotes): (i64, i64, i64, i64, i64) =
            on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT \
                     (SELECT COUNT(*) FROM reactions WHERE statement_id = $1 AND kind = 'like'), \
                     (SELECT COUNT(*) FROM reactions WHERE statement_id = $1 AND kind = 'boost'), \
                     (SELECT COUNT(*) FROM replies WHERE statement_id = $1 AND state = $2), \
                     (SELECT COUNT(*) FROM replies WHERE statement_id = $1 AND state = $3), \
                     (SELECT COUNT(*) FROM quotes WHERE statement_id = $1 AND state = $4)",
                )
                .bind(statement_id)
                .bind(ReplyState::Approved.as_str())
                .bind(ReplyState::Pending.as_str())
                .bind(QuoteState::Accepted.as_str())
                .fetch_one(&mut *pool)
                .await
            })?;
        Ok(ReactionCounts {
            likes,
            boosts,
            replies,
            pending_replies,
            quotes,
        })
    }

    /// Likes or boosts of a statement, newest first.
    pub async fn reactions(
        &self,
        statement_id: i64,
        kind: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<ReactionRow>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT x.id, x.kind, x.activity_id, x.created_at, ",
                author_columns!(),
                " FROM reactions x JOIN remote_actors r ON r.id = x.actor_id \
                 WHERE x.statement_id = $1 AND x.kind = $2 ORDER BY x.id DESC LIMIT $3 OFFSET $4"
            ))
            .bind(statement_id)
            .bind(kind)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Stores a reply; a second Create of the same post changes nothing.
    pub async fn record_reply(&self, new: NewReply<'_>) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO replies (statement_id, actor_id, object_id, url, content, summary, language, \
                 state, published_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (object_id) DO NOTHING",
            )
            .bind(new.statement_id)
            .bind(new.actor_id)
            .bind(new.object_id)
            .bind(new.url)
            .bind(new.content)
            .bind(new.summary)
            .bind(new.language)
            .bind(new.state.as_str())
            .bind(new.published_at)
            .bind(now_ms())
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// New text for the actor's own reply or quoting post `object_id`;
    /// `false` if it has none by that id.
    pub async fn edit_post(
        &self,
        actor_id: i64,
        object_id: &str,
        content: &str,
        summary: Option<&str>,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let (replies, quotes) = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let replies = sqlx::query(
                    "UPDATE replies SET content = $3, summary = $4, edited_at = $5 \
                     WHERE object_id = $1 AND actor_id = $2",
                )
                .bind(object_id)
                .bind(actor_id)
                .bind(content)
                .bind(summary)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let quotes = sqlx::query(
                    "UPDATE quotes SET content = $3 WHERE object_id = $1 AND actor_id = $2",
                )
                .bind(object_id)
                .bind(actor_id)
                .bind(content)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>((replies, quotes))
            }
            .await
        })?;
        Ok(replies + quotes > 0)
    }

    /// Removes the actor's own reply `object_id` and its quotes made by that
    /// post; `false` if it had neither.
    pub async fn delete_post(&self, actor_id: i64, object_id: &str) -> StoreResult<bool> {
        let (replies, quotes) = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let replies =
                    sqlx::query("DELETE FROM replies WHERE object_id = $1 AND actor_id = $2")
                        .bind(object_id)
                        .bind(actor_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                let quotes =
                    sqlx::query("DELETE FROM quotes WHERE object_id = $1 AND actor_id = $2")
                        .bind(object_id)
                        .bind(actor_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                tx.commit().await?;
                Ok::<_, sqlx::Error>((replies, quotes))
            }
            .await
        })?;
        Ok(replies + quotes > 0)
    }

    /// Replies by state and statement, oldest first (a moderation queue).
    pub async fn replies(
        &self,
        state: Option<ReplyState>,
        statement_id: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Reply>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                reply_select!(),
                " WHERE ($1 IS NULL OR p.state = $1) AND ($2 IS NULL OR p.statement_id = $2) \
                 ORDER BY p.id LIMIT $3 OFFSET $4"
            ))
            .bind(state.map(ReplyState::as_str))
            .bind(statement_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    pub async fn reply(&self, id: i64) -> StoreResult<Reply> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(reply_select!(), " WHERE p.id = $1"))
                .bind(id)
                .fetch_one(&mut *pool)
                .await
        })?)
    }

    /// Moves a reply to `state`; `false` if there is no such reply.
    pub async fn set_reply_state(&self, id: i64, state: ReplyState) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query("UPDATE replies SET state = $2 WHERE id = $1")
                .bind(id)
                .bind(state.as_str())
                .execute(&mut *pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    pub async fn delete_reply(&self, id: i64) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM replies WHERE id = $1")
                .bind(id)
                .execute(&mut *pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// The ids of a statement's approved replies, oldest first, and how
    /// many there are.
    pub async fn approved_replies(
        &self,
        statement_id: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT object_id FROM replies WHERE statement_id = $1 AND state = $4 \
                 ORDER BY id LIMIT $2 OFFSET $3",
            )
            .bind(statement_id)
            .bind(limit)
            .bind(offset)
            .bind(ReplyState::Approved.as_str())
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// The actors who liked or boosted a statement, oldest first.
    pub async fn reacting_actors(
        &self,
        statement_id: i64,
        kind: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT r.uri FROM reactions x JOIN remote_actors r ON r.id = x.actor_id \
                 WHERE x.statement_id = $1 AND x.kind = $2 ORDER BY x.id LIMIT $3 OFFSET $4",
            )
            .bind(statement_id)
            .bind(kind)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// The quote a QuoteRequest already made (replays, retries).
    pub async fn quote_by_request(&self, request_id: &str) -> StoreResult<Option<Quote>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(quote_select!(), " WHERE q.request_id = $1"))
                .bind(request_id)
                .fetch_optional(&mut *pool)
                .await
        })?)
    }

    /// A quote by the public id of its authorisation.
    pub async fn quote(&self, public_id: &str) -> StoreResult<Quote> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(quote_select!(), " WHERE q.public_id = $1"))
                .bind(public_id)
                .fetch_one(&mut *pool)
                .await
        })?)
    }

    pub async fn quotes(
        &self,
        statement_id: Option<i64>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Quote>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                quote_select!(),
                " WHERE ($1 IS NULL OR q.statement_id = $1) ORDER BY q.id DESC LIMIT $2 OFFSET $3"
            ))
            .bind(statement_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Stores a report; `false` if this Flag was stored before.
    pub async fn record_report(
        &self,
        activity_id: &str,
        actor_id: i64,
        actor_uri: &str,
        organisation_id: i64,
        content: &str,
        statements_json: &str,
    ) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO reports (activity_id, actor_id, actor_uri, organisation_id, content, statements, \
                 state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $8, $7) \
                 ON CONFLICT (activity_id) DO NOTHING",
            )
            .bind(activity_id)
            .bind(actor_id)
            .bind(actor_uri)
            .bind(organisation_id)
            .bind(content)
            .bind(statements_json)
            .bind(now_ms())
            .bind(ReportState::Open.as_str())
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    pub async fn reports(
        &self,
        state: Option<ReportState>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Report>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT p.id, p.activity_id, p.actor_uri AS actor, p.organisation_id, o.handle AS organisation, \
                 p.content, p.statements AS statements_json, p.state, p.created_at, p.resolved_at \
                 FROM reports p JOIN organisations o ON o.id = p.organisation_id \
                 WHERE ($1 IS NULL OR p.state = $1) ORDER BY p.id DESC LIMIT $2 OFFSET $3",
            )
            .bind(state.map(ReportState::as_str))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Marks an open report resolved; `false` if there is no open one.
    pub async fn resolve_report(&self, id: i64) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(
                "UPDATE reports SET state = $3, resolved_at = $2 WHERE id = $1 AND state = $4",
            )
            .bind(id)
            .bind(now_ms())
            .bind(ReportState::Resolved.as_str())
            .bind(ReportState::Open.as_str())
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// Records that the actor blocks the organisation, and ends its follow
    /// of it, together: it gets nothing from the organisation any more.
    pub async fn record_remote_block(
        &self,
        organisation_id: i64,
        actor_id: i64,
        activity_id: &str,
    ) -> StoreResult<()> {
        let now = now_ms();
        on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "INSERT INTO remote_blocks (organisation_id, actor_id, activity_id, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (organisation_id, actor_id) DO NOTHING",
                )
                .bind(organisation_id)
                .bind(actor_id)
                .bind(activity_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM followers WHERE organisation_id = $1 AND actor_id = $2")
                    .bind(organisation_id)
                    .bind(actor_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await
            }
            .await
        })?;
        Ok(())
    }

    /// Lifts the actor's block made by `activity_id`, or of the
    /// organisation `organisation_id`.
    pub async fn remove_remote_block(
        &self,
        actor_id: i64,
        activity_id: &str,
        organisation_id: Option<i64>,
    ) -> StoreResult<u64> {
        Ok(on_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM remote_blocks WHERE actor_id = $1 AND (activity_id = $2 OR organisation_id = $3)",
            )
            .bind(actor_id)
            .bind(activity_id)
            .bind(organisation_id)
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?)
    }

    /// Whether the actor blocks the organisation.
    pub async fn is_blocked_by(&self, organisation_id: i64, actor_id: i64) -> StoreResult<bool> {
        let n: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM remote_blocks WHERE organisation_id = $1 AND actor_id = $2",
            )
            .bind(organisation_id)
            .bind(actor_id)
            .fetch_one(&mut *pool)
            .await
        })?;
        Ok(n > 0)
    }

    pub async fn remote_blocks(&self, limit: i64, offset: i64) -> StoreResult<Vec<RemoteBlock>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT o.handle AS organisation, b.activity_id, b.created_at, ",
                author_columns!(),
                " FROM remote_blocks b JOIN remote_actors r ON r.id = b.actor_id \
                 JOIN organisations o ON o.id = b.organisation_id ORDER BY b.created_at DESC LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *pool)
            .await
        })?)
    }
}

/// The quotes' part of an outbox [`Transition`](super::Transition), on the
/// outbox's transaction: each returns how many quotes it changed (0: the
/// same post quotes the statement already, or the quote is not accepted
/// any more). Implemented for both backends' connections.
pub(super) trait QuoteWrites {
    /// A quote stored as accepted.
    #[allow(clippy::too_many_arguments)]
    async fn apply_accept_quote(
        &mut self,
        public_id: &str,
        statement_id: i64,
        actor_id: i64,
        request_id: &str,
        object_id: &str,
        url: Option<&str>,
        content: &str,
        now: i64,
    ) -> sqlx::Result<u64>;
    /// An accepted quote revoked.
    async fn apply_revoke_quote(&mut self, quote_id: i64, now: i64) -> sqlx::Result<u64>;
}

/// [`QuoteWrites`] for a backend's connection.
macro_rules! quote_writes {
    ($($connection:ty),*) => {$(
        impl QuoteWrites for $connection {
            async fn apply_accept_quote(
                &mut self,
                public_id: &str,
                statement_id: i64,
                actor_id: i64,
                request_id: &str,
                object_id: &str,
                url: Option<&str>,
                content: &str,
                now: i64,
            ) -> sqlx::Result<u64> {
                Ok(sqlx::query(
                    "INSERT INTO quotes (public_id, statement_id, actor_id, request_id, object_id, url, content, \
                     state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8) ON CONFLICT DO NOTHING",
                )
                .bind(public_id)
                .bind(statement_id)
                .bind(actor_id)
                .bind(request_id)
                .bind(object_id)
                .bind(url)
                .bind(content)
                .bind(now)
                .bind(QuoteState::Accepted.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected())
            }

            async fn apply_revoke_quote(&mut self, quote_id: i64, now: i64) -> sqlx::Result<u64> {
                Ok(sqlx::query(
                    "UPDATE quotes SET state = $3, revoked_at = $2 WHERE id = $1 AND state = $4",
                )
                .bind(quote_id)
                .bind(now)
                .bind(QuoteState::Revoked.as_str())
                .bind(QuoteState::Accepted.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected())
            }
        }
    )*};
}
quote_writes!(sqlx::SqliteConnection, sqlx::PgConnection);
