//! The desk's instance settings: domain blocks, and (for admins, signed in
//! with an API token) editor accounts.

use std::collections::HashMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use minijinja::context;

use super::{DeskForm, DeskResult, Editor, done, page, refusal, signed_in};
use crate::{
    error::AppError,
    services::{domain_blocks, editors},
    state::AppState,
};

async fn settings_page(
    state: &AppState,
    editor: &Editor,
    errors: HashMap<String, String>,
    status: StatusCode,
) -> DeskResult {
    let blocks = domain_blocks::list(&state.services).await?;
    let accounts = if editor.is_admin {
        editors::editors(&state.services).await?
    } else {
        Vec::new()
    };
    let mut response = page(
        state,
        "desk/settings.html",
        context! {
            blocks => blocks,
            accounts => accounts,
            errors => errors,
            ..signed_in(editor)
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /admin/settings`.
pub async fn show(State(state): State<AppState>, editor: Editor) -> DeskResult {
    settings_page(&state, &editor, HashMap::new(), StatusCode::OK).await
}

/// `POST /admin/settings/blocks`: blocks a domain and its subdomains.
pub async fn block(State(state): State<AppState>, editor: Editor, form: DeskForm) -> DeskResult {
    editor.check(&form)?;
    let domain = form.get("domain").unwrap_or_default();
    let reason = form.get("reason").unwrap_or_default();
    match domain_blocks::block(&state.services, domain, reason).await {
        Ok(_) => done("/admin/settings"),
        Err(err) => {
            let errors = refusal(err, "username")?;
            settings_page(&state, &editor, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /admin/settings/blocks/{domain}/delete`.
pub async fn unblock(
    State(state): State<AppState>,
    editor: Editor,
    Path(domain): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    domain_blocks::unblock(&state.services, &domain).await?;
    done("/admin/settings")
}

fn admins_only(editor: &Editor) -> Result<(), AppError> {
    if editor.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "editor accounts are managed by an admin (signed in with an API token)".into(),
        ))
    }
}

/// `POST /admin/settings/editors`: a new editor account.
pub async fn create_editor(
    State(state): State<AppState>,
    editor: Editor,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    admins_only(&editor)?;
    let username = form.get("username").unwrap_or_default().trim();
    let password = form.get("password").unwrap_or_default();
    match editors::create_editor(&state.services, username, password).await {
        Ok(_) => done("/admin/settings"),
        Err(err) => {
            let errors = refusal(err, "username")?;
            settings_page(&state, &editor, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /admin/settings/editors/{name}/delete`: the account and its sessions.
pub async fn delete_editor(
    State(state): State<AppState>,
    editor: Editor,
    Path(name): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    admins_only(&editor)?;
    editors::delete_editor(&state.services, &name).await?;
    done("/admin/settings")
}
