//! Joint statements: what one is, which input makes a valid one, and the
//! states it goes through (`Change`). The Note or Article followers read is
//! built in `vocabulary::statement`; publishing is `services::statements`.

use std::{collections::BTreeMap, sync::LazyLock};

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::{
    html,
    media::Attachment,
    organisations::{Invalid, Organisation, check_len},
};

/// A statement as stored, with its signatories in order (lead first).
#[derive(Clone, Debug)]
pub struct Statement {
    pub id: i64,
    pub public_id: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The body as HTML, rendered once when it was written.
    pub rendered: Rendered,
    pub summary: Option<String>,
    pub content_warning: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub format: Format,
    pub original_date: Option<String>,
    pub disclaimer: Option<String>,
    pub quote_policy: QuotePolicy,
    /// The statement in other languages than its own, by language tag.
    pub translations: Vec<Translation>,
    /// Its images, in order.
    pub media: Vec<Attachment>,
    pub state: State,
    pub publish_at: Option<i64>,
    pub published_at: Option<i64>,
    pub edited_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub signatories: Vec<Organisation>,
}

impl Statement {
    /// This statement with `content` in place of its own.
    pub fn with_content(&self, content: &ValidContent) -> Statement {
        let c = content.clone();
        Statement {
            title: c.title,
            body: c.body,
            rendered: c.rendered,
            summary: c.summary,
            content_warning: c.content_warning,
            language: c.language,
            tags: c.tags,
            format: c.format,
            original_date: c.original_date,
            disclaimer: c.disclaimer,
            quote_policy: c.quote_policy,
            translations: c.translations,
            media: c.media,
            ..self.clone()
        }
    }

    /// This statement as its translation into `translation.language` reads:
    /// that title, summary and text, in that language; everything else
    /// (signatories, dates, tags, disclaimer) as it is.
    pub fn in_language(&self, translation: &Translation) -> Statement {
        Statement {
            title: translation.title.clone(),
            body: translation.body.clone(),
            rendered: translation.rendered.clone(),
            summary: translation.summary.clone(),
            language: Some(translation.language.clone()),
            translations: Vec::new(),
            ..self.clone()
        }
    }

    /// The translation into `language` (compared as BCP 47 does, ignoring case).
    pub fn translation(&self, language: &str) -> Option<&Translation> {
        self.translations
            .iter()
            .find(|t| t.language.eq_ignore_ascii_case(language))
    }

    pub fn lead(&self) -> &Organisation {
        &self.signatories[0]
    }

    pub fn co_signers(&self) -> &[Organisation] {
        &self.signatories[1..]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Shown in full everywhere (Mastodon's native type).
    Note,
    /// Title, summary and a link on Mastodon; full text on Article-aware software.
    Article,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Note => "note",
            Format::Article => "article",
        }
    }

    pub fn parse(value: &str) -> Option<Format> {
        match value {
            "note" => Some(Format::Note),
            "article" => Some(Format::Article),
            _ => None,
        }
    }
}

/// Who may quote a statement (Mastodon 4.5's `canQuote`, docs/interop.md
/// §13). Quotes are approved at once for those it admits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotePolicy {
    #[default]
    Anyone,
    /// The lead signatory's accepted followers.
    Followers,
    Nobody,
}

impl QuotePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotePolicy::Anyone => "anyone",
            QuotePolicy::Followers => "followers",
            QuotePolicy::Nobody => "nobody",
        }
    }

    pub fn parse(value: &str) -> Option<QuotePolicy> {
        match value {
            "anyone" => Some(QuotePolicy::Anyone),
            "followers" => Some(QuotePolicy::Followers),
            "nobody" => Some(QuotePolicy::Nobody),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Draft,
    Scheduled,
    Published,
    Deleted,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Scheduled => "scheduled",
            State::Published => "published",
            State::Deleted => "deleted",
        }
    }

    pub fn parse(value: &str) -> Option<State> {
        match value {
            "draft" => Some(State::Draft),
            "scheduled" => Some(State::Scheduled),
            "published" => Some(State::Published),
            "deleted" => Some(State::Deleted),
            _ => None,
        }
    }

    /// Whether `change` may start from this state.
    pub fn allows(self, change: Change) -> bool {
        change.starts_from().contains(&self)
    }
}

