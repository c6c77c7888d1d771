//! How bytes leave this server: the one outbound HTTP client (deliveries and
//! fetches alike) and HTTP signatures in both directions.
//!
//! The client refuses loopback, private, link-local and other non-global
//! addresses — checked on the resolved address, not the name, so DNS cannot
//! smuggle an internal target in — unless `allow_private_addresses` is on.
//! It never follows redirects: an inbox POST must not be redirected, and
//! fetches follow at most one redirect under the federation library's checks.

pub mod addresses;
pub mod inbound;
pub mod message_signatures;
pub mod signatures;

pub use addresses::is_public;

use std::{net::IpAddr, time::Duration};

use url::Url;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle outbound connection is kept for reuse (see [`client`]).
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(4);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A fetch of a remote document happens while a peer waits for our answer
/// (its inbox POST, its signed GET): it gets less time than a delivery.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The most we read of any response (Mastodon caps fetched documents at 1 MB).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
pub const USER_AGENT: &str = concat!(
    "Broadside/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("refused to contact {0}: not a public address")]
    PrivateAddress(String),
    #[error("refused to contact {0}: only http and https URLs")]
    BadScheme(String),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// Builds the outbound client. One per process, shared by every sender.
pub fn client(allow_private_addresses: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // One idle connection per host, for the next request to it, kept
        // for a few seconds. An idle connection costs about 29 kB here (its
        // buffers and task): with 8 per host for a minute, 10,000 Follows
        // from 1,000 servers left 4,250 sockets and 120 MB open. Reuse pays
        // within a burst (a Follow's actor fetch, then its Accept); after a
        // quiet moment the next request pays a handshake instead of every
        // server we talked to in the last minute costing memory. Staying
        // under Node.js's 5 s keep-alive (Misskey, Ghost …) also means we
        // never reuse a connection the server is closing.
        .pool_max_idle_per_host(1)
        .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .dns_resolver(std::sync::Arc::new(addresses::PublicOnlyResolver::new(
            allow_private_addresses,
        )))
        .build()
        .expect("the HTTP client builds")
}

/// Checks a URL before any request: http(s) only, and, since the resolver is
/// not consulted for IP literals, a literal address must be public.
pub fn check_url(url: &Url, allow_private_addresses: bool) -> Result<(), TransportError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TransportError::BadScheme(url.to_string()));
    }
    if allow_private_addresses {
        return Ok(());
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(TransportError::PrivateAddress(url.to_string())),
    };
    match literal {
        Some(ip) if !is_public(ip) => Err(TransportError::PrivateAddress(url.to_string())),
        _ => Ok(()),
    }
}

/// Reads a response body up to [`MAX_RESPONSE_BYTES`].
pub async fn read_limited(response: reqwest::Response) -> Result<Vec<u8>, TransportError> {
    use futures::StreamExt;
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
    {
        return Err(TransportError::TooLarge);
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(TransportError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Signs every GET the federation library makes with the instance actor's key
/// (through our constant-time signer), and applies [`check_url`] and the
/// per-server fetch limit first. Every fetch happens because of what a
/// remote server sent, so this one place bounds what they can make us
/// fetch; a refusal carries [`crate::limits::Limited`] for the caller to
/// answer 429.
pub struct SignedFetches {
    pub signer: crate::keys::Signer,
    pub key_id: String,
    pub allow_private_addresses: bool,
    pub limits: crate::limits::Limits,
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for SignedFetches {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        check_url(request.url(), self.allow_private_addresses)
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
        self.limits
            .fetch_from(&crate::domains::host_and_port(request.url()))
            .map_err(|limited| reqwest_middleware::Error::Middleware(limited.into()))?;
        if request.method() == reqwest::Method::GET {
            let headers = signatures::sign_get(
                &self.signer,
                &self.key_id,
                request.url(),
                std::time::SystemTime::now(),
            )
            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
            for (name, value) in headers {
                if name == "Host" {
                    continue;
                }
                let value = http::HeaderValue::from_str(&value)
                    .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
                request.headers_mut().insert(name, value);
            }
        }
        let response = next.run(request, extensions).await;
        crate::ops::metrics::remote_fetch(match &response {
            Ok(r) if r.status().is_success() => "ok",
            Ok(_) => "refused",
            Err(_) => "error",
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_private_addresses_are_refused() {
        for url in [
            "http://127.0.0.1/inbox",
            "http://10.1.2.3/inbox",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
        ] {
            let url = Url::parse(url).unwrap();
            assert!(check_url(&url, false).is_err(), "{url}");
            assert!(check_url(&url, true).is_ok(), "{url} allowed by the switch");
        }
        assert!(check_url(&Url::parse("https://93.184.215.14/").unwrap(), false).is_ok());
        assert!(
            check_url(
                &Url::parse("https://mastodon.example/inbox").unwrap(),
                false
            )
            .is_ok()
        );
        assert!(check_url(&Url::parse("file:///etc/passwd").unwrap(), true).is_err());
    }
}
