//! The public website in a real browser: headless Chromium, driven through
//! chromedriver with fantoccini, reads the seed statement ("Declaration about
//! Kazakhstan", signed by StopTotalControl and CRAS) from the home page,
//! follows a signatory to its organisation page and sends its remote-follow
//! form to `example.social`.
//!
//! A second statement, with two images and a Russian translation, is read
//! in Russian (its images load, with their alt text) and switched to
//! English.
//!
//! Screenshots of the home, statement (and its translation) and organisation pages at desktop
//! (1280×900) and phone (375×812) width land in `target/artefacts/browser/`,
//! with chromedriver's log; at phone width no page may scroll sideways.
//!
//! Skipped, with a line saying so, where chromedriver is not installed
//! (`BROADSIDE_CHROMEDRIVER`, else `/usr/bin/chromedriver`); `.ci/run`
//! installs it, so only a machine that cannot get it skips. `BROADSIDE_CHROMIUM` names another browser
//! binary than `/usr/bin/chromium`. The mechanics are in
//! `tests/common/browser.rs`, shared with the desk's browser test.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use common::{
    Backend, TestDb, TestServer,
    browser::{
        DESKTOP, PHONE, Session, arrive, artefacts_dir, chromedriver_path, normalise, screenshot,
        scrolls_sideways, set_viewport,
    },
};
use fantoccini::{Client, Locator, error::CmdError};
use reqwest::{Method, StatusCode};
use serde_json::json;
use url::Url;

const BODY: &str = include_str!("fixtures/kazakhstan.md");
const TITLE: &str = "Declaration about Kazakhstan";
const DISCLAIMER: &str = "The views expressed here are not the official position of the IWW (or even the IWW's EUC) and do not necessarily represent the views of anyone but the author.";
const LEAD: (&str, &str) = (
    "stop_total_control",
    "Anarchist Initiative StopTotalControl",
);
const CRAS: (&str, &str) = (
    "cras",
    "Commission of Information of CRAS, IWA section in the Region of Russia",
);
/// The server a reader types into the remote-follow form. Chromium resolves
/// no name but loopback (`--host-resolver-rules`), so going there fails at
/// once, without a DNS query, and leaves the address in the browser.
const REMOTE: &str = "example.social";

/// The pages screenshotted, at both widths.
const PAGES: [&str; 4] = ["home", "statement", "statement-ru", "organisation"];

/// An image made here, uploaded with its alt text; its id.
async fn upload(server: &TestServer, colour: [u8; 3], alt: &str) -> String {
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_fn(1200, 800, |x, y| {
        if (x / 80 + y / 80) % 2 == 0 {
            image::Rgb(colour)
        } else {
            image::Rgb([240, 240, 235])
        }
    })
    .write_to(&mut png, image::ImageFormat::Png)
    .unwrap();
    let (status, media) = server
        .upload(png.into_inner(), "image.png", "image/png", Some(alt), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{media}");
    media["id"].as_str().unwrap().to_string()
}

/// The whole walk may take this long before the test gives up.
const WALK_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_goes_from_the_home_page_to_following_a_signatory() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let artefacts = artefacts_dir(&PAGES);
    let session = Session::start(&chromedriver, &artefacts.join("chromedriver.log")).await;

    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&db).await;
    // The session is closed (and so Chromium) whatever happens; chromedriver
    // itself is killed when `session` drops.
    session
        .drive(WALK_TIMEOUT, walk(&session.client, &server, &artefacts))
        .await;
}

