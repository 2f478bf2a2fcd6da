//! Property-based operation sequences (placeholder: being implemented).

use std::sync::Arc;

use libtest_mimic::Trial;

use crate::execution::suite::Suite;

/// Options of the property trials.
#[derive(Debug, Clone, clap::Args)]
pub struct PropertyOptions {}

/// The property trials for this run.
pub fn trials(
    _runtime: &Arc<tokio::runtime::Runtime>,
    _suite: &Arc<Suite>,
    _options: &PropertyOptions,
    _token: &str,
) -> Vec<Trial> {
    Vec::new()
}
