//! The `broadside` command line as an editor uses it against a running
//! server: organisations from a TOML file, a statement file published and
//! followed to its last delivery at a test peer, refusals that name the
//! file, line and field, exit codes, `login`, and importing an archive
//! (with a broken file, a dry run and a second run that changes nothing).
//! The CLI runs as its own process and talks HTTP over loopback.

mod common;

use std::{path::Path, process::Output, time::Duration};

use common::{TOKEN, TestDb, TestServer, follow, peer::Peer, received};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const EXAMPLE_STATEMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/declaration-kazakhstan.md"
);
const EXAMPLE_ORGANISATIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/organisations.toml");

/// Runs `broadside ARGS` against `server` with the test token (unless
/// `token` says otherwise), in a home of its own so no saved login leaks
/// in, with `stdin` as its input.
struct Cli {
    home: tempfile::TempDir,
    server: String,
}

impl Cli {
    fn new(server: &TestServer) -> Cli {
        Cli {
            home: tempfile::tempdir().unwrap(),
            server: server.base.to_string(),
        }
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, Some(TOKEN), "").await
    }

    async fn run_with(&self, args: &[&str], token: Option<&str>, stdin: &str) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new(common::process::binary());
        command
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("BROADSIDE_SERVER", &self.server)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(token) = token {
            command.env("BROADSIDE_TOKEN", token);
        }
        let mut child = command.spawn().expect("the broadside binary runs");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("the CLI finishes within a minute")
            .unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("not JSON ({err}): {}\n{}", stdout(output), stderr(output)))
}

async fn statements(server: &TestServer) -> Vec<Value> {
    let (status, list) = server.api(Method::GET, "/statements?limit=200", None).await;
    assert_eq!(status, StatusCode::OK);
    list.as_array().unwrap().clone()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

both_backends!(
    a_statement_file_is_published_and_followed_to_its_last_delivery,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let cli = Cli::new(&server);

        // The example organisations, from the file the quick start uses; a
        // second run leaves them as they are.
        let made = cli
            .run(&["org", "create", "--file", EXAMPLE_ORGANISATIONS])
            .await;
        assert_eq!(code(&made), 0, "{}", stderr(&made));
        assert!(stdout(&made).contains("created @stop_total_control@"));
        assert!(stdout(&made).contains("created @cras@"));
        let again = cli
            .run(&["org", "create", "--file", EXAMPLE_ORGANISATIONS])
            .await;
        assert_eq!(code(&again), 0, "{}", stderr(&again));
        assert!(stdout(&again).contains("exists  cras"));

        // Followers on two servers: the lead's and the co-signer's.
        let a = Peer::start().await;
        let b = Peer::start().await;
        follow(&server, &a, "ann", "stop_total_control").await;
        follow(&server, &b, "bob", "cras").await;
        received(&a, "Accept", 1).await;
        received(&b, "Accept", 1).await;

        let published = cli.run(&["statement", "publish", EXAMPLE_STATEMENT]).await;
        assert_eq!(code(&published), 0, "{}", stderr(&published));
        let out = stdout(&published);
        assert!(out.contains("published "), "{out}");
        assert!(out.contains("delivered to 2 of 2 inboxes"), "{out}");
        // Progress (not a terminal: one line per change) until done.
        let progress = stderr(&published);
        let lines: Vec<&str> = progress
            .lines()
            .filter(|l| l.starts_with("deliveries: "))
            .collect();
        assert!(!lines.is_empty(), "no progress shown: {progress}");
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("deliveries: 2/2 attempted, 2 delivered"),
            "{progress}"
        );

        // The peers have it: the lead's Create, the co-signer's Announce.
        let create = &received(&a, "Create", 1).await[0];
        assert!(create.verified);
        assert_eq!(
            create.activity["object"]["name"],
            "Declaration about Kazakhstan"
        );
        assert_eq!(create.activity["object"]["type"], "Article");
        let announce = &received(&b, "Announce", 1).await[0];
        assert!(announce.verified);
        assert_eq!(announce.activity["object"], create.activity["object"]["id"]);

        // What scripts read.
        let listed = cli.run(&["--json", "statement", "list"]).await;
        assert_eq!(code(&listed), 0, "{}", stderr(&listed));
        let listed = json(&listed);
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let id = listed[0]["id"].as_str().unwrap().to_string();
        assert_eq!(listed[0]["status"], "published");
        assert_eq!(listed[0]["original_date"], "2022-01-13");
        let table = cli.run(&["statement", "list"]).await;
        assert!(stdout(&table).contains("Declaration about Kazakhstan"));
        let shown = cli.run(&["deliveries", &id]).await;
        assert_eq!(code(&shown), 0, "{}", stderr(&shown));
        let report = json(&cli.run(&["--json", "deliveries", &id]).await);
        assert_eq!(report["counts"]["delivered"], 2);

        // Editing from a file sends an Update; a file may add a signatory.
        server
            .create_organisation("iwa", "International Workers' Association")
            .await;
        let edited_file = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(EXAMPLE_STATEMENT)
            .unwrap()
            .replace("  - cras\n", "  - cras\n  - iwa\n")
            .replace("We, Anarcho-syndicalists", "We, the anarcho-syndicalists");
        write(edited_file.path(), "declaration.md", &text);
        let path = edited_file.path().join("declaration.md");
        let edited = cli
            .run(&["statement", "edit", &id, path.to_str().unwrap()])
            .await;
        assert_eq!(code(&edited), 0, "{}", stderr(&edited));
        let update = &received(&a, "Update", 1).await[0];
        assert!(
            update.activity["object"]["content"]
                .as_str()
                .unwrap()
                .contains("We, the anarcho-syndicalists")
        );
        let shown = json(&cli.run(&["--json", "statement", "show", &id]).await);
        let signed: Vec<&str> = shown["signatories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["handle"].as_str().unwrap())
            .collect();
        assert_eq!(signed, ["stop_total_control", "cras", "iwa"]);
        // …but cannot take one away.
        let fewer = text.replace("  - cras\n", "");
        write(edited_file.path(), "fewer.md", &fewer);
        let path = edited_file.path().join("fewer.md");
        let refused = cli
            .run(&["statement", "edit", &id, path.to_str().unwrap()])
            .await;
        assert_eq!(code(&refused), 1);
        assert!(
            stderr(&refused).contains("fewer.md:"),
            "{}",
            stderr(&refused)
        );

        // Followers as a table and as JSON.
        let followers = json(&cli.run(&["--json", "followers", "cras"]).await);
        assert_eq!(followers["total"], 1);
        let table = cli.run(&["followers", "stop_total_control"]).await;
        assert!(
            stdout(&table).contains("1 of 1 followers"),
            "{}",
            stdout(&table)
        );
    }
);

