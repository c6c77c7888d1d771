//! The desk's statements: the dashboard, the list, composing (with a
//! preview built by the same code that federates), editing, publishing,
//! deleting, and the delivery view that follows a statement out.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskForm, DeskResult, Editor, done, page, refusal, signed_in};
use crate::{
    clock::from_ms,
    organisations::Organisation,
    services::{
        ServiceError, moderation,
        statements::{self as service, Changes, Draft, Listing},
    },
    state::AppState,
    statements::{State as StatementState, Statement},
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
        title: statement.title.clone(),
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

/// What the compose form holds, to show it again as it was sent.
#[derive(Serialize, Default)]
struct Fields {
    title: String,
    body: String,
    summary: String,
    content_warning: String,
    language: String,
    tags: String,
    format: String,
    original_date: String,
    disclaimer: String,
    quote_policy: String,
    publish_at: String,
    /// Position of each signatory by handle ("1" for the lead).
    order: HashMap<String, String>,
}

impl Fields {
    fn from_form(form: &DeskForm) -> Fields {
        let text = |name: &str| form.get(name).unwrap_or_default().to_string();
        Fields {
            title: text("title"),
            body: text("body"),
            summary: text("summary"),
            content_warning: text("content_warning"),
            language: text("language"),
            tags: text("tags"),
            format: text("format"),
            original_date: text("original_date"),
            disclaimer: text("disclaimer"),
            quote_policy: text("quote_policy"),
            publish_at: text("publish_at"),
            order: form
                .fields()
                .filter_map(|(key, value)| {
                    let handle = key.strip_prefix("order_")?;
                    (!value.trim().is_empty())
                        .then(|| (handle.to_string(), value.trim().to_string()))
                })
                .collect(),
        }
    }

    fn from_statement(statement: &Statement) -> Fields {
        Fields {
            title: statement.title.clone(),
            body: statement.body.clone(),
            summary: statement.summary.clone().unwrap_or_default(),
            content_warning: statement.content_warning.clone().unwrap_or_default(),
            language: statement.language.clone().unwrap_or_default(),
            tags: statement.tags.join(", "),
            format: statement.format.as_str().to_string(),
            original_date: statement.original_date.clone().unwrap_or_default(),
            disclaimer: statement.disclaimer.clone().unwrap_or_default(),
            quote_policy: statement.quote_policy.as_str().to_string(),
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

    /// The signatories' handles, in the order the editor numbered them.
    /// A position that is not a number sorts last (and the service then
    /// says what is wrong with the list).
    fn signatories(&self) -> Vec<String> {
        let mut numbered: Vec<(u32, &String)> = self
            .order
            .iter()
            .map(|(handle, n)| (n.parse().unwrap_or(u32::MAX), handle))
            .collect();
        numbered.sort();
        numbered.into_iter().map(|(_, h)| h.clone()).collect()
    }

    fn tags(&self) -> Vec<String> {
        self.tags
            .split([',', ' '])
            .map(|t| t.trim().trim_start_matches('#'))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
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

    fn optional(value: &str) -> Option<String> {
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    fn draft(&self, publish: bool) -> Draft {
        Draft {
            title: self.title.clone(),
            body: self.body.clone(),
            signatories: self.signatories(),
            language: Self::optional(&self.language),
            summary: Self::optional(&self.summary),
            content_warning: Self::optional(&self.content_warning),
            tags: self.tags(),
            format: Self::optional(&self.format),
            original_date: Self::optional(&self.original_date),
            disclaimer: Self::optional(&self.disclaimer),
            quote_policy: Self::optional(&self.quote_policy),
            publish,
            publish_at: self.publish_at(),
            // The desk has no translation fields yet: the API and the CLI do.
            translations: Default::default(),
            media: Vec::new(),
            allow_missing_alt: false,
        }
    }

    fn changes(&self) -> Changes {
        Changes {
            title: Some(self.title.clone()),
            body: Some(self.body.clone()),
            language: Some(Self::optional(&self.language)),
            summary: Some(Self::optional(&self.summary)),
            content_warning: Some(Self::optional(&self.content_warning)),
            tags: Some(self.tags()),
            format: Self::optional(&self.format),
            original_date: Some(Self::optional(&self.original_date)),
            disclaimer: Some(Self::optional(&self.disclaimer)),
            quote_policy: Self::optional(&self.quote_policy),
            publish_at: None,
            // Left as they are: the form does not show them.
            translations: None,
            media: None,
            allow_missing_alt: false,
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
            name: o.name,
        })
        .collect())
}

fn preview_view(state: &AppState, preview: service::Preview) -> minijinja::Value {
    context! {
        content_html => preview.content_html,
        content_warning => preview.content_warning,
        lead_name => preview.lead.name,
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
    let fields = Fields::from_form(&form);
    let mut draft = fields.draft(false);
    if let Some(id) = form.text("statement") {
        let statement = service::find(&state.services, &id).await?;
        draft.signatories = statement
            .signatories
            .iter()
            .map(|o| o.handle.clone())
            .collect();
    }
    let (preview, preview_error) = match service::preview(&state.services, &draft).await {
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

/// The compose (or edit) form, with what was sent, the preview and errors.
#[allow(clippy::too_many_arguments)]
async fn compose_page(
    state: &AppState,
    editor: &Editor,
    fields: &Fields,
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
    let fields = Fields {
        format: "note".into(),
        quote_policy: "anyone".into(),
        ..Fields::default()
    };
    compose_page(
        &state,
        &editor,
        &fields,
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
    let fields = Fields::from_form(&form);
    let action = form.get("action").unwrap_or("draft");
    let unprocessable = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    if action == "preview" {
        return match service::preview(&state.services, &fields.draft(false)).await {
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
    let mut draft = fields.draft(action == "publish");
    if action != "schedule" {
        draft.publish_at = None;
    }
    match service::create(&state.services, draft).await {
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
        &Fields::from_statement(&statement),
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
    let fields = Fields::from_form(&form);
    let unprocessable = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    if form.get("action") == Some("preview") {
        let mut draft = fields.draft(false);
        draft.signatories = statement
            .signatories
            .iter()
            .map(|o| o.handle.clone())
            .collect();
        return match service::preview(&state.services, &draft).await {
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
    match service::update(&state.services, &id, fields.changes()).await {
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
