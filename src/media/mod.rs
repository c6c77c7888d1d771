//! Uploaded images: what we do to a file before anyone sees it (`process`)
//! and where the results are kept (`files`). It knows nothing of
//! statements or HTTP; `services::media` decides what an upload is for.

pub mod files;
pub mod process;

pub use files::Files;
pub use process::{Processed, Refused};

/// The longest alt text (Mastodon's limit).
pub const MAX_DESCRIPTION_LEN: usize = 1_500;
/// The most images one statement carries (Mastodon shows four).
pub const MAX_PER_STATEMENT: usize = 4;

use serde::{Deserialize, Serialize};

/// An upload as stored: its files and what readers are told about it.
#[derive(Clone, Debug)]
pub struct Media {
    pub id: i64,
    pub public_id: String,
    pub file: String,
    pub thumbnail: String,
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
    /// Alt text.
    pub description: Option<String>,
    /// Mastodon's focal point: x and y from -1 to 1, the centre at 0, 0.
    pub focus: Option<(f64, f64)>,
    /// The statement it is attached to, if any.
    pub statement_id: Option<i64>,
    /// The organisation whose avatar or header it is, if any.
    pub organisation_id: Option<i64>,
    pub created_at: i64,
}

/// An image as a statement carries it: copied from its upload when the
/// statement is written, so documents and pages need no other lookup.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub file: String,
    pub thumbnail: String,
    pub mime_type: String,
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
    pub description: Option<String>,
    pub focus: Option<(f64, f64)>,
}

impl Media {
    pub fn attachment(&self) -> Attachment {
        Attachment {
            id: self.public_id.clone(),
            file: self.file.clone(),
            thumbnail: self.thumbnail.clone(),
            mime_type: self.mime_type.clone(),
            width: self.width,
            height: self.height,
            blurhash: self.blurhash.clone(),
            description: self.description.clone(),
            focus: self.focus,
        }
    }
}

/// Parses Mastodon's `focus` parameter, `"x,y"` with each from -1 to 1.
pub fn parse_focus(value: &str) -> Option<(f64, f64)> {
    let (x, y) = value.split_once(',')?;
    let x: f64 = x.trim().parse().ok()?;
    let y: f64 = y.trim().parse().ok()?;
    let valid = |v: f64| v.is_finite() && (-1.0..=1.0).contains(&v);
    (valid(x) && valid(y)).then_some((x, y))
}
