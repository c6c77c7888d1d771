//! The admin API's tokens as requests present them. (The CLI issues and
//! revokes them; `editors` lets a token open a first desk session.)

use super::{ServiceResult, Services};
use crate::{secrets::hash_secret, store::AdminToken};

/// The unexpired token whose secret is `token`, if any, with its use
/// recorded (`last_used_at`, which `broadside token list` shows).
pub async fn presented(services: &Services, token: &str) -> ServiceResult<Option<AdminToken>> {
    Ok(services.store.token_by_hash(&hash_secret(token)).await?)
}
