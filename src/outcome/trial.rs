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
    /// Where a failed or errored trial went wrong: the step and the operation it exercised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<FailedStep>,
    /// Steps that answered otherwise than expected without failing the trial
    /// (an observed step unlike the reference; a step unlike the snapshot profile).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<StepDifference>,
    /// Files the trial wrote (a property's reproduction scenario).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
}

/// The step at which a trial failed or errored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    /// 1-based step number (None for a property trial: its minimal case is in the message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// The step's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The operation the failing request exercised (`list`, `create`, `full_update`,
    /// `partial_update`, `delete`), when its method names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The doc section of the rule broken, when the trial's citation is
    /// broader (a property trial: its violation's section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// What a [`StepDifference`] compares the target's answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// An observed step (the page is silent) whose answer is unlike the reference's,
    /// from which its expectation was written.
    Observed,
    /// A step unlike the snapshot profile, or the `--compare-with` target.
    Snapshot,
}

impl DifferenceKind {
    /// The lower-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            DifferenceKind::Observed => "observed",
            DifferenceKind::Snapshot => "snapshot",
        }
    }
}

/// One step that answered otherwise than expected where that does not fail
/// (unless `fails`: a snapshot difference under `--strict`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDifference {
    /// Observed (unlike the reference) or snapshot (unlike the profile or `--compare-with`).
    pub kind: DifferenceKind,
    /// What the answer is compared with: `the reference`, `profile reference`, `--compare-with URL`.
    pub against: String,
    /// 1-based step number.
    pub step: usize,
    /// The step's name.
    pub name: String,
    /// The step's level.
    pub level: String,
    /// Why it may differ and what that means for the verdict.
    pub why: String,
    /// The differences, one line each (by JSON pointer, folded over list indices).
    pub lines: Vec<String>,
    /// Whether it fails its trial (a snapshot difference under `--strict`).
    #[serde(default)]
    pub fails: bool,
}

/// Longest difference line kept in a record, in characters (a list body
/// quoted whole would fill the report).
pub const DIFFERENCE_LINE: usize = 2000;

/// `text` cut at `limit` characters, saying how long it was.
pub fn cut(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text.to_string();
    }
    let head: String = text.chars().take(limit).collect();
    format!("{head}… ({count} chars)")
}

impl StepDifference {
    /// `step 3 "PUT every field": /Address: profile "India", got "Chennai" (+1 more)`,
    /// its first difference cut at `limit` characters.
    pub fn line(&self, limit: usize) -> String {
        let first = self.lines.first().map(String::as_str).unwrap_or(&self.why);
        let more = match self.lines.len() {
            0 | 1 => String::new(),
            count => format!(" (+{} more)", count - 1),
        };
        format!(
            "step {} {:?}: {}{more}",
            self.step,
            self.name,
            cut(first, limit)
        )
    }
}

impl TrialRecord {
    /// The first doc section of the citation (see [`TrialRecord::sections`]).
    pub fn section(&self) -> String {
        self.sections().into_iter().next().unwrap_or_default()
    }

    /// Every doc section the citation names, in its order, each as
    /// `Heading › Subheading` (see [`doc_sections`]).
    pub fn sections(&self) -> Vec<String> {
        doc_sections(&self.citation)
    }
}

