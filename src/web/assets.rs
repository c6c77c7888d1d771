//! The one stylesheet, compiled into the binary and served at a path that
//! names its content, so browsers may keep it for a year and an upgrade
//! still reaches them at once.

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
}

impl Asset {
    /// Where pages link it: `/assets/site-<hash>.css`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

pub static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    let body = include_str!("assets/site.css");
    let digest = Sha256::digest(body.as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    Asset {
        path: format!("/assets/site-{hash}.css"),
        body,
    }
});

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Result<Response, AppError> {
    if format!("/assets/{name}") != STYLESHEET.path() {
        return Err(AppError::not_found(format!("no asset {name}")));
    }
    let mut response = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET.body,
    )
        .into_response();
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
