//! Headless Chromium for the browser tests, driven through chromedriver with
//! fantoccini: finding chromedriver (or saying the test is skipped), starting
//! it on a free loopback port, a session kept off the network, running a
//! walk with a time limit and closing the session whatever happens, window
//! sizes, screenshots into `target/artefacts/browser/`, and the check that a
//! page does not scroll sideways.
//!
//! chromedriver is `BROADSIDE_CHROMEDRIVER`, else `/usr/bin/chromedriver`;
//! `.ci/run` installs it, so only a machine that cannot get it skips, and
//! never under `CI`, where a missing chromedriver fails the test.
//! `BROADSIDE_CHROMIUM` names another browser binary than `/usr/bin/chromium`.

use std::{
    fs,
    future::Future,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, error::CmdError};
use futures::FutureExt;
use serde_json::{Value, json};

/// The widths the tests look at: a name for file names, and the viewport in
/// CSS pixels.
pub const DESKTOP: (&str, u32, u32) = ("desktop", 1280, 900);
pub const PHONE: (&str, u32, u32) = ("phone", 375, 812);

/// chromedriver's path, or `None` after a `skipped:` line when it is not
/// installed (a failure under `CI`).
pub fn chromedriver_path() -> Option<PathBuf> {
    let path = std::env::var_os("BROADSIDE_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if path.exists() {
        return Some(path);
    }
    super::skip_unless_ci(&format!(
        "chromium-driver is not installed ({} is missing)",
        path.display()
    ));
    None
}

pub fn chromium_path() -> String {
    std::env::var("BROADSIDE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

/// `target/artefacts/browser/`, without the screenshots of `pages` (at both
/// widths) that an earlier run left.
pub fn artefacts_dir(pages: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artefacts/browser");
    fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for page in pages {
        for (width, ..) in [DESKTOP, PHONE] {
            let _ = fs::remove_file(dir.join(format!("{page}-{width}.png")));
        }
    }
    dir
}

/// Headless Chromium with a fresh profile, kept off the network: no
/// background requests, and no name resolves but loopback.
pub fn capabilities(profile: &Path) -> serde_json::Map<String, Value> {
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

/// chromedriver and one Chromium session in it. Dropping it kills
/// chromedriver; [`Session::drive`] closes the session first.
pub struct Session {
    pub client: Client,
    // Dropped in this order: the profile goes after chromedriver.
    _driver: Chromedriver,
    _profile: tempfile::TempDir,
}

impl Session {
    /// Starts chromedriver (its log in `log`) and a Chromium session.
    pub async fn start(chromedriver: &Path, log: &Path) -> Session {
        let driver = Chromedriver::start(chromedriver, log).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let client = ClientBuilder::rustls()
            .expect("TLS roots for the WebDriver client")
            .capabilities(capabilities(profile.path()))
            .connect(&driver.url)
            .await
            .unwrap_or_else(|err| panic!("no Chromium session ({err}); see {}", log.display()));
        Session {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Runs `walk` for at most `limit`, then closes the session (and so
    /// Chromium) whatever happened, and fails as the walk did.
    pub async fn drive(&self, limit: Duration, walk: impl Future<Output = Result<(), CmdError>>) {
        let outcome = AssertUnwindSafe(tokio::time::timeout(limit, walk))
            .catch_unwind()
            .await;
        let _ = self.client.clone().close().await;
        match outcome {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(_)) => panic!("the walk took more than {limit:?}"),
            Ok(Ok(Err(err))) => panic!("WebDriver: {err}"),
            Ok(Ok(Ok(()))) => {}
        }
    }
}

/// chromedriver on a free loopback port, killed on drop.
pub struct Chromedriver {
    child: Child,
    pub url: String,
}

impl Chromedriver {
    pub async fn start(path: &Path, log: &Path) -> Chromedriver {
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

/// Waits for the browser to be at `url` (a click may return before the
/// navigation it started is done).
pub async fn arrive(browser: &Client, url: &str) -> Result<(), CmdError> {
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

/// Sizes the window so that the page's viewport is `width`×`height` CSS
/// pixels (the window's frame takes some of its size). The viewport may
/// report its new size a moment after the window has it: measured again
/// until it holds.
pub async fn set_viewport(browser: &Client, width: u32, height: u32) -> Result<(), CmdError> {
    let want = (i64::from(width), i64::from(height));
    browser.set_window_size(width, height).await?;
    let mut got = viewport(browser).await?;
    for _ in 0..20 {
        if got == want {
            return Ok(());
        }
        let (outer_width, outer_height) = browser.get_window_size().await?;
        let fit = |outer: u64, want: i64, got: i64| {
            let outer = i64::try_from(outer).unwrap_or(want);
            u32::try_from((outer + want - got).max(1)).unwrap_or(1)
        };
        browser
            .set_window_size(
                fit(outer_width, want.0, got.0),
                fit(outer_height, want.1, got.1),
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        got = viewport(browser).await?;
    }
    assert_eq!(got, want, "viewport (innerWidth, innerHeight)");
    Ok(())
}

/// `(innerWidth, innerHeight)`.
pub async fn viewport(browser: &Client) -> Result<(i64, i64), CmdError> {
    let size = browser
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await?;
    Ok((
        size[0].as_i64().unwrap_or_default(),
        size[1].as_i64().unwrap_or_default(),
    ))
}

/// Saves what the viewport shows as `{name}.png` in `artefacts`.
pub async fn screenshot(browser: &Client, artefacts: &Path, name: &str) -> Result<(), CmdError> {
    let png = browser.screenshot().await?;
    let file = artefacts.join(format!("{name}.png"));
    fs::write(&file, png).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
    Ok(())
}

/// `Some([scrollWidth, innerWidth])` when the page is wider than the
/// viewport, so that it scrolls sideways.
pub async fn scrolls_sideways(browser: &Client) -> Result<Option<Value>, CmdError> {
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await?;
    let (scroll, inner) = (widths[0].as_u64(), widths[1].as_u64());
    Ok((scroll.is_none() || scroll > inner).then_some(widths))
}

/// Rendered text with runs of white space as one space and typographic
/// apostrophes as plain ones.
pub fn normalise(text: &str) -> String {
    text.replace(['\u{2019}', '\u{2018}'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
