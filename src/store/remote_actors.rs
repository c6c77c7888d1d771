//! Remote actors (their inboxes and cached keys), domain blocks and the
//! record of activity ids already processed.

use super::{
    INSERT_CHUNK, Store, StoreResult, now_ms, on_pool, on_writer, placeholders, queue::QueueWrites,
};
use std::sync::Arc;

use crate::domains::BlockList;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteActor {
    pub id: i64,
    pub uri: String,
    pub domain: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_id: String,
    pub public_key_pem: String,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub kind: String,
    pub icon_url: Option<String>,
    pub fetched_at: i64,
}

impl RemoteActor {
    /// Where deliveries for this actor go: its server's shared inbox if it
    /// has one, so a server with many followers gets one request.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

/// What we learned from fetching an actor document.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteActorData {
    pub uri: String,
    pub domain: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_id: String,
    pub public_key_pem: String,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub kind: String,
    /// The avatar, as the actor document names it.
    pub icon_url: Option<String>,
}

/// A server we refuse to federate with, and its subdomains.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DomainBlock {
    /// The domain in its normal form (lower case, punycode, no trailing dot).
    pub domain: String,
    pub reason: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

macro_rules! actor_columns {
    () => {
        "id, uri, domain, inbox, shared_inbox, public_key_id, public_key_pem, \
         preferred_username, name, kind, icon_url, fetched_at"
    };
}

/// Inserts or refreshes an actor by URI ($1–$10 the columns of
/// `RemoteActorData` in order, $11 now), returning it as stored.
const UPSERT_ACTOR: &str = concat!(
    "INSERT INTO remote_actors (uri, domain, inbox, shared_inbox, public_key_id, \
     public_key_pem, preferred_username, name, kind, icon_url, fetched_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
     ON CONFLICT (uri) DO UPDATE SET domain = excluded.domain, inbox = excluded.inbox, \
     shared_inbox = excluded.shared_inbox, public_key_id = excluded.public_key_id, \
     public_key_pem = excluded.public_key_pem, \
     preferred_username = excluded.preferred_username, name = excluded.name, \
     kind = excluded.kind, fetched_at = excluded.fetched_at, icon_url = excluded.icon_url \
     RETURNING ",
    actor_columns!()
);

impl Store {
    /// Inserts or refreshes an actor by its URI.
    pub async fn upsert_remote_actor(&self, a: &RemoteActorData) -> StoreResult<RemoteActor> {
        let now = now_ms();
        Ok(on_writer!(self, |pool| {
            sqlx::query_as(UPSERT_ACTOR)
                .bind(&a.uri)
                .bind(&a.domain)
                .bind(&a.inbox)
                .bind(&a.shared_inbox)
                .bind(&a.public_key_id)
                .bind(&a.public_key_pem)
                .bind(&a.preferred_username)
                .bind(&a.name)
                .bind(&a.kind)
                .bind(&a.icon_url)
                .bind(now)
                .fetch_one(&mut *pool)
                .await
        })?)
    }

