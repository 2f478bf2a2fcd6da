//! Execution: talking to a target, planning a run, and running its trials.
//!
//! - [`engine`]: `run` from typed configuration to events: setup, the
//!   [`plan`], concurrent scheduling on tokio, Ctrl-C, the run's cleanup.
//! - [`client`] and [`gate`]: the one HTTP client, and the request gate
//!   every request passes (`--jobs`, `--max-rps`, circuit breaker).
//! - [`scenario_run`], [`suite`]: running a scenario, the cleanup ledger.
//! - [`property`]: property-based sequences; [`snapshot`]: profiles.
//! - [`ledger_file`]: the ledger on disk, and `sweep`.

pub mod client;
pub mod engine;
pub mod gate;
pub mod ledger_file;
pub mod plan;
pub mod property;
pub mod resolve;
pub mod scenario_run;
pub mod snapshot;
pub mod suite;
pub mod target;
