//! A test peer that behaves like a Mastodon server on loopback: its own
//! actors and RSA keys (the `rsa` crate, not our aws-lc-rs code), inboxes
//! that verify every signature independently — the key fetched from the
//! keyId over HTTP, the signing string rebuilt here — and a client that
//! signs what it sends the way Mastodon does.
//!
//! The benchmarks use this file too (`#[path]`): their thousand loopback
//! servers serve [`actor_document`], sign with [`signed_post`] and read
//! deliveries with [`read_cavage`], with a cheaper inbox of their own.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use rsa::{
    RsaPrivateKey, RsaPublicKey,
    pkcs1v15::{Signature, SigningKey, VerifyingKey},
    pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding},
    signature::{SignatureEncoding, Signer, Verifier},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

/// One RSA key for all peers of a test run: generating keys is slow and the
/// tests are about who signs, which the keyId and actor decide.
fn shared_key() -> &'static RsaPrivateKey {
    static KEY: std::sync::OnceLock<RsaPrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand_core_06(), 2048).expect("rsa key"))
}

fn rand_core_06() -> rsa::rand_core::OsRng {
    rsa::rand_core::OsRng
}

/// The public half of the key every peer actor signs with (PEM), as the
/// actor documents publish it.
pub fn public_pem() -> String {
    RsaPublicKey::from(shared_key())
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

/// The body's `Digest` header value (SHA-256).
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// `signed` signed with the peers' key (rsa-sha256), base64.
fn sign(signed: &str) -> String {
    let signing_key = SigningKey::<Sha256>::new(shared_key().clone());
    let signature: Signature = signing_key.sign(signed.as_bytes());
    BASE64.encode(signature.to_bytes())
}

/// A POST of `activity` to `inbox` signed as `key_id` the way Mastodon
/// signs: rsa-sha256 over (request-target) host date digest. What
/// [`Peer::send`] sends; for senders without a running peer (the
/// benchmarks sign their requests before the clock starts).
pub fn signed_post(
    http: &reqwest::Client,
    inbox: &str,
    key_id: &str,
    activity: &Value,
) -> reqwest::RequestBuilder {
    let body = serde_json::to_vec(activity).unwrap();
    let url = Url::parse(inbox).unwrap();
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap()),
        None => url.host_str().unwrap().to_string(),
    };
    let date = httpdate::fmt_http_date(SystemTime::now());
    let digest = digest(&body);
    let signed = format!(
        "(request-target): post {}\nhost: {host}\ndate: {date}\ndigest: {digest}",
        url.path()
    );
    http.post(inbox)
        .header("Content-Type", "application/activity+json")
        .header("Date", &date)
        .header("Digest", &digest)
        .header(
            "Signature",
            format!(
                r#"keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date digest",signature="{}""#,
                sign(&signed)
            ),
        )
        .body(body)
}

/// A draft-cavage signed request as an inbox reads it, before any key is
/// looked up.
pub struct CavageSignature {
    pub key_id: String,
    /// The names the signature covers, in order.
    pub covered: Vec<String>,
    /// The signing string, rebuilt here from the request.
    pub signed: String,
    /// The signature, base64.
    pub signature: String,
    /// Whether the `Digest` header is the body's SHA-256.
    pub digest_ok: bool,
}

/// Reads the `Signature` header of a request and rebuilds what it signs;
/// `None` without one, or when a covered header is missing.
pub fn read_cavage(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<CavageSignature> {
    let params = parse_params(headers.get("signature")?.to_str().ok()?);
    let covered: Vec<String> = params
        .get("headers")
        .map(|h| h.split(' ').map(str::to_string).collect())
        .unwrap_or_default();
    let signed = signing_lines(&covered, method, uri, headers)?;
    Some(CavageSignature {
        key_id: params.get("keyId").cloned().unwrap_or_default(),
        covered,
        signed,
        signature: params.get("signature").cloned().unwrap_or_default(),
        digest_ok: headers
            .get("digest")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|d| d == digest(body)),
    })
}

