//! A short-lived cache of the documents other servers read most: actors and
//! WebFinger answers, serialised. Reading them costs a database query and a
//! Markdown render each; every follow, boost and delivery check makes a
//! server fetch them.
//!
//! Entries live [`TTL`] and are dropped at once when this process changes
//! the organisation; another process sharing the database serves the old
//! document for at most that long.

use std::time::Duration;

use axum::body::Bytes;
use moka::future::Cache;

pub const TTL: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Documents {
    cache: Cache<String, Bytes>,
}

impl Default for Documents {
    fn default() -> Self {
        Documents {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TTL)
                .build(),
        }
    }
}

fn actor_key(handle: &str) -> String {
    format!("actor:{}", handle.to_ascii_lowercase())
}

fn webfinger_key(handle: &str) -> String {
    format!("webfinger:{}", handle.to_ascii_lowercase())
}

impl Documents {
    pub async fn actor(&self, handle: &str) -> Option<Bytes> {
        self.cache.get(&actor_key(handle)).await
    }

    pub async fn keep_actor(&self, handle: &str, document: Bytes) {
        self.cache.insert(actor_key(handle), document).await;
    }

    pub async fn webfinger(&self, handle: &str) -> Option<Bytes> {
        self.cache.get(&webfinger_key(handle)).await
    }

    pub async fn keep_webfinger(&self, handle: &str, document: Bytes) {
        self.cache.insert(webfinger_key(handle), document).await;
    }

    /// Forgets everything about an organisation that changed.
    pub async fn forget(&self, handle: &str) {
        self.cache.invalidate(&actor_key(handle)).await;
        self.cache.invalidate(&webfinger_key(handle)).await;
    }
}
