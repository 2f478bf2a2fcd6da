//! What a person reads on the console: one line per trial (`test [kind]
//! NAME ... pass|fail|error|skipped|unsupported`), the failures explained,
//! and one summary block last (counts by verdict and level, the
//! differences, where the files are, what the exit code means); and the
//! failure explanations every report shows.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use super::curl::curl_command_redacted;
use super::exit_status::ExitStatusReporter;
use super::snapshot_diff::SnapshotSummary;
use super::{ReportError, Reporter};
use crate::outcome::event::{Event, PlannedTrial, RunCleanup, RunEnd};
use crate::outcome::exchange::Exchange;
use crate::outcome::exit::ExitStatus;
use crate::outcome::redact::Redactor;
use crate::outcome::scenario::{self, ScenarioOutcome, StepOutcome, Verdict};
use crate::outcome::trial::{
    counts_by_level, DifferenceKind, StepDifference, TrialRecord, TrialVerdict, VerdictCounts,
};
use crate::spec::load::LoadedScenario;
use crate::spec::scenario::Answer;

/// Strings longer than this are shortened in displayed bodies.
const LONG_STRING: usize = 120;
/// Displayed raw (non-JSON) bodies are cut at this many characters.
const LONG_BODY: usize = 2000;

/// A copy of `value` with long strings shortened, for display only.
pub fn abbreviate(value: &Value) -> Value {
    match value {
        Value::String(text) if text.chars().count() > LONG_STRING => {
            let head: String = text.chars().take(40).collect();
            Value::String(format!("{head}… ({} chars)", text.chars().count()))
        }
        Value::Array(items) => Value::Array(items.iter().map(abbreviate).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), abbreviate(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(&abbreviate(value)).unwrap_or_else(|_| value.to_string())
}

/// One line describing a response, e.g. `HTTP 200, application/json`.
fn response_line(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(response) => format!(
            "HTTP {}, {}",
            response.status,
            response
                .content_type
                .as_deref()
                .unwrap_or("no Content-Type")
        ),
        Err(error) => format!("no response: {error}"),
    }
}

fn response_body(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(response) => match &response.json {
            Some(json) => pretty(json),
            None if response.body.is_empty() => "(empty body)".to_string(),
            None => {
                let cut: String = response.body.chars().take(LONG_BODY).collect();
                if cut.len() < response.body_bytes {
                    format!("{cut}… ({} bytes)", response.body_bytes)
                } else {
                    cut
                }
            }
        },
        Err(_) => "(none)".to_string(),
    }
}

/// The exchange to show for a step: the first one sent (concurrent steps say how many there were).
fn shown_exchange(step: &StepOutcome) -> Option<&Exchange> {
    step.exchanges.first()
}

/// What a step expected, in one line: the answer mode and, for a success, status and content type.
fn expected_line(step: &StepOutcome) -> String {
    let json = if step.expected_json {
        ", application/json"
    } else {
        ""
    };
    match step.answer {
        Answer::AsGiven => format!("HTTP {}{json}", step.expected_status),
        Answer::Refusal => {
            "a refusal (any status and body, but not a success: HTTP 2xx with the customer object of the UserID sent, or with an array for a list)".to_string()
        }
        Answer::SuccessOrRefusal => format!(
            "a refusal (any status and body), or a success exactly like this: HTTP {}{json}",
            step.expected_status
        ),
    }
}

