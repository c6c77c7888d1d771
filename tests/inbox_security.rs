//! Hostile and broken requests to the inboxes: each is refused with the
//! right status and a JSON error, and changes nothing.

mod common;

use std::time::{Duration, SystemTime};

use common::{
    TestDb, TestServer,
    peer::{Peer, Signing},
};
use reqwest::StatusCode;
use serde_json::Value;

/// No follower, no pending request, and nothing queued to send back (an
/// Accept is queued with the follower it accepts, so an empty queue after
/// the refusal means none goes out).
async fn nothing_changed(db: &TestDb, server: &TestServer, peer: &Peer) {
    let (_, org) = server
        .api(reqwest::Method::GET, "/organisations/cras", None)
        .await;
    assert_eq!(org["followers_count"], 0, "no follower was added");
    assert_eq!(org["follow_requests_count"], 0, "no request was added");
    let queued = db.deliveries().await;
    assert!(
        queued.is_empty(),
        "nothing was queued to send back: {queued:?}"
    );
    assert!(peer.received().is_empty(), "nothing was sent back");
}

both_backends!(refusals, |db: TestDb| async move {
    let server = TestServer::start_with(&db, |c| c.max_inbox_body_bytes = 64 * 1024).await;
    server.create_organisation("cras", "CRAS").await;
    let org = server.url("/organisations/cras");
    let inbox = server.url("/organisations/cras/inbox");
    let peer = Peer::start().await;
    let other = Peer::start().await;
    let follow = peer.follow("mallory", &org);
    let valid = Signing::as_actor(&peer, "mallory");

    let mut cases: Vec<(&str, Signing, StatusCode)> = Vec::new();
    cases.push((
        "no signature",
        Signing {
            sign: false,
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    for (what, headers) in [
        ("no (request-target)", vec!["host", "date", "digest"]),
        ("no host", vec!["(request-target)", "date", "digest"]),
        ("no date", vec!["(request-target)", "host", "digest"]),
        ("no digest", vec!["(request-target)", "host", "date"]),
    ] {
        cases.push((
            what,
            Signing {
                headers,
                ..valid.clone()
            },
            StatusCode::UNAUTHORIZED,
        ));
    }
    cases.push((
        "digest header missing",
        Signing {
            send_digest: false,
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    cases.push((
        "wrong digest",
        Signing {
            digest_override: Some("SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    cases.push((
        "stale date",
        Signing {
            date: SystemTime::now() - Duration::from_secs(2 * 3600),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    cases.push((
        "future date",
        Signing {
            date: SystemTime::now() + Duration::from_secs(2 * 3600),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    cases.push((
        "unknown algorithm",
        Signing {
            algorithm: "ed25519".into(),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    // Signed (validly) for another server: a replay of what a peer sent elsewhere.
    cases.push((
        "signed for another host",
        Signing {
            host: Some("elsewhere.example".into()),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    // Signed by another actor of the same server: its key, not mallory's.
    cases.push((
        "key of another actor",
        Signing {
            key_id: peer.key_id("trudy"),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    // A key on another server than the actor.
    cases.push((
        "key on another host",
        Signing {
            key_id: other.key_id("mallory"),
            ..valid.clone()
        },
        StatusCode::UNAUTHORIZED,
    ));
    // Valid signature over a body that is not JSON.
    cases.push((
        "not JSON",
        Signing {
            raw_body: Some(b"{\"type\": \"Follow\",".to_vec()),
            ..valid.clone()
        },
        StatusCode::BAD_REQUEST,
    ));
    // Nested 40 deep.
    let deep = format!(
        "{{\"id\":\"x\",\"a\":{}1{}}}",
        "[".repeat(40),
        "]".repeat(40)
    );
    cases.push((
        "too deep",
        Signing {
            raw_body: Some(deep.into_bytes()),
            ..valid.clone()
        },
        StatusCode::BAD_REQUEST,
    ));
    // Over the body cap.
    let mut big = follow.clone();
    big["padding"] = Value::String("x".repeat(100 * 1024));
    cases.push((
        "oversized",
        Signing {
            raw_body: Some(serde_json::to_vec(&big).unwrap()),
            ..valid.clone()
        },
        StatusCode::PAYLOAD_TOO_LARGE,
    ));

    for (what, signing, expected) in cases {
        let response = peer.send_with(&inbox, &signing, &follow).await;
        assert_eq!(response.status(), expected, "{what}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(body["error"].is_string(), "{what}: JSON error, got {body}");
        nothing_changed(&db, &server, &peer).await;
    }

    // RFC 9421 only: 401, so that peers fall back to draft-cavage.
    let response = server
        .http
        .post(&inbox)
        .header(
            "Signature-Input",
            "sig1=(\"@method\" \"@target-uri\");keyid=\"k\";created=1",
        )
        .header("Content-Type", "application/activity+json")
        .body(serde_json::to_vec(&follow).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // An activity whose id is on another host than its actor.
    let mut spoofed = follow.clone();
    spoofed["id"] = Value::String(format!("{}#follow", other.actor("x")));
    assert_eq!(
        peer.send(&inbox, "mallory", &spoofed).await.status(),
        StatusCode::BAD_REQUEST
    );
    // An activity claiming to come from one of our own organisations.
    let mut forged = follow.clone();
    forged["actor"] = Value::String(org.clone());
    forged["id"] = Value::String(format!("{org}#forged"));
    let forged_signing = Signing {
        key_id: format!("{org}#main-key"),
        ..valid.clone()
    };
    let status = peer
        .send_with(&inbox, &forged_signing, &forged)
        .await
        .status();
    // Refused once the envelope is read, before any key is looked up: the
    // actor is local (the signature could not be ours).
    assert_eq!(status, StatusCode::FORBIDDEN);
    nothing_changed(&db, &server, &peer).await;

    // hs2019 (the algorithm name Mastodon's docs recommend) is accepted too.
    let other_follow = peer.follow("oscar", &org);
    let hs2019 = Signing {
        algorithm: "hs2019".into(),
        ..Signing::as_actor(&peer, "oscar")
    };
    assert_eq!(
        peer.send_with(&inbox, &hs2019, &other_follow)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    common::eventually(5, || async {
        (peer.received_of("Accept").len() == 1).then_some(())
    })
    .await;
    let oscar_undo = peer.undo("oscar", &other_follow);
    assert_eq!(
        peer.send(&inbox, "oscar", &oscar_undo).await.status(),
        StatusCode::ACCEPTED
    );

    // The genuine request works, once: a replay of the same id changes nothing.
    assert_eq!(
        peer.send(&inbox, "mallory", &follow).await.status(),
        StatusCode::ACCEPTED
    );
    common::eventually(5, || async {
        (!peer.received_of("Accept").is_empty()).then_some(())
    })
    .await;
    let undo = peer.undo("mallory", &follow);
    assert_eq!(
        peer.send(&inbox, "mallory", &undo).await.status(),
        StatusCode::ACCEPTED
    );
    let (_, org_view) = server
        .api(reqwest::Method::GET, "/organisations/cras", None)
        .await;
    assert_eq!(org_view["followers_count"], 0);
    let replay = peer.send(&inbox, "mallory", &follow).await;
    assert_eq!(
        replay.status(),
        StatusCode::ACCEPTED,
        "a replay is acknowledged"
    );
    let (_, org_view) = server
        .api(reqwest::Method::GET, "/organisations/cras", None)
        .await;
    assert_eq!(org_view["followers_count"], 0, "but not acted on");
    assert_eq!(
        peer.received_of("Accept").len(),
        2,
        "oscar's and mallory's, once each"
    );

    // Undo of someone else's follow is refused.
    let bob_follow = peer.follow("bob", &org);
    peer.send(&inbox, "bob", &bob_follow).await;
    let mut hijack = peer.undo("mallory", &bob_follow);
    hijack["id"] = Value::String(format!("{}#undo-hijack", peer.actor("mallory")));
    assert_eq!(
        peer.send(&inbox, "mallory", &hijack).await.status(),
        StatusCode::FORBIDDEN
    );
    let (_, org_view) = server
        .api(reqwest::Method::GET, "/organisations/cras", None)
        .await;
    assert_eq!(org_view["followers_count"], 1, "bob still follows");
    // An Undo of a Follow of something that is not ours removes nothing.
    let stray = peer.follow("bob", "https://elsewhere.example/users/someone");
    let undo_stray = peer.undo("bob", &stray);
    assert_eq!(
        peer.send(&inbox, "bob", &undo_stray).await.status(),
        StatusCode::ACCEPTED
    );
    let (_, org_view) = server
        .api(reqwest::Method::GET, "/organisations/cras", None)
        .await;
    assert_eq!(
        org_view["followers_count"], 1,
        "bob's follow of cras stands"
    );
});
