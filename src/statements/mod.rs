//! Joint statements: what one is (`Statement`, embedding its
//! `ValidContent`), the input that writes or edits one (`Draft`, `Changes`)
//! and which makes a valid one, and the states it goes through (`Change`). The Note or Article followers read is
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

/// A statement as stored, with its signatories in order (lead first): its
/// validated content, and what the server keeps about it.
#[derive(Clone, Debug)]
pub struct Statement {
    pub id: i64,
    pub public_id: String,
    /// What the editor wrote (title, text, tags, translations, images …).
    pub content: ValidContent,
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
        Statement {
            content: content.clone(),
            ..self.clone()
        }
    }

    /// This statement as its translation into `translation.language` reads:
    /// that title, summary and text, in that language; everything else
    /// (signatories, dates, tags, disclaimer) as it is.
    pub fn in_language(&self, translation: &Translation) -> Statement {
        let mut translated = self.clone();
        let content = &mut translated.content;
        content.title = translation.title.clone();
        content.body = translation.body.clone();
        content.rendered = translation.rendered.clone();
        content.summary = translation.summary.clone();
        content.language = Some(translation.language.clone());
        content.translations = Vec::new();
        translated
    }

    /// The translation into `language` (compared as BCP 47 does, ignoring case).
    pub fn translation(&self, language: &str) -> Option<&Translation> {
        self.content
            .translations
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

/// The editable text of a statement, as given: what [`Content::validate`]
/// checks. Its serde form is the desk's compose form (every field a text
/// box; tags one comma-separated text, or a list), which the desk reads
/// and fills by these names, so a new field here needs no desk code: only
/// an input in its template.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Content {
    pub title: String,
    pub body: String,
    pub language: Option<String>,
    pub original_date: Option<String>,
    #[serde(deserialize_with = "tag_list")]
    pub tags: Vec<String>,
    /// note (the default) or article.
    #[serde(deserialize_with = "blank_is_none")]
    pub format: Option<String>,
    pub summary: Option<String>,
    pub content_warning: Option<String>,
    pub disclaimer: Option<String>,
    /// anyone (the default), followers or nobody.
    #[serde(deserialize_with = "blank_is_none")]
    pub quote_policy: Option<String>,
    /// The same statement in other languages, by language tag. (Not a
    /// form field: the API and the CLI give them.)
    #[serde(skip_deserializing)]
    pub translations: BTreeMap<String, TranslationText>,
}

/// Tags as a list, or as one text separated by commas or spaces (`#`s
/// allowed), as people type them into a form.
fn tag_list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Tags {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Tags::deserialize(deserializer)? {
        Tags::List(tags) => tags,
        Tags::Text(text) => text
            .split([',', ' '])
            .map(|t| t.trim().trim_start_matches('#'))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// A choice left empty is no choice (the default, or, in an edit, the
/// current one).
fn blank_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty()))
}

impl From<&ValidContent> for Content {
    /// The content as the editor would give it again (validating it gives
    /// it back).
    fn from(valid: &ValidContent) -> Content {
        let v = valid.clone();
        Content {
            title: v.title,
            body: v.body,
            language: v.language,
            original_date: v.original_date,
            tags: v.tags,
            format: Some(v.format.as_str().to_string()),
            summary: v.summary,
            content_warning: v.content_warning,
            disclaimer: v.disclaimer,
            quote_policy: Some(v.quote_policy.as_str().to_string()),
            translations: v
                .translations
                .iter()
                .map(|t| (t.language.clone(), t.text()))
                .collect(),
        }
    }
}

/// `Option<Option<T>>` from a field that may be absent (`None`), `null`
/// (`Some(None)`) or a value: with `#[serde(default)]`, "absent keeps it,
/// `null` clears it".
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A new statement, as the editor writes it. A draft unless `publish` or
/// `publish_at`. The admin API reads it, and the CLI builds it from a
/// statement file's front matter and body and sends it.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct Draft {
    /// The headline (at most 300 characters).
    pub title: String,
    /// The text, in Markdown (at most 100,000 characters).
    pub body: String,
    /// Handles, the lead first.
    pub signatories: Vec<String>,
    /// A language tag such as `en` or `pt-BR`.
    pub language: Option<String>,
    /// A short text shown before the body (at most 2,000 characters).
    pub summary: Option<String>,
    /// Shown in front of the text by fediverse clients, which hide the
    /// text behind it (at most 2,000 characters).
    pub content_warning: Option<String>,
    /// Hashtags, without `#` (at most 20).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `note` (the default) or `article`.
    pub format: Option<String>,
    /// When the statement was first made, if earlier: a date such as
    /// `2022-01-13` or an RFC 3339 time.
    pub original_date: Option<String>,
    /// Printed under the statement; the instance's disclaimer if absent.
    pub disclaimer: Option<String>,
    /// Who may quote it: anyone (the default), followers or nobody.
    pub quote_policy: Option<String>,
    /// Publish at once.
    #[serde(default)]
    pub publish: bool,
    /// RFC 3339.
    pub publish_at: Option<String>,
    /// The statement in other languages, by language tag (not its own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub translations: BTreeMap<String, TranslationText>,
    /// Uploaded images (`POST /api/v1/media`), at most four, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    /// Publish even though an image has no alt text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_missing_alt: bool,
}

