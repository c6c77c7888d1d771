//! The public website in a real browser: headless Chromium, driven through
//! chromedriver with fantoccini, reads the seed statement ("Declaration about
//! Kazakhstan", signed by StopTotalControl and CRAS) from the home page,
//! follows a signatory to its organisation page and sends its remote-follow
//! form to `example.social`.
//!
//! Screenshots of the home, statement and organisation pages at desktop
//! (1280×900) and phone (375×812) width land in `target/artefacts/browser/`,
//! with chromedriver's log; at phone width no page may scroll sideways.
//!
//! Skipped, with a line saying so, where chromedriver is not installed
//! (`BROADSIDE_CHROMEDRIVER`, else `/usr/bin/chromedriver`); `.ci/run`
//! installs it, so only a machine that cannot get it skips. `BROADSIDE_CHROMIUM` names another browser
//! binary than `/usr/bin/chromium`.

mod common;

use std::{
    fs,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{Backend, TestDb, TestServer};
use fantoccini::{Client, ClientBuilder, Locator, error::CmdError};
use futures::FutureExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
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

const DESKTOP: (&str, u32, u32) = ("desktop", 1280, 900);
const PHONE: (&str, u32, u32) = ("phone", 375, 812);

/// The whole walk may take this long before the test gives up.
const WALK_TIMEOUT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_goes_from_the_home_page_to_following_a_signatory() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let artefacts = artefacts_dir();
    let driver = Chromedriver::start(&chromedriver, &artefacts.join("chromedriver.log")).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = ClientBuilder::rustls()
        .expect("TLS roots for the WebDriver client")
        .capabilities(capabilities(profile.path()))
        .connect(&driver.url)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "no Chromium session ({err}); see {}",
                artefacts.join("chromedriver.log").display()
            )
        });

    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&db).await;
    let outcome = AssertUnwindSafe(tokio::time::timeout(
        WALK_TIMEOUT,
        walk(&browser, &server, &artefacts),
    ))
    .catch_unwind()
    .await;
    // Close the session (and so Chromium) whatever happened; chromedriver
    // itself is killed when `driver` drops.
    let _ = browser.close().await;
    match outcome {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(Err(_)) => panic!("the walk took more than {WALK_TIMEOUT:?}"),
        Ok(Ok(Err(err))) => panic!("WebDriver: {err}"),
        Ok(Ok(Ok(()))) => {}
    }
    drop(driver);
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
            ("organisation", &cras),
        ] {
            browser.goto(url).await?;
            let png = browser.screenshot().await?;
            let file = artefacts.join(format!("{page}-{width_name}.png"));
            fs::write(&file, png).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
            if width_name == PHONE.0 {
                let widths = browser
                    .execute(
                        "return [document.documentElement.scrollWidth, window.innerWidth];",
                        vec![],
                    )
                    .await?;
                let (scroll, inner) = (widths[0].as_u64(), widths[1].as_u64());
                if scroll.is_none() || scroll > inner {
                    sideways.push(format!("{page} ({url}): {widths}"));
                }
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

/// Waits for the browser to be at `url` (a click may return before the
/// navigation it started is done).
async fn arrive(browser: &Client, url: &str) -> Result<(), CmdError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let current = browser.current_url().await?;
        if current.as_str() == url {
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "the browser is at {current}, not {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

/// Sizes the window so that the page's viewport is `width`×`height` CSS
/// pixels (the window's frame takes some of its size).
async fn set_viewport(browser: &Client, width: u32, height: u32) -> Result<(), CmdError> {
    let want = (i64::from(width), i64::from(height));
    browser.set_window_size(width, height).await?;
    let (w, h) = viewport(browser).await?;
    if (w, h) != want {
        let grow = |want: i64, got: i64| u32::try_from((2 * want - got).max(1)).unwrap_or(1);
        browser
            .set_window_size(grow(want.0, w), grow(want.1, h))
            .await?;
    }
    let got = viewport(browser).await?;
    assert_eq!(got, want, "viewport (innerWidth, innerHeight)");
    Ok(())
}

async fn viewport(browser: &Client) -> Result<(i64, i64), CmdError> {
    let size = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await?;
    Ok((
        size[0].as_i64().unwrap_or_default(),
        size[1].as_i64().unwrap_or_default(),
    ))
}

/// Rendered text with runs of white space as one space and typographic
/// apostrophes as plain ones.
fn normalise(text: &str) -> String {
    text.replace(['\u{2019}', '\u{2018}'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn chromedriver_path() -> Option<PathBuf> {
    let path = std::env::var_os("BROADSIDE_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if path.exists() {
        return Some(path);
    }
    eprintln!(
        "skipped: chromium-driver is not installed ({} is missing; .ci/run installs it)",
        path.display()
    );
    None
}

fn chromium_path() -> String {
    std::env::var("BROADSIDE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

/// `target/artefacts/browser/`, without the files an earlier run left.
fn artefacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artefacts/browser");
    fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for page in ["home", "statement", "organisation"] {
        for (width, ..) in [DESKTOP, PHONE] {
            let _ = fs::remove_file(dir.join(format!("{page}-{width}.png")));
        }
    }
    dir
}

/// Headless Chromium with a fresh profile, kept off the network: no
/// background requests, and no name resolves but loopback.
fn capabilities(profile: &Path) -> serde_json::Map<String, Value> {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
        "--window-size=1280,900",
        "--lang=en-GB",
    ]
    .into_iter()
    .map(str::to_string)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let capabilities = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "timeouts": { "script": 10_000, "pageLoad": 30_000, "implicit": 0 },
        "goog:chromeOptions": { "binary": chromium_path(), "args": args },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// chromedriver on a free loopback port, killed on drop.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    async fn start(path: &Path, log: &Path) -> Chromedriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let log_file =
            fs::File::create(log).unwrap_or_else(|err| panic!("{}: {err}", log.display()));
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let mut driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = http.get(format!("{}/status", driver.url)).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                return driver;
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!("chromedriver exited ({exit}); see {}", log.display());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {port}; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
