//! Uploaded images (`media`): the rows, which statement or profile uses
//! each, and the sweep of those nothing uses. The files are elsewhere
//! (`media::Files`); the store only names them.

use super::{DeliveryState, Store, StoreError, StoreResult, now_ms, on_pool, on_writer};
use crate::{media::Media, statements::State};

#[derive(sqlx::FromRow)]
struct MediaRow {
    id: i64,
    public_id: String,
    file: String,
    thumbnail: String,
    mime_type: String,
    width: i32,
    height: i32,
    blurhash: String,
    description: Option<String>,
    focus_x: Option<f64>,
    focus_y: Option<f64>,
    statement_id: Option<i64>,
    organisation_id: Option<i64>,
    created_at: i64,
}

impl From<MediaRow> for Media {
    fn from(row: MediaRow) -> Media {
        Media {
            id: row.id,
            public_id: row.public_id,
            file: row.file,
            thumbnail: row.thumbnail,
            mime_type: row.mime_type,
            width: row.width.max(0) as u32,
            height: row.height.max(0) as u32,
            blurhash: row.blurhash,
            description: row.description,
            focus: row.focus_x.zip(row.focus_y),
            statement_id: row.statement_id,
            organisation_id: row.organisation_id,
            created_at: row.created_at,
        }
    }
}

const COLUMNS: &str = "id, public_id, file, thumbnail, mime_type, width, height, blurhash, \
    description, focus_x, focus_y, statement_id, organisation_id, created_at";

/// A new upload's row.
pub struct NewMedia<'a> {
    pub public_id: &'a str,
    pub file: &'a str,
    pub thumbnail: &'a str,
    pub mime_type: &'a str,
    pub width: u32,
    pub height: u32,
    pub blurhash: &'a str,
    pub description: Option<&'a str>,
    pub focus: Option<(f64, f64)>,
}

/// The uploads' part of a statement's writes, inside the caller's
/// transaction. Implemented for both backends' connections.
pub(super) trait MediaWrites {
    /// Points a statement at its uploads, in order: those it no longer
    /// carries are let go, the others are taken if nothing else holds them.
    /// `Conflict` (through [`HELD_ELSEWHERE`]) if one is held elsewhere.
    async fn attach_media(&mut self, statement_id: i64, public_ids: &[String]) -> sqlx::Result<()>;
}

/// [`MediaWrites`] for a backend's connection.
macro_rules! media_writes {
    ($($connection:ty),*) => {$(
        impl MediaWrites for $connection {
            async fn attach_media(&mut self, statement_id: i64, public_ids: &[String]) -> sqlx::Result<()> {
                sqlx::query(
                    "UPDATE media SET statement_id = NULL, position = NULL WHERE statement_id = $1",
                )
                .bind(statement_id)
                .execute(&mut *self)
                .await?;
                for (position, public_id) in public_ids.iter().enumerate() {
                    let taken = sqlx::query(
                        "UPDATE media SET statement_id = $1, position = $2 \
                         WHERE public_id = $3 AND statement_id IS NULL AND organisation_id IS NULL",
                    )
                    .bind(statement_id)
                    .bind(position as i32)
                    .bind(public_id)
                    .execute(&mut *self)
                    .await?
                    .rows_affected();
                    if taken != 1 {
                        return Err(sqlx::Error::Protocol(format!("{HELD_ELSEWHERE}{public_id}")));
                    }
                }
                Ok(())
            }
        }
    )*};
}
media_writes!(sqlx::SqliteConnection, sqlx::PgConnection);

/// How [`MediaWrites::attach_media`] says an upload is held by another statement or
/// profile (the transaction is rolled back; the store answers `Conflict`).
pub(super) const HELD_ELSEWHERE: &str = "media held elsewhere: ";

