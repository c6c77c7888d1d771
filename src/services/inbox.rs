//! What the inbox records for itself, beside what an activity changes
//! (that is `follows` and `reactions`): the ids of the activities it acts
//! on, so that each is acted on once; the remote actors it fetches to check
//! a signature; that a sender's server answers; and an actor's own
//! `Delete`. `federation::inbox` and `federation::remote_actor` call these
//! and never write to the store themselves (tests/architecture.rs).

use url::Url;

use super::{ServiceResult, Services};
use crate::store::{RemoteActor, RemoteActorData};

/// A validly signed request came from `host`, so it is up: its failure
/// record, if it has one, goes, and deliveries to it are no longer held.
pub async fn host_answered(services: &Services, host: &str) -> ServiceResult<()> {
    Ok(services.store.host_is_alive(host).await?)
}

/// Records the activity id `id` before it is acted on: false if it was
/// recorded before, and then it must not be acted on again.
pub async fn first_receipt(services: &Services, id: &str) -> ServiceResult<bool> {
    Ok(services.store.record_received_activity(id).await?)
}

/// Forgets the activity id `id` when acting on it failed, so that the
/// sender's retry is acted on.
pub async fn forget_receipt(services: &Services, id: &str) -> ServiceResult<()> {
    Ok(services.store.forget_received_activity(id).await?)
}

/// `Delete{actor}` `id` by the actor itself, its signature verified: the
/// actor we know is removed, and its follows with it, once per activity id.
pub async fn actor_deleted(services: &Services, id: &str, actor: &Url) -> ServiceResult<()> {
    if services.store.record_received_activity(id).await? {
        services.store.delete_remote_actor(actor.as_str()).await?;
        tracing::info!(actor = %actor, "remote actor deleted; its follows are gone");
    }
    Ok(())
}

/// An actor's document, fetched and checked (`federation::remote_actor`):
/// stored, or refreshed with its current key, and answered as stored.
pub async fn actor_fetched(
    services: &Services,
    actor: &RemoteActorData,
) -> ServiceResult<RemoteActor> {
    Ok(services.store.upsert_remote_actor(actor).await?)
}
