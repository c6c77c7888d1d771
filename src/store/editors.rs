//! Editor accounts, browser sessions (by the hash of their id) and failed
//! sign-ins. The rules — password strength, hashing, expiry, limits — are in
//! `services::editors`; this module only stores.

use serde::Serialize;

use super::{Store, StoreResult, now_ms, on_pool, on_writer};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Editor {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
}

/// A signed-in browser, as found by its cookie.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub editor_id: Option<i64>,
    pub label: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn create_editor(&self, username: &str, password_hash: &str) -> StoreResult<Editor> {
        Ok(on_writer!(self, |pool| {
            sqlx::query_as(
                "INSERT INTO editors (username, username_key, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id, username, password_hash, created_at",
            )
            .bind(username)
            .bind(username.to_lowercase())
            .bind(password_hash)
            .bind(now_ms())
            .fetch_one(&mut *pool)
            .await
        })?)
    }

    pub async fn editor_by_name(&self, username: &str) -> StoreResult<Option<Editor>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, username, password_hash, created_at FROM editors WHERE username_key = $1",
            )
            .bind(username.to_lowercase())
            .fetch_optional(&mut *pool)
            .await
        })?)
    }

    pub async fn editors(&self) -> StoreResult<Vec<Editor>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, username, password_hash, created_at FROM editors ORDER BY username_key",
            )
            .fetch_all(&mut *pool)
            .await
        })?)
    }

    /// Replaces a password and ends every session of that editor.
    pub async fn set_editor_password(&self, id: i64, password_hash: &str) -> StoreResult<bool> {
        let changed = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query("UPDATE editors SET password_hash = $2 WHERE id = $1")
                    .bind(id)
                    .bind(password_hash)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM sessions WHERE editor_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(changed)
            }
            .await
        })?;
        Ok(changed == 1)
    }

    /// Deletes an editor; their sessions go with them (ON DELETE CASCADE).
    pub async fn delete_editor(&self, username: &str) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM editors WHERE username_key = $1")
                .bind(username.to_lowercase())
                .execute(&mut *pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    pub async fn create_session(
        &self,
        id_hash: &str,
        editor_id: Option<i64>,
        label: &str,
        csrf_token: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        let now = now_ms();
        on_writer!(self, |pool| {
            async {
                // Expired sessions are swept as new ones begin.
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *pool)
                    .await?;
                sqlx::query(
                    "INSERT INTO sessions (id_hash, editor_id, label, csrf_token, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id_hash)
                .bind(editor_id)
                .bind(label)
                .bind(csrf_token)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *pool)
                .await
                .map(|_| ())
            }
            .await
        })?;
        Ok(())
    }

    /// The live session with this hash, if any.
    pub async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT editor_id, label, csrf_token, expires_at FROM sessions \
                 WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash)
            .bind(now_ms())
            .fetch_optional(&mut *pool)
            .await
        })?)
    }

    pub async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        on_writer!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(&mut *pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Records a failed sign-in and forgets those older than `since`.
    pub async fn record_failed_login(
        &self,
        client: &str,
        username: &str,
        since: i64,
    ) -> StoreResult<()> {
        on_writer!(self, |pool| {
            async {
                sqlx::query("DELETE FROM failed_logins WHERE at < $1")
                    .bind(since)
                    .execute(&mut *pool)
                    .await?;
                sqlx::query(
                    "INSERT INTO failed_logins (client, username_key, at) VALUES ($1, $2, $3)",
                )
                .bind(client)
                .bind(username.to_lowercase())
                .bind(now_ms())
                .execute(&mut *pool)
                .await
                .map(|_| ())
            }
            .await
        })?;
        Ok(())
    }

    /// Failed sign-ins since `since` from this client, and for this name.
    pub async fn failed_logins(
        &self,
        client: &str,
        username: &str,
        since: i64,
    ) -> StoreResult<(i64, i64)> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM failed_logins WHERE client = $1 AND at >= $3), \
                 (SELECT COUNT(*) FROM failed_logins WHERE username_key = $2 AND at >= $3)",
            )
            .bind(client)
            .bind(username.to_lowercase())
            .bind(since)
            .fetch_one(&mut *pool)
            .await
        })?)
    }
}
