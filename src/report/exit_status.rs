//! The exit status as a reporter: every trial's verdict and the run's
//! interruption, folded by the one precedence rule of
//! [`crate::outcome::exit`].

use std::sync::{Arc, Mutex};

use super::{ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::exit::ExitStatus;

/// Folds the stream into an [`ExitStatus`], readable through [`ExitStatusReporter::status`].
#[derive(Debug, Clone, Default)]
pub struct ExitStatusReporter {
    status: Arc<Mutex<Option<ExitStatus>>>,
}

impl ExitStatusReporter {
    /// A reporter; keep a clone to read the status once the stream ended.
    pub fn new() -> ExitStatusReporter {
        ExitStatusReporter::default()
    }

    /// What the stream said so far ([`ExitStatus::Pass`] for nothing).
    pub fn status(&self) -> ExitStatus {
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .unwrap_or(ExitStatus::Pass)
    }

    fn add(&self, status: ExitStatus) {
        let mut held = self
            .status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *held = Some(held.unwrap_or(ExitStatus::Pass).and(status));
    }
}

impl Reporter for ExitStatusReporter {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::TrialFinished(finished) => {
                self.add(ExitStatus::of_verdict(&finished.record.verdict))
            }
            Event::TrialsFinished {
                interrupted: true, ..
            } => self.add(ExitStatus::Interrupted),
            // Records of the run may be left on the target: not a pass, whatever the trials said.
            Event::RunCleanup(cleanup) if cleanup.ledger_kept.is_some() => {
                self.add(ExitStatus::HarnessError)
            }
            _ => {}
        }
        Ok(())
    }
}
