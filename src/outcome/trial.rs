//! What a finished trial leaves: its one verdict ([`TrialVerdict`]), level,
//! citation, timing and a compact transcript (bounded body excerpts), with
//! the tokens already redacted; and [`RunReport`], the JSON report's shape,
//! which `--rerun-failed` reads back.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::exchange::Exchange;
use super::redact::Redactor;
use super::scenario::{ScenarioOutcome, Verdict};
use crate::spec::load::LoadedScenario;

/// How one trial ended: the one verdict of a trial, whatever ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum TrialVerdict {
    /// Every binding check held.
    Pass,
    /// The target departs from the contract.
    Fail,
    /// The target lacks something declared optional.
    Unsupported {
        /// What it lacks.
        reason: String,
    },
    /// Not run: the configuration lacks something.
    Skipped {
        /// What is missing.
        reason: String,
    },
    /// The harness or the network failed, not the target's contract.
    Error {
        /// What failed.
        reason: String,
    },
}

impl TrialVerdict {
    /// The lower-case name used in reports.
    pub fn name(&self) -> &'static str {
        match self {
            TrialVerdict::Pass => "pass",
            TrialVerdict::Fail => "fail",
            TrialVerdict::Unsupported { .. } => "unsupported",
            TrialVerdict::Skipped { .. } => "skipped",
            TrialVerdict::Error { .. } => "error",
        }
    }

    /// The verdict of a scenario trial: from how its steps ended, and
    /// whether anything else (a snapshot difference under `--strict`) failed
    /// it (`failed_otherwise`). The one place a scenario's ending becomes a
    /// trial verdict.
    pub fn of_scenario(
        outcome: &ScenarioOutcome,
        failed_otherwise: bool,
        redactor: &Redactor,
    ) -> TrialVerdict {
        match &outcome.verdict {
            Verdict::Ignored(reason) => TrialVerdict::Skipped {
                reason: reason.clone(),
            },
            Verdict::Errored(index) => TrialVerdict::Error {
                reason: outcome
                    .panic
                    .clone()
                    .or_else(|| {
                        outcome
                            .steps
                            .get(*index)
                            .and_then(|step| step.problem.clone())
                    })
                    .map(|reason| redactor.text(&reason))
                    .unwrap_or_else(|| "the harness could not check this trial".to_string()),
            },
            Verdict::Failed(_) => TrialVerdict::Fail,
            Verdict::Passed if failed_otherwise => TrialVerdict::Fail,
            Verdict::Passed => TrialVerdict::Pass,
        }
    }

    /// Whether the trial counts as failed in libtest's terms (a contract failure or an error).
    pub fn is_failure(&self) -> bool {
        matches!(self, TrialVerdict::Fail | TrialVerdict::Error { .. })
    }
}

/// One request and its response, as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeRecord {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Request body (JSON where it parses, else text), token redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<Value>,
    /// HTTP status, when a response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Response Content-Type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Response body (JSON where it parses, else text), token redacted; for a
    /// body over [`BODY_EXCERPT_BYTES`](super::exchange::BODY_EXCERPT_BYTES),
    /// an excerpt: the first bytes of a text, or a list's own records only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<Value>,
    /// The whole body's size in bytes, when `response_body` is an excerpt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_bytes: Option<usize>,
    /// Why no response came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_error: Option<String>,
    /// Milliseconds from sending to the end of the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<f64>,
}

impl ExchangeRecord {
    /// Records an exchange with the secret removed.
    pub fn from_exchange(exchange: &Exchange, redactor: &Redactor) -> ExchangeRecord {
        let text_or_json = |text: &str| match serde_json::from_str::<Value>(text) {
            Ok(json) => redactor.json(&json),
            Err(_) => Value::String(redactor.text(text)),
        };
        let (status, content_type, response_body, transport_error, elapsed_ms) =
            match &exchange.response {
                Ok(response) => (
                    Some(response.status),
                    response.content_type.clone(),
                    Some(match &response.json {
                        Some(json) => redactor.json(json),
                        None => Value::String(redactor.text(&response.body)),
                    }),
                    None,
                    Some(response.elapsed.as_secs_f64() * 1000.0),
                ),
                Err(error) => (
                    None,
                    None,
                    None,
                    Some(redactor.text(&error.to_string())),
                    None,
                ),
            };
        let response_body_bytes = match &exchange.response {
            Ok(response) if response.is_excerpt() => Some(response.body_bytes),
            _ => None,
        };
        ExchangeRecord {
            method: exchange.request.method.clone(),
            url: redactor.text(&exchange.request.url),
            request_body: exchange.request.body.as_deref().map(text_or_json),
            status,
            content_type,
            response_body,
            response_body_bytes,
            transport_error,
            elapsed_ms,
        }
    }
}

