//! What the benchmarks share: the server as its own process, and how to
//! read its memory.

#![allow(dead_code)] // each benchmark uses its own subset

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

pub const TOKEN: &str = "bst_benchmark-token-0123456789abcdef";

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

/// Starts the release `broadside` binary on SQLite at `db_url`, with
/// loopback federation allowed, logging at `log` to `stderr`.
pub fn start_server(db_url: &str, port: u16, log: &str, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_broadside"))
        .arg("serve")
        .env("BROADSIDE_CONFIG", "/nonexistent.toml")
        .env("BROADSIDE_DATABASE_URL", db_url)
        .env("BROADSIDE_LISTEN", format!("127.0.0.1:{port}"))
        .env("BROADSIDE_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("BROADSIDE_ALLOW_PRIVATE_ADDRESSES", "true")
        .env("BROADSIDE_LOG", log)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start broadside")
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
