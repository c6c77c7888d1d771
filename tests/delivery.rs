//! The delivery queue against real peers: retries, permanent failures, slow
//! and dead hosts, crashes and several workers sharing one database.

mod common;

use std::{collections::HashMap, sync::Arc, time::Duration};

use broadside::{
    delivery::{
        Outgoing,
        worker::{Worker, WorkerSettings},
    },
    store::Store,
    vocabulary::{Activity, Kind},
};
use common::{Backend, TestDb, TestServer, eventually, peer::Peer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

/// Fast retries for tests: a unit of 5 ms makes the first retry ~80–180 ms.
fn fast(config: &mut broadside::config::Config) {
    config.delivery_retry_unit_ms = 5;
}

/// An activity from `cras` queued for `inboxes` through the real outbox.
async fn send(server: &TestServer, inboxes: &[String]) -> Value {
    send_kind(server, Kind::Update, inboxes).await
}

/// An activity of `kind` from `cras` (its object: the organisation itself)
/// queued for `inboxes` through the real outbox.
async fn send_kind(server: &TestServer, kind: Kind, inboxes: &[String]) -> Value {
    let (_, org) = server
        .api(reqwest::Method::GET, "/organisations/cras", None)
        .await;
    let organisation = server.store.organisation("cras").await.unwrap();
    let activity = Activity::new(
        &server.state.urls,
        kind,
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "actor": org["actor_url"],
            "object": org["actor_url"],
        }),
    );
    let body = activity.body().clone();
    server
        .state
        .outbox
        .send(
            Outgoing {
                organisation_id: organisation.id,
                statement_id: None,
                activity,
            },
            inboxes,
        )
        .await
        .unwrap();
    body
}

async fn counts(server: &TestServer) -> Value {
    let (_, report) = server.api(reqwest::Method::GET, "/deliveries", None).await;
    report["counts"].clone()
}

fn inbox(peer: &Peer, name: &str) -> String {
    format!("{}/inbox", peer.actor(name))
}

both_backends!(retries_until_the_peer_recovers, |db: TestDb| async move {
    let server = TestServer::start_with(&db, fast).await;
    server.create_organisation("cras", "CRAS").await;
    let peer = Peer::start().await;
    peer.script(&[
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
    ]);
    let sent = send(&server, &[inbox(&peer, "a")]).await;
    let got = eventually(10, || async {
        let ok: Vec<_> = peer
            .received()
            .into_iter()
            .filter(|r| r.activity["id"] == sent["id"])
            .collect();
        (ok.len() == 3).then_some(ok)
    })
    .await;
    assert!(
        got.iter().all(|r| r.verified),
        "every attempt is signed afresh"
    );
    let counts = eventually(5, || async {
        let c = counts(&server).await;
        (c["delivered"] == 1).then_some(c)
    })
    .await;
    assert_eq!(counts["failed"], 0);
    // The host's failures were forgotten on success.
    let (_, report) = server.api(reqwest::Method::GET, "/deliveries", None).await;
    assert_eq!(report["failing_hosts"], json!([]));
});

both_backends!(
    a_connection_stays_open_only_while_more_goes_to_its_server_or_for_an_answer,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, fast).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        // What an organisation publishes reaches each server once: holding
        // the connection open afterwards would cost memory per server.
        let update = send(&server, &[inbox(&peer, "a")]).await;
        eventually(10, || async { (peer.received().len() == 1).then_some(()) }).await;
        // An answer goes to a server talking to us now.
        let accept = send_kind(&server, Kind::Accept, &[inbox(&peer, "a")]).await;
        let received = eventually(10, || async {
            let got = peer.received();
            (got.len() == 2).then_some(got)
        })
        .await;
        let connection = |sent: &Value| {
            received
                .iter()
                .find(|r| r.activity["id"] == sent["id"])
                .map(|r| (r.verified, r.connection.clone()))
                .unwrap()
        };
        assert_eq!(connection(&update), (true, Some("close".to_string())));
        assert_eq!(connection(&accept), (true, None));
    }
);

