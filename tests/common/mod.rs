//! Test harness: a real Broadside server on loopback over a real SQLite file
//! or a fresh PostgreSQL database, and an HTTP client to talk to it.
//!
//! PostgreSQL tests use `BROADSIDE_TEST_POSTGRES_URL` (an admin connection;
//! each test creates and drops its own database). When the variable is unset
//! they try `postgres://postgres@127.0.0.1:5432/test` and say they are
//! skipped if nothing answers; when it is set, or under `CI`, failing to
//! connect fails.

#![allow(dead_code)]

pub mod browser;
pub mod peer;
pub mod process;

use std::{net::SocketAddr, time::Duration};

use broadside::{admin::auth::hash_token, app, config::Config, state::AppState, store::Store};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use url::Url;

/// Whether the tests run in CI (`CI` set and not `false`, as `.ci/run`
/// and CI services set it): there, every test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// Says a test is skipped because `what` is missing; under `CI` a missing
/// server or browser fails the run instead (`.ci/run` installs them all).
pub fn skip_unless_ci(what: &str) {
    assert!(!in_ci(), "{what}, and CI needs it (.ci/run installs it)");
    eprintln!("skipped: {what}");
}

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test; dropped (PostgreSQL) or deleted (SQLite) after.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
    /// Where servers on this database keep uploaded images.
    media: tempfile::TempDir,
}

impl TestDb {
    /// `None` when PostgreSQL is wanted but not available (and not required:
    /// neither `BROADSIDE_TEST_POSTGRES_URL` nor `CI` is set).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/broadside.db", dir.path().display());
                Some(TestDb {
                    url,
                    _dir: Some(dir),
                    pg: None,
                    media: tempfile::tempdir().expect("temp dir"),
                })
            }
            Backend::Postgres => {
                let required = std::env::var("BROADSIDE_TEST_POSTGRES_URL").ok();
                let admin_url = required.clone().unwrap_or_else(|| DEFAULT_PG.to_string());
                let mut conn = match PgConnection::connect(&admin_url).await {
                    Ok(conn) => conn,
                    Err(err) if required.is_none() => {
                        skip_unless_ci(&format!(
                            "PostgreSQL is not reachable at {admin_url} ({err})"
                        ));
                        return None;
                    }
                    Err(err) => panic!("BROADSIDE_TEST_POSTGRES_URL={admin_url}: {err}"),
                };
                let name = format!("broadside_test_{}", uuid::Uuid::new_v4().simple());
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .expect("create test database");
                let mut url = Url::parse(&admin_url).expect("postgres url");
                url.set_path(&name);
                Some(TestDb {
                    url: url.to_string(),
                    _dir: None,
                    pg: Some((admin_url, name)),
                    media: tempfile::tempdir().expect("temp dir"),
                })
            }
        }
    }
}

impl TestDb {
    /// The folder of uploaded images of servers on this database.
    pub fn media_dir(&self) -> &std::path::Path {
        self.media.path()
    }

    /// An existing SQLite file (a restored backup), left in place after.
    pub fn sqlite_at(path: &std::path::Path) -> TestDb {
        TestDb {
            url: format!("sqlite://{}", path.display()),
            _dir: None,
            pg: None,
            media: tempfile::tempdir().expect("temp dir"),
        }
    }
}

/// One row of the delivery queue, with its activity's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedDelivery {
    /// `Create`, `Accept`, `Update`, …
    pub kind: String,
    pub inbox: String,
    /// `queued`, `sending`, `delivered` or `failed`.
    pub state: String,
    /// Claims so far: a delivery sent once and recorded has 1.
    pub attempts: i64,
    pub last_error: Option<String>,
}

