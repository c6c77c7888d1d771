//! The activities about follows and profiles, one builder each (those
//! about statements are in `statement`). Each is an [`Activity`]: its id is
//! minted there, once.

use serde_json::{Value, json};
use url::Url;

use super::activity::{Activity, Kind};
use crate::{
    organisations::Organisation,
    urls::{PUBLIC, Urls},
};

/// A remote actor's follow of one of our organisations, as our answers
/// name it.
#[derive(Clone, Copy, Debug)]
pub struct TheirFollow<'a> {
    /// The id of the Follow activity they sent.
    pub id: &'a str,
    /// The follower's actor id.
    pub actor: &'a str,
    /// Our number for the follow, which names our Accept of it.
    pub number: i64,
}
const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// The Follow as the follower sent it, embedded in our answers so that the
/// follower's server can match it by id or by actor (docs/interop.md §3).
fn follow_object(follow_id: &str, follower: &str, organisation: &Url) -> Value {
    json!({
        "id": follow_id,
        "type": "Follow",
        "actor": follower,
        "object": organisation,
    })
}

/// `Accept{Follow}` from the organisation, for the Follow `follow_id` of
/// the actor `follower`.
pub fn accept_follow(urls: &Urls, handle: &str, follow_id: &str, follower: &str) -> Activity {
    let organisation = urls.organisation(handle);
    Activity::new(
        urls,
        Kind::Accept,
        json!({
            "@context": AS_CONTEXT,
            "actor": organisation,
            "to": [follower],
            "object": follow_object(follow_id, follower, &organisation),
        }),
    )
}

/// `Reject{Follow}`: refuses a request, or ends an accepted follow.
pub fn reject_follow(urls: &Urls, handle: &str, follow: TheirFollow<'_>) -> Activity {
    let organisation = urls.organisation(handle);
    Activity::new(
        urls,
        Kind::Reject,
        json!({
            "@context": AS_CONTEXT,
            "actor": organisation,
            "to": [follow.actor],
            "object": follow_object(follow.id, follow.actor, &organisation),
        }),
    )
}

/// `Undo{Accept{Follow}}`: revokes an accepted follow.
pub fn undo_accept(urls: &Urls, handle: &str, follow: TheirFollow<'_>) -> Activity {
    let organisation = urls.organisation(handle);
    Activity::new(
        urls,
        Kind::Undo,
        json!({
            "@context": AS_CONTEXT,
            "actor": organisation,
            "to": [follow.actor],
            "object": {
                "id": format!("{}#accepts/{}", organisation, follow.number),
                "type": "Accept",
                "actor": organisation,
                "object": follow_object(follow.id, follow.actor, &organisation),
            },
        }),
    )
}

/// `Update{Organization}` after a profile edit: followers' servers refresh
/// the profile at once instead of within a day.
pub fn update_actor(urls: &Urls, org: &Organisation) -> Activity {
    let actor = super::actor::organisation_actor(org, urls);
    let followers = urls.followers(&org.handle);
    let object = serde_json::to_value(&actor).expect("actors serialise");
    Activity::new(
        urls,
        Kind::Update,
        json!({
            "@context": super::context(),
            "actor": actor.id,
            "to": [PUBLIC],
            "cc": [followers],
            "object": object,
        }),
    )
}

/// `Delete{actor}` when an organisation is deleted: followers' servers
/// remove the account (docs/interop.md §6).
pub fn delete_actor(urls: &Urls, handle: &str) -> Activity {
    let actor = urls.organisation(handle);
    Activity::new(
        urls,
        Kind::Delete,
        json!({
            "@context": AS_CONTEXT,
            "actor": actor,
            "to": [PUBLIC],
            "cc": [urls.followers(handle)],
            "object": actor,
        }),
    )
}
