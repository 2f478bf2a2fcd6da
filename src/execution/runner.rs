//! The runner (placeholder).

use std::process::ExitCode;

/// Options of `run`.
#[derive(Debug, clap::Args)]
pub struct RunOptions {}

/// Runs the suite from the command line.
pub fn run_from_cli(_options: RunOptions) -> ExitCode {
    ExitCode::from(2)
}
