//! Running Broadside as operators do: separate web and worker processes on
//! one PostgreSQL, workers killed or stopped mid fan-out, probes, metrics
//! and backups. Every server here is a real `broadside` process (see
//! `common::process`), and every peer a real HTTP server on loopback that
//! verifies each signature.

mod common;

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    time::Duration,
};

use broadside::{admin::auth::hash_token, store::Store};
use common::{
    Backend, TOKEN, TestDb, TestServer, eventually, json_of,
    peer::{Peer, Signing},
    process::{Process, free_port},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

/// A database with the test token, migrated as `broadside migrate` would.
async fn prepared(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
        .upsert_token("test", &hash_token(TOKEN))
        .await
        .expect("token");
    store
}

async fn api(base: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_of(request.send().await.expect("request")).await
}

async fn create_organisation(base: &str, handle: &str) {
    let (status, body) = api(
        base,
        Method::POST,
        "/organisations",
        Some(json!({"handle": handle, "name": handle.to_uppercase(), "summary": "Signs statements."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn statement(title: &str) -> Value {
    json!({
        "title": title,
        "body": "We stand together.",
        "signatories": ["cras"],
        "language": "en",
        "publish": true,
    })
}

/// Each peer's actor `u` follows `cras` with a signed Follow sent to one
/// of `webs` in turn; returns when every peer holds its verified Accept.
async fn follow_all(peers: &[Peer], webs: &[&Process]) {
    use futures::StreamExt;
    let organisation = webs[0].url("/organisations/cras");
    // What a reverse proxy in front of the web processes passes on: the
    // public Host, whichever process answers.
    let public_host = format!("127.0.0.1:{}", webs[0].port);
    futures::stream::iter(peers.iter().enumerate())
        .for_each_concurrent(32, |(i, peer)| {
            let (web, organisation) = (webs[i % webs.len()], &organisation);
            let public_host = public_host.clone();
            async move {
                let follow = peer.follow("u", organisation);
                let signing = Signing {
                    host: Some(public_host),
                    ..Signing::as_actor(peer, "u")
                };
                let response = peer.send_with(&web.url("/inbox"), &signing, &follow).await;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            }
        })
        .await;
    eventually(120, || async {
        peers
            .iter()
            .all(|p| p.received_of("Accept").iter().any(|r| r.verified))
            .then_some(())
    })
    .await;
}

/// How many times each peer received a verified Create of `object`.
fn creates_of(peers: &[Peer], object: &str) -> Vec<usize> {
    peers
        .iter()
        .map(|p| {
            p.received_of("Create")
                .iter()
                .filter(|r| r.verified && r.activity["object"]["id"] == object)
                .count()
        })
        .collect()
}

/// Waits up to `secs` until every peer holds a verified Create of `object`.
async fn every_inbox_has(peers: &[Peer], object: &str, secs: u64) {
    eventually(secs, || async {
        creates_of(peers, object)
            .iter()
            .all(|&n| n > 0)
            .then_some(())
    })
    .await;
}

async fn pg_rows(db: &TestDb, sql: &str) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// Two web processes and two worker processes on one PostgreSQL: a
/// statement published through web 1 reaches 1,000 inboxes although
/// worker 1 is SIGKILLed mid fan-out; duplicates come only from the rows
/// worker 1 held; a scheduled statement goes out once with both web
/// processes' schedulers running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_web_and_two_worker_processes_share_one_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let _store = prepared(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let web1_port = free_port();
    let base = format!("http://127.0.0.1:{web1_port}");
    let web_env = vec![("BROADSIDE_DELIVERY_WORKERS", "0".to_string())];
    // Short leases, so the killed worker's rows come back within the test;
    // slow inboxes and few requests in flight, so there is a "mid fan-out".
    let worker_env = vec![
        ("BROADSIDE_DELIVERY_LEASE_SECONDS", "5".to_string()),
        ("BROADSIDE_DELIVERY_CONCURRENCY", "40".to_string()),
        ("BROADSIDE_LOG", "warn".to_string()),
    ];
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let mut web1 = Process::start_on(web1_port, "serve", &db.url, &base, &web_env, log("web1"));
    web1.ready().await;
    let mut web2 = Process::start("serve", &db.url, &base, &web_env, log("web2"));
    let mut worker1 = Process::start("deliver", &db.url, &base, &worker_env, log("worker1"));
    let mut worker2 = Process::start("deliver", &db.url, &base, &worker_env, log("worker2"));
    web2.ready().await;
    worker1.ready().await;
    worker2.ready().await;
    println!("binary: {}", common::process::binary().display());

    create_organisation(&base, "cras").await;
    let mut peers = Vec::new();
    for _ in 0..1000 {
        peers.push(Peer::start().await);
    }
    follow_all(&peers, &[&web1, &web2]).await;
    let (_, followers) = api(&base, Method::GET, "/organisations/cras/followers", None).await;
    assert_eq!(followers["total"], 1000, "{followers}");

    for peer in &peers {
        peer.set_behaviour(StatusCode::ACCEPTED, Duration::from_millis(150));
    }
    let (status, published) = api(
        &base,
        Method::POST,
        "/statements",
        Some(statement("Together")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    let object = published["url"].as_str().unwrap().to_string();
    eventually(60, || async {
        (creates_of(&peers, &object)
            .iter()
            .filter(|&&n| n > 0)
            .count()
            >= 150)
            .then_some(())
    })
    .await;
    worker1.signal("KILL");
    worker1.exited(10).await;
    // What worker 1 held when it died: sent or not, these may go out again.
    let held: HashSet<String> = pg_rows(
        &db,
        &format!(
            "SELECT inbox FROM deliveries WHERE state = 'sending' AND locked_by LIKE '{}-%'",
            worker1.pid()
        ),
    )
    .await
    .into_iter()
    .collect();
    let delivered_before_kill = creates_of(&peers, &object)
        .iter()
        .filter(|&&n| n > 0)
        .count();
    assert!(
        delivered_before_kill < 1000,
        "the kill came after the fan-out"
    );

    // Done when every inbox has it and the queue says so: the killed
    // worker's rows come back when their lease runs out, and go again.
    let unfinished = "SELECT d.state FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                      WHERE a.kind = 'Create' AND d.state <> 'delivered'";
    eventually(90, || async {
        (creates_of(&peers, &object).iter().all(|&n| n > 0)
            && pg_rows(&db, unfinished).await.is_empty())
        .then_some(())
    })
    .await;
    let counts = creates_of(&peers, &object);
    let duplicated: Vec<String> = peers
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 1)
        .map(|(p, _)| format!("http://{}/inbox", p.domain()))
        .collect();
    println!(
        "fan-out to 1,000 inboxes: {delivered_before_kill} had it when worker 1 was killed, \
         worker 1 held {} leased rows, {} inboxes got it twice",
        held.len(),
        duplicated.len()
    );
    for inbox in &duplicated {
        assert!(
            held.contains(inbox),
            "{inbox} got the Create twice but was not leased by the killed worker"
        );
    }
    assert!(
        counts.iter().all(|&n| n <= 2),
        "nothing arrives three times"
    );
    let finished_by_worker2 = pg_rows(
        &db,
        &format!(
            "SELECT d.inbox FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
             WHERE a.kind = 'Create' AND d.locked_by LIKE '{}-%'",
            worker2.pid()
        ),
    )
    .await;
    assert!(
        held.iter().all(|inbox| finished_by_worker2.contains(inbox)),
        "worker 2 took over every row worker 1 held"
    );

    // A statement scheduled through web 2 while both web processes run
    // their schedulers: one Create, each inbox gets it once.
    for peer in &peers {
        peer.set_behaviour(StatusCode::ACCEPTED, Duration::ZERO);
    }
    let mut scheduled = statement("Scheduled");
    scheduled["publish"] = json!(false);
    scheduled["publish_at"] =
        json!((chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339());
    let (status, created) = api(&web2.url(""), Method::POST, "/statements", Some(scheduled)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "scheduled");
    let object = created["url"].as_str().unwrap().to_string();
    every_inbox_has(&peers, &object, 60).await;
    // Every delivery of its Create recorded as sent, each claimed once: no
    // second copy is left to go out.
    let statement_id = created["id"].as_str().unwrap();
    let claims = format!(
        "SELECT d.state || ' ' || d.attempts FROM deliveries d \
         JOIN outbound_activities a ON a.id = d.activity_id \
         JOIN statements s ON s.id = a.statement_id \
         WHERE a.kind = 'Create' AND s.public_id = '{statement_id}'"
    );
    let claims = eventually(60, || async {
        let rows = pg_rows(&db, &claims).await;
        rows.iter()
            .all(|row| row.starts_with("delivered") || row.starts_with("failed"))
            .then_some(rows)
    })
    .await;
    assert!(
        claims.iter().all(|row| row == "delivered 1"),
        "each claimed once: {claims:?}"
    );
    assert!(
        creates_of(&peers, &object).iter().all(|&n| n == 1),
        "the scheduled statement reached every inbox exactly once"
    );
    let creates = pg_rows(
        &db,
        &format!(
            "SELECT a.public_id FROM outbound_activities a JOIN statements s ON s.id = a.statement_id \
             WHERE a.kind = 'Create' AND s.public_id = '{}'",
            created["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(
        creates.len(),
        1,
        "one Create stored for the scheduled statement"
    );
    drop((web1, web2, worker2));
}

/// With polling practically off, a worker process still sends what a web
/// process queues, at once: PostgreSQL's NOTIFY wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_workers_in_other_processes() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let _store = prepared(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut web = Process::start_on(
        port,
        "serve",
        &db.url,
        &base,
        &[("BROADSIDE_DELIVERY_WORKERS", "0".into())],
        dir.path().join("web.log"),
    );
    let mut worker = Process::start(
        "deliver",
        &db.url,
        &base,
        &[("BROADSIDE_DELIVERY_POLL_INTERVAL_MS", "3600000".into())],
        dir.path().join("worker.log"),
    );
    web.ready().await;
    worker.ready().await;
    // The worker claims once at start and then only waits: give it that.
    tokio::time::sleep(Duration::from_millis(500)).await;
    create_organisation(&base, "cras").await;
    let peer = Peer::start().await;
    follow_all(std::slice::from_ref(&peer), &[&web]).await;
    let (status, published) = api(&base, Method::POST, "/statements", Some(statement("Now"))).await;
    assert_eq!(status, StatusCode::CREATED);
    let object = published["url"].as_str().unwrap().to_string();
    eventually(20, || async {
        (creates_of(std::slice::from_ref(&peer), &object)[0] == 1).then_some(())
    })
    .await;
}

/// A `serve` process on `port` (with `env`) whose `cras` has `count` peers
/// following, each answering after `delay`; a statement titled `title` is
/// published and has reached at least `reached` inboxes. Returns the
/// process, the peers and the statement's URL: a fan-out in progress.
#[allow(clippy::too_many_arguments)]
async fn mid_fan_out(
    db: &TestDb,
    port: u16,
    env: &[(&str, String)],
    log: std::path::PathBuf,
    count: usize,
    delay: Duration,
    title: &str,
    reached: usize,
) -> (Process, Vec<Peer>, String) {
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Process::start_on(port, "serve", &db.url, &base, env, log);
    server.ready().await;
    create_organisation(&base, "cras").await;
    let mut peers = Vec::new();
    for _ in 0..count {
        peers.push(Peer::start().await);
    }
    follow_all(&peers, &[&server]).await;
    for peer in &peers {
        peer.set_behaviour(StatusCode::ACCEPTED, delay);
    }
    let (_, published) = api(&base, Method::POST, "/statements", Some(statement(title))).await;
    let object = published["url"].as_str().unwrap().to_string();
    eventually(30, || async {
        (creates_of(&peers, &object).iter().sum::<usize>() >= reached).then_some(())
    })
    .await;
    (server, peers, object)
}

/// SIGTERM stops a process cleanly mid fan-out: requests in flight finish
/// and are recorded, nothing is left leased, and the next process sends
/// the rest without sending anything twice.
async fn sigterm_drains(db: TestDb) {
    let _store = prepared(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![("BROADSIDE_DELIVERY_CONCURRENCY", "20".to_string())];
    let (mut server, peers, object) = mid_fan_out(
        &db,
        port,
        &env,
        dir.path().join("1.log"),
        100,
        Duration::from_millis(400),
        "Drain",
        10,
    )
    .await;
    server.signal("TERM");
    let status = server.exited(40).await;
    assert!(status.success(), "exit after SIGTERM: {status}");
    let sent = creates_of(&peers, &object).iter().sum::<usize>();
    assert!(sent < 100, "SIGTERM came after the fan-out");
    let store = Store::connect(&db.url).await.unwrap();
    let counts = store.delivery_counts(None).await.unwrap();
    assert_eq!(counts.sending, 0, "nothing left leased: {counts:?}");
    // 100 Accepts and the Creates sent before the signal.
    assert_eq!(
        counts.delivered as usize,
        100 + sent,
        "every request sent was recorded"
    );
    store.close().await;

    let mut next = Process::start_on(
        port,
        "serve",
        &db.url,
        &base,
        &env,
        dir.path().join("2.log"),
    );
    next.ready().await;
    every_inbox_has(&peers, &object, 60).await;
    // Every Create recorded as sent, each claimed once (the clean stop gave
    // back what it had not sent, uncounted): nothing is left to go twice.
    let claims = "SELECT d.state || ' ' || d.attempts FROM deliveries d \
                  JOIN outbound_activities a ON a.id = d.activity_id WHERE a.kind = 'Create'";
    let claims = eventually(60, || async {
        let rows = db_rows(&db, claims).await;
        rows.iter()
            .all(|row| row.starts_with("delivered") || row.starts_with("failed"))
            .then_some(rows)
    })
    .await;
    assert!(
        claims.iter().all(|row| row == "delivered 1"),
        "each claimed once: {claims:?}"
    );
    assert!(
        creates_of(&peers, &object).iter().all(|&n| n == 1),
        "after a clean stop nothing is sent twice"
    );
}
both_backends!(sigterm_drains_in_flight_deliveries, sigterm_drains);

/// Rows of one text column, on either database.
async fn db_rows(db: &TestDb, sql: &str) -> Vec<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
    }
}

/// SIGKILL mid fan-out, with the shipped lease (300 s): the restarted
/// process takes the dead one's leases back at once — it sends every row
/// the dead one held itself, well before the lease could run out — and only
/// deliveries the dead process held (at most `delivery_concurrency`) go out
/// twice.
async fn crash_and_restart(db: TestDb) {
    const CONCURRENCY: usize = 48;
    let _store = prepared(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let env = vec![("BROADSIDE_DELIVERY_CONCURRENCY", CONCURRENCY.to_string())];
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let (mut server, peers, object) = mid_fan_out(
        &db,
        port,
        &env,
        log("1"),
        300,
        Duration::from_millis(250),
        "Crash",
        40,
    )
    .await;
    server.signal("KILL");
    server.exited(10).await;
    let before = creates_of(&peers, &object)
        .iter()
        .filter(|&&n| n > 0)
        .count();
    assert!(before < 300, "the kill came after the fan-out");
    let held: HashSet<String> = db_rows(
        &db,
        &format!(
            "SELECT inbox FROM deliveries WHERE state = 'sending' AND locked_by LIKE '{}-%'",
            server.pid()
        ),
    )
    .await
    .into_iter()
    .collect();
    assert!(!held.is_empty(), "the killed process held leases");

    let restarted_at = std::time::Instant::now();
    let mut next = Process::start_on(port, "serve", &db.url, &base, &env, log("2"));
    next.ready().await;
    // Done when every inbox has it and the queue says so: the rows the dead
    // process held (some of them already received) are sent again too.
    let unfinished = "SELECT d.state FROM deliveries d JOIN outbound_activities a ON a.id = d.activity_id \
                      WHERE a.kind = 'Create' AND d.state <> 'delivered'";
    // 30 s, a tenth of the lease: done within it only if the dead process's
    // leases were taken back rather than waited out.
    eventually(30, || async {
        (creates_of(&peers, &object).iter().all(|&n| n > 0)
            && db_rows(&db, unfinished).await.is_empty())
        .then_some(())
    })
    .await;
    let resumed = restarted_at.elapsed();
    // Every row the dead process held was sent again by the new one.
    let retaken: HashSet<String> = db_rows(
        &db,
        &format!(
            "SELECT inbox FROM deliveries WHERE state = 'delivered' AND locked_by LIKE '{}-%'",
            next.pid()
        ),
    )
    .await
    .into_iter()
    .collect();
    assert!(
        held.is_subset(&retaken),
        "the restarted process took back every lease the dead one held:\n{}",
        next.log_text()
    );
    let counts = creates_of(&peers, &object);
    let twice: Vec<String> = peers
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 1)
        .map(|(p, _)| format!("http://{}/inbox", p.domain()))
        .collect();
    println!(
        "crash mid fan-out to 300 inboxes: {before} had it at the kill, {} leased by the dead process, \
         all delivered and recorded {resumed:?} after the restart, {} got it twice",
        held.len(),
        twice.len()
    );
    assert!(
        twice.len() <= CONCURRENCY,
        "{} duplicates, more than delivery_concurrency",
        twice.len()
    );
    for inbox in &twice {
        assert!(
            held.contains(inbox),
            "{inbox} got it twice but was not held"
        );
    }
    assert!(
        counts.iter().all(|&n| n <= 2),
        "nothing arrives three times"
    );
}
both_backends!(a_crash_costs_seconds_not_the_lease, crash_and_restart);

/// `/healthz` says the process runs; `/readyz` that its database answers
/// and carries every migration this binary knows.
async fn probes(db: TestDb) {
    let server = TestServer::start(&db).await;
    let (status, body) = json_of(
        server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) =
        json_of(server.http.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");

    mark_newest_migration(&db.url, false).await;
    let (status, body) =
        json_of(server.http.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("migrations not applied: 4"),
        "{body}"
    );
    let (status, _) = json_of(
        server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "alive all the same");
    mark_newest_migration(&db.url, true).await;
    let (status, _) = json_of(server.http.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}
both_backends!(readiness_follows_the_database, probes);

/// Marks the newest migration as failed (or applied again), as a half-done
/// upgrade would leave it.
async fn mark_newest_migration(url: &str, success: bool) {
    let sql = "UPDATE _sqlx_migrations SET success = $1 WHERE version = 4";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(success)
            .execute(&mut conn)
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(success)
            .execute(&mut conn)
            .await
            .unwrap();
    }
}

/// Parses a Prometheus text exposition into (name with sorted labels) →
/// value.
fn scrape_text(text: &str) -> HashMap<String, f64> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    let mut values = HashMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        labels.sort();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.last().map(|b| b.count).unwrap_or_default()
            }
            prometheus_parse::Value::Summary(_) => continue,
        };
        values.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    values
}

async fn scrape(port: u16) -> HashMap<String, f64> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    scrape_text(&response.text().await.unwrap())
}

fn value(metrics: &HashMap<String, f64>, key: &str) -> f64 {
    metrics.get(key).copied().unwrap_or(0.0)
}

/// `/metrics` on its own address, parsed as Prometheus text: deliveries,
/// queue depth, inbox requests, HTTP latencies and remote fetches move as
/// the server works. The public address does not serve it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_work() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let _store = prepared(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics_port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Process::start_on(
        port,
        "serve",
        &db.url,
        &base,
        &[(
            "BROADSIDE_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )],
        dir.path().join("server.log"),
    );
    server.ready().await;
    let public = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(
        public.status(),
        StatusCode::NOT_FOUND,
        "not on the public address"
    );

    let before = scrape(metrics_port).await;
    assert_eq!(
        value(&before, "broadside_deliveries_total{outcome=delivered}"),
        0.0
    );
    create_organisation(&base, "cras").await;
    let peers = vec![
        Peer::start().await,
        Peer::start().await,
        Peer::start().await,
    ];
    follow_all(&peers, &[&server]).await;
    let (_, published) = api(
        &base,
        Method::POST,
        "/statements",
        Some(statement("Counted")),
    )
    .await;
    let object = published["url"].as_str().unwrap().to_string();
    every_inbox_has(&peers, &object, 20).await;
    // A refused inbox request counts too.
    let refused = reqwest::Client::new()
        .post(format!("{base}/inbox"))
        .json(&json!({"type": "Follow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let after = eventually(10, || async {
        let m = scrape(metrics_port).await;
        (value(&m, "broadside_deliveries_total{outcome=delivered}") >= 6.0).then_some(m)
    })
    .await;
    // 3 Accepts and 3 Creates.
    assert_eq!(
        value(&after, "broadside_deliveries_total{outcome=delivered}"),
        6.0
    );
    assert_eq!(
        value(&after, "broadside_delivery_queue_depth{state=delivered}"),
        6.0
    );
    assert_eq!(
        value(&after, "broadside_delivery_queue_depth{state=queued}"),
        0.0
    );
    assert!(after.contains_key("broadside_delivery_oldest_due_age_seconds{}"));
    assert_eq!(
        value(
            &after,
            "broadside_inbox_requests_total{outcome=accepted,status=202}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &after,
            "broadside_inbox_requests_total{outcome=rejected,status=401}"
        ),
        1.0
    );
    assert!(value(&after, "broadside_remote_fetches_total{outcome=ok}") >= 3.0);
    let posted = after
        .iter()
        .filter(|(k, _)| {
            k.starts_with("broadside_http_request_duration_seconds_count{")
                && k.contains("route=/api/v1/statements")
                && k.contains("method=POST")
                && k.contains("status=201")
        })
        .map(|(_, v)| *v)
        .sum::<f64>();
    assert_eq!(
        posted, 1.0,
        "the POST that published is timed under its route"
    );
    assert!(value(&after, "broadside_delivery_duration_seconds_count{}") >= 6.0);
}

/// `broadside backup` copies a live SQLite database while statements are
/// being written; a server started on the copy has every statement and
/// follower that existed when the backup began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_a_live_sqlite_database_restores() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    let peers = [Peer::start().await, Peer::start().await];
    for (i, peer) in peers.iter().enumerate() {
        let follow = peer.follow(&format!("u{i}"), &server.url("/organisations/cras"));
        let status = peer
            .send(&server.url("/inbox"), &format!("u{i}"), &follow)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let mut before = Vec::new();
    for i in 0..20 {
        let (status, body) = server
            .api(
                Method::POST,
                "/statements",
                Some(statement(&format!("Before {i}"))),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        before.push(body["id"].as_str().unwrap().to_string());
    }
    // An uploaded image: the backup takes the media too.
    let image = {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbaImage::from_pixel(40, 30, image::Rgba([200, 30, 30, 255]))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        let (status, media) = server
            .upload(
                png.into_inner(),
                "red.png",
                "image/png",
                Some("A red square"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{media}");
        media
    };
    let image_url = image["url"].as_str().unwrap().to_string();
    let image_bytes = server
        .http
        .get(&image_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // Writers keep going while the backup runs.
    let writing = {
        let (http, url) = (server.http.clone(), server.url("/api/v1/statements"));
        tokio::spawn(async move {
            let mut written = 0;
            for i in 0..40 {
                let response = http
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .json(&statement(&format!("During {i}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
                written += 1;
            }
            written
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let copy = backup_dir.path().join("copy.db");
    let output = std::process::Command::new(common::process::binary())
        .arg("backup")
        .arg(&copy)
        .env("BROADSIDE_CONFIG", "/nonexistent.toml")
        .env("BROADSIDE_DATABASE_URL", &db.url)
        .env("BROADSIDE_MEDIA_DIR", db.media_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        writing.await.unwrap(),
        40,
        "writes went on during the backup"
    );
    // A second backup to the same file is refused, leaving it as it is.
    let again = std::process::Command::new(common::process::binary())
        .arg("backup")
        .arg(&copy)
        .env("BROADSIDE_CONFIG", "/nonexistent.toml")
        .env("BROADSIDE_DATABASE_URL", &db.url)
        .env("BROADSIDE_MEDIA_DIR", db.media_dir())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    server.kill();

    let media_copy = broadside::cli::media_backup_dir(&copy);
    let copied = std::fs::read_dir(&media_copy).unwrap().count();
    assert_eq!(copied, 2, "the image and its thumbnail are in the backup");
    let restored = TestDb::sqlite_at(&copy);
    integrity_ok(&copy).await;
    let server = TestServer::start_with(&restored, |c| {
        c.media_dir = media_copy.display().to_string();
    })
    .await;
    let file = image_url.rsplit('/').next().unwrap();
    let restored_image = server
        .http
        .get(server.url(&format!("/media/{file}")))
        .send()
        .await
        .unwrap();
    assert_eq!(restored_image.status(), StatusCode::OK);
    assert_eq!(restored_image.bytes().await.unwrap(), image_bytes);
    let (_, shown) = server
        .api(
            Method::GET,
            &format!("/media/{}", image["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(shown["description"], "A red square");
    let (_, list) = server.api(Method::GET, "/statements?limit=100", None).await;
    let ids: HashSet<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    for id in &before {
        assert!(ids.contains(id.as_str()), "statement {id} is in the copy");
        let page = server
            .http
            .get(server.url(&format!("/statements/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    }
    let (_, followers) = server
        .api(Method::GET, "/organisations/cras/followers", None)
        .await;
    assert_eq!(followers["total"], 2, "{followers}");
}

async fn integrity_ok(path: &Path) {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");
}