/// Explains a failed or errored scenario: what was sent, what came back, what was expected, and the diff.
pub fn render_failure(
    loaded: &LoadedScenario,
    outcome: &ScenarioOutcome,
    redactor: &Redactor,
) -> String {
    let scenario = &loaded.scenario;
    let mut out = String::new();
    let _ = writeln!(out, "{} · {}", scenario.level, scenario.citation);
    let _ = writeln!(out, "scenario file: specs/{}", loaded.source);
    let failing = match outcome.verdict {
        Verdict::Failed(index) | Verdict::Errored(index) => index,
        _ => return out,
    };
    for step in &outcome.steps[..failing] {
        if let Some(reason) = &step.skipped {
            let _ = writeln!(
                out,
                "  step {} {:?}: skipped ({reason})",
                step.index + 1,
                step.name
            );
        } else if let Some(exchange) = shown_exchange(step) {
            let _ = writeln!(
                out,
                "  step {} {:?}: {} {} → {}",
                step.index + 1,
                step.name,
                exchange.request.method,
                exchange.request.url,
                response_line(exchange)
            );
        }
    }
    let step = &outcome.steps[failing];
    let verb = if !step.leaks.is_empty() {
        "failed the security check (binding at every level)"
    } else if step.problem.is_some() {
        "could not be checked"
    } else {
        "did not meet its expectation"
    };
    let _ = writeln!(
        out,
        "\nstep {}/{} {:?} ({}) {verb}",
        failing + 1,
        scenario.steps.len(),
        step.name,
        step.level
    );
    for leak in &step.leaks {
        let _ = writeln!(out, "security: {leak}; a response must never carry a token");
    }
    if let Some(problem) = &step.problem {
        let _ = writeln!(out, "problem: {problem}");
    }
    if let Some(exchange) = shown_exchange(step) {
        if step.exchanges.len() > 1 {
            let _ = writeln!(
                out,
                "(sent {} copies at once; the first is shown)",
                step.exchanges.len()
            );
        }
        let _ = writeln!(
            out,
            "\nrequest:\n{}",
            indent(&curl_command_redacted(&exchange.request, redactor))
        );
        let _ = writeln!(out, "expected: {}", expected_line(step));
        if let Some(body) = &step.expected_body {
            out.push_str(&indent(&pretty(body)));
        }
        let _ = writeln!(out, "\nactual: {}", response_line(exchange));
        // What did not match is summarised (a list by its size and the element the
        // differences are in): the reports' transcripts carry the whole body.
        match &step.answer_summary {
            Some(summary) => out.push_str(&indent(summary)),
            None => out.push_str(&indent(&response_body(exchange))),
        }
    }
    if !step.mismatches.is_empty() {
        let _ = writeln!(out, "\ndiff (by JSON pointer):");
        for line in step.difference_lines(scenario::SHOWN_DIFFERENCES) {
            let _ = writeln!(out, "  {line}");
        }
    }
    redactor.text(out.trim_end())
}

/// Longest body shown in an observation line, in characters.
const OBSERVED_BODY: usize = 200;

/// `text` cut at [`OBSERVED_BODY`] characters, saying how long it was: a
/// list of every record in the context would fill a screen.
fn one_line_excerpt(text: &str) -> String {
    let count = text.chars().count();
    if count <= OBSERVED_BODY {
        return text.to_string();
    }
    let head: String = text.chars().take(OBSERVED_BODY).collect();
    format!("{head}… ({count} chars)")
}

/// One line per observed step: what the target did where the page is silent.
pub fn render_observations(
    loaded: &LoadedScenario,
    outcome: &ScenarioOutcome,
    redactor: &Redactor,
) -> Vec<String> {
    outcome
        .steps
        .iter()
        // A skipped step observed nothing.
        .filter(|step| !step.level.is_binding() && !step.is_skipped())
        .map(|step| {
            let answer = step
                .exchanges
                .first()
                .map(|exchange| {
                    let body = match &exchange.response {
                        Ok(response) => match &response.json {
                            Some(json) => one_line_excerpt(&abbreviate(json).to_string()),
                            None => {
                                format!("{:?}", response.body.chars().take(80).collect::<String>())
                            }
                        },
                        Err(_) => String::new(),
                    };
                    format!("{} {body}", response_line(exchange))
                })
                .unwrap_or_else(|| "not sent".to_string());
            let verdict = if step.met() {
                "as the reference".to_string()
            } else {
                let first = step
                    .mismatches
                    .first()
                    .map(|mismatch| format!(" at {}", mismatch.line()))
                    .or_else(|| step.problem.clone().map(|problem| format!(": {problem}")))
                    .unwrap_or_default();
                format!("differs from the reference{first}")
            };
            redactor.text(&format!(
                "{} · step {} {:?}: {answer} ({verdict})",
                loaded.scenario.name,
                step.index + 1,
                step.name
            ))
        })
        .collect()
}

/// `--list`: one line per trial, `[kind] name: test`, as libtest lists tests.
pub fn render_list(trials: &[PlannedTrial]) -> String {
    trials
        .iter()
        .map(|trial| format!("[{}] {}: test\n", trial.kind, trial.name))
        .collect()
}

/// How much the console prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// `-q`: only the failures and the summary.
    Quiet,
    /// One line per trial, the failures, the summary.
    #[default]
    Normal,
    /// Also every observed step and every snapshot difference.
    Verbose,
}

/// Differences shown in the summary, per kind; `-v` and the reports list every one.
const SHOWN_SUMMARY_DIFFERENCES: usize = 5;
/// A difference shown in the summary is cut at this many characters.
const SHOWN_LINE: usize = 160;
/// Failed trials named in the summary.
const SHOWN_FAILURES: usize = 10;

