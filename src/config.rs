//! Configuration: the keys of `config/broadside.toml`, their defaults, and the
//! `BROADSIDE_<KEY>` environment overrides.
//!
//! Everything is validated here, once, at start-up, so the rest of the code can
//! trust a [`Config`] (a base URL without a path, a listen address that parses…).

use std::{net::SocketAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use url::Url;

/// The whole configuration. Field names are the keys of the TOML file and,
/// upper-cased behind `BROADSIDE_`, the environment variables.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub base_url: Url,
    pub listen: SocketAddr,
    pub database_url: String,
    #[serde(skip_serializing)]
    pub admin_token: Option<String>,
    pub allow_private_addresses: bool,
    pub instance_name: String,
    pub instance_description: String,
    pub instance_contact: String,
    pub disclaimer: String,
    /// Markdown for the about page: the site's fine print (fair use, where
    /// statements come from, whom to write to).
    pub fine_print: String,
    /// How long an editor stays signed in on a browser.
    pub session_lifetime_seconds: u64,
    /// Replies to every statement are approved without review (each
    /// organisation can also say so for its own).
    pub approve_replies: bool,
    pub public_follower_lists: bool,
    pub max_admin_body_bytes: usize,
    pub max_inbox_body_bytes: usize,
    pub log: String,
    pub metrics_listen: Option<SocketAddr>,
    pub delivery_workers: usize,
    pub delivery_concurrency: usize,
    pub delivery_per_host_concurrency: usize,
    pub delivery_max_attempts: u32,
    pub delivery_lease_seconds: u64,
    pub delivery_retry_unit_ms: u64,
    pub delivery_poll_interval_ms: u64,
    /// Sign deliveries with RFC 9421 first, falling back to draft-cavage
    /// when a server refuses it (remembered per server).
    pub delivery_rfc9421_first: bool,
    /// Inbox requests per second from one client address (IPv6: one /64),
    /// with bursts of ten times that; 0 = no limit.
    pub rate_limit_inbox_per_client: u32,
    /// Inbox requests per second whose actor is on one remote server.
    pub rate_limit_inbox_per_server: u32,
    /// Documents fetched per second from one remote server because of what
    /// it sent us (actors we do not know yet, keys of signed GETs).
    pub rate_limit_fetches_per_server: u32,
    /// The client address is the last `X-Forwarded-For` entry (behind a
    /// reverse proxy that sets it), not the connection's peer.
    pub trust_forwarded_for: bool,
    /// ActivityPub GETs of actors, statements, activities and collections
    /// need a valid signature from a server that is not blocked (Mastodon's
    /// secure mode). WebFinger, NodeInfo, host-meta and the instance actor
    /// stay open.
    pub authorized_fetch: bool,
    /// Uploaded images (statements' attachments, avatars, headers) are
    /// kept here, by content hash, unless `media_s3_bucket` is set.
    pub media_dir: String,
    /// The largest image file an upload may be.
    pub max_media_bytes: usize,
    /// An S3-compatible bucket for media instead of `media_dir` (when
    /// several web processes run on several machines). Credentials and
    /// region come from the usual `AWS_*` environment variables.
    pub media_s3_bucket: Option<String>,
    /// The S3 endpoint, for stores other than AWS (MinIO, Garage, R2…).
    pub media_s3_endpoint: Option<String>,
    /// How long an upload that no statement or profile uses is kept.
    pub media_unused_hours: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: Url::parse("http://localhost:8080").expect("static URL"),
            listen: "127.0.0.1:8080".parse().expect("static address"),
            database_url: "sqlite://data/broadside.db".into(),
            admin_token: None,
            allow_private_addresses: false,
            instance_name: "Broadside".into(),
            instance_description:
                "Joint statements from organisations, published on the fediverse.".into(),
            instance_contact: String::new(),
            disclaimer: "The views expressed in statements are those of their signatories.".into(),
            fine_print: String::new(),
            session_lifetime_seconds: 14 * 24 * 3600,
            approve_replies: false,
            public_follower_lists: false,
            max_admin_body_bytes: 256 * 1024,
            media_dir: "data/media".into(),
            max_media_bytes: 16 * 1024 * 1024,
            media_s3_bucket: None,
            media_s3_endpoint: None,
            media_unused_hours: 24,
            max_inbox_body_bytes: 1024 * 1024,
            log: "info".into(),
            metrics_listen: None,
            delivery_workers: 1,
            delivery_concurrency: 256,
            delivery_per_host_concurrency: 8,
            delivery_max_attempts: 16,
            delivery_lease_seconds: 300,
            delivery_retry_unit_ms: 1000,
            delivery_poll_interval_ms: 1000,
            delivery_rfc9421_first: false,
            rate_limit_inbox_per_client: 1000,
            rate_limit_inbox_per_server: 1000,
            rate_limit_fetches_per_server: 50,
            trust_forwarded_for: false,
            authorized_fetch: false,
        }
    }
}

