//! The ActivityPub vocabulary we speak, in both directions: every document
//! and activity we build (one function each: the actor in `actor`, those
//! about follows and profiles in `activities`, those about statements in
//! `statement`, all typed as `activity::Activity`), and every activity we
//! read, parsed once into `incoming::Received`. A leaf: it knows nothing of
//! HTTP or storage, so services build activities and the inbox reads them
//! through the same types.

pub mod activities;
pub mod activity;
pub mod actor;
pub mod incoming;
pub mod statement;

pub use activity::{Activity, Kind};

/// The JSON-LD context of our actor documents: ActivityStreams, security
/// (for `publicKey`) and the Mastodon extension terms we use, compacted as
/// Mastodon expects (it does no JSON-LD expansion).
pub fn context() -> serde_json::Value {
    serde_json::json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": { "@id": "toot:featured", "@type": "@id" },
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "attributionDomains": { "@id": "toot:attributionDomains", "@type": "@id" },
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}
