//! Federation benchmark: the path a user's server meets, from outside.
//!
//! `cargo bench --bench federation` starts the release `broadside` binary as
//! its own process with the shipped configuration (`config/broadside.toml`:
//! `log = "info"`, a line per request, here to a file), and in this process
//! 1,000 loopback peer servers (distinct ports) with 10 actors each. Then:
//!
//! 1. **Follows.** Each of the 10,000 actors sends a Follow, signed the way
//!    Mastodon signs, to the organisation's inbox; the server has never seen
//!    them, so each costs a signature check, a fetch of the actor from its
//!    server, the writes and a signed Accept. The clock stops when every
//!    peer has verified its Accept's signature (aws-lc-rs, independently of
//!    Broadside's verifier).
//! 2. **Fan-out.** One statement is published through the admin API to
//!    those 10,000 followers (1,000 shared inboxes); the clock stops when
//!    every server has verified its Create. Repeated `FANOUT_RUNS` (5) times.
//!
//! The server's memory is sampled over the whole run (`VmRSS` and `RssAnon`
//! every 20 ms, PSS every 100 ms, `VmHWM` at the end), and the machine's RSA signing rate is measured in
//! the same run, before and after. `BENCH_POSTGRES_URL` (an admin URL) runs
//! it on a fresh PostgreSQL database; `BENCH_SERVER_LOG=path` keeps the
//! server's log there. `FEDERATION_SERVERS`,
//! `FEDERATION_ACTORS_PER_SERVER` and `FOLLOW_CONCURRENCY` (64) change the
//! sizes.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri},
    routing::{get, post},
};

mod common;

use common::{BenchServer, Memory, MemorySampler, env_or, mb, peer};

struct Peers {
    public_pem: String,
    organisation_key: OnceLock<Vec<u8>>,
    accepts: AtomicUsize,
    creates: Mutex<HashSet<u16>>,
    failures: AtomicUsize,
    fetches: AtomicUsize,
}

type PeerState = State<(Arc<Peers>, u16)>;

