//! What people on other servers do with a statement, and what the editor
//! sees of it: likes, boosts, replies (moderated), quotes (answered with a
//! QuoteAuthorization, revocable), reports and blocks — each undone, edited
//! or deleted again, replayed, and spoofed by someone who does not own it.
//! The test peer signs with its own RSA code, as in the other tests.

mod common;

use common::{TestDb, TestServer, follow, peer::Peer, received};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// Sends `activity` signed by `name` to the organisation's inbox.
async fn send(server: &TestServer, peer: &Peer, name: &str, activity: &Value) -> StatusCode {
    peer.send(&server.url("/organisations/cras/inbox"), name, activity)
        .await
        .status()
}

fn activity(peer: &Peer, name: &str, kind: &str, object: Value) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#{}/{}", peer.actor(name), kind.to_lowercase(), uuid::Uuid::new_v4()),
        "type": kind,
        "actor": peer.actor(name),
        "to": [PUBLIC],
        "object": object,
    })
}

fn note(peer: &Peer, name: &str, id: &str, in_reply_to: &str, text: &str) -> Value {
    json!({
        "id": format!("{}/statuses/{id}", peer.actor(name)),
        "type": "Note",
        "attributedTo": peer.actor(name),
        "inReplyTo": in_reply_to,
        "content": text,
        "contentMap": {"en": text},
        "to": [PUBLIC],
        "published": "2026-12-01T10:00:00Z",
    })
}