impl Store {
    pub async fn insert_media(&self, new: NewMedia<'_>) -> StoreResult<Media> {
        let row: MediaRow = on_writer!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "INSERT INTO media (public_id, file, thumbnail, mime_type, width, height, blurhash, \
                 description, focus_x, focus_y, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {COLUMNS}"
            )))
            .bind(new.public_id)
            .bind(new.file)
            .bind(new.thumbnail)
            .bind(new.mime_type)
            .bind(new.width as i32)
            .bind(new.height as i32)
            .bind(new.blurhash)
            .bind(new.description)
            .bind(new.focus.map(|f| f.0))
            .bind(new.focus.map(|f| f.1))
            .bind(now_ms())
            .fetch_one(&mut *pool)
            .await
        })?;
        Ok(row.into())
    }

    pub async fn media(&self, public_id: &str) -> StoreResult<Media> {
        let row: MediaRow = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM media WHERE public_id = $1"
            )))
            .bind(public_id)
            .fetch_one(&mut *pool)
            .await
        })?;
        Ok(row.into())
    }

    /// New alt text and focal point (`None` leaves each as it is;
    /// `Some(None)` clears it).
    pub async fn update_media(
        &self,
        public_id: &str,
        description: Option<Option<&str>>,
        focus: Option<Option<(f64, f64)>>,
    ) -> StoreResult<Media> {
        let row: Option<MediaRow> = on_writer!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE media SET \
                 description = CASE WHEN $2 THEN $3 ELSE description END, \
                 focus_x = CASE WHEN $4 THEN $5 ELSE focus_x END, \
                 focus_y = CASE WHEN $4 THEN $6 ELSE focus_y END \
                 WHERE public_id = $1 RETURNING {COLUMNS}"
            )))
            .bind(public_id)
            .bind(description.is_some())
            .bind(description.flatten())
            .bind(focus.is_some())
            .bind(focus.flatten().map(|f| f.0))
            .bind(focus.flatten().map(|f| f.1))
            .fetch_optional(&mut *pool)
            .await
        })?;
        row.map(Media::from).ok_or(StoreError::NotFound)
    }

    /// Makes an upload `organisation_id`'s `role` (avatar or header),
    /// letting go of the one it had: both in one transaction. `Conflict` if
    /// the upload is held by a statement or another profile.
    pub async fn set_profile_media(
        &self,
        organisation_id: i64,
        role: &str,
        public_id: &str,
    ) -> StoreResult<()> {
        let taken: bool = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "UPDATE media SET organisation_id = NULL, role = NULL \
                     WHERE organisation_id = $1 AND role = $2 AND public_id <> $3",
                )
                .bind(organisation_id)
                .bind(role)
                .bind(public_id)
                .execute(&mut *tx)
                .await?;
                let taken = sqlx::query(
                    "UPDATE media SET organisation_id = $1, role = $2 WHERE public_id = $3 \
                     AND statement_id IS NULL AND (organisation_id IS NULL OR (organisation_id = $1 AND role = $2))",
                )
                .bind(organisation_id)
                .bind(role)
                .bind(public_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if taken != 1 {
                    return Ok(false);
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(true)
            }
            .await
        })?;
        if taken {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    /// Deletes an upload nothing uses; `false` if something does (or there
    /// is no such upload).
    pub async fn delete_unused_media(&self, public_id: &str) -> StoreResult<Option<Media>> {
        let row: Option<MediaRow> = on_writer!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "DELETE FROM media WHERE public_id = $1 AND statement_id IS NULL \
                 AND organisation_id IS NULL RETURNING {COLUMNS}"
            )))
            .bind(public_id)
            .fetch_optional(&mut *pool)
            .await
        })?;
        Ok(row.map(Media::from))
    }

    /// Deletes the rows nothing needs any more, and returns them: uploads
    /// nothing has used since `unused_before`, and those of deleted
    /// statements (or organisations) whose activities (the Delete among
    /// them) have all been sent or given up on — until then, servers
    /// receiving them may still fetch the images.
    pub async fn sweep_media(&self, unused_before: i64) -> StoreResult<Vec<Media>> {
        let rows: Vec<MediaRow> = on_writer!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "DELETE FROM media WHERE id IN (SELECT m.id FROM media m WHERE \
                 (m.statement_id IS NULL AND m.organisation_id IS NULL AND m.created_at < $1) \
                 OR (m.statement_id IN (SELECT s.id FROM statements s WHERE s.state = $2) \
                     AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                                     WHERE a.statement_id = m.statement_id AND d.state IN ($3, $4))) \
                 OR (m.organisation_id IN (SELECT o.id FROM organisations o WHERE o.deleted_at IS NOT NULL) \
                     AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                                     WHERE a.organisation_id = m.organisation_id AND d.state IN ($3, $4))) \
                 LIMIT 500) RETURNING {COLUMNS}"
            )))
            .bind(unused_before)
            .bind(State::Deleted.as_str())
            .bind(DeliveryState::Queued.as_str())
            .bind(DeliveryState::Sending.as_str())
            .fetch_all(&mut *pool)
            .await
        })?;
        Ok(rows.into_iter().map(Media::from).collect())
    }

    /// Whether any upload still names `file` (the same image uploaded
    /// twice shares one).
    pub async fn media_file_in_use(&self, file: &str) -> StoreResult<bool> {
        let n: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM media WHERE file = $1")
                .bind(file)
                .fetch_one(&mut *pool)
                .await
        })?;
        Ok(n > 0)
    }
}
