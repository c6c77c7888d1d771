//! RFC 9421 HTTP Message Signatures as the inbox reads them:
//! `transport::inbound::Inbound::read` (structured-field parsing, the
//! signature base, the key-less checks) and `verify` against a fixed key
//! (the signature itself never verifies). Nothing here may panic.
//!
//! Input, lines split on `\n` (a header value never holds one):
//!
//! ```text
//! sig1=("@method" "@target-uri" "content-digest");created=…;keyid="…"   Signature-Input
//! sig1=:…:                                                                Signature
//! sha-256=:…:                                                             Content-Digest
//! {"type":"Follow",…}                                                     body: the rest
//! ```

#![no_main]

use std::{
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use broadside::transport::inbound::Inbound;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

mod lines;
use lines::next_line;
use url::Url;

/// The time requests are checked at: the `created` of the seed corpus.
const NOW: u64 = 1_762_418_977;

static PUBLIC_KEY: LazyLock<String> = LazyLock::new(|| {
    broadside::keys::generate_keypair()
        .expect("an RSA key pair")
        .1
});

static TARGET: LazyLock<Url> =
    LazyLock::new(|| Url::parse("https://statements.example.org/inbox").unwrap());

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut headers = HeaderMap::new();
    for name in ["signature-input", "signature", "content-digest"] {
        let Some(line) = next_line(&mut rest) else {
            return;
        };
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let body = rest;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
    let Ok(sig) = Inbound::read(&Method::POST, &TARGET, &headers, body, now) else {
        return;
    };
    let _ = sig.key_id();
    assert!(
        sig.verify(&Method::POST, "/inbox", &headers, &PUBLIC_KEY)
            .is_err(),
        "a fuzzed signature verified"
    );
});
