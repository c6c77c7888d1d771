//! `/api/v1/statements`: write, schedule, publish, edit and delete joint
//! statements; add signatories; follow their deliveries; pin them.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};

use super::{
    auth::Admin,
    deliveries::{DeliveryQuery, DeliveryReport, report},
    organisations::find,
};
use crate::{
    error::{ApiJson, ApiPath, ApiQuery, AppError},
    organisations::Invalid,
    publishing,
    state::AppState,
    statements::{Content, MAX_SIGNATORIES, State as StatementState, Statement, parse_publish_at},
    store::{NewStatement, StatementFilter, StoreError, from_ms},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateStatement {
    title: String,
    body: String,
    signatories: Vec<String>,
    language: Option<String>,
    summary: Option<String>,
    content_warning: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    format: Option<String>,
    original_date: Option<String>,
    disclaimer: Option<String>,
    #[serde(default)]
    publish: bool,
    publish_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateStatement {
    title: Option<String>,
    body: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    language: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    content_warning: Option<Option<String>>,
    tags: Option<Vec<String>>,
    format: Option<String>,
    #[serde(default, deserialize_with = "super::nullable")]
    original_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::nullable")]
    disclaimer: Option<Option<String>>,
    /// Drafts and scheduled statements only; `null` makes it a draft again.
    #[serde(default, deserialize_with = "super::nullable")]
    publish_at: Option<Option<String>>,
}

#[derive(Serialize)]
pub struct SignatoryView {
    handle: String,
    name: String,
    actor_url: String,
}

#[derive(Serialize)]
pub struct StatementView {
    id: String,
    url: String,
    title: String,
    body: String,
    summary: Option<String>,
    content_warning: Option<String>,
    language: Option<String>,
    tags: Vec<String>,
    format: &'static str,
    original_date: Option<String>,
    disclaimer: Option<String>,
    status: &'static str,
    publish_at: Option<String>,
    published_at: Option<String>,
    edited_at: Option<String>,
    signatories: Vec<SignatoryView>,
    created_at: String,
    updated_at: String,
}

fn date(ms: Option<i64>) -> Option<String> {
    ms.map(|ms| from_ms(ms).to_rfc3339())
}

fn view(state: &AppState, s: Statement) -> StatementView {
    StatementView {
        url: state.urls.statement(&s.public_id).to_string(),
        signatories: s
            .signatories
            .iter()
            .map(|o| SignatoryView {
                handle: o.handle.clone(),
                name: o.name.clone(),
                actor_url: state.urls.organisation(&o.handle).to_string(),
            })
            .collect(),
        id: s.public_id,
        title: s.title,
        body: s.body,
        summary: s.summary,
        content_warning: s.content_warning,
        language: s.language,
        tags: s.tags,
        format: s.format.as_str(),
        original_date: s.original_date,
        disclaimer: s.disclaimer,
        status: s.state.as_str(),
        publish_at: date(s.publish_at),
        published_at: date(s.published_at),
        edited_at: date(s.edited_at),
        created_at: from_ms(s.created_at).to_rfc3339(),
        updated_at: from_ms(s.updated_at).to_rfc3339(),
    }
}

/// The organisations named by `handles`, in order: each must exist, once.
async fn signatories(state: &AppState, handles: &[String]) -> Result<Vec<i64>, AppError> {
    if handles.is_empty() {
        return Err(Invalid::new(
            "signatories",
            "at least one signatory (the lead) is required",
        )
        .into());
    }
    if handles.len() > MAX_SIGNATORIES {
        return Err(Invalid::new("signatories", format!("at most {MAX_SIGNATORIES}")).into());
    }
    let mut ids = Vec::with_capacity(handles.len());
    for (i, handle) in handles.iter().enumerate() {
        let org = match state.store.organisation(handle).await {
            Ok(org) => org,
            Err(StoreError::NotFound) => {
                return Err(Invalid::new(
                    format!("signatories[{i}]"),
                    format!("no organisation {handle}"),
                )
                .into());
            }
            Err(err) => return Err(err.into()),
        };
        if ids.contains(&org.id) {
            return Err(Invalid::new(
                format!("signatories[{i}]"),
                format!("{handle} is listed twice"),
            )
            .into());
        }
        ids.push(org.id);
    }
    Ok(ids)
}

async fn find_statement(state: &AppState, id: &str) -> Result<Statement, AppError> {
    match state.store.statement(id).await {
        Ok(s) if s.state != StatementState::Deleted => Ok(s),
        Ok(_) | Err(StoreError::NotFound) => Err(AppError::not_found(format!("no statement {id}"))),
        Err(err) => Err(err.into()),
    }
}

/// `POST /api/v1/statements` → 201. A draft unless `publish` or `publish_at`.
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(input): ApiJson<CreateStatement>,
) -> Result<impl IntoResponse, AppError> {
    let content = Content {
        title: input.title,
        body: input.body,
        summary: input.summary,
        content_warning: input.content_warning,
        language: input.language,
        tags: input.tags,
        format: input.format,
        original_date: input.original_date,
        disclaimer: input.disclaimer,
    }
    .validate()?;
    let signatory_ids = signatories(&state, &input.signatories).await?;
    let publish_at = input
        .publish_at
        .as_deref()
        .map(parse_publish_at)
        .transpose()?;
    if input.publish && publish_at.is_some() {
        return Err(AppError::invalid(
            "publish_at",
            "give either publish or publish_at, not both",
        ));
    }
    let public_id = uuid::Uuid::now_v7().to_string();
    let statement = state
        .store
        .create_statement(NewStatement {
            public_id: &public_id,
            content: &content,
            state: if publish_at.is_some() {
                StatementState::Scheduled
            } else {
                StatementState::Draft
            },
            publish_at,
            signatory_ids: &signatory_ids,
        })
        .await?;
    tracing::info!(statement = %public_id, "statement created");
    let statement = if input.publish {
        publishing::publish(&state.publisher, &statement).await?;
        state.store.statement_by_id(statement.id).await?
    } else {
        statement
    };
    Ok((StatusCode::CREATED, Json(view(&state, statement))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    organisation: Option<String>,
    status: Option<String>,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    40
}

/// `GET /api/v1/statements?organisation=&status=&limit=&offset=`
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<StatementView>>, AppError> {
    if !(1..=200).contains(&query.limit) || query.offset < 0 {
        return Err(AppError::invalid(
            "limit",
            "limit must be 1 to 200 and offset at least 0",
        ));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(StatementState::parse(s).ok_or_else(|| {
            AppError::invalid("status", "must be draft, scheduled, published or deleted")
        })?),
    };
    let organisation_id = match &query.organisation {
        Some(handle) => Some(find(&state, handle).await?.id),
        None => None,
    };
    let statements = state
        .store
        .statements(&StatementFilter {
            organisation_id,
            state: status,
            tag: None,
            limit: query.limit,
            offset: query.offset,
        })
        .await?;
    Ok(Json(
        statements.into_iter().map(|s| view(&state, s)).collect(),
    ))
}

/// `GET /api/v1/statements/{id}`
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StatementView>, AppError> {
    Ok(Json(view(&state, find_statement(&state, &id).await?)))
}

/// `PATCH /api/v1/statements/{id}`: a published statement's edit goes out
/// as an Update.
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateStatement>,
) -> Result<Json<StatementView>, AppError> {
    let current = find_statement(&state, &id).await?;
    if current.state == StatementState::Published
        && input
            .format
            .as_deref()
            .is_some_and(|f| f != current.format.as_str())
    {
        // Mastodon before 4.5 ignores Update{Article}: the change would
        // silently freeze the statement on those servers.
        return Err(AppError::invalid(
            "format",
            "cannot change once the statement is published",
        ));
    }
    let content = Content {
        title: input.title.unwrap_or(current.title.clone()),
        body: input.body.unwrap_or(current.body.clone()),
        summary: input.summary.unwrap_or(current.summary.clone()),
        content_warning: input
            .content_warning
            .unwrap_or(current.content_warning.clone()),
        language: input.language.unwrap_or(current.language.clone()),
        tags: input.tags.unwrap_or(current.tags.clone()),
        format: Some(input.format.unwrap_or(current.format.as_str().to_string())),
        original_date: input.original_date.unwrap_or(current.original_date.clone()),
        disclaimer: input.disclaimer.unwrap_or(current.disclaimer.clone()),
    }
    .validate()?;
    let publish_at = match &input.publish_at {
        Some(Some(at)) => Some(Some(parse_publish_at(at)?)),
        Some(None) => Some(None),
        None => None,
    };
    if publish_at.is_some() && current.state == StatementState::Published {
        return Err(AppError::invalid(
            "publish_at",
            "the statement is already published",
        ));
    }
    if !publishing::edit(&state.publisher, &current, content, publish_at).await? {
        return Err(AppError::Conflict(
            "the statement changed meanwhile; try again".into(),
        ));
    }
    Ok(Json(view(
        &state,
        state.store.statement_by_id(current.id).await?,
    )))
}

/// `DELETE /api/v1/statements/{id}` → 204; a published statement is
/// withdrawn with a Delete, and its URL answers 404 from then on.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let statement = find_statement(&state, &id).await?;
    if !publishing::delete(&state.publisher, &statement).await? {
        return Err(AppError::Conflict(
            "the statement changed meanwhile; try again".into(),
        ));
    }
    tracing::info!(statement = %id, "statement deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/statements/{id}/publish`
pub async fn publish_now(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StatementView>, AppError> {
    let statement = find_statement(&state, &id).await?;
    if statement.state == StatementState::Published {
        return Err(AppError::Conflict(
            "the statement is already published".into(),
        ));
    }
    if !publishing::publish(&state.publisher, &statement).await? {
        return Err(AppError::Conflict(
            "the statement is already published".into(),
        ));
    }
    Ok(Json(view(
        &state,
        state.store.statement_by_id(statement.id).await?,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSignatory {
    handle: String,
}

/// `POST /api/v1/statements/{id}/signatories {handle}`: on a published
/// statement the new signatory Announces it and the statement gets an Update.
pub async fn add_signatory(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AddSignatory>,
) -> Result<Json<StatementView>, AppError> {
    let statement = find_statement(&state, &id).await?;
    let org = match state.store.organisation(&input.handle).await {
        Ok(org) => org,
        Err(StoreError::NotFound) => {
            return Err(AppError::invalid(
                "handle",
                format!("no organisation {}", input.handle),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    if statement.signatories.iter().any(|s| s.id == org.id) {
        return Err(AppError::invalid(
            "handle",
            format!("{} has signed already", org.handle),
        ));
    }
    state.store.add_signatory(statement.id, org.id).await?;
    let statement = state.store.statement_by_id(statement.id).await?;
    publishing::signatory_added(&state.publisher, &statement, &org).await?;
    Ok(Json(view(&state, statement)))
}

/// `GET /api/v1/statements/{id}/deliveries?state=…`
pub async fn deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<DeliveryReport>, AppError> {
    let statement = match state.store.statement(&id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(AppError::not_found(format!("no statement {id}"))),
        Err(err) => return Err(err.into()),
    };
    Ok(Json(report(&state, Some(statement.id), query).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    statement: String,
}

/// `POST /api/v1/organisations/{handle}/featured {statement}`: pins a
/// published statement the organisation signed.
pub async fn pin(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(handle): ApiPath<String>,
    ApiJson(input): ApiJson<Pin>,
) -> Result<StatusCode, AppError> {
    let org = find(&state, &handle).await?;
    let statement = match state.store.statement(&input.statement).await {
        Ok(s) if s.state == StatementState::Published => s,
        Ok(_) => {
            return Err(AppError::invalid(
                "statement",
                "only published statements can be pinned",
            ));
        }
        Err(StoreError::NotFound) => {
            return Err(AppError::invalid(
                "statement",
                format!("no statement {}", input.statement),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    // Mastodon keeps only an account's own posts in its featured collection,
    // and a statement is the lead's post (co-signers boost it).
    if statement.lead().id != org.id {
        return Err(AppError::invalid(
            "statement",
            format!("only its lead signatory can pin it, and {handle} is not"),
        ));
    }
    state.store.pin(org.id, statement.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/organisations/{handle}/featured/{statement}`
pub async fn unpin(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath((handle, statement)): ApiPath<(String, String)>,
) -> Result<StatusCode, AppError> {
    let org = find(&state, &handle).await?;
    let statement = find_statement(&state, &statement).await?;
    if state.store.unpin(org.id, statement.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found("not pinned"))
    }
}
