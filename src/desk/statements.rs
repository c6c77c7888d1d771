//! The desk's statements: the dashboard, the list, composing (with a
//! preview built by the same code that federates), editing, publishing,
//! deleting, and the delivery view that follows a statement out.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use minijinja::context;
use serde::{Deserialize, Serialize, de::value::MapDeserializer};

use super::{DeskForm, DeskResult, Editor, done, page, refusal, signed_in};
use crate::{
    clock::from_ms,
    organisations::{Invalid, Organisation},
    services::{
        ServiceError, moderation,
        statements::{self as service, Changes, Draft, Listing},
    },
    state::AppState,
    statements::{Content, Format, QuotePolicy, State as StatementState, Statement},
    store::ReplyState,
};

/// A statement as the desk lists it.
#[derive(Serialize)]
struct Row {
    id: String,
    title: String,
    state: &'static str,
    signatories: String,
    when: String,
}

fn when(ms: Option<i64>) -> String {
    ms.map(|ms| from_ms(ms).format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn row(statement: &Statement) -> Row {
    Row {
        id: statement.public_id.clone(),
        title: statement.content.title.clone(),
        state: statement.state.as_str(),
        signatories: statement
            .signatories
            .iter()
            .map(|o| o.handle.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        when: when(
            statement
                .published_at
                .or(statement.publish_at)
                .or(Some(statement.updated_at)),
        ),
    }
}

/// `GET /admin`: what needs the editor's attention, and the latest work.
pub async fn dashboard(State(state): State<AppState>, editor: Editor) -> DeskResult {
    let services = &state.services;
    let recent = service::list(
        services,
        Listing {
            organisation: None,
            status: None,
            limit: 10,
            offset: 0,
        },
    )
    .await?;
    let pending = moderation::replies(
        services,
        moderation::ReplyListing {
            status: Some(ReplyState::Pending.to_string()),
            statement: None,
            limit: 100,
            offset: 0,
        },
    )
    .await?
    .len();
    let counts = state.store.delivery_counts(None).await?;
    page(
        &state,
        "desk/dashboard.html",
        context! {
            statements => recent.iter().map(row).collect::<Vec<_>>(),
            pending_replies => pending,
            deliveries => counts,
            ..signed_in(&editor)
        },
    )
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

/// `GET /admin/statements?status=…`.
pub async fn list(
    State(state): State<AppState>,
    editor: Editor,
    Query(query): Query<ListQuery>,
) -> DeskResult {
    let status = query.status.filter(|s| !s.is_empty());
    let statements = service::list(
        &state.services,
        Listing {
            organisation: None,
            status: status.clone(),
            limit: 100,
            offset: 0,
        },
    )
    .await?;
    page(
        &state,
        "desk/statements.html",
        context! {
            statements => statements.iter().map(row).collect::<Vec<_>>(),
            status => status,
            ..signed_in(&editor)
        },
    )
}

/// The compose form as sent: the statement's content under its own
/// field names (the form's serde shape is `Content`'s), the signatories'
/// positions and `publish_at`. It becomes the service's `Draft` or
/// `Changes` through the `statements` leaf's own conversions, so the desk
/// names no content field.
#[derive(Deserialize)]
struct StatementForm {
    #[serde(flatten)]
    content: Content,
    /// `datetime-local`: minutes, in UTC.
    #[serde(default)]
    publish_at: String,
    /// `csrf`, `action`, `statement`, and `order_{handle}`: the position of
    /// each signatory ("1" for the lead).
    #[serde(flatten)]
    others: BTreeMap<String, String>,
}

impl StatementForm {
    /// The form's fields, typed; a form serde cannot read (a field given
    /// twice) is refused beside the form, like any other refusal.
    fn read(form: &DeskForm) -> Result<StatementForm, ServiceError> {
        let pairs = form
            .fields()
            .map(|(key, value)| (key.to_string(), value.to_string()));
        StatementForm::deserialize(MapDeserializer::<_, serde::de::value::Error>::new(pairs))
            .map_err(|err| Invalid::new("form", err.to_string()).into())
    }

    /// The signatories' handles, in the order the editor numbered them.
    /// A position that is not a number sorts last (and the service then
    /// says what is wrong with the list).
    fn signatories(&self) -> Vec<String> {
        let order = order(
            self.others
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        let mut numbered: Vec<(u32, &String)> = order
            .iter()
            .map(|(handle, n)| (n.parse().unwrap_or(u32::MAX), handle))
            .collect();
        numbered.sort();
        numbered.into_iter().map(|(_, h)| h.clone()).collect()
    }

    /// `datetime-local` gives minutes without a zone: the desk says UTC.
    fn publish_at(&self) -> Option<String> {
        let at = self.publish_at.trim();
        if at.is_empty() {
            None
        } else if at.len() == 16 {
            Some(format!("{at}:00Z"))
        } else {
            Some(at.to_string())
        }
    }

    fn draft(&self, publish: bool) -> Draft {
        Draft {
            publish,
            publish_at: self.publish_at(),
            // The desk has no translation or image fields yet: the API and
            // the CLI do.
            ..Draft::of(self.content.clone(), self.signatories())
        }
    }

    fn changes(&self) -> Changes {
        Changes {
            // Left as they are: the form does not show them.
            translations: None,
            ..Changes::replacing(self.content.clone())
        }
    }
}

/// Position of each signatory by handle, from the `order_{handle}` fields.
fn order<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    fields
        .filter_map(|(key, value)| {
            let handle = key.strip_prefix("order_")?;
            (!value.trim().is_empty()).then(|| (handle.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// `content`'s form fields as the form shows them, by name: text as it is
/// to be typed (nothing for an absent value, tags separated by commas).
fn texts(content: &Content) -> BTreeMap<String, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(content) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter_map(|(name, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::Null => String::new(),
                // Translations: not a field of the form.
                _ => return None,
            };
            Some((name, text))
        })
        .collect()
}

/// What the compose form shows in its fields, by name; the signatories'
/// positions in `order`.
#[derive(Serialize)]
struct Shown {
    #[serde(flatten)]
    texts: BTreeMap<String, String>,
    publish_at: String,
    order: BTreeMap<String, String>,
}

impl Shown {
    /// The form as it was sent: each field as typed.
    fn sent(form: &DeskForm) -> Shown {
        let texts = texts(&Content::default())
            .into_keys()
            .map(|name| {
                let value = form.get(&name).unwrap_or_default().to_string();
                (name, value)
            })
            .collect();
        Shown {
            texts,
            publish_at: form.get("publish_at").unwrap_or_default().to_string(),
            order: order(form.fields()),
        }
    }

    /// The form showing `statement`.
    fn of(statement: &Statement) -> Shown {
        Shown {
            texts: texts(&Content::from(&statement.content)),
            publish_at: statement
                .publish_at
                .map(|ms| from_ms(ms).format("%Y-%m-%dT%H:%M").to_string())
                .unwrap_or_default(),
            order: statement
                .signatories
                .iter()
                .enumerate()
                .map(|(i, org)| (org.handle.clone(), (i + 1).to_string()))
                .collect(),
        }
    }

    /// An empty form, with the defaults chosen.
    fn new() -> Shown {
        let defaults = Content {
            format: Some(Format::Note.as_str().into()),
            quote_policy: Some(QuotePolicy::default().as_str().into()),
            ..Content::default()
        };
        Shown {
            texts: texts(&defaults),
            publish_at: String::new(),
            order: BTreeMap::new(),
        }
    }
}

#[derive(Serialize)]
struct Choice {
    handle: String,
    name: String,
}

async fn organisations(state: &AppState) -> Result<Vec<Choice>, ServiceError> {
    let all: Vec<Organisation> = state.store.organisations().await?;
    Ok(all
        .into_iter()
        .map(|o| Choice {
            handle: o.handle,
            name: o.profile.name,
        })
        .collect())
}

fn preview_view(state: &AppState, preview: service::Preview) -> minijinja::Value {
    context! {
        content_html => preview.content_html,
        content_warning => preview.content_warning,
        lead_name => preview.lead.profile.name,
        lead_handle => format!("@{}@{}", preview.lead.handle, state.urls.domain()),
    }
}

/// `POST /admin/statements/preview`: the preview alone, which htmx puts in
/// place while the editor types. What the service refuses is shown there
/// instead (with 200, so that it replaces the last preview).
pub async fn live_preview(
    State(state): State<AppState>,
    editor: Editor,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    let previewed = async {
        let mut draft = StatementForm::read(&form)?.draft(false);
        if let Some(id) = form.text("statement") {
            let statement = service::find(&state.services, &id).await?;
            draft.signatories = handles(&statement);
        }
        service::preview(&state.services, &draft).await
    };
    let (preview, preview_error) = match previewed.await {
        Ok(preview) => (Some(preview_view(&state, preview)), None),
        Err(ServiceError::Invalid(invalid)) => (
            None,
            Some(format!("{}: {}", invalid.field, invalid.message)),
        ),
        Err(other) => return Err(other.into()),
    };
    page(
        &state,
        "desk/preview.html",
        context! { preview => preview, preview_error => preview_error },
    )
}

/// The signatories' handles, the lead first.
fn handles(statement: &Statement) -> Vec<String> {
    statement
        .signatories
        .iter()
        .map(|o| o.handle.clone())
        .collect()
}

/// The compose (or edit) form, with what was sent, the preview and errors.
#[allow(clippy::too_many_arguments)]
async fn compose_page(
    state: &AppState,
    editor: &Editor,
    fields: &Shown,
    statement: Option<&Statement>,
    preview: Option<service::Preview>,
    errors: HashMap<String, String>,
    status: axum::http::StatusCode,
) -> DeskResult {
    let preview = preview.map(|p| preview_view(state, p));
    let mut response = page(
        state,
        "desk/compose.html",
        context! {
            fields => fields,
            statement => statement.map(row),
            organisations => organisations(state).await?,
            preview => preview,
            errors => errors,
            ..signed_in(editor)
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /admin/statements/new`.
pub async fn compose(State(state): State<AppState>, editor: Editor) -> DeskResult {
    compose_page(
        &state,
        &editor,
        &Shown::new(),
        None,
        None,
        HashMap::new(),
        axum::http::StatusCode::OK,
    )
    .await
}

/// `POST /admin/statements`: preview, save as draft, schedule or publish
/// (the button pressed is `action`).
pub async fn create(State(state): State<AppState>, editor: Editor, form: DeskForm) -> DeskResult {
    editor.check(&form)?;
    let fields = Shown::sent(&form);
    let action = form.get("action").unwrap_or("draft");
    let unprocessable = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    let sent = StatementForm::read(&form);
    if action == "preview" {
        let previewed = match sent {
            Ok(sent) => service::preview(&state.services, &sent.draft(false)).await,
            Err(err) => Err(err),
        };
        return match previewed {
            Ok(preview) => {
                compose_page(
                    &state,
                    &editor,
                    &fields,
                    None,
                    Some(preview),
                    HashMap::new(),
                    axum::http::StatusCode::OK,
                )
                .await
            }
            Err(err) => {
                let errors = refusal(err, "form")?;
                compose_page(&state, &editor, &fields, None, None, errors, unprocessable).await
            }
        };
    }
    let created = match sent {
        Ok(sent) => {
            let mut draft = sent.draft(action == "publish");
            if action != "schedule" {
                draft.publish_at = None;
            }
            service::create(&state.services, draft).await
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(statement) => done(&format!("/admin/statements/{}", statement.public_id)),
        Err(err) => {
            let errors = refusal(err, "form")?;
            compose_page(&state, &editor, &fields, None, None, errors, unprocessable).await
        }
    }
}

/// `GET /admin/statements/{id}`: the statement, its edit form, and how its
/// deliveries are going.
pub async fn show(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
) -> DeskResult {
    let statement = service::find(&state.services, &id).await?;
    compose_page(
        &state,
        &editor,
        &Shown::of(&statement),
        Some(&statement),
        None,
        HashMap::new(),
        axum::http::StatusCode::OK,
    )
    .await
}

/// `POST /admin/statements/{id}`: saves an edit (an `Update` goes to every
/// server that has it, if it is published), or previews it.
pub async fn update(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    let statement = service::find(&state.services, &id).await?;
    let fields = Shown::sent(&form);
    let sent = StatementForm::read(&form);
    let unprocessable = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    if form.get("action") == Some("preview") {
        let previewed = match sent {
            Ok(sent) => {
                let mut draft = sent.draft(false);
                draft.signatories = handles(&statement);
                service::preview(&state.services, &draft).await
            }
            Err(err) => Err(err),
        };
        return match previewed {
            Ok(preview) => {
                compose_page(
                    &state,
                    &editor,
                    &fields,
                    Some(&statement),
                    Some(preview),
                    HashMap::new(),
                    axum::http::StatusCode::OK,
                )
                .await
            }
            Err(err) => {
                let errors = refusal(err, "form")?;
                compose_page(
                    &state,
                    &editor,
                    &fields,
                    Some(&statement),
                    None,
                    errors,
                    unprocessable,
                )
                .await
            }
        };
    }
    let updated = match sent {
        Ok(sent) => service::update(&state.services, &id, sent.changes()).await,
        Err(err) => Err(err),
    };
    match updated {
        Ok(_) => done(&format!("/admin/statements/{id}")),
        Err(err) => {
            let errors = refusal(err, "form")?;
            compose_page(
                &state,
                &editor,
                &fields,
                Some(&statement),
                None,
                errors,
                unprocessable,
            )
            .await
        }
    }
}

/// `POST /admin/statements/{id}/sign`: another organisation signs. On a
/// published statement it boosts it to its followers, and every server
/// that has the statement gets the longer list (an `Update`).
pub async fn sign(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    let handle = form.text("handle").unwrap_or_default();
    service::add_signatory(&state.services, &id, &handle).await?;
    done(&format!("/admin/statements/{id}"))
}

/// `POST /admin/statements/{id}/publish`.
pub async fn publish(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    service::publish_now(&state.services, &id, false).await?;
    done(&format!("/admin/statements/{id}/deliveries"))
}

/// `POST /admin/statements/{id}/delete`: followers' servers are told to
/// remove it (a `Delete`); the page and the ActivityPub object answer 404.
pub async fn delete(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    service::withdraw(&state.services, &id).await?;
    done("/admin/statements")
}

/// `GET /admin/statements/{id}/deliveries`: per server, what is waiting,
/// delivered and failed, with the last error. While anything waits, the
/// page reloads itself every two seconds (no script needed).
pub async fn deliveries(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
) -> DeskResult {
    let statement = service::find_any(&state.services, &id).await?;
    let counts = state.store.delivery_counts(Some(statement.id)).await?;
    let hosts = state
        .store
        .statement_delivery_hosts(statement.id, 500)
        .await?;
    let waiting = counts.queued + counts.sending > 0;
    page(
        &state,
        "desk/deliveries.html",
        context! {
            statement => row(&statement),
            published => statement.state == StatementState::Published,
            counts => counts,
            hosts => hosts,
            waiting => waiting,
            ..signed_in(&editor)
        },
    )
}