/// A POST our server made to one of the peer's inboxes.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub activity: Value,
    pub key_id: String,
    /// The signature verified with the key published at keyId, and its
    /// owner is the activity's actor.
    pub verified: bool,
    pub signed_headers: Vec<String>,
    /// The request's `Connection` header, if any (`close`: the sender
    /// keeps no connection to us after this request).
    pub connection: Option<String>,
}

/// How the peer answers inbox POSTs.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub status: StatusCode,
    pub delay: Duration,
}

struct PeerState {
    base: Url,
    public_pem: String,
    shared_inbox: bool,
    received: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    /// Answers to count per path before the behaviour applies (e.g. 500
    /// twice, then the default).
    scripted: Mutex<Vec<StatusCode>>,
    http: reqwest::Client,
    key_cache: Mutex<HashMap<String, String>>,
    /// Authorized-fetch mode: actor documents only for signed GETs.
    secure_mode: std::sync::atomic::AtomicBool,
    /// GET requests for actor documents, and whether each was signed validly.
    fetches: Mutex<Vec<bool>>,
    aliases: Mutex<HashMap<String, String>>,
    /// Which signature standards the inboxes take (others get 401).
    accepts: Mutex<Accepts>,
}

/// The signature standards a peer's inboxes accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    Both,
    /// A server from before RFC 9421: 401 to anything else.
    CavageOnly,
    /// A server that dropped draft-cavage.
    Rfc9421Only,
}

pub struct Peer {
    pub addr: SocketAddr,
    pub base: Url,
    state: Arc<PeerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    /// A peer whose actors have a shared inbox (like Mastodon).
    pub async fn start() -> Peer {
        Self::start_with(true).await
    }

