//! The ActivityPub object of a statement and the activities that carry it.
//! Each is built by exactly one function here.
//!
//! Mastodon shows a `Note` in full but reduces an `Article` to its title,
//! summary and a link (docs/interop.md §4), so `note` is the default format; an
//! `Article` carries a FEP-b2b8 `preview` Note for such software.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::activity::{Activity, Kind};
use crate::{
    clock::from_ms,
    html::escape,
    organisations::Organisation,
    statements::{Format, QuotePolicy, Statement, display_date},
    urls::{PUBLIC, Urls},
};

/// The JSON-LD context of statements: ActivityStreams plus the terms
/// Mastodon and GoToSocial read (sensitive, Hashtag, interaction policy).
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        {
            "sensitive": "as:sensitive",
            "Hashtag": "as:Hashtag",
            "toot": "http://joinmastodon.org/ns#",
            "gts": "https://gotosocial.org/ns#",
            "interactionPolicy": { "@id": "gts:interactionPolicy", "@type": "@id" },
            "canQuote": { "@id": "gts:canQuote", "@type": "@id" },
            "automaticApproval": { "@id": "gts:automaticApproval", "@type": "@id" },
            "manualApproval": { "@id": "gts:manualApproval", "@type": "@id" },
            "QuoteAuthorization": "https://w3id.org/fep/044f#QuoteAuthorization",
            "QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest",
            "interactingObject": { "@id": "gts:interactingObject", "@type": "@id" },
            "interactionTarget": { "@id": "gts:interactionTarget", "@type": "@id" },
            "preview": { "@id": "https://w3id.org/fep/b2b8/preview", "@type": "@id" },
            "blurhash": "toot:blurhash",
            "focalPoint": { "@container": "@list", "@id": "toot:focalPoint" }
        }
    ])
}

fn acct(org: &Organisation, urls: &Urls) -> String {
    format!("@{}@{}", org.handle, urls.domain())
}

/// A link to an organisation in Mastodon's mention markup.
fn mention_html(org: &Organisation, urls: &Urls) -> String {
    format!(
        r#"<span class="h-card" translate="no"><a href="{href}" class="u-url mention">@<span>{handle}</span></a></span> ({name})"#,
        href = escape(urls.organisation(&org.handle).as_str()),
        handle = escape(&org.handle),
        name = escape(&org.profile.name),
    )
}

fn hashtag_html(tag: &str, urls: &Urls) -> String {
    format!(
        r#"<a href="{href}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>"#,
        href = escape(urls.tag(tag).as_str()),
        tag = escape(tag),
    )
}

/// The full HTML of a statement: title, original date, abstract (Notes),
/// body, signatories, hashtags and disclaimer.
pub fn content_html(statement: &Statement, urls: &Urls, default_disclaimer: &str) -> String {
    let mut out = format!(
        "<p><strong>{}</strong></p>",
        escape(&statement.content.title)
    );
    if let Some(date) = &statement.content.original_date {
        out.push_str(&format!("<p><em>{}</em></p>", escape(&display_date(date))));
    }
    if statement.content.format == Format::Note
        && let Some(summary) = &statement.content.summary
    {
        out.push_str(&format!("<p><em>{}</em></p>", escape(summary)));
    }
    out.push_str(&statement.content.rendered.federated);
    let signed: Vec<String> = statement
        .signatories
        .iter()
        .map(|o| mention_html(o, urls))
        .collect();
    out.push_str(&format!("<p>Signed by: {}</p>", signed.join(", ")));
    if !statement.content.tags.is_empty() {
        let tags: Vec<String> = statement
            .content
            .tags
            .iter()
            .map(|t| hashtag_html(t, urls))
            .collect();
        out.push_str(&format!("<p>{}</p>", tags.join(" ")));
    }
    let disclaimer = statement
        .content
        .disclaimer
        .as_deref()
        .unwrap_or(default_disclaimer)
        .trim();
    if !disclaimer.is_empty() {
        out.push_str(&format!("<p><em>{}</em></p>", escape(disclaimer)));
    }
    out
}