/// The vendor doc sections a citation names, in order, without duplicates.
///
/// A citation is `;`-separated parts, each `Heading › Sub, Sub: "quoted
/// sentence" (remark)`; a part without ` › ` is a subsection of the heading
/// before it when the page has such a subsection (an operation's or a
/// documented error's), otherwise a heading of its own.
pub fn doc_sections(citation: &str) -> Vec<String> {
    // Quoted sentences and remarks are not section names (and may hold `;` or `,`).
    let mut bare = String::new();
    let (mut quoted, mut depth) = (false, 0usize);
    for c in citation.chars() {
        match c {
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if quoted || depth > 0 => {}
            _ => bare.push(c),
        }
    }
    let known: Vec<&str> = crate::spec::contract::Operation::ALL
        .iter()
        .map(|operation| operation.citation())
        .chain(
            [
                crate::spec::contract::DocumentedError::InvalidToken,
                crate::spec::contract::DocumentedError::InvalidContext,
                crate::spec::contract::DocumentedError::ForbiddenContext,
            ]
            .iter()
            .map(|error| error.citation()),
        )
        .collect();
    let mut sections: Vec<String> = Vec::new();
    let mut heading: Option<String> = None;
    for part in bare.split(';') {
        let part = part.split(':').next().unwrap_or(part).trim();
        if part.is_empty() {
            continue;
        }
        let (top, subs) = match part.split_once(" › ") {
            Some((top, subs)) => (top.trim().to_string(), Some(subs)),
            None => match &heading {
                Some(top) if known.contains(&format!("{top} › {part}").as_str()) => {
                    (top.clone(), Some(part))
                }
                _ => (part.to_string(), None),
            },
        };
        let named: Vec<String> = match subs {
            Some(subs) => subs
                .split(',')
                .map(str::trim)
                .filter(|sub| !sub.is_empty())
                // `Error Handling › A, Error Handling › B`: a full name stands as it is.
                .map(|sub| {
                    if sub.contains(" › ") {
                        sub.to_string()
                    } else {
                        format!("{top} › {sub}")
                    }
                })
                .collect(),
            None => vec![top.clone()],
        };
        heading = Some(top);
        for section in named {
            if !sections.contains(&section) {
                sections.push(section);
            }
        }
    }
    sections
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
    /// Every trial counted.
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.error + self.skipped + self.unsupported
    }

    /// Each verdict with its count, in the order reports show them.
    pub fn each(&self) -> [(&'static str, usize); 5] {
        [
            ("pass", self.pass),
            ("fail", self.fail),
            ("error", self.error),
            ("skipped", self.skipped),
            ("unsupported", self.unsupported),
        ]
    }

    /// The counts that are not zero, e.g. `12 pass, 1 fail` (`none` when nothing was counted).
    pub fn nonzero(&self) -> String {
        let parts: Vec<String> = self
            .each()
            .iter()
            .filter(|(_, count)| *count > 0)
            .map(|(name, count)| format!("{count} {name}"))
            .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }

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

    /// Counts of each verdict by the trials' level (`documented`, `inferred`,
    /// `observed`, `property`), in that order, levels without trials left out.
    pub fn counts_by_level(&self) -> Vec<(String, VerdictCounts)> {
        counts_by_level(self.trials.iter())
    }

    /// Every difference reported, with its trial's name, in trial order.
    pub fn differences(&self) -> Vec<(&str, &StepDifference)> {
        self.trials
            .iter()
            .flat_map(|trial| {
                trial
                    .differences
                    .iter()
                    .map(move |difference| (trial.name.as_str(), difference))
            })
            .collect()
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

/// The levels trials are counted by, in the order they are shown.
pub const LEVELS: [&str; 4] = ["documented", "inferred", "observed", "property"];

/// Counts of each verdict by level (see [`RunReport::counts_by_level`]).
pub fn counts_by_level<'a>(
    trials: impl Iterator<Item = &'a TrialRecord>,
) -> Vec<(String, VerdictCounts)> {
    let mut by_level: Vec<(String, VerdictCounts)> = LEVELS
        .iter()
        .map(|level| (level.to_string(), VerdictCounts::default()))
        .collect();
    for trial in trials {
        let at = match by_level.iter().position(|(level, _)| *level == trial.level) {
            Some(at) => at,
            None => {
                by_level.push((trial.level.clone(), VerdictCounts::default()));
                by_level.len() - 1
            }
        };
        by_level[at].1.count(&trial.verdict);
    }
    by_level.retain(|(_, counts)| counts.total() > 0);
    by_level
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
            failed_step: None,
            differences: Vec::new(),
            artifacts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_citation_names_each_doc_section_once() {
        assert_eq!(
            doc_sections("Managing IPDR Customers › Updating Customer Information, Partially Updating Customer Information, Deleting a Customer: \"PUT /api/ipdrcustomers/{UserID}\"; Creating a New Customer: \"UserID | string | Yes\""),
            [
                "Managing IPDR Customers › Updating Customer Information",
                "Managing IPDR Customers › Partially Updating Customer Information",
                "Managing IPDR Customers › Deleting a Customer",
                "Managing IPDR Customers › Creating a New Customer",
            ]
        );
        assert_eq!(
            doc_sections("Generating API Key: \"This token grants authentication; and more\"; Authentication"),
            ["Generating API Key", "Authentication"]
        );
        assert_eq!(
            doc_sections("Error Handling › Invalid API Token, Invalid Context Name"),
            [
                "Error Handling › Invalid API Token",
                "Error Handling › Invalid Context Name"
            ]
        );
        assert_eq!(
            doc_sections("Authentication: \"All API requests require authentication\"; Error Handling › Invalid Context Name, Error Handling › Unauthorized Context Access"),
            [
                "Authentication",
                "Error Handling › Invalid Context Name",
                "Error Handling › Unauthorized Context Access"
            ]
        );
        assert_eq!(
            doc_sections("Managing IPDR Customers (no operation reads one customer by UserID)"),
            ["Managing IPDR Customers"]
        );
        assert_eq!(
            doc_sections("Managing IPDR Customers › Creating a New Customer: \"Only UserID and Name are mandatory fields.\" (the page is silent on this case)"),
            ["Managing IPDR Customers › Creating a New Customer"]
        );
        assert_eq!(
            doc_sections("Error Handling › Invalid API Token; Managing IPDR Customers › Creating a New Customer: \"Only UserID and Name are mandatory fields.\""),
            [
                "Error Handling › Invalid API Token",
                "Managing IPDR Customers › Creating a New Customer"
            ]
        );
    }
}
