//! The one event stream of a run. The engine emits; every output (console,
//! progress line, JUnit, JSON, HTML, Markdown, the snapshot summary, the
//! exit status) is a reporter that consumes it.
//!
//! Each trial emits, in order: [`Event::TrialStarted`], for a scenario a
//! [`Event::StepSent`] and [`Event::StepAnswered`] per step, then
//! [`Event::Verdict`], [`Event::Cleanup`] and [`Event::TrialFinished`]. The
//! run emits [`Event::RunStarted`] first, [`Event::TrialsFinished`] when no
//! trial runs any more, [`Event::RunCleanup`], and [`Event::RunFinished`]
//! last (marked interrupted after Ctrl-C).

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use super::redact::Redactor;
use super::scenario::ScenarioOutcome;
use super::snapshot::{Comparand, ScenarioCheck};
use super::trial::{TrialRecord, TrialVerdict};
use crate::spec::load::LoadedScenario;

/// A trial of the plan, as reporters know it before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTrial {
    /// Its name, e.g. `errors::invalid_token::list`.
    pub name: String,
    /// Its kind as libtest shows it: the level (`documented`...) or `property`.
    pub kind: String,
}

/// Where a profile's snapshot files are, for naming one in output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotHome {
    /// A directory on disk.
    Directory(PathBuf),
    /// The copy of profile `.0` built into the binary.
    BuiltIn(String),
}

impl SnapshotHome {
    /// Where snapshot `file_name` lives, for people.
    pub fn path_of(&self, file_name: &str) -> String {
        match self {
            SnapshotHome::Directory(dir) => dir.join(file_name).display().to_string(),
            SnapshotHome::BuiltIn(name) => format!("snapshots/{name}/{file_name} (built in)"),
        }
    }
}

/// What the run does with snapshots, as the snapshot summary needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotSetup {
    /// Every step is checked against a profile.
    Check {
        /// The profile's name.
        profile: String,
        /// Where its files are.
        home: SnapshotHome,
        /// Where `.snap.new` files are written (`--write-pending`), if anywhere.
        pending_dir: Option<PathBuf>,
    },
    /// A profile is recorded from the target.
    Record {
        /// The profile's name.
        name: String,
        /// Where it is written; None when CI is set (nothing is written).
        dir: Option<PathBuf>,
    },
    /// Every scenario runs against `--compare-with` too.
    Compare,
}

/// How the run compares snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotContext {
    /// Check, record or compare.
    pub setup: SnapshotSetup,
    /// How output names the two sides.
    pub comparand: Comparand,
    /// Whether every difference fails (`--strict`).
    pub strict: bool,
}

impl SnapshotContext {
    /// Where snapshot `file_name` lives, for people (None in differential mode).
    pub fn snapshot_path(&self, file_name: &str) -> Option<String> {
        match &self.setup {
            SnapshotSetup::Check { home, .. } => Some(home.path_of(file_name)),
            SnapshotSetup::Record { dir: Some(dir), .. } => {
                Some(dir.join(file_name).display().to_string())
            }
            _ => None,
        }
    }
}

/// What reporters know when the run starts.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// The run id (UserID prefix `zzconf-<run id>-`).
    pub run_id: String,
    /// Every UserID the run creates starts with this.
    pub uid_prefix: String,
    /// The target's base URL.
    pub target: String,
    /// The trials that run, in plan order (skipped ones included).
    pub trials: Vec<PlannedTrial>,
    /// Trials the filter, `--skip`, `--exact` or `--rerun-failed` left out.
    pub filtered_out: usize,
    /// Lines for people before the first trial (profile, differential mode...).
    pub notes: Vec<String>,
    /// Snapshot checking, recording or comparing (None with `--list`).
    pub snapshots: Option<SnapshotContext>,
    /// Removes the tokens from what reporters render.
    pub redactor: Redactor,
}

/// One scenario trial's findings, for the reporters that explain them.
#[derive(Debug, Clone)]
pub struct ScenarioFinding {
    /// The scenario.
    pub loaded: Arc<LoadedScenario>,
    /// Its steps (bodies as excerpts) and how they ended.
    pub outcome: ScenarioOutcome,
    /// The snapshot comparison, when the run compares.
    pub snapshot: Option<ScenarioCheck>,
    /// Why the snapshot step itself failed (a profile could not be written...).
    pub snapshot_error: Option<String>,
}

