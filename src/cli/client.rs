//! The CLI's side of the admin API: which server and token to use (flags,
//! `BROADSIDE_SERVER`/`BROADSIDE_TOKEN`, then the file `broadside login`
//! writes), one request function, and the one mapping of what can go wrong
//! to a message and an exit code.

use std::{path::PathBuf, time::Duration};

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use url::Url;

/// Where the CLI talks to when nothing says otherwise: `serve`'s default
/// `listen`.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Why a command did not do what was asked, and the exit code that says so.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The input was refused (by us or by the server): exit 1.
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached, refused the token, or failed: exit 2.
    #[error("{0}")]
    Unreachable(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused(_) => 1,
            Failure::Unreachable(_) => 2,
        }
    }
}

/// A refusal from the admin API: its status, message and (for invalid
/// input) the field it concerns.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    /// The failure as the user sees it, `context` naming what was asked
    /// (e.g. the file, with the field's line).
    pub fn into_failure(self, context: Option<String>) -> Failure {
        let line = match context {
            Some(context) => format!("{context}: {}", self.message),
            None => self.message,
        };
        if matches!(
            self.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            Failure::Unreachable(format!("not authorized: {line}"))
        } else if self.status.is_server_error() {
            Failure::Unreachable(format!("the server failed ({}): {line}", self.status))
        } else {
            Failure::Refused(line)
        }
    }
}

/// What a request can end in besides a success.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with an error.
    Api(ApiError),
    /// No answer (or not one we can read).
    Unreachable(String),
}

impl CallError {
    pub fn into_failure(self, context: Option<String>) -> Failure {
        match self {
            CallError::Api(err) => err.into_failure(context),
            CallError::Unreachable(why) => Failure::Unreachable(why),
        }
    }
}

impl From<CallError> for Failure {
    fn from(err: CallError) -> Self {
        err.into_failure(None)
    }
}

/// What `broadside login` keeps, in the user's configuration directory.
#[derive(Serialize, Deserialize, Default)]
pub struct Saved {
    pub server: Option<String>,
    pub token: Option<String>,
}

impl Saved {
    /// `~/.config/broadside/cli.toml` (or the platform's equivalent).
    pub fn path() -> Option<PathBuf> {
        dirs::config_dir().map(|dir| dir.join("broadside").join("cli.toml"))
    }

    pub fn load() -> Result<Saved, Failure> {
        let Some(path) = Self::path() else {
            return Ok(Saved::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|err| Failure::Refused(format!("{}: {err}", path.display()))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Saved::default()),
            Err(err) => Err(Failure::Refused(format!("{}: {err}", path.display()))),
        }
    }

    /// Writes the file readable by its owner only: it holds a token.
    pub fn store(&self) -> anyhow::Result<PathBuf> {
        let path = Self::path().ok_or_else(|| anyhow::anyhow!("no configuration directory"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = toml::to_string(self)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        let mut file = options.open(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(text.as_bytes())?;
        Ok(path)
    }
}

/// The admin API of one server, with one token.
pub struct Client {
    http: reqwest::Client,
    api: Url,
    token: String,
}

impl Client {
    /// `server` and `token` as given on the command line or in the
    /// environment, else as `broadside login` saved them.
    pub fn new(server: Option<&str>, token: Option<&str>) -> Result<Client, Failure> {
        let saved = Saved::load()?;
        let server = server
            .map(str::to_string)
            .or(saved.server)
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let token = token.map(str::to_string).or(saved.token).ok_or_else(|| {
            Failure::Unreachable(
                "no token: give --token, set BROADSIDE_TOKEN or run `broadside login`".into(),
            )
        })?;
        Self::with(&server, &token)
    }

    pub fn with(server: &str, token: &str) -> Result<Client, Failure> {
        let mut base = Url::parse(server)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                Failure::Refused(format!(
                    "--server: {server:?} is not an http(s) URL such as https://statements.example.org"
                ))
            })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let api = base.join("api/v1/").expect("a relative path joins");
        let http = reqwest::Client::builder()
            .user_agent(concat!("broadside-cli/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| Failure::Unreachable(format!("HTTP client: {err}")))?;
        Ok(Client {
            http,
            api,
            token: token.to_string(),
        })
    }

    /// The server's base URL, for messages.
    pub fn server(&self) -> String {
        let mut base = self.api.clone();
        base.set_path(self.api.path().trim_end_matches("api/v1/"));
        base.to_string()
    }

    /// One request to `path` (below `/api/v1/`, without a leading slash)
    /// with an optional query and JSON body; the answer as the view type
    /// the API serialised it from (`admin::views`), or `()` for an empty
    /// one.
    pub async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&B>,
    ) -> Result<T, CallError> {
        let url = self
            .api
            .join(path)
            .map_err(|err| CallError::Unreachable(format!("{path}: {err}")))?;
        let method_and_path = format!("{method} /api/v1/{path}");
        let mut request = self
            .http
            .request(method, url.clone())
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|err| {
            CallError::Unreachable(format!("cannot reach {}: {}", self.server(), reason(&err)))
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|err| {
            CallError::Unreachable(format!("{} stopped answering: {err}", self.server()))
        })?;
        if status.is_success() {
            let answer: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(answer).map_err(|err| {
                CallError::Unreachable(format!(
                    "{}: an answer to {method_and_path} we cannot read: {err}",
                    self.server()
                ))
            });
        }
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        let (message, field) = match &json {
            Some(Value::Object(body)) => (
                body.get("error")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| status.to_string()),
                body.get("field")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            _ if status == StatusCode::NOT_FOUND => {
                (format!("{url} is not a Broadside admin API (404)"), None)
            }
            _ => (format!("{} answered {status}", self.server()), None),
        };
        Err(CallError::Api(ApiError {
            status,
            message,
            field,
        }))
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, CallError> {
        self.call::<T, ()>(Method::GET, path, query, None).await
    }
}

/// The innermost cause of a transport error: "connection refused" says
/// more than reqwest's outer "error sending request".
fn reason(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if err.is_timeout() {
        "timed out".into()
    } else {
        cause.to_string()
    }
}

/// A path segment: handles and ids are plain, but never trust that.
pub fn segment(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
