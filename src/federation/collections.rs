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
    error::AppError, organisations::Organisation, state::AppState, store::ACCEPTED,
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
    let total = state.store.count_followers(org.id, ACCEPTED).await?;
    let items = match page {
        Some(n) if state.config.public_follower_lists => {
            let followers = state
                .store
                .followers(org.id, ACCEPTED, PAGE_SIZE, offset(n))
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
