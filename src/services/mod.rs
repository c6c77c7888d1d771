//! The services: every rule about what may change, and every change
//! together with the activities it causes.
//!
//! A handler — the admin API, an inbox, later the editor's desk — extracts
//! its input, calls one function here and renders what comes back. The
//! rules (which signatories a statement may have, when a format can no
//! longer change, who may undo a follow) live here once, whoever asks.
//! Every change that other servers must hear about is one
//! `Outbox::send_all(Some(Transition::…), …)`: the store applies the
//! transition and queues the activities in one transaction, or does
//! neither.
//!
//! Services take [`Services`], a narrow context (store, outbox, URLs, the
//! document cache, the default disclaimer), never the HTTP state, and
//! answer with [`ServiceError`], which the HTTP layer maps to a status in
//! one place (`error.rs`).

pub mod domain_blocks;
pub mod editors;
pub mod follows;
pub mod inbox;
pub mod media;
pub mod moderation;
pub mod organisations;
pub mod reactions;
pub mod statements;
pub mod tokens;

use crate::{
    delivery::Outbox,
    documents::Documents,
    organisations::Invalid,
    store::{Store, StoreError},
    urls::Urls,
};

/// What the services need, and nothing more. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub outbox: Outbox,
    pub urls: Urls,
    /// Serialised actors, forgotten when a profile changes.
    pub documents: Documents,
    /// The instance's disclaimer, for statements that bring none.
    pub disclaimer: String,
    /// Replies skip the moderation queue everywhere.
    pub approve_replies: bool,
    /// Where uploaded images are kept.
    pub files: crate::media::Files,
    /// How long an upload nothing uses is kept.
    pub media_unused_hours: u64,
}

/// Why a service refused or failed. Refusals change nothing.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// What the request names does not exist (or no longer).
    #[error("{0}")]
    NotFound(String),
    /// The input breaks a rule; `field` says which part.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The record is not in a state that allows the change.
    #[error("{0}")]
    Conflict(String),
    /// Wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Not a kind of file we take (an upload that is not an image).
    #[error("{0}")]
    Unsupported(String),
    /// Too many attempts: try again after the duration.
    #[error("{0}")]
    Limited(String, std::time::Duration),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ServiceError::NotFound("not found".into()),
            other => ServiceError::Store(other),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// `Err(NotFound(what))` in place of the store's bare not-found.
pub(crate) fn named<T>(
    result: Result<T, StoreError>,
    what: impl FnOnce() -> String,
) -> ServiceResult<T> {
    result.map_err(|err| match err {
        StoreError::NotFound => ServiceError::NotFound(what()),
        other => ServiceError::Store(other),
    })
}

/// Limit and offset of a listing, as every listing checks them.
#[derive(Clone, Copy, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// How many, 1 to 200.
    #[serde(default = "default_limit")]
    #[param(default = default_limit)]
    pub limit: i64,
    /// How many to skip.
    #[serde(default)]
    pub offset: i64,
}

/// The page size every listing defaults to.
pub(crate) fn default_limit() -> i64 {
    40
}

impl Paging {
    pub const MAX_LIMIT: i64 = 200;

    pub fn check(self) -> ServiceResult<Paging> {
        if !(1..=Self::MAX_LIMIT).contains(&self.limit) || self.offset < 0 {
            return Err(Invalid::new(
                "limit",
                format!(
                    "limit must be 1 to {} and offset at least 0",
                    Self::MAX_LIMIT
                ),
            )
            .into());
        }
        Ok(self)
    }
}

/// For `PATCH` fields: tells an absent field (`None`) from an explicit
/// `null` (`Some(None)`), which clears the value.
pub(crate) use crate::statements::nullable;
