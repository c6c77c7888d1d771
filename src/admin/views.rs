//! What the admin API answers with, and what the CLI reads back: one view
//! type per resource, serialised by the handlers of `admin` and
//! deserialised by `cli::remote`, each with its schema in the OpenAPI
//! document. Store rows and domain types never go on the wire themselves:
//! each view is built from one field by field (its source destructured in
//! full), so a new or changed field of a row is a compile error here
//! rather than a silent change of the API.
//!
//! Views whose wire format the rows used to be keep the schema names the
//! rows had (`#[schema(as = …)]`: `Follower`, `Reply`, `DeliveryInfo`…),
//! so the document that clients are generated from does not change. A
//! view's own doc comment is its schema's description.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    clock::from_ms,
    media::{Attachment, Media},
    organisations::{Organisation, Profile, ProfileField},
    statements::{Statement, TranslationText, ValidContent},
    store::{
        Author, DeliveryCounts, DeliveryInfo, DomainBlock, FailingHost, Follower, Quote,
        ReactionCounts, ReactionRow, RemoteBlock, Reply, Report,
    },
    urls::Urls,
};

/// An RFC 3339 date from milliseconds since the epoch.
fn date(ms: i64) -> String {
    from_ms(ms).to_rfc3339()
}

fn maybe_date(ms: Option<i64>) -> Option<String> {
    ms.map(date)
}

/// An organisation as the admin API shows it. Never includes a private key.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrganisationView {
    pub handle: String,
    /// The display name.
    pub name: String,
    /// The biography, plain text.
    pub summary: String,
    pub website: Option<String>,
    pub fields: Vec<ProfileField>,
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    /// Follows wait for an editor's approval.
    pub manually_approves_followers: bool,
    /// Listed in directories.
    pub discoverable: bool,
    /// Its statements may be indexed by search.
    pub indexable: bool,
    /// Replies to its statements skip the moderation queue.
    pub approve_replies: bool,
    /// Its ActivityPub id, also its profile page.
    pub actor_url: String,
    /// Its fediverse address, `@handle@host`.
    pub acct: String,
    pub followers_count: i64,
    /// Follows awaiting approval.
    pub follow_requests_count: i64,
    /// Activities in its outbox.
    pub statuses_count: i64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The counts an [`OrganisationView`] shows beside the organisation.
pub struct OrganisationCounts {
    pub followers: i64,
    pub follow_requests: i64,
    pub statuses: i64,
}

impl OrganisationView {
    pub fn new(urls: &Urls, org: Organisation, counts: OrganisationCounts) -> OrganisationView {
        let Organisation {
            id: _,
            handle,
            profile:
                Profile {
                    name,
                    summary,
                    website,
                    fields,
                    avatar_url,
                    header_url,
                    manually_approves_followers,
                    discoverable,
                    indexable,
                    approve_replies,
                },
            public_key_pem: _,
            private_key: _,
            created_at,
            updated_at,
        } = org;
        OrganisationView {
            actor_url: urls.organisation(&handle).to_string(),
            acct: format!("@{handle}@{}", urls.domain()),
            followers_count: counts.followers,
            follow_requests_count: counts.follow_requests,
            statuses_count: counts.statuses,
            created_at: date(created_at),
            updated_at: date(updated_at),
            handle,
            name,
            summary,
            website,
            fields,
            avatar_url,
            header_url,
            manually_approves_followers,
            discoverable,
            indexable,
            approve_replies,
        }
    }
}

/// An organisation that signed a statement.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignatoryView {
    pub handle: String,
    pub name: String,
    /// Its ActivityPub id.
    pub actor_url: String,
}