impl Draft {
    /// A draft of `content` signed by `signatories` (handles, the lead
    /// first), neither published nor scheduled.
    pub fn of(content: Content, signatories: Vec<String>) -> Draft {
        Draft {
            title: content.title,
            body: content.body,
            signatories,
            language: content.language,
            summary: content.summary,
            content_warning: content.content_warning,
            tags: content.tags,
            format: content.format,
            original_date: content.original_date,
            disclaimer: content.disclaimer,
            quote_policy: content.quote_policy,
            translations: content.translations,
            ..Draft::default()
        }
    }

    /// The statement's content, to validate.
    pub fn content(&self) -> Content {
        Content {
            title: self.title.clone(),
            body: self.body.clone(),
            summary: self.summary.clone(),
            content_warning: self.content_warning.clone(),
            language: self.language.clone(),
            tags: self.tags.clone(),
            format: self.format.clone(),
            original_date: self.original_date.clone(),
            disclaimer: self.disclaimer.clone(),
            quote_policy: self.quote_policy.clone(),
            translations: self.translations.clone(),
        }
    }
}

/// Changes to a statement: every field optional; `null` clears the
/// optional ones. Absent fields are not serialised, so what the CLI sends
/// means what the API reads.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::ToSchema)]
pub struct Changes {
    /// The new headline; absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The new Markdown text; absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A language tag; absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub language: Option<Option<String>>,
    /// Absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub summary: Option<Option<String>>,
    /// Absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub content_warning: Option<Option<String>>,
    /// Replaces every tag; absent or `null` keeps them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `note` or `article`; cannot change once published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Absent keeps it, `null` clears it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub original_date: Option<Option<String>>,
    /// Absent keeps it, `null` clears it (the instance's applies).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub disclaimer: Option<Option<String>>,
    /// anyone, followers or nobody; absent or `null` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_policy: Option<String>,
    /// Drafts and scheduled statements only; `null` makes it a draft again.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub publish_at: Option<Option<String>>,
    /// Every translation the statement is to have (`{}`: none); absent
    /// leaves them as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translations: Option<BTreeMap<String, TranslationText>>,
    /// Every image the statement is to carry (`[]`: none); absent leaves
    /// them as they are. Giving them again picks up edited alt text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Vec<String>>,
    /// Keep (or publish) images without alt text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_missing_alt: bool,
}

impl Changes {
    /// Changes that make the content `content`: every field given, an
    /// optional one left empty cleared (a choice left empty keeps the
    /// current one).
    pub fn replacing(content: Content) -> Changes {
        Changes {
            title: Some(content.title),
            body: Some(content.body),
            language: Some(content.language),
            summary: Some(content.summary),
            content_warning: Some(content.content_warning),
            tags: Some(content.tags),
            format: content.format,
            original_date: Some(content.original_date),
            disclaimer: Some(content.disclaimer),
            quote_policy: content.quote_policy,
            translations: Some(content.translations),
            ..Changes::default()
        }
    }

    /// `current` with these changes applied, to validate: the one place a
    /// partial edit meets a statement's content. (Images and `publish_at`
    /// are not text: `services::statements` applies them.)
    pub fn apply(&self, current: &ValidContent) -> Content {
        let current = Content::from(current);
        let c = self;
        Content {
            title: c.title.clone().unwrap_or(current.title),
            body: c.body.clone().unwrap_or(current.body),
            language: c.language.clone().unwrap_or(current.language),
            original_date: c.original_date.clone().unwrap_or(current.original_date),
            tags: c.tags.clone().unwrap_or(current.tags),
            format: c.format.clone().or(current.format),
            summary: c.summary.clone().unwrap_or(current.summary),
            content_warning: c.content_warning.clone().unwrap_or(current.content_warning),
            disclaimer: c.disclaimer.clone().unwrap_or(current.disclaimer),
            quote_policy: c.quote_policy.clone().or(current.quote_policy),
            translations: c.translations.clone().unwrap_or(current.translations),
        }
    }
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
    fn changes_apply_to_the_current_content() {
        let current = content().validate().unwrap();
        let changes = Changes {
            summary: Some(Some("Short.".into())),
            tags: Some(vec!["Kazakhstan".into()]),
            ..Changes::default()
        };
        let edited = changes.apply(&current).validate().unwrap();
        assert_eq!(edited.title, current.title, "absent keeps it");
        assert_eq!(edited.summary.as_deref(), Some("Short."));
        assert_eq!(edited.tags, ["Kazakhstan"]);
        let cleared = Changes {
            summary: Some(None),
            ..Changes::default()
        };
        assert_eq!(cleared.apply(&edited).validate().unwrap().summary, None);
        // Replacing with the content as it is changes nothing.
        let same = Changes::replacing(Content::from(&edited)).apply(&edited);
        assert_eq!(same.validate().unwrap().summary, edited.summary);
    }

    #[test]
    fn a_form_reads_as_content() {
        let form: Content = serde_json::from_value(serde_json::json!({
            "title": "T", "body": "B", "tags": "#one, two three", "format": " ", "summary": "",
        }))
        .unwrap();
        assert_eq!(form.tags, ["one", "two", "three"]);
        assert_eq!(form.format, None, "an empty choice is no choice");
        assert_eq!(form.validate().unwrap().summary, None);
    }

    #[test]
    fn dates_read_as_people_write_them() {
        assert_eq!(display_date("2022-01-13"), "13 January 2022");
    }
}