/// What can happen to a statement: the one owner of which change may start
/// from which state. The store's guards are built from [`Change::guard`],
/// so the database applies exactly these rules, atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Draft or scheduled → published.
    Publish,
    /// New content; the state stays.
    Edit,
    /// A signatory added at the end of the list; the state stays.
    Sign,
    /// Draft or scheduled → scheduled (with a `publish_at`) or draft.
    Reschedule,
    /// Published → deleted, with a Delete to everyone who had it.
    Withdraw,
    /// Draft or scheduled → deleted, without a word to anyone.
    Discard,
}

impl Change {
    /// The states this change may start from.
    pub fn starts_from(self) -> &'static [State] {
        match self {
            Change::Publish | Change::Reschedule | Change::Discard => {
                &[State::Draft, State::Scheduled]
            }
            Change::Edit | Change::Sign => &[State::Draft, State::Scheduled, State::Published],
            Change::Withdraw => &[State::Published],
        }
    }

    /// The SQL condition on a statement's `state` column that admits this
    /// change, e.g. `state IN ('draft', 'scheduled')`. Built from constants
    /// only.
    pub fn guard(self) -> String {
        let states: Vec<String> = self
            .starts_from()
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("state IN ({})", states.join(", "))
    }
}

pub const MAX_TITLE_LEN: usize = 300;
pub const MAX_BODY_LEN: usize = 100_000;
pub const MAX_SUMMARY_LEN: usize = 2_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_SIGNATORIES: usize = 100;
pub const MAX_DISCLAIMER_LEN: usize = 5_000;

/// Hashtag names as Mastodon links them: letters, digits, underscores.
static TAG_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*$").expect("static regex"));
/// A BCP 47 language tag, as far as `contentMap` needs one.
static LANGUAGE_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$").expect("static regex"));

/// The most translations one statement may carry.
pub const MAX_TRANSLATIONS: usize = 20;

/// A translation as the editor gives it, under its language tag in
/// `translations`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct TranslationText {
    /// The headline in that language.
    pub title: String,
    /// Markdown.
    pub body: String,
    /// The summary in that language.
    pub summary: Option<String>,
}

/// A statement's text in another language than its own, validated and
/// rendered (stored as JSON with the statement).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Translation {
    /// A BCP 47 tag, as the editor wrote it.
    pub language: String,
    pub title: String,
    pub body: String,
    pub summary: Option<String>,
    pub rendered: Rendered,
}

impl Translation {
    /// The translation as the editor gave it.
    pub fn text(&self) -> TranslationText {
        TranslationText {
            title: self.title.clone(),
            body: self.body.clone(),
            summary: self.summary.clone(),
        }
    }
}

/// The editable text of a statement, validated.
#[derive(Clone, Debug, Default)]
pub struct Content {
    pub title: String,
    pub body: String,
    pub summary: Option<String>,
    pub content_warning: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub format: Option<String>,
    pub original_date: Option<String>,
    pub disclaimer: Option<String>,
    /// anyone (the default), followers or nobody.
    pub quote_policy: Option<String>,
    /// The same statement in other languages, by language tag.
    pub translations: BTreeMap<String, TranslationText>,
}

/// A statement's body as HTML, rendered when the body is written (never
/// per view: rendering is the costly part of a page, docs in `html`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// In Mastodon's subset: the federated `content`.
    pub federated: String,
    /// With headings and rules: the web page and the feeds.
    pub page: String,
}

impl Rendered {
    pub fn of(markdown: &str) -> Rendered {
        Rendered {
            federated: html::markdown_to_html(markdown),
            page: html::markdown_to_page_html(markdown),
        }
    }
}

