//! Statements, their signatories in order, and pinned statements.

use super::{Store, StoreError, StoreResult, media::MediaWrites, now_ms, on_pool, on_writer};
use crate::media::Attachment;
use crate::statements::{
    Change, Format, QuotePolicy, Rendered, State, Statement, Translation, ValidContent,
};

#[derive(sqlx::FromRow)]
struct StatementRow {
    id: i64,
    public_id: String,
    title: String,
    body: String,
    body_html: Option<String>,
    page_html: Option<String>,
    summary: Option<String>,
    content_warning: Option<String>,
    language: Option<String>,
    tags: String,
    format: String,
    original_date: Option<String>,
    disclaimer: Option<String>,
    quote_policy: String,
    translations: String,
    media: String,
    state: String,
    publish_at: Option<i64>,
    published_at: Option<i64>,
    edited_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

macro_rules! statement_columns {
    () => {
        "id, public_id, title, body, body_html, page_html, summary, content_warning, language, tags, format, \
         original_date, disclaimer, quote_policy, translations, media, state, publish_at, published_at, edited_at, created_at, updated_at"
    };
}

/// A statement to create: validated content, signatories (lead first) and
/// its initial state.
pub struct NewStatement<'a> {
    pub public_id: &'a str,
    pub content: &'a ValidContent,
    pub state: State,
    pub publish_at: Option<i64>,
    pub signatory_ids: &'a [i64],
    /// The archive key of an imported statement (unique), else `None`.
    pub import_key: Option<&'a str>,
}

/// Filters for listing statements.
#[derive(Default)]
pub struct StatementFilter {
    pub organisation_id: Option<i64>,
    pub state: Option<State>,
    pub tag: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).expect("tags serialise")
}

fn translations_json(translations: &[Translation]) -> String {
    serde_json::to_string(translations).expect("translations serialise")
}

fn media_json(media: &[Attachment]) -> String {
    serde_json::to_string(media).expect("attachments serialise")
}

fn media_ids(media: &[Attachment]) -> Vec<String> {
    media.iter().map(|m| m.id.clone()).collect()
}

/// The key a tag is matched by: `Solidarity` and `solidarity` are one tag.
pub fn tag_key(tag: &str) -> String {
    tag.to_lowercase()
}

/// Replaces a statement's rows in `statement_tags`, inside the caller's
/// transaction (a macro, private to this file: the body is compiled once
/// per backend).
macro_rules! write_tags {
    ($tx:expr, $statement_id:expr, $tags:expr) => {
        async {
            sqlx::query("DELETE FROM statement_tags WHERE statement_id = $1")
                .bind($statement_id)
                .execute(&mut *$tx)
                .await?;
            let mut keys: Vec<String> = $tags.iter().map(|t: &String| tag_key(t)).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                sqlx::query("INSERT INTO statement_tags (tag, statement_id) VALUES ($1, $2)")
                    .bind(key)
                    .bind($statement_id)
                    .execute(&mut *$tx)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        }
    };
}

/// The statements' part of an outbox [`Transition`](super::Transition), on
/// the outbox's transaction (`outbox`): each returns how many statements it
/// changed, 0 when the statement was no longer in a state the change starts
/// from (the outbox then rolls back). Implemented for both backends'
/// connections.
pub(super) trait StatementWrites {
    /// draft or scheduled → published at `at`.
    async fn apply_publish(&mut self, statement_id: i64, at: i64, now: i64) -> sqlx::Result<u64>;
    /// New content, and perhaps a new `publish_at`, while in `expected`.
    async fn apply_edit(
        &mut self,
        statement_id: i64,
        expected: State,
        content: &ValidContent,
        publish_at: Option<Option<i64>>,
        at: i64,
    ) -> sqlx::Result<u64>;
    /// published → deleted, and its reactions with it.
    async fn apply_delete(&mut self, statement_id: i64, now: i64) -> sqlx::Result<u64>;
    /// A signatory added at the end of the list, while in `expected`.
    async fn apply_add_signatory(
        &mut self,
        statement_id: i64,
        expected: State,
        organisation_id: i64,
        at: i64,
    ) -> sqlx::Result<u64>;
}

