//! The `broadside` command line: `serve`, `deliver`, `migrate`, `backup`,
//! `health`, `token` and `user`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{
    admin::auth::{hash_token, new_token},
    app,
    config::Config,
    state::AppState,
    store::{Store, StoreError},
};

#[derive(Parser)]
#[command(
    name = "broadside",
    version,
    about = "Publish joint statements on the fediverse"
)]
pub struct Cli {
    /// Configuration file; missing is fine (defaults and BROADSIDE_* apply).
    #[arg(
        long,
        env = "BROADSIDE_CONFIG",
        default_value = "config/broadside.toml",
        global = true
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP and deliver activities.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run only the delivery workers, e.g. on other machines sharing the
    /// PostgreSQL database. Answers /healthz and /readyz on `listen`; on
    /// SIGTERM drains the requests in flight, then exits.
    Deliver,
    /// Write a consistent copy of the live SQLite database to FILE (which
    /// must not exist). Restore by putting the copy in place of the database
    /// file while the server is stopped.
    Backup { file: PathBuf },
    /// Exit 0 if the process at `listen` is ready: it answers and its
    /// database is reachable and migrated (Docker's HEALTHCHECK).
    Health,
    /// Manage admin API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the editor's desk accounts (/admin): names and passwords.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an editor; the password is asked for (or read from stdin).
    Create { name: String },
    /// Set a new password; every session of that editor ends.
    Password { name: String },
    /// Delete an editor and end their sessions.
    Delete { name: String },
    /// List editors.
    List,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// read (GET only), editor (all but domain blocks) or admin.
        #[arg(long, default_value = "admin")]
        scope: String,
        /// Refused after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke the token with this name.
    Revoke { name: String },
    /// List tokens: name, scope, last use and expiry.
    List,
}

/// The token name under which `admin_token` from the configuration is stored.
pub const BOOTSTRAP_TOKEN_NAME: &str = "bootstrap";

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(&cli.config)?;
    let _log = crate::ops::logging::init(&config.log);
    match cli.command {
        Command::Health => health(&config).await?,
        Command::Migrate => {
            let store = migrated_store(&config).await?;
            tracing::info!(backend = store.backend_name(), "migrations applied");
            store.close().await;
        }
        Command::Serve => {
            let store = migrated_store(&config).await?;
            if let Some(token) = &config.admin_token {
                store
                    .upsert_token(BOOTSTRAP_TOKEN_NAME, &hash_token(token))
                    .await?;
            }
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            tracing::info!(
                listen = %config.listen,
                base_url = %config.base_url,
                backend = store.backend_name(),
                "broadside serving"
            );
            let state = AppState::new(config, store.clone()).await?;
            app::serve(state, listener, std::future::pending()).await?;
            store.close().await;
        }
        Command::Deliver => {
            anyhow::ensure!(
                config.delivery_workers > 0,
                "`broadside deliver` needs delivery_workers of at least 1"
            );
            let store = migrated_store(&config).await?;
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            tracing::info!(
                workers = config.delivery_workers,
                listen = %config.listen,
                backend = store.backend_name(),
                "delivering"
            );
            let state = AppState::new(config, store.clone()).await?;
            app::deliver(state, listener).await?;
            store.close().await;
        }
        Command::Backup { file } => {
            let store = Store::connect(&config.database_url).await?;
            let started = std::time::Instant::now();
            store.backup_to(&file).await?;
            let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            tracing::info!(file = %file.display(), bytes, ms = started.elapsed().as_millis() as u64, "backup written");
            store.close().await;
        }
        Command::Token(command) => {
            let store = migrated_store(&config).await?;
            token_command(&store, command).await?;
            store.close().await;
        }
        Command::User(command) => {
            let store = migrated_store(&config).await?;
            let state = AppState::new(config, store.clone()).await?;
            user_command(&state, command).await?;
            store.close().await;
        }
    }
    Ok(())
}

async fn migrated_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn health(config: &Config) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", config.listen);
    let response = reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

async fn token_command(store: &Store, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            scope,
            expires_in_days,
        } => {
            let name = name.trim();
            if name.is_empty() || name.len() > 64 {
                anyhow::bail!("--name must be 1 to 64 characters");
            }
            if crate::admin::auth::Scope::parse(&scope).is_none() {
                anyhow::bail!(
                    "--scope must be one of {}",
                    crate::admin::auth::Scope::NAMES.join(", ")
                );
            }
            let expires_at = expires_in_days
                .map(|days| crate::store::now_ms() + i64::from(days) * 24 * 3600 * 1000);
            let token = new_token();
            match store
                .create_token(name, &hash_token(&token), &scope, expires_at)
                .await
            {
                Ok(_) => println!("{token}"),
                Err(StoreError::Conflict) => anyhow::bail!("a token named {name:?} exists already"),
                Err(err) => return Err(err.into()),
            }
        }
        TokenCommand::Revoke { name } => match store.revoke_token(&name).await {
            Ok(()) => println!("revoked {name}"),
            Err(StoreError::NotFound) => anyhow::bail!("no token named {name:?}"),
            Err(err) => return Err(err.into()),
        },
        TokenCommand::List => {
            for token in store.tokens().await? {
                let last = token
                    .last_used_at
                    .map(|t| crate::store::from_ms(t).to_rfc3339())
                    .unwrap_or_else(|| "never used".into());
                let expires = token
                    .expires_at
                    .map(|t| format!("expires {}", crate::store::from_ms(t).to_rfc3339()))
                    .unwrap_or_else(|| "never expires".into());
                println!("{}\t{}\t{last}\t{expires}", token.name, token.scope);
            }
        }
    }
    Ok(())
}

/// A password from the terminal (not echoed), or the first line of stdin
/// when it is not a terminal (scripts: `echo … | broadside user create ann`).
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

async fn user_command(state: &AppState, command: UserCommand) -> anyhow::Result<()> {
    use crate::services::{ServiceError, editors};
    let explain = |err: ServiceError| match err {
        ServiceError::Invalid(invalid) => anyhow::anyhow!("{}: {}", invalid.field, invalid.message),
        other => anyhow::anyhow!("{other}"),
    };
    match command {
        UserCommand::Create { name } => {
            let password = read_password()?;
            let editor = editors::create_editor(&state.services, &name, &password)
                .await
                .map_err(explain)?;
            println!("editor {} created", editor.username);
        }
        UserCommand::Password { name } => {
            let password = read_password()?;
            editors::set_password(&state.services, &name, &password)
                .await
                .map_err(explain)?;
            println!("password of {name} changed; their sessions ended");
        }
        UserCommand::Delete { name } => {
            editors::delete_editor(&state.services, &name)
                .await
                .map_err(explain)?;
            println!("editor {name} deleted");
        }
        UserCommand::List => {
            for editor in editors::editors(&state.services).await.map_err(explain)? {
                println!(
                    "{}\tcreated {}",
                    editor.username,
                    crate::clock::from_ms(editor.created_at).to_rfc3339()
                );
            }
        }
    }
    Ok(())
}
