//! The inboxes: each organisation's own and the shared one.
//!
//! Checks come cheapest first, and nothing is fetched or stored before the
//! request has passed the ones that need no network:
//!
//! 1. a signature — RFC 9421 (`Signature-Input`: `@method`, `@target-uri`,
//!    `content-digest`, `created`) or draft-cavage (`(request-target)`,
//!    `host`, `date`/`(created)`, `digest`) — made within an hour, its digest
//!    matching the body (401);
//! 2. a JSON body of bounded size and depth with `id`, `type` and `actor`;
//!    the keyId and the activity id on the actor's host (401/400);
//! 3. the actor's domain not blocked (403);
//! 4. the key: the actor's document is fetched (or read from cache) and its
//!    `publicKey.id` must be the keyId — a key of another actor is refused
//!    (Mastodon issue #34014) — then the RSA signature is verified, with one
//!    refetch in case the key rotated (401);
//! 5. the activity id not seen before: each activity is acted on once.
//!
//! We do not use the library's `receive_activity`: it fetches the actor
//! before checking anything, ignores Date and replays (docs/stack.md §2), and
//! verifies with the key of the *actor*, never looking at the keyId.

use std::{net::SocketAddr, time::SystemTime};

use activitypub_federation::config::Data;
use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path, rejection::BytesRejection},
    http::{HeaderMap, Method, StatusCode, Uri},
};
use serde_json::Value;
use url::Url;

use super::remote_actor;
use crate::{
    domains::host_and_port,
    error::AppError,
    limits::client_ip,
    services::{
        follows::{self, Sender},
        inbox, reactions,
    },
    state::AppState,
    store::StoreError,
    transport::{inbound::Inbound, signatures::SignatureError},
    vocabulary::incoming::{Envelope, Received, Refused},
};

/// Deepest JSON nesting we parse; real activities stay under 10.
pub const MAX_JSON_DEPTH: usize = 32;

/// `POST /organisations/{handle}/inbox`
pub async fn organisation_inbox(
    data: Data<AppState>,
    Path(handle): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    // An inbox of an organisation that does not exist is not a place to post.
    data.store
        .organisation(&handle)
        .await
        .map_err(|err| match err {
            StoreError::NotFound => AppError::not_found(format!("no organisation {handle}")),
            other => other.into(),
        })?;
    counted(receive(&data, peer, method, uri, headers, body).await)
}

/// `POST /inbox` (and `/actor/inbox`)
pub async fn shared_inbox(
    data: Data<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    counted(receive(&data, peer, method, uri, headers, body).await)
}

/// Feeds the inbox metrics with what the sender is answered.
fn counted(result: Result<StatusCode, AppError>) -> Result<StatusCode, AppError> {
    crate::ops::metrics::inbox_request(match &result {
        Ok(status) => *status,
        Err(err) => err.status(),
    });
    result
}

fn unauthorized(err: SignatureError) -> AppError {
    AppError::Unauthorized(err.to_string())
}

/// How deep a JSON value nests (public for the fuzz target `inbox_activity`).
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

