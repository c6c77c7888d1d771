//! What the templates are given: plain, already-escaped-where-marked values
//! built from statements and organisations. Every field holding HTML
//! (`*_html`) went through our sanitiser; everything else is text the
//! template engine escapes.

use serde::Serialize;

use crate::{
    clock::from_ms,
    html,
    organisations::Organisation,
    statements::{Statement, display_date},
    urls::Urls,
    vocabulary::actor::profile_fields,
};

/// How many statements a listing page shows.
pub const PAGE_SIZE: i64 = 20;

/// How much of a statement a card or a description shows.
const EXCERPT_CHARS: usize = 280;
const DESCRIPTION_CHARS: usize = 200;

#[derive(Serialize)]
pub struct SignatoryView {
    pub name: String,
    pub acct: String,
    pub url: String,
    pub avatar_url: Option<String>,
    pub initial: String,
}

impl SignatoryView {
    pub fn of(org: &Organisation, urls: &Urls) -> SignatoryView {
        SignatoryView {
            name: org.profile.name.clone(),
            acct: fediverse_handle(&org.handle, urls),
            url: urls.organisation(&org.handle).to_string(),
            avatar_url: org.profile.avatar_url.clone(),
            initial: initial(&org.profile.name),
        }
    }
}

/// The letter shown where someone has no avatar.
pub fn initial(name: &str) -> String {
    name.chars()
        .next()
        .unwrap_or('?')
        .to_uppercase()
        .to_string()
}

/// `@cras@statements.example.org`: what people search for and copy.
pub fn fediverse_handle(handle: &str, urls: &Urls) -> String {
    format!("@{handle}@{}", urls.domain())
}

/// A moment, for `<time datetime>` and in words ("13 January 2022").
#[derive(Serialize)]
pub struct Moment {
    pub iso: String,
    pub words: String,
}

impl Moment {
    pub fn at(ms: i64) -> Moment {
        let at = from_ms(ms);
        Moment {
            iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            words: at.format("%-d %B %Y").to_string(),
        }
    }

    /// The statement's own date, as the editor gave it (a day, or RFC 3339).
    fn original(date: &str) -> Moment {
        Moment {
            iso: date.to_string(),
            words: display_date(date),
        }
    }
}

/// A statement in a list: the home page, an organisation's, a tag's.
#[derive(Serialize)]
pub struct StatementCard {
    pub title: String,
    pub url: String,
    pub language: Option<String>,
    pub date: Option<Moment>,
    pub signatories: Vec<SignatoryView>,
    pub excerpt: String,
}

impl StatementCard {
    pub fn of(statement: &Statement, urls: &Urls) -> StatementCard {
        StatementCard {
            title: statement.content.title.clone(),
            url: urls.statement(&statement.public_id).to_string(),
            language: statement.content.language.clone(),
            date: shown_date(statement),
            signatories: signatories(statement, urls),
            excerpt: html::excerpt(&description_text(statement), EXCERPT_CHARS),
        }
    }
}

/// The date a reader goes by: the statement's own, else its publication.
fn shown_date(statement: &Statement) -> Option<Moment> {
    match (&statement.content.original_date, statement.published_at) {
        (Some(date), _) => Some(Moment::original(date)),
        (None, Some(ms)) => Some(Moment::at(ms)),
        (None, None) => None,
    }
}

fn signatories(statement: &Statement, urls: &Urls) -> Vec<SignatoryView> {
    statement
        .signatories
        .iter()
        .map(|org| SignatoryView::of(org, urls))
        .collect()
}

/// The summary when there is one, else the body, as plain text.
fn description_text(statement: &Statement) -> String {
    match &statement.content.summary {
        Some(summary) if !summary.trim().is_empty() => html::plain_text(summary),
        _ => html::plain_text(&statement.content.body),
    }
}

