//! Uploads: an image processed and kept (`upload`), its alt text and focal
//! point (`update`), which uploads a statement may carry (`attachments`,
//! `check_alt`), and the sweep that removes what nothing uses any more —
//! unused uploads after `media_unused_hours`, a deleted statement's images
//! once its Delete has gone out — files included.

use serde::{Deserialize, Serialize};

use super::{ServiceError, ServiceResult, Services, named, nullable};
use crate::{
    media::{self, Attachment, MAX_DESCRIPTION_LEN, MAX_PER_STATEMENT, Media, Refused},
    organisations::{Invalid, check_len},
    store::{NewMedia, StoreError},
};

/// Alt text and focal point, as an upload gives them (`focus`: `"x,y"`,
/// each from -1 to 1).
#[derive(Default)]
pub struct UploadText {
    pub description: Option<String>,
    pub focus: Option<String>,
}

/// Changes to an upload: `null` clears.
#[derive(Deserialize, Serialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaChanges {
    /// Alt text, at most 1,500 characters; absent keeps it, `null` clears it.
    #[schema(value_type = Option<String>)]
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// The focal point, `"x,y"` with each from -1 to 1; absent keeps it,
    /// `null` clears it.
    #[schema(value_type = Option<String>)]
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub focus: Option<Option<String>>,
}

fn description(value: Option<String>) -> ServiceResult<Option<String>> {
    let value = value
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if let Some(d) = &value {
        check_len("description", d, MAX_DESCRIPTION_LEN)?;
    }
    Ok(value)
}

fn focus(value: Option<&str>) -> ServiceResult<Option<(f64, f64)>> {
    match value {
        None => Ok(None),
        Some(value) => media::parse_focus(value).map(Some).ok_or_else(|| {
            Invalid::new(
                "focus",
                "must be \"x,y\" with each from -1 to 1, such as 0,0.5",
            )
            .into()
        }),
    }
}

/// Processes and keeps an uploaded image. The file is re-encoded off the
/// async threads; what is stored is only ever our own encoding.
pub async fn upload(services: &Services, bytes: Vec<u8>, text: UploadText) -> ServiceResult<Media> {
    let description = description(text.description)?;
    let focus = focus(text.focus.as_deref())?;
    if bytes.is_empty() {
        return Err(Invalid::new("file", "is empty").into());
    }
    let processed = tokio::task::spawn_blocking(move || media::process::process(&bytes))
        .await
        .map_err(|err| ServiceError::Internal(err.into()))?
        .map_err(|refused| match refused {
            Refused::NotAnImage(why) => ServiceError::Unsupported(why),
            Refused::Unusable(why) => Invalid::new("file", why).into(),
        })?;
    let (file, thumbnail) = media::files::names(&processed.bytes, processed.extension);
    services
        .files
        .put(&file, processed.bytes)
        .await
        .map_err(ServiceError::Internal)?;
    services
        .files
        .put(&thumbnail, processed.thumbnail)
        .await
        .map_err(ServiceError::Internal)?;
    let public_id = uuid::Uuid::now_v7().to_string();
    let stored = services
        .store
        .insert_media(NewMedia {
            public_id: &public_id,
            file: &file,
            thumbnail: &thumbnail,
            mime_type: processed.mime_type,
            width: processed.width,
            height: processed.height,
            blurhash: &processed.blurhash,
            description: description.as_deref(),
            focus,
        })
        .await?;
    tracing::info!(media = %public_id, file, width = processed.width, height = processed.height, "image uploaded");
    Ok(stored)
}

pub async fn find(services: &Services, public_id: &str) -> ServiceResult<Media> {
    named(services.store.media(public_id).await, || {
        format!("no upload {public_id}")
    })
}

