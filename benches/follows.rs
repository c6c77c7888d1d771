//! Follow benchmark: 10,000 signed Follows from 10,000 new actors on 100
//! servers, all on loopback, until every Accept has arrived.
//!
//! `cargo bench --bench follows` starts the real `broadside` binary (SQLite)
//! and, in this process, 100 servers that serve the actors' documents and
//! receive the Accepts. Every Follow is signed the way Mastodon signs, so
//! each one costs the server a signature check, an actor fetch, the writes
//! and a signed Accept. Prints follows per second, total time and the
//! server's peak memory. `FOLLOW_SERVERS` and `FOLLOW_ACTORS_PER_SERVER`
//! change the sizes; `FOLLOW_CONCURRENCY` the requests in flight.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    rsa::{KeyPair, KeySize},
    signature::{KeyPair as _, RSA_PKCS1_SHA256},
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use futures::StreamExt;
use sha2::{Digest, Sha256};

mod common;

use common::{BenchServer, env_or, memory_kb};

struct Peers {
    public_pem: String,
    accepts: AtomicUsize,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let servers = env_or("FOLLOW_SERVERS", 100);
    let per_server = env_or("FOLLOW_ACTORS_PER_SERVER", 100);
    let concurrency = env_or("FOLLOW_CONCURRENCY", 64);
    let total = servers * per_server;
    println!("follow benchmark: {total} Follows from {servers} servers, {concurrency} in flight");

    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let public_der = key.public_key().as_der().unwrap();
    let public_pem = pem::encode(&pem::Pem::new("PUBLIC KEY", public_der.as_ref()));
    let peers = Arc::new(Peers {
        public_pem,
        accepts: AtomicUsize::new(0),
    });
    let mut ports = Vec::with_capacity(servers);
    for _ in 0..servers {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox))
            .route("/inbox", post(inbox))
            .with_state(peers.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    }

    let bench = BenchServer::start(
        "warn",
        false,
        serde_json::json!({"handle": "cras", "name": "CRAS", "summary": "Benchmark"}),
    )
    .await;
    let base = bench.base.clone();
    let host = bench.host().to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let organisation = format!("{base}/organisations/cras");
    let inbox_url = format!("{base}/organisations/cras/inbox");

    // Sign every Follow before the clock starts: the figure is about the
    // server, not about this client's signing.
    let rng = SystemRandom::new();
    let requests: Vec<reqwest::RequestBuilder> = ports
        .iter()
        .flat_map(|p| (0..per_server).map(move |n| (*p, n)))
        .map(|(peer_port, n)| {
            let actor = format!("http://localhost:{peer_port}/users/u{n}");
            let body = serde_json::to_vec(&serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}#follows/1"),
                "type": "Follow",
                "actor": actor,
                "object": organisation,
            }))
            .unwrap();
            let digest = format!("SHA-256={}", BASE64.encode(Sha256::digest(&body)));
            let date = httpdate::fmt_http_date(SystemTime::now());
            let signing_string = format!(
                "(request-target): post /organisations/cras/inbox\nhost: {host}\ndate: {date}\ndigest: {digest}"
            );
            let mut signature = vec![0; key.public_modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &rng, signing_string.as_bytes(), &mut signature).unwrap();
            let header = format!(
                r#"keyId="{actor}#main-key",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
                BASE64.encode(&signature)
            );
            http.post(&inbox_url)
                .header("Content-Type", "application/activity+json")
                .header("Date", date)
                .header("Digest", digest)
                .header("Signature", header)
                .body(body)
        })
        .collect();
    let refused = AtomicUsize::new(0);
    let started = Instant::now();
    futures::stream::iter(requests)
        .for_each_concurrent(concurrency, |request| {
            let refused = &refused;
            async move {
                match request.send().await {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => {}
                    _ => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
        .await;
    let sent = started.elapsed();
    let done = tokio::time::timeout(Duration::from_secs(300), async {
        while peers.accepts.load(Ordering::Relaxed) < total {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let elapsed = started.elapsed();
    let peak_kb = memory_kb(&bench.process, "VmHWM");
    bench.stop();

    let accepts = peers.accepts.load(Ordering::Relaxed);
    if done.is_err() {
        println!("TIMED OUT");
    }
    println!(
        "follows answered 202: {} of {total} in {:.2} s",
        total - refused.load(Ordering::Relaxed),
        sent.as_secs_f64()
    );
    println!("accepts received: {accepts} of {total}");
    println!("total time: {:.2} s", elapsed.as_secs_f64());
    println!(
        "follows accepted per second: {:.0}",
        accepts as f64 / elapsed.as_secs_f64()
    );
    println!("server peak memory: {:.1} MB", peak_kb as f64 / 1024.0);
}

async fn actor(
    State(peers): State<Arc<Peers>>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let id = format!("http://{host}/users/{name}");
    let mut response = Json(serde_json::json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "inbox": format!("{id}/inbox"),
        "endpoints": {"sharedInbox": format!("http://{host}/inbox")},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": peers.public_pem},
    }))
    .into_response();
    response
        .headers_mut()
        .insert("content-type", "application/activity+json".parse().unwrap());
    response
}

async fn inbox(State(peers): State<Arc<Peers>>, body: axum::body::Bytes) -> StatusCode {
    let activity: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if activity["type"] == "Accept" {
        peers.accepts.fetch_add(1, Ordering::Relaxed);
    }
    StatusCode::ACCEPTED
}
