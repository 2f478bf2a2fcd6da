//! Execution: talking to a target and running scenarios as trials.

pub mod client;
pub mod gate;
pub mod ledger_file;
pub mod property;
pub mod resolve;
pub mod runner;
pub mod scenario_run;
pub mod snapshot;
pub mod suite;
pub mod target;
