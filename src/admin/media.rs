//! `/api/v1/media`: images uploaded for statements and profiles. An upload
//! is `multipart/form-data` with `file` and optionally `description` (alt
//! text) and `focus` (`"x,y"`); each handler calls one function of
//! `services::media`.

use super::{auth::Admin, openapi::BodyRejected, views::MediaView};
use crate::{
    error::{ApiJson, ApiPath, AppError, ErrorBody},
    services::media::{self, MediaChanges, UploadText},
    state::AppState,
};
use axum::{
    Json,
    extract::{Multipart, State},
    http::StatusCode,
};

/// An upload's form (`multipart/form-data`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// A JPEG, PNG, WebP or GIF image, at most `max_media_bytes`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Alt text, at most 1,500 characters.
    description: Option<String>,
    /// The focal point, `"x,y"` with each from -1 to 1.
    focus: Option<String>,
}

/// Upload an image
///
/// The file is sniffed (its declared type is not trusted), decoded,
/// scaled to at most 3840×2160, re-encoded without metadata (EXIF, GPS)
/// and kept with a thumbnail and a blurhash. Attach it to a statement
/// (`media`) or make it an organisation's `avatar_media`/`header_media`.
#[utoipa::path(
    post,
    path = "/media",
    tag = "media",
    operation_id = "upload_media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The stored image.", body = MediaView),
        (status = 400, description = "Not a multipart form.", body = ErrorBody),
        (status = 413, description = "The file is over `max_media_bytes`.", body = ErrorBody),
        (status = 415, description = "Not a JPEG, PNG, WebP or GIF image (SVG, HTML…).", body = ErrorBody),
        (status = 422, description = "A broken image, one of more than 50 megapixels, an unknown field, or bad alt text or focus.", body = ErrorBody),
    ),
)]
pub async fn upload(
    State(state): State<AppState>,
    _admin: Admin,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<MediaView>), AppError> {
    // Refused in our error shape, like every other body.
    let mut form = form.map_err(|_| {
        AppError::UnsupportedMediaType(
            "the body must be multipart/form-data with a file field".into(),
        )
    })?;
    let mut file = None;
    let mut text = UploadText::default();
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => file = Some(read(field, state.config.max_media_bytes, "file").await?),
            "description" | "focus" => {
                let bytes = read(field, MAX_TEXT_FIELD_BYTES, &name).await?;
                let value = String::from_utf8(bytes)
                    .map_err(|_| AppError::invalid(name.as_str(), "must be UTF-8 text"))?;
                if name == "description" {
                    text.description = Some(value);
                } else {
                    text.focus = Some(value);
                }
            }
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
    Ok((
        StatusCode::CREATED,
        Json(MediaView::of(&state.urls, &stored)),
    ))
}

/// The most a text field of the form may hold (alt text is 1,500
/// characters of up to 4 bytes).
const MAX_TEXT_FIELD_BYTES: usize = 8 * 1024;

/// A field's bytes, refused with 413 as soon as they pass `limit`: the
/// route has no body limit of its own, so this is the bound.
async fn read(
    mut field: axum::extract::multipart::Field<'_>,
    limit: usize,
    name: &str,
) -> Result<Vec<u8>, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(format!(
                "{name}: at most {limit} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> AppError {
    match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(err.body_text()),
        _ => AppError::BadRequest(format!("multipart body: {}", err.body_text())),
    }
}

/// One upload
#[utoipa::path(
    get,
    path = "/media/{id}",
    tag = "media",
    operation_id = "show_media",
    params(("id" = String, Path, description = "The upload's id.")),
    responses(
        (status = 200, description = "The upload.", body = MediaView),
        (status = 404, description = "No such upload.", body = ErrorBody),
    ),
)]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MediaView>, AppError> {
    let found = media::find(&state.services, &id).await?;
    Ok(Json(MediaView::of(&state.urls, &found)))
}

/// Change an upload's alt text or focal point
///
/// A statement carries a copy of its images' alt text: give its `media`
/// again in an edit for followers to see the new one.
#[utoipa::path(
    patch,
    path = "/media/{id}",
    tag = "media",
    operation_id = "update_media",
    params(("id" = String, Path, description = "The upload's id.")),
    request_body = MediaChanges,
    responses(
        (status = 200, description = "The changed upload.", body = MediaView),
        (status = 404, description = "No such upload.", body = ErrorBody),
        BodyRejected,
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
    ApiJson(changes): ApiJson<MediaChanges>,
) -> Result<Json<MediaView>, AppError> {
    let updated = media::update(&state.services, &id, changes).await?;
    Ok(Json(MediaView::of(&state.urls, &updated)))
}

/// Delete an unused upload
///
/// Its files go with it. Uploads nothing uses are also removed after
/// `media_unused_hours`, and a deleted statement's once its Delete is out.
#[utoipa::path(
    delete,
    path = "/media/{id}",
    tag = "media",
    operation_id = "delete_media",
    params(("id" = String, Path, description = "The upload's id.")),
    responses(
        (status = 204, description = "Deleted, with its files."),
        (status = 404, description = "No such upload.", body = ErrorBody),
        (status = 409, description = "A statement or a profile uses it.", body = ErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    media::delete(&state.services, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
