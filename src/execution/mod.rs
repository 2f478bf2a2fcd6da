//! Execution: talking to a target and running scenarios as trials.

pub mod runner;
