//! What a person reads on the console: libtest-style lines (`test NAME ...
//! ok`), the failures and the `test result:` summary, the observed-behaviour
//! summary and the run's cleanup; and the failure explanations every report
//! shows.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use serde_json::Value;

use super::curl::curl_command_redacted;
use super::{ReportError, Reporter};
use crate::outcome::event::{Event, PlannedTrial, RunCleanup};
use crate::outcome::exchange::Exchange;
use crate::outcome::redact::Redactor;
use crate::outcome::scenario::{ScenarioOutcome, StepOutcome, Verdict};
use crate::outcome::trial::TrialVerdict;
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
        out.push_str(&indent(&response_body(exchange)));
    }
    if !step.mismatches.is_empty() {
        let _ = writeln!(out, "\ndiff (by JSON pointer):");
        for mismatch in &step.mismatches {
            let _ = writeln!(
                out,
                "  {}: expected {}, got {}",
                mismatch.pointer, mismatch.expected, mismatch.actual
            );
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
                    .map(|mismatch| {
                        format!(
                            " at {}: expected {}, got {}",
                            mismatch.pointer, mismatch.expected, mismatch.actual
                        )
                    })
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

/// The console: libtest's lines and summary on stdout, warnings on stderr.
#[derive(Debug)]
pub struct ConsoleReporter {
    /// Colour the verdict words (stdout is a terminal).
    colour: bool,
    name_width: usize,
    kind_width: usize,
    started: Option<Instant>,
    filtered_out: usize,
    passed: usize,
    failed: usize,
    ignored: usize,
    /// Failed trials and what explains them, in the order they finished.
    failures: Vec<(String, Option<String>)>,
    /// Observed-behaviour lines per trial.
    observations: Vec<(String, Vec<String>)>,
    cleanup: Option<RunCleanup>,
}

impl ConsoleReporter {
    /// A console reporter; `colour` for a terminal.
    pub fn new(colour: bool) -> ConsoleReporter {
        ConsoleReporter {
            colour,
            name_width: 0,
            kind_width: 0,
            started: None,
            filtered_out: 0,
            passed: 0,
            failed: 0,
            ignored: 0,
            failures: Vec::new(),
            observations: Vec::new(),
            cleanup: None,
        }
    }

    /// `word` in the colour libtest gives it, when colouring.
    fn coloured(&self, word: &str, colour: u8) -> String {
        if self.colour {
            format!("\x1b[{colour}m{word}\x1b[0m")
        } else {
            word.to_string()
        }
    }

    fn trial_line(&mut self, name: &str, kind: &str, verdict: &TrialVerdict) -> String {
        let kind = if kind.is_empty() {
            String::new()
        } else {
            format!("[{kind}] ")
        };
        let outcome = match verdict {
            TrialVerdict::Pass => {
                self.passed += 1;
                self.coloured("ok", 32)
            }
            TrialVerdict::Fail | TrialVerdict::Error { .. } => {
                self.failed += 1;
                self.coloured("FAILED", 31)
            }
            TrialVerdict::Skipped { reason } => {
                self.ignored += 1;
                self.coloured(&format!("ignored ({reason})"), 33)
            }
            TrialVerdict::Unsupported { reason } => {
                self.ignored += 1;
                self.coloured(&format!("ignored (unsupported: {reason})"), 33)
            }
        };
        format!(
            "test {kind:<kind_width$}{name:<name_width$} ... {outcome}\n",
            kind_width = self.kind_width,
            name_width = self.name_width
        )
    }

    /// The failures, the `test result:` line and the observations.
    fn summary(&self, interrupted: bool, not_run: &[String]) -> String {
        let mut out = String::new();
        if !self.failures.is_empty() {
            out.push_str("\nfailures:\n\n");
            for (name, message) in &self.failures {
                let _ = writeln!(out, "---- {name} ----");
                if let Some(message) = message {
                    let _ = writeln!(out, "{message}");
                }
                out.push('\n');
            }
            out.push_str("\nfailures:\n");
            for (name, _) in &self.failures {
                let _ = writeln!(out, "    {name}");
            }
        }
        let result = if interrupted {
            self.coloured("interrupted", 33)
        } else if self.failed > 0 {
            self.coloured("FAILED", 31)
        } else {
            self.coloured("ok", 32)
        };
        let elapsed = self
            .started
            .map(|at| at.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        let _ = writeln!(
            out,
            "\ntest result: {result}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {elapsed:.2}s\n",
            self.passed, self.failed, self.ignored, self.filtered_out
        );
        if interrupted {
            let _ = writeln!(
                out,
                "interrupted (Ctrl-C): {} trial(s) not run or cut short{}\n",
                not_run.len(),
                if not_run.is_empty() {
                    String::new()
                } else {
                    format!(": {}", not_run.join(", "))
                }
            );
        }
        let mut observations = self.observations.clone();
        observations.sort();
        if !observations.is_empty() {
            out.push_str(
                "observed behaviour where the page is silent (reported, never a failure):\n",
            );
            for (_, lines) in observations {
                for line in lines {
                    let _ = writeln!(out, "  {line}");
                }
            }
            out.push('\n');
        }
        out
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
        match event {
            Event::RunStarted(run) => {
                self.started = Some(Instant::now());
                self.filtered_out = run.filtered_out;
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
                print(&out);
            }
            Event::Note(line) => print(&format!("{line}\n")),
            Event::Cleanup { problems, .. } => {
                for problem in problems {
                    eprintln!("warning: {problem}");
                }
            }
            Event::Interrupting => eprintln!(
                "interrupted: no trial starts any more; the requests in flight finish, then this run's records are deleted and the reports written (Ctrl-C again to exit at once)"
            ),
            Event::TrialFinished(finished) => {
                let record = &finished.record;
                let line = self.trial_line(&record.name, &finished.kind, &record.verdict);
                if record.verdict.is_failure() {
                    self.failures
                        .push((record.name.clone(), record.message.clone()));
                }
                if !finished.observations.is_empty() {
                    self.observations
                        .push((record.name.clone(), finished.observations.clone()));
                }
                print(&line);
            }
            Event::TrialsFinished {
                interrupted,
                not_run,
            } => print(&self.summary(*interrupted, not_run)),
            Event::RunCleanup(cleanup) => self.cleanup = Some(cleanup.clone()),
            Event::RunFinished(_) => {
                let Some(cleanup) = self.cleanup.take() else {
                    return Ok(());
                };
                let mut out = String::new();
                for (context, count, compare) in &cleanup.leftovers {
                    let _ = writeln!(
                        out,
                        "cleanup: deleted {count} record(s) of this run left in context {context}{}",
                        if *compare { " on --compare-with" } else { "" }
                    );
                }
                print(&out);
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
            Event::TrialStarted { .. }
            | Event::StepSent { .. }
            | Event::StepAnswered { .. }
            | Event::Verdict { .. }
            | Event::Heartbeat { .. } => {}
        }
        Ok(())
    }
}
