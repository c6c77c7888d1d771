//! What people see in a browser: the home page, statement pages, organisation
//! profiles with their remote-follow form, tag pages, the about page, Atom
//! feeds and the stylesheet. Statement and organisation URLs are also their
//! ActivityPub ids: the Accept header chooses (`Vary: Accept`).
//!
//! Pages only read. Only published statements are shown anywhere (drafts,
//! scheduled and deleted ones are 404, in lists and feeds too), and a
//! deleted organisation's page is 410.

mod assets;
mod compression;
mod feeds;
mod response;
mod views;

use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use minijinja::context;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    error::{ApiPath, AppError},
    federation::{ActivityJson, actor, wants_activity_json},
    html,
    organisations::Organisation,
    services::statements::find_published,
    state::AppState,
    statements::{State as StatementState, Statement},
    store::{FollowerState, ReplyState, StatementFilter},
    vocabulary::{activity::OUTBOX, statement as document},
};
use response::Rendered;
pub use response::{PageError, secure, secure_with_script};
use views::{OrganisationPage, PAGE_SIZE, Pagination, SignatoryView, StatementCard, StatementPage};

type PageResult = Result<Response, PageError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/about", get(about))
        .route("/feed.atom", get(feeds::instance))
        .route("/organisations/{handle}", get(organisation))
        .route(
            "/organisations/{handle}/feed.atom",
            get(feeds::organisation),
        )
        .route("/organisations/{handle}/remote-follow", get(remote_follow))
        .route("/statements/{id}", get(statement))
        .route("/statements/{id}/{language}", get(statement_translation))
        .route("/tags/{tag}", get(tag))
        .route("/tags/{tag}/feed.atom", get(feeds::tag))
        .route("/assets/{name}", get(assets::asset))
        .route("/media/{name}", get(assets::media))
        .layer(compression::CompressIfAskedLayer)
}

/// Where pages link the stylesheet (the desk's pages too).
pub fn stylesheet() -> &'static str {
    assets::STYLESHEET.path()
}

/// Where the desk's pages load htmx.
pub fn htmx() -> &'static str {
    assets::HTMX.path()
}

/// What every page knows of the site.
#[derive(Serialize)]
struct Site<'a> {
    name: &'a str,
    description: &'a str,
    /// The language of our own words (headings, labels).
    language: &'static str,
    stylesheet: &'a str,
    feed: String,
}

fn site(state: &AppState) -> Site<'_> {
    Site {
        name: &state.config.instance_name,
        description: &state.config.instance_description,
        language: "en",
        stylesheet: assets::STYLESHEET.path(),
        feed: state.urls.join_path("/feed.atom").to_string(),
    }
}

fn render(state: &AppState, template: &str, context: minijinja::Value) -> Result<String, AppError> {
    state
        .templates
        .render(template, context! { site => site(state), ..context })
}

/// `?page=N` of a listing: 1 to 10,000. Other parameters (a shared link's
/// `utm_source`…) are ignored, as every website does.
#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    fn number(&self) -> Result<i64, AppError> {
        match self.page.as_deref().map(str::parse::<i64>) {
            None => Ok(1),
            Some(Ok(n @ 1..=10_000)) => Ok(n),
            Some(_) => Err(AppError::invalid("page", "a page number from 1 to 10000")),
        }
    }
}

/// One page of published statements, newest first, and whether more follow
/// (two queries: the statements, and all their signatories).
async fn published(
    state: &AppState,
    filter: StatementFilter,
    page: i64,
) -> Result<(Vec<StatementCard>, bool), AppError> {
    let mut statements = state
        .store
        .statements(&StatementFilter {
            state: Some(StatementState::Published),
            limit: PAGE_SIZE + 1,
            offset: (page - 1) * PAGE_SIZE,
            ..filter
        })
        .await?;
    let more = statements.len() as i64 > PAGE_SIZE;
    statements.truncate(PAGE_SIZE as usize);
    Ok((
        statements
            .iter()
            .map(|s| StatementCard::of(s, &state.urls))
            .collect(),
        more,
    ))
}

fn organisation_views(state: &AppState, organisations: &[Organisation]) -> Vec<SignatoryView> {
    organisations
        .iter()
        .map(|org| SignatoryView::of(org, &state.urls))
        .collect()
}

