//! Markdown renderings for the README and CI summaries.

use std::io::Write as _;
use std::path::PathBuf;

use super::{write_file, CompactRun, ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::trial::{RunReport, TrialVerdict};
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
    if report.interrupted {
        out.push_str(&format!(
            "**Interrupted** (Ctrl-C): the trials done so far; {} trial(s) not run.\n\n",
            report.not_run.len()
        ));
    }
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
