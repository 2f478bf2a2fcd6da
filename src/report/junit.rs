//! JUnit XML, as GitLab, Jenkins and GitHub test reporters read it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::{write_file, CompactRun, ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::trial::{RunReport, TrialVerdict};

/// A failure's message when its trial named no first difference.
const DEPARTS: &str = "the target departs from the contract";

/// The report as JUnit XML: one testsuite, one testcase per trial, with its
/// level and citation as properties. A failure's message is its trial's
/// first difference (`first_differences`, by trial name), so a CI page
/// tells failures apart; the whole explanation is the failure's body.
pub fn render(
    report: &RunReport,
    first_differences: &BTreeMap<String, String>,
) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new("ipdr-conformance");
    suite.add_property(Property::new("target", report.target.as_str()));
    suite.add_property(Property::new("run_id", report.run_id.as_str()));
    if report.interrupted {
        // Ctrl-C: the testcases are the trials done so far.
        suite.add_property(Property::new("interrupted", "true"));
        suite.add_property(Property::new(
            "not_run",
            report.not_run.len().to_string().as_str(),
        ));
    }
    suite.set_time(std::time::Duration::from_secs_f64(
        report.duration_ms / 1000.0,
    ));
    for trial in &report.trials {
        let status = match &trial.verdict {
            TrialVerdict::Pass => TestCaseStatus::success(),
            TrialVerdict::Fail => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(
                    first_differences
                        .get(&trial.name)
                        .map_or(DEPARTS, String::as_str),
                );
                status.set_type(trial.level.as_str());
                if let Some(message) = &trial.message {
                    status.set_description(message.as_str());
                }
                status
            }
            TrialVerdict::Error { reason } => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message(reason.as_str());
                if let Some(message) = &trial.message {
                    status.set_description(message.as_str());
                }
                status
            }
            TrialVerdict::Skipped { reason } | TrialVerdict::Unsupported { reason } => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!("{}: {reason}", trial.verdict.name()));
                status
            }
        };
        let mut case = TestCase::new(trial.name.as_str(), status);
        let classname = trial
            .name
            .rsplit_once("::")
            .map_or("ipdr", |(head, _)| head);
        case.set_classname(classname);
        case.set_time(std::time::Duration::from_secs_f64(
            trial.duration_ms / 1000.0,
        ));
        case.add_property(Property::new("level", trial.level.as_str()));
        case.add_property(Property::new("citation", trial.citation.as_str()));
        case.add_property(Property::new("verdict", trial.verdict.name()));
        // A step skipped by its condition is neither a pass nor a failure.
        for skipped in &trial.skipped_steps {
            case.add_property(Property::new("skipped_step", skipped.line()));
        }
        suite.add_test_case(case);
    }
    let mut junit = Report::new("ipdr-conformance");
    junit.add_test_suite(suite);
    junit.to_string()
}

/// Writes the JUnit report when the run ends.
#[derive(Debug)]
pub struct JunitReporter {
    path: PathBuf,
    run: CompactRun,
    /// Each failed trial's first difference, by name.
    first_differences: BTreeMap<String, String>,
}

impl JunitReporter {
    /// A JUnit report written to `path`.
    pub fn new(path: PathBuf) -> JunitReporter {
        JunitReporter {
            path,
            run: CompactRun::default(),
            first_differences: BTreeMap::new(),
        }
    }
}

impl Reporter for JunitReporter {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        if let Event::TrialFinished(finished) = event {
            if let Some(first) = &finished.first_difference {
                self.first_differences
                    .insert(finished.record.name.clone(), first.clone());
            }
        }
        if let Some(report) = self.run.event(event) {
            let xml = render(&report, &self.first_differences)
                .map_err(|error| ReportError::new(&self.path, error))?;
            let xml = self.run.redact(&xml);
            write_file(&self.path, |out| out.write_all(xml.as_bytes()))?;
        }
        Ok(())
    }
}
