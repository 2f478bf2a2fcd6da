//! Snapshot differences as people read them: each differing step with the
//! snapshot it was compared with, why it may differ, and the differences by
//! JSON pointer; in the console after the run (every step with `-v`,
//! otherwise counted in its summary), in the reports, and under `--strict`
//! in the failure output of each trial it fails.

use std::fmt::Write as _;

use super::curl::curl_command_redacted;
use super::{ReportError, Reporter};
use crate::outcome::event::{Event, SnapshotContext, SnapshotSetup};
use crate::outcome::redact::Redactor;
use crate::outcome::scenario::{ScenarioOutcome, Verdict};
use crate::outcome::snapshot::{
    Comparand, Difference, Leeway, PendingSnapshot, ScenarioCheck, StepCheck, StepStatus,
};
use crate::outcome::trial::{DifferenceKind, StepDifference};
use crate::spec::scenario::Level;

/// The diff-line pieces live with the comparison, where the first
/// difference of a trial is taken too; kept here under their old paths.
pub use crate::outcome::snapshot::{pointer_label, value_text};

/// `/status: profile "ERROR", got "Error"`.
pub fn difference_line(difference: &Difference, comparand: &Comparand) -> String {
    difference.line(comparand)
}

/// Why a differing step may differ, and what that means for the verdict, in a few words.
fn step_verdict(check: &StepCheck, comparand: &Comparand, strict: bool) -> String {
    let unless = if strict {
        "fails under --strict"
    } else {
        "reported; fails only under --strict"
    };
    match &check.status {
        StepStatus::Same => String::new(),
        StepStatus::Missing => format!("{} ({unless})", comparand.missing),
        StepStatus::Differs(differences) => {
            let why = if differences.beyond_canonical.is_empty() {
                match differences.leeway {
                    Leeway::Silent => "the page is silent here".to_string(),
                    Leeway::CanonicalForm => "only in what the page leaves open".to_string(),
                    Leeway::OutcomesDiffer => {
                        "one side accepted and the other refused; the page allows either here"
                            .to_string()
                    }
                    Leeway::BothRefused => {
                        "both refused; a refusal may take any shape here".to_string()
                    }
                    Leeway::AfterDivergence(earlier) => format!(
                        "after the difference at step {} the state may differ where the page is silent",
                        earlier + 1
                    ),
                }
            } else {
                "beyond the canonical form; the step's own checks are the verdict".to_string()
            };
            format!("differs from {} ({why}; {unless})", comparand.short)
        }
    }
}

/// Most difference lines shown for one step.
const MAX_LINES: usize = 24;

