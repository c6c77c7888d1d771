//! The editor's side of reactions: who boosted, liked and quoted a
//! statement; the queue of replies (pending → approved or hidden); quotes
//! and their revocation; reports from other servers and their resolution;
//! the remote actors that block our organisations.

use serde::Deserialize;

use super::{Paging, ServiceError, ServiceResult, Services, statements};
use crate::{
    delivery::Outgoing,
    organisations::Invalid,
    store::{
        Quote, QuoteState, ReactionCounts, ReactionRow, RemoteBlock, Reply, ReplyState, Report,
        ReportState, Transition,
    },
    vocabulary::statement,
};

/// Counts and the people behind them, for one statement.
pub struct Reactions {
    pub counts: ReactionCounts,
    /// A page of the boosts, newest first.
    pub boosts: Vec<ReactionRow>,
    /// A page of the likes, newest first.
    pub likes: Vec<ReactionRow>,
    /// A page of the quotes, newest first.
    pub quotes: Vec<Quote>,
}

/// A statement's reactions, a page of each list.
pub async fn reactions(
    services: &Services,
    public_id: &str,
    paging: Paging,
) -> ServiceResult<Reactions> {
    let paging = paging.check()?;
    let found = statements::find_any(services, public_id).await?;
    let store = &services.store;
    Ok(Reactions {
        counts: store.reaction_counts(found.id).await?,
        boosts: store
            .reactions(found.id, "boost", paging.limit, paging.offset)
            .await?,
        likes: store
            .reactions(found.id, "like", paging.limit, paging.offset)
            .await?,
        quotes: store
            .quotes(Some(found.id), paging.limit, paging.offset)
            .await?,
    })
}

/// Which replies to list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplyListing {
    /// pending, approved or hidden.
    pub status: Option<String>,
    /// A statement's id.
    pub statement: Option<String>,
    /// How many, 1 to 200.
    #[serde(default = "super::default_limit")]
    #[param(default = super::default_limit)]
    pub limit: i64,
    /// How many to skip.
    #[serde(default)]
    pub offset: i64,
}

pub async fn replies(services: &Services, listing: ReplyListing) -> ServiceResult<Vec<Reply>> {
    let paging = Paging {
        limit: listing.limit,
        offset: listing.offset,
    }
    .check()?;
    let status = match listing.status.as_deref().map(str::parse::<ReplyState>) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => {
            return Err(Invalid::new("status", "must be pending, approved or hidden").into());
        }
    };
    let statement = match &listing.statement {
        Some(id) => Some(statements::find_any(services, id).await?.id),
        None => None,
    };
    Ok(services
        .store
        .replies(status, statement, paging.limit, paging.offset)
        .await?)
}

fn no_reply(id: i64) -> ServiceError {
    ServiceError::NotFound(format!("no reply {id}"))
}

/// Approves (shown, listed in `replies`) or hides a reply.
pub async fn moderate_reply(services: &Services, id: i64, approve: bool) -> ServiceResult<Reply> {
    let state = if approve {
        ReplyState::Approved
    } else {
        ReplyState::Hidden
    };
    if !services.store.set_reply_state(id, state).await? {
        return Err(no_reply(id));
    }
    tracing::info!(reply = id, state = state.as_str(), "reply moderated");
    super::named(services.store.reply(id).await, || format!("no reply {id}"))
}

pub async fn delete_reply(services: &Services, id: i64) -> ServiceResult<()> {
    if !services.store.delete_reply(id).await? {
        return Err(no_reply(id));
    }
    tracing::info!(reply = id, "reply deleted");
    Ok(())
}

/// Which quotes to list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuoteListing {
    /// A statement's id.
    pub statement: Option<String>,
    /// How many, 1 to 200.
    #[serde(default = "super::default_limit")]
    #[param(default = super::default_limit)]
    pub limit: i64,
    /// How many to skip.
    #[serde(default)]
    pub offset: i64,
}

pub async fn quotes(services: &Services, listing: QuoteListing) -> ServiceResult<Vec<Quote>> {
    let paging = Paging {
        limit: listing.limit,
        offset: listing.offset,
    }
    .check()?;
    let statement = match &listing.statement {
        Some(id) => Some(statements::find_any(services, id).await?.id),
        None => None,
    };
    Ok(services
        .store
        .quotes(statement, paging.limit, paging.offset)
        .await?)
}

/// Revokes a quote: its authorisation answers 410 from now on, and the
/// quoting server gets a `Delete` of it, in one transaction.
pub async fn revoke_quote(services: &Services, public_id: &str) -> ServiceResult<Quote> {
    let missing = || ServiceError::NotFound(format!("no quote {public_id}"));
    let quote = super::named(services.store.quote(public_id).await, || {
        format!("no quote {public_id}")
    })?;
    if quote.state != QuoteState::Accepted {
        return Err(ServiceError::Conflict(
            "the quote is revoked already".into(),
        ));
    }
    let quoted = services.store.statement_by_id(quote.statement_id).await?;
    let quoter = services
        .store
        .remote_actor(&quote.author.actor)
        .await?
        .ok_or_else(missing)?;
    let delete = statement::revoke_quote(
        &quoted,
        &quote.public_id,
        &quote.author.actor,
        &services.urls,
    );
    let (done, _) = services
        .outbox
        .send_all(
            Some(Transition::RevokeQuote { quote_id: quote.id }),
            vec![(
                Outgoing {
                    organisation_id: quoted.lead().id,
                    statement_id: Some(quoted.id),
                    activity: delete,
                },
                vec![quoter.delivery_inbox().to_string()],
            )],
        )
        .await?;
    if !done {
        return Err(ServiceError::Conflict(
            "the quote is revoked already".into(),
        ));
    }
    tracing::info!(quote = %public_id, "quote revoked");
    Ok(services.store.quote(public_id).await?)
}

/// Which reports to list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportListing {
    /// open or resolved.
    pub status: Option<String>,
    /// How many, 1 to 200.
    #[serde(default = "super::default_limit")]
    #[param(default = super::default_limit)]
    pub limit: i64,
    /// How many to skip.
    #[serde(default)]
    pub offset: i64,
}

pub async fn reports(services: &Services, listing: ReportListing) -> ServiceResult<Vec<Report>> {
    let paging = Paging {
        limit: listing.limit,
        offset: listing.offset,
    }
    .check()?;
    let status = match listing.status.as_deref().map(str::parse::<ReportState>) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => return Err(Invalid::new("status", "must be open or resolved").into()),
    };
    Ok(services
        .store
        .reports(status, paging.limit, paging.offset)
        .await?)
}

pub async fn resolve_report(services: &Services, id: i64) -> ServiceResult<()> {
    if !services.store.resolve_report(id).await? {
        return Err(ServiceError::NotFound(format!("no open report {id}")));
    }
    tracing::info!(report = id, "report resolved");
    Ok(())
}

pub async fn blocks(services: &Services, paging: Paging) -> ServiceResult<Vec<RemoteBlock>> {
    let paging = paging.check()?;
    Ok(services
        .store
        .remote_blocks(paging.limit, paging.offset)
        .await?)
}
