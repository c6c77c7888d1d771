//! The public website as a browser, a link-preview fetcher and a feed reader
//! see it: pages parsed with an HTML parser (structure, meta tags, JSON-LD,
//! escaping), feeds parsed with a feed library, conditional requests, the
//! remote-follow form, and what must stay invisible (drafts, scheduled and
//! deleted statements, deleted organisations).

mod common;

use common::{TestDb, TestServer, peer::Peer};
use reqwest::{Method, StatusCode, header};
use scraper::{ElementRef, Html, Selector};
use serde_json::{Value, json};

const BODY: &str = include_str!("fixtures/kazakhstan.md");
const DISCLAIMER: &str = "The views expressed here are not the official position of the IWW (or even the IWW's EUC) and do not necessarily represent the views of anyone but the author.";

async fn seed_organisations(server: &TestServer) {
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
}

/// Publishes (or drafts) a statement and returns its public id and URL.
async fn statement(server: &TestServer, mut body: Value) -> (String, String) {
    if body.get("signatories").is_none() {
        body["signatories"] = json!(["stop_total_control", "cras"]);
    }
    let (status, created) = server.api(Method::POST, "/statements", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["id"].as_str().unwrap().to_string(),
        created["url"].as_str().unwrap().to_string(),
    )
}

fn seed() -> Value {
    json!({
        "title": "Declaration about Kazakhstan",
        "body": BODY,
        "language": "en",
        "tags": ["Kazakhstan", "solidarity"],
        "original_date": "2022-01-13",
        "disclaimer": DISCLAIMER,
        "publish": true,
    })
}

struct Page {
    status: StatusCode,
    headers: header::HeaderMap,
    html: Html,
    text: String,
}

async fn get_page(server: &TestServer, url: &str) -> Page {
    let response = server
        .http
        .get(url)
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Page {
        status,
        headers,
        html: Html::parse_document(&text),
        text,
    }
}

fn select<'a>(html: &'a Html, css: &str) -> Vec<ElementRef<'a>> {
    html.select(&Selector::parse(css).unwrap()).collect()
}

fn text_of(element: &ElementRef) -> String {
    element
        .text()
        .collect::<Vec<_>>()
        .join("")
        .trim()
        .to_string()
}

