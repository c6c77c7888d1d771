//! The desk's moderation queue: replies waiting for approval (approve, hide,
//! delete), accepted quotes (revoke) and open reports (resolve).

use axum::extract::{Path, State};
use minijinja::context;

use super::{DeskForm, DeskResult, Editor, done, page, signed_in};
use crate::{
    error::AppError,
    services::moderation::{self, QuoteListing, ReplyListing, ReportListing},
    state::AppState,
    store::{QuoteState, ReplyState, ReportState},
};

/// `GET /admin/moderation`.
pub async fn queue(State(state): State<AppState>, editor: Editor) -> DeskResult {
    let services = &state.services;
    let replies = moderation::replies(
        services,
        ReplyListing {
            status: Some(ReplyState::Pending.to_string()),
            statement: None,
            limit: 100,
            offset: 0,
        },
    )
    .await?;
    let quotes: Vec<_> = moderation::quotes(
        services,
        QuoteListing {
            statement: None,
            limit: 100,
            offset: 0,
        },
    )
    .await?
    .into_iter()
    .filter(|q| q.state == QuoteState::Accepted)
    .collect();
    let reports = moderation::reports(
        services,
        ReportListing {
            status: Some(ReportState::Open.to_string()),
            limit: 100,
            offset: 0,
        },
    )
    .await?;
    page(
        &state,
        "desk/moderation.html",
        context! {
            replies => replies,
            quotes => quotes,
            reports => reports,
            ..signed_in(&editor)
        },
    )
}

/// `POST /admin/moderation/replies/{id}/{approve|hide|delete}`.
pub async fn reply(
    State(state): State<AppState>,
    editor: Editor,
    Path((id, action)): Path<(i64, String)>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    let services = &state.services;
    match action.as_str() {
        "approve" => moderation::moderate_reply(services, id, true)
            .await
            .map(drop)?,
        "hide" => moderation::moderate_reply(services, id, false)
            .await
            .map(drop)?,
        "delete" => moderation::delete_reply(services, id).await?,
        other => return Err(AppError::not_found(format!("no action {other}")).into()),
    }
    done("/admin/moderation")
}

/// `POST /admin/moderation/quotes/{id}/revoke`.
pub async fn revoke_quote(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    moderation::revoke_quote(&state.services, &id).await?;
    done("/admin/moderation")
}

/// `POST /admin/moderation/reports/{id}/resolve`.
pub async fn resolve_report(
    State(state): State<AppState>,
    editor: Editor,
    Path(id): Path<i64>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    moderation::resolve_report(&state.services, id).await?;
    done("/admin/moderation")
}
