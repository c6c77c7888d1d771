//! Viral benchmark: inbound load on one statement.
//!
//! `cargo bench --bench viral` starts the release `broadside` binary as its
//! own process with the shipped configuration (logging to a file), publishes
//! one statement, and stores 10,000 remote actors on 1,000 servers whose
//! keys are already cached (fetched just now, as after a first wave). Then
//! each actor sends a Like or an Announce of the statement (half each),
//! signed the way Mastodon signs, to the shared inbox, 64 in flight. Each
//! costs a signature check against the cached key, the dedupe and the
//! write. Prints activities verified and stored per second (the count is
//! read back from the database), the server's idle and peak memory
//! (`VmRSS`, and `RssAnon` and PSS beside it), and the RSA
//! signing rate measured in the same run. No fetch is needed: the actors'
//! servers do not exist, so a fetch would show up as a refusal.
//! `BENCH_POSTGRES_URL` runs it on PostgreSQL; `VIRAL_ACTORS` (10,000) and
//! `VIRAL_CONCURRENCY` (64) change the sizes.

use std::time::{Duration, Instant};

use broadside::store::RemoteActorData;

mod common;

use common::{BenchServer, Memory, MemorySampler, env_or, mb, peer};

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let actors = env_or("VIRAL_ACTORS", 10_000);
    let concurrency = env_or("VIRAL_CONCURRENCY", 64);
    let servers = actors.div_ceil(10);
    let database = if std::env::var("BENCH_POSTGRES_URL").is_ok() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "viral benchmark ({database}, shipped configuration): {actors} Likes and Announces of one statement from {servers} servers, {concurrency} in flight"
    );
    let rate_before = common::rsa_signing_rate();
    println!("RSA-2048 signing (aws-lc-rs, one core), before: {rate_before:.0}/s");

    let bench = BenchServer::start(
        None,
        true,
        serde_json::json!({"handle": "cras", "name": "CRAS", "summary": "Benchmark"}),
    )
    .await;
    let memory = MemorySampler::start(&bench.process, 2);
    let base = bench.base.clone();
    let statement = common::publish(&base, "cras", "Declaration").await;
    let public_id = statement.rsplit('/').next().unwrap().to_string();

    // The actors, their keys cached as a fetch would have left them.
    let public_pem = peer::public_pem();
    let setup = Instant::now();
    let actor_ids: Vec<String> = (0..actors)
        .map(|i| format!("http://localhost:{}/users/u{}", 20_000 + i / 10, i % 10))
        .collect();
    for (i, uri) in actor_ids.iter().enumerate() {
        bench
            .store
            .upsert_remote_actor(&RemoteActorData {
                uri: uri.clone(),
                domain: format!("localhost:{}", 20_000 + i / 10),
                inbox: format!("{uri}/inbox"),
                shared_inbox: Some(format!("http://localhost:{}/inbox", 20_000 + i / 10)),
                public_key_id: format!("{uri}#main-key"),
                public_key_pem: public_pem.clone(),
                preferred_username: Some(format!("u{}", i % 10)),
                name: None,
                kind: "Person".into(),
                icon_url: None,
            })
            .await
            .unwrap();
    }
    bench.store.checkpoint().await.unwrap();
    println!(
        "set-up: {actors} actors stored in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let inbox = format!("{base}/inbox");
    let activities: Vec<(String, String, serde_json::Value)> = actor_ids
        .iter()
        .enumerate()
        .map(|(i, actor)| {
            let kind = if i % 2 == 0 { "Like" } else { "Announce" };
            let activity = serde_json::json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}/activities/{kind}"),
                "type": kind,
                "actor": actor,
                "object": statement,
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
            });
            (inbox.clone(), format!("{actor}#main-key"), activity)
        })
        .collect();
    let requests = common::sign_all(&http, activities);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kb = common::memory_kb(&bench.process, "VmRSS");
    let idle = Memory::of(bench.process.id());

    memory.phase(1);
    let cpu_start = common::cpu_seconds(&bench.process);
    let started = Instant::now();
    let answered = common::send_all(requests, concurrency).await;
    let elapsed = started.elapsed();
    let cpu = common::cpu_seconds(&bench.process) - cpu_start;
    let peak = memory.peak_kb(1);
    let high_water = memory.high_water_kb();
    let (wave_memory, run_memory) = (memory.peak(1), memory.run_peak());
    drop(memory);
    let stored = bench.store.statement(&public_id).await.unwrap();
    let counts = bench.store.reaction_counts(stored.id).await.unwrap();
    let rate_after = common::rsa_signing_rate();
    let log = bench.log();
    bench.stop().await;

    println!("RSA-2048 signing (aws-lc-rs, one core), after: {rate_after:.0}/s");
    println!("server log: {} lines (shipped level)", log.lines().count());
    println!(
        "{answered} of {actors} answered 202 in {:.2} s; stored: {} likes, {} boosts",
        elapsed.as_secs_f64(),
        counts.likes,
        counts.boosts
    );
    println!(
        "activities verified and stored per second: {:.0} (target ≥ 3,000 on SQLite)",
        (counts.likes + counts.boosts) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "server CPU during the wave: {cpu:.2} s ({:.2} cores, {:.0} µs per activity)",
        cpu / elapsed.as_secs_f64(),
        cpu * 1e6 / actors as f64
    );
    println!(
        "server memory: idle {}, peak during the wave {}, VmHWM over the run {}",
        mb(idle_kb),
        mb(peak),
        mb(high_water)
    );
    println!(
        "server memory beside VmRSS: idle {}, peak during the wave {}, over the run {}",
        idle.anon_and_pss(),
        wave_memory.anon_and_pss(),
        run_memory.anon_and_pss()
    );
}