/// [`Content`] after validation.
#[derive(Clone, Debug)]
pub struct ValidContent {
    pub title: String,
    pub body: String,
    pub rendered: Rendered,
    pub summary: Option<String>,
    pub content_warning: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    pub format: Format,
    pub original_date: Option<String>,
    pub disclaimer: Option<String>,
    pub quote_policy: QuotePolicy,
    pub translations: Vec<Translation>,
    /// The images, as `services::statements` resolved them (validation
    /// leaves this empty: uploads are looked up in the store).
    pub media: Vec<Attachment>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl Content {
    pub fn validate(self) -> Result<ValidContent, Invalid> {
        let title = self.title.trim().to_string();
        if title.is_empty() {
            return Err(Invalid::new("title", "must not be empty"));
        }
        check_len("title", &title, MAX_TITLE_LEN)?;
        if self.body.trim().is_empty() {
            return Err(Invalid::new("body", "must not be empty"));
        }
        check_len("body", &self.body, MAX_BODY_LEN)?;
        let summary = non_empty(self.summary);
        if let Some(summary) = &summary {
            check_len("summary", summary, MAX_SUMMARY_LEN)?;
        }
        let content_warning = non_empty(self.content_warning);
        if let Some(cw) = &content_warning {
            check_len("content_warning", cw, MAX_SUMMARY_LEN)?;
        }
        let language = non_empty(self.language);
        if let Some(language) = &language
            && !LANGUAGE_RULE.is_match(language)
        {
            return Err(Invalid::new(
                "language",
                "must be a language tag such as en or pt-BR",
            ));
        }
        let format = match self.format.as_deref() {
            None => Format::Note,
            Some(value) => Format::parse(value)
                .ok_or_else(|| Invalid::new("format", "must be \"note\" or \"article\""))?,
        };
        if self.tags.len() > MAX_TAGS {
            return Err(Invalid::new("tags", format!("at most {MAX_TAGS} tags")));
        }
        let mut tags = Vec::with_capacity(self.tags.len());
        for (i, tag) in self.tags.iter().enumerate() {
            let tag = tag.trim().trim_start_matches('#').to_string();
            if tag.is_empty() || tag.chars().count() > 100 || !TAG_RULE.is_match(&tag) {
                return Err(Invalid::new(
                    format!("tags[{i}]"),
                    "must be letters, digits and underscores, with at least one letter",
                ));
            }
            if !tags.iter().any(|t: &String| t.eq_ignore_ascii_case(&tag)) {
                tags.push(tag);
            }
        }
        let original_date = non_empty(self.original_date);
        if let Some(date) = &original_date {
            let valid = NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
                || DateTime::parse_from_rfc3339(date).is_ok();
            if !valid {
                return Err(Invalid::new(
                    "original_date",
                    "must be a date such as 2022-01-13",
                ));
            }
        }
        let disclaimer = non_empty(self.disclaimer);
        if let Some(disclaimer) = &disclaimer {
            check_len("disclaimer", disclaimer, MAX_DISCLAIMER_LEN)?;
        }
        let quote_policy = match self.quote_policy.as_deref() {
            None => QuotePolicy::default(),
            Some(value) => QuotePolicy::parse(value).ok_or_else(|| {
                Invalid::new("quote_policy", "must be anyone, followers or nobody")
            })?,
        };
        let translations = validate_translations(self.translations, language.as_deref())?;
        Ok(ValidContent {
            media: Vec::new(),
            translations,
            quote_policy,
            title,
            rendered: Rendered::of(&self.body),
            body: self.body,
            summary,
            content_warning,
            language: language.map(|l| l.to_string()),
            tags,
            format,
            original_date,
            disclaimer,
        })
    }
}

/// Each translation checked like the statement's own text, under its own
/// field (`translations.ru.title`): a language tag that is not the
/// statement's own language, once each.
fn validate_translations(
    given: BTreeMap<String, TranslationText>,
    own: Option<&str>,
) -> Result<Vec<Translation>, Invalid> {
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let Some(own) = own else {
        return Err(Invalid::new(
            "language",
            "a statement with translations needs its own language",
        ));
    };
    if given.len() > MAX_TRANSLATIONS {
        return Err(Invalid::new(
            "translations",
            format!("at most {MAX_TRANSLATIONS}"),
        ));
    }
    let mut translations: Vec<Translation> = Vec::with_capacity(given.len());
    for (tag, text) in given {
        let field = |part: &str| format!("translations.{tag}{part}");
        let language = tag.trim().to_string();
        if !LANGUAGE_RULE.is_match(&language) {
            return Err(Invalid::new(
                field(""),
                "must be a language tag such as ru or pt-BR",
            ));
        }
        if language.eq_ignore_ascii_case(own) {
            return Err(Invalid::new(
                field(""),
                format!("{own} is the statement's own language"),
            ));
        }
        if translations
            .iter()
            .any(|t| t.language.eq_ignore_ascii_case(&language))
        {
            return Err(Invalid::new(field(""), "given twice"));
        }
        let title = text.title.trim().to_string();
        if title.is_empty() {
            return Err(Invalid::new(field(".title"), "must not be empty"));
        }
        check_len(&field(".title"), &title, MAX_TITLE_LEN)?;
        if text.body.trim().is_empty() {
            return Err(Invalid::new(field(".body"), "must not be empty"));
        }
        check_len(&field(".body"), &text.body, MAX_BODY_LEN)?;
        let summary = non_empty(text.summary);
        if let Some(summary) = &summary {
            check_len(&field(".summary"), summary, MAX_SUMMARY_LEN)?;
        }
        translations.push(Translation {
            language,
            title,
            rendered: Rendered::of(&text.body),
            body: text.body,
            summary,
        });
    }
    Ok(translations)
}

/// Parses `publish_at` (RFC 3339) into milliseconds.
pub fn parse_publish_at(value: &str) -> Result<i64, Invalid> {
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc).timestamp_millis())
        .map_err(|_| {
            Invalid::new(
                "publish_at",
                "must be an RFC 3339 date-time such as 2026-12-01T09:00:00Z",
            )
        })
}

