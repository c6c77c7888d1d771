//! Statements, from draft to deletion: write, schedule, publish (the
//! lead's Create, each co-signer's Announce), edit (Update), add a
//! signatory (Announce + Update), pin, delete (Delete), and the scheduler
//! for statements with a `publish_at`.
//!
//! Every change that goes out commits in the transaction that queues its
//! activities, so a statement is never published twice (two processes
//! racing on a scheduled one) nor marked published without them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{ServiceError, ServiceResult, Services, media, named, organisations};
/// The request types are the statement's own (`statements` owns its fields).
pub use crate::statements::{Changes, Draft};
use crate::{
    clock::{from_ms, now_ms},
    delivery::Outgoing,
    organisations::{Invalid, Organisation},
    statements::{Change, MAX_SIGNATORIES, State, Statement, ValidContent, parse_publish_at},
    store::{NewStatement, StatementFilter, StoreError, StoreResult, Transition},
    vocabulary::{Activity, statement},
};

/// How a draft reaches the fediverse when it is published.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Every follower of each signatory gets it.
    Followers,
    /// Nobody is sent anything: an archived statement, published at its
    /// original date, is only read where it is (pages, feeds, outboxes).
    Nobody,
}

/// What importing an archived statement did (or, in a dry run, would do).
pub enum Imported {
    /// Stored and published at its original date, sent to nobody.
    Created(Statement),
    /// A statement with this key exists already (perhaps deleted since):
    /// nothing changed.
    Unchanged(Statement),
    /// Dry run: valid, and would be created.
    WouldCreate,
}

/// Which statements a listing shows.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Listing {
    /// A signatory's handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// draft, scheduled, published or deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// How many, 1 to 200.
    #[serde(default = "super::default_limit")]
    #[param(default = super::default_limit)]
    pub limit: i64,
    /// How many to skip.
    #[serde(default)]
    pub offset: i64,
}

const CHANGED_MEANWHILE: &str = "the statement changed meanwhile; try again";

/// The statement `public_id`, unless it is deleted.
pub async fn find(services: &Services, public_id: &str) -> ServiceResult<Statement> {
    match services.store.statement(public_id).await {
        Ok(s) if s.state != State::Deleted => Ok(s),
        Ok(_) | Err(StoreError::NotFound) => {
            Err(ServiceError::NotFound(format!("no statement {public_id}")))
        }
        Err(err) => Err(err.into()),
    }
}