/// `GET /`: the latest statements, paged, and the organisations.
async fn index(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> PageResult {
    let page = query.number()?;
    let (statements, more) = published(&state, StatementFilter::default(), page).await?;
    let organisations = state.store.organisations().await?;
    let body = render(
        &state,
        "index.html",
        context! {
            statements => statements,
            pages => Pagination::new("/", page, more),
            organisations => organisation_views(&state, &organisations),
            canonical => state.urls.base().to_string(),
        },
    )?;
    Ok(Rendered::html(body).respond(&headers))
}

/// `GET /about`: the instance, its organisations, disclaimer and fine print.
async fn about(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let organisations = state.store.organisations().await?;
    let body = render(
        &state,
        "about.html",
        context! {
            organisations => organisation_views(&state, &organisations),
            disclaimer => state.config.disclaimer,
            fine_print_html => html::markdown_to_page_html(&state.config.fine_print),
            contact => state.config.instance_contact,
        },
    )?;
    Ok(Rendered::html(body).respond(&headers))
}

/// `GET /organisations/{handle}`: the actor for ActivityPub clients, the
/// profile page for browsers; 404, or 410 for an organisation that was
/// deleted, either way.
async fn organisation(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    if wants_activity_json(&headers) {
        return actor::actor_document(&state, &handle).await.into_response();
    }
    let page = async {
        let org = actor::live_organisation(&state, &handle).await?;
        let page = query.number()?;
        let body = profile_page(&state, &org, page, None).await?;
        Ok::<_, PageError>(Rendered::html(body).respond(&headers))
    };
    page.await.into_response()
}

/// What the remote-follow form sent, and what was wrong with it.
struct FollowAttempt<'a> {
    server: &'a str,
    error: &'a str,
}

/// The profile page: who the organisation is, how to follow it, and the
/// statements it signed (as lead or co-signer), paged.
async fn profile_page(
    state: &AppState,
    org: &Organisation,
    page: i64,
    attempt: Option<FollowAttempt<'_>>,
) -> Result<String, AppError> {
    let followers = state
        .store
        .count_followers(org.id, FollowerState::Accepted)
        .await?;
    let signed = state
        .store
        .count_statement_activities(org.id, &OUTBOX)
        .await?;
    let filter = StatementFilter {
        organisation_id: Some(org.id),
        ..StatementFilter::default()
    };
    let (statements, more) = published(state, filter, page).await?;
    let path = state.urls.organisation(&org.handle).path().to_string();
    render(
        state,
        "profile.html",
        context! {
            org => OrganisationPage::of(org, &state.urls, followers, signed),
            statements => statements,
            pages => Pagination::new(&path, page, more),
            feed => format!("{}/feed.atom", state.urls.organisation(&org.handle)),
            server => attempt.as_ref().map(|a| a.server),
            server_error => attempt.as_ref().map(|a| a.error),
        },
    )
}

#[derive(Deserialize)]
struct RemoteFollow {
    #[serde(default)]
    server: String,
}

/// `GET /organisations/{handle}/remote-follow?server=example.social`: sends
/// the visitor to their own server's authorize-interaction page, where
/// they are signed in and can follow with one click. A value that is not a
/// server shows the profile again (422) with the error beside the field.
async fn remote_follow(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    Query(form): Query<RemoteFollow>,
    headers: HeaderMap,
) -> PageResult {
    let org = actor::live_organisation(&state, &handle).await?;
    let Some(server) = visitor_server(&form.server) else {
        tracing::info!(server = %form.server, "remote follow refused: not a server name");
        let attempt = FollowAttempt {
            server: &form.server,
            error: "Give the address of your server, for example example.social.",
        };
        let body = profile_page(&state, &org, 1, Some(attempt)).await?;
        let mut response = Rendered::html(body).respond(&headers);
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    };
    let actor = state.urls.organisation(&org.handle);
    let target = Url::parse_with_params(
        &format!("https://{server}/authorize_interaction"),
        [("uri", actor.as_str())],
    )
    .map_err(|_| AppError::invalid("server", "not a server name"))?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, target.to_string())],
    )
        .into_response())
}

/// The server part of what a visitor typed: `example.social`,
/// `https://example.social/`, `@ann@example.social` or `ann@example.social`
/// all give `example.social`. Only DNS names (with a dot), optionally with a
/// port: no IP literals, paths, credentials or queries.
fn visitor_server(input: &str) -> Option<String> {
    let typed = input.trim();
    let typed = typed
        .strip_prefix("https://")
        .or_else(|| typed.strip_prefix("http://"))
        .unwrap_or(typed)
        .trim_end_matches('/');
    let host = typed.rsplit('@').next()?;
    if host.is_empty() || host.len() > 253 || host.contains(['/', '?', '#', '\\', ' ']) {
        return None;
    }
    let url = Url::parse(&format!("https://{host}/")).ok()?;
    match url.host()? {
        url::Host::Domain(domain) if domain.contains('.') && !domain.ends_with('.') => {
            Some(match url.port() {
                Some(port) => format!("{domain}:{port}"),
                None => domain.to_string(),
            })
        }
        _ => None,
    }
}

/// `GET /statements/{id}`: the Note or Article for ActivityPub clients, the
/// page for browsers. Drafts and deleted statements are 404: from Mastodon
/// 4.4 a 404 on refetch removes its copy (a 410 would not).
async fn statement(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    let found = match find_published(&state.services, &id).await {
        Ok(Some(statement)) => Ok(statement),
        Ok(None) => Err(AppError::not_found(format!("no statement {id}"))),
        Err(err) => Err(AppError::from(err)),
    };
    if wants_activity_json(&headers) {
        return match found {
            Ok(statement) => {
                let mut object =
                    document::statement_object(&statement, &state.urls, &state.config.disclaimer);
                object["@context"] = document::context();
                ActivityJson(object).into_response()
            }
            Err(err) => err.into_response(),
        };
    }
    let page = async {
        let statement = found?;
        let body = statement_page(&state, &statement, None).await?;
        Ok::<_, PageError>(Rendered::html(body).respond(&headers))
    };
    page.await.into_response()
}

