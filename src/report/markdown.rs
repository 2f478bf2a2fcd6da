//! Markdown renderings for the README and CI summaries.

use std::io::Write as _;
use std::path::PathBuf;

use super::{write_file, CompactRun, ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::trial::{DifferenceKind, RunReport, StepDifference, TrialVerdict};
use crate::spec::load::LoadedScenario;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The contract table: every scenario with its level, the doc section it cites, and what it checks.
pub fn scenario_table(scenarios: &[LoadedScenario]) -> String {
    let mut sorted: Vec<&LoadedScenario> = scenarios.iter().collect();
    sorted.sort_by(|a, b| a.scenario.name.cmp(&b.scenario.name));
    let mut out = String::from(
        "| scenario | level | vendor doc section | what it checks |\n|---|---|---|---|\n",
    );
    for loaded in sorted {
        let scenario = &loaded.scenario;
        let what = scenario.description.clone().unwrap_or_else(|| {
            scenario
                .steps
                .iter()
                .map(|step| step.name.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        });
        let levels: std::collections::BTreeSet<_> = scenario
            .steps
            .iter()
            .map(|step| scenario.step_level(step))
            .collect();
        let level = levels
            .iter()
            .map(|level| level.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            cell(&scenario.name),
            level,
            cell(&scenario.citation),
            cell(&what)
        ));
    }
    out
}

/// A Markdown summary fit for a CI job summary or a pull-request comment.
pub fn summary(report: &RunReport) -> String {
    let counts = report.counts();
    let icon = if report.interrupted {
        "⏹️"
    } else if counts.fail > 0 {
        "❌"
    } else if counts.error > 0 {
        "⚠️"
    } else {
        "✅"
    };
    let mut out = format!(
        "## {icon} IPDR conformance: {}\n\n| pass | fail | error | skipped | unsupported |\n|---|---|---|---|---|\n| {} | {} | {} | {} | {} |\n\n",
        cell(&report.target),
        counts.pass,
        counts.fail,
        counts.error,
        counts.skipped,
        counts.unsupported
    );
    let by_level: Vec<String> = report
        .counts_by_level()
        .iter()
        .map(|(level, counts)| format!("{level} {}", counts.nonzero()))
        .collect();
    if !by_level.is_empty() {
        out.push_str(&format!("by level: {}\n\n", by_level.join(" · ")));
    }
    if report.interrupted {
        out.push_str(&format!(
            "**Interrupted** (Ctrl-C): the trials done so far; {} trial(s) not run.\n\n",
            report.not_run.len()
        ));
    }
    out.push_str(&differences(report));
    let mut bad: Vec<_> = report
        .trials
        .iter()
        .filter(|trial| !matches!(trial.verdict, TrialVerdict::Pass))
        .collect();
    bad.sort_by_key(|trial| (trial.verdict.name(), trial.name.clone()));
    if !bad.is_empty() {
        out.push_str(
            "| trial | verdict | level | vendor doc section | why |\n|---|---|---|---|---|\n",
        );
        for trial in bad {
            let why = match &trial.verdict {
                TrialVerdict::Skipped { reason }
                | TrialVerdict::Unsupported { reason }
                | TrialVerdict::Error { reason } => reason.clone(),
                _ => {
                    // The first line of the diff: "/pointer: expected X, got Y".
                    let lines: Vec<&str> = trial.message.as_deref().unwrap_or("").lines().collect();
                    let diff = lines
                        .iter()
                        .position(|line| line.starts_with("diff "))
                        .map(|at| at + 1);
                    diff.and_then(|at| lines.get(at))
                        .or_else(|| lines.iter().find(|line| line.contains("expected")))
                        .map(|line| line.trim().to_string())
                        .unwrap_or_default()
                }
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                cell(&trial.name),
                trial.verdict.name(),
                trial.level,
                cell(&trial.citation),
                cell(&why)
            ));
        }
    }
    let skipped_steps = report.skipped_steps();
    if skipped_steps > 0 {
        let trials = report
            .trials
            .iter()
            .filter(|trial| !trial.skipped_steps.is_empty())
            .count();
        out.push_str(&format!(
            "\n{skipped_steps} step(s) in {trials} trial(s) did not run because their `only_if` condition did not hold (the other branch of an answer the page leaves open); neither a pass nor a failure. The JSON and HTML reports list them.\n"
        ));
    }
    out.push_str(&format!(
        "\nrun `{}`, {:.0} ms\n",
        report.run_id, report.duration_ms
    ));
    out
}

/// Difference rows shown; the JSON and HTML reports list every one.
const SHOWN_DIFFERENCES: usize = 20;
/// A difference shown is cut at this many characters.
const SHOWN_LINE: usize = 200;

/// The differences where the page leaves the answer open: counted, the
/// first rows shown. Reported, never a failure without `--strict`, so the
/// verdict above stands; but a pass with differences says so.
fn differences(report: &RunReport) -> String {
    let differences = report.differences();
    let observed = differences
        .iter()
        .filter(|(_, difference)| difference.kind == DifferenceKind::Observed)
        .count();
    let snapshot: Vec<&StepDifference> = differences
        .iter()
        .filter(|(_, difference)| difference.kind == DifferenceKind::Snapshot)
        .map(|(_, difference)| *difference)
        .collect();
    if differences.is_empty() {
        return "**Differences** where the page leaves the answer open: none.\n\n".to_string();
    }
    let mut counted = Vec::new();
    if observed > 0 {
        counted.push(format!(
            "{observed} observed step(s) answered unlike the reference"
        ));
    }
    if let Some(first) = snapshot.first() {
        counted.push(format!(
            "{} step(s) differ from {}",
            snapshot.len(),
            first.against
        ));
    }
    let fails = snapshot.iter().any(|difference| difference.fails);
    let mut out = format!(
        "**Differences** where the page leaves the answer open ({}): {}.\n\n| trial | step | compared with | difference |\n|---|---|---|---|\n",
        if fails {
            "under --strict the snapshot ones fail"
        } else {
            "reported, never a failure without --strict"
        },
        counted.join(" · ")
    );
    for (trial, difference) in differences.iter().take(SHOWN_DIFFERENCES) {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            cell(trial),
            difference.step,
            cell(&difference.against),
            cell(&difference.line(SHOWN_LINE))
        ));
    }
    if differences.len() > SHOWN_DIFFERENCES {
        out.push_str(&format!(
            "\n… and {} more: the JSON and HTML reports list every one.\n",
            differences.len() - SHOWN_DIFFERENCES
        ));
    }
    out.push('\n');
    out
}

/// Writes the Markdown summary when the run ends.
#[derive(Debug)]
pub struct MarkdownReporter {
    path: PathBuf,
    run: CompactRun,
}

impl MarkdownReporter {
    /// A Markdown summary written to `path`.
    pub fn new(path: PathBuf) -> MarkdownReporter {
        MarkdownReporter {
            path,
            run: CompactRun::default(),
        }
    }
}

impl Reporter for MarkdownReporter {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        if let Some(report) = self.run.event(event) {
            let text = self.run.redact(&summary(&report));
            write_file(&self.path, |out| out.write_all(text.as_bytes()))?;
        }
        Ok(())
    }
}
