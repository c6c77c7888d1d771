//! The database: one [`Store`] for SQLite and PostgreSQL.
//!
//! The rest of the code calls `Store` methods and never learns which backend
//! runs. Each method is written once: the [`on_pool!`] macro expands the same
//! sqlx code for both pools (SQL with `$1` placeholders, `RETURNING`, integer
//! millisecond timestamps and TEXT JSON work on both). Where the databases
//! really differ, a method matches on the backend itself (the delivery queue's
//! claim uses `FOR UPDATE SKIP LOCKED` on PostgreSQL only).
//!
//! Submodules group queries by subject; each adds an `impl Store` block.
//! A change that must commit together with the activities announcing it (a
//! [`Transition`]) is applied by its subject's file on the transaction of
//! `outbox`, which queues the activities. One is about how calls reach the
//! database instead: `sqlite` (SQLite's connections, lent without sqlx's
//! pool).

mod cache;
mod editors;
mod followers;
mod hosts;
pub(crate) mod media;
mod organisations;
mod outbox;
mod queue;
mod reactions;
mod remote_actors;
mod sqlite;
mod statements;
mod tokens;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    postgres::{PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};

use sqlite::Connections;

pub use editors::*;
pub use followers::*;
pub use hosts::*;
pub use media::NewMedia;
pub use organisations::*;
pub(crate) use outbox::INSERT_CHUNK;
pub use outbox::*;
pub use queue::*;
pub use reactions::*;
pub use remote_actors::*;
pub use statements::*;
pub use tokens::*;

/// Errors of the storage layer. The HTTP layer maps them to status codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; nothing was stored.
    #[error("already exists")]
    Conflict,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::Protocol(why) if why.starts_with(media::HELD_ELSEWHERE) => {
                StoreError::Conflict
            }
            _ => StoreError::Database(err),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A state column's text that its enum does not know (each state enum's
/// `FromStr`): from user input, a refusal; from the database, corruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown state")]
pub struct UnknownState;

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// SQLite allows one writer at a time. Writes go through `writer`, one
    /// connection, so they wait their turn in this process's queue; with
    /// several connections writing, each waiting one sleeps in SQLite's
    /// busy handler (1, 2, 5, 10… ms) while the lock sits free (the
    /// federation benchmark, benches/README.md). Reads use `readers`,
    /// four read-only connections, and never wait for a writer (WAL). Both
    /// are [`sqlite::Connections`], not sqlx pools (why: there).
    Sqlite {
        readers: Arc<Connections>,
        writer: Arc<Connections>,
    },
    Postgres(PgPool),
}

/// Handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    /// Per-process copies of what every inbound request reads (`cache`).
    cache: std::sync::Arc<cache::Cache>,
    /// Notifications to other processes' workers, one at a time.
    announcements: Arc<hosts::Announcements>,
}

/// Runs the same sqlx code against whichever database the store holds:
/// `$pool` is bound to a `&mut SqliteConnection` lent by the readers or a
/// `&mut PgConnection` from the pool, for the whole body (so pass it on as
/// `&mut *pool`). The body evaluates to a `Result` whose error converts
/// from `sqlx::Error` (a closed store).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        $crate::store::on_connection!($store, readers, |$pool| $body)
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for anything that writes: SQLite's one writer connection.
macro_rules! on_writer {
    ($store:expr, |$pool:ident| $body:expr) => {
        $crate::store::on_connection!($store, writer, |$pool| $body)
    };
}
pub(crate) use on_writer;

/// Both macros: `$set` names SQLite's connections to borrow from.
macro_rules! on_connection {
    ($store:expr, $set:ident, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { $set: set, .. } => {
                $crate::store::with_connection!(set.lend().await, |$pool| $body)
            }
            $crate::store::Backend::Postgres(pg) => {
                $crate::store::with_connection!(pg.acquire().await, |$pool| $body)
            }
        }
    };
}
pub(crate) use on_connection;