/// [`StatementWrites`] for a backend's connection.
macro_rules! statement_writes {
    ($($connection:ty),*) => {$(
        impl StatementWrites for $connection {
            async fn apply_publish(&mut self, statement_id: i64, at: i64, now: i64) -> sqlx::Result<u64> {
                Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE statements SET state = $4, published_at = $2, updated_at = $3 \
                     WHERE id = $1 AND {}",
                    Change::Publish.guard()
                )))
                .bind(statement_id)
                .bind(at)
                // Not `at`: an import is published at its original
                // date, but it changes the site now (feeds' Last-Modified).
                .bind(now)
                .bind(State::Published.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected())
            }

            async fn apply_edit(
                &mut self,
                statement_id: i64,
                expected: State,
                c: &ValidContent,
                publish_at: Option<Option<i64>>,
                at: i64,
            ) -> sqlx::Result<u64> {
                let mut changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE statements SET title = $3, body = $4, summary = $5, content_warning = $6, \
                     language = $7, tags = $8, format = $9, original_date = $10, disclaimer = $11, \
                     quote_policy = $13, body_html = $14, page_html = $15, translations = $16, media = $17, updated_at = $12, edited_at = CASE WHEN state = $18 THEN $12 ELSE edited_at END \
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
                .bind(tags_json(&c.tags))
                .bind(c.format.as_str())
                .bind(&c.original_date)
                .bind(&c.disclaimer)
                .bind(at)
                .bind(c.quote_policy.as_str())
                .bind(&c.rendered.federated)
                .bind(&c.rendered.page)
                .bind(translations_json(&c.translations))
                .bind(media_json(&c.media))
                .bind(State::Published.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected();
                if changed == 1 {
                    write_tags!(self, statement_id, &c.tags).await?;
                    self.attach_media(statement_id, &media_ids(&c.media)).await?;
                }
                if let (1, Some(publish_at)) = (changed, publish_at) {
                    changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE statements SET state = $2, publish_at = $3 WHERE id = $1 AND {}",
                        Change::Reschedule.guard()
                    )))
                    .bind(statement_id)
                    .bind(if publish_at.is_some() { State::Scheduled } else { State::Draft }.as_str())
                    .bind(publish_at)
                    .execute(&mut *self)
                    .await?
                    .rows_affected();
                }
                Ok(changed)
            }

            async fn apply_delete(&mut self, statement_id: i64, now: i64) -> sqlx::Result<u64> {
                let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE statements SET state = $3, deleted_at = $2, updated_at = $2 \
                     WHERE id = $1 AND {}",
                    Change::Withdraw.guard()
                )))
                .bind(statement_id)
                .bind(now)
                .bind(State::Deleted.as_str())
                .execute(&mut *self)
                .await?
                .rows_affected();
                if changed == 1 {
                    // Its reactions go with it.
                    for table in ["reactions", "replies", "quotes"] {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DELETE FROM {table} WHERE statement_id = $1"
                        )))
                        .bind(statement_id)
                        .execute(&mut *self)
                        .await?;
                    }
                }
                Ok(changed)
            }

            async fn apply_add_signatory(
                &mut self,
                statement_id: i64,
                expected: State,
                organisation_id: i64,
                at: i64,
            ) -> sqlx::Result<u64> {
                let changed = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE statements SET updated_at = $3, \
                     edited_at = CASE WHEN state = $4 THEN $3 ELSE edited_at END \
                     WHERE id = $1 AND state = $2 AND {}",
                    Change::Sign.guard()
                )))
                .bind(statement_id)
                .bind(expected.as_str())
                .bind(at)
                .bind(State::Published.as_str())
                .execute(&mut *self)
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
                    .execute(&mut *self)
                    .await?;
                }
                Ok(changed)
            }
        }
    )*};
}
statement_writes!(sqlx::SqliteConnection, sqlx::PgConnection);

impl Store {
    async fn hydrate(&self, row: StatementRow) -> StoreResult<Statement> {
        let signatories = self.signatories_of(row.id).await?;
        row.into_statement(signatories)
    }
}

