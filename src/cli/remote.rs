//! The commands that work against a running server over its admin API:
//! statements (from files), organisations, followers, deliveries, imports
//! and `login`. They send the API's own request types, read its answers as
//! the view types it serialised them from (`admin::views`), and show them
//! as a table, or as the API's JSON with `--json`.

use std::{io::IsTerminal, path::Path, time::Duration};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::{
    OrgCommand, Remote, StatementCommand,
    client::{CallError, Client, Failure, Saved, segment},
    files::{StatementFile, statement_files},
};
use crate::{
    admin::views::{DeliveryReport, FollowerPage, ImportOutcome, OrganisationView, StatementView},
    services::{
        organisations::{NewProfile, ProfileChanges},
        statements::Listing,
    },
};

/// How the answer is shown.
#[derive(Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    fn json<T: Serialize + ?Sized>(self, value: &T) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("JSON serialises")
        );
    }
}

/// An optional field as text: empty when absent.
fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    table
}

/// The first characters of a date-time: enough for a table.
fn day(date: &Option<String>) -> String {
    text(date)
        .chars()
        .take(16)
        .collect::<String>()
        .replace('T', " ")
}

fn handles(statement: &StatementView) -> String {
    statement
        .signatories
        .iter()
        .map(|s| s.handle.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn show_statement(out: Output, statement: &StatementView) {
    if out.json {
        return out.json(statement);
    }
    println!("{}", statement.title);
    println!("  id           {}", statement.id);
    println!("  status       {}", statement.status);
    println!("  url          {}", statement.url);
    println!("  signatories  {}", handles(statement));
    for (label, value) in [
        ("original     ", &statement.original_date),
        ("published    ", &statement.published_at),
        ("scheduled for", &statement.publish_at),
        ("edited       ", &statement.edited_at),
        ("language     ", &statement.language),
    ] {
        if !text(value).is_empty() {
            println!("  {label}{}", text(value));
        }
    }
}

pub async fn statement(
    client: &Client,
    out: Output,
    command: StatementCommand,
) -> Result<(), Failure> {
    match command {
        StatementCommand::Publish { file, no_wait } => {
            let statement = create(client, &file, true).await?;
            report_created(out, &statement);
            if statement.status == "published" && !no_wait {
                wait_for_deliveries(client, out, &statement.id).await?;
            }
        }
        StatementCommand::Draft { file } => {
            let statement = create(client, &file, false).await?;
            report_created(out, &statement);
        }
        StatementCommand::List {
            organisation,
            status,
            limit,
            offset,
        } => {
            let listing = Listing {
                organisation,
                status,
                limit,
                offset,
            };
            let query = query_of(&listing);
            let found: Vec<StatementView> = client.get("statements", &query).await?;
            if out.json {
                out.json(&found);
                return Ok(());
            }
            let mut rows = table(&["id", "status", "date", "title", "signatories"]);
            for s in &found {
                let date = match text(&s.published_at) {
                    "" => day(&s.publish_at),
                    _ => day(&s.published_at),
                };
                rows.add_row(vec![
                    s.id.clone(),
                    s.status.clone(),
                    date,
                    s.title.clone(),
                    handles(s),
                ]);
            }
            println!("{rows}");
        }
        StatementCommand::Show { id } => {
            let found: StatementView = client
                .get(&format!("statements/{}", segment(&id)), &[])
                .await?;
            show_statement(out, &found);
        }
        StatementCommand::Edit { id, file, no_wait } => {
            edit(client, out, &id, &file, no_wait).await?;
        }
        StatementCommand::Delete { id } => {
            client
                .call::<(), ()>(
                    Method::DELETE,
                    &format!("statements/{}", segment(&id)),
                    &[],
                    None,
                )
                .await?;
            if out.json {
                out.json(&serde_json::json!({ "deleted": id }));
            } else {
                println!("deleted {id}; followers who had it are sent a Delete");
            }
        }
        StatementCommand::Sign { id, handle } => {
            let signed: StatementView = client
                .call(
                    Method::POST,
                    &format!("statements/{}/signatories", segment(&id)),
                    &[],
                    Some(&serde_json::json!({ "handle": handle })),
                )
                .await?;
            if out.json {
                out.json(&signed);
            } else {
                println!("{handle} signed {id}; signatories: {}", handles(&signed));
            }
        }
    }
    Ok(())
}

/// Sends a statement file as a new statement (published, or scheduled if
/// it says `publish_at`, when `publish`); the API's refusal is placed at
/// the field's line.
async fn create(client: &Client, path: &Path, publish: bool) -> Result<StatementView, Failure> {
    let file = StatementFile::read(path)?;
    let mut draft = file.draft()?;
    draft.publish = publish && !file.scheduled();
    client
        .call(Method::POST, "statements", &[], Some(&draft))
        .await
        .map_err(|err| refusal(&file, err))
}

fn refusal(file: &StatementFile, err: CallError) -> Failure {
    match err {
        CallError::Api(err) => file.refusal(err),
        other => other.into_failure(None),
    }
}

fn report_created(out: Output, statement: &StatementView) {
    if out.json {
        return out.json(statement);
    }
    match statement.status.as_str() {
        "published" => println!(
            "published {} ({})\n  {}",
            statement.id, statement.title, statement.url
        ),
        "scheduled" => println!(
            "scheduled {} for {}",
            statement.id,
            text(&statement.publish_at)
        ),
        status => println!("{status} {} ({})", statement.id, statement.title),
    }
}

/// Makes the statement `id` what the file says: its content (an Update to
/// everyone who has it, once published), and any signatories the file adds
/// at the end. Signatories cannot be removed or reordered once signed.
async fn edit(
    client: &Client,
    out: Output,
    id: &str,
    path: &Path,
    no_wait: bool,
) -> Result<(), Failure> {
    let file = StatementFile::read(path)?;
    let current: StatementView = client
        .get(&format!("statements/{}", segment(id)), &[])
        .await?;
    let published = current.status == "published";
    let signed: Vec<String> = current.signatories.into_iter().map(|s| s.handle).collect();
    let wanted = file.signatories();
    if !wanted.is_empty() && !wanted.starts_with(&signed) {
        return Err(Failure::Refused(format!(
            "{}: signatories: {} signed already, in that order; a file can only add signatories after them",
            file.place("signatories"),
            signed.join(", ")
        )));
    }
    let changes = file.changes(published)?;
    let mut edited: StatementView = client
        .call(
            Method::PATCH,
            &format!("statements/{}", segment(id)),
            &[],
            Some(&changes),
        )
        .await
        .map_err(|err| refusal(&file, err))?;
    for (i, handle) in wanted.iter().enumerate().skip(signed.len()) {
        edited = client
            .call(
                Method::POST,
                &format!("statements/{}/signatories", segment(id)),
                &[],
                Some(&serde_json::json!({ "handle": handle })),
            )
            .await
            .map_err(|err| match err {
                CallError::Api(err) => file.refusal(super::client::ApiError {
                    field: Some(format!("signatories[{i}]")),
                    ..err
                }),
                other => other.into_failure(None),
            })?;
    }
    if out.json {
        out.json(&edited);
    } else {
        println!("edited {} ({})", id, edited.title);
    }
    if published && !no_wait {
        wait_for_deliveries(client, out, id).await?;
    }
    Ok(())
}

/// Shows the statement's deliveries until every one has had its first
/// attempt: delivered, failed for good, or waiting to be retried (which
/// may take days, and goes on without us).
async fn wait_for_deliveries(client: &Client, out: Output, id: &str) -> Result<(), Failure> {
    let path = format!("statements/{}/deliveries", segment(id));
    let bar = (!out.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} deliveries [{bar:30}] {pos}/{len} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let mut last = String::new();
    loop {
        let report: DeliveryReport = client.get(&path, &[]).await?;
        let counts = &report.counts;
        let (queued, retrying, sending) = (counts.queued, counts.retrying, counts.sending);
        let (delivered, failed) = (counts.delivered, counts.failed);
        let total = queued + sending + delivered + failed;
        let done = delivered + failed + retrying;
        let line = format!(
            "deliveries: {done}/{total} attempted, {delivered} delivered, {retrying} to retry, {failed} failed"
        );
        match &bar {
            Some(bar) => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(format!(
                    "{delivered} delivered, {retrying} to retry, {failed} failed"
                ));
            }
            None if !out.json && line != last => eprintln!("{line}"),
            None => {}
        }
        last = line;
        if queued - retrying + sending == 0 {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            if out.json {
                out.json(&report);
            } else if total == 0 {
                println!("no follower has an inbox to deliver to yet");
            } else {
                println!(
                    "delivered to {delivered} of {total} inboxes{}{}",
                    if retrying > 0 {
                        format!("; {retrying} will be retried by the server")
                    } else {
                        String::new()
                    },
                    if failed > 0 {
                        format!("; {failed} failed")
                    } else {
                        String::new()
                    }
                );
                for host in &report.failing_hosts {
                    println!("  failing: {} ({})", host.host, text(&host.last_error));
                }
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `broadside deliveries ID [--watch]`
pub async fn deliveries(
    client: &Client,
    out: Output,
    id: &str,
    watch: bool,
) -> Result<(), Failure> {
    if watch {
        return wait_for_deliveries(client, out, id).await;
    }
    let report: DeliveryReport = client
        .get(&format!("statements/{}/deliveries", segment(id)), &[])
        .await?;
    if out.json {
        out.json(&report);
        return Ok(());
    }
    let counts = &report.counts;
    let mut rows = table(&["queued", "to retry", "sending", "delivered", "failed"]);
    rows.add_row(vec![
        counts.queued - counts.retrying,
        counts.retrying,
        counts.sending,
        counts.delivered,
        counts.failed,
    ]);
    println!("{rows}");
    for host in &report.failing_hosts {
        println!(
            "failing: {} for {} day(s): {}",
            host.host,
            host.failure_days,
            text(&host.last_error)
        );
    }
    Ok(())
}

/// A request type as query parameters (its `None`s left out).
fn query_of<T: serde::Serialize>(value: &T) -> Vec<(String, String)> {
    let Ok(Value::Object(fields)) = serde_json::to_value(value) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect()
}

pub async fn organisation(
    client: &Client,
    out: Output,
    command: OrgCommand,
) -> Result<(), Failure> {
    match command {
        OrgCommand::Create {
            handle,
            name,
            summary,
            website,
            file,
        } => match (file, handle) {
            (Some(file), None) => create_from_file(client, out, &file).await?,
            (None, Some(handle)) => {
                let Some(name) = name else {
                    return Err(Failure::Refused(
                        "--name: an organisation needs a name".into(),
                    ));
                };
                let profile = NewProfile {
                    handle,
                    name,
                    summary: summary.unwrap_or_default(),
                    website,
                    fields: Vec::new(),
                    avatar_url: None,
                    header_url: None,
                    manually_approves_followers: false,
                    discoverable: None,
                    indexable: None,
                    approve_replies: false,
                };
                let created: OrganisationView = client
                    .call(Method::POST, "organisations", &[], Some(&profile))
                    .await
                    .map_err(Failure::from)?;
                show_organisation(out, &created);
            }
            _ => {
                return Err(Failure::Refused(
                    "give a HANDLE with --name, or --file FILE".into(),
                ));
            }
        },
        OrgCommand::List => {
            let found: Vec<OrganisationView> = client.get("organisations", &[]).await?;
            if out.json {
                out.json(&found);
                return Ok(());
            }
            let mut rows = table(&["handle", "name", "followers", "requests", "statements"]);
            for o in &found {
                rows.add_row(vec![
                    o.acct.clone(),
                    o.name.clone(),
                    o.followers_count.to_string(),
                    o.follow_requests_count.to_string(),
                    o.statuses_count.to_string(),
                ]);
            }
            println!("{rows}");
        }
        OrgCommand::Show { handle } => {
            let found: OrganisationView = client
                .get(&format!("organisations/{}", segment(&handle)), &[])
                .await?;
            show_organisation(out, &found);
        }
        OrgCommand::Update {
            handle,
            name,
            summary,
            website,
            manually_approves_followers,
        } => {
            let changes = ProfileChanges {
                name,
                summary,
                website: website.map(|w| Some(w).filter(|w| !w.is_empty())),
                manually_approves_followers,
                ..ProfileChanges::default()
            };
            let updated: OrganisationView = client
                .call(
                    Method::PATCH,
                    &format!("organisations/{}", segment(&handle)),
                    &[],
                    Some(&changes),
                )
                .await
                .map_err(Failure::from)?;
            show_organisation(out, &updated);
        }
        OrgCommand::Delete { handle } => {
            client
                .call::<(), ()>(
                    Method::DELETE,
                    &format!("organisations/{}", segment(&handle)),
                    &[],
                    None,
                )
                .await?;
            if out.json {
                out.json(&serde_json::json!({ "deleted": handle }));
            } else {
                println!("deleted {handle}; its followers are sent a Delete");
            }
        }
    }
    Ok(())
}

fn show_organisation(out: Output, org: &OrganisationView) {
    if out.json {
        return out.json(org);
    }
    println!("{} ({})", org.name, org.acct);
    println!("  actor       {}", org.actor_url);
    println!(
        "  followers   {} ({} waiting for approval)",
        org.followers_count, org.follow_requests_count
    );
    println!("  statements  {}", org.statuses_count);
    if !org.summary.is_empty() {
        println!("  summary     {}", org.summary);
    }
}

/// The organisations of a TOML file (`[[organisation]]` tables with the
/// API's fields): each created, or left as it is if its handle exists.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationsFile {
    organisation: Vec<NewProfile>,
}

async fn create_from_file(client: &Client, out: Output, path: &Path) -> Result<(), Failure> {
    let shown = path.display();
    let text_of =
        std::fs::read_to_string(path).map_err(|err| Failure::Refused(format!("{shown}: {err}")))?;
    let parsed: OrganisationsFile = toml::from_str(&text_of).map_err(|err| {
        let line = err
            .span()
            .map(|span| text_of[..span.start].lines().count().max(1))
            .unwrap_or(1);
        Failure::Refused(format!("{shown}:{line}: {}", err.message()))
    })?;
    let mut results = Vec::new();
    let mut refused = None;
    for (i, profile) in parsed.organisation.iter().enumerate() {
        match client
            .call::<OrganisationView, _>(Method::POST, "organisations", &[], Some(profile))
            .await
        {
            Ok(created) => {
                if !out.json {
                    println!("created {}", created.acct);
                }
                results.push(created);
            }
            Err(CallError::Api(err)) if err.status == StatusCode::CONFLICT => {
                if !out.json {
                    println!("exists  {} (left as it is)", profile.handle);
                }
            }
            Err(CallError::Api(err)) => {
                let failure = err.into_failure(Some(format!(
                    "{shown}: organisation[{i}] ({})",
                    profile.handle
                )));
                if let Failure::Unreachable(_) = failure {
                    return Err(failure);
                }
                eprintln!("broadside: {failure}");
                refused.get_or_insert(failure);
            }
            Err(other) => return Err(other.into()),
        }
    }
    if out.json {
        out.json(&results);
    }
    match refused {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// `broadside followers ORG [--requests]`
pub async fn followers(
    client: &Client,
    out: Output,
    handle: &str,
    requests: bool,
    limit: i64,
    offset: i64,
) -> Result<(), Failure> {
    let which = if requests {
        "follow-requests"
    } else {
        "followers"
    };
    let page: FollowerPage = client
        .get(
            &format!("organisations/{}/{which}", segment(handle)),
            &query_of(&crate::services::Paging { limit, offset }),
        )
        .await?;
    if out.json {
        out.json(&page);
        return Ok(());
    }
    let mut rows = table(&["id", "actor", "server", "since"]);
    for f in &page.items {
        rows.add_row(vec![
            f.id.to_string(),
            f.actor.clone(),
            f.domain.clone(),
            crate::clock::from_ms(f.created_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        ]);
    }
    println!("{rows}");
    println!("{} of {} {which}", page.items.len(), page.total);
    Ok(())
}

/// `broadside import DIR [--dry-run]`: every `*.md` file, by name, under
/// its name as key. A file that is refused is reported and the others go
/// on; nothing of a refused file is stored.
pub async fn import(
    client: &Client,
    out: Output,
    dir: &Path,
    dry_run: bool,
) -> Result<(), Failure> {
    let files = statement_files(dir)?;
    if files.is_empty() {
        return Err(Failure::Refused(format!(
            "{}: no statement files (*.md)",
            dir.display()
        )));
    }
    let mut counts = [0usize; 4]; // created, unchanged, would create, refused
    let mut results = Vec::new();
    let mut first_refusal = None;
    for path in &files {
        let outcome = import_one(client, path, dry_run).await;
        let (label, detail) = match &outcome {
            Ok(answer) => {
                let outcome = answer.outcome.as_str();
                let index = match outcome {
                    "created" => 0,
                    "unchanged" => 1,
                    _ => 2,
                };
                counts[index] += 1;
                let detail = match &answer.statement {
                    None => path.display().to_string(),
                    Some(statement) => format!("{} {}", path.display(), statement.url),
                };
                (outcome.replace('_', " "), detail)
            }
            Err(Failure::Unreachable(_)) => {
                return outcome.map(|_| ());
            }
            Err(failure) => {
                counts[3] += 1;
                ("refused".to_string(), failure.to_string())
            }
        };
        if out.json {
            results.push(serde_json::json!({
                "file": path.display().to_string(),
                "outcome": label.replace(' ', "_"),
                "statement": outcome.as_ref().ok().and_then(|a| a.statement.as_ref()),
                "error": outcome.as_ref().err().map(|e| e.to_string()),
            }));
        } else {
            println!("{label:<12} {detail}");
        }
        if let Err(failure) = outcome {
            first_refusal.get_or_insert(failure);
        }
    }
    if out.json {
        out.json(&results);
    } else if dry_run {
        println!(
            "dry run: {} would be created, {} unchanged, {} refused; nothing was stored",
            counts[2], counts[1], counts[3]
        );
    } else {
        println!(
            "{} created, {} unchanged, {} refused",
            counts[0], counts[1], counts[3]
        );
    }
    match first_refusal {
        Some(_) => Err(Failure::Refused(format!(
            "{} of {} files refused",
            counts[3],
            files.len()
        ))),
        None => Ok(()),
    }
}

async fn import_one(client: &Client, path: &Path, dry_run: bool) -> Result<ImportOutcome, Failure> {
    let file = StatementFile::read(path)?;
    let draft = file.draft()?;
    let query = query_of(&crate::admin::ImportQuery { dry_run });
    client
        .call(
            Method::PUT,
            &format!("imports/{}", segment(&file.key())),
            &query,
            Some(&draft),
        )
        .await
        .map_err(|err| match err {
            // The key is the file's name: say so.
            CallError::Api(err) if err.field.as_deref() == Some("key") => {
                Failure::Refused(format!(
                    "{}: the file name is the import key, which {}",
                    path.display(),
                    err.message.trim_start_matches("key: ")
                ))
            }
            other => refusal(&file, other),
        })
}

/// `broadside login`: checks the token against the server and keeps both
/// for the next commands.
pub async fn login(remote: &Remote) -> Result<(), Failure> {
    let saved = Saved::load()?;
    let server = remote
        .server
        .clone()
        .or(saved.server)
        .unwrap_or_else(|| super::client::DEFAULT_SERVER.to_string());
    let token = match &remote.token {
        Some(token) => token.clone(),
        None => read_token()?,
    };
    let client = Client::with(&server, &token)?;
    // Any answer in the API's shape will do: the token is what is checked.
    client
        .get::<Vec<StatementView>>("statements", &[("limit".to_string(), "1".to_string())])
        .await?;
    let path = Saved {
        server: Some(server.clone()),
        token: Some(token),
    }
    .store()
    .map_err(|err| Failure::Refused(format!("could not save the login: {err}")))?;
    println!("logged in to {server}; saved in {}", path.display());
    Ok(())
}

fn read_token() -> Result<String, Failure> {
    let token = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Token: ")
            .map_err(|err| Failure::Refused(format!("token: {err}")))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|err| Failure::Refused(format!("token: {err}")))?;
        line
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(Failure::Refused("token: empty".into()));
    }
    Ok(token)
}
