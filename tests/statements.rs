//! Publishing the seed statement ("Declaration about Kazakhstan", signed by
//! StopTotalControl and CRAS) to followers on several test peers, and what
//! they see: Create from the lead, Announce from each co-signer, edits,
//! late signatories, deletion, scheduling and pinning.

mod common;

use std::time::Duration;

use common::{TestDb, TestServer, eventually, follow, peer::Peer, received};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BODY: &str = include_str!("fixtures/kazakhstan.md");
const DISCLAIMER: &str = "The views expressed here are not the official position of the IWW (or even the IWW's EUC) and do not necessarily represent the views of anyone but the author.";

async fn organisations(server: &TestServer) {
    server
        .create_organisation(
            "stop_total_control",
            "Anarchist Initiative StopTotalControl",
        )
        .await;
    server
        .create_organisation(
            "cras",
            "Commission of Information of CRAS, IWA section in the Region of Russia",
        )
        .await;
    server
        .create_organisation("iwa", "International Workers' Association")
        .await;
}

fn seed(publish: bool) -> Value {
    json!({
        "title": "Declaration about Kazakhstan",
        "body": BODY,
        "signatories": ["stop_total_control", "cras"],
        "language": "en",
        "tags": ["Kazakhstan", "solidarity"],
        "original_date": "2022-01-13",
        "disclaimer": DISCLAIMER,
        "publish": publish,
    })
}

