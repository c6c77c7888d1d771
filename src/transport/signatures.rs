//! HTTP signatures, draft-cavage-http-signatures-12, as the fediverse uses them.
//!
//! Outbound: `algorithm="rsa-sha256"`, `headers="(request-target) host date
//! digest"` (GET: without digest), `Digest: SHA-256=…` — accepted by every
//! peer we know (docs/stack.md §4). The RSA work happens in `crate::keys`
//! (aws-lc-rs, constant-time and blinded).
//!
//! Inbound: [`check_request`] refuses, before anything is fetched, a request
//! whose signature does not cover `(request-target)`, `host`, `date` or
//! `(created)` and (POST) `digest`, whose Date is more than an hour off, or
//! whose Digest does not match the body. [`verify`] then checks the RSA
//! signature with the key of the actor the caller looked up.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use sha2::{Digest, Sha256};
use url::Url;

use crate::keys::{KeyError, Signer, verify_rsa_sha256};

/// How far a signed Date (or `(created)`) may be from our clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the request is not signed (HTTP signatures are required: draft-cavage or RFC 9421)")]
    Missing,
    #[error("malformed Signature header: {0}")]
    Malformed(&'static str),
    #[error(
        "unsupported signature algorithm {0:?}; use rsa-sha256 (draft-cavage) or rsa-v1_5-sha256 (RFC 9421)"
    )]
    Algorithm(String),
    #[error("the signature must cover {0}")]
    Uncovered(&'static str),
    #[error("signed header {0} is missing from the request")]
    MissingHeader(String),
    #[error("the Date header is missing or invalid")]
    BadDate,
    #[error("the signature's date is more than an hour from ours")]
    Stale,
    #[error("the signature has expired")]
    Expired,
    #[error("the Digest (or Content-Digest) header is missing or not SHA-256")]
    MissingDigest,
    #[error("the Digest does not match the body")]
    DigestMismatch,
    #[error("the signature does not verify with the actor's key")]
    Invalid,
    #[error("the actor's public key is unusable")]
    BadKey,
    #[error("the request was signed for {0}, not for this server")]
    WrongHost(String),
}

/// A parsed `Signature` header.
#[derive(Debug, Clone)]
pub struct SignatureHeader {
    pub key_id: String,
    pub algorithm: Option<String>,
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
    pub created: Option<i64>,
    pub expires: Option<i64>,
}

/// `SHA-256=<base64>` of a body.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// `Date` in IMF-fixdate, as HTTP wants it.
pub fn http_date(now: SystemTime) -> String {
    httpdate::fmt_http_date(now)
}

/// `host[:port]` as the Host header carries it.
fn host_header(url: &Url) -> String {
    crate::domains::host_and_port(url)
}

fn request_target(method: &str, url: &Url) -> String {
    let mut target = format!("{} {}", method.to_ascii_lowercase(), url.path());
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    target
}

