//! The `broadside` command line.
//!
//! Two kinds of command live here. Those that run or administer this
//! machine's server (`serve`, `deliver`, `migrate`, `backup`, `health`,
//! `token`, `user`) open the database named by the configuration. Those
//! that publish (`statement`, `org`, `followers`, `deliveries`, `import`,
//! `login`) talk to a running server over its admin API (`remote`), so they
//! work from a laptop against a remote instance just as well.
//!
//! Exit codes: 0 done; 1 refused input (a file, a flag, or the server
//! refusing what was sent); 2 the server could not be reached, refused the
//! token, or failed.

mod client;
mod files;
mod remote;

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
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the publishing commands send their requests.
#[derive(clap::Args, Clone, Default)]
pub struct Remote {
    /// The Broadside server, e.g. https://statements.example.org (default:
    /// the one `broadside login` saved, else http://127.0.0.1:8080).
    #[arg(long, env = "BROADSIDE_SERVER", global = true)]
    pub server: Option<String>,
    /// An admin API token (`broadside token create`), else the one
    /// `broadside login` saved.
    #[arg(long, env = "BROADSIDE_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of tables, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
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
    /// must not exist), and of the uploaded images to FILE.media/. Restore
    /// by putting the copies in place of the database file and media_dir
    /// while the server is stopped.
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
    /// Print the admin API's OpenAPI 3.1 document (what a server serves at
    /// /api/v1/openapi.json, without its server URL).
    Openapi,
    /// Check a server and token and keep them for the next commands (in
    /// the user's configuration directory, readable only by them). The
    /// token is asked for (or read from stdin) unless --token gives it.
    Login,
    /// Write, publish and follow statements: Markdown files with YAML
    /// front matter (title, signatories, language, original_date, tags,
    /// format, summary, content_warning, disclaimer, quote_policy,
    /// publish_at).
    #[command(subcommand)]
    Statement(StatementCommand),
    /// The signatory organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// An organisation's followers (or, with --requests, those waiting for
    /// approval).
    Followers {
        handle: String,
        #[arg(long)]
        requests: bool,
        #[arg(long, default_value_t = 40)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// A statement's deliveries: how many are queued, delivered, failed.
    Deliveries {
        id: String,
        /// Follow them until each has had its first attempt.
        #[arg(long)]
        watch: bool,
    },
    /// Bring in a folder of statement files (*.md) as statements published
    /// at their original_date, shown on the site and in outboxes but sent
    /// to nobody. Each file's name is its key: importing again changes
    /// nothing.
    Import {
        dir: PathBuf,
        /// Check every file with the server and say what would happen;
        /// store nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Clone)]
pub enum StatementCommand {
    /// Publish a statement file now (or schedule it, if it says
    /// publish_at), then show its deliveries until each follower server
    /// has had it.
    Publish {
        file: PathBuf,
        /// Return once it is published, without following deliveries.
        #[arg(long)]
        no_wait: bool,
    },
    /// Store a statement file without publishing it now (scheduled if it
    /// says publish_at).
    Draft { file: PathBuf },
    /// Statements, newest first.
    List {
        /// Signed by this organisation (handle).
        #[arg(long = "org")]
        organisation: Option<String>,
        /// draft, scheduled, published or deleted.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 40)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// One statement.
    Show { id: String },
    /// Make a statement what FILE says (an Update goes to everyone who has
    /// it); signatories the file adds at the end sign it.
    Edit {
        id: String,
        file: PathBuf,
        #[arg(long)]
        no_wait: bool,
    },
    /// Delete a statement (followers who had it are sent a Delete).
    Delete { id: String },
    /// Add an organisation as a signatory (it Announces the statement).
    Sign { id: String, handle: String },
}

#[derive(Subcommand, Clone)]
pub enum OrgCommand {
    /// Create an organisation (HANDLE --name …), or every organisation of
    /// a TOML file of `[[organisation]]` tables (--file), leaving those
    /// that exist as they are.
    Create {
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        handle: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        summary: Option<String>,
        #[arg(long)]
        website: Option<String>,
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Organisations with their follower counts.
    List,
    /// One organisation.
    Show { handle: String },
    /// Change an organisation's profile (followers get an Update).
    Update {
        handle: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        summary: Option<String>,
        /// An empty value removes it.
        #[arg(long)]
        website: Option<String>,
        #[arg(long)]
        manually_approves_followers: Option<bool>,
    },
    /// Delete an organisation (followers are sent a Delete).
    Delete { handle: String },
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
    if let Some(outcome) = run_remote(&cli).await {
        return outcome.map_err(anyhow::Error::from);
    }
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
            if config.media_s3_bucket.is_none() {
                let media = media_backup_dir(&file);
                let copied = crate::media::Files::from_config(&config)?.copy_to(&media)?;
                tracing::info!(dir = %media.display(), files = copied, "media copied");
            }
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
        Command::Login
        | Command::Openapi
        | Command::Statement(_)
        | Command::Org(_)
        | Command::Followers { .. }
        | Command::Deliveries { .. }
        | Command::Import { .. } => unreachable!("run_remote handles the API commands"),
    }
    Ok(())
}

pub use client::Failure;

/// The exit code for an error `run` returned: the API commands say theirs
/// (1 refused, 2 unreachable or unauthorized); anything else is 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<Failure>()
        .map(Failure::exit_code)
        .unwrap_or(1)
}

/// The commands that talk to a server over the admin API; `None` for the
/// others. They need no configuration file, database or log of ours.
async fn run_remote(cli: &Cli) -> Option<Result<(), Failure>> {
    let out = remote::Output {
        json: cli.remote.json,
    };
    let remote = &cli.remote;
    let client = || client::Client::new(remote.server.as_deref(), remote.token.as_deref());
    Some(match &cli.command {
        Command::Openapi => {
            let document = crate::admin::openapi::openapi();
            match document.to_pretty_json() {
                // A reader that stops early (`| head`) is not an error.
                Ok(json) => {
                    use std::io::Write;
                    match writeln!(std::io::stdout(), "{json}") {
                        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                            Err(Failure::Refused(format!("stdout: {err}")))
                        }
                        _ => Ok(()),
                    }
                }
                Err(err) => Err(Failure::Refused(format!("the document: {err}"))),
            }
        }
        Command::Login => remote::login(remote).await,
        Command::Statement(command) => match client() {
            Ok(c) => remote::statement(&c, out, command.clone()).await,
            Err(err) => Err(err),
        },
        Command::Org(command) => match client() {
            Ok(c) => remote::organisation(&c, out, command.clone()).await,
            Err(err) => Err(err),
        },
        Command::Followers {
            handle,
            requests,
            limit,
            offset,
        } => match client() {
            Ok(c) => remote::followers(&c, out, handle, *requests, *limit, *offset).await,
            Err(err) => Err(err),
        },
        Command::Deliveries { id, watch } => match client() {
            Ok(c) => remote::deliveries(&c, out, id, *watch).await,
            Err(err) => Err(err),
        },
        Command::Import { dir, dry_run } => match client() {
            Ok(c) => remote::import(&c, out, dir, *dry_run).await,
            Err(err) => Err(err),
        },
        _ => return None,
    })
}

/// Where `broadside backup FILE` copies the media: `FILE.media/` beside it.
pub fn media_backup_dir(file: &std::path::Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(".media");
    PathBuf::from(name)
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
