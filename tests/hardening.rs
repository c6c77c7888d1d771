//! Findings of an outside review of the running server, each pinned where a
//! peer or a visitor would meet it: a block bypassed by a trailing dot, an
//! actor document that is not the actor, forged log lines, tag wildcards,
//! missing security headers, deeply nested Markdown, and a case-sensitive
//! `Bearer`; and the gates beside them: RFC 9421 signatures, rate limits.

mod common;

use std::time::Duration;

use common::{TestDb, TestServer, peer::Peer, peer::Signing, process::Process};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn counts(server: &TestServer, handle: &str) -> (i64, i64) {
    let (_, org) = server
        .api(Method::GET, &format!("/organisations/{handle}"), None)
        .await;
    (
        org["followers_count"].as_i64().unwrap(),
        org["follow_requests_count"].as_i64().unwrap(),
    )
}

both_backends!(
    a_trailing_dot_does_not_escape_a_block,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let org = server.url("/organisations/cras");
        let peer = Peer::start().await;
        let (status, _) = server
            .api(
                Method::POST,
                "/domain-blocks",
                Some(json!({"domain": "localhost"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);

        // Ids and key on `localhost.:port`: the same server, one dot longer.
        for host in ["localhost.", "LOCALHOST.", "Localhost"] {
            let actor = format!("http://{host}:{}/users/dotty", peer.addr.port());
            let follow = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{actor}#follows/1"),
                "type": "Follow",
                "actor": actor,
                "object": org,
            });
            let signing = Signing {
                key_id: format!("{actor}#main-key"),
                ..Signing::as_actor(&peer, "dotty")
            };
            let response = peer
                .send_with(&server.url("/inbox"), &signing, &follow)
                .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host}");
        }
        assert_eq!(counts(&server, "cras").await, (0, 0));
        // Refused before any fetch (the 403 came back), and no Accept queued.
        assert!(peer.fetches().is_empty(), "nothing was fetched from it");
        let queued = db.deliveries().await;
        assert!(queued.is_empty(), "nothing was queued for it: {queued:?}");
        assert!(peer.received().is_empty(), "nothing was sent to it");
    }
);

both_backends!(
    an_actor_document_must_be_the_actor,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let org = server.url("/organisations/cras");
        let peer = Peer::start().await;
        // `/users/swap` answers with swapb's document, and the Follow naming
        // swap is signed with swapb's key.
        peer.serve_as("swap", "swapb");
        let follow = peer.follow("swap", &org);
        let signing = Signing {
            key_id: peer.key_id("swapb"),
            ..Signing::as_actor(&peer, "swap")
        };
        let response = peer
            .send_with(&server.url("/inbox"), &signing, &follow)
            .await;
        let (status, error) = common::json_of(response).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
        assert!(error["error"].is_string(), "{error}");
        assert_eq!(counts(&server, "cras").await, (0, 0));
        let (_, followers) = server
            .api(Method::GET, "/organisations/cras/followers", None)
            .await;
        assert_eq!(
            followers["items"].as_array().map(Vec::len),
            Some(0),
            "{followers}"
        );
        let queued = db.deliveries().await;
        assert!(queued.is_empty(), "no Accept was queued: {queued:?}");
        assert!(peer.received().is_empty(), "no Accept went out");

        // The honest actor next door still follows.
        let follow = peer.follow("swapb", &org);
        let response = peer.send(&server.url("/inbox"), "swapb", &follow).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(counts(&server, "cras").await, (1, 0));
    }
);

