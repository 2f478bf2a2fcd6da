//! What running a scenario produces: each step's exchanges and findings,
//! and how the scenario ended. A trial's one verdict,
//! [`TrialVerdict`](super::trial::TrialVerdict), is derived from it in one
//! place ([`TrialVerdict::of_scenario`](super::trial::TrialVerdict::of_scenario)).

use serde_json::Value;

use super::exchange::Exchange;
use crate::spec::pattern::Mismatch;
use crate::spec::scenario::{Answer, Level, Step};

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