both_backends!(gone_is_not_retried, |db: TestDb| async move {
    let server = TestServer::start_with(&db, fast).await;
    server.create_organisation("cras", "CRAS").await;
    let peer = Peer::start().await;
    peer.set_behaviour(StatusCode::GONE, Duration::ZERO);
    send(&server, &[inbox(&peer, "a")]).await;
    let counts = eventually(5, || async {
        let c = counts(&server).await;
        (c["failed"] == 1).then_some(c)
    })
    .await;
    assert_eq!(counts["queued"], 0);
    // Failed for good after one claim: nothing is left to retry.
    let queue = db.deliveries().await;
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(
        (queue[0].state.as_str(), queue[0].attempts),
        ("failed", 1),
        "410 is permanent: one attempt only"
    );
    assert_eq!(peer.received().len(), 1);
    let (_, report) = server
        .api(reqwest::Method::GET, "/deliveries?state=failed", None)
        .await;
    assert_eq!(report["deliveries"][0]["last_status"], 410);
    // A 4xx about one activity says nothing about the host's health.
    assert_eq!(report["failing_hosts"], json!([]));
    let (status, _) = server
        .api(reqwest::Method::GET, "/deliveries?state=bogus", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
});

both_backends!(
    slow_and_dead_hosts_do_not_hold_back_healthy_ones,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, |c| {
            fast(c);
            c.delivery_per_host_concurrency = 2;
        })
        .await;
        server.create_organisation("cras", "CRAS").await;
        let slow = Peer::start_with(false).await;
        slow.set_behaviour(StatusCode::ACCEPTED, Duration::from_secs(20));
        let healthy = Peer::start_with(false).await;
        // A port nobody listens on.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            drop(l);
            format!("http://localhost:{port}/inbox")
        };
        let mut inboxes: Vec<String> = (0..20).map(|i| inbox(&slow, &format!("s{i}"))).collect();
        inboxes.push(dead);
        inboxes.extend((0..20).map(|i| inbox(&healthy, &format!("h{i}"))));
        send(&server, &inboxes).await;
        // Well within the slow host's 20 s answer…
        eventually(10, || async {
            (healthy.received().len() == 20).then_some(())
        })
        .await;
        // …and, in the queue, before it: every slow delivery is still
        // waiting or in flight, none answered yet.
        let slow_domain = format!("{}/", slow.domain());
        let unanswered: Vec<_> = db
            .deliveries()
            .await
            .into_iter()
            .filter(|d| d.inbox.contains(&slow_domain))
            .collect();
        assert_eq!(unanswered.len(), 20);
        assert!(
            unanswered
                .iter()
                .all(|d| d.state == "queued" || d.state == "sending"),
            "healthy inboxes waited behind slow ones: {unanswered:?}"
        );
        assert!(healthy.received().iter().all(|r| r.verified));
        // The slow host never had more than its share of requests in flight.
        assert!(
            slow.received().len() <= 2,
            "per-host limit: {} in flight",
            slow.received().len()
        );
        // The dead host's failure is written by the worker's recorder, in
        // its own time: the report shows it once written.
        eventually(5, || async {
            let (_, report) = server.api(reqwest::Method::GET, "/deliveries", None).await;
            report["failing_hosts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["last_error"].as_str().is_some())
                .then_some(())
        })
        .await;
    }
);

both_backends!(nothing_is_lost_across_a_crash, |db: TestDb| async move {
    let peer = Peer::start().await;
    // A server that queues but has no worker, then dies.
    let first = TestServer::start_with(&db, |c| c.delivery_workers = 0).await;
    first.create_organisation("cras", "CRAS").await;
    let queued = send(&first, &[inbox(&peer, "a"), inbox(&peer, "b")]).await;
    let counts_before = counts(&first).await;
    assert_eq!(counts_before["queued"], 2, "{counts_before}");
    let addr = first.addr;
    first.kill();

    // A second one, mid-send when it dies: the peer is slow to answer.
    let slow = Peer::start().await;
    slow.set_behaviour(StatusCode::ACCEPTED, Duration::from_secs(30));
    let second = TestServer::restart_at(&db, addr, |c| c.delivery_lease_seconds = 2).await;
    eventually(5, || async { (!peer.received().is_empty()).then_some(()) }).await;
    let in_flight = send(&second, &[inbox(&slow, "c")]).await;
    eventually(5, || async { (!slow.received().is_empty()).then_some(()) }).await;
    second.kill();
    // The peer recovers: it now answers at once.
    slow.set_behaviour(StatusCode::ACCEPTED, Duration::ZERO);

    // After a restart everything unfinished is sent, the in-flight one once
    // its lease expires.
    let third = TestServer::restart_at(&db, addr, |c| c.delivery_lease_seconds = 2).await;
    eventually(15, || async {
        let attempts = slow
            .received()
            .iter()
            .filter(|r| r.activity["id"] == in_flight["id"])
            .count();
        (attempts >= 2).then_some(())
    })
    .await;
    assert!(
        peer.received()
            .iter()
            .any(|r| r.activity["id"] == queued["id"] && r.verified)
    );
    let c = eventually(5, || async {
        let c = counts(&third).await;
        (c["delivered"] == 3).then_some(c)
    })
    .await;
    assert_eq!(c["queued"], 0);
    assert_eq!(c["sending"], 0);
});