/// Environment variables with our prefix that are not configuration keys.
const NOT_CONFIG_KEYS: &[&str] = &["config", "test_postgres_url", "test_binary"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Defaults, then the TOML file (if it exists), then `BROADSIDE_*` variables.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("BROADSIDE_").filter(|key| {
                !NOT_CONFIG_KEYS.contains(&key.as_str().to_ascii_lowercase().as_str())
            }))
            .extract()
            .map_err(describe)?;
        config.validated()
    }

    /// Checks what serde cannot, and normalises the base URL.
    pub fn validated(mut self) -> Result<Config, ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        let url = &self.base_url;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("base_url", "must start with http:// or https://"));
        }
        if url.host_str().is_none() {
            return Err(invalid("base_url", "must name a host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "base_url",
                "must be an origin only (no path, query or fragment)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("base_url", "must not contain credentials"));
        }
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if let Some(token) = &self.admin_token {
            if token.is_empty() {
                self.admin_token = None;
            } else if token.len() < 24 {
                return Err(invalid(
                    "admin_token",
                    "must be at least 24 characters long",
                ));
            }
        }
        if self.max_admin_body_bytes < 1024 || self.max_inbox_body_bytes < 1024 {
            return Err(invalid(
                "max_admin_body_bytes",
                "body limits must be at least 1024 bytes",
            ));
        }
        if self.delivery_concurrency == 0 || self.delivery_per_host_concurrency == 0 {
            return Err(invalid(
                "delivery_concurrency",
                "delivery concurrency limits must be at least 1",
            ));
        }
        if self.delivery_max_attempts == 0 {
            return Err(invalid("delivery_max_attempts", "must be at least 1"));
        }
        if self.delivery_lease_seconds < 2 {
            return Err(invalid("delivery_lease_seconds", "must be at least 2"));
        }
        if self.delivery_poll_interval_ms == 0 {
            return Err(invalid("delivery_poll_interval_ms", "must be at least 1"));
        }
        if self.delivery_retry_unit_ms == 0 {
            return Err(invalid("delivery_retry_unit_ms", "must be at least 1"));
        }
        if self.metrics_listen == Some(self.listen) {
            return Err(invalid(
                "metrics_listen",
                "must differ from `listen`: metrics are not for the public",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return Err(invalid("log", "is not a valid tracing filter"));
        }
        Ok(self)
    }

    /// `host[:port]` of the base URL: the domain part of every `acct:` address.
    pub fn domain(&self) -> String {
        crate::domains::host_and_port(&self.base_url)
    }
}

/// One line per problem, each naming the key and the variable or file it came from.
fn describe(err: figment::Error) -> ConfigError {
    let lines: Vec<String> = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".").to_ascii_lowercase();
            let source = match e.metadata.as_ref().map(|m| m.name.as_ref()) {
                Some(name) if name.contains("environment") => {
                    format!(" (BROADSIDE_{})", key.to_ascii_uppercase())
                }
                Some(name) => format!(" ({name})"),
                None => String::new(),
            };
            if key.is_empty() {
                e.kind.to_string()
            } else {
                format!("key `{key}`{source}: {}", e.kind)
            }
        })
        .collect();
    ConfigError::Load(lines.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_base_url_with_a_path_and_names_the_key() {
        let config = Config {
            base_url: Url::parse("https://example.org/broadside").unwrap(),
            ..Config::default()
        };
        let err = config.validated().unwrap_err().to_string();
        assert!(err.contains("base_url"), "{err}");
    }

    #[test]
    fn domain_keeps_a_non_default_port() {
        let config = Config {
            base_url: Url::parse("http://127.0.0.1:8123").unwrap(),
            ..Config::default()
        };
        assert_eq!(config.domain(), "127.0.0.1:8123");
        let config = Config {
            base_url: Url::parse("https://statements.example.org").unwrap(),
            ..Config::default()
        };
        assert_eq!(config.domain(), "statements.example.org");
    }
}