    pub async fn start_with(shared_inbox: bool) -> Peer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, shared_inbox)
    }

    /// A peer on a given port (to restart one where it was).
    pub async fn start_on(port: u16) -> Peer {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        Self::serve(listener, true)
    }

    fn serve(listener: tokio::net::TcpListener, shared_inbox: bool) -> Peer {
        let addr = listener.local_addr().unwrap();
        // `localhost`, not the IP: the federation library wants domain names.
        let base = Url::parse(&format!("http://localhost:{}", addr.port())).unwrap();
        let public_pem = public_pem();
        let state = Arc::new(PeerState {
            base: base.clone(),
            public_pem,
            shared_inbox,
            received: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour {
                status: StatusCode::ACCEPTED,
                delay: Duration::ZERO,
            }),
            scripted: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            key_cache: Mutex::new(HashMap::new()),
            secure_mode: std::sync::atomic::AtomicBool::new(false),
            fetches: Mutex::new(Vec::new()),
            aliases: Mutex::new(HashMap::new()),
            accepts: Mutex::new(Accepts::Both),
        });
        let app = Router::new()
            .route("/users/{name}", get(actor))
            .route("/users/{name}/inbox", post(inbox))
            .route("/inbox", post(inbox))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Peer {
            addr,
            base,
            state,
            task,
        }
    }

    pub fn stop(self) {
        self.task.abort();
    }

    pub fn actor(&self, name: &str) -> Url {
        self.base.join(&format!("/users/{name}")).unwrap()
    }

    pub fn key_id(&self, name: &str) -> String {
        format!("{}#main-key", self.actor(name))
    }

    pub fn domain(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    /// Which signature standards the inboxes accept from now on.
    pub fn accept_signatures(&self, accepts: Accepts) {
        *self.state.accepts.lock().unwrap() = accepts;
    }

    /// Serves the document of actor `served` at `/users/{at}` too: a server
    /// answering for one actor with another's document.
    pub fn serve_as(&self, at: &str, served: &str) {
        self.state
            .aliases
            .lock()
            .unwrap()
            .insert(at.to_string(), served.to_string());
    }

    /// Answers actor fetches only when signed (Mastodon's secure mode).
    pub fn require_signed_fetches(&self) {
        self.state
            .secure_mode
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Each actor fetch the peer answered or refused: whether it was signed
    /// with a key that verifies.
    pub fn fetches(&self) -> Vec<bool> {
        self.state.fetches.lock().unwrap().clone()
    }

    pub fn set_behaviour(&self, status: StatusCode, delay: Duration) {
        *self.state.behaviour.lock().unwrap() = Behaviour { status, delay };
    }

    /// The next answers, in order, before the behaviour applies again.
    pub fn script(&self, answers: &[StatusCode]) {
        *self.state.scripted.lock().unwrap() = answers.iter().rev().copied().collect();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Received activities of one type.
    pub fn received_of(&self, kind: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.activity["type"] == kind)
            .collect()
    }

    /// Sends `activity` to `inbox`, signed as `signer` the way Mastodon
    /// signs: rsa-sha256 over (request-target) host date digest.
    pub async fn send(&self, inbox: &str, signer: &str, activity: &Value) -> reqwest::Response {
        signed_post(&self.state.http, inbox, &self.key_id(signer), activity)
            .send()
            .await
            .expect("send to our server")
    }

    /// Sends with full control over what is signed and how.
    pub async fn send_with(
        &self,
        inbox: &str,
        signing: &Signing,
        activity: &Value,
    ) -> reqwest::Response {
        let body = match &signing.raw_body {
            Some(raw) => raw.clone(),
            None => serde_json::to_vec(activity).unwrap(),
        };
        let url = Url::parse(inbox).unwrap();
        let host = signing.host.clone().unwrap_or_else(|| match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap()),
            None => url.host_str().unwrap().to_string(),
        });
        let date = httpdate::fmt_http_date(signing.date);
        let digest = signing
            .digest_override
            .clone()
            .unwrap_or_else(|| digest(&body));
        let target = format!("post {}", url.path());
        let mut lines = Vec::new();
        for header in &signing.headers {
            let value = match *header {
                "(request-target)" => target.clone(),
                "host" => host.clone(),
                "date" => date.clone(),
                "digest" => digest.clone(),
                "content-type" => "application/activity+json".to_string(),
                other => panic!("unknown header {other}"),
            };
            lines.push(format!("{header}: {value}"));
        }
        let signature = sign(&lines.join("\n"));
        let mut request = self
            .state
            .http
            .post(inbox)
            .header("Content-Type", "application/activity+json")
            .header("Date", &date)
            .body(body);
        if signing.host.is_some() {
            request = request.header("Host", &host);
        }
        if signing.send_digest {
            request = request.header("Digest", &digest);
        }
        if signing.sign {
            request = request.header(
                "Signature",
                format!(
                    r#"keyId="{}",algorithm="{}",headers="{}",signature="{}""#,
                    signing.key_id,
                    signing.algorithm,
                    signing.headers.join(" "),
                    signature
                ),
            );
        }
        request.send().await.expect("send to our server")
    }

    /// Sends `activity` to `inbox` signed with RFC 9421 HTTP Message
    /// Signatures as Mastodon 4.5 and Fedify do: `@method`, `@target-uri`
    /// and `content-digest`, `created`, `keyid`, `alg="rsa-v1_5-sha256"`.
    /// `created` is `now` minus `age`; `tamper` edits the body after signing.
    pub async fn send_rfc9421(
        &self,
        inbox: &str,
        key_id: &str,
        activity: &Value,
        age: Duration,
        tamper: bool,
    ) -> reqwest::Response {
        let body = serde_json::to_vec(activity).unwrap();
        let digest = format!("sha-256=:{}:", BASE64.encode(Sha256::digest(&body)));
        let created = (SystemTime::now() - age)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let params = format!(
            r#"("@method" "@target-uri" "content-digest");created={created};keyid="{key_id}";alg="rsa-v1_5-sha256""#
        );
        let base = format!(
            "\"@method\": POST\n\"@target-uri\": {inbox}\n\"content-digest\": {digest}\n\"@signature-params\": {params}"
        );
        let signature = sign(&base);
        let mut body = body;
        if tamper {
            body.extend_from_slice(b" ");
        }
        self.state
            .http
            .post(inbox)
            .header("Content-Type", "application/activity+json")
            .header("Content-Digest", digest)
            .header("Signature-Input", format!("sig1={params}"))
            .header("Signature", format!("sig1=:{signature}:"))
            .body(body)
            .send()
            .await
            .expect("send to our server")
    }

    /// GETs `url` with ActivityPub's Accept header, signed as `signer` the
    /// way Mastodon signs fetches: rsa-sha256 over (request-target) host date.
    pub async fn get_signed(&self, url: &str, signer: &str) -> reqwest::Response {
        let parsed = Url::parse(url).unwrap();
        let host = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap()),
            None => parsed.host_str().unwrap().to_string(),
        };
        let date = httpdate::fmt_http_date(SystemTime::now());
        let target = match parsed.query() {
            Some(query) => format!("get {}?{query}", parsed.path()),
            None => format!("get {}", parsed.path()),
        };
        let lines = format!("(request-target): {target}\nhost: {host}\ndate: {date}");
        let signature = sign(&lines);
        self.state
            .http
            .get(url)
            .header("Accept", "application/activity+json")
            .header("Date", &date)
            .header(
                "Signature",
                format!(
                    r#"keyId="{}",algorithm="rsa-sha256",headers="(request-target) host date",signature="{}""#,
                    self.key_id(signer),
                    signature
                ),
            )
            .send()
            .await
            .expect("signed GET")
    }

    /// A Follow of `organisation` by `name`, as Mastodon words it.
    pub fn follow(&self, name: &str, organisation: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#follows/{}", self.actor(name), uuid::Uuid::new_v4()),
            "type": "Follow",
            "actor": self.actor(name),
            "object": organisation,
        })
    }

    /// Mastodon's Undo{Follow}: the Follow embedded.
    pub fn undo(&self, name: &str, follow: &Value) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#follows/undo/{}", self.actor(name), uuid::Uuid::new_v4()),
            "type": "Undo",
            "actor": self.actor(name),
            "object": follow,
        })
    }
}

