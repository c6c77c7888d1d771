//! Organisations: the signatories, each one a federated actor.
//!
//! This module owns what an organisation is and which input makes a valid one
//! (Mastodon's username rule for handles, the limits of profile fields). It
//! knows nothing of HTTP or SQL: the admin API feeds it requests, the store
//! keeps what it returns, the federation layer renders it.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::keys::PrivateKey;

/// An organisation as stored: its profile, and what the server keeps.
#[derive(Clone, Debug)]
pub struct Organisation {
    pub id: i64,
    pub handle: String,
    /// What the editor wrote about it (name, summary, links, choices).
    pub profile: Profile,
    pub public_key_pem: String,
    pub private_key: PrivateKey,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Organisation {
    /// This organisation with `profile` in place of its own, edited at `at`.
    pub fn with_profile(&self, profile: &Profile, at: i64) -> Organisation {
        Organisation {
            profile: profile.clone(),
            updated_at: at,
            ..self.clone()
        }
    }
}

/// A name/value pair on the profile (`PropertyValue` in ActivityPub).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileField {
    /// At most 255 characters.
    pub name: String,
    /// At most 2,047 characters.
    pub value: String,
}

/// Mastodon's username rule (`app/models/account.rb`), docs/interop.md §1.
static HANDLE_RULE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9_]+([.-]+[a-z0-9_]+)*$").expect("static regex"));

/// Mastodon's limit for local usernames; longer ones fail on some servers.
pub const MAX_HANDLE_LEN: usize = 30;
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_SUMMARY_LEN: usize = 5_000;
pub const MAX_FIELDS: usize = 8;
pub const MAX_FIELD_NAME_LEN: usize = 255;
pub const MAX_FIELD_VALUE_LEN: usize = 2_047;
pub const MAX_URL_LEN: usize = 2_048;

/// Handles no organisation may take: the instance actor and words that would
/// confuse people reading an address.
pub const RESERVED_HANDLES: &[&str] = &[
    "actor",
    "instance",
    "admin",
    "administrator",
    "root",
    "broadside",
    "webmaster",
    "postmaster",
    "abuse",
    "support",
    "security",
];

/// Input that failed validation: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks a handle against Mastodon's rule and our reservations.
pub fn validate_handle(handle: &str) -> Result<(), Invalid> {
    if handle.is_empty() {
        return Err(Invalid::new("handle", "must not be empty"));
    }
    if handle.chars().count() > MAX_HANDLE_LEN {
        return Err(Invalid::new(
            "handle",
            format!("must be at most {MAX_HANDLE_LEN} characters"),
        ));
    }
    if !HANDLE_RULE.is_match(&handle.to_ascii_lowercase()) {
        return Err(Invalid::new(
            "handle",
            "may contain only letters a-z, digits and underscores, with single dots or dashes between them",
        ));
    }
    if RESERVED_HANDLES.contains(&handle.to_ascii_lowercase().as_str()) {
        return Err(Invalid::new("handle", "is reserved"));
    }
    Ok(())
}

/// The validated fields of an organisation, for creation and updates alike.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    /// Markdown, rendered to HTML for the actor's `summary`.
    pub summary: String,
    pub website: Option<String>,
    pub fields: Vec<ProfileField>,
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    pub manually_approves_followers: bool,
    pub discoverable: bool,
    pub indexable: bool,
    /// Replies to its statements are approved without review.
    pub approve_replies: bool,
}

impl Profile {
    /// Checks every field; the first problem is reported with its field name.
    pub fn validate(mut self) -> Result<Profile, Invalid> {
        self.name = self.name.trim().to_string();
        if self.name.is_empty() {
            return Err(Invalid::new("name", "must not be empty"));
        }
        check_len("name", &self.name, MAX_NAME_LEN)?;
        check_len("summary", &self.summary, MAX_SUMMARY_LEN)?;
        for (key, value) in [
            ("website", &self.website),
            ("avatar_url", &self.avatar_url),
            ("header_url", &self.header_url),
        ] {
            if let Some(url) = value {
                validate_web_url(key, url)?;
            }
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(Invalid::new(
                "fields",
                format!("at most {MAX_FIELDS} fields are allowed"),
            ));
        }
        for (i, field) in self.fields.iter_mut().enumerate() {
            field.name = field.name.trim().to_string();
            field.value = field.value.trim().to_string();
            if field.name.is_empty() {
                return Err(Invalid::new(
                    format!("fields[{i}].name"),
                    "must not be empty",
                ));
            }
            check_len(
                &format!("fields[{i}].name"),
                &field.name,
                MAX_FIELD_NAME_LEN,
            )?;
            check_len(
                &format!("fields[{i}].value"),
                &field.value,
                MAX_FIELD_VALUE_LEN,
            )?;
        }
        Ok(self)
    }
}

/// At most `max` characters.
pub(crate) fn check_len(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// An absolute http(s) URL, as people paste them into profiles.
pub fn validate_web_url(field: &str, value: &str) -> Result<(), Invalid> {
    if value.len() > MAX_URL_LEN {
        return Err(Invalid::new(
            field,
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(()),
        _ => Err(Invalid::new(
            field,
            "must be an absolute http:// or https:// URL",
        )),
    }
}

/// The media type Mastodon needs to accept an avatar or header, guessed from
/// the file name (jpeg, png, gif and webp are the formats it takes).
pub fn image_media_type(url: &str) -> Option<&'static str> {
    let path = Url::parse(url).ok()?.path().to_ascii_lowercase();
    let ext = path.rsplit_once('.')?.1.to_string();
    match ext.as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_follow_mastodons_username_rule() {
        for good in [
            "cras",
            "CRAS",
            "stop_total_control",
            "a.b",
            "iwa-ait",
            "x1",
            "a..b",
        ] {
            assert_eq!(validate_handle(good), Ok(()), "{good}");
        }
        for bad in [
            "", ".cras", "cras.", "cras-", "cr as", "crás", "c@s", "a/b", "actor",
        ] {
            assert!(validate_handle(bad).is_err(), "{bad}");
        }
        assert!(validate_handle(&"a".repeat(31)).is_err());
    }

    #[test]
    fn media_type_comes_from_the_extension() {
        assert_eq!(
            image_media_type("https://x.org/a/logo.PNG"),
            Some("image/png")
        );
        assert_eq!(
            image_media_type("https://x.org/a/logo.jpg?v=2"),
            Some("image/jpeg")
        );
        assert_eq!(image_media_type("https://x.org/a/logo"), None);
    }
}
