//! What the benchmarks share: the server as its own process, and how to
//! read its memory.

#![allow(dead_code)] // each benchmark uses its own subset

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use broadside::{admin::auth::hash_token, store::Store};

pub const TOKEN: &str = "bst_benchmark-token-0123456789abcdef";

/// A server for a benchmark: its own process on a fresh database (with an
/// admin token), and one organisation created through the API.
pub struct BenchServer {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub store: Store,
    pub process: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl BenchServer {
    /// Starts the server logging at `log_level`, to `server.log` in its
    /// folder when `log_to_file`, else to this process's stderr.
    pub async fn start(
        log_level: &str,
        log_to_file: bool,
        organisation: serde_json::Value,
    ) -> BenchServer {
        Self::start_with(log_level, log_to_file, organisation, &[]).await
    }

    /// [`Self::start`] with more `BROADSIDE_*` variables.
    pub async fn start_with(
        log_level: &str,
        log_to_file: bool,
        organisation: serde_json::Value,
        env: &[(&str, String)],
    ) -> BenchServer {
        let dir = tempfile::tempdir().unwrap();
        let db_url = database_url(dir.path()).await;
        let store = Store::connect(&db_url).await.unwrap();
        store.migrate().await.unwrap();
        store
            .upsert_token("bench", &hash_token(TOKEN))
            .await
            .unwrap();
        let port = free_port();
        let stderr = if log_to_file {
            Stdio::from(std::fs::File::create(dir.path().join("server.log")).unwrap())
        } else {
            Stdio::inherit()
        };
        let process = start_process("serve", &db_url, port, port, log_level, stderr, env);
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_for(&http, &format!("{base}/healthz")).await;
        let created = http
            .post(format!("{base}/api/v1/organisations"))
            .bearer_auth(TOKEN)
            .json(&organisation)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "creating the organisation");
        BenchServer {
            dir,
            db_url,
            store,
            process,
            base,
        }
    }

    /// `127.0.0.1:PORT`, as the Host header carries it.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// What the server logged to its file.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn stop(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the release `broadside` binary (`command`: `serve` or `deliver`)
/// on the database at `db_url`, listening on `port`, for the instance at
/// `127.0.0.1:base_port`, with loopback federation allowed, logging at
/// `log` to `stderr`, and `env` on top.
pub fn start_process(
    command: &str,
    db_url: &str,
    port: u16,
    base_port: u16,
    log: &str,
    stderr: Stdio,
    env: &[(&str, String)],
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_broadside"));
    cmd.arg(command)
        .env("BROADSIDE_CONFIG", "/nonexistent.toml")
        .env("BROADSIDE_DATABASE_URL", db_url)
        .env(
            "BROADSIDE_MEDIA_DIR",
            std::env::temp_dir().join(format!("broadside-bench-media-{port}")),
        )
        .env("BROADSIDE_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "BROADSIDE_BASE_URL",
            format!("http://127.0.0.1:{base_port}"),
        )
        .env("BROADSIDE_ALLOW_PRIVATE_ADDRESSES", "true")
        .env("BROADSIDE_LOG", log)
        .stdout(Stdio::null())
        .stderr(stderr);
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.spawn().expect("start broadside")
}

pub async fn wait_for(http: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// A memory figure of the server process from /proc (`VmRSS`, `VmHWM`), in kB.
pub fn memory_kb(server: &Child, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The database a benchmark runs on: a fresh SQLite file in `dir`, or with
/// `BENCH_POSTGRES_URL` (an admin URL) a fresh PostgreSQL database.
pub async fn database_url(dir: &std::path::Path) -> String {
    use sqlx::{Connection, Executor};
    match std::env::var("BENCH_POSTGRES_URL") {
        Ok(admin) => {
            let name = format!("broadside_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL");
            conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create database");
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            url.to_string()
        }
        Err(_) => format!("sqlite://{}/bench.db", dir.display()),
    }
}