/// The headers to add to a signed request: `(name, value)` pairs.
pub type SignedHeaders = Vec<(&'static str, String)>;

/// Signs a POST of `body` (whose Digest header the caller may have computed
/// once for many inboxes) to `url`.
pub fn sign_post(
    signer: &Signer,
    key_id: &str,
    url: &Url,
    digest: &str,
    now: SystemTime,
) -> Result<SignedHeaders, KeyError> {
    let date = http_date(now);
    let host = host_header(url);
    let signing_string = format!(
        "(request-target): {}\nhost: {host}\ndate: {date}\ndigest: {digest}",
        request_target("post", url)
    );
    let signature = BASE64.encode(signer.sign(signing_string.as_bytes())?);
    Ok(vec![
        ("Host", host),
        ("Date", date),
        ("Digest", digest.to_string()),
        (
            "Signature",
            format!(
                r#"keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{signature}""#
            ),
        ),
    ])
}

/// Signs a GET of `url` (authorized-fetch servers answer only those).
pub fn sign_get(
    signer: &Signer,
    key_id: &str,
    url: &Url,
    now: SystemTime,
) -> Result<SignedHeaders, KeyError> {
    let date = http_date(now);
    let host = host_header(url);
    let signing_string = format!(
        "(request-target): {}\nhost: {host}\ndate: {date}",
        request_target("get", url)
    );
    let signature = BASE64.encode(signer.sign(signing_string.as_bytes())?);
    Ok(vec![
        ("Host", host),
        ("Date", date),
        (
            "Signature",
            format!(
                r#"keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date",signature="{signature}""#
            ),
        ),
    ])
}

/// Parses `Signature: keyId="…",algorithm="…",headers="…",signature="…"`
/// (or the same after `Authorization: Signature `).
pub fn parse_header(headers: &HeaderMap) -> Result<SignatureHeader, SignatureError> {
    let raw = if let Some(value) = headers.get("signature") {
        value
            .to_str()
            .map_err(|_| SignatureError::Malformed("not text"))?
    } else if let Some(auth) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 9110 §11.1).
            let (scheme, rest) = v.trim_start().split_once(' ')?;
            scheme.eq_ignore_ascii_case("signature").then_some(rest)
        })
    {
        auth
    } else {
        return Err(SignatureError::Missing);
    };
    let mut key_id = None;
    let mut algorithm = None;
    let mut covered = None;
    let mut signature = None;
    let mut created = None;
    let mut expires = None;
    for (name, value) in parameters(raw)? {
        match name.as_str() {
            "keyid" => key_id = Some(value),
            "algorithm" => algorithm = Some(value),
            "headers" => covered = Some(value),
            "signature" => signature = Some(value),
            "created" => {
                created = Some(
                    value
                        .parse()
                        .map_err(|_| SignatureError::Malformed("created"))?,
                )
            }
            "expires" => {
                expires = Some(
                    value
                        .parse()
                        .map_err(|_| SignatureError::Malformed("expires"))?,
                )
            }
            _ => {}
        }
    }
    let key_id = key_id
        .filter(|k| !k.is_empty())
        .ok_or(SignatureError::Malformed("keyId is required"))?;
    let signature = signature.ok_or(SignatureError::Malformed("signature is required"))?;
    let signature = BASE64
        .decode(signature.as_bytes())
        .map_err(|_| SignatureError::Malformed("signature is not base64"))?;
    // The draft's default is `date` alone, which we refuse below anyway.
    let headers = covered
        .unwrap_or_else(|| "date".into())
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    Ok(SignatureHeader {
        key_id,
        algorithm,
        headers,
        signature,
        created,
        expires,
    })
}