const FOLLOWS: usize = 1;
const FANOUT: usize = 2;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let servers = env_or("FEDERATION_SERVERS", 1_000);
    let per_server = env_or("FEDERATION_ACTORS_PER_SERVER", 10);
    let concurrency = env_or("FOLLOW_CONCURRENCY", 64);
    let runs = env_or("FANOUT_RUNS", 5);
    let total = servers * per_server;
    let database = if std::env::var("BENCH_POSTGRES_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "federation benchmark ({database}, shipped configuration): {total} Follows from {servers} servers, {concurrency} in flight, then {runs} statements to them"
    );
    let rate_before = common::rsa_signing_rate();
    println!("RSA-2048 signing (aws-lc-rs, one core), before: {rate_before:.0}/s");

    let peers = Arc::new(Peers {
        public_pem: peer::public_pem(),
        organisation_key: OnceLock::new(),
        accepts: AtomicUsize::new(0),
        creates: Mutex::new(HashSet::new()),
        failures: AtomicUsize::new(0),
        fetches: AtomicUsize::new(0),
    });
    let mut ports = Vec::with_capacity(servers);
    for _ in 0..servers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        ports.push(port);
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox))
            .route("/inbox", post(inbox))
            .with_state((peers.clone(), port));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    let bench = BenchServer::start(
        None,
        true,
        serde_json::json!({"handle": "cras", "name": "CRAS", "summary": "Benchmark"}),
    )
    .await;
    let memory = MemorySampler::start(&bench.process, 3);
    let base = bench.base.clone();
    peers
        .organisation_key
        .set(common::organisation_key_der(&base, "cras").await)
        .unwrap();
    let organisation = format!("{base}/organisations/cras");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();

    // Sign every Follow before the clock starts: the figure is about the
    // server, not about this client's signing.
    let inbox = format!("{organisation}/inbox");
    let follows: Vec<(String, String, serde_json::Value)> = ports
        .iter()
        .flat_map(|p| (0..per_server).map(move |n| (*p, n)))
        .map(|(port, n)| {
            let actor = format!("http://localhost:{port}/users/u{n}");
            let follow = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}#follows/1"),
                "type": "Follow",
                "actor": actor,
                "object": organisation,
            });
            (inbox.clone(), format!("{actor}#main-key"), follow)
        })
        .collect();
    let requests = common::sign_all(&http, follows);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kb = common::memory_kb(&bench.process, "VmRSS");
    let idle = Memory::of(bench.process.id());

    memory.phase(FOLLOWS);
    let split_start = common::cpu_split(bench.process.id());
    let cpu_start = split_start.0 + split_start.1;
    let harness_start = common::cpu_split(std::process::id());
    let postgres_start = common::postgres_cpu_seconds();
    let started = Instant::now();
    let answered = common::send_all(requests, concurrency).await;
    let sent = started.elapsed();
    let done = wait_until(Duration::from_secs(300), || {
        peers.accepts.load(Ordering::Relaxed) >= total
    })
    .await;
    let follows_time = started.elapsed();
    let accepts = peers.accepts.load(Ordering::Relaxed);
    let follows_peak = memory.peak_kb(FOLLOWS);
    let split = common::cpu_split(bench.process.id());
    let (follows_user, follows_system) = (split.0 - split_start.0, split.1 - split_start.1);
    let follows_cpu = follows_user + follows_system;
    let harness = common::cpu_split(std::process::id());
    let harness_cpu = harness.0 + harness.1 - harness_start.0 - harness_start.1;
    let postgres_cpu = common::postgres_cpu_seconds()
        .zip(postgres_start)
        .map(|(end, start)| end - start);

    memory.phase(FANOUT);
    let mut fanouts = Vec::new();
    for run in 0..runs {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peers.creates.lock().unwrap().clear();
        let started = Instant::now();
        common::publish(&base, "cras", &format!("Declaration {run}")).await;
        let accepted = started.elapsed();
        let done = wait_until(Duration::from_secs(120), || {
            peers.creates.lock().unwrap().len() >= servers
        })
        .await;
        let elapsed = started.elapsed();
        let verified = peers.creates.lock().unwrap().len();
        fanouts.push((elapsed, accepted, verified, done));
    }
    let fanout_cpu = common::cpu_seconds(&bench.process) - cpu_start - follows_cpu;
    let fanout_peak = memory.peak_kb(FANOUT);
    let high_water = memory.high_water_kb();
    let (follows_memory, fanout_memory) = (memory.peak(FOLLOWS), memory.peak(FANOUT));
    let run_memory = memory.run_peak();
    drop(memory);
    let rate_after = common::rsa_signing_rate();
    let log = bench.log();
    bench.stop().await;
    if let Ok(path) = std::env::var("BENCH_SERVER_LOG") {
        std::fs::write(&path, &log).unwrap();
        println!("server log written to {path}");
    }

    println!("RSA-2048 signing (aws-lc-rs, one core), after: {rate_after:.0}/s");
    println!(
        "server log: {} lines (shipped level), {} actor fetches served",
        log.lines().count(),
        peers.fetches.load(Ordering::Relaxed)
    );
    if !done {
        println!("TIMED OUT waiting for Accepts");
    }
    println!(
        "follows: {answered} of {total} answered 202 in {:.2} s; {accepts} Accepts verified; total {:.2} s = {:.0} follows/s (target ≤ 10 s)",
        sent.as_secs_f64(),
        follows_time.as_secs_f64(),
        accepts as f64 / follows_time.as_secs_f64()
    );
    // What this machine's RSA speed alone would cost: the server signs an
    // Accept and an actor fetch per Follow, and one Create per server.
    let rate = rate_before.max(rate_after);
    let follow_signing = 2.0 * total as f64 / rate;
    println!(
        "follows: server CPU {follows_cpu:.1} s over {:.1} s ({:.2} cores); its {} signatures alone take {follow_signing:.1} s on one core at this machine's rate; time = {:.2} × that",
        follows_time.as_secs_f64(),
        follows_cpu / follows_time.as_secs_f64(),
        2 * total,
        follows_time.as_secs_f64() / follow_signing
    );
    let (postgres_part, postgres_cpu) = match postgres_cpu {
        Some(cpu) => (format!("; PostgreSQL {cpu:.1} s; all three"), cpu),
        None => ("; both".to_string(), 0.0),
    };
    println!(
        "follows: server CPU {follows_user:.1} s user + {follows_system:.1} s system; this harness (1,000 peers) {harness_cpu:.1} s{postgres_part} {:.2} of the machine's {} cores",
        (follows_cpu + harness_cpu + postgres_cpu) / follows_time.as_secs_f64() / cores() as f64,
        cores()
    );
    let ceiling = servers as f64 / rate;
    for (run, (elapsed, accepted, verified, done)) in fanouts.iter().enumerate() {
        println!(
            "fan-out {}: {verified} of {servers} Creates verified in {:.3} s = {:.2} × the one-core signing ceiling (API answered in {:.1} ms){} (target ≤ 0.40 s)",
            run + 1,
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() / ceiling,
            accepted.as_secs_f64() * 1000.0,
            if *done { "" } else { " TIMED OUT" }
        );
    }
    println!(
        "fan-out: server CPU {fanout_cpu:.2} s for {runs} statements ({:.3} s each)",
        fanout_cpu / runs as f64
    );
    println!(
        "server memory: idle {}, peak during follows {}, during fan-out {}, VmHWM over the run {} (target ≤ 64 MB)",
        mb(idle_kb),
        mb(follows_peak),
        mb(fanout_peak),
        mb(high_water)
    );
    println!(
        "server memory beside VmRSS: idle {}, peak during follows {}, during fan-out {}, over the run {}",
        idle.anon_and_pss(),
        follows_memory.anon_and_pss(),
        fanout_memory.anon_and_pss(),
        run_memory.anon_and_pss()
    );
    println!(
        "signatures that failed verification at the peers: {}",
        peers.failures.load(Ordering::Relaxed)
    );
    println!(
        "signing ceiling on this machine: {servers} signatures = {:.3} s on one core",
        servers as f64 / rate_before.max(rate_after)
    );
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

async fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

async fn actor(
    State((peers, port)): PeerState,
    Path(name): Path<String>,
) -> axum::response::Response {
    peers.fetches.fetch_add(1, Ordering::Relaxed);
    let base = url::Url::parse(&format!("http://localhost:{port}")).unwrap();
    peer::actor_response(peer::actor_document(&base, &name, &peers.public_pem, true))
}

/// Verifies each delivery's signature with the organisation's key, then
/// counts Accepts, and Creates per server.
async fn inbox(
    State((peers, port)): PeerState,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let key = peers
        .organisation_key
        .get()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !common::verify_delivery(key, &uri, &headers, &body) {
        peers.failures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let activity: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match activity["type"].as_str() {
        Some("Accept") => {
            peers.accepts.fetch_add(1, Ordering::Relaxed);
        }
        Some("Create") => {
            peers.creates.lock().unwrap().insert(port);
        }
        _ => {}
    }
    StatusCode::ACCEPTED
}
