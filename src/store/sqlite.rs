//! SQLite connections lent to one `Store` call at a time, without sqlx's
//! pool.
//!
//! sqlx runs each SQLite connection on a thread of its own and reaches it
//! through channels, so every command is a round trip between threads: two
//! switches or more. Its pool adds two such round trips to every query it
//! lends a connection for: a ping when the connection leaves the pool and
//! another, in a spawned task, when it comes back. For a file on the same
//! machine they test nothing (the connection cannot have gone away), and on
//! the viral and federation benchmarks thread switching was the largest
//! cost after RSA (benches/README.md). So a `Store` call borrows a
//! connection here for its whole body, one lock and no ping, and the
//! connection's thread sees only the queries.
//!
//! A call dropped half-way (a client that hangs up) leaves the connection
//! sound: its worker thread runs commands in order, rolls back a
//! transaction whose `BEGIN` was never acknowledged, and a dropped
//! `Transaction` queues its own rollback, all before the next borrower's
//! first query.

use std::{
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::{
    ConnectOptions, Connection,
    sqlite::{SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteRow},
};
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long a borrower waits its turn before giving up: an error the
/// caller can report beats a request that never ends.
pub const WAIT: Duration = Duration::from_secs(30);

/// A set of up to `size` connections. Borrowers wait in turn (first come,
/// first served) when all are lent.
///
/// Only the first is opened up front; the others when a borrower finds
/// every open one lent. Each connection is a thread with its own heap
/// arena, page cache and parsed schema (about 150 kB resident), and an
/// idle server that has only answered a request at a time needs one.
pub(crate) struct Connections {
    idle: Mutex<Vec<SqliteConnection>>,
    turns: Semaphore,
    size: u32,
    options: SqliteConnectOptions,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("size", &self.size)
            .field("available", &self.turns.available_permits())
            .finish()
    }
}

impl Connections {
    /// A set of up to `n` connections with `options`; the first is opened
    /// now (it creates the file, and a database that cannot be opened fails
    /// here rather than at the first request).
    pub async fn open(options: &SqliteConnectOptions, n: usize) -> sqlx::Result<Connections> {
        let first = options.connect().await?;
        Ok(Connections {
            idle: Mutex::new(vec![first]),
            turns: Semaphore::new(n.max(1)),
            size: n.max(1) as u32,
            options: options.clone(),
        })
    }

    /// A connection for the caller alone until the returned guard drops;
    /// `PoolTimedOut` after [`WAIT`] in the queue and `PoolClosed` after
    /// [`Connections::close`], as from sqlx's pool.
    pub async fn lend(&self) -> sqlx::Result<Lent<'_>> {
        let turn = tokio::time::timeout(WAIT, self.turns.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        // With a turn, fewer than `size` connections are lent: either one
        // is idle, or fewer than `size` are open and one more may be.
        let idle = self.idle.lock().expect("never poisoned").pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.options.connect().await?,
        };
        Ok(Lent {
            connection: Some(connection),
            home: self,
            _turn: turn,
        })
    }

    /// Runs `statements` (`;`-separated, sharing `arguments`) as one
    /// transaction in one command: `BEGIN IMMEDIATE; statements; COMMIT`,
    /// one round trip to the connection's thread where a sqlx transaction
    /// takes one per statement and two more. The writer is held across
    /// every round trip, and under load each costs about 0.25 ms of waiting
    /// for a thread to be scheduled, against tens of microseconds of SQLite
    /// work (benches/README.md). The rows of every statement come back.
    ///
    /// A statement that fails leaves the transaction open in SQLite (sqlx
    /// does not know of it), so it is rolled back before the connection
    /// goes back. The work runs in a task of its own: a caller that goes
    /// away (a client hanging up) cannot stop it half-way, so it ends in
    /// its `COMMIT` or in that `ROLLBACK`, never open for the next borrower.
    pub async fn transaction(
        self: &Arc<Self>,
        statements: &str,
        arguments: SqliteArguments,
    ) -> sqlx::Result<Vec<SqliteRow>> {
        let connections = Arc::clone(self);
        let script = format!("BEGIN IMMEDIATE; {statements}; COMMIT");
        tokio::spawn(async move {
            let mut connection = connections.lend().await?;
            let result = sqlx::query_with(sqlx::AssertSqlSafe(script), arguments)
                .fetch_all(&mut *connection)
                .await;
            if result.is_err() {
                // "no transaction is active" when BEGIN itself failed.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
            }
            result
        })
        .await
        .map_err(|err| sqlx::Error::Protocol(format!("the transaction's task ended: {err}")))?
    }

    /// Closes every connection once it is back (waits for borrowers); later
    /// borrowers get `PoolClosed`.
    pub async fn close(&self) {
        // Holding every turn means no connection is lent.
        let Ok(all) = self.turns.acquire_many(self.size).await else {
            return; // closed already
        };
        self.turns.close();
        let connections = std::mem::take(&mut *self.idle.lock().expect("never poisoned"));
        drop(all);
        for connection in connections {
            let _ = connection.close().await;
        }
    }
}

