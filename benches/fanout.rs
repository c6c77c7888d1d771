//! Fan-out benchmark: one statement from an organisation with 10,000
//! followers on 1,000 servers (shared inboxes), all on loopback.
//!
//! `cargo bench --bench fanout` starts the real `broadside` binary as its
//! own process (SQLite), 1,000 inbox servers in this one, publishes the
//! statement through the admin API and measures until every inbox has
//! verified its delivery's signature. It prints deliveries per second, the
//! total time, the server's idle and peak memory (`VmRSS`/`VmHWM`, and
//! `RssAnon` and PSS beside them), and this machine's RSA
//! signing rate measured in the same run. Sizes can be changed with
//! `FANOUT_SERVERS` and `FANOUT_FOLLOWERS_PER_SERVER`.
//!
//! `FANOUT_WORKER_PROCESSES=N` (with `BENCH_POSTGRES_URL`) runs the scaled
//! out shape instead: the web process sends nothing (`delivery_workers =
//! 0`) and N `broadside deliver` processes share the queue.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Uri},
    routing::post,
};
use broadside::store::RemoteActorData;
use tokio::sync::Notify;

mod common;

use common::{BenchServer, Memory, MemorySampler, TOKEN, env_or, memory_kb};

struct Inboxes {
    /// Ports whose inbox has verified a delivery.
    verified: Mutex<HashSet<u16>>,
    expected: usize,
    done: Notify,
    public_key_der: Vec<u8>,
    failures: Mutex<usize>,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let servers = env_or("FANOUT_SERVERS", 1_000);
    let per_server = env_or("FANOUT_FOLLOWERS_PER_SERVER", 10);
    println!(
        "fan-out benchmark: 1 statement, {} followers on {servers} servers",
        servers * per_server
    );
    let signing_rate = common::rsa_signing_rate();
    println!("RSA-2048 signing (aws-lc-rs, one core): {signing_rate:.0} signatures/s");

