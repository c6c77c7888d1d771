//! An organisation's outbox, followers, following and featured collections.
//!
//! Each is an `OrderedCollection` with `totalItems` (Mastodon's counts come
//! from it) and `first` (without it Mastodon hides the lists), paged with
//! `?page=N` as `OrderedCollectionPage`s.

use activitypub_federation::protocol::context::WithContext;
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::ActivityJson;
use crate::urls::Urls;
use crate::{
    error::AppError,
    organisations::Organisation,
    state::AppState,
    store::{FollowerState, QuoteState},
    vocabulary::activity::OUTBOX,
};

pub const PAGE_SIZE: i64 = 20;

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderedCollection {
    #[serde(rename = "type")]
    kind: &'static str,
    id: Url,
    total_items: i64,
    first: Url,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderedCollectionPage {
    #[serde(rename = "type")]
    kind: &'static str,
    id: Url,
    part_of: Url,
    total_items: i64,
    ordered_items: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev: Option<Url>,
}

/// The collection document, or one of its pages when `?page=N` is given.
/// The one function that builds collections.
fn collection(urls: &Urls, id: Url, total_items: i64, page: Option<(u64, Vec<Value>)>) -> Response {
    let document = match page {
        None => serde_json::to_value(OrderedCollection {
            kind: "OrderedCollection",
            first: urls.page(&id, 1),
            id,
            total_items,
        }),
        Some((number, items)) => {
            let has_more =
                (number as i64) * PAGE_SIZE < total_items && items.len() as i64 == PAGE_SIZE;
            serde_json::to_value(OrderedCollectionPage {
                kind: "OrderedCollectionPage",
                id: urls.page(&id, number),
                next: has_more.then(|| urls.page(&id, number + 1)),
                prev: (number > 1).then(|| urls.page(&id, number - 1)),
                part_of: id,
                total_items,
                ordered_items: items,
            })
        }
    }
    .expect("collections serialise");
    ActivityJson(WithContext::new_default(document)).into_response()
}

fn page_number(query: &PageQuery) -> Result<Option<u64>, AppError> {
    match query.page {
        Some(0) => Err(AppError::BadRequest("pages are numbered from 1".into())),
        Some(n) if n > 1_000_000 => Err(AppError::BadRequest("page out of range".into())),
        other => Ok(other),
    }
}

fn offset(page: u64) -> i64 {
    (page as i64 - 1) * PAGE_SIZE
}

async fn organisation(state: &AppState, handle: &str) -> Result<Organisation, AppError> {
    Ok(state.store.organisation(handle).await?)
}

/// `GET /organisations/{handle}/outbox`: the Create or Announce of every
/// published statement the organisation signed, newest first.
pub async fn outbox(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = page_number(&query)?;
    let org = organisation(&state, &handle).await?;
    let total = state
        .store
        .count_statement_activities(org.id, &OUTBOX)
        .await?;
    let items = match page {
        Some(n) => {
            let bodies = state
                .store
                .statement_activities(org.id, &OUTBOX, PAGE_SIZE, offset(n))
                .await?;
            let activities = bodies
                .iter()
                .map(|body| serde_json::from_str(body))
                .collect::<Result<Vec<serde_json::Value>, _>>()
                .map_err(anyhow::Error::from)?;
            Some((n, activities))
        }
        None => None,
    };
    Ok(collection(
        &state.urls,
        state.urls.outbox(&org.handle),
        total,
        items,
    ))
}

/// `GET /organisations/{handle}/followers`: the count always; the addresses
/// only when `public_follower_lists` is on.
pub async fn followers(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = page_number(&query)?;
    let org = organisation(&state, &handle).await?;
    let total = state
        .store
        .count_followers(org.id, FollowerState::Accepted)
        .await?;
    let items = match page {
        Some(n) if state.config.public_follower_lists => {
            let followers = state
                .store
                .followers(org.id, FollowerState::Accepted, PAGE_SIZE, offset(n))
                .await?;
            Some((
                n,
                followers
                    .into_iter()
                    .map(|f| Value::String(f.actor))
                    .collect(),
            ))
        }
        Some(n) => Some((n, Vec::new())),
        None => None,
    };
    Ok(collection(
        &state.urls,
        state.urls.followers(&org.handle),
        total,
        items,
    ))
}

/// `GET /organisations/{handle}/following`: organisations follow nobody.
pub async fn following(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = page_number(&query)?;
    let org = organisation(&state, &handle).await?;
    let items = page.map(|n| (n, Vec::new()));
    Ok(collection(
        &state.urls,
        state.urls.following(&org.handle),
        0,
        items,
    ))
}

/// `GET /organisations/{handle}/featured`: pinned statements.
pub async fn featured(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    let page = page_number(&query)?;
    let org = organisation(&state, &handle).await?;
    let total = state.store.count_featured_statements(org.id).await?;
    let items = match page {
        Some(n) => {
            let ids = state.store.featured(org.id, PAGE_SIZE, offset(n)).await?;
            let items = ids
                .iter()
                .map(|id| Value::String(state.urls.statement(id).into()))
                .collect();
            Some((n, items))
        }
        None => None,
    };
    Ok(collection(
        &state.urls,
        state.urls.featured(&org.handle),
        total,
        items,
    ))
}

/// A published statement of ours, or 404.
async fn published_statement(
    state: &AppState,
    public_id: &str,
) -> Result<crate::statements::Statement, AppError> {
    crate::services::statements::find_published(&state.services, public_id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no statement {public_id}")))
}

/// Which of a statement's collections.
#[derive(Clone, Copy)]
enum Reactions {
    Likes,
    Shares,
    Replies,
}

async fn statement_collection(
    state: &AppState,
    public_id: &str,
    which: Reactions,
    query: &PageQuery,
) -> Result<Response, AppError> {
    let page = page_number(query)?;
    let statement = published_statement(state, public_id).await?;
    let counts = state.store.reaction_counts(statement.id).await?;
    let (name, total) = match which {
        Reactions::Likes => ("likes", counts.likes),
        Reactions::Shares => ("shares", counts.boosts),
        Reactions::Replies => ("replies", counts.replies),
    };
    let items = match page {
        Some(n) => {
            let ids = match which {
                Reactions::Likes | Reactions::Shares => {
                    let kind = if matches!(which, Reactions::Likes) {
                        "like"
                    } else {
                        "boost"
                    };
                    state
                        .store
                        .reacting_actors(statement.id, kind, PAGE_SIZE, offset(n))
                        .await?
                }
                Reactions::Replies => {
                    state
                        .store
                        .approved_replies(statement.id, PAGE_SIZE, offset(n))
                        .await?
                }
            };
            Some((n, ids.into_iter().map(Value::String).collect()))
        }
        None => None,
    };
    Ok(collection(
        &state.urls,
        state.urls.statement_collection(&statement.public_id, name),
        total,
        items,
    ))
}

/// `GET /statements/{id}/likes`: who liked it (the actors), exact count.
pub async fn likes(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    statement_collection(&state, &id, Reactions::Likes, &query).await
}

/// `GET /statements/{id}/shares`: who boosted it.
pub async fn shares(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    statement_collection(&state, &id, Reactions::Shares, &query).await
}

/// `GET /statements/{id}/replies`: the approved replies' ids, so other
/// servers can load the thread.
pub async fn replies(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    statement_collection(&state, &id, Reactions::Replies, &query).await
}

/// `GET /quote-authorizations/{id}`: the stamp a quoting server checks;
/// 410 once the editor revoked it, 404 if there never was one.
pub async fn quote_authorization(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let quote = match state.store.quote(&id).await {
        Ok(quote) => quote,
        Err(crate::store::StoreError::NotFound) => {
            return Err(AppError::not_found("no such quote authorization"));
        }
        Err(err) => return Err(err.into()),
    };
    if quote.state != QuoteState::Accepted {
        return Err(AppError::Gone("the quote authorization was revoked".into()));
    }
    let statement = published_statement(&state, &quote.statement).await?;
    let document = crate::vocabulary::statement::quote_authorization(
        &statement,
        &quote.public_id,
        &quote.object_id,
        &state.urls,
    );
    Ok(ActivityJson(document).into_response())
}