fn meta(html: &Html, attr: &str, key: &str) -> Option<String> {
    select(html, &format!(r#"meta[{attr}="{key}"]"#))
        .first()
        .and_then(|m| m.value().attr("content").map(str::to_string))
}

/// What every page must be: landmarks, one `h1`, headings that never skip
/// a level, the security headers, and `Vary: Accept`.
fn assert_well_formed(page: &Page) {
    for landmark in ["body > header", "main", "body > footer"] {
        assert_eq!(
            select(&page.html, landmark).len(),
            1,
            "one {landmark}: {}",
            page.text
        );
    }
    assert!(!select(&page.html, "body > header nav").is_empty());
    assert_eq!(select(&page.html, "h1").len(), 1, "one h1: {}", page.text);
    let levels: Vec<u32> = select(&page.html, "h1, h2, h3, h4, h5, h6")
        .iter()
        .map(|h| h.value().name()[1..].parse().unwrap())
        .collect();
    assert_eq!(levels[0], 1, "the first heading is the h1: {levels:?}");
    for pair in levels.windows(2) {
        assert!(
            pair[1] <= pair[0] + 1,
            "a heading skips a level: {levels:?}"
        );
    }
    assert!(select(&page.html, "html")[0].value().attr("lang").is_some());
    for img in select(&page.html, "img") {
        assert!(img.value().attr("alt").is_some(), "an img without alt");
    }
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(page.headers.contains_key(header::REFERRER_POLICY));
    assert!(
        page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // Nothing executable: the only script is JSON-LD data.
    for script in select(&page.html, "script") {
        assert_eq!(script.value().attr("type"), Some("application/ld+json"));
    }
}

/// No attribute runs code, no link goes to `javascript:`.
fn assert_inert(html: &Html) {
    for element in select(html, "*") {
        for (name, value) in element.value().attrs() {
            assert!(
                !name.to_ascii_lowercase().starts_with("on"),
                "event handler {name}={value}"
            );
            if matches!(name, "href" | "src" | "action") {
                assert!(
                    !value.trim().to_ascii_lowercase().starts_with("javascript:"),
                    "{name}={value}"
                );
            }
        }
        assert!(
            !matches!(
                element.value().name(),
                "iframe" | "object" | "embed" | "style"
            ),
            "<{}> in the page",
            element.value().name()
        );
    }
}

both_backends!(
    the_home_page_lists_published_statements_only,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        seed_organisations(&server).await;
        let (_, seed_url) = statement(&server, seed()).await;
        let (_, draft_url) = statement(
            &server,
            json!({"title": "A draft nobody sees", "body": "Not yet."}),
        )
        .await;
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        let (_, scheduled_url) = statement(
            &server,
            json!({"title": "Scheduled for tomorrow", "body": "Later.", "publish_at": tomorrow}),
        )
        .await;
        let (deleted, deleted_url) = statement(
            &server,
            json!({"title": "Withdrawn statement", "body": "Gone.", "publish": true}),
        )
        .await;
        let (status, _) = server
            .api(Method::DELETE, &format!("/statements/{deleted}"), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let home = get_page(&server, &server.url("/")).await;
        assert_eq!(home.status, StatusCode::OK);
        assert_well_formed(&home);
        let cards = select(&home.html, "main article.statement-card");
        assert_eq!(cards.len(), 1, "{}", home.text);
        let link = cards[0]
            .select(&Selector::parse("h2 a").unwrap())
            .next()
            .unwrap();
        assert_eq!(text_of(&link), "Declaration about Kazakhstan");
        assert_eq!(link.value().attr("href"), Some(seed_url.as_str()));
        let card = text_of(&cards[0]);
        assert!(card.contains("13 January 2022"), "{card}");
        assert!(
            card.contains("Anarchist Initiative StopTotalControl"),
            "{card}"
        );
        assert!(card.contains("Commission of Information of CRAS"), "{card}");
        assert!(
            card.contains("We, Anarcho-syndicalists and Anarchists of Russia"),
            "the first lines: {card}"
        );
        assert!(
            !card.contains("**") && !card.contains('#'),
            "plain text: {card}"
        );
        for hidden in ["A draft nobody sees", "Scheduled for tomorrow", "Withdrawn"] {
            assert!(!home.text.contains(hidden), "{hidden} is listed");
        }
        for url in [&draft_url, &scheduled_url, &deleted_url] {
            let page = get_page(&server, url).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{url}");
            assert!(page.text.contains("<h1>"), "an HTML error page");
            assert_eq!(
                server.get_ap(url).await.status(),
                StatusCode::NOT_FOUND,
                "{url} as ActivityPub"
            );
        }

        // Twenty to a page, newest first, linked both ways.
        for n in 1..=20 {
            statement(
                &server,
                json!({"title": format!("Statement number {n}"), "body": "Text.", "signatories": ["cras"], "publish": true}),
            )
            .await;
        }
        let first = get_page(&server, &server.url("/")).await;
        let cards = select(&first.html, "article.statement-card");
        assert_eq!(cards.len(), 20);
        assert!(text_of(&cards[0]).contains("Statement number 20"));
        let next = select(&first.html, r#"a[rel="next"]"#);
        assert_eq!(next[0].value().attr("href"), Some("/?page=2"));
        let second = get_page(&server, &server.url("/?page=2")).await;
        let cards = select(&second.html, "article.statement-card");
        assert_eq!(cards.len(), 1);
        assert!(text_of(&cards[0]).contains("Declaration about Kazakhstan"));
        assert_eq!(
            select(&second.html, r#"a[rel="prev"]"#)[0]
                .value()
                .attr("href"),
            Some("/")
        );
        assert!(select(&second.html, r#"a[rel="next"]"#).is_empty());
        let tracked = get_page(&server, &server.url("/?page=2&utm_source=mastodon")).await;
        assert_eq!(
            tracked.status,
            StatusCode::OK,
            "unknown parameters are ignored"
        );
        for bad in ["/?page=0", "/?page=x", "/?page=99999999"] {
            let page = get_page(&server, &server.url(bad)).await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
    }
);

both_backends!(
    a_statement_page_shows_the_whole_statement_and_unfurls,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        seed_organisations(&server).await;
        let (status, _) = server
            .api(
                Method::PATCH,
                "/organisations/stop_total_control",
                Some(json!({"avatar_url": "https://images.example/stc.png"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (id, url) = statement(&server, seed()).await;

        let page = get_page(&server, &url).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_well_formed(&page);
        let vary = page.headers[header::VARY].to_str().unwrap().to_lowercase();
        assert!(vary.contains("accept"), "{vary}");
        assert_eq!(
            text_of(&select(&page.html, "h1")[0]),
            "Declaration about Kazakhstan"
        );
        let article = &select(&page.html, "article.statement")[0];
        assert_eq!(article.value().attr("lang"), Some("en"));
        let meta_line = text_of(&select(&page.html, "article header .meta")[0]);
        assert!(meta_line.contains("Dated 13 January 2022"), "{meta_line}");
        let today = chrono::Utc::now().format("%-d %B %Y").to_string();
        assert!(
            meta_line.contains(&format!("Published here on {today}")),
            "{meta_line}"
        );
        let text = text_of(&select(&page.html, ".statement-text")[0]);
        assert!(text.contains("We, Anarcho-syndicalists and Anarchists of Russia"));
        assert!(
            text.contains("show practical solidarity with it"),
            "the whole text: {text}"
        );

        let signatories = select(&page.html, "ul.signatories li a.signatory");
        assert_eq!(signatories.len(), 2);
        assert_eq!(
            signatories[0].value().attr("href"),
            Some(server.url("/organisations/stop_total_control").as_str())
        );
        let lead = text_of(&signatories[0]);
        assert!(
            lead.contains("Anarchist Initiative StopTotalControl"),
            "{lead}"
        );
        assert!(
            lead.contains(&format!("@stop_total_control@{}", server.domain())),
            "{lead}"
        );
        let avatar = select(&page.html, "ul.signatories img")[0];
        assert_eq!(
            avatar.value().attr("src"),
            Some("https://images.example/stc.png")
        );
        assert!(text_of(&signatories[1]).contains("Commission of Information of CRAS"));
        let disclaimer = text_of(&select(&page.html, "aside.disclaimer")[0]);
        assert_eq!(disclaimer, DISCLAIMER);
        let tags: Vec<_> = select(&page.html, r#"a[rel="tag"]"#)
            .iter()
            .map(|a| a.value().attr("href").unwrap().to_string())
            .collect();
        assert_eq!(
            tags,
            [
                server.url("/tags/kazakhstan"),
                server.url("/tags/solidarity")
            ]
        );

        // A link card credited to the lead, as Mastodon builds it.
        let creator = meta(&page.html, "name", "fediverse:creator").unwrap();
        assert_eq!(creator, format!("@stop_total_control@{}", server.domain()));
        let actor = server
            .ap_json(server.url("/organisations/stop_total_control"))
            .await;
        let host = server.base.host_str().unwrap();
        assert!(
            actor["attributionDomains"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d == host),
            "{actor}"
        );
        assert_eq!(
            meta(&page.html, "property", "og:title").as_deref(),
            Some("Declaration about Kazakhstan")
        );
        assert_eq!(
            meta(&page.html, "property", "og:type").as_deref(),
            Some("article")
        );
        assert_eq!(
            meta(&page.html, "property", "og:image").as_deref(),
            Some("https://images.example/stc.png")
        );
        let description = meta(&page.html, "property", "og:description").unwrap();
        assert!(
            description.starts_with("We, Anarcho-syndicalists and Anarchists of Russia"),
            "{description}"
        );
        assert!(
            !description.contains("**") && !description.contains('<'),
            "{description}"
        );
        assert!(description.chars().count() <= 201, "{description}");
        assert!(meta(&page.html, "property", "article:published_time").is_some());
        let canonical = select(&page.html, r#"link[rel="canonical"]"#)[0];
        assert_eq!(canonical.value().attr("href"), Some(url.as_str()));
        let twin = select(
            &page.html,
            r#"link[rel="alternate"][type="application/activity+json"]"#,
        );
        assert_eq!(twin[0].value().attr("href"), Some(url.as_str()));
        let ld: Value = serde_json::from_str(&text_of(
            &select(&page.html, r#"script[type="application/ld+json"]"#)[0],
        ))
        .unwrap();
        assert_eq!(ld["@type"], "NewsArticle");
        assert_eq!(ld["headline"], "Declaration about Kazakhstan");
        assert!(ld["datePublished"].is_string());
        let authors: Vec<_> = ld["author"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            authors,
            [
                "Anarchist Initiative StopTotalControl",
                "Commission of Information of CRAS, IWA section in the Region of Russia"
            ]
        );

        // The same URL for ActivityPub clients.
        let object = server.ap_json(&url).await;
        assert_eq!(object["id"], json!(url));

        // Reactions from the fediverse show on the page.
        let counts = |page: &Page| text_of(&select(&page.html, ".reactions .counts")[0]);
        assert!(counts(&page).contains("0 boosts"), "{}", counts(&page));
        let peer = Peer::start().await;
        let like = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#likes/1", peer.actor("ann")),
            "type": "Like", "actor": peer.actor("ann"), "object": url,
        });
        let reply = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#create/1", peer.actor("ann")),
            "type": "Create", "actor": peer.actor("ann"),
            "object": {
                "id": format!("{}/statuses/1", peer.actor("ann")), "type": "Note",
                "attributedTo": peer.actor("ann"), "inReplyTo": url,
                "content": "<p>Solidarity from the docks!</p>", "published": "2026-12-01T10:00:00Z",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
            },
        });
        for activity in [&like, &reply] {
            let status = peer
                .send(&server.url("/inbox"), "ann", activity)
                .await
                .status();
            assert_eq!(status, StatusCode::ACCEPTED);
        }
        let page = get_page(&server, &url).await;
        assert!(counts(&page).contains("1 like"), "{}", counts(&page));
        assert!(
            select(&page.html, ".reply").is_empty(),
            "a pending reply is not shown"
        );
        let (_, pending) = server
            .api(
                Method::GET,
                &format!("/replies?status=pending&statement={id}"),
                None,
            )
            .await;
        let reply_id = pending[0]["id"].as_i64().unwrap();
        server
            .api(Method::POST, &format!("/replies/{reply_id}/approve"), None)
            .await;
        let page = get_page(&server, &url).await;
        let replies = select(&page.html, ".replies .reply");
        assert_eq!(replies.len(), 1, "{}", page.text);
        let shown = text_of(&replies[0]);
        assert!(shown.contains("Solidarity from the docks!"), "{shown}");
        assert!(shown.contains("ann on a test peer"), "{shown}");
        assert!(counts(&page).contains("1 reply"), "{}", counts(&page));
        assert_well_formed(&page);

        // A conditional request for an unchanged page is answered 304.
        let etag = page.headers[header::ETAG].clone();
        let response = server
            .http
            .get(&url)
            .header(header::IF_NONE_MATCH, etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], etag);
        assert!(response.bytes().await.unwrap().is_empty());
        let (status, _) = server
            .api(
                Method::PATCH,
                &format!("/statements/{id}"),
                Some(json!({"title": "Declaration about Kazakhstan (corrected)"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let response = server
            .http
            .get(&url)
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "an edit changes the page"
        );

        // Compressed for clients that ask.
        let response = server
            .http
            .get(&url)
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        // And as they are for those that do not (servers fetching documents).
        let response = server.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert!(response.text().await.unwrap().contains("</html>"));
    }
);

both_backends!(hostile_input_is_shown_never_run, |db: TestDb| async move {
    let server = TestServer::start(&db).await;
    let hostile_name = r#"Evil "><script>alert(1)</script>"#;
    let (status, body) = server
        .api(
            Method::POST,
            "/organisations",
            Some(json!({
                "handle": "evil",
                "name": hostile_name,
                "summary": "<img src=x onerror=alert(2)> **bold** <iframe src=//x></iframe>",
                "fields": [
                    {"name": "<b onmouseover=alert(3)>site</b>", "value": "javascript:alert(4)"},
                    {"name": "web", "value": "https://evil.example/\"><script>alert(5)</script>"},
                ],
                "avatar_url": "https://images.example/a.png\" onerror=\"alert(6)",
            })),
        )
        .await;
    // The avatar URL parses as an https URL (the quote and space are
    // percent-encoded in its path), so it is accepted and stored as given;
    // the pages below must show it inert.
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["avatar_url"], "https://images.example/a.png\" onerror=\"alert(6)",
        "{body}"
    );
    let hostile_title = r#"</script><script>alert(7)</script> & "quotes""#;
    let (_, url) = statement(
            &server,
            json!({
                "title": hostile_title,
                "body": "Text <script>alert(8)</script> [click](javascript:alert(9)) <a href=\"https://x.example\" onclick=\"alert(10)\">x</a>\n\n<style>body{display:none}</style>",
                "summary": "<b>summary</b> </script>",
                "signatories": ["evil"],
                "publish": true,
            }),
        )
        .await;

    for path in ["/", "/organisations/evil", "/about"] {
        let page = get_page(&server, &server.url(path)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_well_formed(&page);
        assert_inert(&page.html);
        assert!(!page.text.contains("alert(1)</script>"), "{path}");
    }
    let page = get_page(&server, &url).await;
    assert_well_formed(&page);
    assert_inert(&page.html);
    assert_eq!(text_of(&select(&page.html, "h1")[0]), hostile_title);
    let ld: Value = serde_json::from_str(&text_of(
        &select(&page.html, r#"script[type="application/ld+json"]"#)[0],
    ))
    .unwrap();
    assert_eq!(ld["headline"], hostile_title, "the JSON-LD survives intact");
    let profile = get_page(&server, &server.url("/organisations/evil")).await;
    assert_eq!(text_of(&select(&profile.html, "h1")[0]), hostile_name);

    let feed = server
        .http
        .get(server.url("/feed.atom"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let feed = feed_rs::parser::parse(&feed[..]).expect("a valid feed");
    assert_eq!(
        feed.entries[0].title.as_ref().unwrap().content,
        hostile_title
    );
    let content = feed.entries[0]
        .content
        .as_ref()
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert!(!content.contains("<script"), "{content}");
    assert!(!content.contains("javascript:"), "{content}");

    // Hostile tags and pages never reach a template.
    for path in ["/tags/%3Cscript%3E", "/tags/a%22b", "/statements/%3Cx%3E"] {
        let page = get_page(&server, &server.url(path)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!page.text.contains("<script"), "{path}: {}", page.text);
    }
});

both_backends!(
    organisation_pages_show_who_signed_what_and_how_to_follow,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        seed_organisations(&server).await;
        let (status, _) = server
            .api(
                Method::PATCH,
                "/organisations/cras",
                Some(json!({
                    "fields": [{"name": "Website", "value": "https://aitrus.info/"}],
                    "header_url": "https://images.example/header.jpg",
                    "avatar_url": "https://images.example/cras.png",
                })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        statement(&server, seed()).await;
        statement(
            &server,
            json!({"title": "CRAS on its own", "body": "Alone.", "signatories": ["cras"], "publish": true}),
        )
        .await;

        let profile_url = server.url("/organisations/cras");
        let page = get_page(&server, &profile_url).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_well_formed(&page);
        assert_eq!(
            text_of(&select(&page.html, "h1")[0]),
            "Commission of Information of CRAS, IWA section in the Region of Russia"
        );
        let handle = format!("@cras@{}", server.domain());
        assert!(text_of(&select(&page.html, ".copyable")[0]).contains(&handle));
        assert_eq!(
            select(&page.html, "img.banner")[0].value().attr("src"),
            Some("https://images.example/header.jpg")
        );
        let field = text_of(&select(&page.html, "dl.fields")[0]);
        assert!(
            field.contains("Website") && field.contains("aitrus.info"),
            "{field}"
        );
        // Signed as lead and as co-signer, newest first.
        let titles: Vec<String> = select(&page.html, "article.statement-card h3 a")
            .iter()
            .map(text_of)
            .collect();
        assert_eq!(titles, ["CRAS on its own", "Declaration about Kazakhstan"]);
        let twin = select(
            &page.html,
            r#"link[rel="alternate"][type="application/activity+json"]"#,
        );
        assert_eq!(twin[0].value().attr("href"), Some(profile_url.as_str()));
        let lead_page = get_page(&server, &server.url("/organisations/stop_total_control")).await;
        let titles: Vec<String> = select(&lead_page.html, "article.statement-card h3 a")
            .iter()
            .map(text_of)
            .collect();
        assert_eq!(titles, ["Declaration about Kazakhstan"]);

        // The remote-follow form sends the visitor to their own server.
        let form = select(&page.html, "form.remote-follow")[0];
        assert_eq!(form.value().attr("method"), Some("get"));
        let action = form.value().attr("action").unwrap();
        assert_eq!(action, "/organisations/cras/remote-follow");
        assert_eq!(
            select(&page.html, "form.remote-follow input[name=server]").len(),
            1
        );
        let expected = url::Url::parse_with_params(
            "https://example.social/authorize_interaction",
            [("uri", profile_url.as_str())],
        )
        .unwrap();
        for typed in [
            "example.social",
            " https://example.social/ ",
            "@ann@example.social",
            "Example.Social",
        ] {
            let response = server
                .http
                .get(server.url(action))
                .query(&[("server", typed)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{typed}");
            assert_eq!(
                response.headers()[header::LOCATION].to_str().unwrap(),
                expected.as_str(),
                "{typed}"
            );
        }
        for typed in [
            "",
            "javascript:alert(1)",
            "127.0.0.1",
            "localhost",
            "example.social/evil?x=1",
            "ann@",
            "example.social:99999",
            "exa mple.social",
        ] {
            let response = server
                .http
                .get(server.url(action))
                .query(&[("server", typed)])
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{typed:?}"
            );
            let html = Html::parse_document(&response.text().await.unwrap());
            let error = select(&html, "#remote-server-error");
            assert_eq!(error.len(), 1, "the error beside the field for {typed:?}");
            let input = select(&html, "#remote-server")[0];
            assert_eq!(input.value().attr("aria-invalid"), Some("true"));
            assert_eq!(input.value().attr("value"), Some(typed));
        }

        // Unknown and deleted organisations.
        let missing = get_page(&server, &server.url("/organisations/nobody")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let (status, _) = server
            .api(Method::DELETE, "/organisations/cras", None)
            .await;
        assert!(status.is_success(), "{status}");
        for path in [
            "/organisations/cras",
            "/organisations/cras/feed.atom",
            "/organisations/cras/remote-follow?server=example.social",
        ] {
            let page = get_page(&server, &server.url(path)).await;
            assert_eq!(page.status, StatusCode::GONE, "{path}");
        }
    }
);

both_backends!(
    feeds_are_atom_that_feed_readers_accept,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        seed_organisations(&server).await;
        let (id, url) = statement(&server, seed()).await;
        statement(
            &server,
            json!({"title": "A draft", "body": "No.", "tags": ["kazakhstan"]}),
        )
        .await;
        statement(
            &server,
            json!({"title": "Other news", "body": "Elsewhere.", "signatories": ["stop_total_control"], "tags": ["other"], "publish": true}),
        )
        .await;

        // Every page links its feed, and the link works.
        let pages = [
            ("/", "/feed.atom", 2),
            ("/organisations/cras", "/organisations/cras/feed.atom", 1),
            ("/tags/Kazakhstan", "/tags/kazakhstan/feed.atom", 1),
        ];
        for (page_path, feed_path, entries) in pages {
            let page = get_page(&server, &server.url(page_path)).await;
            assert_eq!(page.status, StatusCode::OK, "{page_path}");
            let links: Vec<String> = select(
                &page.html,
                r#"link[rel="alternate"][type="application/atom+xml"]"#,
            )
            .iter()
            .map(|l| l.value().attr("href").unwrap().to_string())
            .collect();
            assert!(
                links.contains(&server.url(feed_path)),
                "{page_path} links {links:?}"
            );
            let response = server.http.get(server.url(feed_path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{feed_path}");
            assert!(
                response.headers()[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("application/atom+xml")
            );
            let feed = feed_rs::parser::parse(&response.bytes().await.unwrap()[..])
                .unwrap_or_else(|err| panic!("{feed_path}: {err}"));
            assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
            assert_eq!(feed.id, server.url(feed_path));
            assert_eq!(feed.entries.len(), entries, "{feed_path}");
            assert!(
                feed.entries
                    .iter()
                    .all(|e| e.title.as_ref().unwrap().content != "A draft")
            );
        }

        let response = server
            .http
            .get(server.url("/feed.atom"))
            .send()
            .await
            .unwrap();
        let last_modified = response.headers()[header::LAST_MODIFIED].clone();
        let feed = feed_rs::parser::parse(&response.bytes().await.unwrap()[..]).unwrap();
        let entry = feed
            .entries
            .iter()
            .find(|e| e.id == url)
            .expect("the seed's entry, by its URL");
        assert_eq!(
            entry.title.as_ref().unwrap().content,
            "Declaration about Kazakhstan"
        );
        let authors: Vec<_> = entry
            .authors
            .iter()
            .map(|a| a.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            authors,
            [
                "Anarchist Initiative StopTotalControl",
                "Commission of Information of CRAS, IWA section in the Region of Russia"
            ]
        );
        assert_eq!(entry.links[0].href, url);
        assert!(entry.published.is_some());
        let content = entry.content.as_ref().unwrap().body.clone().unwrap();
        assert!(content.contains("Anarcho-syndicalists and Anarchists of Russia"));
        assert!(content.contains("IWW"), "the disclaimer: {content}");
        let categories: Vec<_> = entry.categories.iter().map(|c| c.term.clone()).collect();
        assert_eq!(categories, ["Kazakhstan", "solidarity"]);

        // Conditional requests: unchanged is 304, an edit is news.
        let response = server
            .http
            .get(server.url("/feed.atom"))
            .header(header::IF_MODIFIED_SINCE, last_modified.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        server
            .api(
                Method::PATCH,
                &format!("/statements/{id}"),
                Some(json!({"title": "Declaration about Kazakhstan, revised"})),
            )
            .await;
        let response = server
            .http
            .get(server.url("/feed.atom"))
            .header(header::IF_MODIFIED_SINCE, last_modified)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let feed = feed_rs::parser::parse(&response.bytes().await.unwrap()[..]).unwrap();
        let entry = feed.entries.iter().find(|e| e.id == url).unwrap();
        assert_eq!(
            entry.title.as_ref().unwrap().content,
            "Declaration about Kazakhstan, revised"
        );
        assert!(entry.updated > entry.published);

        // Tag pages, like the home page, show what is published only.
        let tag = get_page(&server, &server.url("/tags/kazakhstan")).await;
        assert_well_formed(&tag);
        assert_eq!(text_of(&select(&tag.html, "h1")[0]), "#kazakhstan");
        assert_eq!(select(&tag.html, "article.statement-card").len(), 1);
        assert!(!tag.text.contains("A draft"));
    }
);

/// WCAG's contrast ratio of two `#rrggbb` colours.
fn contrast(a: &str, b: &str) -> f64 {
    let luminance = |hex: &str| {
        let channel = |i: usize| {
            let c = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

both_backends!(
    the_stylesheet_is_ours_cached_and_readable_in_both_schemes,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let home = get_page(&server, &server.url("/")).await;
        let href = select(&home.html, r#"link[rel="stylesheet"]"#)[0]
            .value()
            .attr("href")
            .unwrap()
            .to_string();
        assert!(href.starts_with("/assets/site-"), "{href}");
        let response = server.http.get(server.url(&href)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let css = response.text().await.unwrap();
        assert!(css.contains("prefers-color-scheme: dark"));
        assert!(css.contains(":focus-visible"));
        assert_eq!(
            server
                .http
                .get(server.url("/assets/site-000000000000.css"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        // Each scheme's text colours against its backgrounds.
        let schemes: Vec<&str> = css.split("prefers-color-scheme: dark").collect();
        for scheme in schemes {
            let colour = |name: &str| {
                let at = scheme.find(&format!("--{name}:")).unwrap();
                let rest = scheme[at..].split_once('#').unwrap().1;
                format!("#{}", &rest[..6])
            };
            for text in ["text", "muted", "link", "accent"] {
                for background in ["bg", "surface"] {
                    let ratio = contrast(&colour(text), &colour(background));
                    assert!(ratio >= 4.5, "--{text} on --{background}: {ratio:.2}");
                }
            }
            assert!(contrast(&colour("bg"), &colour("link")) >= 4.5, "buttons");
        }
    }
);
