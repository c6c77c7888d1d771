//! The editor's desk over HTTP, as a browser uses it: the sign-in form
//! (password or admin token), the session cookie and its attributes, CSRF
//! refusals, wrong passwords and the limit on guessing, expiry, sign-out,
//! and the work itself — organisations, composing with a preview,
//! publishing to a test peer, watching deliveries, moderating a reply.

mod common;

use std::collections::HashMap;

use broadside::services::editors;
use common::{TestDb, TestServer, peer::Peer, received};
use reqwest::{StatusCode, header};
use scraper::{Html, Selector};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// A browser: keeps cookies, never follows redirects, reads forms.
struct Browser<'a> {
    server: &'a TestServer,
    cookies: HashMap<String, String>,
}

struct Answer {
    status: StatusCode,
    headers: header::HeaderMap,
    body: String,
}

impl Answer {
    fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }

    /// The CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let html = self.html();
        let input = html
            .select(&Selector::parse("input[name=csrf]").unwrap())
            .next()
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.body));
        input.value().attr("value").unwrap().to_string()
    }

    fn texts(&self, css: &str) -> Vec<String> {
        self.html()
            .select(&Selector::parse(css).unwrap())
            .map(|e| e.text().collect::<String>().trim().to_string())
            .collect()
    }
}