/// Two workers, each with its own connection pool, on one PostgreSQL
/// database: every delivery is sent exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_postgres_send_each_delivery_once() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    two_workers(db).await;
}

/// The same on one SQLite file (two pools, as two processes would have).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_sqlite_send_each_delivery_once() {
    two_workers(TestDb::new(Backend::Sqlite).await.unwrap()).await;
}

async fn two_workers(db: TestDb) {
    let server = TestServer::start_with(&db, |c| c.delivery_workers = 0).await;
    server.create_organisation("cras", "CRAS").await;
    let peers = [
        Peer::start_with(false).await,
        Peer::start_with(false).await,
        Peer::start_with(false).await,
    ];
    let inboxes: Vec<String> = (0..300)
        .map(|i| inbox(&peers[i % 3], &format!("u{i}")))
        .collect();
    let sent = send(&server, &inboxes).await;

    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(&db.url).await.unwrap();
        let worker = Worker::new(
            store,
            server.state.urls.clone(),
            broadside::transport::client(true),
            WorkerSettings {
                concurrency: 16,
                per_host: 4,
                ..WorkerSettings::from_config(&server.state.config)
            },
            Arc::new(Notify::new()),
        );
        tasks.push(tokio::spawn(worker.run(stopped.clone())));
    }
    eventually(30, || async {
        let total: usize = peers.iter().map(|p| p.received().len()).sum();
        (total >= 300).then_some(())
    })
    .await;
    // Every row recorded as sent, and both workers stopped: nothing more
    // can go out, so what the peers hold is all there will be.
    let settled = db.settled_deliveries(30).await;
    assert!(
        settled
            .iter()
            .all(|d| d.state == "delivered" && d.attempts == 1),
        "each claimed once"
    );
    let _ = stop.send(true);
    for task in tasks {
        task.await.unwrap();
    }
    let mut per_inbox: HashMap<String, usize> = HashMap::new();
    for peer in &peers {
        for r in peer.received() {
            assert_eq!(r.activity["id"], sent["id"]);
            assert!(r.verified);
            *per_inbox
                .entry(format!("{}{}", peer.domain(), r.path))
                .or_default() += 1;
        }
    }
    assert_eq!(per_inbox.len(), 300, "every inbox got it");
    assert!(per_inbox.values().all(|&n| n == 1), "none got it twice");
    let c = counts(&server).await;
    assert_eq!(c["delivered"], 300, "{c}");
}

both_backends!(
    unavailable_hosts_are_skipped_until_they_speak,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, fast).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        peer.set_behaviour(StatusCode::SERVICE_UNAVAILABLE, Duration::ZERO);
        // Six earlier days of failures on record; today's makes seven.
        sqlx_exec(
        &db,
        &format!(
            "INSERT INTO delivery_hosts (host, failure_days, last_failure_day, updated_at) VALUES ('{}', 6, '2000-01-01', 0)",
            peer.domain()
        ),
    )
    .await;
        send(&server, &[inbox(&peer, "a")]).await;
        let report = eventually(5, || async {
            let (_, report) = server.api(reqwest::Method::GET, "/deliveries", None).await;
            report["failing_hosts"][0]["unavailable_since"]
                .is_i64()
                .then_some(report)
        })
        .await;
        assert_eq!(report["failing_hosts"][0]["host"], peer.domain());
        // Its queued delivery was dropped, and nothing new is queued for it.
        let c = eventually(5, || async {
            let c = counts(&server).await;
            (c["failed"] == 1 && c["queued"] == 0).then_some(c)
        })
        .await;
        assert_eq!(c["delivered"], 0);
        peer.set_behaviour(StatusCode::ACCEPTED, Duration::ZERO);
        send(&server, &[inbox(&peer, "a")]).await;
        assert_eq!(counts(&server).await["queued"], 0);
        let before = peer.received().len();

        // A signed request from the host proves it alive: deliveries resume.
        let follow = peer.follow("zoe", &server.url("/organisations/cras"));
        assert_eq!(
            peer.send(&server.url("/inbox"), "zoe", &follow)
                .await
                .status(),
            StatusCode::ACCEPTED
        );
        let accept = eventually(5, || async {
            peer.received_of("Accept").into_iter().next()
        })
        .await;
        assert!(accept.verified);
        assert!(peer.received().len() > before);
        let (_, report) = server.api(reqwest::Method::GET, "/deliveries", None).await;
        assert_eq!(report["failing_hosts"], json!([]));
    }
);

