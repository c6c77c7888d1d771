//! What happens to a follow, whoever starts it (a remote Follow or Undo, or
//! the editor through the admin API): the stored state changes and the
//! matching activity is queued for the follower in one transaction
//! (`Outbox::send_all` with a `Transition`; a received Follow through
//! `Outbox::follow_received`, one command), so neither happens alone.

use url::Url;

use super::{Paging, ServiceError, ServiceResult, Services, organisations::find};
use crate::{
    delivery::Outgoing,
    organisations::Organisation,
    store::{FollowStored, Follower, FollowerState, ReceivedFollow, StoreError, Transition},
    vocabulary::Activity,
    vocabulary::activities::{self, TheirFollow},
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

fn their_follow(follower: &Follower) -> TheirFollow<'_> {
    TheirFollow {
        id: &follower.follow_activity_id,
        actor: &follower.actor,
        number: follower.id,
    }
}

/// The remote actor that sent a verified activity, as the store knows it.
#[derive(Clone, Copy, Debug)]
pub struct Sender<'a> {
    /// Its row in `remote_actors`.
    pub row: i64,
    pub actor: &'a Url,
    pub inbox: &'a str,
}

/// A Follow `follow_id` of `object` from `sender`: stored, and accepted at
/// once unless the organisation approves followers by hand; the follow and
/// its Accept commit together, and a Follow processed before changes
/// nothing. `NotFound` when `object` is none of our organisations.
pub async fn follow_received(
    services: &Services,
    sender: Sender<'_>,
    follow_id: &Url,
    object: &Url,
) -> ServiceResult<()> {
    let not_ours = || ServiceError::NotFound(format!("no organisation here to follow: {object}"));
    let handle = services.urls.handle_of(object).ok_or_else(not_ours)?;
    let org = match services.store.organisation(&handle).await {
        Ok(org) => org,
        Err(StoreError::NotFound) => return Err(not_ours()),
        Err(err) => return Err(err.into()),
    };
    let actor = sender.actor.as_str();
    let accept = activities::accept_follow(&services.urls, &org.handle, follow_id.as_str(), actor);
    let follow = ReceivedFollow {
        activity_id: follow_id.as_str(),
        organisation_id: org.id,
        actor_id: sender.row,
        accept_now: !org.profile.manually_approves_followers,
    };
    match services
        .outbox
        .follow_received(follow, accept, sender.inbox)
        .await?
    {
        FollowStored::Replayed => tracing::info!(id = %follow_id, "Follow already processed"),
        FollowStored::Pending => {
            tracing::info!(organisation = %org.handle, follower = %actor, "follow request pending")
        }
        FollowStored::Accepted { .. } => {
            tracing::info!(organisation = %org.handle, follower = %actor, "follow accepted")
        }
    }
    Ok(())
}

/// `Undo{Follow}` from `actor`: removes its follow of `object` when the
/// Undo names one of ours, or else the follow whose Follow had the id
/// `follow`. Naming nothing of ours changes nothing.
pub async fn follow_undone(
    services: &Services,
    actor: &Url,
    follow: Option<&Url>,
    object: Option<&Url>,
) -> ServiceResult<()> {
    let handles: Vec<String> = match object {
        Some(target) => services.urls.handle_of(target).into_iter().collect(),
        None => services
            .store
            .organisations()
            .await?
            .into_iter()
            .map(|o| o.handle)
            .collect(),
    };
    for handle in handles {
        let Ok(org) = services.store.organisation(&handle).await else {
            continue;
        };
        let Some(found) = services.store.follow_of(org.id, actor.as_str()).await? else {
            continue;
        };
        if object.is_some() || follow.map(Url::as_str) == Some(found.follow_activity_id.as_str()) {
            services.store.remove_follow(org.id, found.id).await?;
            tracing::info!(organisation = %org.handle, follower = %actor, "unfollowed");
        }
    }
    Ok(())
}

/// Who follows `handle` in `state` (accepted or pending), a page at a time,
/// with the total.
pub async fn followers(
    services: &Services,
    handle: &str,
    state: FollowerState,
    paging: Paging,
) -> ServiceResult<(i64, Vec<Follower>)> {
    let paging = paging.check()?;
    let org = find(services, handle).await?;
    let total = services.store.count_followers(org.id, state).await?;
    let items = services
        .store
        .followers(org.id, state, paging.limit, paging.offset)
        .await?;
    Ok((total, items))
}

fn no_such(what: &'static str, id: i64) -> impl Fn() -> String {
    move || format!("no {what} {id}")
}

/// The editor approves a pending request: accepted, and the Accept queued,
/// together.
pub async fn approve(
    services: &Services,
    handle: &str,
    request_id: i64,
) -> ServiceResult<Follower> {
    let org = find(services, handle).await?;
    let missing = no_such("follow request", request_id);
    let request = super::named(services.store.follower(org.id, request_id).await, &missing)?;
    if request.state != FollowerState::Pending {
        return Err(ServiceError::NotFound(missing()));
    }
    let accept = activities::accept_follow(
        &services.urls,
        &org.handle,
        &request.follow_activity_id,
        &request.actor,
    );
    let (done, _) = services
        .outbox
        .send_all(
            Some(Transition::ApproveFollow {
                organisation_id: org.id,
                follower_id: request_id,
            }),
            vec![to_follower(&org, accept, &request.inbox)],
        )
        .await?;
    if !done {
        return Err(ServiceError::NotFound(missing()));
    }
    Ok(services.store.follower(org.id, request_id).await?)
}

/// The editor rejects a pending request: removed, and a Reject queued.
pub async fn reject(services: &Services, handle: &str, request_id: i64) -> ServiceResult<Follower> {
    let missing = no_such("follow request", request_id);
    end(
        services,
        handle,
        request_id,
        FollowerState::Pending,
        activities::reject_follow,
        &missing,
    )
    .await
}

/// The editor removes a follower: removed, and an Undo of our Accept
/// queued, so the follower's server stops showing the follow.
pub async fn remove(
    services: &Services,
    handle: &str,
    follower_id: i64,
) -> ServiceResult<Follower> {
    let missing = no_such("follower", follower_id);
    end(
        services,
        handle,
        follower_id,
        FollowerState::Accepted,
        activities::undo_accept,
        &missing,
    )
    .await
}

async fn end(
    services: &Services,
    handle: &str,
    follower_id: i64,
    expected: FollowerState,
    build: fn(&crate::urls::Urls, &str, TheirFollow<'_>) -> Activity,
    missing: &(dyn Fn() -> String + Sync),
) -> ServiceResult<Follower> {
    let org = find(services, handle).await?;
    let follower = super::named(services.store.follower(org.id, follower_id).await, missing)?;
    if follower.state != expected {
        return Err(ServiceError::NotFound(missing()));
    }
    let activity = build(&services.urls, &org.handle, their_follow(&follower));
    let (done, _) = services
        .outbox
        .send_all(
            Some(Transition::EndFollow {
                organisation_id: org.id,
                follower_id,
                state: expected,
            }),
            vec![to_follower(&org, activity, &follower.inbox)],
        )
        .await?;
    if !done {
        return Err(ServiceError::NotFound(missing()));
    }
    Ok(follower)
}
