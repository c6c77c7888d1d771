//! Statements and their signatories.

use super::{Store, StoreResult, on_pool};

impl Store {
    /// Statements that have gone out and are not deleted (NodeInfo's `localPosts`).
    pub async fn count_published_statements(&self) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM statements WHERE state = 'published'")
                .fetch_one(pool)
                .await
        })?)
    }

    /// Published statements pinned to an organisation's featured collection.
    pub async fn count_featured_statements(&self, organisation_id: i64) -> StoreResult<i64> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM featured_statements f \
                 JOIN statements s ON s.id = f.statement_id \
                 WHERE f.organisation_id = $1 AND s.state = 'published'",
            )
            .bind(organisation_id)
            .fetch_one(pool)
            .await
        })?)
    }
}

impl Store {
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
                 WHERE f.organisation_id = $1 AND s.state = 'published' \
                 ORDER BY f.pinned_at DESC, s.id DESC LIMIT $2 OFFSET $3",
            )
            .bind(organisation_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await
        })?)
    }
}
