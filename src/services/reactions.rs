//! What remote actors do with our statements, as the inbox hands it over
//! (verified, typed, origin rules applied): likes and boosts, replies,
//! quotes, reports and blocks. Whatever names no statement or
//! organisation of ours is acknowledged and stored nowhere. Every change a
//! remote actor makes is looked up by what it names *and* by that actor,
//! so nobody edits, deletes or undoes another's.

use url::Url;

use super::{ServiceResult, Services, follows::Sender};
use crate::{
    delivery::Outgoing,
    html,
    statements::{QuotePolicy, Statement},
    store::{FollowerState, NewReply, ReplyState, Transition},
    vocabulary::{
        incoming::{Post, Reaction},
        statement,
    },
};

/// The published statement `url` names, if it is one of ours.
async fn our_statement(services: &Services, url: &Url) -> ServiceResult<Option<Statement>> {
    match services.urls.statement_id_of(url) {
        Some(public_id) => super::statements::find_published(services, &public_id).await,
        None => Ok(None),
    }
}

/// The row id and public id of the published statement of ours at `url`:
/// all the undoing of a reaction needs — one light query, not the
/// statement with its text and signatories.
async fn our_statement_id(services: &Services, url: &Url) -> ServiceResult<Option<(i64, String)>> {
    match services.urls.statement_id_of(url) {
        Some(public_id) => Ok(services
            .store
            .published_statement_id(&public_id)
            .await?
            .map(|id| (id, public_id))),
        None => Ok(None),
    }
}

/// A `Like` or `Announce`: counted once per actor and statement, however
/// often it arrives, and whether or not the actor follows anyone here.
pub async fn reacted(
    services: &Services,
    sender: Sender<'_>,
    activity: &Url,
    reaction: Reaction,
    object: &Url,
) -> ServiceResult<()> {
    let Some(public_id) = services.urls.statement_id_of(object) else {
        tracing::info!(kind = reaction.as_str(), object = %object, "reaction to something not ours ignored");
        return Ok(());
    };
    // Stored only if `public_id` is a published statement of ours.
    let fresh = services
        .store
        .record_reaction(&public_id, reaction.as_str(), sender.row, activity.as_str())
        .await?;
    tracing::info!(statement = %public_id, kind = reaction.as_str(), actor = %sender.actor, fresh, "reaction received");
    Ok(())
}

/// `Undo{Like}` / `Undo{Announce}`: the sender's own, by the activity's
/// id or by the statement it names.
pub async fn unreacted(
    services: &Services,
    sender: Sender<'_>,
    reaction: Option<Reaction>,
    activity: Option<&Url>,
    object: Option<&Url>,
) -> ServiceResult<()> {
    let statement = match object {
        Some(object) => our_statement_id(services, object).await?.map(|(id, _)| id),
        None => None,
    };
    let removed = services
        .store
        .remove_reaction(
            sender.row,
            reaction.map(Reaction::as_str),
            activity.map(Url::as_str).unwrap_or_default(),
            statement,
        )
        .await?;
    tracing::info!(actor = %sender.actor, removed, "reaction undone");
    Ok(())
}

/// `Undo` naming only an activity id: whichever of the sender's follows,
/// reactions or blocks it was.
pub async fn undone(services: &Services, sender: Sender<'_>, activity: &Url) -> ServiceResult<()> {
    super::follows::follow_undone(services, sender.actor, Some(activity), None).await?;
    services
        .store
        .remove_reaction(sender.row, None, activity.as_str(), None)
        .await?;
    services
        .store
        .remove_remote_block(sender.row, activity.as_str(), None)
        .await?;
    Ok(())
}

/// Another server's HTML in our subset. Linear since nesting is capped
/// (`html`), but a megabyte of it still takes milliseconds: off the async
/// threads, which serve everyone else meanwhile.
async fn sanitized(remote_html: &str) -> ServiceResult<String> {
    let remote_html = remote_html.to_string();
    tokio::task::spawn_blocking(move || html::sanitize(&remote_html))
        .await
        .map_err(|err| super::ServiceError::Internal(err.into()))
}

/// A `Create` or `Update` of a post by the sender. A reply to one of our
/// statements is stored, sanitised, pending or approved; an edit changes
/// the sender's own reply or quoting post.
pub async fn posted(
    services: &Services,
    sender: Sender<'_>,
    post: &Post,
    edited: bool,
) -> ServiceResult<()> {
    let content = sanitized(&post.content).await?;
    let summary = post.summary.as_deref().map(html::escape);
    if edited
        && services
            .store
            .edit_post(sender.row, post.id.as_str(), &content, summary.as_deref())
            .await?
    {
        tracing::info!(post = %post.id, "reply or quote edited");
        return Ok(());
    }
    let Some(target) = &post.in_reply_to else {
        return Ok(());
    };
    let Some(statement) = our_statement(services, target).await? else {
        return Ok(());
    };
    let approved = services.approve_replies || statement.lead().profile.approve_replies;
    let published = post
        .published
        .map(|d| d.timestamp_millis())
        .unwrap_or_else(crate::clock::now_ms);
    let fresh = services
        .store
        .record_reply(NewReply {
            statement_id: statement.id,
            actor_id: sender.row,
            object_id: post.id.as_str(),
            url: post.url.as_ref().map(Url::as_str),
            content: &content,
            summary: summary.as_deref(),
            language: post.language.as_deref(),
            state: if approved {
                ReplyState::Approved
            } else {
                ReplyState::Pending
            },
            published_at: published,
        })
        .await?;
    tracing::info!(statement = %statement.public_id, reply = %post.id, fresh, approved, "reply received");
    Ok(())
}