/// A statement as the admin API shows it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatementView {
    /// The id in its URL and in the API's paths.
    pub id: String,
    /// Its page, also its ActivityPub id.
    pub url: String,
    pub title: String,
    /// Markdown, as written.
    pub body: String,
    pub summary: Option<String>,
    pub content_warning: Option<String>,
    pub language: Option<String>,
    pub tags: Vec<String>,
    /// note or article.
    pub format: String,
    pub original_date: Option<String>,
    pub disclaimer: Option<String>,
    /// anyone, followers or nobody.
    pub quote_policy: String,
    /// The statement in other languages, by language tag.
    pub translations: BTreeMap<String, TranslationText>,
    /// Its images, in order.
    pub media: Vec<MediaView>,
    /// draft, scheduled, published or deleted.
    pub status: String,
    /// RFC 3339, while scheduled.
    pub publish_at: Option<String>,
    /// RFC 3339.
    pub published_at: Option<String>,
    /// RFC 3339, the last edit after publication.
    pub edited_at: Option<String>,
    /// The lead first.
    pub signatories: Vec<SignatoryView>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl StatementView {
    pub fn new(urls: &Urls, statement: Statement) -> StatementView {
        let Statement {
            id: _,
            public_id,
            content:
                ValidContent {
                    title,
                    body,
                    rendered: _,
                    summary,
                    content_warning,
                    language,
                    tags,
                    format,
                    original_date,
                    disclaimer,
                    quote_policy,
                    translations,
                    media,
                },
            state,
            publish_at,
            published_at,
            edited_at,
            created_at,
            updated_at,
            signatories,
        } = statement;
        StatementView {
            url: urls.statement(&public_id).to_string(),
            id: public_id,
            title,
            body,
            summary,
            content_warning,
            language,
            tags,
            format: format.as_str().to_string(),
            original_date,
            disclaimer,
            quote_policy: quote_policy.as_str().to_string(),
            translations: translations
                .iter()
                .map(|t| (t.language.clone(), t.text()))
                .collect(),
            media: media
                .iter()
                .map(|m| MediaView::of_attachment(urls, m))
                .collect(),
            status: state.as_str().to_string(),
            publish_at: maybe_date(publish_at),
            published_at: maybe_date(published_at),
            edited_at: maybe_date(edited_at),
            signatories: signatories
                .into_iter()
                .map(|o| SignatoryView {
                    actor_url: urls.organisation(&o.handle).to_string(),
                    handle: o.handle,
                    name: o.profile.name,
                })
                .collect(),
            created_at: date(created_at),
            updated_at: date(updated_at),
        }
    }
}

/// What an import did: `created`, `unchanged` (the key was imported
/// before; nothing changed) or, in a dry run, `would_create`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    /// created, unchanged or would_create.
    pub outcome: String,
    /// The statement, unless in a dry run.
    pub statement: Option<StatementView>,
}

/// An upload as the API shows it (the shape Mastodon's API gives media).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaView {
    /// What a statement's `media` and a profile's `avatar_media` name.
    pub id: String,
    /// Always `image`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The image as we re-encoded it.
    pub url: String,
    /// A thumbnail, at most 640 pixels on its longest side.
    pub preview_url: String,
    /// `image/jpeg` or `image/png`.
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
    /// Alt text.
    pub description: Option<String>,
    /// `[x, y]`, each from -1 to 1.
    pub focus: Option<[f64; 2]>,
}

impl MediaView {
    /// An image as a statement carries it.
    pub fn of_attachment(urls: &Urls, a: &Attachment) -> MediaView {
        let Attachment {
            id,
            file,
            thumbnail,
            mime_type,
            width,
            height,
            blurhash,
            description,
            focus,
        } = a;
        MediaView {
            id: id.clone(),
            kind: "image".into(),
            url: urls.media(file).to_string(),
            preview_url: urls.media(thumbnail).to_string(),
            mime_type: mime_type.clone(),
            width: *width,
            height: *height,
            blurhash: blurhash.clone(),
            description: description.clone(),
            focus: focus.map(|(x, y)| [x, y]),
        }
    }