impl<'a> Browser<'a> {
    fn new(server: &'a TestServer) -> Self {
        Browser {
            server,
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn answer(&mut self, response: reqwest::Response) -> Answer {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let response = self
            .server
            .http
            .get(self.server.url(path))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let response = self
            .server
            .http
            .post(self.server.url(path))
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        self.answer(response).await
    }

    async fn post_pairs(&mut self, path: &str, fields: &[(String, String)]) -> Answer {
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.post(path, &refs).await
    }

    /// Signs in through the form, as an editor with a password.
    async fn sign_in(&mut self, username: &str, password: &str) -> Answer {
        let form = self.get("/admin/login").await;
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("next", "/admin"),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

async fn editor(server: &TestServer) {
    editors::create_editor(&server.state.services, "ann", PASSWORD)
        .await
        .expect("an editor");
}

both_backends!(
    sessions_begin_with_the_right_password_and_end_on_sign_out,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        editor(&server).await;
        let mut browser = Browser::new(&server);

        // Signed out, the desk sends the browser to sign in.
        let answer = browser.get("/admin/statements").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(answer.location(), "/admin/login?next=%2Fadmin%2Fstatements");

        let answer = browser.sign_in("ann", "wrong password, long enough").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(answer.texts("[role=alert]")[0].contains("Wrong name or password"));
        let answer = browser.sign_in("nobody", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

        let answer = browser.sign_in("ANN", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location(), "/admin");
        let set_cookie: Vec<_> = answer
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let session = set_cookie
            .iter()
            .find(|c| c.starts_with("broadside_session="))
            .expect("a session cookie");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(session.contains(attribute), "{session}");
        }
        assert!(
            !session.contains("Secure"),
            "plain-http localhost goes without Secure"
        );
        let desk = browser.get("/admin").await;
        assert_eq!(desk.status, StatusCode::OK);
        assert_eq!(desk.headers[header::CACHE_CONTROL], "no-store");
        assert!(desk.body.contains("ann"), "who is signed in");
        // The cookie is stored only as a hash.
        let cookie = browser.cookies["broadside_session"].clone();
        assert!(
            server.store.session(&cookie).await.unwrap().is_none(),
            "the raw cookie value is not a key in the database"
        );

        // Sign-out needs the CSRF token, then ends the session for good.
        let csrf = desk.csrf();
        let answer = browser.post("/admin/logout", &[("csrf", "forged")]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(browser.get("/admin").await.status, StatusCode::OK);
        let answer = browser.post("/admin/logout", &[("csrf", &csrf)]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(browser.get("/admin").await.status, StatusCode::SEE_OTHER);
        // An old cookie replayed after sign-out opens nothing.
        let mut thief = Browser::new(&server);
        thief
            .cookies
            .insert("broadside_session".into(), cookie.clone());
        assert_eq!(thief.get("/admin").await.status, StatusCode::SEE_OTHER);

        // The first sign-in can use an admin API token; the API keeps working.
        let form = browser.get("/admin/login").await;
        let csrf = form.csrf();
        let answer = browser
            .post("/admin/login", &[("csrf", &csrf), ("token", &server.token)])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(browser.get("/admin").await.status, StatusCode::OK);
        let (status, _) = server.api(reqwest::Method::GET, "/statements", None).await;
        assert_eq!(status, StatusCode::OK);

        // The sign-in form itself is protected: no token, no session.
        let mut other = Browser::new(&server);
        let answer = other
            .post(
                "/admin/login",
                &[("username", "ann"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        // And the redirect after sign-in stays on the desk.
        let form = other.get("/admin/login?next=https://evil.example/").await;
        let next = form.html();
        let next = next
            .select(&Selector::parse("input[name=next]").unwrap())
            .next()
            .unwrap()
            .value()
            .attr("value")
            .unwrap()
            .to_string();
        assert_eq!(next, "/admin");
    }
);

both_backends!(
    guessing_is_limited_and_sessions_expire,
    |db: TestDb| async move {
        let server =
            TestServer::start_with(&db, |config| config.session_lifetime_seconds = 2).await;
        editor(&server).await;
        let mut browser = Browser::new(&server);
        for _ in 0..10 {
            let answer = browser.sign_in("ann", "not the password at all").await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        }
        // The eleventh try is refused even with the right password.
        let answer = browser.sign_in("ann", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(browser.get("/admin").await.status == StatusCode::SEE_OTHER);

        // Another editor is not locked out by Ann's attacker.
        editors::create_editor(&server.state.services, "bob", PASSWORD)
            .await
            .unwrap();
        let mut bobs = Browser::new(&server);
        let answer = bobs.sign_in("bob", PASSWORD).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(bobs.get("/admin").await.status, StatusCode::OK);
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        assert_eq!(
            bobs.get("/admin").await.status,
            StatusCode::SEE_OTHER,
            "an expired session signs out"
        );

        // Weak passwords and bad names are refused when accounts are made.
        let err = editors::create_editor(&server.state.services, "cat", "short")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("12"), "{err}");
        let err = editors::create_editor(&server.state.services, "bad name", PASSWORD)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("letters"), "{err}");
        assert!(
            editors::create_editor(&server.state.services, "Bob", PASSWORD)
                .await
                .is_err(),
            "names are unique whatever their case"
        );
    }
);

both_backends!(
    an_editor_publishes_from_the_desk_and_moderates_a_reply,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        editor(&server).await;
        let mut browser = Browser::new(&server);
        browser.sign_in("ann", PASSWORD).await;

        // Two organisations through the form; a bad handle is refused beside its field.
        let form = browser.get("/admin/organisations/new").await;
        let csrf = form.csrf();
        let answer = browser
            .post(
                "/admin/organisations",
                &[
                    ("csrf", &csrf),
                    ("handle", "no spaces"),
                    ("name", "X"),
                    ("summary", ""),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.texts("#handle-error").len(), 1, "{}", answer.body);
        for (handle, name) in [
            (
                "stop_total_control",
                "Anarchist Initiative StopTotalControl",
            ),
            ("cras", "Commission of Information of CRAS"),
        ] {
            let answer = browser
                .post(
                    "/admin/organisations",
                    &[
                        ("csrf", &csrf),
                        ("handle", handle),
                        ("name", name),
                        ("summary", "Signs statements."),
                        ("field_name_0", "Website"),
                        ("field_value_0", "https://aitrus.info/"),
                    ],
                )
                .await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
            assert_eq!(answer.location(), format!("/admin/organisations/{handle}"));
        }
        let (_, org) = server
            .api(reqwest::Method::GET, "/organisations/cras", None)
            .await;
        assert_eq!(org["fields"][0]["value"], "https://aitrus.info/");

        // A follower on a test peer for each.
        let peer = Peer::start().await;
        common::follow(&server, &peer, "ann", "stop_total_control").await;
        common::follow(&server, &peer, "bob", "cras").await;
        received(&peer, "Accept", 2).await;

        // Compose: the preview is what Mastodon will show; a form without
        // the CSRF token changes nothing.
        let compose = browser.get("/admin/statements/new").await;
        let csrf = compose.csrf();
        let fields = |action: &'static str, csrf: &str| {
            vec![
                ("csrf".to_string(), csrf.to_string()),
                ("title".into(), "Declaration about Kazakhstan".into()),
                (
                    "body".into(),
                    "We stand with the **workers** of Kazakhstan.".into(),
                ),
                ("order_stop_total_control".into(), "1".into()),
                ("order_cras".into(), "2".into()),
                ("language".into(), "en".into()),
                ("tags".into(), "Kazakhstan, solidarity".into()),
                ("format".into(), "note".into()),
                ("quote_policy".into(), "anyone".into()),
                ("action".into(), action.into()),
            ]
        };
        let preview = browser
            .post_pairs("/admin/statements", &fields("preview", &csrf))
            .await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        let shown = preview.html();
        let toot = shown
            .select(&Selector::parse(".toot-content").unwrap())
            .next()
            .expect("a preview");
        let toot_html = toot.inner_html();
        assert!(
            toot_html.contains("<strong>workers</strong>"),
            "{toot_html}"
        );
        assert!(
            toot_html.contains("Declaration about Kazakhstan"),
            "{toot_html}"
        );
        assert_eq!(
            server
                .api(reqwest::Method::GET, "/statements", None)
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            0,
            "a preview stores nothing"
        );
        // The live preview htmx asks for while the editor types: the same
        // HTML, alone; a refusal takes its place.
        let live = browser
            .post_pairs("/admin/statements/preview", &fields("preview", &csrf))
            .await;
        assert_eq!(live.status, StatusCode::OK, "{}", live.body);
        assert!(!live.body.contains("<html"), "a fragment: {}", live.body);
        assert!(
            live.body.contains("<strong>workers</strong>"),
            "{}",
            live.body
        );
        let mut untitled = fields("preview", &csrf);
        untitled.retain(|(k, _)| k != "title");
        let live = browser
            .post_pairs("/admin/statements/preview", &untitled)
            .await;
        assert!(live.body.contains("title"), "{}", live.body);
        assert!(live.body.contains("form-error"), "{}", live.body);
        let live = browser
            .post_pairs("/admin/statements/preview", &fields("preview", "forged"))
            .await;
        assert_eq!(live.status, StatusCode::FORBIDDEN);
        // htmx is ours, and the desk's policy lets only our scripts run.
        let csp = compose.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        let htmx = compose
            .html()
            .select(&Selector::parse("script[src]").unwrap())
            .next()
            .unwrap()
            .value()
            .attr("src")
            .unwrap()
            .to_string();
        assert!(htmx.starts_with("/assets/htmx-"), "{htmx}");
        let script = server.http.get(server.url(&htmx)).send().await.unwrap();
        assert_eq!(script.status(), StatusCode::OK);
        assert!(
            script.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );

        let forged = browser
            .post_pairs("/admin/statements", &fields("publish", "forged"))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // No signatory numbered: refused beside the signatories.
        let mut unsigned = fields("publish", &csrf);
        unsigned.retain(|(k, _)| !k.starts_with("order_"));
        let refused = browser.post_pairs("/admin/statements", &unsigned).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            refused.texts("#signatories-error").len(),
            1,
            "{}",
            refused.body
        );
        assert!(peer.received_of("Create").is_empty());

        let published = browser
            .post_pairs("/admin/statements", &fields("publish", &csrf))
            .await;
        assert_eq!(
            published.status,
            StatusCode::SEE_OTHER,
            "{}",
            published.body
        );
        let id = published
            .location()
            .strip_prefix("/admin/statements/")
            .unwrap()
            .to_string();
        let creates = received(&peer, "Create", 1).await;
        assert_eq!(
            creates[0].activity["actor"],
            json!(server.url("/organisations/stop_total_control"))
        );
        let announces = received(&peer, "Announce", 1).await;
        assert_eq!(
            announces[0].activity["actor"],
            json!(server.url("/organisations/cras"))
        );

        // The delivery view shows the peer's server as delivered.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let view = loop {
            let view = browser
                .get(&format!("/admin/statements/{id}/deliveries"))
                .await;
            if view.texts("#queued") == ["0"] || std::time::Instant::now() > deadline {
                break view;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert_eq!(view.texts("#delivered"), ["2"], "{}", view.body);
        let rows = view.texts("tbody tr td:first-child");
        assert_eq!(rows, [peer.domain()]);

        // A reply from the peer waits; the editor approves it.
        let url = server.url(&format!("/statements/{id}"));
        let reply = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#create/r1", peer.actor("ann")),
            "type": "Create", "actor": peer.actor("ann"),
            "object": {
                "id": format!("{}/statuses/r1", peer.actor("ann")), "type": "Note",
                "attributedTo": peer.actor("ann"), "inReplyTo": url,
                "content": "<p>In solidarity!</p>", "published": "2026-12-01T10:00:00Z",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
            },
        });
        let status = peer
            .send(&server.url("/inbox"), "ann", &reply)
            .await
            .status();
        assert_eq!(status, StatusCode::ACCEPTED);
        let queue = browser.get("/admin/moderation").await;
        assert!(queue.body.contains("In solidarity!"), "{}", queue.body);
        assert!(
            queue
                .body
                .contains(&format!("href=\"/admin/statements/{id}\"")),
            "the reply names its statement: {}",
            queue.body
        );
        let approve = queue
            .html()
            .select(&Selector::parse("form[action$=\"/approve\"]").unwrap())
            .next()
            .unwrap()
            .value()
            .attr("action")
            .unwrap()
            .to_string();
        let csrf = queue.csrf();
        let answer = browser.post(&approve, &[("csrf", &csrf)]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let replies = server.ap_json(format!("{url}/replies")).await;
        assert_eq!(replies["totalItems"], 1);
        let queue = browser.get("/admin/moderation").await;
        assert!(!queue.body.contains("In solidarity!"));

        // A third organisation signs later: it boosts, everyone gets the Update.
        let csrf = browser.get("/admin").await.csrf();
        browser
            .post(
                "/admin/organisations",
                &[
                    ("csrf", &csrf),
                    ("handle", "iwa"),
                    ("name", "IWA"),
                    ("summary", ""),
                ],
            )
            .await;
        common::follow(&server, &peer, "cat", "iwa").await;
        received(&peer, "Accept", 3).await;
        let answer = browser
            .post(
                &format!("/admin/statements/{id}/sign"),
                &[("csrf", &csrf), ("handle", "iwa")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let announces = received(&peer, "Announce", 2).await;
        assert!(
            announces
                .iter()
                .any(|a| a.activity["actor"] == json!(server.url("/organisations/iwa")))
        );
        received(&peer, "Update", 1).await;
        let answer = browser
            .post(
                &format!("/admin/statements/{id}/sign"),
                &[("csrf", &csrf), ("handle", "iwa")],
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "signing twice is refused: {}",
            answer.body
        );
        assert!(
            answer.body.contains("has signed already"),
            "{}",
            answer.body
        );

        // Editing from the desk sends an Update; deleting, a Delete.
        let page = browser.get(&format!("/admin/statements/{id}")).await;
        let csrf = page.csrf();
        let answer = browser
            .post(
                &format!("/admin/statements/{id}"),
                &[
                    ("csrf", &csrf),
                    ("title", "Declaration about Kazakhstan (corrected)"),
                    ("body", "We stand with the workers of Kazakhstan."),
                    ("language", "en"),
                    ("format", "note"),
                    ("quote_policy", "anyone"),
                    ("action", "save"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        received(&peer, "Update", 1).await;
        let answer = browser
            .post(
                &format!("/admin/statements/{id}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        received(&peer, "Delete", 1).await;
        assert_eq!(server.get_ap(&url).await.status(), StatusCode::NOT_FOUND);
    }
);

both_backends!(
    admins_manage_editors_and_blocked_servers,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let mut admin = Browser::new(&server);
        let form = admin.get("/admin/login").await;
        let csrf = form.csrf();
        admin
            .post("/admin/login", &[("csrf", &csrf), ("token", &server.token)])
            .await;
        let settings = admin.get("/admin/settings").await;
        assert_eq!(settings.status, StatusCode::OK);
        let csrf = settings.csrf();

        // An admin creates an editor; a short password is refused by its field.
        let answer = admin
            .post(
                "/admin/settings/editors",
                &[("csrf", &csrf), ("username", "ann"), ("password", "short")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.texts("#password-error").len(), 1, "{}", answer.body);
        let answer = admin
            .post(
                "/admin/settings/editors",
                &[("csrf", &csrf), ("username", "ann"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let mut ann = Browser::new(&server);
        assert_eq!(
            ann.sign_in("ann", PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
        // An editor cannot make more editors.
        let page = ann.get("/admin/settings").await;
        assert!(!page.body.contains("Create the editor"));
        let answer = ann
            .post(
                "/admin/settings/editors",
                &[
                    ("csrf", &page.csrf()),
                    ("username", "eve"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);

        // Blocking a server from the desk is the API's block.
        let answer = ann
            .post(
                "/admin/settings/blocks",
                &[
                    ("csrf", &page.csrf()),
                    ("domain", "not a domain"),
                    ("reason", ""),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer.texts("#domain-error").len(), 1);
        let answer = ann
            .post(
                "/admin/settings/blocks",
                &[
                    ("csrf", &page.csrf()),
                    ("domain", "Spam.Example."),
                    ("reason", "spam"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let (_, blocks) = server
            .api(reqwest::Method::GET, "/domain-blocks", None)
            .await;
        assert_eq!(blocks[0]["domain"], "spam.example", "{blocks}");
        let answer = ann
            .post(
                "/admin/settings/blocks/spam.example/delete",
                &[("csrf", &page.csrf())],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        let (_, blocks) = server
            .api(reqwest::Method::GET, "/domain-blocks", None)
            .await;
        assert_eq!(blocks, json!([]));

        // Deleting ann ends her session.
        let settings = admin.get("/admin/settings").await;
        let answer = admin
            .post(
                "/admin/settings/editors/ann/delete",
                &[("csrf", &settings.csrf())],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert_eq!(ann.get("/admin").await.status, StatusCode::SEE_OTHER);
    }
);
