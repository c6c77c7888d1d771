//! The editor's desk in a real browser: headless Chromium, driven through
//! chromedriver with fantoccini, signs in as an editor, creates the two
//! signatories of the seed statement (StopTotalControl and CRAS) with the
//! organisation form, composes "Declaration about Kazakhstan", previews it
//! and publishes it to a test peer that follows both, watches the delivery
//! view until both deliveries are done, and approves the peer's reply in
//! the moderation queue; the reply is then in the statement's `replies`
//! collection and on its public page.
//!
//! Every desk page visited is screenshotted at desktop (1280×900) and phone
//! (375×812) width into `target/artefacts/browser/desk-{page}-{width}.png`,
//! a page longer than the window also whole, `desk-{page}-full-{width}.png`
//! (chromedriver's log beside them, `desk-chromedriver.log`); at phone
//! width none may scroll sideways. SQLite only: the desk's storage is tested
//! on both databases in `tests/desk.rs`.
//!
//! Skipped, with a line saying so, where chromedriver is not installed
//! (`BROADSIDE_CHROMEDRIVER`, else `/usr/bin/chromedriver`; see
//! `tests/common/browser.rs`).

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use broadside::services::editors;
use common::{
    Backend, TestDb, TestServer,
    browser::{
        DESKTOP, PHONE, Session, arrive, artefacts_dir, chromedriver_path, normalise, screenshot,
        scrolls_sideways, set_viewport,
    },
    peer::Peer,
    received,
};
use fantoccini::{Client, Locator, elements::Element, error::CmdError};
use reqwest::StatusCode;
use serde_json::json;

const EDITOR: &str = "ann";
const PASSWORD: &str = "correct horse battery staple";
const BODY: &str = include_str!("fixtures/kazakhstan.md");
const TITLE: &str = "Declaration about Kazakhstan";
const DISCLAIMER: &str = "The views expressed here are not the official position of the IWW (or even the IWW's EUC) and do not necessarily represent the views of anyone but the author.";
const ORIGINAL_DATE: &str = "2022-01-13";
const LEAD: (&str, &str) = (
    "stop_total_control",
    "Anarchist Initiative StopTotalControl",
);
const CRAS: (&str, &str) = (
    "cras",
    "Commission of Information of CRAS, IWA section in the Region of Russia",
);
const REPLY: &str = "In solidarity!";

/// The desk pages screenshotted, at both widths (`desk-{page}-{width}.png`).
const PAGES: [&str; 9] = [
    "desk-login",
    "desk-dashboard",
    "desk-organisation-new",
    "desk-organisation",
    "desk-compose",
    "desk-statement",
    "desk-deliveries",
    "desk-moderation",
    "desk-moderated",
];

/// The tallest window for a full-length screenshot, in CSS pixels.
const FULL_LENGTH: u64 = 10000;

/// The whole walk may take this long before the test gives up.
const WALK_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_publishes_and_moderates_from_the_desk_in_a_browser() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let stale: Vec<String> = PAGES
        .iter()
        .flat_map(|page| [page.to_string(), format!("{page}-full")])
        .collect();
    let artefacts = artefacts_dir(&stale.iter().map(String::as_str).collect::<Vec<_>>());
    let session = Session::start(&chromedriver, &artefacts.join("desk-chromedriver.log")).await;

    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&db).await;
    editors::create_editor(&server.state.services, EDITOR, PASSWORD)
        .await
        .expect("an editor account");
    let peer = Peer::start().await;
    // The session is closed (and so Chromium) whatever happens; chromedriver
    // itself is killed when `session` drops.
    session
        .drive(
            WALK_TIMEOUT,
            walk(&session.client, &server, &peer, &artefacts),
        )
        .await;
}