fn rfc3339(ms: i64) -> String {
    from_ms(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The statement as a Note or Article. `published_at` is the moment of
/// federation; `updated` appears once the statement has been edited.
pub fn statement_object(statement: &Statement, urls: &Urls, default_disclaimer: &str) -> Value {
    let id = urls.statement(&statement.public_id);
    let lead = statement.lead();
    let content = content_html(statement, urls, default_disclaimer);
    let attributed_to: Vec<String> = statement
        .signatories
        .iter()
        .map(|o| urls.organisation(&o.handle).to_string())
        .collect();
    let mut tags: Vec<Value> = statement
        .co_signers()
        .iter()
        .map(|o| json!({"type": "Mention", "href": urls.organisation(&o.handle), "name": acct(o, urls)}))
        .collect();
    tags.extend(
        statement
            .content
            .tags
            .iter()
            .map(|t| json!({"type": "Hashtag", "href": urls.tag(t), "name": format!("#{t}")})),
    );
    let mut cc = vec![urls.followers(&lead.handle).to_string()];
    cc.extend(
        statement
            .co_signers()
            .iter()
            .map(|o| urls.organisation(&o.handle).to_string()),
    );
    let published = statement.published_at.unwrap_or(statement.created_at);
    let mut object = json!({
        "id": id,
        "type": match statement.content.format { Format::Note => "Note", Format::Article => "Article" },
        "attributedTo": attributed_to,
        "content": content,
        "url": id,
        "published": rfc3339(published),
        "to": [PUBLIC],
        "cc": cc,
        "tag": tags,
        "sensitive": statement.content.content_warning.is_some(),
        // Those the policy admits get their QuoteRequest accepted at once;
        // listing only the lead lets nobody else quote (docs/interop.md §13).
        "interactionPolicy": {
            "canQuote": { "automaticApproval": [match statement.content.quote_policy {
                QuotePolicy::Anyone => PUBLIC.to_string(),
                QuotePolicy::Followers => urls.followers(&lead.handle).to_string(),
                QuotePolicy::Nobody => urls.organisation(&lead.handle).to_string(),
            }] }
        },
        "replies": urls.statement_collection(&statement.public_id, "replies"),
        "likes": urls.statement_collection(&statement.public_id, "likes"),
        "shares": urls.statement_collection(&statement.public_id, "shares"),
    });
    // Every language: the statement's own first (it is also `content`),
    // then each translation, rendered the same way (docs/interop.md §4).
    let translated: Vec<Statement> = statement
        .content
        .translations
        .iter()
        .map(|t| statement.in_language(t))
        .collect();
    if let Some(language) = &statement.content.language {
        let mut content_map = serde_json::Map::new();
        content_map.insert(language.clone(), json!(content));
        for version in &translated {
            content_map.insert(
                version.content.language.clone().unwrap_or_default(),
                json!(content_html(version, urls, default_disclaimer)),
            );
        }
        object["contentMap"] = Value::Object(content_map);
    }
    if !statement.content.media.is_empty() {
        // As Mastodon reads them (docs/interop.md §4): `url` a string,
        // `name` the alt text.
        let attachments: Vec<Value> = statement
            .content
            .media
            .iter()
            .map(|m| {
                let mut image = json!({
                    "type": "Image",
                    "mediaType": m.mime_type,
                    "url": urls.media(&m.file),
                    "width": m.width,
                    "height": m.height,
                    "blurhash": m.blurhash,
                });
                if let Some(alt) = &m.description {
                    image["name"] = json!(alt);
                }
                if let Some((x, y)) = m.focus {
                    image["focalPoint"] = json!([x, y]);
                }
                image
            })
            .collect();
        object["attachment"] = Value::Array(attachments);
    }
    if let Some(edited) = statement.edited_at {
        // Milliseconds: Mastodon applies an edit only if `updated` is later
        // than the last one, and two edits can fall in one second.
        object["updated"] =
            json!(from_ms(edited).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    match statement.content.format {
        Format::Note => {
            if let Some(cw) = &statement.content.content_warning {
                object["summary"] = json!(cw);
            }
        }
        Format::Article => {
            object["name"] = json!(statement.content.title);
            let summary_html = |s: &Statement| {
                s.content
                    .summary
                    .as_deref()
                    .map(escape)
                    .map(|s| format!("<p>{s}</p>"))
            };
            let summary = summary_html(statement);
            if let Some(summary) = &summary {
                object["summary"] = json!(summary);
            }
            if let Some(language) = &statement.content.language {
                let mut names = serde_json::Map::new();
                let mut summaries = serde_json::Map::new();
                names.insert(language.clone(), json!(statement.content.title));
                if let Some(summary) = &summary {
                    summaries.insert(language.clone(), json!(summary));
                }
                for version in &translated {
                    let language = version.content.language.clone().unwrap_or_default();
                    names.insert(language.clone(), json!(version.content.title));
                    if let Some(summary) = summary_html(version) {
                        summaries.insert(language, json!(summary));
                    }
                }
                object["nameMap"] = Value::Object(names);
                if !summaries.is_empty() {
                    object["summaryMap"] = Value::Object(summaries);
                }
            }
            object["preview"] = json!({
                "type": "Note",
                "attributedTo": urls.organisation(&lead.handle),
                "content": format!(
                    "<p><strong>{}</strong></p>{}<p><a href=\"{}\">{}</a></p>",
                    escape(&statement.content.title),
                    summary.unwrap_or_default(),
                    escape(id.as_str()),
                    escape(id.as_str()),
                ),
            });
        }
    }
    object
}

/// `Create` from the lead signatory.
pub fn create(statement: &Statement, urls: &Urls, default_disclaimer: &str) -> Activity {
    let object = statement_object(statement, urls, default_disclaimer);
    Activity::new(
        urls,
        Kind::Create,
        json!({
            "@context": context(),
            "actor": urls.organisation(&statement.lead().handle),
            "published": object["published"],
            "to": object["to"],
            "cc": object["cc"],
            "object": object,
        }),
    )
}

/// `Announce` of the statement by a co-signer, to its own followers.
pub fn announce(
    statement: &Statement,
    signer: &Organisation,
    urls: &Urls,
    at: DateTime<Utc>,
) -> Activity {
    Activity::new(
        urls,
        Kind::Announce,
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "actor": urls.organisation(&signer.handle),
            "published": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "to": [PUBLIC],
            "cc": [urls.followers(&signer.handle), urls.organisation(&statement.lead().handle)],
            "object": urls.statement(&statement.public_id),
        }),
    )
}

/// `Update` of an edited statement, from the lead.
pub fn update(statement: &Statement, urls: &Urls, default_disclaimer: &str) -> Activity {
    let object = statement_object(statement, urls, default_disclaimer);
    Activity::new(
        urls,
        Kind::Update,
        json!({
            "@context": context(),
            "actor": urls.organisation(&statement.lead().handle),
            "to": object["to"],
            "cc": object["cc"],
            "object": object,
        }),
    )
}

/// `Delete` with a `Tombstone`, from the lead.
pub fn delete(statement: &Statement, urls: &Urls) -> Activity {
    let id = urls.statement(&statement.public_id);
    Activity::new(
        urls,
        Kind::Delete,
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "actor": urls.organisation(&statement.lead().handle),
            "to": [PUBLIC],
            "cc": [urls.followers(&statement.lead().handle)],
            "object": { "id": id, "type": "Tombstone" },
        }),
    )
}