    // The server process, logging to a file.
    let log_level = std::env::var("FANOUT_SERVER_LOG").ok();
    let worker_processes = env_or("FANOUT_WORKER_PROCESSES", 0);
    let web_env = if worker_processes > 0 {
        assert!(
            std::env::var("BENCH_POSTGRES_URL").is_ok(),
            "worker processes share a PostgreSQL database: set BENCH_POSTGRES_URL"
        );
        vec![("BROADSIDE_DELIVERY_WORKERS", "0".to_string())]
    } else {
        vec![]
    };
    let bench = BenchServer::start_with(
        log_level.as_deref(),
        true,
        serde_json::json!({"handle": "cras", "name": "CRAS", "summary": "Benchmark"}),
        &web_env,
    )
    .await;
    let base_port: u16 = bench.host().rsplit(':').next().unwrap().parse().unwrap();
    let mut workers = Vec::new();
    for i in 0..worker_processes {
        let port = common::free_port();
        let log = std::fs::File::create(bench.dir.path().join(format!("worker{i}.log"))).unwrap();
        workers.push(common::start_process(
            "deliver",
            &bench.db_url,
            port,
            base_port,
            log_level.as_deref(),
            std::process::Stdio::from(log),
            &[],
        ));
        common::wait_for(
            &reqwest::Client::new(),
            &format!("http://127.0.0.1:{port}/readyz"),
        )
        .await;
    }
    if worker_processes > 0 {
        println!(
            "shape: 1 web process (no workers) and {worker_processes} worker processes on PostgreSQL"
        );
    }
    let (store, base) = (&bench.store, bench.base.clone());
    let http = reqwest::Client::new();
    let actor: serde_json::Value = http
        .get(format!("{base}/organisations/cras"))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = pem::parse(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap();

    // The inbox servers, and their followers in the database.
    let state = Arc::new(Inboxes {
        verified: Mutex::new(HashSet::new()),
        expected: servers,
        done: Notify::new(),
        public_key_der: pem.contents().to_vec(),
        failures: Mutex::new(0),
    });
    let organisation = store.organisation("cras").await.unwrap();
    let mut ports = Vec::with_capacity(servers);
    for _ in 0..servers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer_port = listener.local_addr().unwrap().port();
        ports.push(peer_port);
        let app = Router::new()
            .route("/inbox", post(inbox))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }
    let setup = Instant::now();
    for peer_port in &ports {
        for n in 0..per_server {
            let uri = format!("http://localhost:{peer_port}/users/u{n}");
            let actor = store
                .upsert_remote_actor(&RemoteActorData {
                    uri: uri.clone(),
                    domain: format!("localhost:{peer_port}"),
                    inbox: format!("{uri}/inbox"),
                    shared_inbox: Some(format!("http://localhost:{peer_port}/inbox")),
                    public_key_id: format!("{uri}#main-key"),
                    public_key_pem: String::new(),
                    preferred_username: Some(format!("u{n}")),
                    name: None,
                    kind: "Person".into(),
                    icon_url: None,
                })
                .await
                .unwrap();
            store
                .record_follow(organisation.id, actor.id, &format!("{uri}#follow"), true)
                .await
                .unwrap();
        }
    }
    store.checkpoint().await.unwrap();
    println!(
        "set-up: {} followers stored in {:.1} s",
        servers * per_server,
        setup.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_kb = memory_kb(&bench.process, "VmRSS");
    let idle = Memory::of(bench.process.id());
    let memory = MemorySampler::start(&bench.process, 2);
    memory.phase(1);

    // Publish and wait until every inbox has verified its delivery.
    let started = Instant::now();
    let published = http
        .post(format!("{base}/api/v1/statements"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "title": "Declaration about Kazakhstan",
            "body": include_str!("../tests/fixtures/kazakhstan.md"),
            "signatories": ["cras"],
            "publish": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 201);
    let accepted = started.elapsed();
    let finished = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let notified = state.done.notified();
            if state.verified.lock().unwrap().len() >= state.expected {
                break;
            }
            notified.await;
        }
    })
    .await;
    let total = started.elapsed();
    let peak_kb = memory_kb(&bench.process, "VmHWM");
    let peak = memory.peak(1);
    drop(memory);
    for (i, worker) in workers.iter_mut().enumerate() {
        println!(
            "worker process {i}: peak memory {:.1} MB",
            memory_kb(worker, "VmHWM") as f64 / 1024.0
        );
        let _ = worker.kill();
        let _ = worker.wait();
    }
    let verified = state.verified.lock().unwrap().len();
    let failures = *state.failures.lock().unwrap();
    let log = bench.log();
    bench.stop().await;
    if let Ok(path) = std::env::var("FANOUT_KEEP_LOG") {
        let _ = std::fs::write(path, &log);
    }
    let delivered_lines = log.lines().filter(|l| l.contains("delivered")).count();
    println!(
        "server log: {} lines, {delivered_lines} delivery lines",
        log.lines().count()
    );

    println!(
        "statement accepted by the API in {:.1} ms",
        accepted.as_secs_f64() * 1000.0
    );
    if finished.is_err() {
        println!("TIMED OUT: {verified} of {servers} inboxes verified");
    }
    println!("deliveries verified: {verified} of {servers} ({failures} failed verification)");
    println!("total time: {:.3} s", total.as_secs_f64());
    println!(
        "deliveries per second: {:.0}",
        verified as f64 / total.as_secs_f64()
    );
    println!(
        "server memory: idle {:.1} MB, peak {:.1} MB",
        idle_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0
    );
    println!(
        "server memory beside VmRSS: idle {}, peak during the fan-out {}",
        idle.anon_and_pss(),
        peak.anon_and_pss()
    );
    println!(
        "signing ceiling on this machine: {:.3} s for {servers} signatures on one core",
        servers as f64 / signing_rate
    );
}

/// Verifies the draft-cavage signature of a delivery with the
/// organisation's public key, independently of Broadside's verifier.
async fn inbox(
    State(state): State<Arc<Inboxes>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let ok = common::verify_delivery(&state.public_key_der, &uri, &headers, &body);
    let port = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    if ok {
        let mut verified = state.verified.lock().unwrap();
        verified.insert(port);
        if verified.len() >= state.expected {
            state.done.notify_waiters();
        }
    } else {
        *state.failures.lock().unwrap() += 1;
    }
    axum::http::StatusCode::ACCEPTED
}
