//! Reporters: every output of a run, fed from its one event stream
//! ([`crate::outcome::event`]). Nothing here decides a verdict or reaches
//! into the engine; each reporter renders what the events say, with the
//! tokens redacted. `report` imports [`crate::outcome`] and
//! [`crate::spec`], never `execution`.
//!
//! [`drive`] reads the stream on a thread of its own and hands every event
//! to every reporter, in order; before that it completes each finished
//! scenario trial with the text people read (its failure explanation and
//! its observations), once, so that every format shows the same words.

pub mod console;
pub mod curl;
pub mod exit_status;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod progress;
pub mod snapshot_diff;
pub mod spool;

/// Redaction lives in the outcome layer; kept here under its old path.
pub use crate::outcome::redact;

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use crate::outcome::event::{Event, FinishedTrial, RunStart, ScenarioFinding};
use crate::outcome::redact::Redactor;
use crate::outcome::scenario::{ScenarioOutcome, Verdict};
use crate::outcome::trial::{cut, DifferenceKind, FailedStep, StepDifference, DIFFERENCE_LINE};
use crate::spec::contract::Operation;
use crate::spec::model::operation_tag;
use console::{render_failure, render_observations};
use progress::ProgressLine;
use snapshot_diff::{render_check_failure, step_differences};