/// New alt text or focal point. A statement carries a copy of its images'
/// alt text: edit the statement (`media` again) for followers to see it.
pub async fn update(
    services: &Services,
    public_id: &str,
    changes: MediaChanges,
) -> ServiceResult<Media> {
    let description = match changes.description {
        Some(value) => Some(description(value)?),
        None => None,
    };
    let focus = match changes.focus {
        Some(value) => Some(focus(value.as_deref())?),
        None => None,
    };
    named(
        services
            .store
            .update_media(public_id, description.as_ref().map(|d| d.as_deref()), focus)
            .await,
        || format!("no upload {public_id}"),
    )
}

/// Deletes an upload nothing uses, with its files.
pub async fn delete(services: &Services, public_id: &str) -> ServiceResult<()> {
    match services.store.delete_unused_media(public_id).await? {
        Some(gone) => {
            remove_files(services, &[gone]).await;
            Ok(())
        }
        None => {
            let found = find(services, public_id).await?;
            Err(ServiceError::Conflict(match found.statement_id {
                Some(_) => "attached to a statement: remove it from the statement first".into(),
                None => "in use as an organisation's avatar or header".into(),
            }))
        }
    }
}

/// The uploads `ids` as the statement `statement_id` (if it exists yet)
/// would carry them: at most four, each once, each free or already its own.
pub async fn attachments(
    services: &Services,
    ids: &[String],
    statement_id: Option<i64>,
) -> ServiceResult<Vec<Attachment>> {
    if ids.len() > MAX_PER_STATEMENT {
        return Err(Invalid::new("media", format!("at most {MAX_PER_STATEMENT} images")).into());
    }
    let mut found = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let field = format!("media[{i}]");
        if ids[..i].contains(id) {
            return Err(Invalid::new(field, format!("{id} is listed twice")).into());
        }
        let upload = match services.store.media(id).await {
            Ok(upload) => upload,
            Err(StoreError::NotFound) => {
                return Err(Invalid::new(field, format!("no upload {id}")).into());
            }
            Err(err) => return Err(err.into()),
        };
        let free = upload.organisation_id.is_none()
            && (upload.statement_id.is_none() || upload.statement_id == statement_id);
        if !free {
            return Err(Invalid::new(field, format!("{id} is used elsewhere")).into());
        }
        found.push(upload.attachment());
    }
    Ok(found)
}

/// Refuses to publish images without alt text, naming the first, unless
/// the editor said so (`allow_missing_alt`).
pub fn check_alt(media: &[Attachment], allow_missing_alt: bool) -> ServiceResult<()> {
    if allow_missing_alt {
        return Ok(());
    }
    match media.iter().position(|m| m.description.is_none()) {
        Some(i) => Err(Invalid::new(
            format!("media[{i}]"),
            format!(
                "image {} has no alt text: describe it (PATCH /api/v1/media/{}), or publish with allow_missing_alt",
                media[i].id, media[i].id
            ),
        )
        .into()),
        None => Ok(()),
    }
}

/// Removes what nothing needs any more; run every minute by the scheduler.
pub async fn sweep(services: &Services) {
    let unused_before = crate::clock::now_ms() - (services.media_unused_hours as i64) * 3_600_000;
    match services.store.sweep_media(unused_before).await {
        Ok(gone) if !gone.is_empty() => {
            tracing::info!(uploads = gone.len(), "unused media swept");
            remove_files(services, &gone).await;
        }
        Ok(_) => {}
        Err(err) => tracing::error!(error = %err, "sweeping media failed"),
    }
}

/// Removes the files of deleted rows that no other row names.
async fn remove_files(services: &Services, gone: &[Media]) {
    for upload in gone {
        match services.store.media_file_in_use(&upload.file).await {
            Ok(false) => {
                for name in [&upload.file, &upload.thumbnail] {
                    if let Err(err) = services.files.delete(name).await {
                        tracing::error!(file = %name, error = %err, "could not remove a media file");
                    }
                }
            }
            Ok(true) => {}
            Err(err) => tracing::error!(error = %err, "could not check a media file's use"),
        }
    }
}