/// Runs one statement of test set-up SQL on the test database.
async fn sqlx_exec(db: &TestDb, sql: &str) {
    use sqlx::{Connection, Executor};
    if db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
            .await
            .unwrap();
    }
}

both_backends!(
    private_addresses_are_refused_unless_allowed,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, |c| c.allow_private_addresses = false).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        // A Follow from a server on loopback: its actor is not fetched.
        let follow = peer.follow("eve", &server.url("/organisations/cras"));
        let response = peer.send(&server.url("/inbox"), "eve", &follow).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            peer.fetches().is_empty(),
            "nothing was fetched from a private address"
        );
        // A delivery to loopback is refused for good, by name or by address.
        send(
            &server,
            &[inbox(&peer, "a"), "http://127.0.0.1:9/inbox".to_string()],
        )
        .await;
        let c = eventually(5, || async {
            let c = counts(&server).await;
            (c["failed"] == 2).then_some(c)
        })
        .await;
        assert_eq!(c["queued"], 0, "not retried");
        assert!(peer.received().is_empty());
        let (_, report) = server
            .api(reqwest::Method::GET, "/deliveries?state=failed", None)
            .await;
        for delivery in report["deliveries"].as_array().unwrap() {
            let error = delivery["last_error"].as_str().unwrap();
            assert!(error.contains("not a public address"), "{error}");
        }
    }
);

/// With `delivery_rfc9421_first`, deliveries knock with RFC 9421 first: a
/// server that takes it gets one request per delivery; one that refuses it
/// gets draft-cavage at once and, from then on, only draft-cavage; one that
/// takes only RFC 9421 is served too.
async fn double_knock(db: TestDb) {
    use common::peer::Accepts;
    let server = TestServer::start_with(&db, |c| c.delivery_rfc9421_first = true).await;
    server.create_organisation("cras", "CRAS").await;
    let modern = Peer::start().await;
    let legacy = Peer::start().await;
    legacy.accept_signatures(Accepts::CavageOnly);
    let strict = Peer::start().await;
    strict.accept_signatures(Accepts::Rfc9421Only);
    for peer in [&modern, &legacy, &strict] {
        common::follow(&server, peer, "reader", "cras").await;
        // A peer that refuses the first knock records it (unverified) before
        // the second arrives: wait for the verified one, not the first.
        common::eventually(10, || async {
            peer.received_of("Accept")
                .iter()
                .any(|r| r.verified)
                .then_some(())
        })
        .await;
    }
    let (status, published) = server
        .api(
            reqwest::Method::POST,
            "/statements",
            Some(json!({"title": "Knock", "body": "Twice if need be.", "signatories": ["cras"], "publish": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    for peer in [&modern, &legacy, &strict] {
        eventually(10, || async {
            peer.received_of("Create")
                .iter()
                .any(|r| r.verified)
                .then_some(())
        })
        .await;
    }
    let rfc9421 = |r: &common::peer::Received| r.signed_headers.iter().any(|h| h == "@target-uri");
    // The modern and the strict server: one request each, RFC 9421.
    for peer in [&modern, &strict] {
        let all = peer.received();
        assert_eq!(all.len(), 2, "Accept and Create, once each: {all:?}");
        assert!(all.iter().all(|r| r.verified && rfc9421(r)));
    }
    // The legacy server: the Accept knocked twice, the Create once, the
    // old way.
    let all = legacy.received();
    let kinds: Vec<(String, bool, bool)> = all
        .iter()
        .map(|r| {
            (
                r.activity["type"].as_str().unwrap().to_string(),
                rfc9421(r),
                r.verified,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Accept".to_string(), true, false),
            ("Accept".to_string(), false, true),
            ("Create".to_string(), false, true),
        ]
    );
}
both_backends!(deliveries_knock_with_rfc9421_first_when_asked, double_knock);
