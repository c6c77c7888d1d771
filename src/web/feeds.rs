//! Atom feeds (RFC 4287), built with `atom_syndication`: the whole
//! instance, each organisation (what it signed) and each hashtag. Entries
//! carry the statement's full text in its language, every signatory as an
//! author, and the statement page as the alternate link.

use atom_syndication::{
    Content, Entry, EntryBuilder, Feed, FeedBuilder, FixedDateTime, Generator, Link, Person, Text,
};
use axum::{
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use super::{PageError, response::Kind, response::Rendered, valid_tag, views::PAGE_SIZE};
use crate::{
    clock::from_ms,
    error::AppError,
    federation::actor,
    html,
    state::AppState,
    statements::{State as StatementState, Statement},
    store::StatementFilter,
    urls::Urls,
};

/// `GET /feed.atom`.
pub async fn instance(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let feed = async {
        let url = state.urls.join_path("/feed.atom");
        let home = state.urls.base().to_string();
        let about = FeedAbout {
            title: &state.config.instance_name,
            subtitle: &state.config.instance_description,
            self_url: url.as_str(),
            page_url: &home,
        };
        respond(&state, about, StatementFilter::default(), &headers).await
    };
    feed.await.into_response()
}

/// `GET /organisations/{handle}/feed.atom`: what it signed, as lead or
/// co-signer; 404, or 410 once the organisation is deleted.
pub async fn organisation(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Response {
    let feed = async {
        let org = actor::live_organisation(&state, &handle).await?;
        let page = state.urls.organisation(&org.handle).to_string();
        let url = format!("{page}/feed.atom");
        let title = format!("{} – {}", org.profile.name, state.config.instance_name);
        let subtitle = html::excerpt(&html::plain_text(&org.profile.summary), 200);
        let about = FeedAbout {
            title: &title,
            subtitle: &subtitle,
            self_url: &url,
            page_url: &page,
        };
        let filter = StatementFilter {
            organisation_id: Some(org.id),
            ..StatementFilter::default()
        };
        respond(&state, about, filter, &headers).await
    };
    feed.await.into_response()
}

/// `GET /tags/{tag}/feed.atom`.
pub async fn tag(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    headers: HeaderMap,
) -> Response {
    let feed = async {
        if !valid_tag(&tag) {
            return Err(AppError::not_found(format!("no tag {tag}")).into());
        }
        let tag = tag.to_lowercase();
        let page = state.urls.tag(&tag).to_string();
        let url = format!("{page}/feed.atom");
        let title = format!("#{tag} – {}", state.config.instance_name);
        let subtitle = format!("Statements tagged #{tag}");
        let about = FeedAbout {
            title: &title,
            subtitle: &subtitle,
            self_url: &url,
            page_url: &page,
        };
        let filter = StatementFilter {
            tag: Some(tag.clone()),
            ..StatementFilter::default()
        };
        respond(&state, about, filter, &headers).await
    };
    feed.await.into_response()
}

struct FeedAbout<'a> {
    title: &'a str,
    subtitle: &'a str,
    self_url: &'a str,
    page_url: &'a str,
}

async fn respond(
    state: &AppState,
    about: FeedAbout<'_>,
    filter: StatementFilter,
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let statements = state
        .store
        .statements(&StatementFilter {
            state: Some(StatementState::Published),
            limit: PAGE_SIZE,
            offset: 0,
            ..filter
        })
        .await?;
    let last_change = state.store.last_change().await?;
    let feed = build(&about, &statements, &state.urls, &state.config.disclaimer);
    Ok(Rendered {
        kind: Kind::Atom,
        body: feed.to_string(),
        last_modified: Some(last_change),
    }
    .respond(headers))
}

fn at(ms: i64) -> FixedDateTime {
    from_ms(ms).fixed_offset()
}

fn link(href: &str, rel: &str, mime_type: &str) -> Link {
    Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: Some(mime_type.to_string()),
        ..Link::default()
    }
}

/// The feed document: newest statements first, `updated` the newest
/// entry's (the epoch for a feed with none, so it stays stable).
fn build(about: &FeedAbout<'_>, statements: &[Statement], urls: &Urls, disclaimer: &str) -> Feed {
    let entries: Vec<Entry> = statements
        .iter()
        .map(|s| entry(s, urls, disclaimer))
        .collect();
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or_else(|| at(0));
    FeedBuilder::default()
        .title(about.title)
        .subtitle(Some(Text::plain(about.subtitle)))
        .id(about.self_url)
        .updated(updated)
        .links(vec![
            link(about.self_url, "self", "application/atom+xml"),
            link(about.page_url, "alternate", "text/html"),
        ])
        .generator(Some(Generator {
            value: "Broadside".into(),
            uri: Some("https://github.com/broadside-social/broadside".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }))
        .entries(entries)
        .build()
}

fn entry(statement: &Statement, urls: &Urls, default_disclaimer: &str) -> Entry {
    let url = urls.statement(&statement.public_id).to_string();
    let published = statement.published_at.unwrap_or(statement.created_at);
    let authors: Vec<Person> = statement
        .signatories
        .iter()
        .map(|org| Person {
            name: org.profile.name.clone(),
            email: None,
            uri: Some(urls.organisation(&org.handle).to_string()),
            ..Person::default()
        })
        .collect();
    let mut body = statement.content.rendered.page.clone();
    let names: Vec<String> = statement
        .signatories
        .iter()
        .map(|org| html::escape(&org.profile.name))
        .collect();
    body.push_str(&format!("<p>Signed by: {}</p>", names.join(", ")));
    let disclaimer = statement
        .content
        .disclaimer
        .as_deref()
        .unwrap_or(default_disclaimer)
        .trim();
    if !disclaimer.is_empty() {
        body.push_str(&format!("<p><em>{}</em></p>", html::escape(disclaimer)));
    }
    let summary = match &statement.content.summary {
        Some(summary) if !summary.trim().is_empty() => html::plain_text(summary),
        _ => html::excerpt(&html::plain_text(&statement.content.body), 280),
    };
    EntryBuilder::default()
        .title(statement.content.title.as_str())
        .id(url.as_str())
        .updated(at(statement.edited_at.unwrap_or(published)))
        .published(Some(at(published)))
        .authors(authors)
        .links(vec![link(&url, "alternate", "text/html")])
        .categories(
            statement
                .content
                .tags
                .iter()
                .map(|tag| atom_syndication::Category {
                    term: tag.clone(),
                    scheme: None,
                    label: Some(format!("#{tag}")),
                })
                .collect::<Vec<_>>(),
        )
        .summary(Some(Text::plain(summary)))
        .content(Some(Content {
            value: Some(body),
            content_type: Some("html".into()),
            lang: statement.content.language.clone(),
            ..Content::default()
        }))
        .build()
}