/// The QuoteAuthorization that lets `quoting` (a remote post) quote the
/// statement, served at its own URL, which is its id (docs/interop.md §13).
pub fn quote_authorization(
    statement: &Statement,
    authorization_id: &str,
    quoting: &str,
    urls: &Urls,
) -> Value {
    json!({
        "@context": context(),
        "type": "QuoteAuthorization",
        "id": urls.quote_authorization(authorization_id),
        "attributedTo": urls.organisation(&statement.lead().handle),
        "interactingObject": quoting,
        "interactionTarget": urls.statement(&statement.public_id),
    })
}

/// `Accept{QuoteRequest}` from the lead, naming the authorisation as its
/// `result`; `request` is the QuoteRequest's id, unchanged.
pub fn accept_quote(
    statement: &Statement,
    request: &str,
    quoter: &str,
    authorization_id: &str,
    urls: &Urls,
) -> Activity {
    Activity::new(
        urls,
        Kind::Accept,
        json!({
            "@context": context(),
            "actor": urls.organisation(&statement.lead().handle),
            "to": [quoter],
            "object": request,
            "result": urls.quote_authorization(authorization_id),
        }),
    )
}

/// `Reject{QuoteRequest}`: the policy does not admit the quoter.
pub fn reject_quote(statement: &Statement, request: &str, quoter: &str, urls: &Urls) -> Activity {
    Activity::new(
        urls,
        Kind::Reject,
        json!({
            "@context": context(),
            "actor": urls.organisation(&statement.lead().handle),
            "to": [quoter],
            "object": request,
        }),
    )
}

/// `Delete{QuoteAuthorization}`: the editor revokes a quote.
pub fn revoke_quote(
    statement: &Statement,
    authorization_id: &str,
    quoter: &str,
    urls: &Urls,
) -> Activity {
    Activity::new(
        urls,
        Kind::Delete,
        json!({
            "@context": context(),
            "actor": urls.organisation(&statement.lead().handle),
            "to": [quoter],
            "object": urls.quote_authorization(authorization_id),
        }),
    )
}