/// A lent connection; it goes back to its set when dropped.
pub(crate) struct Lent<'a> {
    connection: Option<SqliteConnection>,
    home: &'a Connections,
    // Declared after `connection`: the turn is given back only once the
    // connection is in the idle list again (Drop runs first).
    _turn: SemaphorePermit<'a>,
}

impl Deref for Lent<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.connection.as_ref().expect("present until drop")
    }
}

impl DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.connection.as_mut().expect("present until drop")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.home
                .idle
                .lock()
                .expect("never poisoned")
                .push(connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{str::FromStr, sync::Arc};

    use super::*;

    async fn connections(dir: &tempfile::TempDir, n: usize) -> Connections {
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        Connections::open(&options, n).await.unwrap()
    }

    #[tokio::test]
    async fn connections_are_opened_only_when_every_open_one_is_lent() {
        let dir = tempfile::tempdir().unwrap();
        let set = connections(&dir, 3).await;
        let open = |set: &Connections| set.idle.lock().unwrap().len();
        assert_eq!(open(&set), 1, "one connection up front");
        for _ in 0..3 {
            drop(set.lend().await.unwrap());
        }
        assert_eq!(open(&set), 1, "one borrower at a time needs one");
        let first = set.lend().await.unwrap();
        let second = set.lend().await.unwrap();
        drop((first, second));
        assert_eq!(open(&set), 2, "two at once opened a second, not a third");
    }

    #[tokio::test]
    async fn a_third_borrower_waits_for_a_connection_to_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let set = Arc::new(connections(&dir, 2).await);
        let first = set.lend().await.unwrap();
        let _second = set.lend().await.unwrap();
        let waiting = {
            let set = set.clone();
            tokio::spawn(async move {
                let mut third = set.lend().await.unwrap();
                sqlx::query_scalar::<_, i64>("SELECT 7")
                    .fetch_one(&mut *third)
                    .await
                    .unwrap()
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "no connection was free");
        drop(first);
        assert_eq!(waiting.await.unwrap(), 7);
    }

    async fn count(set: &Connections) -> i64 {
        let mut c = set.lend().await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *c)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_transaction_in_one_command_commits_whole_or_leaves_nothing_open() {
        let dir = tempfile::tempdir().unwrap();
        let set = Arc::new(connections(&dir, 1).await);
        let none = SqliteArguments::default;
        set.transaction("CREATE TABLE t (x INTEGER UNIQUE)", none())
            .await
            .unwrap();

        // The second statement fails: the first is undone.
        let failed = set
            .transaction("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)", none())
            .await;
        assert!(failed.is_err());
        assert_eq!(count(&set).await, 0);

        // The caller stops waiting while the command runs: it still ends in
        // its COMMIT, before the next borrower, who is in no transaction.
        let slow = "INSERT INTO t SELECT 2 WHERE (WITH RECURSIVE c (n) AS \
                    (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000000) \
                    SELECT COUNT(*) FROM c) > 0; INSERT INTO t VALUES (3)";
        let gone =
            tokio::time::timeout(Duration::from_millis(5), set.transaction(slow, none())).await;
        assert!(gone.is_err(), "the caller went away before the end");
        let mut c = set.lend().await.unwrap();
        let mut tx = c.begin().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 2);
        tx.commit().await.unwrap();

        // Arguments are shared by every statement, by number.
        drop(c);
        let mut arguments = SqliteArguments::default();
        sqlx::Arguments::add(&mut arguments, 4_i64).unwrap();
        let rows = set
            .transaction(
                "INSERT INTO t VALUES ($1); SELECT x FROM t WHERE x = $1",
                arguments,
            )
            .await
            .unwrap();
        assert_eq!(sqlx::Row::get::<i64, _>(&rows[0], 0), 4);
    }

    #[tokio::test]
    async fn a_transaction_dropped_half_way_is_rolled_back_before_the_next_borrower() {
        let dir = tempfile::tempdir().unwrap();
        let set = connections(&dir, 1).await;
        {
            let mut c = set.lend().await.unwrap();
            sqlx::query("CREATE TABLE t (x INTEGER)")
                .execute(&mut *c)
                .await
                .unwrap();
        }
        {
            let mut c = set.lend().await.unwrap();
            let mut tx = c.begin().await.unwrap();
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *tx)
                .await
                .unwrap();
            // Dropped without commit, as when a request is cancelled.
        }
        let mut c = set.lend().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(n, 0);
        // And the connection is usable for a transaction of its own.
        let mut tx = c.begin().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    #[tokio::test]
    async fn close_waits_for_the_borrower() {
        let dir = tempfile::tempdir().unwrap();
        let set = Arc::new(connections(&dir, 2).await);
        let lent = set.lend().await.unwrap();
        let closing = set.close();
        tokio::pin!(closing);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut closing)
                .await
                .is_err()
        );
        drop(lent);
        closing.await;
        assert!(matches!(set.lend().await, Err(sqlx::Error::PoolClosed)));
    }
}