/// A statement's own page.
#[derive(Serialize)]
pub struct StatementPage {
    pub title: String,
    /// The ActivityPub id, which is also the page in the statement's own language.
    pub url: String,
    /// This page's own URL: `url`, or the translation's.
    pub page_url: String,
    /// Every language the statement reads in (none when it has no
    /// translations), the statement's own first.
    pub languages: Vec<LanguageLink>,
    /// Its images, with their alt text.
    pub images: Vec<ImageView>,
    pub language: Option<String>,
    pub summary: Option<String>,
    pub content_warning: Option<String>,
    pub original_date: Option<Moment>,
    pub published: Option<Moment>,
    pub edited: Option<Moment>,
    pub body_html: String,
    pub signatories: Vec<SignatoryView>,
    pub tags: Vec<TagView>,
    pub disclaimer: String,
    /// Plain text for `og:description` and the JSON-LD.
    pub description: String,
    pub image: Option<String>,
    pub creator: String,
}

/// An image of a statement as the page shows it: the thumbnail, linking
/// to the full image.
#[derive(Serialize)]
pub struct ImageView {
    pub url: String,
    pub thumbnail_url: String,
    /// Empty when the editor published it without alt text.
    pub alt: String,
    pub width: u32,
    pub height: u32,
}

impl ImageView {
    fn of(a: &crate::media::Attachment, urls: &Urls) -> ImageView {
        let side = crate::media::process::THUMBNAIL_SIDE;
        let scale = (f64::from(side) / f64::from(a.width.max(a.height).max(1))).min(1.0);
        ImageView {
            url: urls.media(&a.file).to_string(),
            thumbnail_url: urls.media(&a.thumbnail).to_string(),
            alt: a.description.clone().unwrap_or_default(),
            width: ((f64::from(a.width) * scale).round() as u32).max(1),
            height: ((f64::from(a.height) * scale).round() as u32).max(1),
        }
    }
}

/// One language a statement can be read in, for the switcher and the
/// `hreflang` alternates.
#[derive(Serialize)]
pub struct LanguageLink {
    pub tag: String,
    /// The language's own name for itself (`Русский`), else its tag.
    pub name: String,
    pub url: String,
    pub current: bool,
}

impl LanguageLink {
    /// The links of every language `statement` reads in, with `current`
    /// (a translation's tag, or `None` for its own language) marked.
    pub fn all(statement: &Statement, urls: &Urls, current: Option<&str>) -> Vec<LanguageLink> {
        let (Some(own), false) = (
            &statement.content.language,
            statement.content.translations.is_empty(),
        ) else {
            return Vec::new();
        };
        let mut links = vec![LanguageLink {
            name: language_name(own),
            tag: own.clone(),
            url: urls.statement(&statement.public_id).to_string(),
            current: current.is_none(),
        }];
        links.extend(statement.content.translations.iter().map(|t| {
            LanguageLink {
                name: language_name(&t.language),
                tag: t.language.clone(),
                url: urls
                    .statement_in(&statement.public_id, &t.language)
                    .to_string(),
                current: current.is_some_and(|c| c.eq_ignore_ascii_case(&t.language)),
            }
        }));
        links
    }
}

/// A language's name in that language, from its tag's primary subtag.
pub fn language_name(tag: &str) -> String {
    let primary = tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
    let language = match primary.len() {
        2 => isolang::Language::from_639_1(&primary),
        3 => isolang::Language::from_639_3(&primary),
        _ => None,
    };
    match language.and_then(|l| l.to_autonym()) {
        Some(name) => {
            let mut chars = name.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => tag.to_string(),
            }
        }
        None => tag.to_string(),
    }
}

#[derive(Serialize)]
pub struct TagView {
    pub name: String,
    pub url: String,
}