/// `name="value"` pairs separated by commas; quoted values may hold commas.
fn parameters(raw: &str) -> Result<Vec<(String, String)>, SignatureError> {
    let mut out = Vec::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or(SignatureError::Malformed("expected name=value"))?;
        let name = name
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or(SignatureError::Malformed("unterminated quote"))?;
            (quoted[..end].to_string(), &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((name, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    Ok(out)
}

/// The checks that need no key: coverage, algorithm, freshness and digest.
pub fn check_request(
    sig: &SignatureHeader,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), SignatureError> {
    if let Some(algorithm) = &sig.algorithm
        && !matches!(
            algorithm.to_ascii_lowercase().as_str(),
            "rsa-sha256" | "hs2019"
        )
    {
        return Err(SignatureError::Algorithm(algorithm.clone()));
    }
    let covers = |name: &str| sig.headers.iter().any(|h| h == name);
    if !covers("(request-target)") {
        return Err(SignatureError::Uncovered("(request-target)"));
    }
    if !covers("host") {
        return Err(SignatureError::Uncovered("host"));
    }
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let skew = MAX_CLOCK_SKEW.as_secs() as i64;
    if covers("date") {
        let date = headers
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .ok_or(SignatureError::BadDate)?;
        let date = date
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        if date.abs_diff(now_secs) > skew as u64 {
            return Err(SignatureError::Stale);
        }
    } else if covers("(created)") {
        let created = sig
            .created
            .ok_or(SignatureError::Malformed("(created) is signed but missing"))?;
        if created.abs_diff(now_secs) > skew as u64 {
            return Err(SignatureError::Stale);
        }
    } else {
        return Err(SignatureError::Uncovered("date or (created)"));
    }
    if let Some(expires) = sig.expires
        && expires < now_secs
    {
        return Err(SignatureError::Expired);
    }
    if method == Method::POST {
        if !covers("digest") {
            return Err(SignatureError::Uncovered("digest"));
        }
        let expected = Sha256::digest(body);
        let digest = headers
            .get_all("digest")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .find_map(|part| {
                let (alg, value) = part.trim().split_once('=')?;
                alg.eq_ignore_ascii_case("sha-256")
                    .then(|| value.to_string())
            })
            .ok_or(SignatureError::MissingDigest)?;
        let given = BASE64
            .decode(digest.trim())
            .map_err(|_| SignatureError::DigestMismatch)?;
        if given.as_slice() != expected.as_slice() {
            return Err(SignatureError::DigestMismatch);
        }
    }
    Ok(())
}

/// Rebuilds the signing string from the request and verifies the signature
/// with `public_key_pem`.
pub fn verify(
    sig: &SignatureHeader,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    public_key_pem: &str,
) -> Result<(), SignatureError> {
    let mut lines = Vec::with_capacity(sig.headers.len());
    for name in &sig.headers {
        let value = match name.as_str() {
            "(request-target)" => {
                format!("{} {path_and_query}", method.as_str().to_ascii_lowercase())
            }
            "(created)" => sig
                .created
                .ok_or(SignatureError::MissingHeader(name.clone()))?
                .to_string(),
            "(expires)" => sig
                .expires
                .ok_or(SignatureError::MissingHeader(name.clone()))?
                .to_string(),
            header => {
                let values: Vec<&str> = headers
                    .get_all(header)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(str::trim)
                    .collect();
                if values.is_empty() {
                    return Err(SignatureError::MissingHeader(header.to_string()));
                }
                values.join(", ")
            }
        };
        lines.push(format!("{name}: {value}"));
    }
    let signing_string = lines.join("\n");
    match verify_rsa_sha256(public_key_pem, signing_string.as_bytes(), &sig.signature) {
        Ok(true) => Ok(()),
        Ok(false) => Err(SignatureError::Invalid),
        Err(_) => Err(SignatureError::BadKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_keypair;

    fn headers_of(signed: &SignedHeaders) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in signed {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn what_we_sign_we_verify_and_tampering_fails() {
        let (private, public) = generate_keypair().unwrap();
        let signer = private.signer().unwrap();
        let url = Url::parse("https://peer.example/users/a/inbox?x=1").unwrap();
        let body = br#"{"type":"Accept"}"#;
        let now = SystemTime::now();
        let signed = sign_post(
            &signer,
            "https://us.example/o/a#main-key",
            &url,
            &digest_header(body),
            now,
        )
        .unwrap();
        let headers = headers_of(&signed);
        let sig = parse_header(&headers).unwrap();
        assert_eq!(sig.key_id, "https://us.example/o/a#main-key");
        assert_eq!(sig.headers, ["(request-target)", "host", "date", "digest"]);
        check_request(&sig, &Method::POST, &headers, body, now).unwrap();
        verify(&sig, &Method::POST, "/users/a/inbox?x=1", &headers, &public).unwrap();
        assert_eq!(
            verify(&sig, &Method::POST, "/users/b/inbox?x=1", &headers, &public),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            check_request(&sig, &Method::POST, &headers, b"{}", now),
            Err(SignatureError::DigestMismatch)
        );
        let later = now + Duration::from_secs(2 * 3600);
        assert_eq!(
            check_request(&sig, &Method::POST, &headers, body, later),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn parses_quoted_commas_and_unquoted_numbers() {
        let params =
            parameters(r#"keyId="https://x/a,b#k",created=1700000000, headers="(created) host""#)
                .unwrap();
        assert_eq!(params[0], ("keyid".into(), "https://x/a,b#k".into()));
        assert_eq!(params[1], ("created".into(), "1700000000".into()));
        assert_eq!(params[2], ("headers".into(), "(created) host".into()));
    }
}
