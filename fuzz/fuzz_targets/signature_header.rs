//! HTTP Signature headers (draft-cavage) as the inbox reads them:
//! `parse_header`, then the key-less checks of `check_request`, then the
//! signing string `verify` rebuilds (against a fixed key; the signature
//! itself never verifies). Nothing here may panic.
//!
//! Input, lines split on `\n` (a header value never holds one):
//!
//! ```text
//! keyId="…",algorithm="…",headers="…",signature="…"   Signature header value
//! POST                                                 method (default POST)
//! Sun, 06 Nov 2025 08:49:37 GMT                        Date header
//! SHA-256=…                                            Digest header
//! {"type":"Follow",…}                                  body: the rest
//! ```
//!
//! A first line starting `Signature ` goes in `Authorization` instead.

#![no_main]

use std::{
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use broadside::transport::signatures::{check_request, parse_header, verify};
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use libfuzzer_sys::fuzz_target;

mod lines;
use lines::next_line;

/// The time the requests are checked at: the Date of the seed corpus.
const NOW: u64 = 1_762_418_977; // Thu, 06 Nov 2025 08:49:37 GMT

static PUBLIC_KEY: LazyLock<String> = LazyLock::new(|| {
    broadside::keys::generate_keypair()
        .expect("an RSA key pair")
        .1
});

fn insert(headers: &mut HeaderMap, name: HeaderName, value: Option<&[u8]>) {
    if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(name, value);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let Some(signature) = next_line(&mut rest) else {
        return;
    };
    let method = next_line(&mut rest)
        .filter(|m| !m.is_empty())
        .map_or(Ok(Method::POST), Method::from_bytes);
    let Ok(method) = method else {
        return;
    };
    let date = next_line(&mut rest);
    let digest = next_line(&mut rest);
    let body = rest;

    let mut headers = HeaderMap::new();
    let name = if signature.len() >= 10 && signature[..10].eq_ignore_ascii_case(b"signature ") {
        header::AUTHORIZATION
    } else {
        HeaderName::from_static("signature")
    };
    let Ok(value) = HeaderValue::from_bytes(signature) else {
        return;
    };
    headers.insert(name, value);
    headers.insert(
        header::HOST,
        HeaderValue::from_static("statements.example.org"),
    );
    insert(&mut headers, header::DATE, date);
    insert(&mut headers, HeaderName::from_static("digest"), digest);

    let Ok(sig) = parse_header(&headers) else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
    let checked = check_request(&sig, &method, &headers, body, now);
    // The inbox verifies only what passed the checks; the signing string is
    // built from attacker input either way, so build it every time.
    let verified = verify(&sig, &method, "/inbox", &headers, &PUBLIC_KEY);
    // No input signs with a key generated at start-up.
    assert!(
        verified.is_err(),
        "a fuzzed signature verified: {checked:?}"
    );
});