    /// An upload: shown as the attachment it becomes.
    pub fn of(urls: &Urls, m: &Media) -> MediaView {
        Self::of_attachment(urls, &m.attachment())
    }
}

/// A follow with the follower's addresses, as the admin API and the
/// collections show it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Follower)]
pub struct FollowerView {
    /// The follow's id, for accepting, rejecting or removing it.
    pub id: i64,
    /// The follower's actor id (a URL).
    pub actor: String,
    /// The follower's server, host[:port].
    pub domain: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    /// The id of the Follow activity.
    pub follow_activity_id: String,
    /// pending or accepted.
    pub state: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub accepted_at: Option<i64>,
}

impl From<Follower> for FollowerView {
    fn from(row: Follower) -> FollowerView {
        let Follower {
            id,
            organisation_id: _,
            actor_id: _,
            actor,
            domain,
            inbox,
            shared_inbox,
            preferred_username,
            name,
            follow_activity_id,
            state,
            created_at,
            accepted_at,
        } = row;
        FollowerView {
            id,
            actor,
            domain,
            inbox,
            shared_inbox,
            preferred_username,
            name,
            follow_activity_id,
            state: state.as_str().to_string(),
            created_at,
            accepted_at,
        }
    }
}

/// A page of follows.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FollowerPage {
    /// How many there are in all.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    pub items: Vec<FollowerView>,
}

/// Who a remote actor is, as the editor sees it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Author)]
pub struct AuthorView {
    /// The remote actor's id (a URL).
    pub actor: String,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// host[:port]
    pub server: String,
    pub avatar_url: Option<String>,
}

impl From<Author> for AuthorView {
    fn from(row: Author) -> AuthorView {
        let Author {
            actor,
            name,
            preferred_username,
            server,
            avatar_url,
        } = row;
        AuthorView {
            actor,
            name,
            preferred_username,
            server,
            avatar_url,
        }
    }
}

/// How many of each a statement has.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReactionCounts)]
pub struct ReactionCountsView {
    pub likes: i64,
    pub boosts: i64,
    /// Approved replies: the public count.
    pub replies: i64,
    pub pending_replies: i64,
    pub quotes: i64,
}

impl From<ReactionCounts> for ReactionCountsView {
    fn from(row: ReactionCounts) -> ReactionCountsView {
        let ReactionCounts {
            likes,
            boosts,
            replies,
            pending_replies,
            quotes,
        } = row;
        ReactionCountsView {
            likes,
            boosts,
            replies,
            pending_replies,
            quotes,
        }
    }
}

/// A like or a boost.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReactionRow)]
pub struct ReactionView {
    /// like or boost.
    pub kind: String,
    /// The Like or Announce activity's id.
    pub activity_id: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[serde(flatten)]
    pub author: AuthorView,
}

impl From<ReactionRow> for ReactionView {
    fn from(row: ReactionRow) -> ReactionView {
        let ReactionRow {
            id: _,
            kind,
            activity_id,
            created_at,
            author,
        } = row;
        ReactionView {
            kind,
            activity_id,
            created_at,
            author: author.into(),
        }
    }
}

/// Counts and the people behind them, for one statement.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Reactions)]
pub struct ReactionsView {
    pub counts: ReactionCountsView,
    /// A page of the boosts, newest first.
    pub boosts: Vec<ReactionView>,
    /// A page of the likes, newest first.
    pub likes: Vec<ReactionView>,
    /// A page of the quotes, newest first.
    pub quotes: Vec<QuoteView>,
}

impl From<crate::services::moderation::Reactions> for ReactionsView {
    fn from(reactions: crate::services::moderation::Reactions) -> ReactionsView {
        let crate::services::moderation::Reactions {
            counts,
            boosts,
            likes,
            quotes,
        } = reactions;
        ReactionsView {
            counts: counts.into(),
            boosts: boosts.into_iter().map(Into::into).collect(),
            likes: likes.into_iter().map(Into::into).collect(),
            quotes: quotes.into_iter().map(Into::into).collect(),
        }
    }
}

