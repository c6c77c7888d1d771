//! The publishing service: publish (the lead's Create, each co-signer's
//! Announce), edit (Update), add a signatory (Announce + Update), delete
//! (Delete), and the scheduler for statements with a `publish_at`.
//!
//! Publishing and deleting change the statement's state in the same
//! transaction that queues their activities, so a statement is never
//! published twice (two processes racing on a scheduled one) nor marked
//! published without its activities.

use std::time::Duration;

use tokio::sync::watch;

use crate::{
    activity::Activity,
    clock::{from_ms, now_ms},
    delivery::{Outbox, Outgoing},
    organisations::Organisation,
    statements::{Change, State, Statement, ValidContent, document},
    store::{Store, StoreResult, Transition},
    urls::Urls,
};

/// What publishing needs, and nothing more: the store, the outbox, our
/// URLs and the instance's default disclaimer. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    pub store: Store,
    pub outbox: Outbox,
    pub urls: Urls,
    pub disclaimer: String,
}

fn outgoing(statement: &Statement, signer: &Organisation, activity: Activity) -> Outgoing {
    Outgoing {
        organisation_id: signer.id,
        statement_id: Some(statement.id),
        activity,
    }
}

/// Publishes a draft or scheduled statement now. `false` if it was not in
/// a publishable state (already published by someone else, or deleted).
pub async fn publish(publisher: &Publisher, statement: &Statement) -> StoreResult<bool> {
    let at = now_ms();
    let mut published = statement.clone();
    published.published_at = Some(at);
    published.state = State::Published;
    let disclaimer = &publisher.disclaimer;
    let lead = published.lead();
    let mut activities = vec![(
        outgoing(
            &published,
            lead,
            document::create(&published, &publisher.urls, disclaimer),
        ),
        publisher.store.follower_inboxes(&[lead.id]).await?,
    )];
    for signer in published.co_signers() {
        activities.push((
            outgoing(
                &published,
                signer,
                document::announce(&published, signer, &publisher.urls, from_ms(at)),
            ),
            publisher.store.follower_inboxes(&[signer.id]).await?,
        ));
    }
    let (done, queued) = publisher
        .outbox
        .send_all(
            Some(Transition::Publish {
                statement_id: statement.id,
                at,
            }),
            activities,
        )
        .await?;
    if done {
        tracing::info!(statement = %statement.public_id, deliveries = queued, "statement published");
    }
    Ok(done)
}

/// Edits a statement: its new content (and, for one not yet published,
/// perhaps a new `publish_at`) and, if it is published, the Update to every
/// inbox that received it, in one transaction. `false` if the statement
/// changed state meanwhile: then nothing was stored or sent.
pub async fn edit(
    publisher: &Publisher,
    current: &Statement,
    content: ValidContent,
    publish_at: Option<Option<i64>>,
) -> StoreResult<bool> {
    if !current.state.allows(Change::Edit)
        || (publish_at.is_some() && !current.state.allows(Change::Reschedule))
    {
        return Ok(false);
    }
    let at = now_ms();
    let mut activities = Vec::new();
    if current.state == State::Published {
        let edited = Statement {
            edited_at: Some(at),
            updated_at: at,
            ..current.with_content(&content)
        };
        let inboxes = publisher.store.statement_inboxes(current.id).await?;
        let update = document::update(&edited, &publisher.urls, &publisher.disclaimer);
        activities.push((outgoing(&edited, edited.lead(), update), inboxes));
    }
    let (done, queued) = publisher
        .outbox
        .send_all(
            Some(Transition::Edit {
                statement_id: current.id,
                expected: current.state,
                content: Box::new(content),
                publish_at,
                at,
            }),
            activities,
        )
        .await?;
    if done {
        tracing::info!(statement = %current.public_id, deliveries = queued, "statement edited");
    }
    Ok(done)
}

/// A signatory added to a published statement announces it to its
/// followers, and everyone who has the statement gets the new list.
pub async fn signatory_added(
    publisher: &Publisher,
    statement: &Statement,
    signer: &Organisation,
) -> StoreResult<()> {
    if statement.state != State::Published {
        return Ok(());
    }
    let followers = publisher.store.follower_inboxes(&[signer.id]).await?;
    let announce = document::announce(statement, signer, &publisher.urls, chrono::Utc::now());
    let mut reached = publisher.store.statement_inboxes(statement.id).await?;
    reached.extend(followers.iter().cloned());
    let update = document::update(statement, &publisher.urls, &publisher.disclaimer);
    publisher
        .outbox
        .send_all(
            None,
            vec![
                (outgoing(statement, signer, announce), followers),
                (outgoing(statement, statement.lead(), update), reached),
            ],
        )
        .await?;
    Ok(())
}

/// Deletes a statement: a published one sends a Delete to every inbox that
/// received it; one that never went out is simply discarded.
pub async fn delete(publisher: &Publisher, statement: &Statement) -> StoreResult<bool> {
    match statement.state {
        State::Published => {
            let inboxes = publisher.store.statement_inboxes(statement.id).await?;
            let delete = document::delete(statement, &publisher.urls);
            let (done, _) = publisher
                .outbox
                .send_all(
                    Some(Transition::Delete {
                        statement_id: statement.id,
                    }),
                    vec![(outgoing(statement, statement.lead(), delete), inboxes)],
                )
                .await?;
            Ok(done)
        }
        State::Draft | State::Scheduled => publisher.store.discard_statement(statement.id).await,
        State::Deleted => Ok(false),
    }
}

/// How often the scheduler looks for statements whose time has come.
const SCHEDULER_INTERVAL: Duration = Duration::from_secs(1);

/// Publishes scheduled statements when their time comes, also those that
/// fell due while no process was running. Safe to run in every process.
pub async fn run_scheduler(publisher: Publisher, mut shutdown: watch::Receiver<bool>) {
    loop {
        match publisher.store.due_statements(now_ms()).await {
            Ok(due) => {
                for public_id in due {
                    let result = match publisher.store.statement(&public_id).await {
                        Ok(statement) => publish(&publisher, &statement).await,
                        Err(err) => Err(err),
                    };
                    if let Err(err) = result {
                        tracing::error!(statement = %public_id, error = %err, "scheduled publication failed");
                    }
                }
            }
            Err(err) => tracing::error!(error = %err, "looking for scheduled statements failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SCHEDULER_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}
