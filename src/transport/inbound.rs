//! A signature on a request we receive, whichever standard made it: RFC 9421
//! HTTP Message Signatures when `Signature-Input` is present (Mastodon 4.5+
//! verifies them, Fedify sends them first), draft-cavage otherwise. The
//! inbox and authorized fetch ask one question of either — who signed
//! (`key_id`) and does the key verify — and apply the same gate to both:
//! keyId owner, time window, digest of the body, replay.

use std::time::SystemTime;

use axum::http::{HeaderMap, Method};
use url::Url;

use super::{
    message_signatures::{self, MessageSignature},
    signatures::{self, SignatureError, SignatureHeader},
};

#[derive(Debug, Clone)]
pub enum Inbound {
    Cavage(SignatureHeader),
    MessageSignature(MessageSignature),
}

impl Inbound {
    /// Parses the signature of a request to `target` (our public URL of it)
    /// and makes the checks that need no key: coverage, algorithm,
    /// freshness and, with a body, its digest.
    pub fn read(
        method: &Method,
        target: &Url,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Inbound, SignatureError> {
        if headers.contains_key("signature-input") {
            let sig = message_signatures::parse(headers, method, target.as_str())?;
            message_signatures::check(&sig, method, headers, body, now)?;
            Ok(Inbound::MessageSignature(sig))
        } else {
            let sig = signatures::parse_header(headers)?;
            signatures::check_request(&sig, method, headers, body, now)?;
            Ok(Inbound::Cavage(sig))
        }
    }

    pub fn key_id(&self) -> &str {
        match self {
            Inbound::Cavage(sig) => &sig.key_id,
            Inbound::MessageSignature(sig) => &sig.key_id,
        }
    }

    /// Whether the request's `Host` header must name us: draft-cavage signs
    /// whatever Host it was sent with, RFC 9421 signs `@target-uri`, which
    /// [`Inbound::read`] took from our own base URL.
    pub fn signs_host_header(&self) -> bool {
        matches!(self, Inbound::Cavage(_))
    }

    /// Verifies the signature with `public_key_pem`.
    pub fn verify(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        public_key_pem: &str,
    ) -> Result<(), SignatureError> {
        match self {
            Inbound::Cavage(sig) => {
                signatures::verify(sig, method, path_and_query, headers, public_key_pem)
            }
            Inbound::MessageSignature(sig) => message_signatures::verify(sig, public_key_pem),
        }
    }
}