impl StatementRow {
    fn into_statement(
        self,
        signatories: Vec<crate::organisations::Organisation>,
    ) -> StoreResult<Statement> {
        let row = self;
        let corrupt = |what: &str| StoreError::Corrupt(format!("statement {} {what}", row.id));
        // Rows written before bodies were rendered on write.
        let rendered = match (row.body_html, row.page_html) {
            (Some(federated), Some(page)) => Rendered { federated, page },
            _ => Rendered::of(&row.body),
        };
        Ok(Statement {
            content: ValidContent {
                rendered,
                tags: serde_json::from_str(&row.tags).map_err(|_| corrupt("tags"))?,
                translations: serde_json::from_str(&row.translations)
                    .map_err(|_| corrupt("translations"))?,
                media: serde_json::from_str(&row.media).map_err(|_| corrupt("media"))?,
                format: Format::parse(&row.format).ok_or_else(|| corrupt("format"))?,
                quote_policy: QuotePolicy::parse(&row.quote_policy)
                    .ok_or_else(|| corrupt("quote_policy"))?,
                title: row.title,
                body: row.body,
                summary: row.summary,
                content_warning: row.content_warning,
                language: row.language,
                original_date: row.original_date,
                disclaimer: row.disclaimer,
            },
            state: State::parse(&row.state).ok_or_else(|| corrupt("state"))?,
            id: row.id,
            public_id: row.public_id,
            publish_at: row.publish_at,
            published_at: row.published_at,
            edited_at: row.edited_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            signatories,
        })
    }
}