both_backends!(
    a_joint_statement_reaches_every_follower,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        organisations(&server).await;
        let lead = server.url("/organisations/stop_total_control");
        let cras = server.url("/organisations/cras");
        // Peer A (shared inbox): two followers of the lead, one of CRAS.
        let a = Peer::start().await;
        follow(&server, &a, "a1", "stop_total_control").await;
        follow(&server, &a, "a2", "stop_total_control").await;
        follow(&server, &a, "a3", "cras").await;
        // Peer B (shared inbox): one follower of CRAS, one of IWA.
        let b = Peer::start().await;
        follow(&server, &b, "b1", "cras").await;
        follow(&server, &b, "b2", "iwa").await;
        // Peer C (no shared inbox): one follower of the lead.
        let c = Peer::start_with(false).await;
        follow(&server, &c, "c1", "stop_total_control").await;
        eventually(5, || async {
            (a.received_of("Accept").len() == 3
                && b.received_of("Accept").len() == 2
                && c.received_of("Accept").len() == 1)
                .then_some(())
        })
        .await;

        let (status, created) = server
            .api(Method::POST, "/statements", Some(seed(true)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "published");
        let url = created["url"].as_str().unwrap().to_string();

        // Peer A: one Create and one Announce, each once, at the shared inbox.
        let creates = received(&a, "Create", 1).await;
        let announces = received(&a, "Announce", 1).await;
        // Queued with the publication: one Create and one Announce for A's
        // shared inbox, each sent once.
        let to_a = format!("http://{}/inbox", a.domain());
        let queued: Vec<_> = db
            .settled_deliveries(10)
            .await
            .into_iter()
            .filter(|d| d.inbox == to_a && d.kind != "Accept")
            .map(|d| (d.kind, d.state, d.attempts))
            .collect();
        assert_eq!(queued.len(), 2, "one request per shared inbox: {queued:?}");
        for kind in ["Create", "Announce"] {
            assert!(
                queued.contains(&(kind.to_string(), "delivered".to_string(), 1)),
                "{kind}: {queued:?}"
            );
        }
        assert_eq!(
            a.received_of("Create").len(),
            1,
            "one request per shared inbox"
        );
        assert_eq!(a.received_of("Announce").len(), 1);
        let create = &creates[0];
        assert!(create.verified, "signed by the lead's own key");
        assert_eq!(create.path, "/inbox");
        assert_eq!(create.key_id, format!("{lead}#main-key"));
        let note = &create.activity["object"];
        assert_eq!(create.activity["actor"], lead);
        assert_eq!(note["type"], "Note");
        assert_eq!(note["id"], url);
        assert_eq!(note["attributedTo"], json!([lead, cras]));
        assert_eq!(
            note["to"],
            json!(["https://www.w3.org/ns/activitystreams#Public"])
        );
        assert!(
            note["cc"]
                .as_array()
                .unwrap()
                .contains(&json!(format!("{lead}/followers")))
        );
        let content = note["content"].as_str().unwrap();
        assert!(content.starts_with("<p><strong>Declaration about Kazakhstan</strong></p>"));
        assert!(content.contains("13 January 2022"));
        assert!(content.contains("full and complete solidarity"));
        assert!(
            content.contains(&format!("href=\"{cras}\"")),
            "signatories are linked"
        );
        assert!(content.contains("not the official position of the IWW"));
        assert_eq!(note["contentMap"]["en"], note["content"]);
        let tags = note["tag"].as_array().unwrap();
        assert!(
            tags.iter()
                .any(|t| t["type"] == "Mention" && t["href"] == cras)
        );
        assert!(
            tags.iter()
                .any(|t| t["type"] == "Hashtag" && t["name"] == "#Kazakhstan")
        );
        let published =
            chrono::DateTime::parse_from_rfc3339(note["published"].as_str().unwrap()).unwrap();
        assert!(
            (chrono::Utc::now() - published.with_timezone(&chrono::Utc)).num_seconds() < 60,
            "published is now, not 2022"
        );
        // Anyone may quote by default; QuoteRequests are answered at once.
        assert_eq!(
            note["interactionPolicy"]["canQuote"]["automaticApproval"],
            json!(["https://www.w3.org/ns/activitystreams#Public"])
        );
        let announce = &announces[0];
        assert!(announce.verified);
        assert_eq!(announce.activity["actor"], cras);
        assert_eq!(announce.activity["object"], url);
        assert_eq!(announce.key_id, format!("{cras}#main-key"));

        // Peer B follows only CRAS (and IWA, which did not sign): the Announce only.
        received(&b, "Announce", 1).await;
        assert!(b.received_of("Create").is_empty());
        // Peer C has no shared inbox: the Create at its follower's inbox.
        let c_create = received(&c, "Create", 1).await;
        assert_eq!(c_create[0].path, "/users/c1/inbox");
        assert!(c_create[0].verified);

        // The object fetched back by its URL is the one that was sent.
        let fetched: Value = server.ap_json(&url).await;
        for key in [
            "id",
            "type",
            "attributedTo",
            "content",
            "published",
            "to",
            "url",
        ] {
            assert_eq!(fetched[key], note[key], "{key}");
        }
        let page = server
            .http
            .get(&url)
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = page.text().await.unwrap();
        assert!(html.contains("Declaration about Kazakhstan"));
        assert!(html.contains("fediverse:creator"));
        // The activities are dereferenceable too.
        let fetched_create: Value = server
            .ap_json(create.activity["id"].as_str().unwrap())
            .await;
        assert_eq!(fetched_create["type"], "Create");

        // Outboxes and counts.
        for handle in ["stop_total_control", "cras"] {
            let outbox: Value = server
                .ap_json(&server.url(&format!("/organisations/{handle}/outbox")))
                .await;
            assert_eq!(outbox["totalItems"], 1, "{handle}");
            let first: Value = server.ap_json(outbox["first"].as_str().unwrap()).await;
            let kind = if handle == "cras" {
                "Announce"
            } else {
                "Create"
            };
            assert_eq!(first["orderedItems"][0]["type"], kind);
        }
        let nodeinfo: Value = server.json(server.url("/nodeinfo/2.1")).await;
        assert_eq!(nodeinfo["usage"]["localPosts"], 1);
        let (_, report) = server
            .api(
                Method::GET,
                &format!("/statements/{}/deliveries", created["id"].as_str().unwrap()),
                None,
            )
            .await;
        let total = report["counts"]["delivered"].as_i64().unwrap()
            + report["counts"]["queued"].as_i64().unwrap()
            + report["counts"]["sending"].as_i64().unwrap();
        assert_eq!(
            total, 4,
            "A: Create + Announce, B: Announce, C: Create — {report}"
        );

        // An edit arrives as an Update with a later `updated`, wherever the statement went.
        let id = created["id"].as_str().unwrap().to_string();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, _) = server
            .api(
                Method::PATCH,
                &format!("/statements/{id}"),
                Some(json!({"title": "Declaration about Kazakhstan (corrected)"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        for peer in [&a, &b, &c] {
            let update = received(peer, "Update", 1).await;
            assert!(update[0].verified);
            let object = &update[0].activity["object"];
            assert_eq!(object["id"], url);
            assert!(object["content"].as_str().unwrap().contains("(corrected)"));
            assert!(object["updated"].as_str().unwrap() > object["published"].as_str().unwrap());
        }

        // A signatory added later boosts it too, and the statement is updated.
        let (status, body) = server
            .api(
                Method::POST,
                &format!("/statements/{id}/signatories"),
                Some(json!({"handle": "iwa"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let iwa_announce = eventually(10, || async {
            b.received_of("Announce")
                .into_iter()
                .find(|r| r.activity["actor"] == server.url("/organisations/iwa"))
        })
        .await;
        assert!(iwa_announce.verified);
        let updates = received(&b, "Update", 2).await;
        assert!(
            updates.last().unwrap().activity["object"]["attributedTo"]
                .as_array()
                .unwrap()
                .len()
                == 3
        );

        // Deletion: a Delete with a Tombstone, and the URL is 404 from then on.
        let (status, _) = server
            .api(Method::DELETE, &format!("/statements/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        for peer in [&a, &b, &c] {
            let delete = received(peer, "Delete", 1).await;
            assert!(delete[0].verified);
            assert_eq!(delete[0].activity["object"]["type"], "Tombstone");
            assert_eq!(delete[0].activity["object"]["id"], url);
        }
        assert_eq!(server.get_ap(&url).await.status(), StatusCode::NOT_FOUND);
        // Its Create, which carried the text, is gone too.
        let create_id = create.activity["id"].as_str().unwrap();
        assert_eq!(
            server.get_ap(create_id).await.status(),
            StatusCode::NOT_FOUND
        );
        let outbox: Value = server
            .ap_json(&server.url("/organisations/cras/outbox"))
            .await;
        assert_eq!(outbox["totalItems"], 0);
    }
);

both_backends!(bad_statements_are_refused, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    organisations(&server).await;
    let with = |key: &str, value: Value| {
        let mut body = seed(true);
        body[key] = value;
        body
    };
    let cases = vec![
        (
            with("signatories", json!(["stop_total_control", "nobody"])),
            "signatories[1]",
        ),
        (
            with("signatories", json!(["cras", "cras"])),
            "signatories[1]",
        ),
        (with("signatories", json!([])), "signatories"),
        (with("body", json!("   ")), "body"),
        (with("title", json!("")), "title"),
        (
            with("original_date", json!("13 January 2022")),
            "original_date",
        ),
        (with("format", json!("poem")), "format"),
        (with("publish_at", json!("tomorrow")), "publish_at"),
        (with("tags", json!(["two words"])), "tags[0]"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        let (status, answer) = server.api(Method::POST, "/statements", Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{field}: {answer}"
        );
    }
    let (_, list) = server.api(Method::GET, "/statements", None).await;
    assert_eq!(list, json!([]), "nothing was stored");
    let nodeinfo: Value = server.json(server.url("/nodeinfo/2.1")).await;
    assert_eq!(nodeinfo["usage"]["localPosts"], 0);

    // A draft is not public and can be listed, published and pinned.
    let (status, draft) = server
        .api(Method::POST, "/statements", Some(seed(false)))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(draft["status"], "draft");
    assert_eq!(
        server.get_ap(draft["url"].as_str().unwrap()).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, drafts) = server
        .api(
            Method::GET,
            "/statements?status=draft&organisation=cras",
            None,
        )
        .await;
    assert_eq!(drafts.as_array().unwrap().len(), 1);
    let id = draft["id"].as_str().unwrap();
    let (status, _) = server
        .api(
            Method::POST,
            "/organisations/stop_total_control/featured",
            Some(json!({"statement": id})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "drafts cannot be pinned"
    );
    let (status, published) = server
        .api(Method::POST, &format!("/statements/{id}/publish"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(published["status"], "published");
    let (status, _) = server
        .api(Method::POST, &format!("/statements/{id}/publish"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "published once only");
    let (status, _) = server
        .api(
            Method::POST,
            "/organisations/stop_total_control/featured",
            Some(json!({"statement": id})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let featured: Value = server
        .ap_json(&server.url("/organisations/stop_total_control/featured"))
        .await;
    assert_eq!(featured["totalItems"], 1);
    let first: Value = server.ap_json(featured["first"].as_str().unwrap()).await;
    assert_eq!(first["orderedItems"][0], published["url"]);
    for other in ["cras", "iwa"] {
        let (status, _) = server
            .api(
                Method::POST,
                &format!("/organisations/{other}/featured"),
                Some(json!({"statement": id})),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "only the lead pins: {other}"
        );
    }

    // An Article carries name, summary and a preview Note.
    let mut article = seed(true);
    article["format"] = json!("article");
    article["summary"] = json!("Russian anarcho-syndicalists stand with Kazakhstan's workers.");
    let (_, created) = server.api(Method::POST, "/statements", Some(article)).await;
    let object: Value = server.ap_json(created["url"].as_str().unwrap()).await;
    assert_eq!(object["type"], "Article");
    assert_eq!(object["name"], "Declaration about Kazakhstan");
    assert!(object["summary"].as_str().unwrap().contains("stand with"));
    assert_eq!(object["preview"]["type"], "Note");
    // The hashtag page lists both published statements.
    let tag_page = server
        .http
        .get(server.url("/tags/kazakhstan"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        tag_page.matches("Declaration about Kazakhstan").count(),
        2,
        "{tag_page}"
    );
});

both_backends!(
    scheduled_statements_go_out_after_a_restart,
    |db: TestDb| async move {
        let peer = Peer::start().await;
        let first = TestServer::start(&db).await;
        organisations(&first).await;
        follow(&first, &peer, "s1", "stop_total_control").await;
        eventually(5, || async {
            (!peer.received_of("Accept").is_empty()).then_some(())
        })
        .await;
        let at = chrono::Utc::now() + chrono::Duration::seconds(3);
        let mut body = seed(false);
        body["publish_at"] = json!(at.to_rfc3339());
        let (status, created) = first.api(Method::POST, "/statements", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "scheduled");
        let addr = first.addr;
        first.kill();
        // Nobody runs while the time passes.
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(peer.received_of("Create").is_empty());
        let second = TestServer::restart_at(&db, addr, |_| {}).await;
        let create = received(&peer, "Create", 1).await;
        assert!(create[0].verified);
        assert_eq!(create[0].activity["object"]["id"], created["url"]);
        let (_, now) = second
            .api(
                Method::GET,
                &format!("/statements/{}", created["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(now["status"], "published");
        // One Create queued, sent once: nothing is left to publish it again.
        let creates: Vec<_> = db
            .settled_deliveries(10)
            .await
            .into_iter()
            .filter(|d| d.kind == "Create")
            .map(|d| (d.state, d.attempts))
            .collect();
        assert_eq!(creates, [("delivered".to_string(), 1)], "published once");
        assert_eq!(peer.received_of("Create").len(), 1, "published once");
    }
);

/// Makes every insert of an Update activity fail, as a full disk or a lost
/// connection would at that moment (`false` removes the fault again).
/// Makes every insert of an outgoing activity of `kind` fail (`on`), or
/// lifts that: a fault in the middle of a change's transaction.
async fn fail_activities(db: &TestDb, kind: &str, on: bool) {
    use sqlx::{Connection, Executor};
    let sqlite = db.url.starts_with("sqlite:");
    let name = format!("fail_{}", kind.to_lowercase());
    let statements: Vec<String> = match (sqlite, on) {
        (true, true) => vec![format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON outbound_activities \
             WHEN NEW.kind = '{kind}' BEGIN SELECT RAISE(ABORT, 'forced failure'); END"
        )],
        (true, false) => vec![format!("DROP TRIGGER {name}")],
        (false, true) => vec![
            format!(
                "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'forced failure'; END $$ LANGUAGE plpgsql"
            ),
            format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON outbound_activities FOR EACH ROW \
                 WHEN (NEW.kind = '{kind}') EXECUTE FUNCTION {name}()"
            ),
        ],
        (false, false) => vec![format!("DROP TRIGGER {name} ON outbound_activities")],
    };
    if sqlite {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        for sql in &statements {
            conn.execute(sqlx::AssertSqlSafe(sql.as_str()))
                .await
                .unwrap();
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for sql in &statements {
            conn.execute(sqlx::AssertSqlSafe(sql.as_str()))
                .await
                .unwrap();
        }
    }
}

// An edit whose Update cannot be queued changes nothing: the statement
// keeps its text and followers get nothing; once the fault is gone the
// same edit goes through, text and Update together.
both_backends!(a_failed_edit_changes_nothing, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    organisations(&server).await;
    let peer = Peer::start().await;
    follow(&server, &peer, "p1", "stop_total_control").await;
    received(&peer, "Accept", 1).await;
    let (status, created) = server
        .api(Method::POST, "/statements", Some(seed(true)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    received(&peer, "Create", 1).await;
    let id = created["id"].as_str().unwrap().to_string();
    let edit = json!({"title": "Declaration about Kazakhstan (corrected)"});

    fail_activities(&db, "Update", true).await;
    let (status, body) = server
        .api(
            Method::PATCH,
            &format!("/statements/{id}"),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let (_, now) = server
        .api(Method::GET, &format!("/statements/{id}"), None)
        .await;
    assert_eq!(now["title"], created["title"], "the edit was not stored");
    assert_eq!(now["edited_at"], created["edited_at"]);
    let page = server
        .http
        .get(server.url(&format!("/statements/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("(corrected)"));

    fail_activities(&db, "Update", false).await;
    let updates = db.deliveries_of("Update").await;
    assert!(updates.is_empty(), "nothing was queued: {updates:?}");
    assert!(peer.received_of("Update").is_empty(), "nothing was sent");
    let (status, body) = server
        .api(Method::PATCH, &format!("/statements/{id}"), Some(edit))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["title"], "Declaration about Kazakhstan (corrected)");
    let update = received(&peer, "Update", 1).await;
    assert!(
        update[0].activity["object"]["content"]
            .as_str()
            .unwrap()
            .contains("(corrected)")
    );
});

// A signatory added to a published statement commits with its Announce and
// the Update: when they cannot be queued, the statement keeps its list.
both_backends!(
    a_failed_signature_changes_nothing,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        organisations(&server).await;
        server.create_organisation("late", "Late Signatory").await;
        let peer = Peer::start().await;
        follow(&server, &peer, "p1", "stop_total_control").await;
        follow(&server, &peer, "p2", "late").await;
        received(&peer, "Accept", 2).await;
        let (status, created) = server
            .api(Method::POST, "/statements", Some(seed(true)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        received(&peer, "Create", 1).await;
        let id = created["id"].as_str().unwrap().to_string();
        let sign = json!({"handle": "late"});

        fail_activities(&db, "Update", true).await;
        let (status, body) = server
            .api(
                Method::POST,
                &format!("/statements/{id}/signatories"),
                Some(sign.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        let (_, now) = server
            .api(Method::GET, &format!("/statements/{id}"), None)
            .await;
        assert_eq!(
            now["signatories"], created["signatories"],
            "no signatory added"
        );
        assert_eq!(now["edited_at"], created["edited_at"]);

        fail_activities(&db, "Update", false).await;
        let queued: Vec<_> = db
            .deliveries()
            .await
            .into_iter()
            .filter(|d| d.kind == "Announce" || d.kind == "Update")
            .collect();
        assert!(queued.is_empty(), "nothing was queued: {queued:?}");
        assert!(
            peer.received_of("Announce").is_empty(),
            "no Announce went out"
        );
        let (status, body) = server
            .api(
                Method::POST,
                &format!("/statements/{id}/signatories"),
                Some(sign),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["signatories"].as_array().unwrap().len(), 3);
        assert_eq!(received(&peer, "Announce", 1).await.len(), 1);
    }
);

// Writing and publishing in one request: if the publication cannot be
// queued, no draft is left behind either.
both_backends!(
    a_failed_publication_leaves_no_draft,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        organisations(&server).await;
        fail_activities(&db, "Create", true).await;
        let (status, body) = server
            .api(Method::POST, "/statements", Some(seed(true)))
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        for status in ["draft", "published"] {
            let (_, listed) = server
                .api(Method::GET, &format!("/statements?status={status}"), None)
                .await;
            assert_eq!(listed, json!([]), "no {status} statement was left");
        }
        fail_activities(&db, "Create", false).await;
        let (status, body) = server
            .api(Method::POST, "/statements", Some(seed(true)))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "published");
    }
);
