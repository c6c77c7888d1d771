//! Admin API tokens. Only SHA-256 hashes are stored; see `admin::auth`.

use super::{Store, StoreError, StoreResult, now_ms, on_pool};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AdminToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl Store {
    /// Stores a token hash under a unique name ([`StoreError::Conflict`] if taken).
    pub async fn create_token(&self, name: &str, token_hash: &str) -> StoreResult<AdminToken> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "INSERT INTO admin_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
                 RETURNING id, name, created_at, last_used_at",
            )
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .fetch_one(pool)
            .await
        })?)
    }

    /// Sets the hash of a named token, creating it when missing (the
    /// bootstrap token from the configuration).
    pub async fn upsert_token(&self, name: &str, token_hash: &str) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO admin_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash",
            )
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Deletes a token by name; [`StoreError::NotFound`] when there is none.
    pub async fn revoke_token(&self, name: &str) -> StoreResult<()> {
        let done = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM admin_tokens WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The token with this hash, if any; records its use.
    pub async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "UPDATE admin_tokens SET last_used_at = $2 WHERE token_hash = $1 \
                 RETURNING id, name, created_at, last_used_at",
            )
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await
        })?)
    }

    pub async fn tokens(&self) -> StoreResult<Vec<AdminToken>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, name, created_at, last_used_at FROM admin_tokens ORDER BY name",
            )
            .fetch_all(pool)
            .await
        })?)
    }
}