impl TestDb {
    /// The delivery queue as the database holds it, oldest row first: a
    /// read-only query beside the server's own pool. What a server sends
    /// is queued in the transaction of the change that causes it (the
    /// activity and its deliveries in one command), so once the change has
    /// answered, what is absent here is never sent; tests assert absence
    /// on this instead of waiting to see that nothing arrives.
    pub async fn deliveries(&self) -> Vec<QueuedDelivery> {
        const SQL: &str = "SELECT a.kind, d.inbox, d.state, CAST(d.attempts AS BIGINT), d.last_error \
                           FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                           ORDER BY d.id";
        type Row = (String, String, String, i64, Option<String>);
        let rows: Vec<Row> = if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("open the test database");
            sqlx::query_as(SQL).fetch_all(&mut conn).await
        } else {
            let mut conn = PgConnection::connect(&self.url)
                .await
                .expect("open the test database");
            sqlx::query_as(SQL).fetch_all(&mut conn).await
        }
        .expect("read the delivery queue");
        rows.into_iter()
            .map(
                |(kind, inbox, state, attempts, last_error)| QueuedDelivery {
                    kind,
                    inbox,
                    state,
                    attempts,
                    last_error,
                },
            )
            .collect()
    }

    /// The queue's deliveries of activities of `kind`.
    pub async fn deliveries_of(&self, kind: &str) -> Vec<QueuedDelivery> {
        let mut all = self.deliveries().await;
        all.retain(|d| d.kind == kind);
        all
    }

    /// Waits (up to `secs` seconds) until no delivery is queued or being
    /// sent, and returns the queue: after that, nothing more goes out
    /// until something new is queued.
    pub async fn settled_deliveries(&self, secs: u64) -> Vec<QueuedDelivery> {
        eventually(secs, || async {
            let all = self.deliveries().await;
            all.iter()
                .all(|d| d.state == "delivered" || d.state == "failed")
                .then_some(all)
        })
        .await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            // Drop runs outside async context: use a thread with its own runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin_url).await {
                        let _ = conn
                            .execute(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: Url,
    pub token: String,
    pub store: Store,
    pub state: AppState,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

pub const TOKEN: &str = "bst_test-token-for-the-test-suite-0123456789";

/// The configuration tests run with: loopback allowed, fast delivery retries.
pub fn test_config(db: &TestDb, addr: SocketAddr) -> Config {
    Config {
        base_url: Url::parse(&format!("http://{addr}")).unwrap(),
        listen: addr,
        database_url: db.url.clone(),
        media_dir: db.media_dir().display().to_string(),
        allow_private_addresses: true,
        ..Config::default()
    }
    .validated()
    .expect("test config is valid")
}

impl TestServer {
    pub async fn start(db: &TestDb) -> TestServer {
        Self::start_with(db, |_| {}).await
    }

    /// Starts a server after letting the test adjust its configuration.
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(db, listener, adjust).await
    }

    /// Starts a server where an earlier one ran (same address, so the same
    /// ActivityPub ids), as a restart would.
    pub async fn restart_at(
        db: &TestDb,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(err) => panic!("rebinding {addr}: {err}"),
            }
        };
        Self::serve(db, listener, adjust).await
    }

    async fn serve(
        db: &TestDb,
        listener: tokio::net::TcpListener,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let mut config = test_config(db, addr);
        adjust(&mut config);
        let store = Store::connect(&config.database_url).await.expect("connect");
        store.migrate().await.expect("migrate");
        // Creating the same token twice (a restart on one database) is fine.
        let _ = store.upsert_token("test", &hash_token(TOKEN)).await;
        let state = AppState::new(config.clone(), store.clone())
            .await
            .expect("state");
        let task = tokio::spawn({
            let state = state.clone();
            async move {
                app::serve(state, listener, std::future::pending())
                    .await
                    .expect("server runs");
            }
        });
        TestServer {
            addr,
            base: config.base_url.clone(),
            token: TOKEN.to_string(),
            store,
            state,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            task,
        }
    }

    /// Stops the server abruptly, as a crash would.
    pub fn kill(self) {
        self.task.abort();
    }

    pub fn url(&self, path: &str) -> String {
        self.base.join(path).unwrap().to_string()
    }

    pub fn domain(&self) -> String {
        format!("{}", self.addr)
    }

    /// An admin API call with the test token.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().await.expect("request")).await
    }

    /// An image upload (`POST /api/v1/media`, multipart) with the test
    /// token: `bytes` sent as `file_name` of type `mime`, with optional alt
    /// text and focal point.
    pub async fn upload(
        &self,
        bytes: Vec<u8>,
        file_name: &str,
        mime: &str,
        description: Option<&str>,
        focus: Option<&str>,
    ) -> (StatusCode, Value) {
        use reqwest::multipart;
        let mut form = multipart::Form::new().part(
            "file",
            multipart::Part::bytes(bytes)
                .file_name(file_name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
        if let Some(description) = description {
            form = form.text("description", description.to_string());
        }
        if let Some(focus) = focus {
            form = form.text("focus", focus.to_string());
        }
        let response = self
            .http
            .post(self.url("/api/v1/media"))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    pub async fn get_ap(&self, url: &str) -> Response {
        self.http
            .get(url)
            .header("Accept", "application/activity+json, application/ld+json")
            .send()
            .await
            .expect("request")
    }

    /// GET with ActivityPub's Accept header, as JSON.
    pub async fn ap_json(&self, url: impl AsRef<str>) -> Value {
        self.get_ap(url.as_ref()).await.json().await.expect("JSON")
    }

    /// A plain GET, as JSON.
    pub async fn json(&self, url: impl AsRef<str>) -> Value {
        self.http
            .get(url.as_ref())
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON")
    }

    /// Creates an organisation through the API and returns its JSON.
    pub async fn create_organisation(&self, handle: &str, name: &str) -> Value {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                "/organisations",
                Some(serde_json::json!({
                    "handle": handle,
                    "name": name,
                    "summary": format!("{name} signs statements."),
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

pub async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

/// Polls `check` until it returns `Some`, for up to `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("condition not met within {secs} s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs one async test body against SQLite and against PostgreSQL:
/// `both_backends!(name, |backend| async move { … });` makes `name::sqlite`
/// and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::new($crate::common::Backend::Sqlite)
                    .await
                    .unwrap();
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::common::TestDb::new($crate::common::Backend::Postgres).await
                else {
                    return;
                };
                ($body)(db).await;
            }
        }
    };
}

/// `name` on `peer` follows the organisation `handle` through the shared
/// inbox, as Mastodon does; the server answers 202.
pub async fn follow(server: &TestServer, peer: &peer::Peer, name: &str, handle: &str) {
    let follow = peer.follow(name, &server.url(&format!("/organisations/{handle}")));
    let status = peer
        .send(&server.url("/inbox"), name, &follow)
        .await
        .status();
    assert_eq!(status, StatusCode::ACCEPTED);
}

/// Waits until `peer` holds at least `n` activities of `kind`.
pub async fn received(peer: &peer::Peer, kind: &str, n: usize) -> Vec<peer::Received> {
    eventually(10, || async {
        let got = peer.received_of(kind);
        (got.len() >= n).then_some(got)
    })
    .await
}

/// An organisation created straight in `store`, with a fresh key pair.
#[allow(dead_code)]
pub async fn organisation_in(
    store: &broadside::store::Store,
    handle: &str,
) -> broadside::organisations::Organisation {
    let (private_key, public_key_pem) = broadside::keys::generate_keypair().unwrap();
    store
        .create_organisation(broadside::store::NewOrganisation {
            handle: handle.into(),
            profile: broadside::organisations::Profile {
                name: handle.to_uppercase(),
                summary: String::new(),
                website: None,
                fields: vec![],
                avatar_url: None,
                header_url: None,
                manually_approves_followers: false,
                discoverable: true,
                indexable: true,
                approve_replies: false,
            },
            public_key_pem,
            private_key,
        })
        .await
        .unwrap()
}
