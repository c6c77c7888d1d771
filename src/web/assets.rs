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
    let mut response = ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}
