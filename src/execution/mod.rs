//! Execution: talking to a target and running scenarios as trials.

pub mod client;
pub mod property;
pub mod runner;
pub mod scenario_run;
pub mod suite;
pub mod target;