impl StatementPage {
    pub fn of(statement: &Statement, urls: &Urls, default_disclaimer: &str) -> StatementPage {
        let lead = statement.lead();
        StatementPage {
            title: statement.content.title.clone(),
            url: urls.statement(&statement.public_id).to_string(),
            page_url: urls.statement(&statement.public_id).to_string(),
            languages: Vec::new(),
            images: statement
                .content
                .media
                .iter()
                .map(|m| ImageView::of(m, urls))
                .collect(),
            language: statement.content.language.clone(),
            summary: statement
                .content
                .summary
                .clone()
                .filter(|s| !s.trim().is_empty()),
            content_warning: statement
                .content
                .content_warning
                .clone()
                .filter(|s| !s.trim().is_empty()),
            original_date: statement
                .content
                .original_date
                .as_deref()
                .map(Moment::original),
            published: statement.published_at.map(Moment::at),
            edited: statement.edited_at.map(Moment::at),
            body_html: statement.content.rendered.page.clone(),
            signatories: signatories(statement, urls),
            tags: statement
                .content
                .tags
                .iter()
                .map(|tag| TagView {
                    name: tag.clone(),
                    url: urls.tag(tag).to_string(),
                })
                .collect(),
            disclaimer: statement
                .content
                .disclaimer
                .as_deref()
                .unwrap_or(default_disclaimer)
                .trim()
                .to_string(),
            description: html::excerpt(&description_text(statement), DESCRIPTION_CHARS),
            image: lead.profile.avatar_url.clone(),
            creator: fediverse_handle(&lead.handle, urls),
        }
    }
}

/// An organisation's page.
#[derive(Serialize)]
pub struct OrganisationPage {
    pub handle: String,
    pub name: String,
    pub acct: String,
    pub url: String,
    pub summary_html: String,
    pub summary_text: String,
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    pub initial: String,
    pub fields: Vec<FieldView>,
    pub followers: i64,
    pub statements: i64,
    pub locked: bool,
}

#[derive(Serialize)]
pub struct FieldView {
    pub name: String,
    pub value_html: String,
}

impl OrganisationPage {
    pub fn of(org: &Organisation, urls: &Urls, followers: i64, statements: i64) -> Self {
        OrganisationPage {
            handle: org.handle.clone(),
            name: org.profile.name.clone(),
            acct: fediverse_handle(&org.handle, urls),
            url: urls.organisation(&org.handle).to_string(),
            summary_html: html::markdown_to_page_html(&org.profile.summary),
            summary_text: html::excerpt(&html::plain_text(&org.profile.summary), DESCRIPTION_CHARS),
            avatar_url: org.profile.avatar_url.clone(),
            header_url: org.profile.header_url.clone(),
            initial: initial(&org.profile.name),
            fields: profile_fields(org)
                .into_iter()
                .map(|(name, value)| FieldView {
                    name,
                    value_html: html::field_value_html(&value),
                })
                .collect(),
            followers,
            statements,
            locked: org.profile.manually_approves_followers,
        }
    }
}

/// Links to the neighbouring pages of a listing.
#[derive(Serialize)]
pub struct Pagination {
    pub page: i64,
    pub newer: Option<String>,
    pub older: Option<String>,
}

impl Pagination {
    /// `base` is the listing's path; `more` whether a further page exists.
    pub fn new(base: &str, page: i64, more: bool) -> Pagination {
        let at = |n: i64| match n {
            1 => base.to_string(),
            n => format!("{base}?page={n}"),
        };
        Pagination {
            page,
            newer: (page > 1).then(|| at(page - 1)),
            older: more.then(|| at(page + 1)),
        }
    }
}

/// The JSON-LD of a statement page (schema.org `NewsArticle`), as a string
/// safe inside `<script type="application/ld+json">`.
pub fn json_ld(page: &StatementPage, site_name: &str) -> String {
    let authors: Vec<_> = page
        .signatories
        .iter()
        .map(|s| serde_json::json!({"@type": "Organization", "name": s.name, "url": s.url}))
        .collect();
    let mut doc = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": page.title,
        "description": page.description,
        "url": page.url,
        "mainEntityOfPage": page.url,
        "author": authors,
        "publisher": {"@type": "Organization", "name": site_name},
    });
    if let Some(published) = &page.published {
        doc["datePublished"] = published.iso.clone().into();
    }
    if let Some(edited) = &page.edited {
        doc["dateModified"] = edited.iso.clone().into();
    }
    if let Some(language) = &page.language {
        doc["inLanguage"] = language.clone().into();
    }
    if let Some(image) = &page.image {
        doc["image"] = image.clone().into();
    }
    // No `</script>` or `<!--` can survive: every `<` is escaped.
    doc.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
