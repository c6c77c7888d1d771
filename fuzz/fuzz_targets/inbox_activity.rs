//! An inbox body, read as `federation::inbox::receive` reads it once the
//! signature checks have passed: JSON, the depth limit, the `Envelope` gate
//! and `Received::parse`, then the sanitiser a received post's HTML goes
//! through. Nothing here may panic.
//!
//! `receive` checks the keyId, the activity id and the actor against each
//! other (and the network) between `Envelope::read` and `Received::parse`;
//! this target parses every envelope, which covers more.

#![no_main]

use broadside::{
    domains::host_and_port,
    federation::inbox::{MAX_JSON_DEPTH, depth},
    html,
    vocabulary::incoming::{Envelope, Received},
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if depth(&json) > MAX_JSON_DEPTH {
        return;
    }
    let Some(envelope) = Envelope::read(&json) else {
        return;
    };
    // The gate's comparisons, as `receive` makes them.
    let actor_host = host_and_port(&envelope.actor);
    let _same_server = host_and_port(&envelope.id) == actor_host;
    let _deletes_actor = envelope.deletes_its_actor();

    let Ok(received) = Received::parse(&envelope, &json) else {
        return;
    };
    // What the services do with a received post's HTML (services/reactions.rs).
    let post = match &received {
        Received::Posted { post, .. } => post,
        Received::QuoteRequested { instrument, .. } => instrument,
        _ => return,
    };
    let clean = html::sanitize(&post.content);
    assert!(
        !clean.to_ascii_lowercase().contains("<script"),
        "script in a sanitised post: {clean:?}"
    );
});