/// A `Delete` of a post: the sender's own reply or quoting post goes.
pub async fn deleted(services: &Services, sender: Sender<'_>, object: &Url) -> ServiceResult<()> {
    if services
        .store
        .delete_post(sender.row, object.as_str())
        .await?
    {
        tracing::info!(post = %object, "reply or quote deleted by its author");
    }
    Ok(())
}

/// A `QuoteRequest`: answered at once, signed by the lead, with an Accept
/// whose `result` is the authorisation we then serve — or a Reject when
/// the statement's policy does not admit the sender (docs/interop.md §13).
/// The quote and its Accept commit together.
pub async fn quote_requested(
    services: &Services,
    sender: Sender<'_>,
    request: &Url,
    object: &Url,
    instrument: &Post,
) -> ServiceResult<()> {
    let Some(statement) = our_statement(services, object).await? else {
        return Ok(());
    };
    let lead = statement.lead();
    let admitted = match statement.content.quote_policy {
        QuotePolicy::Anyone => true,
        QuotePolicy::Followers => services
            .store
            .follow_of(lead.id, sender.actor.as_str())
            .await?
            .is_some_and(|f| f.state == FollowerState::Accepted),
        QuotePolicy::Nobody => false,
    };
    let to_sender = |activity| {
        vec![(
            Outgoing {
                organisation_id: lead.id,
                statement_id: Some(statement.id),
                activity,
            },
            vec![sender.inbox.to_string()],
        )]
    };
    if !admitted {
        let reject = statement::reject_quote(
            &statement,
            request.as_str(),
            sender.actor.as_str(),
            &services.urls,
        );
        services.outbox.send_all(None, to_sender(reject)).await?;
        tracing::info!(statement = %statement.public_id, quoter = %sender.actor, "quote refused by the statement's policy");
        return Ok(());
    }
    let public_id = uuid::Uuid::now_v7().to_string();
    let accept = statement::accept_quote(
        &statement,
        request.as_str(),
        sender.actor.as_str(),
        &public_id,
        &services.urls,
    );
    let (fresh, _) = services
        .outbox
        .send_all(
            Some(Transition::AcceptQuote {
                public_id,
                statement_id: statement.id,
                actor_id: sender.row,
                request_id: request.to_string(),
                object_id: instrument.id.to_string(),
                url: instrument.url.as_ref().map(Url::to_string),
                content: sanitized(&instrument.content).await?,
            }),
            to_sender(accept),
        )
        .await?;
    tracing::info!(statement = %statement.public_id, quote = %instrument.id, fresh, "quote accepted");
    Ok(())
}

/// A `Flag` from another server's moderators about our organisations or
/// statements: stored as an open report.
pub async fn flagged(
    services: &Services,
    sender: Sender<'_>,
    activity: &Url,
    objects: &[Url],
    content: &str,
) -> ServiceResult<()> {
    let mut organisation = None;
    let mut statements = Vec::new();
    for object in objects {
        if let Some(handle) = services.urls.handle_of(object) {
            if organisation.is_none()
                && let Ok(org) = services.store.organisation(&handle).await
            {
                organisation = Some(org);
            }
        } else if let Some(found) = our_statement(services, object).await? {
            if organisation.is_none() {
                organisation = Some(found.lead().clone());
            }
            statements.push(found.public_id);
        }
    }
    let Some(organisation) = organisation else {
        return Ok(());
    };
    let fresh = services
        .store
        .record_report(
            activity.as_str(),
            sender.row,
            sender.actor.as_str(),
            organisation.id,
            content,
            &serde_json::to_string(&statements).expect("ids serialise"),
        )
        .await?;
    tracing::info!(organisation = %organisation.handle, reporter = %sender.actor, fresh, "report received");
    Ok(())
}

/// A `Block` of one of our organisations: recorded, and the sender's
/// follow of it ends, so it gets nothing from the organisation any more.
pub async fn blocked(
    services: &Services,
    sender: Sender<'_>,
    activity: &Url,
    object: &Url,
) -> ServiceResult<()> {
    let Some(handle) = services.urls.handle_of(object) else {
        return Ok(());
    };
    let Ok(org) = services.store.organisation(&handle).await else {
        return Ok(());
    };
    services
        .store
        .record_remote_block(org.id, sender.row, activity.as_str())
        .await?;
    tracing::info!(organisation = %org.handle, actor = %sender.actor, "blocked by a remote actor");
    Ok(())
}

/// `Undo{Block}`: the sender's own block, by its id or the organisation.
pub async fn unblocked(
    services: &Services,
    sender: Sender<'_>,
    activity: Option<&Url>,
    object: Option<&Url>,
) -> ServiceResult<()> {
    let organisation = match object.and_then(|o| services.urls.handle_of(o)) {
        Some(handle) => services
            .store
            .organisation(&handle)
            .await
            .ok()
            .map(|o| o.id),
        None => None,
    };
    services
        .store
        .remove_remote_block(
            sender.row,
            activity.map(Url::as_str).unwrap_or_default(),
            organisation,
        )
        .await?;
    Ok(())
}