/// A report file the run writes, for the summary to name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// Its format, as people call it (`JUnit`, `JSON`, `HTML`, `Markdown`).
    pub format: String,
    /// Where it is written.
    pub path: PathBuf,
}

/// What the console keeps of the run's start.
#[derive(Debug, Clone, Default)]
struct Started {
    run_id: String,
    uid_prefix: String,
    target: String,
    filtered_out: usize,
}

/// The console: one line per trial, the failures, and the summary last, on
/// stdout; warnings on stderr.
#[derive(Debug)]
pub struct ConsoleReporter {
    /// Colour the verdict words (stdout is a terminal).
    colour: bool,
    verbosity: Verbosity,
    reports: Vec<ReportFile>,
    name_width: usize,
    kind_width: usize,
    started: Option<Started>,
    /// Every finished trial, without its transcript.
    trials: Vec<TrialRecord>,
    /// Observed-behaviour lines per trial (`-v`).
    observations: Vec<(String, Vec<String>)>,
    snapshots: SnapshotSummary,
    /// Whether the snapshot listing was printed before the summary.
    listed_snapshots: bool,
    exit: ExitStatusReporter,
    interrupted: bool,
    not_run: Vec<String>,
    cleanup: Option<RunCleanup>,
    end: Option<RunEnd>,
    /// Whether anything was printed yet (the first block needs no blank line before it).
    printed: bool,
}

impl ConsoleReporter {
    /// A console reporter; `colour` for a terminal.
    pub fn new(colour: bool, verbosity: Verbosity) -> ConsoleReporter {
        ConsoleReporter {
            colour,
            verbosity,
            reports: Vec::new(),
            name_width: 0,
            kind_width: 0,
            started: None,
            trials: Vec::new(),
            observations: Vec::new(),
            snapshots: SnapshotSummary::new(),
            listed_snapshots: false,
            exit: ExitStatusReporter::new(),
            interrupted: false,
            not_run: Vec::new(),
            cleanup: None,
            end: None,
            printed: false,
        }
    }

    /// Prints `text` on stdout, without the blank line that would open the output.
    fn print(&mut self, text: &str) {
        let text = if self.printed {
            text
        } else {
            text.trim_start_matches('\n')
        };
        if !text.is_empty() {
            print(text);
            self.printed = true;
        }
    }

    /// The report files this run writes, named in the summary.
    pub fn with_reports(mut self, reports: Vec<ReportFile>) -> ConsoleReporter {
        self.reports = reports;
        self
    }

