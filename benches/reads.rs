//! Read benchmark: the actor document and WebFinger, Broadside against nginx
//! serving the same bytes from files.
//!
//! `cargo bench --bench reads` starts the release `broadside` binary (SQLite,
//! one organisation, logging as shipped: `info`, a line per request, to a
//! file), saves what it serves for both URLs, serves those files
//! with nginx, and loads each with wrk (2 threads, 64 connections, 5 s).
//! Needs `nginx` and `wrk` on the PATH (Debian: `apt-get install nginx-light
//! wrk`); says it is skipped otherwise.

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use common::{BenchServer, free_port};

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
    // As shipped (`config/broadside.toml`: `log = "info"`, one line per
    // request), to a file (what a container runtime does with stderr).
    let bench = BenchServer::start(
        None,
        true,
        serde_json::json!({
            "handle": "cras", "name": "CRAS-IWA",
            "summary": "Confederation of Revolutionary Anarcho-Syndicalists",
            "website": "https://aitrus.info", "avatar_url": "https://aitrus.info/logo.png"
        }),
    )
    .await;
    let (base, host) = (bench.base.clone(), bench.host().to_string());
    let dir = bench.dir.path().to_path_buf();
    let http = reqwest::Client::new();

    let actor_url = format!("{base}/organisations/cras");
    let webfinger_url = format!("{base}/.well-known/webfinger?resource=acct:cras@{host}");
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
    let root = dir.as_path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("actor.json"), &actor).unwrap();
    std::fs::write(root.join("webfinger.json"), &jrd).unwrap();

    let nginx_port = free_port();
    let conf = dir.as_path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2; daemon off; pid {pid}; error_log stderr error;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; default_type application/activity+json;\n\
             server {{ listen 127.0.0.1:{nginx_port}; root {root}; }} }}\n",
            pid = dir.as_path().join("nginx.pid").display(),
            root = root.display(),
        ),
    )
    .unwrap();
    let nginx_args = [
        "-c",
        conf.to_str().unwrap(),
        "-p",
        dir.as_path().to_str().unwrap(),
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
    bench.stop().await;
}