async fn walk(
    browser: &Client,
    server: &TestServer,
    peer: &Peer,
    artefacts: &Path,
) -> Result<(), CmdError> {
    let mut looks = Looks {
        browser,
        artefacts,
        sideways: Vec::new(),
    };
    set_viewport(browser, DESKTOP.1, DESKTOP.2).await?;

    // 1. Sign in with a name and a password.
    browser.goto(&server.url("/admin/login")).await?;
    looks.page("desk-login").await?;
    browser
        .find(Locator::Css("#username"))
        .await?
        .send_keys(EDITOR)
        .await?;
    browser
        .find(Locator::Css("#password"))
        .await?
        .send_keys(PASSWORD)
        .await?;
    // The first form; the second signs in with an admin token.
    browser
        .find(Locator::Css("main form:has(#password) button[type=submit]"))
        .await?
        .click()
        .await?;
    arrive(browser, &server.url("/admin")).await?;
    let who = browser
        .find(Locator::Css("header.site-header form .muted"))
        .await?;
    assert_eq!(who.text().await?, EDITOR, "the desk names who is signed in");
    looks.page("desk-dashboard").await?;

    // 2. The two signatories, through the organisation form.
    for (handle, name) in [LEAD, CRAS] {
        browser
            .goto(&server.url("/admin/organisations/new"))
            .await?;
        if handle == LEAD.0 {
            looks.page("desk-organisation-new").await?;
        }
        type_into(browser, "#handle", handle).await?;
        type_into(browser, "#name", name).await?;
        type_into(browser, "#summary", &format!("{name} signs statements.")).await?;
        submit(browser, "main form.stack button[type=submit]").await?;
        arrive(
            browser,
            &server.url(&format!("/admin/organisations/{handle}")),
        )
        .await?;
        let h1 = browser.find(Locator::Css("main h1")).await?;
        assert_eq!(normalise(&h1.text().await?), name);
        if handle == CRAS.0 {
            looks.page("desk-organisation").await?;
        }
    }

    // 3. A follower on the test peer for each.
    common::follow(server, peer, "ann", LEAD.0).await;
    common::follow(server, peer, "bob", CRAS.0).await;
    received(peer, "Accept", 2).await;

    // 4. Compose, preview, publish.
    browser.goto(&server.url("/admin/statements/new")).await?;
    type_into(browser, "#title", TITLE).await?;
    // The text is long: set at once rather than typed key by key.
    set_value(browser, "#body", BODY).await?;
    type_into(browser, &format!("#order_{}", LEAD.0), "1").await?;
    type_into(browser, &format!("#order_{}", CRAS.0), "2").await?;
    type_into(browser, "#language", "en").await?;
    // A date input takes typed keys in the locale's order; its value is
    // always ISO.
    set_value(browser, "#original_date", ORIGINAL_DATE).await?;
    type_into(browser, "#disclaimer", DISCLAIMER).await?;
    submit(browser, "button[name=action][value=preview]").await?;
    // The form's answer, not a preview the page may show as one types.
    arrive(browser, &server.url("/admin/statements")).await?;
    let toot = wait_for(browser, ".toot-content").await?;
    let shown = normalise(&toot.text().await?);
    let first_sentence = BODY
        .split_inclusive(['.', '!', '?'])
        .next()
        .expect("a first sentence");
    assert!(
        shown.contains(TITLE),
        "the preview shows the title: {shown}"
    );
    assert!(
        shown.contains(&normalise(first_sentence)),
        "the preview shows the first sentence ({first_sentence:?}): {shown}"
    );
    let author = browser.find(Locator::Css(".toot-author strong")).await?;
    assert_eq!(
        normalise(&author.text().await?),
        LEAD.1,
        "the lead posts it"
    );
    // The preview keeps what was entered, so that Publish sends it.
    for (css, want) in [
        ("#title", TITLE),
        (&format!("#order_{}", LEAD.0), "1"),
        (&format!("#order_{}", CRAS.0), "2"),
        ("#language", "en"),
        ("#original_date", ORIGINAL_DATE),
        ("#disclaimer", DISCLAIMER),
    ] {
        assert_eq!(value(browser, css).await?, want, "{css} after the preview");
    }
    assert_eq!(
        normalise(&value(browser, "#body").await?),
        normalise(BODY),
        "#body after the preview"
    );
    looks.page("desk-compose").await?;
    submit(browser, "button[name=action][value=publish]").await?;
    let id = statement_id(browser).await?;
    let statement = server.url(&format!("/statements/{id}"));
    let h1 = browser.find(Locator::Css("main h1")).await?;
    assert_eq!(normalise(&h1.text().await?), TITLE);
    let state = browser.find(Locator::Css("main .meta .state")).await?;
    assert_eq!(state.text().await?, "published");
    looks.page("desk-statement").await?;

    // 5. The delivery view, until nothing waits.
    let deliveries = server.url(&format!("/admin/statements/{id}/deliveries"));
    browser.goto(&deliveries).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let counts = loop {
        // One script reads the three counts of one document, even if the
        // page reloads itself meanwhile.
        let counts = browser
            .execute(
                "return ['#queued', '#delivered', '#failed']
                     .map(id => document.querySelector(id)?.textContent.trim());",
                vec![],
            )
            .await;
        if let Ok(counts) = &counts
            && counts[0] == "0"
            && counts[1] == "2"
        {
            break counts.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the delivery view still shows [queued, delivered, failed] = {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        browser.refresh().await?;
    };
    assert_eq!(
        counts,
        json!(["0", "2", "0"]),
        "[queued, delivered, failed]"
    );
    let hosts = browser
        .find_all(Locator::Css("main table tbody tr td:first-child"))
        .await?;
    let mut rows = Vec::new();
    for cell in hosts {
        rows.push(cell.text().await?);
    }
    assert_eq!(rows, [peer.domain()], "one row, the peer's server");
    assert!(
        browser
            .find_all(Locator::Css("meta[http-equiv=refresh]"))
            .await?
            .is_empty(),
        "the page stops reloading itself once nothing waits"
    );
    looks.page("desk-deliveries").await?;
    let creates = received(peer, "Create", 1).await;
    assert_eq!(
        creates[0].activity["actor"],
        json!(server.url(&format!("/organisations/{}", LEAD.0)))
    );
    assert_eq!(creates[0].activity["object"]["id"], json!(statement));
    let announces = received(peer, "Announce", 1).await;
    assert_eq!(
        announces[0].activity["actor"],
        json!(server.url(&format!("/organisations/{}", CRAS.0)))
    );
    assert!(
        creates[0].verified && announces[0].verified,
        "both are signed by their actors"
    );

    // 6. A reply from the peer waits; the editor approves it.
    let reply = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}#create/r1", peer.actor("ann")),
        "type": "Create", "actor": peer.actor("ann"),
        "object": {
            "id": format!("{}/statuses/r1", peer.actor("ann")), "type": "Note",
            "attributedTo": peer.actor("ann"), "inReplyTo": statement,
            "content": format!("<p>{REPLY}</p>"), "published": "2026-12-01T10:00:00Z",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        },
    });
    let status = peer
        .send(&server.url("/inbox"), "ann", &reply)
        .await
        .status();
    assert_eq!(status, StatusCode::ACCEPTED);
    let moderation = server.url("/admin/moderation");
    browser.goto(&moderation).await?;
    assert_eq!(
        waiting_replies(browser).await?,
        [REPLY],
        "the reply waits in the queue"
    );
    looks.page("desk-moderation").await?;
    submit(browser, "form[action$=\"/approve\"] button[type=submit]").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // Until the page the approval redirects to has replaced this one.
        let heading = browser.find(Locator::Css("#replies-heading")).await;
        if let Ok(heading) = heading
            && let Ok(text) = heading.text().await
            && text == "Replies waiting (0)"
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the approved reply is still in the queue"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    arrive(browser, &moderation).await?;
    assert!(
        waiting_replies(browser).await?.is_empty(),
        "the approved reply has left the queue"
    );
    looks.page("desk-moderated").await?;
    let replies = server.ap_json(format!("{statement}/replies")).await;
    assert_eq!(replies["totalItems"], 1, "{replies}");
    browser.goto(&statement).await?;
    let mut shown = Vec::new();
    for text in browser
        .find_all(Locator::Css("ol.replies li.reply .reply-text"))
        .await?
    {
        shown.push(normalise(&text.text().await?));
    }
    assert_eq!(shown, [REPLY], "the public page shows the approved reply");

    // 7. At phone width no desk page scrolls sideways.
    assert!(
        looks.sideways.is_empty(),
        "at {}px these desk pages scroll sideways ([scrollWidth, innerWidth]): {:#?}",
        PHONE.1,
        looks.sideways
    );
    Ok(())
}

