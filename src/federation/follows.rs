//! What happens to a follow, whoever starts it (a remote Follow or Undo, or
//! the editor through the admin API): the stored state changes and the
//! matching activity is queued for the follower in one transaction
//! (`Outbox::send_all` with a `Transition`), so neither happens alone.

use super::activities::{self, Activity};
use crate::{
    delivery::Outgoing,
    organisations::Organisation,
    state::AppState,
    store::{ACCEPTED, Follower, PENDING, StoreError, StoreResult, Transition},
};

fn to_follower(org: &Organisation, activity: Activity, inbox: &str) -> (Outgoing, Vec<String>) {
    (
        Outgoing {
            organisation_id: org.id,
            statement_id: None,
            activity,
        },
        vec![inbox.to_string()],
    )
}

/// A Follow from `actor` (stored as `actor_id`, inbox `inbox`): stored, and
/// accepted at once unless the organisation approves followers by hand; the
/// follow and its Accept commit together. `None` when this Follow was
/// processed before.
pub async fn follow_received(
    state: &AppState,
    org: &Organisation,
    actor_id: i64,
    actor: &str,
    inbox: &str,
    follow_id: &str,
) -> StoreResult<Option<Follower>> {
    let accept = activities::accept_follow(&state.urls, &org.handle, follow_id, actor);
    let (fresh, _) = state
        .outbox
        .send_all(
            Some(Transition::FollowReceived {
                activity_id: follow_id.to_string(),
                organisation_id: org.id,
                actor_id,
                accept_now: !org.manually_approves_followers,
            }),
            vec![to_follower(org, accept, inbox)],
        )
        .await?;
    if !fresh {
        tracing::info!(id = follow_id, "Follow already processed");
        return Ok(None);
    }
    let follower = state
        .store
        .follow_of(org.id, actor)
        .await?
        .ok_or(StoreError::NotFound)?;
    if follower.state == ACCEPTED {
        tracing::info!(organisation = %org.handle, follower = %follower.actor, "follow accepted");
    } else {
        tracing::info!(organisation = %org.handle, follower = %follower.actor, "follow request pending");
    }
    Ok(Some(follower))
}

/// The editor approves a pending request: accepted, and the Accept queued,
/// together.
pub async fn approve(
    state: &AppState,
    org: &Organisation,
    request_id: i64,
) -> StoreResult<Follower> {
    let request = state.store.follower(org.id, request_id).await?;
    if request.state != PENDING {
        return Err(StoreError::NotFound);
    }
    let accept = activities::accept_follow(
        &state.urls,
        &org.handle,
        &request.follow_activity_id,
        &request.actor,
    );
    let (done, _) = state
        .outbox
        .send_all(
            Some(Transition::ApproveFollow {
                organisation_id: org.id,
                follower_id: request_id,
            }),
            vec![to_follower(org, accept, &request.inbox)],
        )
        .await?;
    if !done {
        return Err(StoreError::NotFound);
    }
    state.store.follower(org.id, request_id).await
}

/// The editor rejects a pending request: removed, and a Reject queued.
pub async fn reject(
    state: &AppState,
    org: &Organisation,
    request_id: i64,
) -> StoreResult<Follower> {
    end(state, org, request_id, PENDING, activities::reject_follow).await
}

/// The editor removes a follower: removed, and an Undo of our Accept
/// queued, so the follower's server stops showing the follow.
pub async fn remove(
    state: &AppState,
    org: &Organisation,
    follower_id: i64,
) -> StoreResult<Follower> {
    end(state, org, follower_id, ACCEPTED, activities::undo_accept).await
}

async fn end(
    state: &AppState,
    org: &Organisation,
    follower_id: i64,
    expected: &'static str,
    build: fn(&crate::urls::Urls, &str, &Follower) -> Activity,
) -> StoreResult<Follower> {
    let follower = state.store.follower(org.id, follower_id).await?;
    if follower.state != expected {
        return Err(StoreError::NotFound);
    }
    let activity = build(&state.urls, &org.handle, &follower);
    let (done, _) = state
        .outbox
        .send_all(
            Some(Transition::EndFollow {
                organisation_id: org.id,
                follower_id,
                state: expected,
            }),
            vec![to_follower(org, activity, &follower.inbox)],
        )
        .await?;
    if !done {
        return Err(StoreError::NotFound);
    }
    Ok(follower)
}
