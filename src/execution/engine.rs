//! The run engine: takes the typed configuration of `run`, sets the run up
//! (scenarios, snapshot plan, target, preflight, ledger), makes the
//! [`Plan`], runs it concurrently on tokio and tells the reporters
//! everything through one [`EventSink`].
//!
//! Concurrency: the property trials start first (they are the longest
//! chains), each on a blocking thread of its own; scenario trials start as
//! slots free up, at most [`TRIALS_PER_JOB`] × `--jobs` at once, and a
//! `--compare-with` pair runs its two sides together. How many *requests*
//! are in flight is the request gate's business (`--jobs`, `--max-rps`),
//! one gate per target.
//!
//! Ctrl-C ([`Interrupt`]): no trial starts any more, a running scenario
//! stops before its next step (its in-flight requests finish or time out),
//! every trial deletes what it created, the run sweeps its contexts, and
//! [`Event::RunFinished`] says it was interrupted, with the trials not run.
//! A property trial that has started runs its cases to the end.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::Client;
use super::gate::{GateConfig, RequestGate};
use super::ledger_file::LedgerFile;
use super::plan::{Plan, PlanEntry, Selection, TrialWork};
use super::preflight::{self, FlagNames, PreflightError};
use super::property::{self, PropertyOptions};
use super::scenario_run::{RunIdentity, StepObserver, StepOutcome, Verdict};
use super::snapshot::{CompareOptions, SnapshotError, SnapshotOptions, SnapshotPlan};
use super::suite::Suite;
use super::target::{ApiToken, Target};
use crate::outcome::event::{
    Event, EventSink, FinishedTrial, RunCleanup, RunEnd, RunStart, ScenarioFinding, SnapshotTally,
};
use crate::outcome::redact::Redactor;
use crate::outcome::trial::{TrialRecord, TrialVerdict};
use crate::reference::{self, ServerConfig, UsersFixture};
use crate::spec::load::{load_dir, load_embedded, LoadedScenario};

/// Scenario trials in flight per request slot (`--jobs`). One: against a
/// 20 ms target four per slot ran no faster (the gate is the bound), while
/// every trial in flight holds its answers, and the default run's peak RSS
/// went from 54 MB to 61 MB.
pub const TRIALS_PER_JOB: usize = 1;

/// How often the progress line's figures are sent ([`Event::Heartbeat`]).
const HEARTBEAT: Duration = Duration::from_millis(200);

/// Which server a run talks to.
#[derive(Debug, Clone)]
pub enum TargetChoice {
    /// The embedded reference server, started on an ephemeral loopback port.
    Embedded,
    /// A server given with `--target`, with its credentials.
    Remote(Box<Target>),
}

/// Everything `run` needs, typed: what the command line turns into.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Which server.
    pub target: TargetChoice,
    /// Per-request timeout (for the embedded server; a remote [`Target`] carries its own).
    pub timeout: Duration,
    /// Extra attempts after a network error.
    pub retries: u32,
    /// Scenarios from this directory instead of the built-in ones.
    pub specs: Option<PathBuf>,
    /// Whether scenarios tagged `deep` run.
    pub deep: bool,
    /// The property trials' sizes and seed.
    pub property: PropertyOptions,
    /// Snapshot profiles and differential mode.
    pub snapshots: SnapshotOptions,
    /// Which trials run.
    pub selection: Selection,
    /// Where the ledger of a run against a remote target is kept.
    pub ledger_dir: PathBuf,
    /// Requests in flight, pace, circuit breaker (one gate per target).
    pub gate: GateConfig,
    /// Whether to send [`Event::Heartbeat`]s (someone draws a progress line).
    pub heartbeat: bool,
}

