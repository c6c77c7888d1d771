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
    /// Starts the server with the shipped configuration (`config/broadside.toml`;
    /// `log_level` overrides its `log` when given), logging to `server.log`
    /// in its folder when `log_to_file`, else to this process's stderr.
    pub async fn start(
        log_level: Option<&str>,
        log_to_file: bool,
        organisation: serde_json::Value,
    ) -> BenchServer {
        Self::start_with(log_level, log_to_file, organisation, &[]).await
    }

    /// [`Self::start`] with more `BROADSIDE_*` variables.
    pub async fn start_with(
        log_level: Option<&str>,
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

    /// Stops the server and, on PostgreSQL, drops the run's database.
    pub async fn stop(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        self.store.close().await;
        drop_database(&self.db_url).await;
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
/// with the shipped configuration file (`config/broadside.toml`) on the
/// database at `db_url`, listening on `port`, for the instance at
/// `127.0.0.1:base_port`, with loopback federation allowed, logging as
/// shipped (or at `log`) to `stderr`, and `env` on top.
pub fn start_process(
    command: &str,
    db_url: &str,
    port: u16,
    base_port: u16,
    log: Option<&str>,
    stderr: Stdio,
    env: &[(&str, String)],
) -> Child {
    // `BENCH_BINARY` runs another build of the server (a profiling build
    // with symbols, say) under the same harness.
    let binary =
        std::env::var("BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_broadside").into());
    let mut cmd = Command::new(binary);
    cmd.arg(command)
        .env(
            "BROADSIDE_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/broadside.toml"),
        )
        .env_remove("RUST_LOG")
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
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(log) = log {
        cmd.env("BROADSIDE_LOG", log);
    }
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

/// CPU time the server process has used so far (user + system, all
/// threads), in seconds, from /proc (clock ticks of 1/100 s).
pub fn cpu_seconds(server: &Child) -> f64 {
    let (user, system) = cpu_split(server.id());
    user + system
}

/// User and system CPU seconds of process `pid` so far (`/proc/PID/stat`);
/// `std::process::id()` gives the harness's own.
pub fn cpu_split(pid: u32) -> (f64, f64) {
    proc_stat(&pid.to_string())
        .and_then(|(_, ticks)| {
            Some((
                *ticks.first()? as f64 / 100.0,
                *ticks.get(1)? as f64 / 100.0,
            ))
        })
        .unwrap_or((0.0, 0.0))
}

/// CPU seconds used so far by this machine's PostgreSQL (`BENCH_POSTGRES_URL`
/// on loopback): every process named `postgres`, with what the server's
/// ended backends used (their parent's children's time). `None` on SQLite.
pub fn postgres_cpu_seconds() -> Option<f64> {
    std::env::var("BENCH_POSTGRES_URL").ok()?;
    let ticks: u64 = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| proc_stat(entry.file_name().to_str()?))
        .filter(|(name, _)| name == "postgres")
        .map(|(_, ticks)| ticks.iter().sum::<u64>())
        .sum();
    Some(ticks as f64 / 100.0)
}