    pub async fn remote_actor(&self, uri: &str) -> StoreResult<Option<RemoteActor>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                actor_columns!(),
                " FROM remote_actors WHERE uri = $1"
            ))
            .bind(uri)
            .fetch_optional(&mut *pool)
            .await
        })?)
    }

    /// The actor whose key is `key_id`, if we know it.
    pub async fn remote_actor_by_key(&self, key_id: &str) -> StoreResult<Option<RemoteActor>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                actor_columns!(),
                " FROM remote_actors WHERE public_key_id = $1 ORDER BY fetched_at DESC LIMIT 1"
            ))
            .bind(key_id)
            .fetch_optional(&mut *pool)
            .await
        })?)
    }

    /// Forgets an actor and, through the foreign key, its follows.
    pub async fn delete_remote_actor(&self, uri: &str) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM remote_actors WHERE uri = $1")
                .bind(uri)
                .execute(&mut *pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(rows > 0)
    }

    /// Records an activity id; false if it was already recorded, so the
    /// caller must not act on it again.
    pub async fn record_received_activity(&self, activity_id: &str) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query(
                "INSERT INTO received_activities (activity_id, received_at) VALUES ($1, $2) \
                 ON CONFLICT (activity_id) DO NOTHING",
            )
            .bind(activity_id)
            .bind(now_ms())
            .execute(&mut *pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// Forgets a recorded activity id, when acting on it failed and the
    /// sender should be able to retry.
    pub async fn forget_received_activity(&self, activity_id: &str) -> StoreResult<()> {
        on_writer!(self, |pool| {
            sqlx::query("DELETE FROM received_activities WHERE activity_id = $1")
                .bind(activity_id)
                .execute(&mut *pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Blocks a domain (in normal form), and in the same transaction
    /// removes every follower on a server it covers and drops the
    /// deliveries still queued or in flight to such servers. Which servers
    /// it covers is decided by `domains::covers` alone, over the distinct
    /// hosts we know, never by SQL string matching.
    pub async fn block_domain(&self, domain: &str, reason: &str) -> StoreResult<DomainBlock> {
        let covered = |hosts: Vec<String>| -> Vec<String> {
            hosts
                .into_iter()
                .filter(|host| crate::domains::covers(domain, host))
                .collect()
        };
        let block = on_writer!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let now = now_ms();
                let block: DomainBlock = sqlx::query_as(
                    "INSERT INTO domain_blocks (domain, reason, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (domain) DO UPDATE SET reason = excluded.reason \
                     RETURNING domain, reason, created_at",
                )
                .bind(domain)
                .bind(reason)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let actor_domains = covered(
                    sqlx::query_scalar("SELECT DISTINCT domain FROM remote_actors")
                        .fetch_all(&mut *tx)
                        .await?,
                );
                for chunk in actor_domains.chunks(INSERT_CHUNK) {
                    let sql = format!(
                        "DELETE FROM followers WHERE actor_id IN \
                         (SELECT id FROM remote_actors WHERE domain IN ({}))",
                        placeholders(1, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for host in chunk {
                        query = query.bind(host);
                    }
                    query.execute(&mut *tx).await?;
                }
                let delivery_hosts = covered(tx.waiting_hosts().await?);
                tx.fail_waiting_for(&delivery_hosts, "domain blocked", now)
                    .await?;
                tx.commit().await?;
                Ok::<_, sqlx::Error>(block)
            }
            .await
        })?;
        self.cache.blocks.forget();
        Ok(block)
    }

    pub async fn unblock_domain(&self, domain: &str) -> StoreResult<bool> {
        let rows = on_writer!(self, |pool| {
            sqlx::query("DELETE FROM domain_blocks WHERE domain = $1")
                .bind(domain)
                .execute(&mut *pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        self.cache.blocks.forget();
        Ok(rows > 0)
    }

    pub async fn domain_blocks(&self) -> StoreResult<Vec<DomainBlock>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as("SELECT domain, reason, created_at FROM domain_blocks ORDER BY domain")
                .fetch_all(&mut *pool)
                .await
        })?)
    }

    /// Every domain block, ready to ask (`domains::BlockList`): this
    /// process's copy, at most `cache::MAX_AGE` old.
    pub async fn block_list(&self) -> StoreResult<Arc<BlockList>> {
        self.cache
            .blocks
            .get_or_read((), async {
                let entries = on_pool!(self, |pool| {
                    sqlx::query_scalar("SELECT domain FROM domain_blocks")
                        .fetch_all(&mut *pool)
                        .await
                })?;
                Ok(Arc::new(BlockList::new(entries)))
            })
            .await
    }

    /// Whether a block covers the server `domain` (`host[:port]`).
    pub async fn is_domain_blocked(&self, domain: &str) -> StoreResult<bool> {
        Ok(self.block_list().await?.blocks(domain))
    }
}
