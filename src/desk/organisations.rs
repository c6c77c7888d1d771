//! The desk's organisations: the list, a new one, its profile form, and its
//! followers and follow requests (accept, reject, remove).

use std::collections::HashMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use minijinja::context;
use serde::Serialize;

use super::{DeskForm, DeskResult, Editor, done, page, refusal, signed_in};
use crate::{
    error::AppError,
    organisations::{Organisation, ProfileField},
    services::{
        Paging, follows,
        organisations::{self as service, NewProfile, ProfileChanges},
    },
    state::AppState,
    store::FollowerState,
};

/// The profile form's fields, as sent or as stored.
#[derive(Serialize, Default)]
struct Fields {
    handle: String,
    name: String,
    summary: String,
    website: String,
    avatar_url: String,
    header_url: String,
    /// Up to four name/value pairs; empty rows are ignored.
    fields: Vec<ProfileField>,
    manually_approves_followers: bool,
    approve_replies: bool,
}

const FIELD_ROWS: usize = 4;

impl Fields {
    fn from_form(form: &DeskForm) -> Fields {
        let text = |name: &str| form.get(name).unwrap_or_default().trim().to_string();
        let fields = (0..FIELD_ROWS)
            .map(|i| ProfileField {
                name: text(&format!("field_name_{i}")),
                value: text(&format!("field_value_{i}")),
            })
            .filter(|f| !f.name.is_empty() || !f.value.is_empty())
            .collect();
        Fields {
            handle: text("handle"),
            name: text("name"),
            summary: form.get("summary").unwrap_or_default().to_string(),
            website: text("website"),
            avatar_url: text("avatar_url"),
            header_url: text("header_url"),
            fields,
            manually_approves_followers: form.checked("manually_approves_followers"),
            approve_replies: form.checked("approve_replies"),
        }
    }

    fn from_organisation(org: &Organisation) -> Fields {
        Fields {
            handle: org.handle.clone(),
            name: org.profile.name.clone(),
            summary: org.profile.summary.clone(),
            website: org.profile.website.clone().unwrap_or_default(),
            avatar_url: org.profile.avatar_url.clone().unwrap_or_default(),
            header_url: org.profile.header_url.clone().unwrap_or_default(),
            fields: org.profile.fields.clone(),
            manually_approves_followers: org.profile.manually_approves_followers,
            approve_replies: org.profile.approve_replies,
        }
    }

    /// Rows to show: the fields, then empty ones up to four.
    fn rows(&self) -> Vec<ProfileField> {
        let mut rows = self.fields.clone();
        while rows.len() < FIELD_ROWS {
            rows.push(ProfileField {
                name: String::new(),
                value: String::new(),
            });
        }
        rows
    }

    fn optional(value: &str) -> Option<String> {
        (!value.is_empty()).then(|| value.to_string())
    }
}

