//! What the benchmarks share: the server as its own process, how to read
//! its memory, and the remote servers' side (the test peer's actor
//! documents, signing and signature reading, `tests/common/peer.rs`).

#![allow(dead_code)] // each benchmark uses its own subset

#[path = "../../tests/common/peer.rs"]
pub mod peer;

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
    proc_status_kb(server.id(), field)
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

/// The server's memory at one moment, in kB, from /proc: resident in all
/// (`VmRSS`), its own anonymous memory (`RssAnon`: heap, stacks, what it
/// allocated), and its proportional share (`Pss` of `smaps_rollup`: pages
/// shared with other processes, such as the binary's code and libraries,
/// counted divided among them). `VmRSS` counts the binary's clean,
/// shareable code pages in full; the other two say what one more process
/// costs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss_kb: u64,
    pub anon_kb: u64,
    pub pss_kb: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Memory {
        Memory {
            rss_kb: proc_status_kb(pid, "VmRSS"),
            anon_kb: proc_status_kb(pid, "RssAnon"),
            pss_kb: pss_kb(pid),
        }
    }

    /// Each figure's larger value.
    pub fn max(self, other: Memory) -> Memory {
        Memory {
            rss_kb: self.rss_kb.max(other.rss_kb),
            anon_kb: self.anon_kb.max(other.anon_kb),
            pss_kb: self.pss_kb.max(other.pss_kb),
        }
    }

    /// `RssAnon a / PSS p`, for the lines beside the `VmRSS` figures.
    pub fn anon_and_pss(&self) -> String {
        format!("RssAnon {} / PSS {}", mb(self.anon_kb), mb(self.pss_kb))
    }
}

/// Samples the server's memory on a thread of its own, keeping the highest
/// figure per phase: `VmRSS` and `RssAnon` every 20 ms, `Pss` every 100 ms
/// (the kernel walks the process's page tables for it, so less often).
/// `VmHWM` at the end covers the whole run for `VmRSS`; the kernel keeps
/// no such mark for the other two, so their peaks are the samples'.
pub struct MemorySampler {
    pid: u32,
    phase: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    peaks: std::sync::Arc<std::sync::Mutex<Vec<Memory>>>,
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
            peaks: Arc::new(Mutex::new(vec![Memory::default(); phases])),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (pid, phase, peaks, stop) = (
            sampler.pid,
            sampler.phase.clone(),
            sampler.peaks.clone(),
            sampler.stop.clone(),
        );
        std::thread::spawn(move || {
            let mut sample = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let now = Memory {
                    rss_kb: proc_status_kb(pid, "VmRSS"),
                    anon_kb: proc_status_kb(pid, "RssAnon"),
                    pss_kb: if sample.is_multiple_of(5) {
                        pss_kb(pid)
                    } else {
                        0
                    },
                };
                sample += 1;
                let mut peaks = peaks.lock().unwrap();
                let p = phase.load(Ordering::Relaxed).min(peaks.len() - 1);
                peaks[p] = peaks[p].max(now);
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
        self.peaks.lock().unwrap()[phase].rss_kb
    }

    /// The highest figures seen in `phase`.
    pub fn peak(&self, phase: usize) -> Memory {
        self.peaks.lock().unwrap()[phase]
    }

    /// The highest figures seen over the whole run (every phase).
    pub fn run_peak(&self) -> Memory {
        self.peaks
            .lock()
            .unwrap()
            .iter()
            .fold(Memory::default(), |all, phase| all.max(*phase))
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
    proc_field_kb(&format!("/proc/{pid}/status"), field)
}

/// `Pss` of `/proc/PID/smaps_rollup`, in kB.
fn pss_kb(pid: u32) -> u64 {
    proc_field_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// The kB figure of the line starting with `field` in a /proc file.
fn proc_field_kb(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
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

/// Whether a delivery to a peer inbox at `uri` is signed by the key
/// `public_key_der` (draft-cavage, rsa-sha256) with a matching `Digest`,
/// independently of Broadside's verifier: the test peer reads the
/// signature ([`peer::read_cavage`]); the check itself is aws-lc-rs's,
/// because a thousand peers verify in this process, on the cores the
/// server is measured on, and the test peer's `rsa` crate is several
/// times slower.
pub fn verify_delivery(
    public_key_der: &[u8],
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> bool {
    use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
    let Some(read) = peer::read_cavage(&axum::http::Method::POST, uri, headers, body) else {
        return false;
    };
    let Ok(signature) = BASE64.decode(&read.signature) else {
        return false;
    };
    read.digest_ok
        && aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            public_key_der,
        )
        .verify(read.signed.as_bytes(), &signature)
        .is_ok()
}

/// Signs one POST per `(inbox, key_id, activity)` the way Mastodon signs
/// ([`peer::signed_post`]), on every core: before the clock starts.
pub fn sign_all(
    http: &reqwest::Client,
    posts: Vec<(String, String, serde_json::Value)>,
) -> Vec<reqwest::RequestBuilder> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = posts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = posts
            .chunks(chunk)
            .map(|posts| {
                scope.spawn(move || {
                    posts
                        .iter()
                        .map(|(inbox, key_id, activity)| {
                            peer::signed_post(http, inbox, key_id, activity)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    })
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