/// Binds the connection a lend or an acquire gave, for the body.
macro_rules! with_connection {
    ($lent:expr, |$pool:ident| $body:expr) => {
        match $lent {
            Ok(mut lent) => {
                #[allow(unused_imports)]
                use sqlx::Connection as _;
                let $pool = &mut *lent;
                $body
            }
            Err(err) => Err(err.into()),
        }
    };
}
pub(crate) use with_connection;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects to `sqlite:…` or `postgres://…`. A SQLite file and its folder
    /// are created when missing.
    pub async fn connect(database_url: &str) -> anyhow::Result<Store> {
        let backend = if database_url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(database_url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Each connection keeps its own page cache (SQLite's default:
                // 2 MiB), all of it resident once the database outgrows it.
                // 1 MiB for the writer, a quarter of that for each reader (and
                // fewer prepared statements kept): the file's pages stay in
                // the kernel's cache either way, and the benchmarks' peak
                // memory is what we watch (benches/README.md).
                .pragma("cache_size", "-1024");
            let path = options.get_filename();
            let in_memory = path == Path::new(":memory:");
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !in_memory
            {
                std::fs::create_dir_all(dir)?;
            }
            // The writer first: it creates the file and sets WAL mode.
            let writer = Arc::new(Connections::open(&options, 1).await?);
            // An in-memory database is one per connection: there, the
            // writer reads too.
            let readers = if in_memory {
                writer.clone()
            } else {
                let options = options
                    .read_only(true)
                    .pragma("cache_size", "-256")
                    .statement_cache_capacity(64);
                Arc::new(Connections::open(&options, 4).await?)
            };
            Backend::Sqlite { readers, writer }
        } else {
            // sqlx pings a connection when it comes back to the pool (in a
            // spawned task) and, by default, again when it is lent: two
            // round trips for each call's one or two queries. The ping on
            // return stays (it catches a connection a cancelled call left
            // broken); the one on lending only finds a connection the server
            // closed while it sat idle, and that call fails once with the
            // error. Without it a Follow took 14.2 s instead of 15.3–16.1 s
            // in the federation benchmark (benches/README.md).
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(database_url)
                .await?;
            Backend::Postgres(pool)
        };
        Ok(Store {
            backend,
            cache: Default::default(),
            announcements: Default::default(),
        })
    }

    /// Applies pending migrations of the backend in use.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                SQLITE_MIGRATIONS.run(&mut *writer.lend().await?).await?
            }
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// `sqlite` or `postgres`, for logs and health output.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Answers when the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(&mut *pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Versions of this binary's migrations the database has not applied
    /// (successfully): empty when it is ready.
    pub async fn pending_migrations(&self) -> StoreResult<Vec<i64>> {
        let migrator = match &self.backend {
            Backend::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Backend::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let applied: Vec<i64> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&mut *pool)
            .await
        })
        .or_else(|err| match err {
            // Not even the migrations table: nothing is applied.
            sqlx::Error::Database(db) if db.message().contains("_sqlx_migrations") => Ok(vec![]),
            other => Err(other),
        })?;
        Ok(migrator
            .iter()
            .map(|m| m.version)
            .filter(|version| !applied.contains(version))
            .collect())
    }

    /// Writes a consistent copy of a live SQLite database to `path` (which
    /// must not exist) with `VACUUM INTO`: one read transaction, so writers
    /// carry on and the copy is the database as of its start, compacted.
    /// PostgreSQL has its own tools (`pg_dump`), named in the error.
    pub async fn backup_to(&self, path: &Path) -> anyhow::Result<()> {
        let Backend::Sqlite { readers, .. } = &self.backend else {
            anyhow::bail!(
                "`broadside backup` copies SQLite databases; for PostgreSQL use                  `pg_dump --format=custom` (see docs/operating.md)"
            );
        };
        anyhow::ensure!(!path.exists(), "{} exists already", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let target = path
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("the backup path is not UTF-8"))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&mut *readers.lend().await?)
            .await?;
        Ok(())
    }

    /// Folds SQLite's write-ahead log back into the database file, so the
    /// next commit does not pay for it (after a benchmark's bulk load; a
    /// no-op on PostgreSQL).
    #[cfg(feature = "test-support")]
    pub async fn checkpoint(&self) -> StoreResult<()> {
        if let Backend::Sqlite { writer, .. } = &self.backend {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut *writer.lend().await?)
                .await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { readers, writer } => {
                readers.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// `$first, $first+1, …` for `n` bound values in an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The schema's time format, from the leaf that owns it.
pub use crate::clock::{from_ms, now_ms};
