//! Admin API tokens. Only SHA-256 hashes are stored; see `admin::auth`.

use super::{Store, StoreError, StoreResult, now_ms, on_pool, on_writer};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AdminToken {
    pub id: i64,
    pub name: String,
    /// `read`, `editor` or `admin` (`admin::auth::Scope`).
    pub scope: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// After this instant (ms) the token is refused.
    pub expires_at: Option<i64>,
}

macro_rules! token_columns {
    () => {
        "id, name, scope, created_at, last_used_at, expires_at"
    };
}

impl Store {
    /// Stores a token hash under a unique name ([`StoreError::Conflict`] if
    /// taken), with its scope and expiry.
    pub async fn create_token(
        &self,
        name: &str,
        token_hash: &str,
        scope: &str,
        expires_at: Option<i64>,
    ) -> StoreResult<AdminToken> {
        Ok(on_writer!(self, |pool| {
            sqlx::query_as(concat!(
                "INSERT INTO admin_tokens (name, token_hash, created_at, scope, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING ",
                token_columns!()
            ))
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .bind(scope)
            .bind(expires_at)
            .fetch_one(&mut *pool)
            .await
        })?)
    }

    /// Sets the hash of a named token, creating it when missing (the
    /// bootstrap token from the configuration).
    pub async fn upsert_token(&self, name: &str, token_hash: &str) -> StoreResult<()> {
        on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO admin_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash",
            )
            .bind(name)
            .bind(token_hash)
            .bind(now_ms())
            .execute(&mut *pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Deletes a token by name; [`StoreError::NotFound`] when there is none.
    pub async fn revoke_token(&self, name: &str) -> StoreResult<()> {
        let done = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM admin_tokens WHERE name = $1")
                .bind(name)
                .execute(&mut *pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The unexpired token with this hash, if any; records its use.
    pub async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminToken>> {
        Ok(on_writer!(self, |pool| {
            sqlx::query_as(concat!(
                "UPDATE admin_tokens SET last_used_at = $2 WHERE token_hash = $1 \
                 AND (expires_at IS NULL OR expires_at > $2) RETURNING ",
                token_columns!()
            ))
            .bind(token_hash)
            .bind(now_ms())
            .fetch_optional(&mut *pool)
            .await
        })?)
    }

    pub async fn tokens(&self) -> StoreResult<Vec<AdminToken>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                token_columns!(),
                " FROM admin_tokens ORDER BY name"
            ))
            .fetch_all(&mut *pool)
            .await
        })?)
    }
}