/// The statement `public_id` if it is published: what other servers may
/// see and react to.
pub async fn find_published(
    services: &Services,
    public_id: &str,
) -> ServiceResult<Option<Statement>> {
    match services.store.statement(public_id).await {
        Ok(s) if s.state == State::Published => Ok(Some(s)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The statement `public_id` in any state, deleted ones too (their
/// deliveries stay readable).
pub async fn find_any(services: &Services, public_id: &str) -> ServiceResult<Statement> {
    named(services.store.statement(public_id).await, || {
        format!("no statement {public_id}")
    })
}

/// The organisations named by `handles`, in order: each must exist, once.
async fn signatories(services: &Services, handles: &[String]) -> ServiceResult<Vec<Organisation>> {
    if handles.is_empty() {
        return Err(Invalid::new(
            "signatories",
            "at least one signatory (the lead) is required",
        )
        .into());
    }
    if handles.len() > MAX_SIGNATORIES {
        return Err(Invalid::new("signatories", format!("at most {MAX_SIGNATORIES}")).into());
    }
    let mut found: Vec<Organisation> = Vec::with_capacity(handles.len());
    for (i, handle) in handles.iter().enumerate() {
        let org = match services.store.organisation(handle).await {
            Ok(org) => org,
            Err(StoreError::NotFound) => {
                return Err(Invalid::new(
                    format!("signatories[{i}]"),
                    format!("no organisation {handle}"),
                )
                .into());
            }
            Err(err) => return Err(err.into()),
        };
        if found.iter().any(|o| o.id == org.id) {
            return Err(Invalid::new(
                format!("signatories[{i}]"),
                format!("{handle} is listed twice"),
            )
            .into());
        }
        found.push(org);
    }
    Ok(found)
}

async fn signatory_ids(services: &Services, handles: &[String]) -> ServiceResult<Vec<i64>> {
    Ok(signatories(services, handles)
        .await?
        .iter()
        .map(|org| org.id)
        .collect())
}

/// What followers will see of a draft, stored nowhere: the HTML the server
/// federates (Mastodon's subset, built by `vocabulary::statement`), and the
/// content warning their client shows in front of it.
pub struct Preview {
    pub content_html: String,
    pub content_warning: Option<String>,
    pub lead: Organisation,
}

pub async fn preview(services: &Services, draft: &Draft) -> ServiceResult<Preview> {
    let mut content = draft.content().validate()?;
    content.media = media::attachments(services, &draft.media, None).await?;
    let signed = signatories(services, &draft.signatories).await?;
    let now = now_ms();
    let statement = Statement {
        id: 0,
        public_id: "preview".into(),
        content,
        state: State::Draft,
        publish_at: None,
        published_at: Some(now),
        edited_at: None,
        created_at: now,
        updated_at: now,
        signatories: signed,
    };
    Ok(Preview {
        content_html: statement::content_html(&statement, &services.urls, &services.disclaimer),
        content_warning: statement.content.content_warning.clone(),
        lead: statement.lead().clone(),
    })
}

/// Writes a new statement: a draft, scheduled with `publish_at`, or
/// published at once with `publish`.
pub async fn create(services: &Services, draft: Draft) -> ServiceResult<Statement> {
    let mut content = draft.content().validate()?;
    let signatory_ids = signatory_ids(services, &draft.signatories).await?;
    let publish_at = draft
        .publish_at
        .as_deref()
        .map(parse_publish_at)
        .transpose()?;
    if draft.publish && publish_at.is_some() {
        return Err(
            Invalid::new("publish_at", "give either publish or publish_at, not both").into(),
        );
    }
    content.media = media::attachments(services, &draft.media, None).await?;
    if draft.publish || publish_at.is_some() {
        media::check_alt(&content.media, draft.allow_missing_alt)?;
    }
    let created = services
        .store
        .create_statement(NewStatement {
            public_id: &uuid::Uuid::now_v7().to_string(),
            content: &content,
            state: if publish_at.is_some() {
                State::Scheduled
            } else {
                State::Draft
            },
            publish_at,
            signatory_ids: &signatory_ids,
            import_key: None,
        })
        .await?;
    tracing::info!(statement = %created.public_id, "statement created");
    if !draft.publish {
        return Ok(created);
    }
    publish_new(services, created, now_ms(), Audience::Followers).await
}

/// The longest archive key: a file name's stem.
pub const MAX_IMPORT_KEY_LEN: usize = 100;

/// Brings in a statement from an archive under `key` (stable across runs,
/// e.g. its file's name): published at its `original_date`, so it shows on
/// the site, in feeds and in its signatories' outboxes where its date puts
/// it, but sent to nobody — an old post misses home feeds anyway
/// (INTEROP §4), and a thousand of them would be a thousand notifications.
/// Importing a key again changes nothing. With `dry_run`, everything is
/// checked and nothing stored.
pub async fn import(
    services: &Services,
    key: &str,
    draft: Draft,
    dry_run: bool,
) -> ServiceResult<Imported> {
    let key_is_valid = !key.is_empty()
        && key.len() <= MAX_IMPORT_KEY_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !key.starts_with('.');
    if !key_is_valid {
        return Err(Invalid::new(
            "key",
            format!("must be 1 to {MAX_IMPORT_KEY_LEN} letters, digits, '-', '_' or '.', not starting with '.'"),
        )
        .into());
    }
    if draft.publish || draft.publish_at.is_some() {
        let field = if draft.publish {
            "publish"
        } else {
            "publish_at"
        };
        return Err(Invalid::new(
            field,
            "an imported statement is published at its original_date; leave this out",
        )
        .into());
    }
    let mut content = draft.content().validate()?;
    let at = original_instant(content.original_date.as_deref())?;
    let signatory_ids = signatory_ids(services, &draft.signatories).await?;
    content.media = media::attachments(services, &draft.media, None).await?;
    media::check_alt(&content.media, draft.allow_missing_alt)?;
    if let Some(existing) = services.store.statement_by_import_key(key).await? {
        return Ok(Imported::Unchanged(existing));
    }
    if dry_run {
        return Ok(Imported::WouldCreate);
    }
    let created = services
        .store
        .create_statement(NewStatement {
            public_id: &uuid::Uuid::now_v7().to_string(),
            content: &content,
            state: State::Draft,
            publish_at: None,
            signatory_ids: &signatory_ids,
            import_key: Some(key),
        })
        .await;
    let created = match created {
        Ok(created) => created,
        // Another import of the same key got there first.
        Err(StoreError::Conflict) => match services.store.statement_by_import_key(key).await? {
            Some(existing) => return Ok(Imported::Unchanged(existing)),
            None => return Err(ServiceError::Conflict(CHANGED_MEANWHILE.into())),
        },
        Err(err) => return Err(err.into()),
    };
    let published = publish_new(services, created, at, Audience::Nobody).await?;
    tracing::info!(statement = %published.public_id, key, "statement imported");
    Ok(Imported::Created(published))
}

/// When an imported statement was published: its `original_date` (a date
/// is taken at midnight UTC), which must be given and past.
fn original_instant(original_date: Option<&str>) -> ServiceResult<i64> {
    let Some(date) = original_date else {
        return Err(Invalid::new(
            "original_date",
            "an imported statement needs the date it was first published",
        )
        .into());
    };
    let at = match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(day) => day
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis(),
        Err(_) => chrono::DateTime::parse_from_rfc3339(date)
            .map_err(|_| Invalid::new("original_date", "must be a date such as 2022-01-13"))?
            .timestamp_millis(),
    };
    if at > now_ms() {
        return Err(Invalid::new(
            "original_date",
            "is in the future: schedule it with publish_at instead",
        )
        .into());
    }
    Ok(at)
}

/// Publishes a statement created a moment ago. The draft and its
/// publication are two transactions (the activities need the stored
/// statement); a failed publication takes the draft back, so the refused
/// request leaves nothing behind.
async fn publish_new(
    services: &Services,
    created: Statement,
    at: i64,
    audience: Audience,
) -> ServiceResult<Statement> {
    if let Err(err) = publish(services, &created, at, audience).await {
        if let Err(discard) = services.store.discard_statement(created.id).await {
            tracing::error!(statement = %created.public_id, error = %discard, "could not take back a draft whose publication failed");
        }
        return Err(err.into());
    }
    Ok(services.store.statement_by_id(created.id).await?)
}

/// Statements by signatory and state, newest first.
pub async fn list(services: &Services, listing: Listing) -> ServiceResult<Vec<Statement>> {
    let paging = super::Paging {
        limit: listing.limit,
        offset: listing.offset,
    }
    .check()?;
    let state = match listing.status.as_deref() {
        None => None,
        Some(s) => Some(State::parse(s).ok_or_else(|| {
            Invalid::new("status", "must be draft, scheduled, published or deleted")
        })?),
    };
    let organisation_id = match &listing.organisation {
        Some(handle) => Some(organisations::find(services, handle).await?.id),
        None => None,
    };
    Ok(services
        .store
        .statements(&StatementFilter {
            organisation_id,
            state,
            tag: None,
            limit: paging.limit,
            offset: paging.offset,
        })
        .await?)
}

/// Applies `changes`; a published statement's edit goes out as an Update.
pub async fn update(
    services: &Services,
    public_id: &str,
    changes: Changes,
) -> ServiceResult<Statement> {
    let current = find(services, public_id).await?;
    if current.state == State::Published
        && changes
            .format
            .as_deref()
            .is_some_and(|f| f != current.content.format.as_str())
    {
        // Mastodon before 4.5 ignores Update{Article}: the change would
        // silently freeze the statement on those servers.
        return Err(Invalid::new("format", "cannot change once the statement is published").into());
    }
    let mut content = changes.apply(&current.content).validate()?;
    content.media = match &changes.media {
        Some(ids) => media::attachments(services, ids, Some(current.id)).await?,
        None => current.content.media.clone(),
    };
    let publish_at = match &changes.publish_at {
        Some(Some(at)) => Some(Some(parse_publish_at(at)?)),
        Some(None) => Some(None),
        None => None,
    };
    if publish_at.is_some() && current.state == State::Published {
        return Err(Invalid::new("publish_at", "the statement is already published").into());
    }
    let goes_out = match publish_at {
        Some(at) => at.is_some(),
        None => current.state != State::Draft,
    };
    if goes_out && (changes.media.is_some() || publish_at.is_some()) {
        media::check_alt(&content.media, changes.allow_missing_alt)?;
    }
    if !edit(services, &current, content, publish_at).await? {
        return Err(ServiceError::Conflict(CHANGED_MEANWHILE.into()));
    }
    Ok(services.store.statement_by_id(current.id).await?)
}

/// Publishes a draft or scheduled statement now.
pub async fn publish_now(
    services: &Services,
    public_id: &str,
    allow_missing_alt: bool,
) -> ServiceResult<Statement> {
    let statement = find(services, public_id).await?;
    if statement.state != State::Published {
        media::check_alt(&statement.content.media, allow_missing_alt)?;
    }
    if statement.state == State::Published
        || !publish(services, &statement, now_ms(), Audience::Followers).await?
    {
        return Err(ServiceError::Conflict(
            "the statement is already published".into(),
        ));
    }
    Ok(services.store.statement_by_id(statement.id).await?)
}

/// Withdraws a statement: a published one with a Delete to everyone who
/// has it (its URL answers 404 from then on); one that never went out is
/// simply discarded.
pub async fn withdraw(services: &Services, public_id: &str) -> ServiceResult<()> {
    let statement = find(services, public_id).await?;
    if !delete(services, &statement).await? {
        return Err(ServiceError::Conflict(CHANGED_MEANWHILE.into()));
    }
    tracing::info!(statement = %public_id, "statement deleted");
    Ok(())
}

/// Adds `handle` at the end of the signatories. On a published statement
/// the new signatory Announces it and everyone who has it gets an Update
/// with the new list, in the transaction that adds it.
pub async fn add_signatory(
    services: &Services,
    public_id: &str,
    handle: &str,
) -> ServiceResult<Statement> {
    let current = find(services, public_id).await?;
    let signer = match services.store.organisation(handle).await {
        Ok(org) => org,
        Err(StoreError::NotFound) => {
            return Err(Invalid::new("handle", format!("no organisation {handle}")).into());
        }
        Err(err) => return Err(err.into()),
    };
    if current.signatories.iter().any(|s| s.id == signer.id) {
        return Err(Invalid::new("handle", format!("{} has signed already", signer.handle)).into());
    }
    let at = now_ms();
    let mut signed = current.clone();
    signed.signatories.push(signer.clone());
    signed.updated_at = at;
    let mut activities = Vec::new();
    if current.state == State::Published {
        signed.edited_at = Some(at);
        let followers = services.store.follower_inboxes(&[signer.id]).await?;
        let announce = statement::announce(&signed, &signer, &services.urls, from_ms(at));
        let mut reached = services.store.statement_inboxes(current.id).await?;
        reached.extend(followers.iter().cloned());
        let update = statement::update(&signed, &services.urls, &services.disclaimer);
        activities.push((outgoing(&signed, &signer, announce), followers));
        activities.push((outgoing(&signed, signed.lead(), update), reached));
    }
    let (done, _) = services
        .outbox
        .send_all(
            Some(Transition::AddSignatory {
                statement_id: current.id,
                expected: current.state,
                organisation_id: signer.id,
                at,
            }),
            activities,
        )
        .await?;
    if !done {
        return Err(ServiceError::Conflict(CHANGED_MEANWHILE.into()));
    }
    tracing::info!(statement = %public_id, signatory = %signer.handle, "signatory added");
    Ok(services.store.statement_by_id(current.id).await?)
}

/// Pins a published statement to its lead's profile (`featured`).
pub async fn pin(services: &Services, handle: &str, public_id: &str) -> ServiceResult<()> {
    let org = organisations::find(services, handle).await?;
    let statement = match services.store.statement(public_id).await {
        Ok(s) if s.state == State::Published => s,
        Ok(_) => {
            return Err(
                Invalid::new("statement", "only published statements can be pinned").into(),
            );
        }
        Err(StoreError::NotFound) => {
            return Err(Invalid::new("statement", format!("no statement {public_id}")).into());
        }
        Err(err) => return Err(err.into()),
    };
    // Mastodon keeps only an account's own posts in its featured collection,
    // and a statement is the lead's post (co-signers boost it).
    if statement.lead().id != org.id {
        return Err(Invalid::new(
            "statement",
            format!("only its lead signatory can pin it, and {handle} is not"),
        )
        .into());
    }
    services.store.pin(org.id, statement.id).await?;
    Ok(())
}

/// Unpins; `NotFound` if it was not pinned.
pub async fn unpin(services: &Services, handle: &str, public_id: &str) -> ServiceResult<()> {
    let org = organisations::find(services, handle).await?;
    let statement = find(services, public_id).await?;
    if services.store.unpin(org.id, statement.id).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound("not pinned".into()))
    }
}

fn outgoing(statement: &Statement, signer: &Organisation, activity: Activity) -> Outgoing {
    Outgoing {
        organisation_id: signer.id,
        statement_id: Some(statement.id),
        activity,
    }
}

/// Publishes a draft or scheduled statement at `at` (now, or an imported
/// statement's original date) to `audience`. `false` if it was not in a
/// publishable state (already published by someone else, or deleted).
async fn publish(
    services: &Services,
    statement: &Statement,
    at: i64,
    audience: Audience,
) -> StoreResult<bool> {
    let mut published = statement.clone();
    published.published_at = Some(at);
    published.state = State::Published;
    let disclaimer = &services.disclaimer;
    let inboxes = |signer: &Organisation| {
        let signer = signer.id;
        async move {
            match audience {
                Audience::Followers => services.store.follower_inboxes(&[signer]).await,
                Audience::Nobody => Ok(Vec::new()),
            }
        }
    };
    let lead = published.lead();
    let mut activities = vec![(
        outgoing(
            &published,
            lead,
            statement::create(&published, &services.urls, disclaimer),
        ),
        inboxes(lead).await?,
    )];
    for signer in published.co_signers() {
        activities.push((
            outgoing(
                &published,
                signer,
                statement::announce(&published, signer, &services.urls, from_ms(at)),
            ),
            inboxes(signer).await?,
        ));
    }
    let (done, queued) = services
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
async fn edit(
    services: &Services,
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
        let inboxes = services.store.statement_inboxes(current.id).await?;
        let update = statement::update(&edited, &services.urls, &services.disclaimer);
        activities.push((outgoing(&edited, edited.lead(), update), inboxes));
    }
    let (done, queued) = services
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

/// Deletes a statement: a published one sends a Delete to every inbox that
/// received it; one that never went out is simply discarded.
async fn delete(services: &Services, statement: &Statement) -> StoreResult<bool> {
    match statement.state {
        State::Published => {
            let inboxes = services.store.statement_inboxes(statement.id).await?;
            let delete = statement::delete(statement, &services.urls);
            let (done, _) = services
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
        State::Draft | State::Scheduled => services.store.discard_statement(statement.id).await,
        State::Deleted => Ok(false),
    }
}

/// How often the scheduler looks for statements whose time has come.
const SCHEDULER_INTERVAL: Duration = Duration::from_secs(1);
/// The media sweep runs every this many scheduler turns (5 s).
const MEDIA_SWEEP_EVERY: u64 = 5;

/// Publishes scheduled statements when their time comes, also those that
/// fell due while no process was running. Safe to run in every process.
/// Also sweeps media nothing needs any more, every `MEDIA_SWEEP_EVERY` turns.
pub async fn run_scheduler(services: Services, mut shutdown: watch::Receiver<bool>) {
    let mut turn: u64 = 0;
    loop {
        if turn.is_multiple_of(MEDIA_SWEEP_EVERY) {
            media::sweep(&services).await;
        }
        turn += 1;
        match services.store.due_statements(now_ms()).await {
            Ok(due) => {
                for public_id in due {
                    let result = match services.store.statement(&public_id).await {
                        Ok(statement) => {
                            publish(&services, &statement, now_ms(), Audience::Followers).await
                        }
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