impl Store {
    /// Creates a statement with its signatories, in one transaction.
    pub async fn create_statement(&self, new: NewStatement<'_>) -> StoreResult<Statement> {
        let now = now_ms();
        let c = new.content;
        let id: i64 = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO statements (public_id, title, body, summary, content_warning, language, tags, \
                     format, original_date, disclaimer, state, publish_at, created_at, updated_at, quote_policy, \
                     body_html, page_html, import_key, translations, media) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18, $19) RETURNING id",
                )
                .bind(new.public_id)
                .bind(&c.title)
                .bind(&c.body)
                .bind(&c.summary)
                .bind(&c.content_warning)
                .bind(&c.language)
                .bind(tags_json(&c.tags))
                .bind(c.format.as_str())
                .bind(&c.original_date)
                .bind(&c.disclaimer)
                .bind(new.state.as_str())
                .bind(new.publish_at)
                .bind(now)
                .bind(c.quote_policy.as_str())
                .bind(&c.rendered.federated)
                .bind(&c.rendered.page)
                .bind(new.import_key)
                .bind(translations_json(&c.translations))
                .bind(media_json(&c.media))
                .fetch_one(&mut *tx)
                .await?;
                tx.attach_media(id, &media_ids(&c.media)).await?;
                write_tags!(tx, id, &c.tags).await?;
                for (position, organisation_id) in new.signatory_ids.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO statement_signatories (statement_id, organisation_id, position, added_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(organisation_id)
                    .bind(position as i32)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(id)
            }
            .await
        })?;
        self.statement_by_id(id).await
    }

    pub async fn statement_by_id(&self, id: i64) -> StoreResult<Statement> {
        let row: StatementRow = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                statement_columns!(),
                " FROM statements WHERE id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *pool)
            .await
        })?;
        self.hydrate(row).await
    }

    /// The row id of the statement `public_id` if it is published: what a
    /// like or boost needs, in one query that reads none of its text.
    pub async fn published_statement_id(&self, public_id: &str) -> StoreResult<Option<i64>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM statements WHERE public_id = $1 AND state = $2")
                .bind(public_id)
                .bind(State::Published.as_str())
                .fetch_optional(&mut *pool)
                .await
        })?)
    }

    /// A statement by its public id, in any state.
    pub async fn statement(&self, public_id: &str) -> StoreResult<Statement> {
        let row: StatementRow = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                statement_columns!(),
                " FROM statements WHERE public_id = $1"
            ))
            .bind(public_id)
            .fetch_one(&mut *pool)
            .await
        })?;
        self.hydrate(row).await
    }

    /// The statement imported under `key`, in any state, if there is one.
    pub async fn statement_by_import_key(&self, key: &str) -> StoreResult<Option<Statement>> {
        let row: Option<StatementRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                statement_columns!(),
                " FROM statements WHERE import_key = $1"
            ))
            .bind(key)
            .fetch_optional(&mut *pool)
            .await
        })?;
        match row {
            Some(row) => Ok(Some(self.hydrate(row).await?)),
            None => Ok(None),
        }
    }

    /// Statements, newest first, filtered by signatory, state and tag.
    pub async fn statements(&self, filter: &StatementFilter) -> StoreResult<Vec<Statement>> {
        let tag = filter.tag.as_deref().map(tag_key);
        let rows: Vec<StatementRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                statement_columns!(),
                " FROM statements s WHERE ($1 IS NULL OR EXISTS (SELECT 1 FROM statement_signatories ss \
                 WHERE ss.statement_id = s.id AND ss.organisation_id = $1)) \
                 AND ($2 IS NULL OR s.state = $2) AND ($3 IS NULL OR EXISTS (SELECT 1 FROM statement_tags t WHERE t.tag = $3 AND t.statement_id = s.id)) \
                 ORDER BY COALESCE(s.published_at, s.created_at) DESC, s.id DESC LIMIT $4 OFFSET $5"
            ))
            .bind(filter.organisation_id)
            .bind(filter.state.map(State::as_str))
            .bind(&tag)
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&mut *pool)
            .await
        })?;
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let mut signatories = self.signatories_of_many(&ids).await?;
        rows.into_iter()
            .map(|row| {
                let signed = signatories.remove(&row.id).unwrap_or_default();
                row.into_statement(signed)
            })
            .collect()
    }

    /// When any statement or organisation last changed (created, edited,
    /// published, deleted): an upper bound for everything a feed shows,
    /// so a feed's `Last-Modified` is never older than its content.
    pub async fn last_change(&self) -> StoreResult<i64> {
        let latest: Option<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT MAX(t) FROM (SELECT MAX(updated_at) AS t FROM statements \
                 UNION ALL SELECT MAX(updated_at) AS t FROM organisations) AS changes",
            )
            .fetch_one(&mut *pool)
            .await
        })?;
        Ok(latest.unwrap_or(0))
    }

    /// Deletes a statement that never went out (draft or scheduled): there is
    /// nobody to tell, so the row goes to the `deleted` state directly.
    pub async fn discard_statement(&self, id: i64) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE statements SET state = $3, deleted_at = $2, updated_at = $2, import_key = NULL \
                 WHERE id = $1 AND {}",
                Change::Discard.guard()
            )))
            .bind(id)
            .bind(now_ms())
            .bind(State::Deleted.as_str())
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows > 0)
    }

    /// Public ids of scheduled statements whose time has come.
    pub async fn due_statements(&self, now: i64) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT public_id FROM statements WHERE state = $2 AND publish_at <= $1 \
                 ORDER BY publish_at LIMIT 100",
            )
            .bind(now)
            .bind(State::Scheduled.as_str())
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Every inbox any activity about this statement was queued for: where
    /// its Update and Delete must go.
    pub async fn statement_inboxes(&self, statement_id: i64) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT d.inbox FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                 WHERE a.statement_id = $1 ORDER BY d.inbox",
            )
            .bind(statement_id)
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Statements that have gone out and are not deleted (NodeInfo's `localPosts`).
    pub async fn count_published_statements(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM statements WHERE state = $1")
                .bind(State::Published.as_str())
                .fetch_one(&mut *pool)
                .await
        })?)
    }

    /// Pins a statement to an organisation's featured collection.
    pub async fn pin(&self, organisation_id: i64, statement_id: i64) -> StoreResult<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO featured_statements (organisation_id, statement_id, pinned_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (organisation_id, statement_id) DO NOTHING",
            )
            .bind(organisation_id)
            .bind(statement_id)
            .bind(now_ms())
            .execute(&mut *pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn unpin(&self, organisation_id: i64, statement_id: i64) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(
                "DELETE FROM featured_statements WHERE organisation_id = $1 AND statement_id = $2",
            )
            .bind(organisation_id)
            .bind(statement_id)
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows > 0)
    }

    /// Published statements pinned to an organisation's featured collection.
    pub async fn count_featured_statements(&self, organisation_id: i64) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM featured_statements f \
                 JOIN statements s ON s.id = f.statement_id \
                 WHERE f.organisation_id = $1 AND s.state = $2",
            )
            .bind(organisation_id)
            .bind(State::Published.as_str())
            .fetch_one(&mut *pool)
            .await
        })?)
    }

    /// Public ids of the published statements pinned by an organisation,
    /// most recently pinned first.
    pub async fn featured(
        &self,
        organisation_id: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT s.public_id FROM featured_statements f \
                 JOIN statements s ON s.id = f.statement_id \
                 WHERE f.organisation_id = $1 AND s.state = $4 \
                 ORDER BY f.pinned_at DESC, s.id DESC LIMIT $2 OFFSET $3",
            )
            .bind(organisation_id)
            .bind(limit)
            .bind(offset)
            .bind(State::Published.as_str())
            .fetch_all(&mut *pool)
            .await
        })?)
    }
}
