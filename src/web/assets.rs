//! Static files compiled into the binary — the one stylesheet, and htmx
//! (2.0.11, 0BSD, vendored from npm) for the desk's live preview — each
//! served at a path that names its content, so browsers may keep it for a
//! year and an upgrade still reaches them at once.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use crate::error::AppError;

pub struct Asset {
    path: String,
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: &'static str, content_type: &'static str) -> Asset {
        let digest = Sha256::digest(body.as_bytes());
        let hash = crate::secrets::hex(&digest[..6]);
        Asset {
            path: format!("/assets/{stem}-{hash}.{extension}"),
            body,
            content_type,
        }
    }
}

impl Asset {
    /// Where pages link it: `/assets/site-<hash>.css`, `/assets/htmx-<hash>.js`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

pub static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "site",
        "css",
        include_str!("assets/site.css"),
        "text/css; charset=utf-8",
    )
});

pub static HTMX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "htmx",
        "js",
        include_str!("../desk/assets/htmx-2.0.11.min.js"),
        "text/javascript; charset=utf-8",
    )
});

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    let path = format!("/assets/{name}");
    let Some(asset) = [&*STYLESHEET, &*HTMX].into_iter().find(|a| a.path == path) else {
        return Err(AppError::not_found(format!("no asset {name}")));
    };
    Ok(immutable(asset.content_type, asset.body))
}

/// A response whose URL names its content (a hash in the path): cached for
/// a year, never sniffed.
fn immutable(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `GET /media/{name}`: an uploaded image, as we re-encoded it. Names are
/// content hashes, so a file never changes: cached for a year. Served with
/// a sandboxing CSP, so that even a file that were somehow not an image
/// could run nothing; any site may show it.
pub async fn media(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    use crate::media::files;
    if !files::is_valid_name(&name) {
        return Err(AppError::not_found(format!("no file {name}")));
    }
    let Some(bytes) = state.services.files.get(&name).await? else {
        return Err(AppError::not_found(format!("no file {name}")));
    };
    let mut response = immutable(files::content_type(&name), bytes);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(response)
}