async fn counts(server: &TestServer, statement: &str) -> Value {
    let (status, body) = server
        .api(
            Method::GET,
            &format!("/statements/{statement}/reactions"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn total(server: &TestServer, statement_url: &str, which: &str) -> i64 {
    server.ap_json(format!("{statement_url}/{which}")).await["totalItems"]
        .as_i64()
        .unwrap()
}

async fn published(server: &TestServer, quote_policy: &str) -> (String, String) {
    let (status, body) = server
        .api(
            Method::POST,
            "/statements",
            Some(json!({
                "title": "Declaration about Kazakhstan",
                "body": "We stand with the workers of Kazakhstan.",
                "signatories": ["cras"],
                "quote_policy": quote_policy,
                "publish": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_str().unwrap().to_string(),
        body["url"].as_str().unwrap().to_string(),
    )
}

both_backends!(
    likes_and_boosts_count_once_and_only_their_actor_undoes_them,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        follow(&server, &peer, "ann", "cras").await;
        received(&peer, "Accept", 1).await;
        let (id, url) = published(&server, "anyone").await;
        let object = server.ap_json(&url).await;
        assert_eq!(object["likes"], json!(format!("{url}/likes")));
        assert_eq!(object["shares"], json!(format!("{url}/shares")));
        assert_eq!(object["replies"], json!(format!("{url}/replies")));

        let like = activity(&peer, "ann", "Like", json!(url));
        assert_eq!(
            send(&server, &peer, "ann", &like).await,
            StatusCode::ACCEPTED
        );
        // A replay, and a second Like with a new id: one like.
        assert_eq!(
            send(&server, &peer, "ann", &like).await,
            StatusCode::ACCEPTED
        );
        let again = activity(&peer, "ann", "Like", json!(url));
        assert_eq!(
            send(&server, &peer, "ann", &again).await,
            StatusCode::ACCEPTED
        );
        // Bob follows nobody here; his boost counts all the same.
        let boost = activity(&peer, "bob", "Announce", json!(url));
        let status = peer
            .send(&server.url("/inbox"), "bob", &boost)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
        // Activities about what is not ours are acknowledged, stored nowhere.
        let elsewhere = activity(
            &peer,
            "ann",
            "Like",
            json!("https://elsewhere.example/notes/1"),
        );
        assert_eq!(
            send(&server, &peer, "ann", &elsewhere).await,
            StatusCode::ACCEPTED
        );

        let body = counts(&server, &id).await;
        assert_eq!(body["counts"]["likes"], 1, "{body}");
        assert_eq!(body["counts"]["boosts"], 1, "{body}");
        assert_eq!(body["likes"][0]["actor"], json!(peer.actor("ann")));
        assert_eq!(body["likes"][0]["server"], json!(peer.domain()));
        assert_eq!(body["boosts"][0]["actor"], json!(peer.actor("bob")));
        assert_eq!(total(&server, &url, "likes").await, 1);
        assert_eq!(total(&server, &url, "shares").await, 1);
        let page = server.ap_json(format!("{url}/shares?page=1")).await;
        assert_eq!(page["orderedItems"], json!([peer.actor("bob")]));

        // Spoofs: a Like naming Bob signed with Ann's key; Ann undoing Bob's boost.
        let mut forged = activity(&peer, "bob", "Like", json!(url));
        forged["id"] = json!(format!("{}#likes/forged", peer.actor("bob")));
        let signing = common::peer::Signing::as_actor(&peer, "ann");
        let status = peer
            .send_with(&server.url("/organisations/cras/inbox"), &signing, &forged)
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let mut stolen = boost.clone();
        stolen["actor"] = json!(peer.actor("bob"));
        let undo = activity(&peer, "ann", "Undo", stolen);
        assert_eq!(
            send(&server, &peer, "ann", &undo).await,
            StatusCode::FORBIDDEN
        );
        // An Undo of something never seen changes nothing.
        let never = activity(
            &peer,
            "ann",
            "Undo",
            json!(format!("{}#likes/never", peer.actor("ann"))),
        );
        assert_eq!(
            send(&server, &peer, "ann", &never).await,
            StatusCode::ACCEPTED
        );
        let body = counts(&server, &id).await;
        assert_eq!(
            (
                body["counts"]["likes"].as_i64(),
                body["counts"]["boosts"].as_i64()
            ),
            (Some(1), Some(1)),
            "{body}"
        );

        // The real undos.
        let undo = activity(&peer, "ann", "Undo", like);
        assert_eq!(
            send(&server, &peer, "ann", &undo).await,
            StatusCode::ACCEPTED
        );
        let undo = activity(&peer, "bob", "Undo", json!(boost["id"]));
        assert_eq!(
            send(&server, &peer, "bob", &undo).await,
            StatusCode::ACCEPTED
        );
        let body = counts(&server, &id).await;
        assert_eq!(body["counts"]["likes"], 0, "{body}");
        assert_eq!(body["counts"]["boosts"], 0, "{body}");
        assert_eq!(total(&server, &url, "likes").await, 0);

        // A deleted account takes its reactions with it.
        let cat_like = activity(&peer, "cat", "Like", json!(url));
        assert_eq!(
            send(&server, &peer, "cat", &cat_like).await,
            StatusCode::ACCEPTED
        );
        assert_eq!(counts(&server, &id).await["counts"]["likes"], 1);
        let gone = activity(&peer, "cat", "Delete", json!(peer.actor("cat")));
        let status = peer
            .send(&server.url("/inbox"), "cat", &gone)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(counts(&server, &id).await["counts"]["likes"], 0);
    }
);

both_backends!(
    replies_wait_for_moderation_and_only_their_author_changes_them,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        let (id, url) = published(&server, "anyone").await;

        let reply = note(
            &peer,
            "ann",
            "1",
            &url,
            r#"<p>Solidarity!<script>alert(1)</script> <a href="javascript:x">x</a></p>"#,
        );
        let create = activity(&peer, "ann", "Create", reply.clone());
        assert_eq!(
            send(&server, &peer, "ann", &create).await,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            send(&server, &peer, "ann", &create).await,
            StatusCode::ACCEPTED
        );
        let (_, pending) = server
            .api(
                Method::GET,
                &format!("/replies?status=pending&statement={id}"),
                None,
            )
            .await;
        let pending = pending.as_array().unwrap().clone();
        assert_eq!(pending.len(), 1, "{pending:?}");
        let content = pending[0]["content"].as_str().unwrap();
        assert!(content.contains("Solidarity!"), "{content}");
        assert!(
            !content.contains("script") && !content.contains("javascript"),
            "{content}"
        );
        assert_eq!(pending[0]["actor"], json!(peer.actor("ann")));
        // Who wrote it, as their server describes them.
        assert_eq!(pending[0]["name"], "ann on a test peer");
        assert_eq!(pending[0]["preferred_username"], "ann");
        assert_eq!(pending[0]["server"], json!(peer.domain()));
        assert_eq!(
            pending[0]["avatar_url"],
            json!(format!("http://{}/avatars/ann.png", peer.domain()))
        );
        assert_eq!(pending[0]["language"], "en");
        assert_eq!(
            total(&server, &url, "replies").await,
            0,
            "pending is not public"
        );

        let reply_id = pending[0]["id"].as_i64().unwrap();
        let (status, approved) = server
            .api(Method::POST, &format!("/replies/{reply_id}/approve"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{approved}");
        assert_eq!(approved["state"], "approved");
        assert_eq!(total(&server, &url, "replies").await, 1);
        let page = server.ap_json(format!("{url}/replies?page=1")).await;
        assert_eq!(page["orderedItems"], json!([reply["id"]]));
        assert_eq!(counts(&server, &id).await["counts"]["replies"], 1);

        // Bob edits and deletes Ann's reply: nothing changes.
        let mut forged = reply.clone();
        forged["attributedTo"] = json!(peer.actor("bob"));
        forged["content"] = json!("<p>Bob was here</p>");
        let update = activity(&peer, "bob", "Update", forged);
        let status = peer
            .send(&server.url("/inbox"), "bob", &update)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
        let delete = activity(&peer, "bob", "Delete", json!(reply["id"]));
        let status = peer
            .send(&server.url("/inbox"), "bob", &delete)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
        // Nor can Ann claim a post of another server, or one by Bob.
        let mut foreign = note(&peer, "ann", "2", &url, "<p>hi</p>");
        foreign["id"] = json!("https://elsewhere.example/statuses/2");
        let create = activity(&peer, "ann", "Create", foreign);
        assert_eq!(
            send(&server, &peer, "ann", &create).await,
            StatusCode::FORBIDDEN
        );
        let mut bobs = note(&peer, "bob", "3", &url, "<p>hi</p>");
        bobs["id"] = json!(format!("{}/statuses/3", peer.actor("ann")));
        let create = activity(&peer, "ann", "Create", bobs);
        assert_eq!(
            send(&server, &peer, "ann", &create).await,
            StatusCode::FORBIDDEN
        );
        let (_, all) = server
            .api(Method::GET, &format!("/replies?statement={id}"), None)
            .await;
        assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
        assert!(all[0]["content"].as_str().unwrap().contains("Solidarity"));

        // Ann edits, then deletes, her own reply.
        let mut edited = reply.clone();
        edited["content"] = json!("<p>Solidarity, edited</p>");
        let update = activity(&peer, "ann", "Update", edited);
        assert_eq!(
            send(&server, &peer, "ann", &update).await,
            StatusCode::ACCEPTED
        );
        let (_, all) = server
            .api(Method::GET, &format!("/replies?statement={id}"), None)
            .await;
        assert!(
            all[0]["content"].as_str().unwrap().contains("edited"),
            "{all}"
        );
        assert!(all[0]["edited_at"].is_number());
        let (status, hidden) = server
            .api(Method::POST, &format!("/replies/{reply_id}/hide"), None)
            .await;
        assert_eq!(
            (status, hidden["state"].clone()),
            (StatusCode::OK, json!("hidden"))
        );
        assert_eq!(total(&server, &url, "replies").await, 0);
        let delete = activity(
            &peer,
            "ann",
            "Delete",
            json!({"id": reply["id"], "type": "Tombstone"}),
        );
        assert_eq!(
            send(&server, &peer, "ann", &delete).await,
            StatusCode::ACCEPTED
        );
        let (_, all) = server
            .api(Method::GET, &format!("/replies?statement={id}"), None)
            .await;
        assert_eq!(all, json!([]));

        // Refusals of the API.
        let (status, _) = server.api(Method::POST, "/replies/999/approve", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = server.api(Method::GET, "/replies?status=maybe", None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "status");
    }
);

both_backends!(
    an_organisation_can_approve_its_replies_itself,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let (status, body) = server
            .api(
                Method::PATCH,
                "/organisations/cras",
                Some(json!({"approve_replies": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let peer = Peer::start().await;
        let (_, url) = published(&server, "anyone").await;
        let create = activity(
            &peer,
            "ann",
            "Create",
            note(&peer, "ann", "1", &url, "<p>yes</p>"),
        );
        assert_eq!(
            send(&server, &peer, "ann", &create).await,
            StatusCode::ACCEPTED
        );
        assert_eq!(total(&server, &url, "replies").await, 1);
    }
);

both_backends!(
    quotes_are_authorised_at_once_and_can_be_revoked,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        let (id, url) = published(&server, "anyone").await;
        let object = server.ap_json(&url).await;
        assert_eq!(
            object["interactionPolicy"]["canQuote"]["automaticApproval"],
            json!([PUBLIC])
        );

        let mut quoting = note(&peer, "ann", "q1", &url, "<p>Read this</p>");
        quoting.as_object_mut().unwrap().remove("inReplyTo");
        quoting["quote"] = json!(url);
        let mut request = activity(&peer, "ann", "QuoteRequest", json!(url));
        request["instrument"] = quoting.clone();
        assert_eq!(
            send(&server, &peer, "ann", &request).await,
            StatusCode::ACCEPTED
        );
        let accepts = received(&peer, "Accept", 1).await;
        let accept = &accepts[0];
        assert!(accept.verified);
        assert_eq!(
            accept.activity["actor"],
            json!(server.url("/organisations/cras"))
        );
        assert_eq!(accept.activity["object"], request["id"]);
        let result = accept.activity["result"].as_str().unwrap().to_string();
        assert!(
            result.starts_with(&server.url("/quote-authorizations/")),
            "{result}"
        );

        // Fetched as Mastodon verifies a quote: a signed GET of the result.
        let response = peer.get_signed(&result, "ann").await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("application/activity+json"),
            "{content_type}"
        );
        let stamp: Value = response.json().await.unwrap();
        assert_eq!(stamp["type"], "QuoteAuthorization");
        assert_eq!(stamp["id"], json!(result));
        assert_eq!(
            stamp["attributedTo"],
            json!(server.url("/organisations/cras"))
        );
        assert_eq!(stamp["interactingObject"], quoting["id"]);
        assert_eq!(stamp["interactionTarget"], json!(url));
        let context = stamp["@context"].to_string();
        assert!(
            context.contains("https://w3id.org/fep/044f#QuoteAuthorization"),
            "{context}"
        );

        let (_, quotes) = server
            .api(Method::GET, &format!("/quotes?statement={id}"), None)
            .await;
        assert_eq!(quotes.as_array().unwrap().len(), 1, "{quotes}");
        assert_eq!(quotes[0]["object_id"], quoting["id"]);
        assert_eq!(counts(&server, &id).await["counts"]["quotes"], 1);

        // An instrument attributed to someone else is refused.
        let mut bobs = quoting.clone();
        bobs["attributedTo"] = json!(peer.actor("bob"));
        let mut spoof = activity(&peer, "ann", "QuoteRequest", json!(url));
        spoof["instrument"] = bobs;
        assert_eq!(
            send(&server, &peer, "ann", &spoof).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(peer.received_of("Accept").len(), 1);

        // Revoked: the quoting server hears a Delete of the stamp, which is gone.
        let public_id = quotes[0]["public_id"].as_str().unwrap();
        let (status, revoked) = server
            .api(Method::POST, &format!("/quotes/{public_id}/revoke"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        assert_eq!(revoked["state"], "revoked");
        let deletes = received(&peer, "Delete", 1).await;
        assert_eq!(deletes[0].activity["object"], json!(result));
        assert_eq!(
            peer.get_signed(&result, "ann").await.status(),
            StatusCode::GONE
        );
        let (status, _) = server
            .api(Method::POST, &format!("/quotes/{public_id}/revoke"), None)
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(
            server
                .get_ap(&server.url("/quote-authorizations/nope"))
                .await
                .status(),
            StatusCode::NOT_FOUND
        );

        // A statement nobody may quote answers with a Reject.
        let (_, closed) = published(&server, "nobody").await;
        let closed_object = server.ap_json(&closed).await;
        assert_eq!(
            closed_object["interactionPolicy"]["canQuote"]["automaticApproval"],
            json!([server.url("/organisations/cras")])
        );
        let mut request = activity(&peer, "ann", "QuoteRequest", json!(closed));
        let mut q2 = quoting.clone();
        q2["id"] = json!(format!("{}/statuses/q2", peer.actor("ann")));
        request["instrument"] = q2;
        assert_eq!(
            send(&server, &peer, "ann", &request).await,
            StatusCode::ACCEPTED
        );
        let rejects = received(&peer, "Reject", 1).await;
        assert_eq!(rejects[0].activity["object"], request["id"]);

        // Deleting the statement takes its reactions with it.
        let like = activity(&peer, "ann", "Like", json!(url));
        assert_eq!(
            send(&server, &peer, "ann", &like).await,
            StatusCode::ACCEPTED
        );
        let (status, _) = server
            .api(Method::DELETE, &format!("/statements/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let body = counts(&server, &id).await;
        assert_eq!(body["counts"]["likes"], 0, "{body}");
        assert_eq!(body["counts"]["quotes"], 0, "{body}");
    }
);

both_backends!(
    reports_and_blocks_reach_the_editor,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        server.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        follow(&server, &peer, "ann", "cras").await;
        received(&peer, "Accept", 1).await;
        let (id, url) = published(&server, "anyone").await;

        let mut flag = activity(
            &peer,
            "moderator",
            "Flag",
            json!([server.url("/organisations/cras"), url]),
        );
        flag.as_object_mut().unwrap().remove("to");
        flag["content"] = json!("Spam");
        assert_eq!(
            send(&server, &peer, "moderator", &flag).await,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            send(&server, &peer, "moderator", &flag).await,
            StatusCode::ACCEPTED
        );
        let (_, open) = server.api(Method::GET, "/reports?status=open", None).await;
        let open = open.as_array().unwrap().clone();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0]["content"], "Spam");
        assert_eq!(open[0]["organisation"], "cras");
        assert_eq!(open[0]["statements"], json!([id]));
        let report = open[0]["id"].as_i64().unwrap();
        let (status, _) = server
            .api(Method::POST, &format!("/reports/{report}/resolve"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, resolved) = server
            .api(Method::GET, "/reports?status=resolved", None)
            .await;
        assert_eq!(resolved.as_array().unwrap().len(), 1);
        let (status, _) = server
            .api(Method::POST, &format!("/reports/{report}/resolve"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A Block ends Ann's follow; the next statement does not reach her.
        let block = activity(
            &peer,
            "ann",
            "Block",
            json!(server.url("/organisations/cras")),
        );
        assert_eq!(
            send(&server, &peer, "ann", &block).await,
            StatusCode::ACCEPTED
        );
        let (_, blocks) = server.api(Method::GET, "/blocks", None).await;
        assert_eq!(blocks.as_array().unwrap().len(), 1, "{blocks}");
        assert_eq!(blocks[0]["actor"], json!(peer.actor("ann")));
        let (_, followers) = server
            .api(Method::GET, "/organisations/cras/followers", None)
            .await;
        assert_eq!(followers["total"], 0);
        let before = peer.received_of("Create").len();
        let to_peer = format!("//{}/", peer.domain());
        let creates_to_peer = || async {
            let mut creates = db.deliveries_of("Create").await;
            creates.retain(|d| d.inbox.contains(&to_peer));
            creates
        };
        let queued_before = creates_to_peer().await.len();
        published(&server, "anyone").await;
        // The Create and its deliveries are queued with the publication:
        // none of them is for Ann's server.
        let queued = creates_to_peer().await;
        assert_eq!(queued.len(), queued_before, "{queued:?}");
        assert_eq!(peer.received_of("Create").len(), before);

        // Only Ann lifts her block.
        let undo = activity(
            &peer,
            "bob",
            "Undo",
            json!({"id": block["id"], "type": "Block",
                                                         "actor": peer.actor("ann"), "object": block["object"]}),
        );
        assert_eq!(
            send(&server, &peer, "bob", &undo).await,
            StatusCode::FORBIDDEN
        );
        let undo = activity(&peer, "ann", "Undo", block);
        assert_eq!(
            send(&server, &peer, "ann", &undo).await,
            StatusCode::ACCEPTED
        );
        let (_, blocks) = server.api(Method::GET, "/blocks", None).await;
        assert_eq!(blocks, json!([]));
    }
);

both_backends!(
    two_processes_on_one_database_count_each_reaction_once,
    |db: TestDb| async move {
        // Two web processes behind one name, as a load balancer would run them.
        let first = TestServer::start(&db).await;
        let base = first.base.clone();
        let second = TestServer::start_with(&db, |config| config.base_url = base).await;
        first.create_organisation("cras", "CRAS").await;
        let peer = Peer::start().await;
        let (id, url) = published(&first, "anyone").await;
        let host = first.domain();
        let inboxes = [
            format!("http://{}/organisations/cras/inbox", first.addr),
            format!("http://{}/organisations/cras/inbox", second.addr),
        ];

        // Every actor's Like, boost and reply reach both processes at once,
        // and each actor likes a second time under a new id: every actor is
        // fetched, and every row written, by two processes racing.
        const ACTORS: usize = 12;
        let mut sends = Vec::new();
        for n in 0..ACTORS {
            let name = format!("fan{n}");
            let mut reply = note(&peer, &name, "r", &url, "<p>Together</p>");
            reply["id"] = json!(format!("{}/statuses/r{n}", peer.actor(&name)));
            let activities = [
                activity(&peer, &name, "Like", json!(url)),
                activity(&peer, &name, "Announce", json!(url)),
                activity(&peer, &name, "Create", reply),
            ];
            let mut signing = common::peer::Signing::as_actor(&peer, &name);
            signing.host = Some(host.clone());
            for activity in activities {
                for inbox in &inboxes {
                    sends.push((inbox.clone(), signing.clone(), activity.clone()));
                }
            }
            let again = activity(&peer, &name, "Like", json!(url));
            sends.push((inboxes[n % 2].clone(), signing, again));
        }
        let statuses =
            futures::future::join_all(sends.iter().map(|(inbox, signing, activity)| async {
                peer.send_with(inbox, signing, activity).await.status()
            }))
            .await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::ACCEPTED),
            "{statuses:?}"
        );

        for server in [&first, &second] {
            let body = counts(server, &id).await;
            assert_eq!(body["counts"]["likes"], ACTORS, "{body}");
            assert_eq!(body["counts"]["boosts"], ACTORS, "{body}");
            assert_eq!(body["likes"].as_array().unwrap().len(), ACTORS);
            let (_, pending) = server
                .api(
                    Method::GET,
                    &format!("/replies?status=pending&statement={id}"),
                    None,
                )
                .await;
            assert_eq!(pending.as_array().unwrap().len(), ACTORS, "{pending}");
            assert_eq!(total(server, &url, "likes").await, ACTORS as i64);
            assert_eq!(total(server, &url, "shares").await, ACTORS as i64);
        }
    }
);
