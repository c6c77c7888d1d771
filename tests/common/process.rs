//! Broadside as its own process, as operators run it: `serve` and `deliver`
//! on a shared database, configured by environment, stopped by signals.
//!
//! The binary is `BROADSIDE_TEST_BINARY` when set (CI points it at the
//! release build, the one the Docker image ships), else the debug build
//! cargo made for these tests.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub fn binary() -> PathBuf {
    std::env::var_os("BROADSIDE_TEST_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_broadside")))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `broadside` process and the port it listens on.
pub struct Process {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Process {
    /// Runs `broadside <command>` listening on a free port, with loopback
    /// federation allowed, `base_url`, `database_url` and `env` on top,
    /// logging to `log`.
    pub fn start(
        command: &str,
        database_url: &str,
        base_url: &str,
        env: &[(&str, String)],
        log: PathBuf,
    ) -> Process {
        let port = free_port();
        Self::start_on(port, command, database_url, base_url, env, log)
    }

    pub fn start_on(
        port: u16,
        command: &str,
        database_url: &str,
        base_url: &str,
        env: &[(&str, String)],
        log: PathBuf,
    ) -> Process {
        let mut cmd = Command::new(binary());
        cmd.arg(command)
            .env("BROADSIDE_CONFIG", "/nonexistent.toml")
            .env("BROADSIDE_DATABASE_URL", database_url)
            .env("BROADSIDE_MEDIA_DIR", log.with_extension("media"))
            .env("BROADSIDE_LISTEN", format!("127.0.0.1:{port}"))
            .env("BROADSIDE_BASE_URL", base_url)
            .env("BROADSIDE_ALLOW_PRIVATE_ADDRESSES", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .expect("log file"),
            ));
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().expect("start broadside");
        Process { child, port, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn ready(&mut self) {
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("broadside exited with {status}:\n{}", self.log_text());
            }
            if http
                .get(self.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("broadside did not become ready:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal (`TERM`, `KILL`) as an operator or a crash would.
    pub fn signal(&self, signal: &str) {
        // The shell's built-in `kill`: no procps needed on the machine.
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{signal} {}", self.pid()))
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `secs` for the process to exit and returns its status.
    pub async fn exited(&mut self, secs: u64) -> std::process::ExitStatus {
        for _ in 0..secs * 20 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "broadside did not exit within {secs} s:\n{}",
            self.log_text()
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
