//! `/api/v1/media`: images uploaded for statements and profiles. An upload
//! is `multipart/form-data` with `file` and optionally `description` (alt
//! text) and `focus` (`"x,y"`); each handler calls one function of
//! `services::media`.

use axum::{
    Json,
    extract::{Multipart, State},
    http::StatusCode,
};
use serde::Serialize;

use super::auth::Admin;
use crate::{
    error::{ApiJson, ApiPath, AppError},
    media::{Attachment, Media},
    services::media::{self, MediaChanges, UploadText},
    state::AppState,
};

/// An upload as the API shows it (the shape Mastodon's API gives media).
#[derive(Serialize)]
pub struct MediaView {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
    preview_url: String,
    mime_type: String,
    width: u32,
    height: u32,
    blurhash: String,
    description: Option<String>,
    /// `[x, y]`, each from -1 to 1.
    focus: Option<[f64; 2]>,
}

impl MediaView {
    pub fn of_attachment(state: &AppState, a: &Attachment) -> MediaView {
        MediaView {
            id: a.id.clone(),
            kind: "image",
            url: state.urls.media(&a.file).to_string(),
            preview_url: state.urls.media(&a.thumbnail).to_string(),
            mime_type: a.mime_type.clone(),
            width: a.width,
            height: a.height,
            blurhash: a.blurhash.clone(),
            description: a.description.clone(),
            focus: a.focus.map(|(x, y)| [x, y]),
        }
    }

    fn of(state: &AppState, m: &Media) -> MediaView {
        Self::of_attachment(state, &m.attachment())
    }
}

/// `POST /api/v1/media` (multipart: `file`, `description`, `focus`) → 201.
/// 415 for a file that is not a JPEG, PNG, WebP or GIF image, 413 over
/// `max_media_bytes`, 422 for a broken or oversized image or bad fields.
pub async fn upload(
    State(state): State<AppState>,
    _admin: Admin,
    mut form: Multipart,
) -> Result<(StatusCode, Json<MediaView>), AppError> {
    let mut file = None;
    let mut text = UploadText::default();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let bytes = field.bytes().await.map_err(multipart_error)?;
                if bytes.len() > state.config.max_media_bytes {
                    return Err(AppError::PayloadTooLarge(format!(
                        "file: at most {} bytes",
                        state.config.max_media_bytes
                    )));
                }
                file = Some(bytes.to_vec());
            }
            "description" => text.description = Some(field.text().await.map_err(multipart_error)?),
            "focus" => text.focus = Some(field.text().await.map_err(multipart_error)?),
            other => {
                return Err(AppError::invalid(
                    other,
                    "unknown field: give file, description and focus",
                ));
            }
        }
    }
    let file = file.ok_or_else(|| AppError::invalid("file", "an image file is required"))?;
    let stored = media::upload(&state.services, file, text).await?;
    Ok((StatusCode::CREATED, Json(MediaView::of(&state, &stored))))
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> AppError {
    match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(err.body_text()),
        _ => AppError::BadRequest(format!("multipart body: {}", err.body_text())),
    }
}

/// `GET /api/v1/media/{id}`
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MediaView>, AppError> {
    let found = media::find(&state.services, &id).await?;
    Ok(Json(MediaView::of(&state, &found)))
}

/// `PATCH /api/v1/media/{id} {description, focus}`
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(changes): ApiJson<MediaChanges>,
) -> Result<Json<MediaView>, AppError> {
    let updated = media::update(&state.services, &id, changes).await?;
    Ok(Json(MediaView::of(&state, &updated)))
}

/// `DELETE /api/v1/media/{id}` → 204: an upload nothing uses, with its
/// files; 409 while a statement or profile uses it.
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    media::delete(&state.services, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
