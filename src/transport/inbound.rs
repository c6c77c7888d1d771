//! A signature on a request we receive, whichever standard made it: RFC 9421
//! HTTP Message Signatures when `Signature-Input` is present (Mastodon 4.5+
//! verifies them, Fedify sends them first), draft-cavage otherwise. The
//! inbox and authorized fetch ask one question of either — who signed
//! (`key_id`) and does the key verify — and apply the same gate to both:
//! keyId owner, time window, digest of the body, replay.

use std::time::SystemTime;

use axum::http::{HeaderMap, Method, header};
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

    /// [`Inbound::read`] for a request to this server at `path_and_query`,
    /// `base` being our public URL: RFC 9421 signs `@target-uri`, rebuilt
    /// from `base`; draft-cavage signs whatever `Host` it was sent with, so
    /// that Host must be ours — else a request signed for another server
    /// could be replayed here (a reverse proxy must pass Host on).
    pub fn read_for_us(
        method: &Method,
        base: &Url,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Inbound, SignatureError> {
        let target = base
            .join(path_and_query)
            .map_err(|_| SignatureError::Malformed("the request target is not a path"))?;
        let sig = Inbound::read(method, &target, headers, body, now)?;
        if let Inbound::Cavage(_) = sig {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            if !host.eq_ignore_ascii_case(&crate::domains::host_and_port(base)) {
                return Err(SignatureError::WrongHost(host.to_string()));
            }
        }
        Ok(sig)
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