/// `GET /admin/organisations`.
pub async fn list(State(state): State<AppState>, editor: Editor) -> DeskResult {
    let organisations: Vec<_> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .map(|o| {
            context! {
                handle => o.handle,
                name => o.profile.name,
                acct => format!("@{}@{}", o.handle, state.urls.domain()),
            }
        })
        .collect();
    page(
        &state,
        "desk/organisations.html",
        context! { organisations => organisations, ..signed_in(&editor) },
    )
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    editor: &Editor,
    fields: &Fields,
    existing: Option<&Organisation>,
    errors: HashMap<String, String>,
    status: StatusCode,
) -> DeskResult {
    let (followers, requests) = match existing {
        Some(org) => {
            let paging = Paging {
                limit: 100,
                offset: 0,
            };
            let (_, followers) = follows::followers(
                &state.services,
                &org.handle,
                FollowerState::Accepted,
                paging,
            )
            .await?;
            let (_, requests) =
                follows::followers(&state.services, &org.handle, FollowerState::Pending, paging)
                    .await?;
            (followers, requests)
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut response = page(
        state,
        "desk/organisation.html",
        context! {
            fields => fields,
            rows => fields.rows(),
            existing => existing.map(|o| o.handle.clone()),
            public_url => existing.map(|o| state.urls.organisation(&o.handle).to_string()),
            followers => followers,
            requests => requests,
            errors => errors,
            ..signed_in(editor)
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /admin/organisations/new`.
pub async fn new(State(state): State<AppState>, editor: Editor) -> DeskResult {
    form_page(
        &state,
        &editor,
        &Fields::default(),
        None,
        HashMap::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/organisations`: a new organisation, with its own keys.
pub async fn create(State(state): State<AppState>, editor: Editor, form: DeskForm) -> DeskResult {
    editor.check(&form)?;
    let fields = Fields::from_form(&form);
    let input = NewProfile {
        handle: fields.handle.clone(),
        name: fields.name.clone(),
        summary: fields.summary.clone(),
        website: Fields::optional(&fields.website),
        fields: fields.fields.clone(),
        avatar_url: Fields::optional(&fields.avatar_url),
        header_url: Fields::optional(&fields.header_url),
        manually_approves_followers: fields.manually_approves_followers,
        discoverable: None,
        indexable: None,
        approve_replies: fields.approve_replies,
    };
    match service::create(&state.services, input).await {
        Ok(org) => done(&format!("/admin/organisations/{}", org.handle)),
        Err(err) => {
            let errors = refusal(err, "handle")?;
            form_page(
                &state,
                &editor,
                &fields,
                None,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `GET /admin/organisations/{handle}`.
pub async fn show(
    State(state): State<AppState>,
    editor: Editor,
    Path(handle): Path<String>,
) -> DeskResult {
    let org = service::find(&state.services, &handle).await?;
    form_page(
        &state,
        &editor,
        &Fields::from_organisation(&org),
        Some(&org),
        HashMap::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/organisations/{handle}`: saves the profile (followers'
/// servers get an `Update`), or deletes the organisation with `action=delete`.
pub async fn update(
    State(state): State<AppState>,
    editor: Editor,
    Path(handle): Path<String>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    let org = service::find(&state.services, &handle).await?;
    if form.get("action") == Some("delete") {
        service::delete(&state.services, &handle).await?;
        return done("/admin/organisations");
    }
    let fields = Fields::from_form(&form);
    let changes = ProfileChanges {
        handle: None,
        name: Some(fields.name.clone()),
        summary: Some(fields.summary.clone()),
        website: Some(Fields::optional(&fields.website)),
        fields: Some(fields.fields.clone()),
        avatar_url: Some(Fields::optional(&fields.avatar_url)),
        header_url: Some(Fields::optional(&fields.header_url)),
        manually_approves_followers: Some(fields.manually_approves_followers),
        discoverable: None,
        indexable: None,
        approve_replies: Some(fields.approve_replies),
        // Uploads go through the API (or the URL of one it served).
        avatar_media: None,
        header_media: None,
    };
    match service::update(&state.services, &handle, changes).await {
        Ok(_) => done(&format!("/admin/organisations/{handle}")),
        Err(err) => {
            let errors = refusal(err, "handle")?;
            let fields = Fields {
                handle: org.handle.clone(),
                ..fields
            };
            form_page(
                &state,
                &editor,
                &fields,
                Some(&org),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/organisations/{handle}/followers/{id}/{accept|reject|remove}`.
pub async fn follower(
    State(state): State<AppState>,
    editor: Editor,
    Path((handle, id, action)): Path<(String, i64, String)>,
    form: DeskForm,
) -> DeskResult {
    editor.check(&form)?;
    let services = &state.services;
    match action.as_str() {
        "accept" => follows::approve(services, &handle, id).await.map(drop)?,
        "reject" => follows::reject(services, &handle, id).await.map(drop)?,
        "remove" => follows::remove(services, &handle, id).await.map(drop)?,
        other => return Err(AppError::not_found(format!("no action {other}")).into()),
    }
    done(&format!("/admin/organisations/{handle}"))
}