/// A remote reply to one of our statements.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Reply)]
pub struct ReplyView {
    pub id: i64,
    /// The id of the statement it answers.
    pub statement: String,
    /// The reply's ActivityPub id.
    pub object_id: String,
    pub url: Option<String>,
    /// Sanitised HTML.
    pub content: String,
    pub summary: Option<String>,
    pub language: Option<String>,
    /// pending, approved or hidden.
    pub state: String,
    /// Milliseconds since the epoch.
    pub published_at: i64,
    /// Milliseconds since the epoch.
    pub edited_at: Option<i64>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[serde(flatten)]
    pub author: AuthorView,
}

impl From<Reply> for ReplyView {
    fn from(row: Reply) -> ReplyView {
        let Reply {
            id,
            statement_id: _,
            statement,
            object_id,
            url,
            content,
            summary,
            language,
            state,
            published_at,
            edited_at,
            created_at,
            author,
        } = row;
        ReplyView {
            id,
            statement,
            object_id,
            url,
            content,
            summary,
            language,
            state: state.as_str().to_string(),
            published_at,
            edited_at,
            created_at,
            author: author.into(),
        }
    }
}

/// A remote post quoting one of our statements.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Quote)]
pub struct QuoteView {
    pub id: i64,
    /// Names the QuoteAuthorization; the id to revoke it by.
    pub public_id: String,
    /// The id of the quoted statement.
    pub statement: String,
    /// The QuoteRequest activity's id.
    pub request_id: String,
    /// The quoting post's ActivityPub id.
    pub object_id: String,
    pub url: Option<String>,
    /// Sanitised HTML.
    pub content: String,
    /// accepted or revoked.
    pub state: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub revoked_at: Option<i64>,
    #[serde(flatten)]
    pub author: AuthorView,
}

impl From<Quote> for QuoteView {
    fn from(row: Quote) -> QuoteView {
        let Quote {
            id,
            public_id,
            statement_id: _,
            statement,
            request_id,
            object_id,
            url,
            content,
            state,
            created_at,
            revoked_at,
            author,
        } = row;
        QuoteView {
            id,
            public_id,
            statement,
            request_id,
            object_id,
            url,
            content,
            state: state.as_str().to_string(),
            created_at,
            revoked_at,
            author: author.into(),
        }
    }
}

/// A report (Flag) from another server.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Report)]
pub struct ReportDetails {
    pub id: i64,
    /// The Flag activity's id.
    pub activity_id: String,
    /// Who reported (an actor id).
    pub actor: String,
    /// The reported organisation's handle.
    pub organisation: String,
    /// The reporter's comment.
    pub content: String,
    /// open or resolved.
    pub state: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// Milliseconds since the epoch.
    pub resolved_at: Option<i64>,
}

/// A report as the editor reads it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportView {
    #[serde(flatten)]
    pub report: ReportDetails,
    /// The reported statements' ids.
    pub statements: Vec<String>,
}

impl From<Report> for ReportView {
    fn from(row: Report) -> ReportView {
        let Report {
            id,
            activity_id,
            actor,
            organisation_id: _,
            organisation,
            content,
            statements_json,
            state,
            created_at,
            resolved_at,
        } = row;
        ReportView {
            report: ReportDetails {
                id,
                activity_id,
                actor,
                organisation,
                content,
                state: state.as_str().to_string(),
                created_at,
                resolved_at,
            },
            // Written by the inbox as a JSON list of ids
            // (`Store::record_report`); anything else shows as none.
            statements: serde_json::from_str(&statements_json).unwrap_or_default(),
        }
    }
}

/// A remote actor blocking one of our organisations.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = RemoteBlock)]
pub struct RemoteBlockView {
    /// The blocked organisation's handle.
    pub organisation: String,
    /// The Block activity's id.
    pub activity_id: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    #[serde(flatten)]
    pub author: AuthorView,
}