/// What snapshot recording did for one trial.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotTally {
    /// Snapshots recorded.
    pub recorded: usize,
    /// Whether a recorded scenario stopped early (its later steps are not in the profile).
    pub incomplete: bool,
    /// `.snap.new` files written.
    pub pending: usize,
    /// Whether the `--compare-with` target failed the scenario's own checks.
    pub other_failed: bool,
}

/// A finished trial: its record, and what explains it.
#[derive(Debug, Clone)]
pub struct FinishedTrial {
    /// Verdict, level, citation, timing, compact transcript; `message` is
    /// filled by the reporters' side from `scenario` (or given by a property trial).
    pub record: TrialRecord,
    /// Its kind as libtest shows it (`documented`, `property`...).
    pub kind: String,
    /// A scenario trial's steps and snapshot comparison.
    pub scenario: Option<ScenarioFinding>,
    /// Snapshot recording counts.
    pub snapshots: SnapshotTally,
    /// What the target did where the page is silent, one line per step (filled like `message`).
    pub observations: Vec<String>,
    /// For a failed or errored trial, the first thing that differs, in one
    /// line and redacted (JUnit's failure message): `step 4 "the list":
    /// /3/Address: expected "Partially Updated", got "Put"`.
    pub first_difference: Option<String>,
}

/// What the run cleaned up after its trials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCleanup {
    /// Records of this run still on the target, deleted: (context, count, on `--compare-with`).
    pub leftovers: Vec<(String, usize, bool)>,
    /// Records may be left; the ledger file that lists them, for `sweep`.
    pub ledger_kept: Option<PathBuf>,
    /// Problems deleting or retiring the ledger.
    pub problems: Vec<String>,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// Wall time of the whole run.
    pub duration: Duration,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
    /// Trials of the plan that did not finish (an interrupted run), in plan order.
    pub not_run: Vec<String>,
}

/// One thing that happened in a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// The plan is made and the target answered: trials are about to run.
    RunStarted(Box<RunStart>),
    /// A line for people during the run (a property trial's seed, a note).
    Note(String),
    /// A trial began.
    TrialStarted {
        /// The trial.
        trial: String,
    },
    /// A scenario step's request (or its concurrent copies) is going out.
    StepSent {
        /// The trial.
        trial: String,
        /// 0-based step.
        step: usize,
        /// HTTP method.
        method: String,
        /// Full URL of the first copy.
        url: String,
        /// Copies sent at once (1 unless the step is concurrent).
        copies: usize,
    },
    /// A scenario step's answers came back and were checked.
    StepAnswered {
        /// The trial.
        trial: String,
        /// 0-based step.
        step: usize,
        /// The first answer's HTTP status (None: no answer).
        status: Option<u16>,
        /// Whether the step met its expectation.
        met: bool,
    },
    /// A trial's verdict is known (its cleanup follows).
    Verdict {
        /// The trial.
        trial: String,
        /// How it ended.
        verdict: TrialVerdict,
    },
    /// A trial deleted what it may have created.
    Cleanup {
        /// The trial.
        trial: String,
        /// Deletions sent.
        deletions: usize,
        /// Deletions that failed.
        problems: Vec<String>,
    },
    /// A trial is done.
    TrialFinished(Box<FinishedTrial>),
    /// Requests sent so far (for the progress line), every fraction of a second.
    Heartbeat {
        /// Requests sent by the run so far.
        requests_sent: u64,
    },
    /// Ctrl-C arrived: no trial starts any more; those running stop at their next step.
    Interrupting,
    /// Every trial is done (or, interrupted, stopped); the run's own cleanup follows.
    TrialsFinished {
        /// Whether Ctrl-C stopped the run.
        interrupted: bool,
        /// Trials of the plan that did not finish, in plan order.
        not_run: Vec<String>,
    },
    /// The run's own cleanup after the trials.
    RunCleanup(RunCleanup),
    /// The run is over; every report can be completed.
    RunFinished(RunEnd),
}

/// Where the engine sends events: a channel to the reporters, or nowhere.
#[derive(Debug, Clone, Default)]
pub struct EventSink {
    sender: Option<Sender<Event>>,
}

impl EventSink {
    /// A sink and the receiving end the reporters read.
    pub fn channel() -> (EventSink, Receiver<Event>) {
        let (sender, receiver) = std::sync::mpsc::channel();
        (
            EventSink {
                sender: Some(sender),
            },
            receiver,
        )
    }

    /// A sink that drops every event (self-checks, benchmarks).
    pub fn silent() -> EventSink {
        EventSink::default()
    }

    /// Sends one event; a reporter side that is gone drops it.
    pub fn emit(&self, event: Event) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(event);
        }
    }
}
