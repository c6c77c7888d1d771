//! What an operator watches and runs: the log, liveness and readiness probes,
//! Prometheus metrics, and online backups of a SQLite database.
//!
//! [`metrics`] is a leaf every layer may record into (a no-op until a
//! process is started with `metrics_listen`); the probes and the scrape
//! endpoint read the store and are wired by `app`.

pub mod health;
pub mod logging;
pub mod memory;
pub mod metrics;
