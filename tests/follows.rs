//! Following an organisation from another server, as a Mastodon user does:
//! signed Follow → verified Accept, Undo, manual approval, removal.

mod common;

use common::{TestDb, TestServer, eventually, peer::Peer};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn followers_total(server: &TestServer, handle: &str) -> i64 {
    let collection: Value = server
        .ap_json(&server.url(&format!("/organisations/{handle}/followers")))
        .await;
    collection["totalItems"].as_i64().unwrap()
}

both_backends!(follow_accept_unfollow, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    let org = server.url("/organisations/cras");
    let peer = Peer::start().await;

    // Mastodon sends the Follow to the organisation's own inbox.
    let follow = peer.follow("alice", &org);
    let response = peer
        .send(&server.url("/organisations/cras/inbox"), "alice", &follow)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // The Accept arrives, signed by the organisation's own key, embedding the Follow.
    let accept = eventually(5, || async {
        peer.received_of("Accept").into_iter().next()
    })
    .await;
    assert!(
        accept.verified,
        "the peer verified the Accept's signature: {accept:?}"
    );
    assert_eq!(accept.key_id, format!("{org}#main-key"));
    assert_eq!(
        accept.signed_headers,
        ["(request-target)", "host", "date", "digest"]
    );
    assert_eq!(
        accept.path, "/users/alice/inbox",
        "to the follower's own inbox"
    );
    assert_eq!(accept.activity["actor"], org);
    assert_eq!(accept.activity["object"]["type"], "Follow");
    assert_eq!(accept.activity["object"]["id"], follow["id"]);
    assert_eq!(
        accept.activity["object"]["actor"],
        peer.actor("alice").as_str()
    );
    // The Accept can be dereferenced at its id.
    let fetched: Value = server
        .ap_json(accept.activity["id"].as_str().unwrap())
        .await;
    assert_eq!(fetched["id"], accept.activity["id"]);

    // Counts and the editor's view.
    assert_eq!(followers_total(&server, "cras").await, 1);
    let (_, followers) = server
        .api(Method::GET, "/organisations/cras/followers", None)
        .await;
    assert_eq!(followers["total"], 1);
    assert_eq!(followers["items"][0]["actor"], peer.actor("alice").as_str());
    assert_eq!(followers["items"][0]["domain"], peer.domain());
    let (_, org_view) = server.api(Method::GET, "/organisations/cras", None).await;
    assert_eq!(org_view["followers_count"], 1);

    // Unfollow: Mastodon's Undo embeds the Follow.
    let undo = peer.undo("alice", &follow);
    let response = peer.send(&server.url("/inbox"), "alice", &undo).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(followers_total(&server, "cras").await, 0);

    // Following again works, and an unknown organisation is a clear 404.
    let again = peer.follow("alice", &org);
    assert_eq!(
        peer.send(&server.url("/inbox"), "alice", &again)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(followers_total(&server, "cras").await, 1);
    let nobody = peer.follow("alice", &server.url("/organisations/nobody"));
    let response = peer.send(&server.url("/inbox"), "alice", &nobody).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("nobody"));
    let response = peer
        .send(&server.url("/organisations/nobody/inbox"), "alice", &nobody)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
});

