//! How a Mastodon server finds and reads an organisation (docs/interop.md §1–2):
//! WebFinger → actor → collections, over real HTTP, on both databases.

mod common;

use common::{TestDb, TestServer, json_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Mastodon's username rule, checked on what we serve.
fn mastodon_username_ok(name: &str) -> bool {
    let re = regex::Regex::new(r"(?i)^[a-z0-9_]+([.-]+[a-z0-9_]+)*$").unwrap();
    re.is_match(name)
}

const AP_TYPES: [&str; 2] = [
    "application/activity+json",
    "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
];

both_backends!(mastodon_resolves_an_organisation, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    let (status, _) = server
        .api(
            Method::POST,
            "/organisations",
            Some(json!({
                "handle": "cras",
                "name": "CRAS-IWA",
                "summary": "Confederation of Revolutionary Anarcho-Syndicalists, **IWA** section.",
                "website": "https://aitrus.info/",
                "fields": [{"name": "Contact", "value": "cras@example.org"}],
                "avatar_url": "https://aitrus.info/logo.png",
                "header_url": "https://aitrus.info/banner.jpg",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let domain = server.domain();

    // 1. WebFinger, unsigned, with Mastodon's Accept header.
    let response = server
        .http
        .get(server.url("/.well-known/webfinger"))
        .query(&[("resource", format!("acct:cras@{domain}"))])
        .header("Accept", "application/jrd+json, application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jrd+json")
    );
    let jrd: Value = response.json().await.unwrap();
    assert!(
        jrd["subject"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&format!("acct:cras@{domain}"))
    );
    let self_link = jrd["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .expect("a self link");
    assert!(AP_TYPES.contains(&self_link["type"].as_str().unwrap()));
    let actor_url = self_link["href"].as_str().unwrap().to_string();

    // 2. The actor, with each content type Mastodon sends.
    for accept in AP_TYPES {
        let response = server
            .http
            .get(&actor_url)
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/activity+json")
        );
    }
    let actor: Value = server.ap_json(&actor_url).await;
    assert_eq!(actor["id"], actor_url, "the id is the URL we fetched");
    let context = actor["@context"].as_array().expect("context array");
    assert_eq!(context[0], "https://www.w3.org/ns/activitystreams");
    assert_eq!(actor["type"], "Organization");
    assert_eq!(actor["preferredUsername"], "cras");
    assert!(mastodon_username_ok(
        actor["preferredUsername"].as_str().unwrap()
    ));
    assert_eq!(actor["name"], "CRAS-IWA");
    assert!(
        actor["summary"]
            .as_str()
            .unwrap()
            .contains("<strong>IWA</strong>")
    );
    for key in [
        "inbox",
        "outbox",
        "followers",
        "following",
        "featured",
        "url",
    ] {
        let url = url::Url::parse(actor[key].as_str().unwrap()).unwrap();
        assert_eq!(url.host_str(), server.base.host_str(), "{key} on our host");
    }
    assert_eq!(actor["endpoints"]["sharedInbox"], server.url("/inbox"));
    assert_eq!(actor["icon"]["type"], "Image");
    assert_eq!(actor["icon"]["url"], "https://aitrus.info/logo.png");
    assert_eq!(actor["icon"]["mediaType"], "image/png");
    assert_eq!(actor["image"]["type"], "Image");
    assert_eq!(actor["image"]["mediaType"], "image/jpeg");
    let key = &actor["publicKey"];
    assert_eq!(key["owner"], actor_url);
    assert!(key["id"].as_str().unwrap().starts_with(&actor_url));
    assert!(
        key["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let attachment = actor["attachment"]
        .as_array()
        .expect("attachment is an array");
    assert_eq!(attachment.len(), 2);
    assert!(attachment.iter().all(|a| a["type"] == "PropertyValue"));
    assert_eq!(attachment[0]["name"], "Website");
    assert!(
        attachment[0]["value"]
            .as_str()
            .unwrap()
            .contains("href=\"https://aitrus.info/\"")
    );
    assert_eq!(attachment[1]["value"], "cras@example.org");
    assert_eq!(actor["manuallyApprovesFollowers"], false);
    assert_eq!(actor["discoverable"], true);
    assert_eq!(actor["indexable"], true);
    assert!(chrono::DateTime::parse_from_rfc3339(actor["published"].as_str().unwrap()).is_ok());
    let raw = serde_json::to_string(&actor).unwrap();
    assert!(!raw.contains("PRIVATE KEY"), "no private key in the actor");

    // 3. Mastodon's validation: WebFinger for preferredUsername@actor host
    //    gives back the same actor id.
    let jrd: Value = server
        .http
        .get(server.url("/.well-known/webfinger"))
        .query(&[(
            "resource",
            format!(
                "acct:{}@{domain}",
                actor["preferredUsername"].as_str().unwrap()
            ),
        )])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let href = jrd["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap()["href"]
        .clone();
    assert_eq!(href, actor["id"]);
    // The actor URL works as a resource too.
    let by_url = server
        .http
        .get(server.url("/.well-known/webfinger"))
        .query(&[("resource", actor_url.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 200);

    // 4. Collections: OrderedCollection with numeric totalItems and a first page.
    for key in ["outbox", "followers", "following", "featured"] {
        let collection: Value = server.ap_json(actor[key].as_str().unwrap()).await;
        assert_eq!(collection["type"], "OrderedCollection", "{key}");
        assert_eq!(collection["id"], actor[key]);
        assert_eq!(collection["totalItems"], 0, "{key}");
        let first = collection["first"].as_str().expect("first");
        let page: Value = server.ap_json(first).await;
        assert_eq!(page["type"], "OrderedCollectionPage");
        assert_eq!(page["partOf"], actor[key]);
        assert!(page["orderedItems"].as_array().unwrap().is_empty());
    }
});

both_backends!(discovery_documents, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    server.create_organisation("cras", "CRAS").await;
    server
        .create_organisation(
            "stop_total_control",
            "Anarchist Initiative StopTotalControl",
        )
        .await;

    // Unknown resources are a JSON 404; a missing one is a 400.
    for resource in [
        format!("acct:nobody@{}", server.domain()),
        "acct:cras@elsewhere.example".to_string(),
        "https://elsewhere.example/organisations/cras".to_string(),
    ] {
        let (status, body) = json_of(
            server
                .http
                .get(server.url("/.well-known/webfinger"))
                .query(&[("resource", &resource)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{resource}");
        assert!(body["error"].is_string());
    }
    let (status, body) = json_of(
        server
            .http
            .get(server.url("/.well-known/webfinger"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());

    // The subject is case-insensitive for Mastodon; we answer with the canonical handle.
    let jrd: Value = server
        .http
        .get(server.url("/.well-known/webfinger"))
        .query(&[("resource", format!("acct:CRAS@{}", server.domain()))])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jrd["subject"], format!("acct:cras@{}", server.domain()));

    // host-meta points at WebFinger.
    let response = server
        .http
        .get(server.url("/.well-known/host-meta"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xrd+xml")
    );
    let xrd = response.text().await.unwrap();
    assert!(xrd.contains(r#"rel="lrdd""#));
    assert!(xrd.contains(&format!(
        "{}?resource={{uri}}",
        server.url("/.well-known/webfinger")
    )));

    // NodeInfo: discovery, then 2.1 with our counts.
    let discovery: Value = server.json(server.url("/.well-known/nodeinfo")).await;
    let link = &discovery["links"][0];
    assert_eq!(
        link["rel"],
        "http://nodeinfo.diaspora.software/ns/schema/2.1"
    );
    let nodeinfo: Value = server.json(link["href"].as_str().unwrap()).await;
    assert_eq!(nodeinfo["version"], "2.1");
    assert_eq!(nodeinfo["software"]["name"], "broadside");
    assert_eq!(nodeinfo["protocols"], json!(["activitypub"]));
    assert_eq!(nodeinfo["usage"]["users"]["total"], 2);
    assert_eq!(nodeinfo["usage"]["localPosts"], 0);
    assert_eq!(nodeinfo["openRegistrations"], false);

    // A browser gets the HTML profile at the actor URL.
    let response = server
        .http
        .get(server.url("/organisations/cras"))
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(response.headers()["vary"], "Accept");
    let html = response.text().await.unwrap();
    assert!(html.contains("CRAS signs statements."));
    assert!(html.contains(&format!("@cras@{}", server.domain())));
    // The home page lists both.
    let home = server
        .http
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Anarchist Initiative StopTotalControl"));

    // Health.
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // A deleted organisation is gone for good: 410 on WebFinger and actor.
    let (status, _) = server
        .api(Method::DELETE, "/organisations/cras", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = server
        .http
        .get(server.url("/.well-known/webfinger"))
        .query(&[("resource", format!("acct:cras@{}", server.domain()))])
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    assert_eq!(
        server
            .get_ap(&server.url("/organisations/cras"))
            .await
            .status(),
        StatusCode::GONE
    );
    let nodeinfo: Value = server.json(server.url("/nodeinfo/2.1")).await;
    assert_eq!(nodeinfo["usage"]["users"]["total"], 1);
});
