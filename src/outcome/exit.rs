//! The exit status of `run`: named codes, and the one rule that picks one
//! when several apply.
//!
//! **Precedence: 130 interrupted > 2 setup > 1 contract failure > 3 harness
//! or network error > 0 pass.**
//! - *Interrupted* wins: the verdicts of an interrupted run are incomplete,
//!   so CI must see the cancellation, never a partial pass or fail read as
//!   the answer.
//! - *Setup* (bad configuration, an unreachable target) comes next: nothing
//!   the trials said can be trusted against a run that was not set up.
//! - A *contract failure* beats an error: it is a finding about the target
//!   that stands whatever else could not be checked; an error only says that
//!   some trial (or a report file, see below) could not be done.
//! - A report that cannot be written is a harness error: it raises 0 to 3
//!   and never lowers or replaces a 1.

use super::trial::TrialVerdict;

/// Everything passed (skipped trials allowed).
pub const EXIT_PASS: u8 = 0;
/// The target departs from the contract.
pub const EXIT_CONTRACT_FAILURE: u8 = 1;
/// Bad configuration, or the target unusable before any trial.
pub const EXIT_SETUP: u8 = 2;
/// The harness or the network failed (a trial could not be checked, a report could not be written).
pub const EXIT_HARNESS_ERROR: u8 = 3;
/// Ctrl-C (SIGINT) or SIGTERM stopped the run (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// What a run's exit status says, one of the named codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// [`EXIT_PASS`].
    Pass,
    /// [`EXIT_CONTRACT_FAILURE`].
    ContractFailure,
    /// [`EXIT_SETUP`].
    Setup,
    /// [`EXIT_HARNESS_ERROR`].
    HarnessError,
    /// [`EXIT_INTERRUPTED`].
    Interrupted,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Pass => EXIT_PASS,
            ExitStatus::ContractFailure => EXIT_CONTRACT_FAILURE,
            ExitStatus::Setup => EXIT_SETUP,
            ExitStatus::HarnessError => EXIT_HARNESS_ERROR,
            ExitStatus::Interrupted => EXIT_INTERRUPTED,
        }
    }

    /// The run's result in one word of the verdict vocabulary: `pass`,
    /// `fail`, `setup error`, `error`, `interrupted`.
    pub fn word(self) -> &'static str {
        match self {
            ExitStatus::Pass => "pass",
            ExitStatus::ContractFailure => "fail",
            ExitStatus::Setup => "setup error",
            ExitStatus::HarnessError => "error",
            ExitStatus::Interrupted => "interrupted",
        }
    }

    /// What the exit code tells CI, in one sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Pass => {
                "every trial that ran met the contract (skipped trials and reported differences do not fail a run)"
            }
            ExitStatus::ContractFailure => "the target departs from the contract (the failures above)",
            ExitStatus::Setup => {
                "bad configuration, or the target unusable before any trial: nothing was checked"
            }
            ExitStatus::HarnessError => {
                "the harness or the network could not check a trial, a report could not be written, or records of this run may be left; no contract failure was found"
            }
            ExitStatus::Interrupted => {
                "interrupted (Ctrl-C or SIGTERM): the verdicts are incomplete"
            }
        }
    }

    /// Every status, in code order.
    pub const ALL: [ExitStatus; 5] = [
        ExitStatus::Pass,
        ExitStatus::ContractFailure,
        ExitStatus::Setup,
        ExitStatus::HarnessError,
        ExitStatus::Interrupted,
    ];

    /// The exit codes and what each means, for `--help`.
    pub fn table() -> String {
        let mut table = String::from("Exit codes (when several apply: 130 > 2 > 1 > 3 > 0):\n");
        for status in ExitStatus::ALL {
            table.push_str(&format!("  {:>3}  {}\n", status.code(), status.meaning()));
        }
        table
    }

    /// Place in the precedence rule (see the module documentation): higher wins.
    fn precedence(self) -> u8 {
        match self {
            ExitStatus::Pass => 0,
            ExitStatus::HarnessError => 1,
            ExitStatus::ContractFailure => 2,
            ExitStatus::Setup => 3,
            ExitStatus::Interrupted => 4,
        }
    }

    /// The status that wins between `self` and `other`.
    pub fn and(self, other: ExitStatus) -> ExitStatus {
        if other.precedence() > self.precedence() {
            other
        } else {
            self
        }
    }

    /// What one trial's verdict contributes.
    pub fn of_verdict(verdict: &TrialVerdict) -> ExitStatus {
        match verdict {
            TrialVerdict::Fail => ExitStatus::ContractFailure,
            TrialVerdict::Error { .. } => ExitStatus::HarnessError,
            TrialVerdict::Pass
            | TrialVerdict::Skipped { .. }
            | TrialVerdict::Unsupported { .. } => ExitStatus::Pass,
        }
    }

    /// The status of everything that happened: the winner by precedence, [`ExitStatus::Pass`] for nothing.
    pub fn of_all(statuses: impl IntoIterator<Item = ExitStatus>) -> ExitStatus {
        statuses.into_iter().fold(ExitStatus::Pass, ExitStatus::and)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ExitStatus; 5] = [
        ExitStatus::Pass,
        ExitStatus::ContractFailure,
        ExitStatus::Setup,
        ExitStatus::HarnessError,
        ExitStatus::Interrupted,
    ];

    #[test]
    fn the_codes_are_the_documented_ones() {
        let codes: Vec<u8> = ALL.iter().map(|status| status.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 130]);
    }

    #[test]
    fn precedence_is_interrupted_setup_failure_error_pass() {
        let order = [130, 2, 1, 3, 0];
        for (rank, winner) in order.iter().enumerate() {
            for loser in &order[rank..] {
                let [a, b] = [*winner, *loser]
                    .map(|code| *ALL.iter().find(|status| status.code() == code).unwrap());
                assert_eq!(a.and(b).code(), *winner, "{winner} vs {loser}");
                assert_eq!(b.and(a).code(), *winner, "{loser} vs {winner}");
            }
        }
        assert_eq!(ExitStatus::of_all([]), ExitStatus::Pass);
    }

    #[test]
    fn a_report_write_failure_raises_a_pass_but_never_hides_a_contract_failure() {
        let report_failed = ExitStatus::HarnessError;
        assert_eq!(
            ExitStatus::of_all([ExitStatus::Pass, report_failed]).code(),
            3
        );
        assert_eq!(
            ExitStatus::of_all([ExitStatus::ContractFailure, report_failed]).code(),
            1
        );
        assert_eq!(
            ExitStatus::of_all([report_failed, ExitStatus::ContractFailure]).code(),
            1
        );
    }

    #[test]
    fn verdicts_map_to_their_status() {
        assert_eq!(ExitStatus::of_verdict(&TrialVerdict::Fail).code(), 1);
        let error = TrialVerdict::Error { reason: "x".into() };
        assert_eq!(ExitStatus::of_verdict(&error).code(), 3);
        let skipped = TrialVerdict::Skipped { reason: "x".into() };
        assert_eq!(ExitStatus::of_verdict(&skipped).code(), 0);
    }
}