/// A problem that stops the run before any trial: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The options do not make a usable configuration.
    #[error("bad configuration: {0}")]
    Configuration(String),
    /// The scenario files could not be loaded.
    #[error("bad configuration: {0}")]
    Scenarios(#[from] crate::spec::load::LoadError),
    /// The embedded reference server did not start.
    #[error("the embedded reference server did not start: {0}")]
    Reference(#[from] reference::ReferenceError),
    /// The preflight found the target unusable, or the configuration not
    /// as the target answers (one line per mismatch, naming the flag).
    #[error("{0}")]
    Preflight(#[from] PreflightError),
    /// A snapshot profile cannot be read or written as asked.
    #[error("{0}")]
    Snapshots(#[from] SnapshotError),
    /// The selection keeps no trial.
    #[error("{0}")]
    NothingSelected(#[from] super::plan::NothingSelected),
    /// Ctrl-C arrived before the first trial.
    #[error("interrupted before any trial ran")]
    Interrupted,
}

/// Ctrl-C, as the engine sees it: asked for once, noticed everywhere.
#[derive(Debug, Default)]
pub struct Interrupt {
    requested: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Interrupt {
    /// A fresh, unrequested interrupt.
    pub fn new() -> Arc<Interrupt> {
        Arc::default()
    }

    /// Asks the run to stop (the first Ctrl-C).
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the run was asked to stop.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Returns once the run is asked to stop.
    pub async fn requested(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

/// How the engine ended a run that started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEnd {
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
}

/// The preflight of the `--target` (see [`super::preflight`]): the target
/// answers as this API does, and every configured context and user behave
/// as declared; otherwise exit 2, one line per mismatch, naming the flag.
pub async fn preflight(client: &Client) -> Result<(), SetupError> {
    Ok(preflight::check(client, &FlagNames::TARGET).await?)
}

/// The preflight of `sweep`: the endpoint and the credentials only (the
/// contexts it cleans come from the ledger).
pub async fn preflight_credentials(client: &Client) -> Result<(), SetupError> {
    Ok(preflight::check_scoped(client, &FlagNames::TARGET, preflight::Scope::Credentials).await?)
}

/// `url` as a target's base URL: http or https with a host, no trailing slash.
pub fn base_url(url: &str, flag: &str) -> Result<String, SetupError> {
    // "127.0.0.1:8000" is no URL, and "localhost:8000" one with the scheme "localhost".
    let has_host = reqwest::Url::parse(&format!("http://{url}"))
        .is_ok_and(|parsed| parsed.host_str().is_some_and(|host| !host.is_empty()));
    if !url.contains("://") && has_host {
        let scheme = if url.trim_end_matches('/').ends_with(":443") {
            "https"
        } else {
            "http"
        };
        return Err(SetupError::Configuration(format!(
            "{flag} {url:?} has no scheme: try {flag} {scheme}://{url}"
        )));
    }
    let parsed = reqwest::Url::parse(url).map_err(|error| {
        SetupError::Configuration(format!("{flag} {url:?} is not a URL: {error}"))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(SetupError::Configuration(format!(
            "{flag} {url:?} must be an http:// or https:// URL with a host"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// The scenarios of a run: from `specs`, or those built into the binary.
pub fn load_scenarios(specs: Option<&PathBuf>) -> Result<Vec<LoadedScenario>, SetupError> {
    Ok(match specs {
        Some(dir) => load_dir(dir)?,
        None => load_embedded()?,
    })
}

/// The plan of a run without a target (`--list`): the selected trials, nothing skipped yet.
pub fn plan_only(config: &RunConfig) -> Result<Plan, SetupError> {
    let scenarios = load_scenarios(config.specs.as_ref())?;
    Ok(Plan::select(&scenarios, &config.selection)?)
}

/// The `--compare-with` target: its URL with the `--compare-*` credentials,
/// each defaulting to the primary target's.
fn compare_target(
    compare: &CompareOptions,
    url: &str,
    primary: &Target,
) -> Result<Target, SetupError> {
    let or =
        |given: &Option<String>, default: &String| given.clone().unwrap_or_else(|| default.clone());
    let api_token = compare
        .compare_api_token
        .clone()
        .unwrap_or_else(|| primary.api_token.clone());
    if api_token.expose().is_empty() {
        return Err(SetupError::Configuration(
            "--compare-with needs an api token (IPDR_COMPARE_API_TOKEN, or the target's)"
                .to_string(),
        ));
    }
    Ok(Target {
        base_url: base_url(url, "--compare-with")?,
        api_token: ApiToken::new(api_token.expose()),
        username: or(&compare.compare_username, &primary.username),
        context: or(&compare.compare_context, &primary.context),
        second_context: compare
            .compare_second_context
            .clone()
            .or_else(|| primary.second_context.clone()),
        forbidden_context: compare
            .compare_forbidden_context
            .clone()
            .or_else(|| primary.forbidden_context.clone()),
        other: None,
        timeout: primary.timeout,
    })
}

/// A client for `target` through its own request gate.
fn gated_client(
    target: Target,
    retries: u32,
    gate: &GateConfig,
) -> Result<(Client, Arc<RequestGate>), SetupError> {
    let gate = RequestGate::new(gate.clone());
    let client = Client::new(target)
        .map_err(|error| SetupError::Configuration(error.to_string()))?
        .with_retries(retries)
        .with_gate(Arc::clone(&gate));
    Ok((client, gate))
}

/// Waits for `work`, unless Ctrl-C comes first.
async fn unless_interrupted<T>(
    interrupt: &Interrupt,
    work: impl std::future::Future<Output = T>,
) -> Result<T, SetupError> {
    tokio::select! {
        done = work => Ok(done),
        () = interrupt.requested() => Err(SetupError::Interrupted),
    }
}

/// Runs `config` to the end (or to Ctrl-C), telling `sink` everything.
/// Returns an error, before any trial, when the run cannot be set up.
pub async fn run(
    config: RunConfig,
    sink: EventSink,
    interrupt: Arc<Interrupt>,
) -> Result<EngineEnd, SetupError> {
    let started = Instant::now();
    let scenarios = load_scenarios(config.specs.as_ref())?;
    // Before any request: a selection that keeps nothing is the operator's slip.
    let plan = Plan::select(&scenarios, &config.selection)?;
    // Before any request: a profile to check must exist, and --record refuses to overwrite.
    let snapshots = SnapshotPlan::from_options(&config.snapshots)?;
    let (server, target) = match &config.target {
        TargetChoice::Remote(target) => (None, target.as_ref().clone()),
        TargetChoice::Embedded => {
            let users = UsersFixture::builtin();
            let credentials = users.harness();
            let server =
                reference::start(ServerConfig::new(users), ([127, 0, 0, 1], 0).into()).await?;
            let target = Target::from_harness(credentials, server.base_url(), config.timeout);
            (Some(server), target)
        }
    };
    let result = run_against(
        &config, scenarios, plan, snapshots, target, &sink, &interrupt,
    )
    .await;
    if let Some(server) = server {
        server.shutdown().await;
    }
    let (interrupted, not_run) = result?;
    sink.emit(Event::RunFinished(RunEnd {
        duration: started.elapsed(),
        interrupted,
        not_run,
    }));
    Ok(EngineEnd { interrupted })
}

/// What every trial of one run shares.
struct TrialContext {
    suite: Arc<Suite>,
    other: Option<Arc<Suite>>,
    snapshots: Arc<SnapshotPlan>,
    redactor: Redactor,
    sink: EventSink,
    interrupt: Arc<Interrupt>,
}

/// The run once its target is known: returns whether it was interrupted, and the trials not run.
async fn run_against(
    config: &RunConfig,
    scenarios: Vec<LoadedScenario>,
    plan: Plan,
    (mut snapshot_plan, mut notes): (SnapshotPlan, Vec<String>),
    target: Target,
    sink: &EventSink,
    interrupt: &Arc<Interrupt>,
) -> Result<(bool, Vec<String>), SetupError> {
    let redactor = target.redactor();
    let other_target = match &config.snapshots.compare.compare_with {
        Some(url) => Some(compare_target(&config.snapshots.compare, url, &target)?),
        None => None,
    };
    let (client, gate) = gated_client(target, config.retries, &config.gate)?;
    let other_client = match other_target {
        Some(other) => Some(gated_client(other, config.retries, &config.gate)?.0),
        None => None,
    };
    // Both targets at once: one round.
    let (mine, theirs) = unless_interrupted(interrupt, async {
        tokio::join!(preflight::check(&client, &FlagNames::TARGET), async {
            match &other_client {
                Some(other) => preflight::check(other, &FlagNames::COMPARE).await,
                None => Ok(()),
            }
        })
    })
    .await?;
    mine?;
    theirs?;
    snapshot_plan.prepare()?;
    let identity = RunIdentity::fresh();
    // A real target gets a ledger on disk, so `sweep` can clean up after a killed run.
    let ledger_file = match &config.target {
        TargetChoice::Remote(_) => Some(Arc::new(
            LedgerFile::create(
                &config.ledger_dir,
                &identity.run_id,
                &client.target().base_url,
            )
            .map_err(|error| SetupError::Configuration(error.to_string()))?,
        )),
        TargetChoice::Embedded => None,
    };
    let plan = plan.against(&scenarios, &client, &identity, config.deep);
    let suite = Suite::with_options(
        client,
        scenarios.clone(),
        identity,
        ledger_file,
        config.deep,
    );
    // The --compare-with target is a real server too: its own ledger, so `sweep
    // --target <that URL>` finds what a killed run left there.
    let other_suite = match other_client {
        Some(other) => {
            let other_identity = RunIdentity::fresh();
            let other_ledger = LedgerFile::create(
                &config.ledger_dir,
                &other_identity.run_id,
                &other.target().base_url,
            )
            .map_err(|error| SetupError::Configuration(error.to_string()))?;
            Some(Suite::with_options(
                other,
                scenarios,
                other_identity,
                Some(Arc::new(other_ledger)),
                config.deep,
            ))
        }
        None => None,
    };
    if let Some(other) = &other_suite {
        notes.push(format!(
            "--compare-with run id {} (every record it creates there starts with {})",
            other.identity().run_id,
            other.identity().uid_prefix()
        ));
    }
    if config.selection.only.is_some() {
        notes.push(format!(
            "rerunning {} trial(s) that failed in the earlier report",
            plan.entries.len()
        ));
    }
    sink.emit(Event::RunStarted(Box::new(RunStart {
        run_id: suite.identity().run_id.clone(),
        uid_prefix: suite.identity().uid_prefix(),
        target: suite.client().target().base_url.clone(),
        trials: plan.planned(),
        filtered_out: plan.filtered_out,
        notes,
        snapshots: Some(snapshot_plan.context()),
        redactor: redactor.clone(),
    })));
    let announce = {
        let (sink, interrupt) = (sink.clone(), Arc::clone(interrupt));
        tokio::spawn(async move {
            interrupt.requested().await;
            sink.emit(Event::Interrupting);
        })
    };
    let heartbeat = config.heartbeat.then(|| {
        let (sink, gate) = (sink.clone(), Arc::clone(&gate));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(HEARTBEAT);
            loop {
                ticks.tick().await;
                sink.emit(Event::Heartbeat {
                    requests_sent: gate.requests_sent(),
                });
            }
        })
    });
    let context = Arc::new(TrialContext {
        suite: Arc::clone(&suite),
        other: other_suite.clone(),
        snapshots: Arc::new(snapshot_plan),
        redactor,
        sink: sink.clone(),
        interrupt: Arc::clone(interrupt),
    });
    let finished = schedule(&plan, &context, &config.property, config.gate.jobs).await;
    if let Some(heartbeat) = heartbeat {
        heartbeat.abort();
    }
    announce.abort();
    let interrupted = interrupt.is_requested();
    let not_run: Vec<String> = plan
        .entries
        .iter()
        .filter(|entry| !finished.contains(&entry.name))
        .map(|entry| entry.name.clone())
        .collect();
    sink.emit(Event::TrialsFinished {
        interrupted,
        not_run: not_run.clone(),
    });
    sink.emit(Event::RunCleanup(
        clean_up_run(&suite, other_suite.as_deref()).await,
    ));
    Ok((interrupted, not_run))
}

/// Runs every trial of `plan`; returns the names of those that finished.
async fn schedule(
    plan: &Plan,
    context: &Arc<TrialContext>,
    property_options: &PropertyOptions,
    jobs: usize,
) -> BTreeSet<String> {
    let mut tasks = tokio::task::JoinSet::new();
    // One seed for both property trials, chosen now so that both print the same.
    let seed = property_options.seed.resolve();
    // The property trials are the longest chains: they start first, beside the scenarios.
    for entry in &plan.entries {
        let TrialWork::Property(trial) = entry.work else {
            continue;
        };
        let (context, options, name) = (
            Arc::clone(context),
            property_options.clone(),
            entry.name.clone(),
        );
        let runtime = tokio::runtime::Handle::current();
        tasks.spawn(async move {
            let finished = tokio::task::spawn_blocking(move || {
                property::run_as_trial(
                    trial,
                    &runtime,
                    &context.suite,
                    &options,
                    seed,
                    &context.sink,
                );
            })
            .await;
            finished.is_ok().then_some(name)
        });
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(
        jobs.max(1).saturating_mul(TRIALS_PER_JOB),
    ));
    for entry in &plan.entries {
        let TrialWork::Scenario(index) = entry.work else {
            continue;
        };
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => permit,
            () = context.interrupt.requested() => break,
        };
        let Ok(permit) = permit else { break };
        if context.interrupt.is_requested() {
            break;
        }
        let (context, entry) = (Arc::clone(context), entry.clone());
        tasks.spawn(async move {
            let _permit = permit;
            scenario_trial(&context, &entry, index)
                .await
                .then_some(entry.name)
        });
    }
    let mut finished = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Some(name)) = joined {
            finished.insert(name);
        }
    }
    finished
}

/// Turns one scenario's steps into events, and stops it before its next step after Ctrl-C.
struct TrialObserver {
    trial: String,
    sink: EventSink,
    interrupt: Arc<Interrupt>,
    stopped: AtomicBool,
}

impl StepObserver for TrialObserver {
    fn proceed(&self, step: usize) -> Result<(), String> {
        if self.interrupt.is_requested() {
            self.stopped.store(true, Ordering::SeqCst);
            return Err(format!(
                "interrupted (Ctrl-C) before step {} was sent",
                step + 1
            ));
        }
        Ok(())
    }

    fn sent(&self, step: usize, method: &str, url: &str, copies: usize) {
        self.sink.emit(Event::StepSent {
            trial: self.trial.clone(),
            step,
            method: method.to_string(),
            url: url.to_string(),
            copies,
        });
    }

    fn answered(&self, step: &StepOutcome) {
        let status = step
            .exchanges
            .first()
            .and_then(|exchange| exchange.response.as_ref().ok())
            .map(|response| response.status);
        self.sink.emit(Event::StepAnswered {
            trial: self.trial.clone(),
            step: step.index,
            status,
            met: step.met(),
        });
    }
}

/// One scenario trial (with its `--compare-with` twin): events out; true when it finished.
async fn scenario_trial(context: &TrialContext, entry: &PlanEntry, index: usize) -> bool {
    let sink = &context.sink;
    let name = entry.name.clone();
    let started = Instant::now();
    let suite = &context.suite;
    let loaded = &suite.scenarios()[index];
    sink.emit(Event::TrialStarted {
        trial: name.clone(),
    });
    if let Some(reason) = &entry.skip {
        let verdict = TrialVerdict::Skipped {
            reason: reason.clone(),
        };
        finish_unrun(context, loaded, verdict, started);
        return true;
    }
    let observer = Arc::new(TrialObserver {
        trial: name.clone(),
        sink: sink.clone(),
        interrupt: Arc::clone(&context.interrupt),
        stopped: AtomicBool::new(false),
    });
    let mine = suite.run_steps(index, Arc::clone(&observer) as Arc<dyn StepObserver>);
    let ((outcome, ledger), theirs) = match &context.other {
        Some(other) => {
            let (mine, theirs) = tokio::join!(mine, other.run_one(index));
            (mine, Some(theirs))
        }
        None => (mine.await, None),
    };
    if observer.stopped.load(Ordering::SeqCst) {
        // Cut short by Ctrl-C: not a verdict; what it created goes all the same.
        let (deletions, problems) = suite.clean_up(&ledger).await;
        sink.emit(Event::Cleanup {
            trial: name,
            deletions,
            problems,
        });
        return false;
    }
    let plan = &context.snapshots;
    let mut tally = SnapshotTally::default();
    let (check, snapshot_error) = if matches!(outcome.verdict, Verdict::Ignored(_)) {
        (None, None)
    } else {
        let steps = suite.normalized_steps(index, &outcome);
        let recorded = steps.len();
        let other_steps = match (&context.other, &theirs) {
            (Some(other), Some(their_outcome)) => {
                tally.other_failed = matches!(
                    their_outcome.verdict,
                    Verdict::Failed(_) | Verdict::Errored(_)
                );
                Some(other.normalized_steps(index, their_outcome))
            }
            _ => None,
        };
        match plan.apply(loaded, steps, other_steps) {
            Ok((check, pending)) => {
                tally.pending = pending;
                if let SnapshotPlan::Record { .. } = **plan {
                    tally.recorded = recorded;
                    tally.incomplete = outcome.verdict != Verdict::Passed;
                }
                (check, None)
            }
            Err(error) => (None, Some(format!("snapshot profile: {error}"))),
        }
    };
    let verdict = match &snapshot_error {
        Some(reason) => TrialVerdict::Error {
            reason: context.redactor.text(reason),
        },
        None => TrialVerdict::of_scenario(
            &outcome,
            check
                .as_ref()
                .is_some_and(|check| check.fails(plan.strict())),
            &context.redactor,
        ),
    };
    sink.emit(Event::Verdict {
        trial: name.clone(),
        verdict: verdict.clone(),
    });
    let (deletions, problems) = suite.clean_up(&ledger).await;
    sink.emit(Event::Cleanup {
        trial: name,
        deletions,
        problems,
    });
    // The step that failed first; else the snapshot difference that failed it (--strict).
    let first_difference = verdict
        .is_failure()
        .then(|| {
            snapshot_error.clone().or_else(|| {
                outcome.first_difference().or_else(|| {
                    check
                        .as_ref()
                        .and_then(|check| check.first_failure(plan.strict(), &plan.comparand()))
                })
            })
        })
        .flatten()
        .map(|text| context.redactor.text(&text));
    let record = TrialRecord::from_scenario(
        loaded,
        &outcome,
        verdict,
        None,
        started.elapsed(),
        &context.redactor,
    );
    sink.emit(Event::TrialFinished(Box::new(FinishedTrial {
        record,
        first_difference,
        kind: entry.kind.clone(),
        scenario: Some(ScenarioFinding {
            loaded: Arc::new(loaded.clone()),
            outcome,
            snapshot: check.filter(|check| check.has_differences() || check.fails(plan.strict())),
            snapshot_error,
        }),
        snapshots: tally,
        observations: Vec::new(),
    })));
    true
}

/// A trial that did not run (skipped): its verdict, an empty cleanup, its record.
fn finish_unrun(
    context: &TrialContext,
    loaded: &LoadedScenario,
    verdict: TrialVerdict,
    started: Instant,
) {
    let name = loaded.scenario.name.clone();
    context.sink.emit(Event::Verdict {
        trial: name.clone(),
        verdict: verdict.clone(),
    });
    context.sink.emit(Event::Cleanup {
        trial: name,
        deletions: 0,
        problems: Vec::new(),
    });
    let outcome = crate::outcome::scenario::ScenarioOutcome {
        steps: Vec::new(),
        verdict: Verdict::Ignored(match &verdict {
            TrialVerdict::Skipped { reason } => reason.clone(),
            other => other.name().to_string(),
        }),
        panic: None,
    };
    let record = TrialRecord::from_scenario(
        loaded,
        &outcome,
        verdict,
        None,
        started.elapsed(),
        &context.redactor,
    );
    context
        .sink
        .emit(Event::TrialFinished(Box::new(FinishedTrial {
            record,
            kind: loaded.scenario.level.as_str().to_string(),
            scenario: None,
            snapshots: SnapshotTally::default(),
            observations: Vec::new(),
            first_difference: None,
        })));
}

/// After the trials: anything of this run still on the target (or on
/// `--compare-with`) is deleted, and the ledger file retired when nothing is left.
async fn clean_up_run(suite: &Suite, other: Option<&Suite>) -> RunCleanup {
    let mut cleanup = RunCleanup::default();
    let first = suite.sweep_leftovers().await;
    for (context, count) in first.found.iter().cloned() {
        cleanup.leftovers.push((context, count, false));
    }
    if let Some(file) = suite.ledger_file() {
        // Retired only when every context was read and the second look finds nothing.
        if first.unlisted.is_empty() && suite.sweep_leftovers().await.is_clean() {
            if let Err(error) = file.retire() {
                cleanup.problems.push(error.to_string());
            }
        } else {
            cleanup.ledger_kept = Some(file.path().to_path_buf());
        }
    }
    if let Some(other) = other {
        let theirs = other.sweep_leftovers().await;
        for (context, count) in theirs.found.iter().cloned() {
            cleanup.leftovers.push((context, count, true));
        }
        if let Some(file) = other.ledger_file() {
            if theirs.unlisted.is_empty() && other.sweep_leftovers().await.is_clean() {
                if let Err(error) = file.retire() {
                    cleanup.problems.push(error.to_string());
                }
            } else if cleanup.ledger_kept.is_none() {
                cleanup.ledger_kept = Some(file.path().to_path_buf());
            } else {
                cleanup.problems.push(format!(
                    "records of this run may be left on --compare-with {}; they are listed in {}; run `ipdr-conformance sweep --target {}` to delete them",
                    other.client().target().base_url,
                    file.path().display(),
                    other.client().target().base_url
                ));
            }
        }
        cleanup.problems.extend(other.take_problems());
    }
    cleanup.problems.extend(suite.take_problems());
    cleanup
}