/// Screenshots of the page the browser shows, at both widths, and what
/// scrolls sideways at phone width.
struct Looks<'a> {
    browser: &'a Client,
    artefacts: &'a Path,
    sideways: Vec<String>,
}

impl Looks<'_> {
    /// `{name}-desktop.png` and `{name}-phone.png` of the current page (not
    /// reloaded: a page a form answered stays as it is), and of a page
    /// longer than the window `{name}-full-{width}.png` as well, with the
    /// window as tall as the page; back at desktop width after.
    async fn page(&mut self, name: &str) -> Result<(), CmdError> {
        let browser = self.browser;
        for (width_name, width, height) in [DESKTOP, PHONE] {
            set_viewport(browser, width, height).await?;
            screenshot(browser, self.artefacts, &format!("{name}-{width_name}")).await?;
            if width_name == PHONE.0
                && let Some(widths) = scrolls_sideways(browser).await?
            {
                let url = browser.current_url().await?;
                self.sideways.push(format!("{name} ({url}): {widths}"));
            }
            let length = browser
                .execute("return document.documentElement.scrollHeight;", vec![])
                .await?
                .as_u64()
                .unwrap_or_default();
            if length > u64::from(height) {
                // As tall as the page, as far as the browser lets a window
                // grow; the width stays.
                let (outer_width, outer_height) = browser.get_window_size().await?;
                let frame = outer_height.saturating_sub(u64::from(height));
                let tall = (length + frame).min(FULL_LENGTH);
                browser
                    .set_window_size(
                        u32::try_from(outer_width).unwrap_or(width),
                        u32::try_from(tall).unwrap_or(u32::MAX),
                    )
                    .await?;
                let file = format!("{name}-full-{width_name}");
                screenshot(browser, self.artefacts, &file).await?;
            }
        }
        set_viewport(browser, DESKTOP.1, DESKTOP.2).await
    }
}