/// The original date as people read it: `13 January 2022`.
pub fn display_date(original: &str) -> String {
    if let Ok(date) = NaiveDate::parse_from_str(original, "%Y-%m-%d") {
        return date.format("%-d %B %Y").to_string();
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(original) {
        return date.format("%-d %B %Y").to_string();
    }
    original.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_state_machine() {
        use Change::*;
        use State::*;
        let allowed = |state: State| -> Vec<Change> {
            [Publish, Edit, Reschedule, Withdraw, Discard]
                .into_iter()
                .filter(|c| state.allows(*c))
                .collect()
        };
        assert_eq!(allowed(Draft), vec![Publish, Edit, Reschedule, Discard]);
        assert_eq!(allowed(Scheduled), vec![Publish, Edit, Reschedule, Discard]);
        assert_eq!(allowed(Published), vec![Edit, Withdraw]);
        assert_eq!(allowed(Deleted), Vec::<Change>::new(), "deleted is final");
        assert_eq!(Publish.guard(), "state IN ('draft', 'scheduled')");
        assert_eq!(Withdraw.guard(), "state IN ('published')");
    }

    fn content() -> Content {
        Content {
            title: "Declaration about Kazakhstan".into(),
            body: "We express our full and complete solidarity.".into(),
            ..Content::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |c: Content| c.validate().unwrap_err().field;
        assert_eq!(
            bad(Content {
                title: " ".into(),
                ..content()
            }),
            "title"
        );
        assert_eq!(
            bad(Content {
                body: "\n".into(),
                ..content()
            }),
            "body"
        );
        assert_eq!(
            bad(Content {
                format: Some("poem".into()),
                ..content()
            }),
            "format"
        );
        assert_eq!(
            bad(Content {
                original_date: Some("13/01/2022".into()),
                ..content()
            }),
            "original_date"
        );
        assert_eq!(
            bad(Content {
                language: Some("english language".into()),
                ..content()
            }),
            "language"
        );
        assert_eq!(
            bad(Content {
                tags: vec!["ok".into(), "not ok".into()],
                ..content()
            }),
            "tags[1]"
        );
        let valid = Content {
            tags: vec!["#Kazakhstan".into(), "kazakhstan".into()],
            ..content()
        }
        .validate()
        .unwrap();
        assert_eq!(valid.tags, ["Kazakhstan"]);
        assert_eq!(valid.format, Format::Note);
    }

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(display_date("2022-01-13"), "13 January 2022");
    }
}
