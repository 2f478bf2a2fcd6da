//! What running a scenario produces: each step's exchanges and findings,
//! and how the scenario ended. A trial's one verdict,
//! [`TrialVerdict`](super::trial::TrialVerdict), is derived from it in one
//! place ([`TrialVerdict::of_scenario`](super::trial::TrialVerdict::of_scenario)).

use serde_json::Value;

use super::exchange::Exchange;
use crate::spec::pattern::Mismatch;
use crate::spec::scenario::{Answer, Level, Step};

/// Most difference lines a failure message shows for one step
/// ([`StepOutcome::difference_lines`]); the reports' transcripts hold the whole answer.
pub const SHOWN_DIFFERENCES: usize = 8;

/// What happened at one step.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// 0-based position in the scenario.
    pub index: usize,
    /// The step's name.
    pub name: String,
    /// The level it was checked at.
    pub level: Level,
    /// Which answers the step allows.
    pub answer: Answer,
    /// Every exchange (several for a concurrent step; none for a skipped step).
    pub exchanges: Vec<Exchange>,
    /// Expected HTTP status (of a success, for `success_or_refusal`).
    pub expected_status: u16,
    /// Whether a JSON response was expected.
    pub expected_json: bool,
    /// The expected body, rendered for display.
    pub expected_body: Option<Value>,
    /// Every difference from the expectation.
    pub mismatches: Vec<Mismatch>,
    /// A harness or network problem that kept the step from being checked.
    pub problem: Option<String>,
    /// Whether the answer claimed success ([`claims_success`]); None when no
    /// answer came, and for concurrent steps.
    pub accepted: Option<bool>,
    /// Why the step did not run (its `only_if` did not hold); a skipped step neither passes nor fails.
    pub skipped: Option<String>,
    /// Security failures: an answer carried a secret (named by label, never by value).
    pub leaks: Vec<String>,
    /// What came back, in a few words, when it did not match and is too
    /// long to show (a list, a long body): `a list of 14 customers; none of
    /// the 14 elements matches; the nearest is /3, the one with UserID
    /// "u1"`. Taken while the whole body is at hand (a checked step keeps
    /// only an excerpt); the body itself goes to the reports' transcripts.
    /// None: show the body as it is.
    pub answer_summary: Option<String>,
}

impl StepOutcome {
    /// A step at `index` that has not run yet: no exchange, no finding.
    pub fn new(index: usize, step: &Step, level: Level) -> StepOutcome {
        StepOutcome {
            index,
            name: step.name.clone(),
            level,
            answer: step.expect.answer,
            exchanges: Vec::new(),
            expected_status: step.expect.status,
            expected_json: step.expect.json,
            expected_body: None,
            mismatches: Vec::new(),
            problem: None,
            accepted: None,
            skipped: None,
            leaks: Vec::new(),
            answer_summary: None,
        }
    }

    /// Whether the response met the expectation (a skipped step has nothing to meet).
    pub fn met(&self) -> bool {
        self.mismatches.is_empty() && self.problem.is_none() && self.leaks.is_empty()
    }

    /// Whether the step was skipped (see [`StepOutcome::skipped`]).
    pub fn is_skipped(&self) -> bool {
        self.skipped.is_some()
    }

    /// The first thing wrong with the step, in one line: a security
    /// failure, else the first mismatch, else the problem that kept it from
    /// being checked (None when it met its expectation).
    pub fn first_difference(&self) -> Option<String> {
        let what = self
            .leaks
            .first()
            .map(|leak| format!("security: {leak}"))
            .or_else(|| self.mismatches.first().map(Mismatch::line))
            .or_else(|| self.problem.clone())?;
        Some(format!("step {} {:?}: {what}", self.index + 1, self.name))
    }

    /// The mismatches as lines, at most `shown` of them and then `… and N
    /// more difference(s)`: the first ones name the field, the rest add
    /// little.
    pub fn difference_lines(&self, shown: usize) -> Vec<String> {
        let mut lines: Vec<String> = self
            .mismatches
            .iter()
            .take(shown)
            .map(Mismatch::line)
            .collect();
        if self.mismatches.len() > shown {
            lines.push(format!(
                "… and {} more difference(s)",
                self.mismatches.len() - shown
            ));
        }
        lines
    }

    /// Whether this step alone fails the trial: a binding mismatch, or a security failure at any level.
    pub fn fails(&self) -> bool {
        !self.leaks.is_empty() || (self.level.is_binding() && !self.met())
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every binding step met its expectation.
    Passed,
    /// A binding step did not (index of the step).
    Failed(usize),
    /// A harness or network problem stopped the scenario (index of the step).
    Errored(usize),
    /// The scenario needs configuration the run does not have.
    Ignored(String),
}

/// A scenario's steps and verdict.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    /// The steps that ran or were skipped, in order.
    pub steps: Vec<StepOutcome>,
    /// The verdict.
    pub verdict: Verdict,
    /// The harness's own panic, if it panicked.
    pub panic: Option<String>,
}

impl ScenarioOutcome {
    /// The first difference of the step that failed or stopped the
    /// scenario ([`StepOutcome::first_difference`]), or the harness's panic.
    pub fn first_difference(&self) -> Option<String> {
        let (Verdict::Failed(index) | Verdict::Errored(index)) = self.verdict else {
            return None;
        };
        self.panic
            .clone()
            .or_else(|| self.steps.get(index)?.first_difference())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_step(mismatches: usize) -> StepOutcome {
        StepOutcome {
            index: 3,
            name: "the list".to_string(),
            level: Level::Inferred,
            answer: Answer::AsGiven,
            exchanges: Vec::new(),
            expected_status: 200,
            expected_json: true,
            expected_body: None,
            mismatches: (0..mismatches)
                .map(|index| Mismatch {
                    pointer: format!("/{index}/Address"),
                    expected: "\"Partially Updated\"".to_string(),
                    actual: "\"Put\"".to_string(),
                })
                .collect(),
            problem: None,
            accepted: Some(true),
            skipped: None,
            leaks: Vec::new(),
            answer_summary: None,
        }
    }

    #[test]
    fn the_first_difference_is_the_first_mismatch_of_the_step_after_any_leak() {
        let mut step = failed_step(2);
        assert_eq!(
            step.first_difference().as_deref(),
            Some("step 4 \"the list\": /0/Address: expected \"Partially Updated\", got \"Put\"")
        );
        step.leaks
            .push("the answer's body contains the API token".to_string());
        assert_eq!(
            step.first_difference().as_deref(),
            Some("step 4 \"the list\": security: the answer's body contains the API token")
        );
        assert_eq!(failed_step(0).first_difference(), None);
    }

    #[test]
    fn difference_lines_are_capped_with_a_count_of_the_rest() {
        let lines = failed_step(SHOWN_DIFFERENCES + 3).difference_lines(SHOWN_DIFFERENCES);
        assert_eq!(lines.len(), SHOWN_DIFFERENCES + 1);
        assert_eq!(lines[SHOWN_DIFFERENCES], "… and 3 more difference(s)");
        assert_eq!(failed_step(2).difference_lines(SHOWN_DIFFERENCES).len(), 2);
    }
}