impl From<RemoteBlock> for RemoteBlockView {
    fn from(row: RemoteBlock) -> RemoteBlockView {
        let RemoteBlock {
            organisation,
            activity_id,
            created_at,
            author,
        } = row;
        RemoteBlockView {
            organisation,
            activity_id,
            created_at,
            author: author.into(),
        }
    }
}

/// A server we refuse to federate with, and its subdomains.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DomainBlock)]
pub struct DomainBlockView {
    /// The domain in its normal form (lower case, punycode, no trailing dot).
    pub domain: String,
    pub reason: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

impl From<DomainBlock> for DomainBlockView {
    fn from(row: DomainBlock) -> DomainBlockView {
        let DomainBlock {
            domain,
            reason,
            created_at,
        } = row;
        DomainBlockView {
            domain,
            reason,
            created_at,
        }
    }
}

/// How the delivery of activities is going.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryReport {
    pub counts: DeliveryCountsView,
    /// Servers whose deliveries fail (at most 50).
    pub failing_hosts: Vec<FailingHostView>,
    /// Only with `?state=`: the latest deliveries in that state.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub deliveries: Option<Vec<DeliveryView>>,
}

/// How many deliveries are in each state.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryCounts)]
pub struct DeliveryCountsView {
    pub queued: i64,
    /// Of `queued`, those whose earlier attempts failed and that wait for
    /// their next one: every other delivery has had its first try.
    pub retrying: i64,
    pub sending: i64,
    pub delivered: i64,
    pub failed: i64,
}

impl From<DeliveryCounts> for DeliveryCountsView {
    fn from(row: DeliveryCounts) -> DeliveryCountsView {
        let DeliveryCounts {
            queued,
            retrying,
            sending,
            delivered,
            failed,
        } = row;
        DeliveryCountsView {
            queued,
            retrying,
            sending,
            delivered,
            failed,
        }
    }
}

/// A server our deliveries fail to reach.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = FailingHost)]
pub struct FailingHostView {
    /// host[:port]
    pub host: String,
    /// On how many distinct days deliveries failed without a success in
    /// between (7 make it unavailable).
    pub failure_days: i32,
    pub last_error: Option<String>,
    /// Milliseconds since the epoch; while set, nothing is sent to it.
    pub unavailable_since: Option<i64>,
}

impl From<FailingHost> for FailingHostView {
    fn from(row: FailingHost) -> FailingHostView {
        let FailingHost {
            host,
            failure_days,
            last_error,
            unavailable_since,
        } = row;
        FailingHostView {
            host,
            failure_days,
            last_error,
            unavailable_since,
        }
    }
}

/// One activity's delivery to one inbox.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = DeliveryInfo)]
pub struct DeliveryView {
    pub id: i64,
    /// The activity's id (a URL).
    pub activity: String,
    /// The activity's type: Create, Announce, Update, Delete, Accept, …
    pub kind: String,
    pub inbox: String,
    /// host[:port] of the inbox.
    pub host: String,
    /// queued, sending, delivered or failed.
    pub state: String,
    pub attempts: i32,
    /// When it is (or was) due, in milliseconds since the epoch.
    pub run_at: i64,
    /// The HTTP status of the last attempt.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    /// Milliseconds since the epoch.
    pub finished_at: Option<i64>,
}

impl From<DeliveryInfo> for DeliveryView {
    fn from(row: DeliveryInfo) -> DeliveryView {
        let DeliveryInfo {
            id,
            activity,
            kind,
            inbox,
            host,
            state,
            attempts,
            run_at,
            last_status,
            last_error,
            finished_at,
        } = row;
        DeliveryView {
            id,
            activity,
            kind,
            inbox,
            host,
            state: state.as_str().to_string(),
            attempts,
            run_at,
            last_status,
            last_error,
            finished_at,
        }
    }
}