/// What a peer signs, for tests of refusals.
#[derive(Clone)]
pub struct Signing {
    pub key_id: String,
    pub algorithm: String,
    pub headers: Vec<&'static str>,
    pub date: SystemTime,
    pub digest_override: Option<String>,
    pub send_digest: bool,
    pub sign: bool,
    pub raw_body: Option<Vec<u8>>,
    /// Sign and send for this Host instead of the inbox's.
    pub host: Option<String>,
}

impl Signing {
    pub fn as_actor(peer: &Peer, name: &str) -> Signing {
        Signing {
            key_id: peer.key_id(name),
            algorithm: "rsa-sha256".into(),
            headers: vec!["(request-target)", "host", "date", "digest"],
            date: SystemTime::now(),
            digest_override: None,
            send_digest: true,
            sign: true,
            raw_body: None,
            host: None,
        }
    }
}

async fn actor(
    State(state): State<Arc<PeerState>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let signed =
        headers.contains_key("signature") && verify_get(&state, &method, &uri, &headers).await;
    state.fetches.lock().unwrap().push(signed);
    if state.secure_mode.load(std::sync::atomic::Ordering::SeqCst) && !signed {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let name = state
        .aliases
        .lock()
        .unwrap()
        .get(&name)
        .cloned()
        .unwrap_or(name);
    actor_response(actor_document(
        &state.base,
        &name,
        &state.public_pem,
        state.shared_inbox,
    ))
}

/// The document of actor `name` on the peer at `base`, as Mastodon serves
/// one: its key is `public_pem`, its inbox its own and, with
/// `shared_inbox`, the server's `/inbox`.
pub fn actor_document(base: &Url, name: &str, public_pem: &str, shared_inbox: bool) -> Value {
    let id = base.join(&format!("/users/{name}")).unwrap();
    let mut doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id,
        "type": "Person",
        "preferredUsername": name,
        "name": format!("{name} on a test peer"),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "icon": {"type": "Image", "mediaType": "image/png", "url": format!("{base}avatars/{name}.png")},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_pem},
    });
    if shared_inbox {
        doc["endpoints"] = json!({"sharedInbox": base.join("/inbox").unwrap()});
    }
    doc
}

/// An actor document as the answer to a GET, with ActivityPub's type.
pub fn actor_response(document: Value) -> Response {
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        "content-type",
        "application/activity+json; charset=utf-8".parse().unwrap(),
    );
    response
}

