//! Who may use the editor's desk, and their browser sessions.
//!
//! Editors sign in with a name and a password (Argon2id, the OWASP
//! parameters of the `argon2` crate's default), or with an admin API token
//! the first time. A session is 256 random bits in a cookie; the database
//! keeps its SHA-256 and the CSRF token its forms must carry. Failed
//! sign-ins are counted per client address and per name in the database, so
//! several processes share one limit.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use super::{ServiceError, ServiceResult, Services};
use crate::{
    clock::now_ms,
    organisations::Invalid,
    secrets::{hash_secret as hash_token, random_secret as random_token},
    store::{Editor, Session, StoreError},
};

pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 1024;
/// Failed sign-ins allowed in the window, from one client and for one name.
const FAILURES_PER_CLIENT: i64 = 20;
const FAILURES_PER_NAME: i64 = 10;
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// What a browser offers to sign in.
pub enum Credentials<'a> {
    Password {
        username: &'a str,
        password: &'a str,
    },
    Token(&'a str),
}

/// A session just begun: the cookie's value (shown to the browser once)
/// and the CSRF token its forms carry.
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
    pub label: String,
    pub expires_at: i64,
}

fn check_username(username: &str) -> Result<(), Invalid> {
    let valid = (1..=64).contains(&username.chars().count())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Invalid::new(
            "username",
            "1 to 64 letters, digits, '_', '-' or '.'",
        ))
    }
}

fn check_password(password: &str) -> Result<(), Invalid> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Invalid::new(
            "password",
            format!("at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Invalid::new(
            "password",
            format!("at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Argon2id, off the async threads: one hash takes tens of milliseconds.
async fn hash_password(password: &str) -> ServiceResult<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing a password: {err}"))
    })
    .await
    .map_err(anyhow::Error::from)?
    .map_err(ServiceError::Internal)
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash to verify against when the name is unknown, so that an unknown
/// name costs as long as a wrong password and tells nothing.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"decoy password, never matched", &salt)
        .expect("hashing a constant")
        .to_string()
});

pub async fn create_editor(
    services: &Services,
    username: &str,
    password: &str,
) -> ServiceResult<Editor> {
    check_username(username)?;
    check_password(password)?;
    let hash = hash_password(password).await?;
    match services.store.create_editor(username, &hash).await {
        Ok(editor) => Ok(editor),
        Err(StoreError::Conflict) => Err(ServiceError::Conflict(format!(
            "an editor named {username} exists already"
        ))),
        Err(err) => Err(err.into()),
    }
}

pub async fn editors(services: &Services) -> ServiceResult<Vec<Editor>> {
    Ok(services.store.editors().await?)
}

/// A new password for `username`; every session of theirs ends.
pub async fn set_password(
    services: &Services,
    username: &str,
    password: &str,
) -> ServiceResult<()> {
    check_password(password)?;
    let editor = services
        .store
        .editor_by_name(username)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("no editor {username}")))?;
    let hash = hash_password(password).await?;
    services.store.set_editor_password(editor.id, &hash).await?;
    Ok(())
}

pub async fn delete_editor(services: &Services, username: &str) -> ServiceResult<()> {
    if services.store.delete_editor(username).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!("no editor {username}")))
    }
}

/// Checks the credentials and begins a session. `client` is the address
/// the request came from, for the limit on guessing.
pub async fn sign_in(
    services: &Services,
    client: &str,
    credentials: Credentials<'_>,
    lifetime_seconds: u64,
) -> ServiceResult<NewSession> {
    let name = match &credentials {
        Credentials::Password { username, .. } => *username,
        Credentials::Token(_) => "",
    };
    let since = now_ms() - FAILURE_WINDOW_MS;
    let (by_client, by_name) = services.store.failed_logins(client, name, since).await?;
    if by_client >= FAILURES_PER_CLIENT || (!name.is_empty() && by_name >= FAILURES_PER_NAME) {
        return Err(ServiceError::Limited(
            "too many failed sign-ins: try again in 15 minutes".into(),
            std::time::Duration::from_millis(FAILURE_WINDOW_MS as u64),
        ));
    }
    let who = match credentials {
        Credentials::Password { username, password } => {
            match services.store.editor_by_name(username).await? {
                Some(editor) if verify_password(password, &editor.password_hash).await => {
                    Some((Some(editor.id), editor.username))
                }
                Some(_) => None,
                None => {
                    verify_password(password, &DECOY).await;
                    None
                }
            }
        }
        Credentials::Token(token) => services
            .store
            .token_by_hash(&hash_token(token.trim()))
            .await?
            // The desk can do everything: only admin tokens open it.
            .filter(|token| token.scope == "admin")
            .map(|token| (None, format!("token {}", token.name))),
    };
    let Some((editor_id, label)) = who else {
        services
            .store
            .record_failed_login(client, name, since)
            .await?;
        return Err(ServiceError::Unauthorized(
            "wrong name or password (or token)".into(),
        ));
    };
    let cookie = random_token();
    let csrf_token = random_token();
    let expires_at = now_ms() + (lifetime_seconds as i64).saturating_mul(1000);
    services
        .store
        .create_session(
            &hash_token(&cookie),
            editor_id,
            &label,
            &csrf_token,
            expires_at,
        )
        .await?;
    Ok(NewSession {
        cookie,
        csrf_token,
        label,
        expires_at,
    })
}

/// The live session a cookie names, if any.
pub async fn session(services: &Services, cookie: &str) -> ServiceResult<Option<Session>> {
    Ok(services.store.session(&hash_token(cookie)).await?)
}

pub async fn sign_out(services: &Services, cookie: &str) -> ServiceResult<()> {
    Ok(services.store.delete_session(&hash_token(cookie)).await?)
}
