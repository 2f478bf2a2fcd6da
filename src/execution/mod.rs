//! Execution: talking to a target, planning a run, and running its trials.
//!
//! - [`engine`]: `run` from typed configuration to events: setup, the
//!   [`plan`], concurrent scheduling on tokio, Ctrl-C, the run's cleanup.
//! - [`client`] and [`gate`]: the one HTTP client, and the request gate
//!   every request passes (`--jobs`, `--max-rps`, circuit breaker).
//! - [`guard`]: where a request may go, and which records a request that
//!   can change data may touch, judged on the URL as the client sends it.
//! - [`scenario_run`], [`suite`]: running a scenario, the cleanup ledger.
//! - [`property`]: property-based sequences; [`snapshot`]: profiles.
//! - [`ledger_file`]: the ledger on disk, and `sweep`; [`out_dir`]: where
//!   the ledger and repros are kept (`--out-dir`).
//! - [`preflight`]: the configuration proved against the target before any trial.

pub mod client;
pub mod engine;
pub mod gate;
pub mod guard;
pub mod ledger_file;
pub mod list_share;
pub mod list_stream;
pub mod out_dir;
pub mod plan;
pub mod preflight;
pub mod property;
pub mod resolve;
pub mod scenario_run;
pub mod snapshot;
pub mod suite;
pub mod target;