both_backends!(manual_approval, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    let (status, _) = server
        .api(
            Method::POST,
            "/organisations",
            Some(serde_json::json!({"handle": "iwa", "name": "IWA", "summary": "", "manually_approves_followers": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let org = server.url("/organisations/iwa");
    let peer = Peer::start().await;
    for name in ["bob", "carol"] {
        let follow = peer.follow(name, &org);
        assert_eq!(
            peer.send(&server.url("/organisations/iwa/inbox"), name, &follow)
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    // Pending: two requests for the editor, no follower, and no Accept
    // queued with them.
    let requests = eventually(10, || async {
        let (_, requests) = server
            .api(Method::GET, "/organisations/iwa/follow-requests", None)
            .await;
        (requests["total"] == 2).then_some(requests)
    })
    .await;
    assert_eq!(followers_total(&server, "iwa").await, 0);
    let accepts = db.deliveries_of("Accept").await;
    assert!(accepts.is_empty(), "{accepts:?}");
    assert!(peer.received_of("Accept").is_empty());
    let id_of = |name: &str| {
        requests["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                r["actor"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/users/{name}"))
            })
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (bob, carol) = (id_of("bob"), id_of("carol"));

    // Accept bob: an Accept goes out and bob counts as a follower.
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/organisations/iwa/follow-requests/{bob}/accept"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let accept = eventually(5, || async {
        peer.received_of("Accept").into_iter().next()
    })
    .await;
    assert!(accept.verified);
    assert!(
        accept.activity["object"]["actor"]
            .as_str()
            .unwrap()
            .ends_with("/users/bob")
    );
    assert_eq!(followers_total(&server, "iwa").await, 1);

    // Reject carol: a Reject goes out and she is gone.
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/organisations/iwa/follow-requests/{carol}/reject"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reject = eventually(5, || async {
        peer.received_of("Reject").into_iter().next()
    })
    .await;
    assert!(reject.verified);
    assert!(
        reject.activity["object"]["actor"]
            .as_str()
            .unwrap()
            .ends_with("/users/carol")
    );
    let (_, requests) = server
        .api(Method::GET, "/organisations/iwa/follow-requests", None)
        .await;
    assert_eq!(requests["total"], 0);
    // A request that no longer exists is a 404.
    let (status, _) = server
        .api(
            Method::POST,
            &format!("/organisations/iwa/follow-requests/{carol}/accept"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Removing bob sends Undo{Accept}.
    let (status, _) = server
        .api(
            Method::DELETE,
            &format!("/organisations/iwa/followers/{bob}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let undo = eventually(5, || async { peer.received_of("Undo").into_iter().next() }).await;
    assert!(undo.verified);
    assert_eq!(undo.activity["object"]["type"], "Accept");
    assert!(
        undo.activity["object"]["object"]["actor"]
            .as_str()
            .unwrap()
            .ends_with("/users/bob")
    );
    assert_eq!(followers_total(&server, "iwa").await, 0);
});

both_backends!(actor_deletion_and_domain_blocks, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    let org = server.url("/organisations/cras");
    let peer = Peer::start().await;
    let stranger = Peer::start().await;

    // A Delete from an actor we never saw: 202, and nothing is fetched.
    let delete = serde_json::json!({
        "id": format!("{}#delete", stranger.actor("ghost")),
        "type": "Delete",
        "actor": stranger.actor("ghost"),
        "object": stranger.actor("ghost"),
    });
    let response = stranger.send(&server.url("/inbox"), "ghost", &delete).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(
        stranger.fetches().is_empty(),
        "the unknown actor was not fetched"
    );

    // A Delete from a follower we know removes its follows.
    for name in ["dave", "erin"] {
        let follow = peer.follow(name, &org);
        peer.send(&server.url("/inbox"), name, &follow).await;
    }
    assert_eq!(followers_total(&server, "cras").await, 2);
    let delete = serde_json::json!({
        "id": format!("{}#delete", peer.actor("dave")),
        "type": "Delete",
        "actor": peer.actor("dave"),
        "object": peer.actor("dave"),
    });
    assert_eq!(
        peer.send(&server.url("/inbox"), "dave", &delete)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(followers_total(&server, "cras").await, 1);

    // Blocking the domain removes its followers and refuses what it sends.
    let (status, block) = server
        .api(
            Method::POST,
            "/domain-blocks",
            Some(serde_json::json!({"domain": peer.domain(), "reason": "spam"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{block}");
    assert_eq!(followers_total(&server, "cras").await, 0);
    let follow = peer.follow("frank", &org);
    let response = peer.send(&server.url("/inbox"), "frank", &follow).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(followers_total(&server, "cras").await, 0);
    let (_, blocks) = server.api(Method::GET, "/domain-blocks", None).await;
    assert_eq!(blocks[0]["domain"], peer.domain());
    let (status, _) = server
        .api(
            Method::POST,
            "/domain-blocks",
            Some(serde_json::json!({"domain": "not a domain"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Unblocked, it can follow again.
    let (status, _) = server
        .api(
            Method::DELETE,
            &format!("/domain-blocks/{}", peer.domain()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let follow = peer.follow("frank", &org);
    assert_eq!(
        peer.send(&server.url("/inbox"), "frank", &follow)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(followers_total(&server, "cras").await, 1);
});

both_backends!(we_sign_our_fetches, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    // A peer in authorized-fetch mode answers only signed GETs.
    let peer = Peer::start().await;
    peer.require_signed_fetches();
    let follow = peer.follow("grace", &server.url("/organisations/cras"));
    assert_eq!(
        peer.send(&server.url("/inbox"), "grace", &follow)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        peer.fetches(),
        vec![true],
        "one fetch of grace, signed by our instance actor"
    );
    assert_eq!(followers_total(&server, "cras").await, 1);
    // The instance actor is fetchable unsigned.
    let actor: Value = server.ap_json(&server.url("/actor")).await;
    assert_eq!(actor["type"], "Application");
    assert_eq!(actor["id"], server.url("/actor"));
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .contains("PUBLIC KEY")
    );
});

both_backends!(profile_changes_reach_followers, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    let org = server.url("/organisations/cras");
    let peer = Peer::start().await;
    for name in ["ann", "ben"] {
        let follow = peer.follow(name, &org);
        peer.send(&server.url("/inbox"), name, &follow).await;
    }
    eventually(5, || async {
        (peer.received_of("Accept").len() == 2).then_some(())
    })
    .await;

    // An edit goes out as one Update per server (its shared inbox).
    let (status, _) = server
        .api(
            Method::PATCH,
            "/organisations/cras",
            Some(serde_json::json!({"name": "CRAS-IWA"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let update = eventually(5, || async {
        peer.received_of("Update").into_iter().next()
    })
    .await;
    assert!(update.verified);
    assert_eq!(update.path, "/inbox", "to the shared inbox");
    assert_eq!(update.activity["object"]["type"], "Organization");
    assert_eq!(update.activity["object"]["name"], "CRAS-IWA");
    // Queued with the edit: one delivery, to the server's shared inbox.
    let updates = db.deliveries_of("Update").await;
    assert_eq!(
        updates.len(),
        1,
        "one request for two followers on one server: {updates:?}"
    );
    assert_eq!(peer.received_of("Update").len(), 1);

    // Deleting the organisation tells them, signed with its key.
    let (status, _) = server
        .api(Method::DELETE, "/organisations/cras", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let delete = eventually(5, || async {
        peer.received_of("Delete").into_iter().next()
    })
    .await;
    assert!(delete.verified, "verified with the key the peer cached");
    assert_eq!(delete.activity["object"], org);
});

/// Stores an accepted follower of `organisation` at `host`, as if it had
/// followed long ago.
async fn follower_at(server: &TestServer, organisation: &str, host: &str, name: &str) {
    let store = &server.store;
    let org = store.organisation(organisation).await.unwrap();
    let uri = format!("https://{host}/users/{name}");
    let actor = store
        .upsert_remote_actor(&broadside::store::RemoteActorData {
            uri: uri.clone(),
            domain: host.to_string(),
            inbox: format!("{uri}/inbox"),
            shared_inbox: Some(format!("https://{host}/inbox")),
            public_key_id: format!("{uri}#main-key"),
            public_key_pem: String::new(),
            preferred_username: Some(name.to_string()),
            name: None,
            kind: "Person".into(),
            icon_url: None,
        })
        .await
        .unwrap();
    store
        .record_follow(org.id, actor.id, &format!("{uri}#follow"), true)
        .await
        .unwrap();
}

async fn publish(server: &TestServer, title: &str) -> Value {
    let (status, body) = server
        .api(
            Method::POST,
            "/statements",
            Some(serde_json::json!({
                "title": title, "body": "Text.", "signatories": ["cras"], "publish": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// Deliveries (inbox, state, last error) of the statement `id`.
async fn deliveries_of(server: &TestServer, id: &str) -> Vec<(String, String, Option<String>)> {
    let mut all = Vec::new();
    for state in ["queued", "sending", "delivered", "failed"] {
        let (status, body) = server
            .api(
                Method::GET,
                &format!("/statements/{id}/deliveries?state={state}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for d in body["deliveries"].as_array().unwrap() {
            all.push((
                d["inbox"].as_str().unwrap().to_string(),
                d["state"].as_str().unwrap().to_string(),
                d["last_error"].as_str().map(str::to_string),
            ));
        }
    }
    all
}

// A block covers the domain and every subdomain, wherever the rule is asked:
// followers on covered servers go, their queued deliveries are dropped, and
// a delivery a worker had already claimed before the block is not sent.
both_backends!(
    a_block_covers_subdomains_everywhere,
    |db: TestDb| async move {
        // One request per host at a time, so a second delivery to the peer waits
        // in the worker's memory while the first is in flight.
        let server = TestServer::start_with(&db, |c| c.delivery_per_host_concurrency = 1).await;
        server.create_organisation("cras", "CRAS").await;
        follower_at(&server, "cras", "a.example.invalid", "ann").await;
        follower_at(&server, "cras", "deep.b.example.invalid:8443", "bob").await;
        follower_at(&server, "cras", "example.invalidx", "cat").await;
        let peer = Peer::start().await;
        let follow = peer.follow("zoe", &server.url("/organisations/cras"));
        let status = peer
            .send(&server.url("/inbox"), "zoe", &follow)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
        eventually(10, || async {
            (!peer.received_of("Accept").is_empty()).then_some(())
        })
        .await;
        assert_eq!(followers_total(&server, "cras").await, 4);

        // The peer is slow: the first Create is in flight for 3 s, the second
        // waits behind it.
        peer.set_behaviour(StatusCode::ACCEPTED, std::time::Duration::from_secs(3));
        let first = publish(&server, "First").await;
        eventually(10, || async {
            (peer.received_of("Create").len() == 1).then_some(())
        })
        .await;
        let second = publish(&server, "Second").await;

        let (status, _) = server
            .api(
                Method::POST,
                "/domain-blocks",
                Some(serde_json::json!({"domain": "Example.INVALID."})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(
            followers_total(&server, "cras").await,
            2,
            "ann and bob are gone"
        );
        let (_, followers) = server
            .api(Method::GET, "/organisations/cras/followers", None)
            .await;
        let left: Vec<&str> = followers["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["actor"].as_str())
            .collect();
        assert!(
            left.iter().any(|a| a.contains("example.invalidx")),
            "{left:?}"
        );
        let first_deliveries = deliveries_of(&server, first["id"].as_str().unwrap()).await;
        assert_eq!(first_deliveries.len(), 4, "{first_deliveries:?}");
        for (inbox, state, error) in &first_deliveries {
            if inbox.contains("example.invalid/") || inbox.contains("example.invalid:") {
                assert_eq!(state, "failed", "{inbox}");
                assert_eq!(error.as_deref(), Some("domain blocked"), "{inbox}");
            } else {
                assert_ne!(error.as_deref(), Some("domain blocked"), "{inbox}");
            }
        }

        // Blocking the peer's server while its second Create waits in memory.
        let (status, _) = server
            .api(
                Method::POST,
                "/domain-blocks",
                Some(serde_json::json!({"domain": "localhost"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        // The block already marked both rows failed, so the queue cannot
        // show what the worker does with the copy it holds in memory: only
        // the peer can, once the worker's turn for it has come (the first
        // Create answered after 3 s).
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let creates = peer.received_of("Create");
        assert_eq!(
            creates.len(),
            1,
            "the waiting delivery was not sent after the block"
        );
        assert_eq!(creates[0].activity["object"]["id"], first["url"]);
        let to_peer: Vec<_> = deliveries_of(&server, second["id"].as_str().unwrap())
            .await
            .into_iter()
            .filter(|(inbox, _, _)| inbox.contains("localhost"))
            .collect();
        assert_eq!(to_peer.len(), 1, "{to_peer:?}");
        assert_eq!(to_peer[0].1, "failed");
        assert_eq!(
            followers_total(&server, "cras").await,
            1,
            "only cat is left"
        );
    }
);