async fn walk(browser: &Client, server: &TestServer, artefacts: &Path) -> Result<(), CmdError> {
    for (handle, name) in [LEAD, CRAS] {
        server.create_organisation(handle, name).await;
    }
    let (status, created) = server
        .api(
            Method::POST,
            "/statements",
            Some(json!({
                "title": TITLE,
                "body": BODY,
                "signatories": [LEAD.0, CRAS.0],
                "language": "en",
                "original_date": "2022-01-13",
                "disclaimer": DISCLAIMER,
                "publish": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let statement = created["url"].as_str().expect("statement url").to_string();
    // A second statement, with two images and a Russian translation.
    let images = [
        upload(server, [170, 40, 40], "Oil workers on strike in Zhanaozen").await,
        upload(server, [40, 80, 150], "A rally in Almaty").await,
    ];
    let (status, translated) = server
        .api(
            Method::POST,
            "/statements",
            Some(json!({
                "title": "Solidarity with the strikers",
                "body": "We stand with the oil workers of Mangistau.",
                "signatories": [CRAS.0],
                "language": "en",
                "media": images,
                "translations": {"ru": {
                    "title": "Солидарность с бастующими",
                    "body": "Мы с нефтяниками Мангистау."
                }},
                "publish": true,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{translated}");
    let english = translated["url"].as_str().unwrap().to_string();
    let russian = format!("{english}/ru");
    let home = server.url("/");
    let lead = server.url(&format!("/organisations/{}", LEAD.0));
    let cras = server.url(&format!("/organisations/{}", CRAS.0));

    // Screenshots first, so that they are there to look at even when a
    // check below fails.
    let mut sideways = Vec::new();
    for (width_name, width, height) in [DESKTOP, PHONE] {
        set_viewport(browser, width, height).await?;
        for (page, url) in [
            ("home", &home),
            ("statement", &statement),
            ("statement-ru", &russian),
            ("organisation", &cras),
        ] {
            browser.goto(url).await?;
            screenshot(browser, artefacts, &format!("{page}-{width_name}")).await?;
            if width_name == PHONE.0
                && let Some(widths) = scrolls_sideways(browser).await?
            {
                sideways.push(format!("{page} ({url}): {widths}"));
            }
        }
    }
    assert!(
        sideways.is_empty(),
        "at {}px these pages scroll sideways ([scrollWidth, innerWidth]): {sideways:#?}",
        PHONE.1
    );

    // The walk, as a reader at a desktop would click through it.
    set_viewport(browser, DESKTOP.1, DESKTOP.2).await?;
    browser.goto(&home).await?;
    let mut links = Vec::new();
    for link in browser
        .find_all(Locator::Css("main article.statement-card h2 a"))
        .await?
    {
        if normalise(&link.text().await?) == TITLE {
            links.push(link);
        }
    }
    assert_eq!(
        links.len(),
        1,
        "one statement card links to {TITLE:?} on the home page"
    );
    assert_eq!(
        links[0].prop("href").await?.as_deref(),
        Some(statement.as_str())
    );
    links[0].click().await?;
    arrive(browser, &statement).await?;

    let h1 = browser.find(Locator::Css("h1")).await?;
    assert_eq!(normalise(&h1.text().await?), TITLE);
    let signatories = browser
        .find_all(Locator::Css("ul.signatories > li a.signatory"))
        .await?;
    let mut seen = Vec::new();
    for link in &signatories {
        seen.push((
            link.prop("href").await?.unwrap_or_default(),
            normalise(&link.text().await?),
        ));
    }
    assert_eq!(seen.len(), 2, "two signatories: {seen:#?}");
    for (url, name) in [(&lead, LEAD.1), (&cras, CRAS.1)] {
        assert!(
            seen.iter()
                .any(|(href, text)| href == url && text.contains(name)),
            "{name} links to {url}: {seen:#?}"
        );
    }
    let disclaimer = browser.find(Locator::Css("aside.disclaimer")).await?;
    assert!(
        normalise(&disclaimer.text().await?).contains(DISCLAIMER),
        "the disclaimer is shown"
    );

    let mut to_cras = None;
    for link in signatories {
        if link.prop("href").await?.as_deref() == Some(cras.as_str()) {
            to_cras = Some(link);
        }
    }
    to_cras.expect("a link to CRAS").click().await?;
    arrive(browser, &cras).await?;
    let h1 = browser.find(Locator::Css("h1")).await?;
    assert_eq!(normalise(&h1.text().await?), CRAS.1);

    // Remote follow: the form sends the reader to their own server's
    // authorize_interaction page, naming the organisation's actor.
    let actor = server.ap_json(&cras).await["id"]
        .as_str()
        .expect("actor id")
        .to_string();
    let form = browser.find(Locator::Css("form.remote-follow")).await?;
    assert_eq!(
        form.attr("method").await?.map(|m| m.to_ascii_lowercase()),
        Some("get".to_string())
    );
    assert_eq!(
        form.prop("action").await?,
        Some(format!("{cras}/remote-follow"))
    );
    let input = form
        .find(Locator::Css("input#remote-server[name=\"server\"]"))
        .await?;
    input.send_keys(REMOTE).await?;
    form.find(Locator::Css("button[type=\"submit\"]"))
        .await?
        .click()
        .await?;
    let reached = remote_url(browser).await?;
    assert_authorize_interaction(&reached, &actor);

    // A translation: its images load and carry their alt text, and the
    // switcher leads to the statement's own language.
    browser.goto(&russian).await?;
    assert_eq!(
        normalise(&browser.find(Locator::Css("h1")).await?.text().await?),
        "Солидарность с бастующими"
    );
    let loaded = browser
        .execute(
            "return [...document.querySelectorAll('ul.images img')].map(i => [i.alt, i.complete && i.naturalWidth > 0]);",
            vec![],
        )
        .await?;
    assert_eq!(
        loaded,
        json!([
            ["Oil workers on strike in Zhanaozen", true],
            ["A rally in Almaty", true]
        ])
    );
    browser
        .find(Locator::Css("nav.languages a[hreflang=en]"))
        .await?
        .click()
        .await?;
    arrive(browser, &english).await?;
    assert_eq!(
        normalise(&browser.find(Locator::Css("h1")).await?.text().await?),
        "Solidarity with the strikers"
    );

    // The same answer, read straight from the server.
    let response = server
        .http
        .get(format!("{cras}/remote-follow"))
        .query(&[("server", REMOTE)])
        .send()
        .await
        .expect("remote-follow request");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| Url::parse(value).ok())
        .expect("an absolute Location");
    assert_authorize_interaction(&location, &actor);
    assert_eq!(location, reached, "the browser went where the server said");
    Ok(())
}

/// `https://{REMOTE}/authorize_interaction?uri={actor}`, the actor's URL
/// percent-encoded.
fn assert_authorize_interaction(url: &Url, actor: &str) {
    assert_eq!(
        (url.scheme(), url.host_str(), url.port(), url.path()),
        ("https", Some(REMOTE), None, "/authorize_interaction"),
        "{url}"
    );
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs, vec![("uri".to_string(), actor.to_string())], "{url}");
    let encoded = url.query().and_then(|query| query.strip_prefix("uri="));
    assert!(
        encoded.is_some_and(|uri| !uri.contains([':', '/', '?', '&', '#'])),
        "the actor's URL is percent-encoded: {url}"
    );
}

/// Waits for the browser to try the remote server and returns the address it
/// tried. That navigation fails (Chromium resolves no outside name), and
/// chromedriver's current URL is then the one that failed; the document is
/// Chromium's error page.
async fn remote_url(browser: &Client) -> Result<Url, CmdError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = browser.current_url().await?;
        if current.host_str() == Some(REMOTE) {
            return Ok(current);
        }
        assert!(
            Instant::now() < deadline,
            "the form did not send the browser to {REMOTE}; it is at {current}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