/// A step that did not run because its `only_if` condition did not hold:
/// neither a pass nor a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedStep {
    /// 1-based step number.
    pub step: usize,
    /// The step's name.
    pub name: String,
    /// Why it did not run, e.g. `only if step 1 "create" was accepted; it was refused`.
    pub reason: String,
}

impl SkippedStep {
    /// One line: `step 3 "the list holds the values": only if ...`.
    pub fn line(&self) -> String {
        format!("step {} {:?}: {}", self.step, self.name, self.reason)
    }
}

/// One trial in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Trial name, e.g. `errors::invalid_token::list`.
    pub name: String,
    /// Its level (`documented`, `inferred`, `observed`) or kind (`property`).
    pub level: String,
    /// The vendor doc section it checks.
    pub citation: String,
    /// The scenario's tags (the operations it touches, among others).
    #[serde(default)]
    pub tags: Vec<String>,
    /// How it ended.
    #[serde(flatten)]
    pub verdict: TrialVerdict,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// What a person reads when it did not pass (token redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Every request and response, in order.
    pub transcript: Vec<ExchangeRecord>,
    /// Steps skipped by their `only_if` (absent from older reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_steps: Vec<SkippedStep>,
}

impl TrialRecord {
    /// The doc section: the citation before any quoted sentence (`:`) or remark (` (`).
    pub fn section(&self) -> &str {
        let head = self.citation.split(':').next().unwrap_or(&self.citation);
        head.split(" (").next().unwrap_or(head).trim()
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run id (UserID prefix `zzconf-<run id>-`).
    pub run_id: String,
    /// The target's base URL.
    pub target: String,
    /// Wall time of the whole run in milliseconds.
    pub duration_ms: f64,
    /// Whether Ctrl-C (SIGINT or SIGTERM) stopped the run: `trials` holds
    /// only those that finished, `not_run` the rest.
    #[serde(default)]
    pub interrupted: bool,
    /// Trials of the plan that did not finish, in name order (an interrupted run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
    /// Every trial, in name order.
    pub trials: Vec<TrialRecord>,
}

/// How many trials ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Unsupported.
    pub unsupported: usize,
    /// Skipped.
    pub skipped: usize,
    /// Errored.
    pub error: usize,
}

impl VerdictCounts {
    /// Counts one more trial ending with `verdict`.
    pub fn count(&mut self, verdict: &TrialVerdict) {
        match verdict {
            TrialVerdict::Pass => self.pass += 1,
            TrialVerdict::Fail => self.fail += 1,
            TrialVerdict::Unsupported { .. } => self.unsupported += 1,
            TrialVerdict::Skipped { .. } => self.skipped += 1,
            TrialVerdict::Error { .. } => self.error += 1,
        }
    }
}

impl RunReport {
    /// How many steps were skipped by their `only_if`, over every trial.
    pub fn skipped_steps(&self) -> usize {
        self.trials
            .iter()
            .map(|trial| trial.skipped_steps.len())
            .sum()
    }

    /// Counts of each verdict.
    pub fn counts(&self) -> VerdictCounts {
        let mut counts = VerdictCounts::default();
        for trial in &self.trials {
            counts.count(&trial.verdict);
        }
        counts
    }

    /// Sorts trials by name, so reports are stable.
    pub fn sort(&mut self) {
        self.trials.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Milliseconds of a duration, for reports.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl TrialRecord {
    /// The record of one scenario trial: its verdict, the failure text, and
    /// the transcript (as compact as the steps kept it).
    pub fn from_scenario(
        loaded: &LoadedScenario,
        outcome: &ScenarioOutcome,
        verdict: TrialVerdict,
        failure: Option<&str>,
        duration: Duration,
        redactor: &Redactor,
    ) -> TrialRecord {
        TrialRecord {
            name: loaded.scenario.name.clone(),
            level: loaded.scenario.level.as_str().to_string(),
            citation: loaded.scenario.citation.clone(),
            tags: loaded.scenario.tags.clone(),
            verdict,
            duration_ms: millis(duration),
            message: failure.map(|text| redactor.text(text)),
            transcript: outcome
                .steps
                .iter()
                .flat_map(|step| step.exchanges.iter())
                .map(|exchange| ExchangeRecord::from_exchange(exchange, redactor))
                .collect(),
            skipped_steps: outcome
                .steps
                .iter()
                .filter_map(|step| {
                    step.skipped.as_ref().map(|reason| SkippedStep {
                        step: step.index + 1,
                        name: step.name.clone(),
                        reason: redactor.text(reason),
                    })
                })
                .collect(),
        }
    }
}