both_backends!(tags_match_exactly, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    for (title, tags) in [
        ("Hostile", json!(["hostile2"])),
        ("Other", json!(["Other_Tag"])),
        ("Untagged", json!([])),
    ] {
        let (status, created) = server
            .api(
                Method::POST,
                "/statements",
                Some(json!({
                    "title": title, "body": "text", "tags": tags,
                    "signatories": ["cras"], "publish": true,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let page = |path: String| {
        let http = server.http.clone();
        async move {
            let response = http.get(path).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    for (tag, expected) in [
        ("h_stile2", None),
        ("_", None),
        ("hostile_", None),
        ("HOSTILE2", Some("Hostile")),
        ("other_tag", Some("Other")),
    ] {
        for path in [format!("/tags/{tag}"), format!("/tags/{tag}/feed.atom")] {
            let (status, text) = page(server.url(&path)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            for title in ["Hostile", "Other", "Untagged"] {
                assert_eq!(
                    text.contains(&format!(">{title}<"))
                        || text.contains(&format!("<title>{title}</title>"))
                        || text.contains(&format!("type=\"text\">{title}</title>")),
                    expected == Some(title),
                    "{path} and {title}:\n{text}"
                );
            }
        }
    }
    for wildcard in ["%25", "%25hostile%25", "hostile%25"] {
        let (status, _) = page(server.url(&format!("/tags/{wildcard}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "/tags/{wildcard}");
    }

    // Editing the tags moves the statement between tag pages.
    let (_, listing) = server.api(Method::GET, "/statements", None).await;
    let id = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Hostile")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, edited) = server
        .api(
            Method::PATCH,
            &format!("/statements/{id}"),
            Some(json!({"tags": ["renamed"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let (_, old) = page(server.url("/tags/hostile2")).await;
    assert!(!old.contains(">Hostile<"), "{old}");
    let (_, new) = page(server.url("/tags/renamed")).await;
    assert!(new.contains(">Hostile<"), "{new}");
});

both_backends!(
    every_response_carries_security_headers,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        for (path, accept) in [
            ("/", "text/html"),
            ("/organisations/cras", "text/html"),
            ("/no/such/page", "text/html"),
            ("/organisations/cras", "application/activity+json"),
            ("/.well-known/webfinger?resource=acct:nobody@nowhere", "*/*"),
            ("/api/v1/statements", "application/json"),
            ("/healthz", "*/*"),
            ("/admin/login", "text/html"),
        ] {
            let response = server
                .http
                .get(server.url(path))
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            let headers = response.headers();
            let csp = headers
                .get("content-security-policy")
                .unwrap_or_else(|| panic!("{path}: no CSP"))
                .to_str()
                .unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert!(headers.contains_key("referrer-policy"), "{path}");
        }
    }
);

both_backends!(
    deep_markdown_is_rendered_once_and_cheaply,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        // 60 KB of `> `: 30,000 levels took 6 s per page view before the cap.
        let body = "> ".repeat(30_000) + "the bottom";
        let (status, created) = server
            .api(
                Method::POST,
                "/statements",
                Some(json!({
                    "title": "Deep", "body": body, "signatories": ["cras"], "publish": true,
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let url = created["url"].as_str().unwrap().to_string();
        // Many views at once, and the probe still answers at once.
        let views: Vec<_> = (0..8)
            .map(|_| {
                let (http, url) = (server.http.clone(), url.clone());
                tokio::spawn(async move {
                    let response = http
                        .get(&url)
                        .header("Accept", "text/html")
                        .send()
                        .await
                        .unwrap();
                    (response.status(), response.text().await.unwrap())
                })
            })
            .collect();
        let started = std::time::Instant::now();
        let health = server
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let probe = started.elapsed();
        for view in views {
            let (status, html) = view.await.unwrap();
            assert_eq!(status, StatusCode::OK);
            assert!(html.contains("the bottom"));
            assert!(html.matches("<blockquote>").count() <= broadside::html::MAX_NESTING);
        }
        // A liveness bound, not a speed target: the probe takes milliseconds,
        // and before the cap each of these views took 6 s, so a probe stuck
        // behind them took as long.
        assert!(
            probe < Duration::from_secs(5),
            "the health probe waited {probe:?} behind page views"
        );
        // The federated copy is capped the same way.
        let note = server.ap_json(&url).await;
        let content = note["content"].as_str().unwrap();
        assert!(content.contains("the bottom"));
        assert!(content.matches("<blockquote>").count() <= broadside::html::MAX_NESTING);
    }
);

both_backends!(
    the_bearer_scheme_is_case_insensitive,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let response = server
                .http
                .get(server.url("/api/v1/organisations"))
                .header("Authorization", format!("{scheme} {}", server.token))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        }
        for header in [
            format!("Basic {}", server.token),
            format!("Bearer{}", server.token),
            "Bearer ".to_string(),
            "BEARER wrong".to_string(),
        ] {
            let response = server
                .http
                .get(server.url("/api/v1/organisations"))
                .header("Authorization", &header)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
            let (_, error) = common::json_of(response).await;
            assert!(error["error"].is_string());
        }
    }
);

// The binary as operators run it, logging as shipped: request data in a
// query cannot forge a log line or write a terminal escape.
both_backends!(
    request_data_cannot_forge_log_lines,
    |db: TestDb| async move {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let port = common::process::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut process = Process::start_on(port, "serve", &db.url, &base, &[], log.clone());
        process.ready().await;
        let forged = "acct:x%0A2099-01-01T00:00:00.000000Z%20%20INFO%20broadside:%20forged%1B[2J@h";
        let response = reqwest::get(format!("{base}/.well-known/webfinger?resource={forged}"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        // The request's line, escaped, is in the log before the process stops.
        common::eventually(10, || async {
            std::fs::read_to_string(&log)
                .is_ok_and(|written| written.contains(r"acct:x\n2099-01-01"))
                .then_some(())
        })
        .await;
        process.signal("TERM");
        process.exited(10).await;
        let written = std::fs::read_to_string(&log).unwrap();
        assert!(!written.contains('\u{1b}'), "a raw ESC reached the log");
        assert!(
            !written.lines().any(|line| line.starts_with("2099-01-01")),
            "a forged line:\n{written}"
        );
        assert!(written.contains(r"acct:x\n2099-01-01"), "{written}");
    }
);

both_backends!(
    rfc9421_signatures_pass_the_same_gate,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let org = server.url("/organisations/cras");
        let inbox = server.url("/inbox");
        let peer = Peer::start().await;
        let fresh = Duration::ZERO;

        // Refused: tampered body, stale, another actor's key, and each leaves
        // nothing behind.
        let follow = peer.follow("fedi", &org);
        for (what, key, age, tamper) in [
            ("tampered", peer.key_id("fedi"), fresh, true),
            (
                "stale",
                peer.key_id("fedi"),
                Duration::from_secs(2 * 3600),
                false,
            ),
            ("another actor's key", peer.key_id("other"), fresh, false),
        ] {
            let response = peer.send_rfc9421(&inbox, &key, &follow, age, tamper).await;
            let (status, error) = common::json_of(response).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {error}");
            assert!(error["error"].is_string(), "{what}");
        }
        assert_eq!(counts(&server, "cras").await, (0, 0));

        // Fedify's first knock: accepted, and the Accept goes back.
        let response = peer
            .send_rfc9421(&inbox, &peer.key_id("fedi"), &follow, fresh, false)
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(counts(&server, "cras").await, (1, 0));
        let accepts = common::received(&peer, "Accept", 1).await;
        assert!(accepts[0].verified);
        // The same activity again changes nothing.
        let response = peer
            .send_rfc9421(&inbox, &peer.key_id("fedi"), &follow, fresh, false)
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(counts(&server, "cras").await, (1, 0));
    }
);

both_backends!(
    floods_are_answered_429_with_retry_after,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, |c| {
            c.rate_limit_inbox_per_server = 2;
            c.rate_limit_fetches_per_server = 1;
        })
        .await;
        server.create_organisation("cras", "CRAS").await;
        let org = server.url("/organisations/cras");
        let peer = Peer::start().await;
        // New actors: each costs a fetch, and the server may make us fetch ten
        // (a burst of ten seconds at one a second), not more.
        let mut statuses = Vec::new();
        let started = std::time::Instant::now();
        for i in 0..14 {
            let name = format!("new{i}");
            let follow = peer.follow(&name, &org);
            let response = peer.send(&server.url("/inbox"), &name, &follow).await;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let retry: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=10).contains(&retry), "Retry-After: {retry}");
                let (_, error) = common::json_of(response).await;
                assert!(error["error"].as_str().unwrap().contains("too many"));
            }
            statuses.push(status);
        }
        let accepted = statuses
            .iter()
            .filter(|s| **s == StatusCode::ACCEPTED)
            .count();
        // The burst is served in full, first; beyond it, only what the
        // bucket refilled (one a second) while the requests ran. The time
        // only widens the allowance: a slow machine cannot fail this.
        assert!(
            statuses[..10].iter().all(|s| *s == StatusCode::ACCEPTED),
            "{statuses:?}"
        );
        let refilled = started.elapsed().as_secs() as usize;
        assert!(
            accepted <= 10 + refilled,
            "{statuses:?} in {:?}",
            started.elapsed()
        );
        assert_eq!(counts(&server, "cras").await, (accepted as i64, 0));
        assert_eq!(peer.fetches().len(), accepted, "no fetch beyond the limit");
        // Known actors cost no fetch, but the server's own rate still holds:
        // 20 requests a burst at 2 a second.
        let follow = peer.follow("new0", &org);
        let mut limited = 0;
        for _ in 0..30 {
            let response = peer.send(&server.url("/inbox"), "new0", &follow).await;
            limited += usize::from(response.status() == StatusCode::TOO_MANY_REQUESTS);
        }
        assert!(limited >= 10, "{limited} of 30 limited");
    }
);

both_backends!(
    authorized_fetch_wants_a_signature_from_a_server_not_blocked,
    |db: TestDb| async move {
        let server = TestServer::start_with(&db, |c| c.authorized_fetch = true).await;
        server.create_organisation("cras", "CRAS").await;
        let actor = server.url("/organisations/cras");
        let outbox = server.url("/organisations/cras/outbox");
        let peer = Peer::start().await;

        for url in [&actor, &outbox] {
            let (status, error) = common::json_of(server.get_ap(url).await).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}: {error}");
            assert!(error["error"].is_string());
            let response = peer.get_signed(url, "reader").await;
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            assert!(
                response.headers()["vary"]
                    .to_str()
                    .unwrap()
                    .contains("Signature")
            );
            let document: serde_json::Value = response.json().await.unwrap();
            assert_eq!(document["id"], url.as_str());
        }
        assert_eq!(
            peer.fetches().len(),
            1,
            "the key was fetched once, then known"
        );

        // Open: the instance actor, discovery and the website.
        for (url, accept) in [
            (server.url("/actor"), "application/activity+json"),
            (
                server.url("/.well-known/webfinger?resource=acct:cras@") + &server.domain(),
                "*/*",
            ),
            (server.url("/.well-known/nodeinfo"), "*/*"),
            (actor.clone(), "text/html"),
            (server.url("/organisations/cras/feed.atom"), "*/*"),
        ] {
            let response = server
                .http
                .get(&url)
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{url}");
        }

        // A blocked server is refused even when its signature is good.
        let (status, _) = server
            .api(
                Method::POST,
                "/domain-blocks",
                Some(json!({"domain": peer.domain()})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let response = peer.get_signed(&actor, "reader").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
);

both_backends!(token_scopes_and_expiry, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    let store = broadside::store::Store::connect(&db.url).await.unwrap();
    let hour = 3_600_000;
    let now = broadside::store::now_ms();
    let mut tokens = std::collections::HashMap::new();
    for (name, scope, expires_at) in [
        ("reader", "read", None),
        ("writer", "editor", Some(now + hour)),
        ("boss", "admin", None),
        ("old", "admin", Some(now - 1)),
    ] {
        let token = broadside::admin::auth::new_token();
        store
            .create_token(
                name,
                &broadside::admin::auth::hash_token(&token),
                scope,
                expires_at,
            )
            .await
            .unwrap();
        tokens.insert(name, token);
    }
    let call = |name: &str, method: Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = server
            .http
            .request(method, server.url(&format!("/api/v1{path}")))
            .bearer_auth(&tokens[name]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { common::json_of(request.send().await.unwrap()).await }
    };
    let statement = json!({"title": "T", "body": "b", "signatories": ["cras"]});
    let block = json!({"domain": "spam.example"});
    for (name, method, path, body, expected) in [
        ("reader", Method::GET, "/statements", None, StatusCode::OK),
        (
            "reader",
            Method::POST,
            "/statements",
            Some(statement.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            "writer",
            Method::POST,
            "/statements",
            Some(statement.clone()),
            StatusCode::CREATED,
        ),
        (
            "writer",
            Method::GET,
            "/domain-blocks",
            None,
            StatusCode::OK,
        ),
        (
            "writer",
            Method::POST,
            "/domain-blocks",
            Some(block.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            "boss",
            Method::POST,
            "/domain-blocks",
            Some(block.clone()),
            StatusCode::CREATED,
        ),
        (
            "old",
            Method::GET,
            "/statements",
            None,
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let (status, answer) = call(name, method.clone(), path, body).await;
        assert_eq!(status, expected, "{name} {method} {path}: {answer}");
        if !status.is_success() {
            assert!(answer["error"].is_string(), "{answer}");
        }
    }
    // What was refused changed nothing: one statement, one block.
    let (_, statements) = call("reader", Method::GET, "/statements", None).await;
    assert_eq!(statements.as_array().unwrap().len(), 1);
    let (_, blocks) = call("reader", Method::GET, "/domain-blocks", None).await;
    assert_eq!(blocks.as_array().unwrap().len(), 1);
    store.close().await;
});