/// `pointer` with every array index replaced by `*`.
fn generalized(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
                "*"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Diff lines with the same difference at several array indices folded
/// into one line: `/*/Address: profile "", got null (×55)`.
fn folded_lines(differences: &[&Difference], comparand: &Comparand, suffix: &str) -> Vec<String> {
    let mut groups: Vec<(String, String, String, Vec<&Difference>)> = Vec::new();
    for difference in differences {
        let expected = value_text(difference.expected.as_ref());
        let actual = value_text(difference.actual.as_ref());
        let key = generalized(&difference.pointer);
        match groups
            .iter_mut()
            .find(|(k, e, a, _)| *k == key && *e == expected && *a == actual)
        {
            Some((_, _, _, members)) => members.push(difference),
            None => groups.push((key, expected, actual, vec![difference])),
        }
    }
    groups
        .into_iter()
        .map(|(key, _, _, members)| {
            if members.len() == 1 {
                format!("{}{suffix}", difference_line(members[0], comparand))
            } else {
                let folded = Difference {
                    pointer: key,
                    ..members[0].clone()
                };
                format!(
                    "{} (×{}){suffix}",
                    difference_line(&folded, comparand),
                    members.len()
                )
            }
        })
        .collect()
}

/// The difference lines of one step: those beyond the canonical form
/// first, then the open ones (marked when they sit beside the others).
fn step_lines(check: &StepCheck, comparand: &Comparand) -> Vec<String> {
    let StepStatus::Differs(differences) = &check.status else {
        return Vec::new();
    };
    let beyond: Vec<&Difference> = differences.beyond_canonical.iter().collect();
    let open: Vec<&Difference> = differences.open.iter().collect();
    let mark = if beyond.is_empty() {
        ""
    } else {
        " (the page leaves this open)"
    };
    let mut lines = folded_lines(&beyond, comparand, "");
    lines.extend(folded_lines(&open, comparand, mark));
    if lines.len() > MAX_LINES {
        let more = lines.len() - MAX_LINES;
        lines.truncate(MAX_LINES);
        lines.push(format!("… and {more} more difference(s)"));
    }
    lines
}

/// Every differing or missing step of `check`, as reports record it.
pub fn step_differences(
    check: &ScenarioCheck,
    comparand: &Comparand,
    strict: bool,
    redactor: &Redactor,
) -> Vec<StepDifference> {
    check
        .differing()
        .map(|step_check| {
            let step = &step_check.step;
            StepDifference {
                kind: DifferenceKind::Snapshot,
                against: redactor.text(&comparand.title),
                step: step.index + 1,
                name: step.name.clone(),
                level: step.level.as_str().to_string(),
                why: redactor.text(&step_verdict(step_check, comparand, strict)),
                lines: step_lines(step_check, comparand)
                    .iter()
                    .map(|line| redactor.text(line))
                    .collect(),
                fails: step_check.fails(strict),
            }
        })
        .collect()
}

/// The failure section of a scenario whose steps differ: a header naming
/// what the target is compared with, then every step that fails (only
/// under `--strict`: every differing or missing step) with the snapshot it
/// was compared with, the request as curl, and the differences by JSON
/// pointer. Empty when no step fails.
pub fn render_check_failure(
    check: &ScenarioCheck,
    outcome: &ScenarioOutcome,
    total_steps: usize,
    comparand: &Comparand,
    snapshot_path: &dyn Fn(&str) -> Option<String>,
    strict: bool,
    redactor: &Redactor,
) -> String {
    let failing: Vec<&StepCheck> = check
        .steps
        .iter()
        .filter(|step| step.fails(strict))
        .collect();
    if failing.is_empty() {
        return String::new();
    }
    let mut out = format!("snapshot diff against {}:\n", comparand.title);
    for step_check in failing {
        let step = &step_check.step;
        let _ = writeln!(
            out,
            "  step {}/{total_steps} {:?} ({}) {}",
            step.index + 1,
            step.name,
            step.level,
            step_verdict(step_check, comparand, strict)
        );
        if let Some(path) = snapshot_path(&step.file_name) {
            let _ = writeln!(out, "    snapshot: {path}");
        }
        // The step whose expectation failed already shows its request.
        let shown = matches!(outcome.verdict, Verdict::Failed(at) | Verdict::Errored(at) if at == step.index);
        if let Some(exchange) = outcome
            .steps
            .iter()
            .find(|ran| ran.index == step.index && !shown)
            .and_then(|ran| ran.exchanges.first())
        {
            let _ = writeln!(
                out,
                "    request: {}",
                curl_command_redacted(&exchange.request, redactor)
            );
        }
        for line in step_lines(step_check, comparand) {
            let _ = writeln!(out, "    {line}");
        }
    }
    redactor.text(out.trim_end())
}

/// The summary after the run: differing steps grouped by the level they
/// are listed under ([`StepCheck::listed_level`]). `all_levels` lists every
/// step and every level (`none` when empty; differential mode); otherwise
/// only the steps that did not fail, so nothing under `--strict`.
pub fn render_summary(
    checks: &[(String, ScenarioCheck)],
    comparand: &Comparand,
    strict: bool,
    all_levels: bool,
    redactor: &Redactor,
) -> String {
    let mut by_level: Vec<(Level, Vec<String>)> =
        [Level::Documented, Level::Inferred, Level::Observed]
            .into_iter()
            .map(|level| (level, Vec::new()))
            .collect();
    let mut sorted: Vec<&(String, ScenarioCheck)> = checks.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (scenario, check) in sorted {
        for step_check in check.differing() {
            if !all_levels && step_check.fails(strict) {
                continue;
            }
            let step = &step_check.step;
            let mut entry = format!(
                "{scenario} · step {} {:?} ({}) {}",
                step.index + 1,
                step.name,
                step.level,
                step_verdict(step_check, comparand, strict)
            );
            for line in step_lines(step_check, comparand) {
                entry.push_str(&format!("\n      {line}"));
            }
            let level = step_check.listed_level();
            if let Some((_, entries)) = by_level.iter_mut().find(|(at, _)| *at == level) {
                entries.push(entry);
            }
        }
    }
    let total: usize = by_level.iter().map(|(_, entries)| entries.len()).sum();
    if total == 0 && !all_levels {
        return String::new();
    }
    let mut out = String::new();
    if all_levels {
        let _ = writeln!(
            out,
            "steps whose normalized responses differ from {}, by level:",
            comparand.title
        );
    } else {
        let _ = writeln!(
            out,
            "steps that differ from {} (reported, never a failure without --strict):",
            comparand.title
        );
    }
    for (level, entries) in &by_level {
        if entries.is_empty() {
            if all_levels {
                let _ = writeln!(out, "  {level}: none");
            }
            continue;
        }
        let _ = writeln!(out, "  {level}: {} step(s)", entries.len());
        for entry in entries {
            let _ = writeln!(out, "    {entry}");
        }
    }
    redactor.text(&out)
}

/// The pending changes of a profile (`snapshots pending`): each `.snap.new`
/// with its differences from the committed snapshot.
pub fn render_pending(profile: &str, pending: &[PendingSnapshot]) -> String {
    if pending.is_empty() {
        return format!("profile {profile}: no pending snapshot change\n");
    }
    let comparand = Comparand {
        title: format!("profile {profile}"),
        short: format!("profile {profile}"),
        expected: "snapshot".to_string(),
        actual: "new".to_string(),
        missing: String::new(),
    };
    let mut out = format!(
        "profile {profile}: {} pending snapshot change(s)\n",
        pending.len()
    );
    for change in pending {
        match &change.differences {
            None => {
                let _ = writeln!(out, "  {} (new snapshot)", change.file_name);
            }
            Some(differences) => {
                let _ = writeln!(out, "  {}", change.file_name);
                let all: Vec<&Difference> = differences.iter().collect();
                for line in folded_lines(&all, &comparand, "") {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    out
}

/// The snapshot side of the console: what was recorded, the steps that
/// differ from the profile or the `--compare-with` target (by level), and
/// the pending changes written. Fed the event stream like a reporter; the
/// console prints what it renders.
#[derive(Debug, Default)]
pub struct SnapshotSummary {
    context: Option<SnapshotContext>,
    redactor: Redactor,
    /// Scenarios with a differing step.
    checks: Vec<(String, ScenarioCheck)>,
    recorded: usize,
    recorded_scenarios: usize,
    incomplete: Vec<String>,
    pending: usize,
    other_failed: Vec<String>,
}

impl SnapshotSummary {
    /// An empty summary.
    pub fn new() -> SnapshotSummary {
        SnapshotSummary::default()
    }

    /// Whether the run compares with `--compare-with` (differential mode).
    pub fn is_differential(&self) -> bool {
        matches!(
            self.context,
            Some(SnapshotContext {
                setup: SnapshotSetup::Compare,
                ..
            })
        )
    }

    /// Every step that differs, by level (empty when none, or when recording):
    /// in differential mode every level, otherwise the steps that did not fail.
    pub fn listing(&self) -> String {
        let Some(context) = &self.context else {
            return String::new();
        };
        let all_levels = match &context.setup {
            SnapshotSetup::Record { .. } => return String::new(),
            SnapshotSetup::Compare => true,
            SnapshotSetup::Check { .. } => false,
        };
        render_summary(
            &self.checks,
            &context.comparand,
            context.strict,
            all_levels,
            &self.redactor,
        )
    }

    /// One line each: what was recorded, the `--compare-with` target's own
    /// failures, the pending changes written (empty when none applies).
    pub fn notes(&self) -> Vec<String> {
        let Some(context) = &self.context else {
            return Vec::new();
        };
        let mut notes = Vec::new();
        match &context.setup {
            SnapshotSetup::Record { name, dir } => match dir {
                Some(dir) => {
                    notes.push(format!(
                        "recorded snapshot profile {name}: {} snapshot(s) of {} scenario(s) in {}",
                        self.recorded,
                        self.recorded_scenarios,
                        dir.display()
                    ));
                    if !self.incomplete.is_empty() {
                        let mut incomplete = self.incomplete.clone();
                        incomplete.sort();
                        notes.push(format!(
                            "  {} scenario(s) did not pass, so their steps after the failing one are not in the profile: {}",
                            incomplete.len(),
                            incomplete.join(", ")
                        ));
                    }
                }
                None => notes.push(format!(
                    "CI is set: nothing was written; profile {name} was not recorded"
                )),
            },
            SnapshotSetup::Compare => {
                if !self.other_failed.is_empty() {
                    let mut failed = self.other_failed.clone();
                    failed.sort();
                    notes.push(format!(
                        "note: --compare-with did not meet the expectations of {} scenario(s): {}",
                        failed.len(),
                        failed.join(", ")
                    ));
                }
            }
            SnapshotSetup::Check {
                profile,
                pending_dir: Some(dir),
                ..
            } if self.pending > 0 => {
                notes.push(format!(
                    "wrote {} pending snapshot change(s) as .snap.new in {}; review them with `cargo insta review` (in the source tree) or `ipdr-conformance snapshots pending|accept|reject {profile}{}`",
                    self.pending,
                    dir.display(),
                    match dir.parent() {
                        Some(parent) if parent != std::path::Path::new(crate::outcome::snapshot::DEFAULT_SNAPSHOTS_DIR) => {
                            format!(" --snapshots-dir {}", parent.display())
                        }
                        _ => String::new(),
                    }
                ));
            }
            SnapshotSetup::Check { .. } => {}
        }
        notes
            .into_iter()
            .map(|note| self.redactor.text(&note))
            .collect()
    }
}

impl Reporter for SnapshotSummary {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted(run) => {
                self.context = run.snapshots.clone();
                self.redactor = run.redactor.clone();
            }
            Event::TrialFinished(finished) => {
                let name = &finished.record.name;
                let tally = finished.snapshots;
                self.pending += tally.pending;
                if tally.other_failed {
                    self.other_failed.push(name.clone());
                }
                let ran = finished
                    .scenario
                    .as_ref()
                    .is_some_and(|finding| !matches!(finding.outcome.verdict, Verdict::Ignored(_)));
                if let Some(SnapshotContext {
                    setup: SnapshotSetup::Record { .. },
                    ..
                }) = &self.context
                {
                    if ran
                        && finished
                            .scenario
                            .as_ref()
                            .is_some_and(|finding| finding.snapshot_error.is_none())
                    {
                        self.recorded += tally.recorded;
                        self.recorded_scenarios += 1;
                        if tally.incomplete {
                            self.incomplete.push(name.clone());
                        }
                    }
                }
                if let Some(check) = finished
                    .scenario
                    .as_ref()
                    .and_then(|finding| finding.snapshot.as_ref())
                    .filter(|check| check.has_differences())
                {
                    self.checks.push((name.clone(), check.clone()));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::snapshot::NormalizedStep;
    use crate::spec::scenario::Answer;
    use serde_json::json;
    use serde_json::Value;

    /// A check-order scenario: the profile answered the token envelope, the
    /// target the context one (step 1), and the profile lacks step 2.
    fn check_order() -> ScenarioCheck {
        let step = |index: usize, document: Value| NormalizedStep {
            index,
            name: format!("step {index}"),
            level: Level::Documented,
            answer: Answer::AsGiven,
            file_name: format!("s__{index:02}.snap"),
            request: "GET /api/ipdrcustomers".to_string(),
            document,
        };
        ScenarioCheck::compare(
            vec![
                step(
                    0,
                    json!({"status": 200, "body": {"status": "Error", "message": "ctx"}}),
                ),
                step(1, json!({"status": 200})),
            ],
            |candidate| {
                (candidate.index == 0)
                    .then(|| json!({"status": 200, "body": {"status": "ERROR", "message": "tok"}}))
            },
        )
    }

    fn failure(check: &ScenarioCheck, strict: bool) -> String {
        let outcome = ScenarioOutcome {
            steps: Vec::new(),
            verdict: Verdict::Passed,
            panic: None,
        };
        render_check_failure(
            check,
            &outcome,
            2,
            &Comparand::profile("reference"),
            &|_| None,
            strict,
            &Redactor::new("secret-token-value"),
        )
    }

    fn summary(check: &ScenarioCheck, strict: bool, all_levels: bool) -> String {
        render_summary(
            &[("errors::check_order".to_string(), check.clone())],
            &Comparand::profile("reference"),
            strict,
            all_levels,
            &Redactor::new("secret-token-value"),
        )
    }

    #[test]
    fn without_strict_differences_are_summarized_and_no_step_fails() {
        let check = check_order();
        assert_eq!(failure(&check, false), "");
        assert_eq!(
            summary(&check, false, false),
            "steps that differ from profile reference (reported, never a failure without --strict):\n\
             \x20 documented: 1 step(s)\n\
             \x20   errors::check_order · step 1 \"step 0\" (documented) differs from profile reference (beyond the canonical form; the step's own checks are the verdict; reported; fails only under --strict)\n\
             \x20     /status: profile \"ERROR\", got \"Error\"\n\
             \x20     /message: profile \"tok\", got \"ctx\"\n\
             \x20 observed: 1 step(s)\n\
             \x20   errors::check_order · step 2 \"step 1\" (documented) no snapshot in profile reference (reported; fails only under --strict)\n"
        );
    }

    #[test]
    fn under_strict_every_difference_is_in_the_failure_and_not_in_the_summary() {
        let check = check_order();
        let text = failure(&check, true);
        assert!(
            text.starts_with("snapshot diff against profile reference:\n  step 1/2 \"step 0\" (documented) differs from profile reference (beyond the canonical form; the step's own checks are the verdict; fails under --strict)\n"),
            "{text}"
        );
        assert!(
            text.contains("\n    /status: profile \"ERROR\", got \"Error\"\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\n  step 2/2 \"step 1\" (documented) no snapshot in profile reference (fails under --strict)"),
            "{text}"
        );
        assert_eq!(summary(&check, true, false), "");
        // Differential mode lists every step at every level, whether or not it failed.
        let listed = summary(&check, true, true);
        assert!(listed.contains("  documented: 1 step(s)\n"), "{listed}");
        assert!(listed.contains("  inferred: none\n"), "{listed}");
        assert!(listed.contains("  observed: 1 step(s)\n"), "{listed}");
    }

    #[test]
    fn pointers_read_as_parts_of_a_response() {
        assert_eq!(pointer_label("/status"), "(HTTP status)");
        assert_eq!(pointer_label("/body/Address"), "/Address");
        assert_eq!(pointer_label("/body"), "(body)");
        assert_eq!(
            pointer_label("/responses/1/body/message"),
            "(response group 2) /message"
        );
        assert_eq!(
            pointer_label("/responses/0/status"),
            "(response group 1) (HTTP status)"
        );
        assert_eq!(pointer_label("/responses/3"), "(response group 4)");
    }
}