async fn inbox(
    State(state): State<Arc<PeerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let activity: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rfc9421 = headers.contains_key("signature-input");
    let (verified, key_id, signed_headers) = if rfc9421 {
        verify_rfc9421(&state, &method, &uri, &headers, &body, &activity).await
    } else {
        verify(&state, &method, &uri, &headers, &body, &activity).await
    };
    let accepts = *state.accepts.lock().unwrap();
    let refused = match accepts {
        Accepts::Both => false,
        Accepts::CavageOnly => rfc9421,
        Accepts::Rfc9421Only => !rfc9421,
    };
    state.received.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        activity,
        key_id,
        verified: verified && !refused,
        signed_headers,
        connection: headers
            .get("connection")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase),
    });
    if refused {
        return StatusCode::UNAUTHORIZED;
    }
    let scripted = state.scripted.lock().unwrap().pop();
    let behaviour = state.behaviour.lock().unwrap().clone();
    if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    scripted.unwrap_or(behaviour.status)
}

/// A signed GET: signature over (request-target) host date with the key
/// published at keyId.
async fn verify_get(state: &PeerState, method: &Method, uri: &Uri, headers: &HeaderMap) -> bool {
    let Some(sig) = headers.get("signature").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let params = parse_params(sig);
    let key_id = params.get("keyId").cloned().unwrap_or_default();
    let covered: Vec<String> = params
        .get("headers")
        .map(|h| h.split(' ').map(str::to_string).collect())
        .unwrap_or_default();
    if !["(request-target)", "host", "date"]
        .iter()
        .all(|h| covered.iter().any(|c| c == h))
    {
        return false;
    }
    let Some(lines) = signing_lines(&covered, method, uri, headers) else {
        return false;
    };
    let Some((pem, _owner)) = fetch_key(state, &key_id).await else {
        return false;
    };
    rsa_verify(
        &pem,
        params
            .get("signature")
            .map(String::as_str)
            .unwrap_or_default(),
        &lines,
    )
}

fn parse_params(sig: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    for part in sig.split("\",") {
        if let Some((k, v)) = part.split_once("=\"") {
            params.insert(k.trim().to_string(), v.trim_end_matches('"').to_string());
        }
    }
    params
}