both_backends!(
    refusals_name_the_file_line_and_field_and_set_the_exit_code,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let cli = Cli::new(&server);
        server.create_organisation("cras", "CRAS").await;
        let dir = tempfile::tempdir().unwrap();

        // The server refuses a signatory it does not know: line 4 is the
        // second list item.
        write(
            dir.path(),
            "typo.md",
            "---\ntitle: A statement\nsignatories:\n  - cras\n  - crass\n---\nText.\n",
        );
        let typo = dir.path().join("typo.md");
        let refused = cli
            .run(&["statement", "publish", typo.to_str().unwrap()])
            .await;
        assert_eq!(code(&refused), 1);
        let err = stderr(&refused);
        assert!(
            err.contains("typo.md:5: signatories[1]: no organisation crass"),
            "{err}"
        );
        // A field the API does not know, caught before anything is sent.
        write(
            dir.path(),
            "unknown.md",
            "---\ntitle: A statement\nsignatories: [cras]\nauthor: me\n---\nText.\n",
        );
        let unknown = dir.path().join("unknown.md");
        let refused = cli
            .run(&["statement", "draft", unknown.to_str().unwrap()])
            .await;
        assert_eq!(code(&refused), 1);
        assert!(
            stderr(&refused).contains("unknown.md:4: author: unknown field"),
            "{}",
            stderr(&refused)
        );
        // A rule the server keeps (an empty body).
        write(
            dir.path(),
            "empty.md",
            "---\ntitle: A statement\nsignatories: [cras]\n---\n\n",
        );
        let empty = dir.path().join("empty.md");
        let refused = cli
            .run(&["statement", "draft", empty.to_str().unwrap()])
            .await;
        assert_eq!(code(&refused), 1);
        assert!(
            stderr(&refused).contains("empty.md:"),
            "{}",
            stderr(&refused)
        );
        assert!(stderr(&refused).contains("body"), "{}", stderr(&refused));
        assert!(statements(&server).await.is_empty(), "nothing stored");

        // A draft is stored and not published.
        write(
            dir.path(),
            "fine.md",
            "---\ntitle: A statement\nsignatories: [cras]\n---\nText.\n",
        );
        let fine = dir.path().join("fine.md");
        let drafted = cli
            .run(&["--json", "statement", "draft", fine.to_str().unwrap()])
            .await;
        assert_eq!(code(&drafted), 0, "{}", stderr(&drafted));
        assert_eq!(json(&drafted)["status"], "draft");

        // 2: a wrong token, a token without the scope, no server.
        let wrong = cli
            .run_with(&["statement", "list"], Some("bst_wrong"), "")
            .await;
        assert_eq!(code(&wrong), 2, "{}", stderr(&wrong));
        assert!(stderr(&wrong).contains("not authorized"));
        let read_only = broadside::admin::auth::new_token();
        server
            .store
            .create_token(
                "reader",
                &broadside::admin::auth::hash_token(&read_only),
                "read",
                None,
            )
            .await
            .unwrap();
        let forbidden = cli
            .run_with(
                &["statement", "draft", fine.to_str().unwrap()],
                Some(&read_only),
                "",
            )
            .await;
        assert_eq!(code(&forbidden), 2, "{}", stderr(&forbidden));
        let listed = cli
            .run_with(&["statement", "list"], Some(&read_only), "")
            .await;
        assert_eq!(code(&listed), 0, "{}", stderr(&listed));
        let nobody = format!("http://127.0.0.1:{}", common::process::free_port());
        let unreachable = cli.run(&["--server", &nobody, "statement", "list"]).await;
        assert_eq!(code(&unreachable), 2);
        assert!(
            stderr(&unreachable).contains("cannot reach"),
            "{}",
            stderr(&unreachable)
        );
        let missing = cli.run(&["statement", "show", "no-such-id"]).await;
        assert_eq!(code(&missing), 1);
        assert!(stderr(&missing).contains("no statement no-such-id"));

        // `login` checks the token and keeps it; later commands need none.
        let refused = cli.run_with(&["login"], None, "bst_wrong\n").await;
        assert_eq!(code(&refused), 2);
        let login = cli.run_with(&["login"], None, &format!("{TOKEN}\n")).await;
        assert_eq!(code(&login), 0, "{}", stderr(&login));
        let saved = cli.home.path().join("config/broadside/cli.toml");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the saved token is private");
        }
        let listed = cli.run_with(&["org", "list"], None, "").await;
        assert_eq!(code(&listed), 0, "{}", stderr(&listed));
        assert!(stdout(&listed).contains("@cras@"));
    }
);