/// A report that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {reason}", path.display())]
pub struct ReportError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl ReportError {
    /// The error of writing `path`.
    pub fn new(path: &Path, reason: impl std::fmt::Display) -> ReportError {
        ReportError {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// One output of a run, fed every event in order.
pub trait Reporter: Send {
    /// Takes one event; an error means this reporter's output is lost (it gets no more events).
    fn event(&mut self, event: &Event) -> Result<(), ReportError>;

    /// The stream has ended and every report file is written (or lost:
    /// `lost`); the console's summary, which names them, comes last.
    fn finish(&mut self, lost: &[ReportError]) {
        let _ = lost;
    }
}

/// Reads `events` to their end, completing finished trials with their text
/// and handing every event to every reporter; the progress line (if any) is
/// cleared around everything else's output. Returns the reports that could
/// not be written.
pub fn drive(
    events: Receiver<Event>,
    mut reporters: Vec<Box<dyn Reporter>>,
    mut progress: Option<ProgressLine>,
) -> Vec<ReportError> {
    let mut start: Option<RunStart> = None;
    let mut failed: Vec<ReportError> = Vec::new();
    let mut alive = vec![true; reporters.len()];
    for mut event in events {
        match &mut event {
            Event::RunStarted(run) => start = Some((**run).clone()),
            Event::TrialFinished(finished) => {
                if let Some(start) = &start {
                    complete(finished, start);
                }
            }
            _ => {}
        }
        let prints = ProgressLine::prints(&event);
        if let Some(progress) = progress.as_mut().filter(|_| prints) {
            progress.clear();
        }
        for (reporter, alive) in reporters.iter_mut().zip(alive.iter_mut()) {
            if !*alive {
                continue;
            }
            if let Err(error) = reporter.event(&event) {
                *alive = false;
                failed.push(error);
            }
        }
        if let Some(progress) = &mut progress {
            progress.event(&event, prints);
        }
    }
    if let Some(progress) = &mut progress {
        progress.clear();
    }
    for (reporter, alive) in reporters.iter_mut().zip(&alive) {
        if *alive {
            reporter.finish(&failed);
        }
    }
    failed
}

/// Fills a finished scenario trial's failure text, observations, failing
/// step and differences (the engine sends the findings; the words are the
/// reporters').
pub fn complete(finished: &mut FinishedTrial, start: &RunStart) {
    let Some(finding) = &finished.scenario else {
        return;
    };
    let redactor = &start.redactor;
    let loaded = &finding.loaded;
    let outcome = &finding.outcome;
    finished.observations = render_observations(loaded, outcome, redactor);
    let mut differences = observed_differences(outcome, redactor);
    if let (Some(check), Some(snapshots)) = (&finding.snapshot, &start.snapshots) {
        differences.extend(step_differences(
            check,
            &snapshots.comparand,
            snapshots.strict,
            redactor,
        ));
    }
    finished.record.differences = differences;
    if finished.record.verdict.is_failure() && finished.record.failed_step.is_none() {
        finished.record.failed_step = failed_step(finding, start);
    }
    if finished.record.message.is_some() {
        return;
    }
    if let Some(reason) = &finding.snapshot_error {
        finished.record.message = Some(redactor.text(reason));
        return;
    }
    let section = match (&finding.snapshot, &start.snapshots) {
        (Some(check), Some(snapshots)) => {
            let text = render_check_failure(
                check,
                outcome,
                loaded.scenario.steps.len(),
                &snapshots.comparand,
                &|file_name| snapshots.snapshot_path(file_name),
                snapshots.strict,
                redactor,
            );
            (!text.is_empty()).then_some(text)
        }
        _ => None,
    };
    let message = match (&outcome.verdict, section) {
        (Verdict::Ignored(_), _) | (Verdict::Passed, None) => None,
        (Verdict::Passed, Some(section)) => Some(format!(
            "{} · {}\nscenario file: specs/{}\n\n{section}",
            loaded.scenario.level, loaded.scenario.citation, loaded.source
        )),
        (Verdict::Failed(_) | Verdict::Errored(_), section) => {
            let mut text = render_failure(loaded, outcome, redactor);
            if let Some(section) = section {
                text.push_str("\n\n");
                text.push_str(&section);
            }
            Some(text)
        }
    };
    finished.record.message = message.map(|text| redactor.text(&text));
}

/// The observed steps whose answer is unlike the reference's (from which
/// their expectations are written): reported, never a failure.
fn observed_differences(outcome: &ScenarioOutcome, redactor: &Redactor) -> Vec<StepDifference> {
    let failing = match outcome.verdict {
        Verdict::Failed(index) | Verdict::Errored(index) => Some(index),
        _ => None,
    };
    outcome
        .steps
        .iter()
        .filter(|step| {
            !step.level.is_binding()
                && !step.is_skipped()
                && !step.met()
                && !step.fails()
                && Some(step.index) != failing
        })
        .map(|step| StepDifference {
            kind: DifferenceKind::Observed,
            against: "the reference".to_string(),
            step: step.index + 1,
            name: step.name.clone(),
            level: step.level.as_str().to_string(),
            why: "the page is silent here; the expectation is the reference server's answer"
                .to_string(),
            lines: step
                .mismatches
                .iter()
                .map(|mismatch| {
                    redactor.text(&format!(
                        "{}: expected {}, got {}",
                        if mismatch.pointer.is_empty() {
                            "(body)"
                        } else {
                            &mismatch.pointer
                        },
                        mismatch.expected,
                        mismatch.actual
                    ))
                })
                .chain(step.problem.iter().map(|problem| redactor.text(problem)))
                .map(|line| cut(&line, DIFFERENCE_LINE))
                .collect(),
            fails: false,
        })
        .collect()
}

/// Where a failed or errored scenario trial went wrong: its failing step
/// (or, failed by a snapshot difference under `--strict`, the first failing
/// snapshot step) and the operation that step's request exercised.
fn failed_step(finding: &ScenarioFinding, start: &RunStart) -> Option<FailedStep> {
    let scenario = &finding.loaded.scenario;
    let operation_of = |method: &str| Operation::from_method(method).map(operation_tag);
    match finding.outcome.verdict {
        Verdict::Failed(index) | Verdict::Errored(index) => {
            let step = scenario.steps.get(index)?;
            Some(FailedStep {
                step: Some(index + 1),
                name: Some(step.name.clone()),
                operation: operation_of(step.request.method.as_str()).map(str::to_string),
                section: None,
            })
        }
        Verdict::Passed => {
            let strict = start.snapshots.as_ref().is_some_and(|s| s.strict);
            let check = finding.snapshot.as_ref()?;
            let failing = check.steps.iter().find(|step| step.fails(strict))?;
            let method = failing.step.request.split(' ').next().unwrap_or_default();
            Some(FailedStep {
                step: Some(failing.step.index + 1),
                name: Some(failing.step.name.clone()),
                operation: operation_of(method).map(str::to_string),
                section: None,
            })
        }
        Verdict::Ignored(_) => None,
    }
}

/// The run as the summary formats need it: every trial's record without
/// its transcript (JUnit, Markdown, the HTML matrix). Small whatever the
/// target answered.
#[derive(Debug, Default)]
pub struct CompactRun {
    run_id: String,
    target: String,
    redactor: crate::outcome::redact::Redactor,
    trials: Vec<crate::outcome::trial::TrialRecord>,
}

impl CompactRun {
    /// Takes one event; the whole run once [`Event::RunFinished`] comes.
    pub fn event(&mut self, event: &Event) -> Option<crate::outcome::trial::RunReport> {
        match event {
            Event::RunStarted(run) => {
                self.run_id = run.run_id.clone();
                self.target = run.target.clone();
                self.redactor = run.redactor.clone();
            }
            Event::TrialFinished(finished) => {
                let mut record = finished.record.clone();
                record.transcript = Vec::new();
                self.trials.push(record);
            }
            Event::RunFinished(end) => {
                let mut report = crate::outcome::trial::RunReport {
                    run_id: self.run_id.clone(),
                    target: self.target.clone(),
                    duration_ms: crate::outcome::trial::millis(end.duration),
                    interrupted: end.interrupted,
                    not_run: end.not_run.clone(),
                    trials: std::mem::take(&mut self.trials),
                };
                report.sort();
                report.not_run.sort();
                return Some(report);
            }
            _ => {}
        }
        None
    }

    /// Removes the tokens from text written to a file.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.text(text)
    }
}

/// Writes `path` through `write`, as one [`ReportError`] on failure.
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<(), ReportError> {
    use std::io::Write as _;
    let file = std::fs::File::create(path).map_err(|error| ReportError::new(path, error))?;
    let mut out = std::io::BufWriter::new(file);
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(|error| ReportError::new(path, error))
}