/// A process's command name and its CPU time in clock ticks (1/100 s):
/// user, system, and its waited-for children's user and system (fields
/// 14-17 of `/proc/PID/stat`, after the name in parentheses).
fn proc_stat(pid: &str) -> Option<(String, Vec<u64>)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_string();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let ticks = fields
        .get(11..15)?
        .iter()
        .map(|field| field.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    Some((name, ticks))
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

/// Drops a database [`database_url`] created on PostgreSQL (nothing to do
/// for SQLite: the file goes with its folder). A run that panics leaves
/// its `broadside_bench_*` database behind.
pub async fn drop_database(db_url: &str) {
    use sqlx::{Connection, Executor};
    let (Ok(admin), Ok(url)) = (std::env::var("BENCH_POSTGRES_URL"), url::Url::parse(db_url))
    else {
        return;
    };
    let name = url.path().trim_start_matches('/');
    if !name.starts_with("broadside_bench_") {
        return;
    }
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL");
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .expect("drop database");
}

/// RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core
/// (aws-lc-rs, what the server signs with), measured now.
pub fn rsa_signing_rate() -> f64 {
    use aws_lc_rs::{
        rand::SystemRandom,
        rsa::{KeyPair, KeySize},
        signature::RSA_PKCS1_SHA256,
    };
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let rng = SystemRandom::new();
    let mut signature = vec![0; key.public_modulus_len()];
    let n = 2_000;
    let started = std::time::Instant::now();
    for i in 0..n {
        key.sign(
            &RSA_PKCS1_SHA256,
            &rng,
            format!("message {i}").as_bytes(),
            &mut signature,
        )
        .unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Samples the server's resident memory (`VmRSS`) every 20 ms on a thread
/// of its own, keeping the highest figure per phase; `VmHWM` at the end
/// covers the whole run.
pub struct MemorySampler {
    pid: u32,
    phase: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    peaks: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl MemorySampler {
    pub fn start(server: &Child, phases: usize) -> MemorySampler {
        use std::sync::{
            Arc, Mutex,
            atomic::{AtomicBool, AtomicUsize, Ordering},
        };
        let sampler = MemorySampler {
            pid: server.id(),
            phase: Arc::new(AtomicUsize::new(0)),
            peaks: Arc::new(Mutex::new(vec![0; phases])),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (pid, phase, peaks, stop) = (
            sampler.pid,
            sampler.phase.clone(),
            sampler.peaks.clone(),
            sampler.stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let rss = proc_status_kb(pid, "VmRSS");
                let mut peaks = peaks.lock().unwrap();
                let p = phase.load(Ordering::Relaxed).min(peaks.len() - 1);
                peaks[p] = peaks[p].max(rss);
                drop(peaks);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        sampler
    }

    /// Samples from now on count for `phase`.
    pub fn phase(&self, phase: usize) {
        self.phase
            .store(phase, std::sync::atomic::Ordering::Relaxed);
    }

    /// The highest `VmRSS` seen in `phase`, in kB.
    pub fn peak_kb(&self, phase: usize) -> u64 {
        self.peaks.lock().unwrap()[phase]
    }

    /// `VmHWM`: the highest resident memory of the whole process life, in kB.
    pub fn high_water_kb(&self) -> u64 {
        proc_status_kb(self.pid, "VmHWM")
    }
}

impl Drop for MemorySampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
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

pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// One RSA key for every remote actor of a benchmark (each actor still has
/// its own keyId and document): keygen per actor would cost the harness
/// seconds of the machine's two cores.
pub struct ActorKey {
    pub key: aws_lc_rs::rsa::KeyPair,
    pub public_pem: String,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl ActorKey {
    pub fn generate() -> ActorKey {
        use aws_lc_rs::{encoding::AsDer, signature::KeyPair as _};
        let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let public_der = key.public_key().as_der().unwrap();
        let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", public_der.as_ref()));
        ActorKey {
            key,
            public_pem,
            rng: aws_lc_rs::rand::SystemRandom::new(),
        }
    }

    /// A POST of `activity` to `path` on `host` signed as `actor`'s
    /// `#main-key` the way Mastodon signs (draft-cavage, rsa-sha256).
    pub fn signed_post(
        &self,
        http: &reqwest::Client,
        base: &str,
        host: &str,
        path: &str,
        actor: &str,
        activity: &serde_json::Value,
    ) -> reqwest::RequestBuilder {
        use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
        use sha2::{Digest, Sha256};
        let body = serde_json::to_vec(activity).unwrap();
        let digest = format!("SHA-256={}", BASE64.encode(Sha256::digest(&body)));
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let signing_string =
            format!("(request-target): post {path}\nhost: {host}\ndate: {date}\ndigest: {digest}");
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &self.rng,
                signing_string.as_bytes(),
                &mut signature,
            )
            .unwrap();
        let header = format!(
            r#"keyId="{actor}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
            BASE64.encode(&signature)
        );
        http.post(format!("{base}{path}"))
            .header("Content-Type", "application/activity+json")
            .header("Date", date)
            .header("Digest", digest)
            .header("Signature", header)
            .body(body)
    }
}

/// Sends `requests` with `concurrency` in flight; the count answered 202.
pub async fn send_all(requests: Vec<reqwest::RequestBuilder>, concurrency: usize) -> usize {
    use futures::StreamExt;
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    futures::stream::iter(requests)
        .for_each_concurrent(concurrency, |request| {
            let accepted = &accepted;
            async move {
                if let Ok(r) = request.send().await
                    && r.status() == reqwest::StatusCode::ACCEPTED
                {
                    accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
        .await;
    accepted.into_inner()
}

/// Verifies a draft-cavage signature over whatever headers it names, with
/// `public_key_der`, and the body's `Digest`: independently of Broadside's
/// verifier.
pub fn verify_cavage(
    public_key_der: &[u8],
    path: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> bool {
    use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
    use sha2::{Digest, Sha256};
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let digest = format!("SHA-256={}", BASE64.encode(Sha256::digest(body)));
    if header("digest") != digest {
        return false;
    }
    let signature = header("signature");
    let param = |name: &str| {
        signature
            .split(',')
            .find_map(|p| p.trim().strip_prefix(&format!("{name}=\"")))
            .map(|s| s.trim_end_matches('"'))
    };
    let (Some(sig), Some(covered)) = (param("signature"), param("headers")) else {
        return false;
    };
    let lines: Vec<String> = covered
        .split(' ')
        .map(|h| match h {
            "(request-target)" => format!("(request-target): post {path}"),
            h => format!("{h}: {}", header(h)),
        })
        .collect();
    let Ok(sig) = BASE64.decode(sig) else {
        return false;
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key_der,
    )
    .verify(lines.join("\n").as_bytes(), &sig)
    .is_ok()
}

/// The organisation's public key (DER), as its actor document serves it.
pub async fn organisation_key_der(base: &str, handle: &str) -> Vec<u8> {
    let actor: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/organisations/{handle}"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    pem::parse(actor["publicKey"]["publicKeyPem"].as_str().unwrap())
        .unwrap()
        .contents()
        .to_vec()
}

/// Publishes a statement of `handle` through the admin API; its URL.
pub async fn publish(base: &str, handle: &str, title: &str) -> String {
    let published = reqwest::Client::new()
        .post(format!("{base}/api/v1/statements"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "title": title,
            "body": include_str!("../../tests/fixtures/kazakhstan.md"),
            "signatories": [handle],
            "publish": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 201);
    let view: serde_json::Value = published.json().await.unwrap();
    view["url"].as_str().unwrap().to_string()
}