const ARCHIVED_A: &str = "---
title: On the strikes in Mangistau
signatories: [stop_total_control, cras]
original_date: 2021-08-02
tags: [Kazakhstan]
---
The oil workers of Mangistau have not stopped since the summer.
";

const ARCHIVED_B: &str = "---
title: Declaration about Kazakhstan
signatories: [stop_total_control, cras]
original_date: 2022-01-13
---
We, Anarcho-syndicalists and Anarchists of Russia express our full and complete solidarity.
";

const ARCHIVED_BROKEN: &str = "---
title: A statement of a signatory not here
signatories:
  - stop_total_control
  - iwa
original_date: 2022-03-01
---
Text.
";

both_backends!(
    an_archive_is_imported_once_at_its_dates_and_sent_to_nobody,
    |db: TestDb| async move {
        let server = TestServer::start(&db).await;
        let cli = Cli::new(&server);
        let made = cli
            .run(&["org", "create", "--file", EXAMPLE_ORGANISATIONS])
            .await;
        assert_eq!(code(&made), 0, "{}", stderr(&made));
        let peer = Peer::start().await;
        follow(&server, &peer, "ann", "stop_total_control").await;
        follow(&server, &peer, "bob", "cras").await;
        received(&peer, "Accept", 2).await;

        let archive = tempfile::tempdir().unwrap();
        write(archive.path(), "2021-mangistau.md", ARCHIVED_A);
        write(archive.path(), "2022-kazakhstan.md", ARCHIVED_B);
        write(archive.path(), "2022-unsigned.md", ARCHIVED_BROKEN);
        write(archive.path(), "notes.txt", "not a statement");
        let dir = archive.path().to_str().unwrap();

        // A dry run says what would happen and stores nothing.
        let dry = cli.run(&["import", dir, "--dry-run"]).await;
        assert_eq!(code(&dry), 1, "one file is refused");
        let out = stdout(&dry);
        assert!(out.contains("would create"), "{out}");
        assert!(
            out.contains("dry run: 2 would be created, 0 unchanged, 1 refused"),
            "{out}"
        );
        assert!(
            out.contains("2022-unsigned.md:5: signatories[1]: no organisation iwa"),
            "{out}"
        );
        assert!(statements(&server).await.is_empty());

        let imported = cli.run(&["import", dir]).await;
        assert_eq!(code(&imported), 1, "{}", stderr(&imported));
        let out = stdout(&imported);
        assert!(out.contains("2 created, 0 unchanged, 1 refused"), "{out}");
        assert!(stderr(&imported).contains("1 of 3 files refused"));
        let stored = statements(&server).await;
        assert_eq!(stored.len(), 2, "nothing of the broken file is stored");
        // Published at their original dates, newest first.
        assert_eq!(stored[0]["title"], "Declaration about Kazakhstan");
        assert_eq!(stored[0]["status"], "published");
        assert!(
            stored[0]["published_at"]
                .as_str()
                .unwrap()
                .starts_with("2022-01-13T00:00:00")
        );
        assert!(
            stored[1]["published_at"]
                .as_str()
                .unwrap()
                .starts_with("2021-08-02T00:00:00")
        );

        // On the site, in the feed and in the lead's outbox, with the
        // original date on the Create …
        let page = server
            .http
            .get(stored[0]["url"].as_str().unwrap())
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("Declaration about Kazakhstan")
        );
        let feed = server
            .http
            .get(server.url("/organisations/stop_total_control/feed.atom"))
            .send()
            .await
            .unwrap();
        let feed = feed.text().await.unwrap();
        assert!(feed.contains("On the strikes in Mangistau"), "{feed}");
        let outbox = server
            .ap_json(server.url("/organisations/stop_total_control/outbox"))
            .await;
        assert_eq!(outbox["totalItems"], 2, "{outbox}");
        let first = server.ap_json(outbox["first"].as_str().unwrap()).await;
        let creates: Vec<&Value> = first["orderedItems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "Create")
            .collect();
        assert_eq!(creates.len(), 2, "{first}");
        assert!(creates.iter().any(|c| {
            c["object"]["published"]
                .as_str()
                .unwrap()
                .starts_with("2021-08-02")
        }));

        // … but sent to nobody: no delivery rows, nothing at the peer.
        for statement in &stored {
            let id = statement["id"].as_str().unwrap();
            let report = json(&cli.run(&["--json", "deliveries", id]).await);
            let counts = &report["counts"];
            let total: i64 = ["queued", "sending", "delivered", "failed"]
                .iter()
                .map(|k| counts[k].as_i64().unwrap())
                .sum();
            assert_eq!(total, 0, "{report}");
        }
        assert!(peer.received_of("Create").is_empty());
        assert!(peer.received_of("Announce").is_empty());

        // Importing again changes nothing.
        let before: Vec<(Value, Value)> = stored
            .iter()
            .map(|s| (s["id"].clone(), s["updated_at"].clone()))
            .collect();
        let again = cli.run(&["import", dir]).await;
        assert_eq!(code(&again), 1);
        assert!(
            stdout(&again).contains("0 created, 2 unchanged, 1 refused"),
            "{}",
            stdout(&again)
        );
        let after: Vec<(Value, Value)> = statements(&server)
            .await
            .iter()
            .map(|s| (s["id"].clone(), s["updated_at"].clone()))
            .collect();
        assert_eq!(before, after);

        // Once the broken file is mended, only it is created.
        write(
            archive.path(),
            "2022-unsigned.md",
            &ARCHIVED_BROKEN.replace("  - iwa\n", "  - cras\n"),
        );
        let mended = cli.run(&["--json", "import", dir]).await;
        assert_eq!(code(&mended), 0, "{}", stderr(&mended));
        let outcomes: Vec<String> = json(&mended)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["outcome"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(outcomes, ["unchanged", "unchanged", "created"]);
        assert_eq!(statements(&server).await.len(), 3);

        // An import cannot be scheduled, and needs its date.
        write(
            archive.path(),
            "2022-unsigned.md",
            &ARCHIVED_BROKEN.replace("original_date: 2022-03-01\n", ""),
        );
        let undated = tempfile::tempdir().unwrap();
        write(
            undated.path(),
            "undated.md",
            &ARCHIVED_A.replace("original_date: 2021-08-02\n", ""),
        );
        let refused = cli.run(&["import", undated.path().to_str().unwrap()]).await;
        assert_eq!(code(&refused), 1);
        assert!(
            stdout(&refused).contains("undated.md:1: original_date:"),
            "{}",
            stdout(&refused)
        );
    }
);
