//! Read benchmark: the actor document and WebFinger, Broadside against nginx
//! serving the same bytes from files.
//!
//! `cargo bench --bench reads` starts the release `broadside` binary (SQLite,
//! one organisation), saves what it serves for both URLs, serves those files
//! with nginx, and loads each with wrk (2 threads, 64 connections, 5 s).
//! Needs `nginx` and `wrk` on the PATH (Debian: `apt-get install nginx-light
//! wrk`); says it is skipped otherwise.

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use broadside::{admin::auth::hash_token, store::Store};
use common::{TOKEN, free_port, start_server, wait_for};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Requests per second wrk reaches against `url`.
fn wrk(url: &str, accept: &str) -> f64 {
    let output = Command::new("wrk")
        .args([
            "-t2",
            "-c64",
            "-d5s",
            "-H",
            &format!("Accept: {accept}"),
            url,
        ])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if !have("nginx") || !have("wrk") {
        println!(
            "skipped: the read benchmark needs nginx and wrk (apt-get install nginx-light wrk)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db_url = common::database_url(dir.path()).await;
    let store = Store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();
    store
        .upsert_token("bench", &hash_token(TOKEN))
        .await
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_server(&db_url, port, "warn", Stdio::inherit());
    let http = reqwest::Client::new();
    wait_for(&http, &format!("{base}/healthz")).await;
    let created = http
        .post(format!("{base}/api/v1/organisations"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({
            "handle": "cras", "name": "CRAS-IWA",
            "summary": "Confederation of Revolutionary Anarcho-Syndicalists",
            "website": "https://aitrus.info", "avatar_url": "https://aitrus.info/logo.png"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let actor_url = format!("{base}/organisations/cras");
    let webfinger_url = format!("{base}/.well-known/webfinger?resource=acct:cras@127.0.0.1:{port}");
    let accept = "application/activity+json";
    let actor = http
        .get(&actor_url)
        .header("Accept", accept)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let jrd = http
        .get(&webfinger_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("actor.json"), &actor).unwrap();
    std::fs::write(root.join("webfinger.json"), &jrd).unwrap();

    let nginx_port = free_port();
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2; daemon off; pid {pid}; error_log stderr error;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; default_type application/activity+json;\n\
             server {{ listen 127.0.0.1:{nginx_port}; root {root}; }} }}\n",
            pid = dir.path().join("nginx.pid").display(),
            root = root.display(),
        ),
    )
    .unwrap();
    let nginx_args = [
        "-c",
        conf.to_str().unwrap(),
        "-p",
        dir.path().to_str().unwrap(),
    ];
    let mut nginx = Command::new("nginx")
        .args(nginx_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    tokio::time::sleep(Duration::from_millis(500)).await;

    println!(
        "read benchmark: wrk -t2 -c64 -d5s, {} B actor, {} B JRD",
        actor.len(),
        jrd.len()
    );
    for (what, ours, theirs, accept) in [
        (
            "actor",
            actor_url.as_str(),
            format!("http://127.0.0.1:{nginx_port}/actor.json"),
            accept,
        ),
        (
            "webfinger",
            webfinger_url.as_str(),
            format!("http://127.0.0.1:{nginx_port}/webfinger.json"),
            "application/jrd+json",
        ),
    ] {
        let broadside = wrk(ours, accept);
        let reference = wrk(&theirs, accept);
        println!(
            "{what}: broadside {broadside:.0} req/s, nginx {reference:.0} req/s, ratio {:.2} (target ≥ 0.5)",
            broadside / reference
        );
    }
    // `-s stop` ends the workers too, which a kill of the master would not.
    let _ = Command::new("nginx")
        .args(nginx_args)
        .args(["-s", "stop"])
        .stderr(Stdio::null())
        .status();
    let _ = nginx.wait();
    let _ = server.kill();
    let _ = server.wait();
}