    /// `word` in a colour, when colouring.
    fn coloured(&self, word: &str, colour: u8) -> String {
        if self.colour {
            format!("\x1b[{colour}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }

    /// A verdict's word, coloured: `pass`, `fail`, `error (why)`, `skipped (why)`, `unsupported (why)`.
    fn verdict_word(&self, verdict: &TrialVerdict) -> String {
        match verdict {
            TrialVerdict::Pass => self.coloured("pass", 32),
            TrialVerdict::Fail => self.coloured("fail", 31),
            TrialVerdict::Error { reason } => self.coloured(&format!("error ({reason})"), 31),
            TrialVerdict::Skipped { reason } | TrialVerdict::Unsupported { reason } => {
                self.coloured(&format!("{} ({reason})", verdict.name()), 33)
            }
        }
    }

    fn trial_line(&self, name: &str, kind: &str, verdict: &TrialVerdict) -> String {
        let kind = if kind.is_empty() {
            String::new()
        } else {
            format!("[{kind}] ")
        };
        format!(
            "test {kind:<kind_width$}{name:<name_width$} ... {}\n",
            self.verdict_word(verdict),
            kind_width = self.kind_width,
            name_width = self.name_width
        )
    }

    /// The failures, each explained; with `-v`, every observed step and every snapshot difference.
    fn after_trials(&mut self) -> String {
        let mut out = String::new();
        let mut failures: Vec<&TrialRecord> = self
            .trials
            .iter()
            .filter(|trial| trial.verdict.is_failure())
            .collect();
        failures.sort_by(|a, b| a.name.cmp(&b.name));
        if !failures.is_empty() {
            out.push_str("\nfailures:\n");
            for trial in failures {
                let _ = writeln!(out, "\n---- {} ----", trial.name);
                match (&trial.message, &trial.verdict) {
                    (Some(message), _) => {
                        let _ = writeln!(out, "{message}");
                    }
                    (None, TrialVerdict::Error { reason }) => {
                        let _ = writeln!(out, "error: {reason}");
                    }
                    (None, _) => {}
                }
            }
        }
        if self.verbosity == Verbosity::Verbose {
            let mut observations = self.observations.clone();
            observations.sort();
            if !observations.is_empty() {
                out.push_str(
                    "\nobserved behaviour where the page is silent (reported, never a failure):\n",
                );
                for (_, lines) in observations {
                    for line in lines {
                        let _ = writeln!(out, "  {line}");
                    }
                }
            }
        }
        let listing = self.verbosity == Verbosity::Verbose
            || (self.verbosity == Verbosity::Normal && self.snapshots.is_differential());
        if listing {
            let text = self.snapshots.listing();
            if !text.is_empty() {
                out.push('\n');
                out.push_str(&text);
                self.listed_snapshots = true;
            }
        }
        out
    }

    /// The summary, last: counts by verdict and by level, what failed and
    /// was skipped, the differences, where the files are, and the exit code.
    fn summary(&self, lost: &[ReportError]) -> String {
        let mut out = String::from("\nsummary:\n");
        let started = self.started.clone().unwrap_or_default();
        let mut counts = VerdictCounts::default();
        for trial in &self.trials {
            counts.count(&trial.verdict);
        }
        let mut status = self.exit.status();
        if self.end.as_ref().is_some_and(|end| end.interrupted) {
            status = status.and(ExitStatus::Interrupted);
        }
        if !lost.is_empty() {
            status = status.and(ExitStatus::HarnessError);
        }
        let colour = match status {
            ExitStatus::Pass => 32,
            ExitStatus::ContractFailure => 31,
            _ => 33,
        };
        let elapsed = self
            .end
            .as_ref()
            .map_or(0.0, |end| end.duration.as_secs_f64());
        let _ = writeln!(
            out,
            "test result: {}. {}; {} filtered out; finished in {elapsed:.2}s",
            self.coloured(status.word(), colour),
            counts
                .each()
                .iter()
                .map(|(name, count)| format!("{count} {name}"))
                .collect::<Vec<_>>()
                .join("; "),
            started.filtered_out
        );
        let by_level = counts_by_level(self.trials.iter());
        if !by_level.is_empty() {
            let _ = writeln!(
                out,
                "by level: {}",
                by_level
                    .iter()
                    .map(|(level, counts)| format!("{level} {}", counts.nonzero()))
                    .collect::<Vec<_>>()
                    .join(" · ")
            );
        }
        if self.interrupted {
            let _ = writeln!(
                out,
                "interrupted (Ctrl-C): {} trial(s) not run or cut short{}",
                self.not_run.len(),
                if self.not_run.is_empty() {
                    String::new()
                } else {
                    format!(": {}", self.not_run.join(", "))
                }
            );
        }
        for word in ["fail", "error"] {
            let mut names: Vec<&str> = self
                .trials
                .iter()
                .filter(|trial| trial.verdict.name() == word)
                .map(|trial| trial.name.as_str())
                .collect();
            names.sort();
            if !names.is_empty() {
                let _ = writeln!(
                    out,
                    "{} {word} (explained above): {}",
                    names.len(),
                    shortened(&names, SHOWN_FAILURES)
                );
            }
        }
        let mut skipped: Vec<(String, usize)> = Vec::new();
        for trial in &self.trials {
            if let TrialVerdict::Skipped { reason } | TrialVerdict::Unsupported { reason } =
                &trial.verdict
            {
                let reason = format!("{} ({reason})", trial.verdict.name());
                match skipped.iter_mut().find(|(known, _)| *known == reason) {
                    Some((_, count)) => *count += 1,
                    None => skipped.push((reason, 1)),
                }
            }
        }
        skipped.sort();
        for (reason, count) in skipped {
            let _ = writeln!(out, "{count} {reason}");
        }
        out.push_str(&self.differences());
        if let Some(cleanup) = &self.cleanup {
            for (context, count, compare) in &cleanup.leftovers {
                let _ = writeln!(
                    out,
                    "cleanup: deleted {count} record(s) of this run left in context {context}{}",
                    if *compare { " on --compare-with" } else { "" }
                );
            }
        }
        for note in self.snapshots.notes() {
            let _ = writeln!(out, "{note}");
        }
        if !self.reports.is_empty() {
            let reports: Vec<String> = self
                .reports
                .iter()
                .map(
                    |report| match lost.iter().find(|error| error.path == report.path) {
                        Some(error) => format!(
                            "{} {} (not written: {})",
                            report.format,
                            report.path.display(),
                            error.reason
                        ),
                        None => format!("{} {}", report.format, report.path.display()),
                    },
                )
                .collect();
            let _ = writeln!(out, "reports: {}", reports.join(" · "));
        }
        let mut artifacts: Vec<&str> = self
            .trials
            .iter()
            .flat_map(|trial| trial.artifacts.iter().map(String::as_str))
            .collect();
        artifacts.sort();
        if !artifacts.is_empty() {
            let _ = writeln!(out, "reproduction scenarios: {}", artifacts.join(", "));
        }
        if let Some(ledger) = self.cleanup.as_ref().and_then(|c| c.ledger_kept.as_ref()) {
            let _ = writeln!(
                out,
                "cleanup ledger kept: {} (records of this run may be left on the target; `ipdr-conformance sweep` deletes them)",
                ledger.display()
            );
        }
        let _ = writeln!(
            out,
            "run id {} against {} (every record it creates starts with {})",
            started.run_id, started.target, started.uid_prefix
        );
        let _ = writeln!(
            out,
            "{}",
            self.coloured(
                &format!(
                    "exit {}: {}: {}",
                    status.code(),
                    status.word(),
                    status.meaning()
                ),
                colour
            )
        );
        out
    }

    /// The differences part of the summary: observed steps unlike the
    /// reference and steps unlike the snapshot profile, counted, the first
    /// few shown (none twice: not those of a failed trial, explained above,
    /// nor a step already shown).
    fn differences(&self) -> String {
        let mut observed: Vec<(&str, &StepDifference)> = Vec::new();
        let mut snapshot: Vec<(&str, &StepDifference, bool)> = Vec::new();
        let mut sorted: Vec<&TrialRecord> = self.trials.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        for trial in sorted {
            for difference in &trial.differences {
                match difference.kind {
                    DifferenceKind::Observed => observed.push((&trial.name, difference)),
                    DifferenceKind::Snapshot => {
                        snapshot.push((&trial.name, difference, trial.verdict.is_failure()))
                    }
                }
            }
        }
        if observed.is_empty() && snapshot.is_empty() {
            return "differences where the page leaves the answer open: none\n".to_string();
        }
        let mut out = String::new();
        let strict = snapshot.iter().any(|(_, difference, _)| difference.fails);
        let _ = writeln!(
            out,
            "differences where the page leaves the answer open ({}):",
            if strict {
                "under --strict the snapshot ones fail their trial"
            } else {
                "reported, never a failure without --strict"
            }
        );
        let listed_above = self.verbosity == Verbosity::Verbose;
        if !observed.is_empty() {
            let _ = writeln!(
                out,
                "  {} observed step(s) answered unlike the reference{}",
                observed.len(),
                if listed_above { ", listed above" } else { ":" }
            );
            if !listed_above {
                for (trial, difference) in observed.iter().take(SHOWN_SUMMARY_DIFFERENCES) {
                    let _ = writeln!(out, "    {trial} · {}", difference.line(SHOWN_LINE));
                }
                more(&mut out, observed.len(), SHOWN_SUMMARY_DIFFERENCES);
            }
        }
        if let Some((_, first, _)) = snapshot.first() {
            let is_observed = |trial: &str, step: usize| {
                observed
                    .iter()
                    .any(|(name, difference)| *name == trial && difference.step == step)
            };
            let in_failed = snapshot.iter().filter(|(_, _, failed)| *failed).count();
            let at_observed = snapshot
                .iter()
                .filter(|(trial, difference, failed)| {
                    !failed && is_observed(trial, difference.step)
                })
                .count();
            let mut line = format!("  {} step(s) differ from {}", snapshot.len(), first.against);
            let mut among = Vec::new();
            if at_observed > 0 {
                among.push(format!("{at_observed} at the observed steps above"));
            }
            if in_failed > 0 {
                among.push(format!(
                    "{in_failed} in trials that failed, explained above"
                ));
            }
            if !among.is_empty() {
                let _ = write!(line, " ({})", among.join("; "));
            }
            let rest: Vec<&(&str, &StepDifference, bool)> = snapshot
                .iter()
                .filter(|(trial, difference, failed)| {
                    !failed && !is_observed(trial, difference.step)
                })
                .collect();
            if self.listed_snapshots || listed_above {
                line.push_str(", listed above");
                let _ = writeln!(out, "{line}");
            } else if rest.is_empty() {
                let _ = writeln!(out, "{line}");
            } else {
                let _ = writeln!(out, "{line}:");
                for (trial, difference, _) in rest.iter().take(SHOWN_SUMMARY_DIFFERENCES) {
                    let _ = writeln!(out, "    {trial} · {}", difference.line(SHOWN_LINE));
                }
                more(&mut out, rest.len(), SHOWN_SUMMARY_DIFFERENCES);
            }
        }
        out
    }
}

/// `a, b, c, … and 4 more`.
fn shortened(names: &[&str], shown: usize) -> String {
    let mut text = names
        .iter()
        .take(shown)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > shown {
        let _ = write!(text, ", … and {} more", names.len() - shown);
    }
    text
}

/// `    … and 7 more (-v or the reports list every one)`, when some were left out.
fn more(out: &mut String, total: usize, shown: usize) {
    if total > shown {
        let _ = writeln!(
            out,
            "    … and {} more (-v or the reports list every one)",
            total - shown
        );
    }
}

/// Prints to stdout; a closed stdout (a pipe gone) is not a report failure.
fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

impl Reporter for ConsoleReporter {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        let _ = self.snapshots.event(event);
        let _ = self.exit.event(event);
        let quiet = self.verbosity == Verbosity::Quiet;
        match event {
            Event::RunStarted(run) => {
                self.started = Some(Started {
                    run_id: run.run_id.clone(),
                    uid_prefix: run.uid_prefix.clone(),
                    target: run.target.clone(),
                    filtered_out: run.filtered_out,
                });
                self.name_width = run
                    .trials
                    .iter()
                    .map(|trial| trial.name.chars().count())
                    .max()
                    .unwrap_or(0);
                self.kind_width = run
                    .trials
                    .iter()
                    .map(|trial| {
                        if trial.kind.is_empty() {
                            0
                        } else {
                            trial.kind.chars().count() + 3
                        }
                    })
                    .max()
                    .unwrap_or(0);
                if quiet {
                    return Ok(());
                }
                let mut out = format!(
                    "run id {} (every record this run creates starts with {})\n",
                    run.run_id, run.uid_prefix
                );
                for note in &run.notes {
                    let _ = writeln!(out, "{note}");
                }
                let count = run.trials.len();
                let _ = writeln!(
                    out,
                    "\nrunning {count} test{}",
                    if count == 1 { "" } else { "s" }
                );
                self.print(&out);
            }
            Event::Note(line) if !quiet => self.print(&format!("{line}\n")),
            Event::Cleanup { problems, .. } => {
                for problem in problems {
                    eprintln!("warning: {problem}");
                }
            }
            Event::Interrupting => eprintln!(
                "interrupted: no trial starts any more; the requests in flight finish, then this run's records are deleted and the reports written (Ctrl-C again to exit at once)"
            ),
            Event::TrialFinished(finished) => {
                let mut record = finished.record.clone();
                record.transcript = Vec::new();
                if !quiet {
                    let line = self.trial_line(&record.name, &finished.kind, &record.verdict);
                    self.print(&line);
                }
                if !finished.observations.is_empty() {
                    self.observations
                        .push((record.name.clone(), finished.observations.clone()));
                }
                self.trials.push(record);
            }
            Event::TrialsFinished {
                interrupted,
                not_run,
            } => {
                self.interrupted = *interrupted;
                self.not_run = not_run.clone();
                let text = self.after_trials();
                self.print(&text);
            }
            Event::RunCleanup(cleanup) => self.cleanup = Some(cleanup.clone()),
            Event::RunFinished(end) => {
                self.end = Some(end.clone());
                if let Some(cleanup) = &self.cleanup {
                    for problem in &cleanup.problems {
                        eprintln!("warning: {problem}");
                    }
                    if let Some(ledger) = &cleanup.ledger_kept {
                        eprintln!(
                            "warning: records of this run may be left on the target; they are listed in {}; run `ipdr-conformance sweep` to delete them",
                            ledger.display()
                        );
                    }
                }
            }
            Event::Note(_)
            | Event::TrialStarted { .. }
            | Event::StepSent { .. }
            | Event::StepAnswered { .. }
            | Event::Verdict { .. }
            | Event::Heartbeat { .. } => {}
        }
        Ok(())
    }

    fn finish(&mut self, lost: &[ReportError]) {
        // A run that never finished (a setup error) has no summary: its one error line says it all.
        if self.end.is_some() {
            let text = self.summary(lost);
            self.print(&text);
        }
    }
}