/// An approved reply as the page shows it.
#[derive(Serialize)]
struct ReplyView {
    name: String,
    handle: String,
    profile_url: String,
    avatar_url: Option<String>,
    initial: String,
    content_html: String,
    url: String,
    language: Option<String>,
    published: views::Moment,
}

/// How many approved replies a statement page shows.
const REPLIES_SHOWN: i64 = 100;

/// `/statements/{id}/{language}`: the page of a statement's translation.
/// Its ActivityPub object is the statement's own URL (with every language
/// in `contentMap`), so this one answers only browsers.
async fn statement_translation(
    State(state): State<AppState>,
    ApiPath((id, language)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let found = match find_published(&state.services, &id).await {
        Ok(Some(statement)) => Ok(statement),
        Ok(None) => Err(AppError::not_found(format!("no statement {id}"))),
        Err(err) => Err(AppError::from(err)),
    };
    let found = found.and_then(|statement| match statement.translation(&language) {
        Some(_) => Ok(statement),
        None => Err(AppError::not_found(format!(
            "statement {id} has no translation into {language}"
        ))),
    });
    if wants_activity_json(&headers) {
        return match found {
            Ok(statement) => AppError::not_found(format!(
                "a translation's page; the statement is {}",
                state.urls.statement(&statement.public_id)
            ))
            .into_response(),
            Err(err) => err.into_response(),
        };
    }
    let page = async {
        let statement = found?;
        let body = statement_page(&state, &statement, Some(&language)).await?;
        Ok::<_, PageError>(Rendered::html(body).respond(&headers))
    };
    page.await.into_response()
}

/// The page of `statement`, in its own language or in the translation
/// into `language`.
async fn statement_page(
    state: &AppState,
    statement: &Statement,
    language: Option<&str>,
) -> Result<String, AppError> {
    let counts = state.store.reaction_counts(statement.id).await?;
    let replies: Vec<ReplyView> = state
        .store
        .replies(
            Some(ReplyState::Approved),
            Some(statement.id),
            REPLIES_SHOWN,
            0,
        )
        .await?
        .into_iter()
        .map(|reply| {
            let author = reply.author;
            let name = author
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .or_else(|| author.preferred_username.clone())
                .unwrap_or_else(|| author.actor.clone());
            ReplyView {
                initial: views::initial(&name),
                handle: match &author.preferred_username {
                    Some(user) => format!("@{user}@{}", author.server),
                    None => author.server.clone(),
                },
                name,
                profile_url: author.actor,
                avatar_url: author.avatar_url,
                // Sanitised when it arrived (vocabulary::incoming).
                content_html: reply.content,
                url: reply.url.unwrap_or(reply.object_id),
                language: reply.language,
                published: views::Moment::at(reply.published_at),
            }
        })
        .collect();
    let languages = views::LanguageLink::all(statement, &state.urls, language);
    let translated = language
        .and_then(|language| statement.translation(language))
        .map(|translation| statement.in_language(translation));
    let shown = translated.as_ref().unwrap_or(statement);
    let mut page = StatementPage::of(shown, &state.urls, &state.config.disclaimer);
    if let Some(current) = languages.iter().find(|l| l.current) {
        page.page_url = current.url.clone();
    }
    page.languages = languages;
    let json_ld = views::json_ld(&page, &state.config.instance_name);
    render(
        state,
        "statement.html",
        context! {
            statement => page,
            json_ld => json_ld,
            counts => counts,
            replies => replies,
        },
    )
}

/// A hashtag as it may appear in a URL: letters, digits and `_`.
fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.chars().count() <= 100
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `GET /tags/{tag}`: published statements with a hashtag, paged.
async fn tag(
    State(state): State<AppState>,
    ApiPath(tag): ApiPath<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> PageResult {
    if !valid_tag(&tag) {
        return Err(AppError::not_found(format!("no tag {tag}")).into());
    }
    let tag = tag.to_lowercase();
    let page = query.number()?;
    let filter = StatementFilter {
        tag: Some(tag.clone()),
        ..StatementFilter::default()
    };
    let (statements, more) = published(&state, filter, page).await?;
    let url = state.urls.tag(&tag);
    let body = render(
        &state,
        "tag.html",
        context! {
            tag => tag,
            statements => statements,
            pages => Pagination::new(url.path(), page, more),
            canonical => url.to_string(),
            feed => format!("{url}/feed.atom"),
        },
    )?;
    Ok(Rendered::html(body).respond(&headers))
}