/// Types `text` into the empty field `css`.
async fn type_into(browser: &Client, css: &str, text: &str) -> Result<(), CmdError> {
    let field = browser.find(Locator::Css(css)).await?;
    field.clear().await?;
    field.send_keys(text).await?;
    assert_eq!(
        field.prop("value").await?.as_deref(),
        Some(text),
        "{css} holds what was typed"
    );
    Ok(())
}

/// Sets the value of the field `css` by script, as the page sees a paste.
async fn set_value(browser: &Client, css: &str, text: &str) -> Result<(), CmdError> {
    let field = browser.find(Locator::Css(css)).await?;
    browser
        .execute(
            "arguments[0].value = arguments[1];
             arguments[0].dispatchEvent(new Event('input', { bubbles: true }));
             arguments[0].dispatchEvent(new Event('change', { bubbles: true }));",
            vec![serde_json::to_value(&field)?, json!(text)],
        )
        .await?;
    assert_eq!(
        field.prop("value").await?.as_deref(),
        Some(text),
        "{css} holds what was set"
    );
    Ok(())
}

/// The current value of the field `css`.
async fn value(browser: &Client, css: &str) -> Result<String, CmdError> {
    Ok(browser
        .find(Locator::Css(css))
        .await?
        .prop("value")
        .await?
        .unwrap_or_default())
}

/// Clicks the button `css`.
async fn submit(browser: &Client, css: &str) -> Result<(), CmdError> {
    browser.find(Locator::Css(css)).await?.click().await
}

/// Waits for an element `css` (a click may return before the page it loads
/// is there).
async fn wait_for(browser: &Client, css: &str) -> Result<Element, CmdError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match browser.find(Locator::Css(css)).await {
            Ok(element) => return Ok(element),
            Err(err) if err.is_no_such_element() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(err) => return Err(err),
        }
    }
}

/// Waits for the statement's desk page that publishing leads to and returns
/// the statement's id.
async fn statement_id(browser: &Client) -> Result<String, CmdError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = browser.current_url().await?;
        if let Some(id) = current.path().strip_prefix("/admin/statements/")
            && !id.is_empty()
            && !id.contains('/')
            && id != "new"
        {
            return Ok(id.to_string());
        }
        assert!(
            Instant::now() < deadline,
            "publishing did not lead to the statement's page; the browser is at {current}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The texts of the replies in the moderation queue.
async fn waiting_replies(browser: &Client) -> Result<Vec<String>, CmdError> {
    let mut texts = Vec::new();
    for text in browser
        .find_all(Locator::Css(
            "section[aria-labelledby=replies-heading] .reply-card .reply-text",
        ))
        .await?
    {
        texts.push(normalise(&text.text().await?));
    }
    Ok(texts)
}