async fn receive(
    data: &Data<AppState>,
    peer: SocketAddr,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    let client = client_ip(peer, &headers, data.config.trust_forwarded_for);
    data.limits.inbox_client(client).map_err(AppError::from)?;
    let body = body.map_err(|err| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge("the activity is too large".into())
        } else {
            AppError::BadRequest(err.body_text())
        }
    })?;

    // 1. Signature coverage, freshness, digest and Host: no network, no
    //    storage.
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let now = SystemTime::now();
    let sig = Inbound::read_for_us(&method, data.urls.base(), path, &headers, &body, now)
        .map_err(unauthorized)?;

    // 2. The activity's shape.
    let json: Value = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
    if depth(&json) > MAX_JSON_DEPTH {
        return Err(AppError::BadRequest(
            "the activity is nested too deeply".into(),
        ));
    }
    let Some(envelope) = Envelope::read(&json) else {
        return Err(AppError::BadRequest(
            "an activity needs an id, a type and an actor".into(),
        ));
    };
    let (id, actor) = (&envelope.id, &envelope.actor);
    let actor_host = host_and_port(actor);
    let key_url = Url::parse(sig.key_id())
        .map_err(|_| AppError::Unauthorized("keyId is not a URL".into()))?;
    if host_and_port(&key_url) != actor_host {
        return Err(AppError::Unauthorized(
            "the signing key is not on the actor's server".into(),
        ));
    }
    if host_and_port(id) != actor_host {
        return Err(AppError::BadRequest(
            "the activity id is not on the actor's server".into(),
        ));
    }
    if data.urls.is_local(actor) {
        return Err(AppError::Forbidden(
            "activities from this server are not accepted here".into(),
        ));
    }

    // 3. Blocked domains are refused before anything is fetched, and a
    //    server over its rate waits.
    if data.store.is_domain_blocked(&actor_host).await? {
        return Err(AppError::Forbidden(format!("{actor_host} is blocked")));
    }
    data.limits
        .inbox_server(&actor_host)
        .map_err(AppError::from)?;

    // A deleted account's Delete: its key is gone, so never fetch it
    // (Mastodon sends these to every server it knows; docs/interop.md §8).
    if envelope.deletes_its_actor() {
        return actor_deleted(data, &sig, &method, path, &headers, actor, id.as_str()).await;
    }

    // 4. The key must belong to the actor, and verify. A fetch over the
    //    server's fetch limit is answered 429 (`transport::SignedFetches`).
    let mut peer = remote_actor::peer(actor, data).await.map_err(|e| {
        tracing::info!(actor = %actor, error = %e, "actor of an incoming activity could not be fetched");
        AppError::from(e)
    })?;
    let verified = peer.record.public_key_id == sig.key_id()
        && sig
            .verify(&method, path, &headers, &peer.record.public_key_pem)
            .is_ok();
    if !verified {
        // The key may have rotated since we cached it: fetch once more.
        peer = remote_actor::refetch_peer(actor, data)
            .await
            .map_err(AppError::from)?;
        if peer.record.public_key_id != sig.key_id() {
            return Err(AppError::Unauthorized(
                "the signing key does not belong to the activity's actor".into(),
            ));
        }
        sig.verify(&method, path, &headers, &peer.record.public_key_pem)
            .map_err(unauthorized)?;
    }
    // A validly signed request proves the host is up.
    inbox::host_answered(&data.services, &actor_host).await?;

    // The request is verified: now read what it says.
    let received = Received::parse(&envelope, &json).map_err(|refused| match refused {
        Refused::Malformed(why) => AppError::BadRequest(why),
        Refused::NotYours(why) => AppError::Forbidden(why),
    })?;
    let sender = Sender {
        row: peer.record.id,
        actor,
        inbox: &peer.record.inbox,
    };
    // 5. Once per activity id (a Follow records its id in the transaction
    //    that stores it and queues the Accept).
    if let Received::Follow { object } = &received {
        follows::follow_received(&data.services, sender, id, object).await?;
        return Ok(StatusCode::ACCEPTED);
    }
    if let Received::Other { kind } = &received {
        tracing::info!(kind, actor = %actor, "activity received and ignored");
        return Ok(StatusCode::ACCEPTED);
    }
    if !inbox::first_receipt(&data.services, id.as_str()).await? {
        tracing::info!(id = %id, "activity already processed");
        return Ok(StatusCode::ACCEPTED);
    }
    match act(data, sender, id, &received).await {
        Ok(()) => Ok(StatusCode::ACCEPTED),
        Err(err) => {
            // Let the sender retry what we could not act on.
            if let Err(forget) = inbox::forget_receipt(&data.services, id.as_str()).await {
                tracing::error!(error = %forget, "could not forget a failed activity id");
            }
            Err(err)
        }
    }
}

/// `Delete{actor}` by the actor itself: acted on only if we know the actor
/// and its cached key verifies the request; otherwise answered 202 unread.
async fn actor_deleted(
    data: &Data<AppState>,
    sig: &Inbound,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    actor: &Url,
    id: &str,
) -> Result<StatusCode, AppError> {
    let Some(known) = data.store.remote_actor(actor.as_str()).await? else {
        return Ok(StatusCode::ACCEPTED);
    };
    if known.public_key_id != sig.key_id() {
        return Err(AppError::Unauthorized(
            "the signing key does not belong to the activity's actor".into(),
        ));
    }
    sig.verify(method, path, headers, &known.public_key_pem)
        .map_err(unauthorized)?;
    inbox::actor_deleted(&data.services, id, actor).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Acts on a verified activity, recorded as received.
async fn act(
    data: &Data<AppState>,
    sender: Sender<'_>,
    id: &Url,
    received: &Received,
) -> Result<(), AppError> {
    let services = &data.services;
    match received {
        Received::Reacted { reaction, object } => {
            reactions::reacted(services, sender, id, *reaction, object).await?
        }
        Received::Unreacted {
            reaction,
            activity,
            object,
        } => {
            reactions::unreacted(
                services,
                sender,
                *reaction,
                activity.as_ref(),
                object.as_ref(),
            )
            .await?
        }
        Received::Undone { activity } => reactions::undone(services, sender, activity).await?,
        Received::Posted { post, edited } => {
            reactions::posted(services, sender, post, *edited).await?
        }
        Received::Deleted { object } => reactions::deleted(services, sender, object).await?,
        Received::QuoteRequested { object, instrument } => {
            reactions::quote_requested(services, sender, id, object, instrument).await?
        }
        Received::Flagged { objects, content } => {
            reactions::flagged(services, sender, id, objects, content).await?
        }
        Received::Blocked { object } => reactions::blocked(services, sender, id, object).await?,
        Received::Unblocked { activity, object } => {
            reactions::unblocked(services, sender, activity.as_ref(), object.as_ref()).await?
        }
        Received::UndoFollow { follow, object } => {
            follows::follow_undone(
                &data.services,
                sender.actor,
                follow.as_ref(),
                object.as_ref(),
            )
            .await?;
        }
        Received::UpdateActor => {
            remote_actor::refetch_peer(sender.actor, data)
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
        }
        // Acted on before the key is fetched, and answered before this.
        Received::Follow { .. } | Received::DeleteActor | Received::Other { .. } => {}
    }
    Ok(())
}