fn signing_lines(
    covered: &[String],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<String> {
    let mut lines = Vec::new();
    for name in covered {
        let value = if name == "(request-target)" {
            format!(
                "{} {}",
                method.as_str().to_lowercase(),
                uri.path_and_query()?
            )
        } else {
            headers.get(name.as_str())?.to_str().ok()?.to_string()
        };
        lines.push(format!("{name}: {value}"));
    }
    Some(lines.join("\n"))
}

fn rsa_verify(pem: &str, signature_b64: &str, signed: &str) -> bool {
    let Ok(public) = RsaPublicKey::from_public_key_pem(pem) else {
        return false;
    };
    let Ok(signature) = BASE64.decode(signature_b64) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(signature.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(public)
        .verify(signed.as_bytes(), &signature)
        .is_ok()
}

/// Draft-cavage verification written for the peer: parse, rebuild the
/// signing string, fetch the key from keyId, check owner and digest.
async fn verify(
    state: &PeerState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    activity: &Value,
) -> (bool, String, Vec<String>) {
    let Some(sig) = headers.get("signature").and_then(|v| v.to_str().ok()) else {
        return (false, String::new(), vec![]);
    };
    let Some(read) = read_cavage(method, uri, headers, body) else {
        // A covered header is missing.
        let params = parse_params(sig);
        let covered = params
            .get("headers")
            .map(|h| h.split(' ').map(str::to_string).collect())
            .unwrap_or_default();
        return (
            false,
            params.get("keyId").cloned().unwrap_or_default(),
            covered,
        );
    };
    let CavageSignature {
        key_id,
        covered,
        signed: lines,
        signature,
        digest_ok,
    } = read;
    // Mastodon's rule: the key's owner must be the activity's actor.
    let actor = activity["actor"].as_str().unwrap_or_default();
    let Some((pem, owner)) = fetch_key(state, &key_id).await else {
        return (false, key_id, covered);
    };
    let ok = rsa_verify(&pem, &signature, &lines);
    let date_fresh = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .map(|d| {
            SystemTime::now()
                .duration_since(d)
                .unwrap_or(Duration::ZERO)
        })
        .is_some_and(|age| age < Duration::from_secs(300));
    let required = ["(request-target)", "host", "date", "digest"]
        .iter()
        .all(|h| covered.iter().any(|c| c == h));
    (
        ok && digest_ok && owner == actor && date_fresh && required,
        key_id,
        covered,
    )
}

/// RFC 9421 verification written for the peer, as Mastodon 4.5 checks: one
/// signature covering `@method`, `@target-uri` and `content-digest`, made
/// within five minutes, its base rebuilt here from the request. Returns
/// (verified, keyid, covered components).
async fn verify_rfc9421(
    state: &PeerState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    activity: &Value,
) -> (bool, String, Vec<String>) {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let input = text("signature-input");
    let Some(params) = input.strip_prefix("sig1=") else {
        return (false, String::new(), vec![]);
    };
    let Some(signature) = text("signature")
        .strip_prefix("sig1=:")
        .and_then(|s| s.strip_suffix(':'))
        .map(str::to_string)
    else {
        return (false, String::new(), vec![]);
    };
    let Some((list, rest)) = params.strip_prefix('(').and_then(|p| p.split_once(')')) else {
        return (false, String::new(), vec![]);
    };
    let covered: Vec<String> = list
        .split(' ')
        .map(|c| c.trim_matches('"').to_string())
        .collect();
    let param = |name: &str| {
        rest.split(';')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(|v| v.trim_matches('"').to_string())
    };
    let key_id = param("keyid").unwrap_or_default();
    let created: u64 = param("created").and_then(|c| c.parse().ok()).unwrap_or(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = now.abs_diff(created) < 300;
    let target = format!("http://{}{}", text("host"), uri);
    let digest = format!("sha-256=:{}:", BASE64.encode(Sha256::digest(body)));
    let mut lines = Vec::new();
    for component in &covered {
        let value = match component.as_str() {
            "@method" => method.as_str().to_string(),
            "@target-uri" => target.clone(),
            "content-digest" => text("content-digest"),
            _ => return (false, key_id, covered),
        };
        lines.push(format!("\"{component}\": {value}"));
    }
    lines.push(format!("\"@signature-params\": {params}"));
    let required = ["@method", "@target-uri", "content-digest"]
        .iter()
        .all(|c| covered.iter().any(|have| have == c));
    let actor = activity["actor"].as_str().unwrap_or_default();
    let Some((pem, owner)) = fetch_key(state, &key_id).await else {
        return (false, key_id, covered);
    };
    let ok = rsa_verify(&pem, &signature, &lines.join("\n"));
    (
        ok && fresh && required && text("content-digest") == digest && owner == actor,
        key_id,
        covered,
    )
}

/// Fetches the key a keyId names: the actor document (unsigned GET, as
/// Mastodon fetches our actors), returning the PEM and its owner.
async fn fetch_key(state: &PeerState, key_id: &str) -> Option<(String, String)> {
    if let Some(found) = state.key_cache.lock().unwrap().get(key_id) {
        let (pem, owner) = found.split_once('\u{0}')?;
        return Some((pem.to_string(), owner.to_string()));
    }
    let mut url = Url::parse(key_id).ok()?;
    url.set_fragment(None);
    let doc: Value = state
        .http
        .get(url.clone())
        .header("Accept", "application/activity+json")
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    if doc["id"] != url.as_str() || doc["publicKey"]["id"] != key_id {
        return None;
    }
    let pem = doc["publicKey"]["publicKeyPem"].as_str()?.to_string();
    let owner = doc["publicKey"]["owner"].as_str()?.to_string();
    state
        .key_cache
        .lock()
        .unwrap()
        .insert(key_id.to_string(), format!("{pem}\u{0}{owner}"));
    Some((pem, owner))
}
