//! What happens to a follow, whoever starts it (a remote Follow or Undo, or
//! the editor through the admin API): the stored state changes and the
//! matching activity is queued for the follower, in that order.

use super::activities;
use crate::{
    app::AppState,
    delivery::Outgoing,
    organisations::Organisation,
    store::{Follower, NewActivity, StoreResult},
};

/// Queues an activity about a follow to the follower's own inbox.
async fn tell(
    state: &AppState,
    org: &Organisation,
    kind: &'static str,
    body: serde_json::Value,
    follower: &Follower,
) -> StoreResult<()> {
    state
        .outbox
        .send(
            Outgoing {
                organisation_id: org.id,
                kind,
                statement_id: None,
                body,
            },
            std::slice::from_ref(&follower.inbox),
        )
        .await?;
    Ok(())
}

/// A Follow from an inbox: recorded once per activity id, accepted at once
/// unless the organisation approves followers by hand, and the Accept queued
/// in the same transaction. An already accepted follower gets the Accept
/// again (its server asks because it lost it). `None` for a replay.
pub async fn follow_received(
    state: &AppState,
    org: &Organisation,
    actor_id: i64,
    actor: &str,
    inbox: &str,
    follow_id: &str,
) -> StoreResult<Option<Follower>> {
    let accept = activities::accept_follow(&state.urls, &org.handle, follow_id, actor);
    let (public_id, body) = state.outbox.stored_form(&accept);
    let activity = NewActivity {
        public_id: &public_id,
        organisation_id: org.id,
        kind: "Accept",
        statement_id: None,
        body: &body,
    };
    let follower = state
        .store
        .follow_received(
            follow_id,
            org.id,
            actor_id,
            !org.manually_approves_followers,
            &activity,
            inbox,
        )
        .await?;
    match &follower {
        Some(f) if f.state == crate::store::ACCEPTED => {
            tracing::info!(organisation = %org.handle, follower = %f.actor, "follow accepted");
            state.outbox.wake();
        }
        Some(f) => {
            tracing::info!(organisation = %org.handle, follower = %f.actor, "follow request pending")
        }
        None => tracing::info!(id = follow_id, "Follow already processed"),
    }
    Ok(follower)
}

/// The editor accepts a pending request.
pub async fn approve(
    state: &AppState,
    org: &Organisation,
    request_id: i64,
) -> StoreResult<Follower> {
    let follower = state.store.accept_follow(org.id, request_id).await?;
    let accept = activities::accept_follow(
        &state.urls,
        &org.handle,
        &follower.follow_activity_id,
        &follower.actor,
    );
    tell(state, org, "Accept", accept, &follower).await?;
    Ok(follower)
}

/// The editor rejects a pending request: it is removed and a Reject sent.
pub async fn reject(
    state: &AppState,
    org: &Organisation,
    request_id: i64,
) -> StoreResult<Follower> {
    let follower = state.store.follower(org.id, request_id).await?;
    if follower.state != crate::store::PENDING {
        return Err(crate::store::StoreError::NotFound);
    }
    let follower = state.store.remove_follow(org.id, request_id).await?;
    let reject = activities::reject_follow(&state.urls, &org.handle, &follower);
    tell(state, org, "Reject", reject, &follower).await?;
    Ok(follower)
}

/// The editor removes a follower: Undo{Accept} tells its server.
pub async fn remove(
    state: &AppState,
    org: &Organisation,
    follower_id: i64,
) -> StoreResult<Follower> {
    let follower = state.store.follower(org.id, follower_id).await?;
    if follower.state != crate::store::ACCEPTED {
        return Err(crate::store::StoreError::NotFound);
    }
    let follower = state.store.remove_follow(org.id, follower_id).await?;
    let undo = activities::undo_accept(&state.urls, &org.handle, &follower);
    tell(state, org, "Undo", undo, &follower).await?;
    Ok(follower)
}
