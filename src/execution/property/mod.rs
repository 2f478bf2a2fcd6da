//! Property-based operation sequences: generated requests checked against
//! the model of the documented contract ([`crate::spec::model`]), shrunk to
//! a minimal reproduction on failure.
//!
//! Two trials join every `run`:
//! - `property::crud_sequences`: sequences of up to `--max-ops` requests
//!   (every operation, every auth variant the target has configured, the
//!   other user's name with the configured token) on a small pool of
//!   UserIDs and their look-alikes (a prefix, an extension, another case, a
//!   literal `%XX`), each answer checked, then the list of every visible
//!   context compared with the model;
//! - `property::concurrent_linearizable`: a few clients sending short
//!   sequences at once on overlapping UserIDs, accepted iff some order of
//!   the requests explains every answer and the final list.
//!
//! Each case works on a fresh pool of its own UserIDs (`<run prefix>p<case>-u<n>`)
//! and deletes them afterwards (even when it fails or panics), so shrinking,
//! which replays cases against the live target, always starts from a clean
//! slate, and cases are independent: up to
//! [`PropertyOptions::cases_in_flight`] of them run at once ([`mod@drive`]), the
//! run's request gate bounding the requests in flight. Shrinking replays run
//! one at a time.
//!
//! Verdicts do not depend on the run: without `--seed` both trials use
//! [`DEFAULT_SEED`], printed with the fingerprint of what was generated.
//! Against a deterministic server the sequential trial sends the same
//! requests every run, however many cases run at once: the first failing
//! case is the first by index, not by time (case numbers are its own;
//! against a large target the same lists are left out). Only a server whose
//! answers to one case depend on the records of others (a list cut at 50
//! customers) can tell concurrent cases from sequential ones. The concurrent
//! trial generates the same histories, but how they interleave on the server
//! varies from run to run.

pub mod concurrent;
pub mod drive;
pub mod exchange;
pub mod generate;
pub mod repro;
pub mod sequence;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::execution::client::Client;
use crate::execution::ledger_file::LedgerFile;
use crate::execution::list_stream::{Glance, KeepWhere};
use crate::execution::scenario_run::{CleanupLedger, RunIdentity};
use crate::execution::suite::Suite;
use crate::outcome::event::{Event, EventSink, FinishedTrial, SnapshotTally};
use crate::outcome::trial::{millis, FailedStep, TrialRecord, TrialVerdict};
use crate::report::redact::Redactor;
use crate::spec::contract::Operation;
use crate::spec::model::{operation_tag, Request, Violation};

use concurrent::run_history;
use drive::{drive, isolated, CaseOutcome, Driven, Plan, Verdict};
use generate::AuthChoices;
use sequence::{run_case, scope, CaseFailure, CaseRun, Lists};

/// Cases of `property::crud_sequences` per run (see docs/properties.md for the measurement).
pub const DEFAULT_CASES: u32 = 128;
/// Longest generated sequence.
pub const DEFAULT_MAX_OPS: usize = 30;
/// Cases of `property::concurrent_linearizable` per run.
pub const DEFAULT_CONCURRENT_CASES: u32 = 64;
/// UserIDs per sequential case: small, so that requests collide.
pub const POOL_SIZE: usize = 3;
/// Clients of a concurrent case.
pub const CONCURRENT_CLIENTS: usize = 3;
/// UserIDs per concurrent case.
pub const CONCURRENT_POOL_SIZE: usize = 2;
/// Requests per concurrent client (3 clients × 3 requests: at most 1680 interleavings).
pub const CONCURRENT_MAX_OPS: usize = 3;
/// Shrinking stops after this many replays...
const MAX_SHRINK_REPLAYS: u32 = 2048;
/// ...or after this long.
const MAX_SHRINK_MILLIS: u32 = 60_000;
/// A concurrent history replays nondeterministically, so shrinking it further rarely pays.
const MAX_CONCURRENT_SHRINK_REPLAYS: u32 = 256;
/// Cases (or histories) of one trial running at once by default: more than any `--jobs`
/// worth using, so that the run's request gate, not the property engine, bounds the
/// requests in flight (a sequential case has one request in flight, a history three).
pub const DEFAULT_CASES_IN_FLIGHT: usize = 64;
/// Numbers every sequential case in this process, so that no two cases of one run share
/// UserIDs, even across several property runs under one run identity. Each trial has its
/// own counter, so that a run's UserIDs do not depend on how the two trials interleave;
/// each trial takes a block of numbers and numbers its cases by index, so that they do not
/// depend on which case ran first either.
static SEQUENCE_CASE_NUMBERS: AtomicUsize = AtomicUsize::new(0);
/// Numbers every concurrent case in this process.
static HISTORY_CASE_NUMBERS: AtomicUsize = AtomicUsize::new(0);
/// Numbers every check of a written reproduction in this process.
static REPRO_NUMBERS: AtomicUsize = AtomicUsize::new(0);
/// Mixed into the seed for the concurrent trial, so its stream differs from the sequential one.
const CONCURRENT_SEED_SALT: u64 = 0x5eed_c0c0_a11e_1e57;

/// The seed of the generated sequences when `--seed` is not given: fixed, so that two
/// runs of one build against one server give the same verdicts.
pub const DEFAULT_SEED: u64 = 1010;

/// Which seed the property trials use (`--seed`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SeedChoice {
    /// No `--seed`: [`DEFAULT_SEED`].
    #[default]
    Default,
    /// `--seed random`: a fresh seed, printed with the command that replays it.
    Random,
    /// `--seed N`: these sequences again.
    Given(u64),
}

/// `--seed` was neither a number nor `random`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a number (to replay a run) or `random`, got {0:?}")]
pub struct SeedParseError(String);

impl std::str::FromStr for SeedChoice {
    type Err = SeedParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "random" => Ok(SeedChoice::Random),
            "default" => Ok(SeedChoice::Default),
            number => number
                .parse()
                .map(SeedChoice::Given)
                .map_err(|_| SeedParseError(text.to_string())),
        }
    }
}

impl std::fmt::Display for SeedChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedChoice::Default => f.write_str("default"),
            SeedChoice::Random => f.write_str("random"),
            SeedChoice::Given(seed) => write!(f, "{seed}"),
        }
    }
}

impl SeedChoice {
    /// The seed to use: [`DEFAULT_SEED`], a fresh one, or the one given.
    pub fn resolve(self) -> u64 {
        self.unwrap_or(DEFAULT_SEED)
    }

    /// The seed given with `--seed` (a fresh one for `random`), or `default` when none was given.
    pub fn unwrap_or(self, default: u64) -> u64 {
        match self {
            SeedChoice::Default => default,
            SeedChoice::Random => fresh_seed(),
            SeedChoice::Given(seed) => seed,
        }
    }

    /// How the printed seed was chosen, for the line every run prints.
    fn origin(self) -> &'static str {
        match self {
            SeedChoice::Default => "the default; --seed random explores others; ",
            SeedChoice::Random => "random; ",
            SeedChoice::Given(_) => "",
        }
    }
}

/// Options of the property trials.
#[derive(Debug, Clone)]
pub struct PropertyOptions {
    /// Generated sequences for property::crud_sequences.
    pub cases: u32,
    /// Longest generated sequence, in requests.
    pub max_ops: usize,
    /// Generated concurrent histories for property::concurrent_linearizable.
    pub concurrent_cases: u32,
    /// Seed of the generated sequences, printed on every run. Without --seed a fixed default,
    /// so two runs against one server give the same verdicts; `random` draws a fresh seed;
    /// a number replays the run that printed it.
    pub seed: SeedChoice,
    /// Where a failing property writes its reproduction scenario.
    pub repro_dir: PathBuf,
    /// The run's cleanup ledger on disk (a run against `--target`): every UserID a case
    /// may create, look-alikes included, is written there before its request goes out,
    /// so `sweep` finds it after a killed run.
    pub ledger_file: Option<Arc<LedgerFile>>,
    /// Cases (or histories) of one trial running at once; 1 runs them one after another.
    /// The verdict, the minimal case and the fingerprint do not depend on it. `--jobs`
    /// bounds the requests in flight.
    pub cases_in_flight: usize,
}

impl Default for PropertyOptions {
    fn default() -> Self {
        PropertyOptions {
            cases: DEFAULT_CASES,
            max_ops: DEFAULT_MAX_OPS,
            concurrent_cases: DEFAULT_CONCURRENT_CASES,
            seed: SeedChoice::Default,
            repro_dir: PathBuf::from(crate::execution::out_dir::DEFAULT_OUT_DIR)
                .join(crate::execution::out_dir::REPROS_SUBDIR),
            ledger_file: None,
            cases_in_flight: DEFAULT_CASES_IN_FLIGHT,
        }
    }
}

/// The two property trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyTrial {
    /// Sequences checked request by request, then the list.
    CrudSequences,
    /// Concurrent histories checked for linearizability.
    ConcurrentLinearizable,
}

impl PropertyTrial {
    /// Both trials.
    pub const ALL: [PropertyTrial; 2] = [
        PropertyTrial::CrudSequences,
        PropertyTrial::ConcurrentLinearizable,
    ];

    /// The short name (`crud_sequences`).
    pub fn short_name(self) -> &'static str {
        match self {
            PropertyTrial::CrudSequences => "crud_sequences",
            PropertyTrial::ConcurrentLinearizable => "concurrent_linearizable",
        }
    }

    /// The trial name (`property::crud_sequences`).
    pub fn name(self) -> String {
        format!("property::{}", self.short_name())
    }
}

/// A property trial's failure, ready to show.
#[derive(Debug, Clone)]
pub struct PropertyFailure {
    /// The violation of the minimal case (None: it could not be checked).
    pub violation: Option<Violation>,
    /// Requests in the minimal case (the lists after it included).
    pub steps: usize,
    /// The reproduction scenario, if one was written.
    pub repro: Option<repro::WrittenScenario>,
    /// Everything a person needs, token redacted.
    pub rendered: String,
}

/// What one property trial did.
#[derive(Debug, Clone)]
pub struct PropertyReport {
    /// Which trial.
    pub trial: PropertyTrial,
    /// The seed used.
    pub seed: u64,
    /// Cases run (first runs and shrinking replays), as a sequential run counts them:
    /// first runs up to the first failing one, then the replays.
    pub replays: usize,
    /// Requests sent by those cases (cleanup not included).
    pub requests: usize,
    /// Every request the cases sent, cases that ran past the first failure included
    /// (cleanup not included).
    pub requests_sent: usize,
    /// The most cases that ran at once.
    pub cases_in_flight: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// The failure, if any.
    pub failure: Option<PropertyFailure>,
    /// Cleanup problems met along the way.
    pub cleanup_problems: Vec<String>,
    /// A hash of every generated case in order (first runs and replays): the same seed gives the same value.
    pub fingerprint: u64,
}

/// A seed from the clock, for `--seed random`.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        >> 16
}

impl PropertyFailure {
    /// proptest gave up (e.g. too many rejected cases) before finding or clearing a failure.
    fn stopped(trial: PropertyTrial, reason: impl std::fmt::Display) -> PropertyFailure {
        PropertyFailure {
            violation: None,
            steps: 0,
            repro: None,
            rendered: format!("{} stopped: {reason}", trial.name()),
        }
    }

    /// The minimal case could not be shown as a run (it panicked): its requests and why.
    fn without_run(header: &str, reason: &str, requests: &[&Request]) -> PropertyFailure {
        let mut rendered = format!("{header}\n{reason}\nrequests (UserIDs as pool labels):\n");
        for (number, request) in requests.iter().enumerate() {
            rendered.push_str(&format!("  {}. {}\n", number + 1, request.describe()));
        }
        PropertyFailure {
            violation: None,
            steps: requests.len(),
            repro: None,
            rendered,
        }
    }
}

/// From this many customers in the configured context (besides this run's own), fewer
/// lists are sent in the middle of a sequence ([`sequence::Lists::Thinned`]).
pub const LARGE_TARGET_CUSTOMERS: usize = 1000;

/// What one list of the configured context showed before the cases ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContextSize {
    /// Customers besides this run's own.
    foreign: usize,
}

/// The size of the configured context by one list (None when the list fails). This run's
/// scenarios create records at the same time, so they are not counted: the decision must
/// not depend on timing.
async fn context_size(client: &Client, identity: &RunIdentity) -> Option<ContextSize> {
    let target = client.target();
    let own = identity.uid_prefix();
    let mut foreign = 0;
    // Counted as the list streams past; nothing is kept.
    let mut sink = KeepWhere(|customer: &Glance| {
        let own_record = customer
            .user_id_text()
            .is_some_and(|user_id| user_id.starts_with(&own));
        foreign += usize::from(!own_record);
        false
    });
    let exchange = client
        .send_list(
            "GET",
            crate::spec::contract::COLLECTION_PATH,
            Some(target.auth_body(&target.context)),
            &mut sink,
        )
        .await;
    let response = exchange.response.ok()?;
    response.json.as_ref().filter(|json| json.is_array())?;
    Some(ContextSize { foreign })
}

/// One case with a ledger of its own, run [`isolated`]: should it panic,
/// what it may have created is still deleted.
fn guarded_case<R, F, Fut>(
    client: &Client,
    identity: &RunIdentity,
    options: &PropertyOptions,
    case: F,
) -> impl Future<Output = CaseOutcome<R>>
where
    R: Send + 'static,
    F: FnOnce(Client, RunIdentity, CleanupLedger) -> Fut,
    Fut: Future<Output = CaseOutcome<R>> + Send + 'static,
{
    let ledger = CleanupLedger::with_file(options.ledger_file.clone());
    let guard = (client.clone(), identity.clone(), ledger.clone());
    isolated(
        case(client.clone(), identity.clone(), ledger),
        move || async move {
            let (client, identity, ledger) = guard;
            ledger.clean(&client, &identity).await
        },
    )
}

fn auth_choices(client: &Client) -> AuthChoices {
    let target = client.target();
    AuthChoices::for_values(
        target.api_token.expose(),
        &target.username,
        &target.context,
        target.second_context.is_some(),
        target.forbidden_context.is_some(),
        target.other.is_some(),
    )
}

/// Every secret of the target removed from `text` (the rendering already shows the
/// configured token as `$IPDR_API_TOKEN`; this catches the other user's too).
fn redact_secrets(client: &Client, text: String) -> String {
    client
        .target()
        .secrets()
        .into_iter()
        .fold(text, |text, secret| Redactor::new(secret).text(&text))
}

fn replay_command(trial: PropertyTrial, options: &PropertyOptions, seed: u64) -> String {
    format!(
        "ipdr-conformance run --seed {seed} --cases {} --max-ops {} --concurrent-cases {} --exact {}",
        options.cases,
        options.max_ops,
        options.concurrent_cases,
        trial.name()
    )
}

impl PropertyReport {
    fn from_drive<T, R>(
        trial: PropertyTrial,
        seed: u64,
        started: Instant,
        driven: &Driven<T, R>,
        failure: Option<PropertyFailure>,
    ) -> PropertyReport {
        PropertyReport {
            trial,
            seed,
            replays: driven.replays,
            requests: driven.requests,
            requests_sent: driven.requests_sent,
            cases_in_flight: driven.most_in_flight,
            elapsed: started.elapsed(),
            failure,
            cleanup_problems: driven.cleanup_problems.clone(),
            fingerprint: driven.fingerprint,
        }
    }
}

/// Runs `property::crud_sequences` against `client`'s target, its cases concurrently on
/// `runtime` (blocks until they are done).
pub fn run_crud_sequences(
    runtime: &tokio::runtime::Handle,
    client: &Client,
    identity: &RunIdentity,
    options: &PropertyOptions,
    seed: u64,
) -> PropertyReport {
    let started = Instant::now();
    let trial = PropertyTrial::CrudSequences;
    let size = runtime.block_on(context_size(client, identity));
    let lists = match size {
        Some(size) if size.foreign >= LARGE_TARGET_CUSTOMERS => {
            println!(
                "{}: the target holds {} customers besides this run's, so a list in the middle of a sequence is sent only at every {}th position (the same sequences; each case still ends with a full list)",
                trial.name(),
                size.foreign,
                sequence::LARGE_TARGET_LIST_STRIDE
            );
            Lists::Thinned
        }
        _ => Lists::All,
    };
    let plan = Plan {
        cases: options.cases,
        seed,
        shrink_replays: MAX_SHRINK_REPLAYS,
        shrink_millis: MAX_SHRINK_MILLIS,
        // A list is read element by element and keeps only the case's
        // records: the cases in flight hold little, whatever the target's size.
        in_flight: options.cases_in_flight,
    };
    let strategy = generate::sequence(&auth_choices(client), POOL_SIZE, options.max_ops);
    // Case numbers by index, so a case's UserIDs do not depend on when it ran.
    let base = SEQUENCE_CASE_NUMBERS.fetch_add(plan.indexes(), Ordering::Relaxed);
    let run_one = |requests: Vec<Request>, index: usize| {
        let own_prefix = format!("{}p{}-", identity.uid_prefix(), base + index);
        let lists: Lists = lists;
        guarded_case(
            client,
            identity,
            options,
            move |client, identity, ledger| async move {
                let run = run_case(&client, &identity, &ledger, &requests, own_prefix, lists).await;
                CaseOutcome {
                    cleanup_problems: run.cleanup_problems.clone(),
                    requests: run.steps.len(),
                    failure: run.failure.as_ref().map(|(_, failure)| failure.summary()),
                    run: Some(run),
                }
            },
        )
    };
    let driven = runtime.block_on(drive(&strategy, plan, &run_one));
    let failure = match &driven.verdict {
        Verdict::Passed => None,
        Verdict::Stopped(reason) => Some(PropertyFailure::stopped(trial, reason)),
        Verdict::Failed {
            reason,
            minimal,
            last_failure,
        } => {
            let run = match last_failure {
                Some((requests, Some(run))) if requests == minimal => Some(run.clone()),
                // Not expected (the last failing replay is the minimal one), but replay to be sure.
                _ => {
                    runtime
                        .block_on(run_one(minimal.clone(), plan.spare_index()))
                        .run
                }
            };
            Some(match run {
                Some(run) => sequence_failure(
                    runtime,
                    client,
                    identity,
                    options,
                    seed,
                    driven.replays,
                    run,
                ),
                None => PropertyFailure::without_run(
                    &format!(
                        "{} failed (seed {seed}; {} case(s) run, shrinking included)",
                        trial.name(),
                        driven.replays
                    ),
                    reason,
                    &minimal.iter().collect::<Vec<_>>(),
                ),
            })
        }
    };
    PropertyReport::from_drive(trial, seed, started, &driven, failure)
}

fn sequence_failure(
    runtime: &tokio::runtime::Handle,
    client: &Client,
    identity: &RunIdentity,
    options: &PropertyOptions,
    seed: u64,
    replays: usize,
    run: CaseRun,
) -> PropertyFailure {
    let trial = PropertyTrial::CrudSequences;
    let token = client.target().api_token.expose().to_string();
    let scope = scope(client, identity, run.own_prefix.clone());
    let violation = match &run.failure {
        Some((_, CaseFailure::Violation(violation))) => Some(violation.clone()),
        _ => None,
    };
    let failing = run.failure.as_ref().map_or(0, |(index, _)| *index);
    let mut note = String::new();
    let mut written = None;
    if let Some(scenario) = repro::scenario_for(&run, &scope, trial.short_name(), seed) {
        let stem = format!("{}_{seed}", trial.short_name());
        match repro::write_scenario(
            &options.repro_dir,
            &scenario,
            &stem,
            &client.target().redactor(),
        ) {
            Ok((path, loaded)) => {
                let tag = format!("r{}", REPRO_NUMBERS.fetch_add(1, Ordering::Relaxed));
                let ledger = CleanupLedger::with_file(options.ledger_file.clone());
                let checked =
                    runtime.block_on(repro::verify(path, loaded, client, identity, &ledger, &tag));
                note = repro::describe_written(&checked, failing);
                written = Some(checked);
            }
            Err(error) => note = format!("scenario: not written: {error}"),
        }
    }
    let header = format!(
        "{} failed (seed {seed}; {replays} case(s) run, shrinking included; minimal case: {} request(s))",
        trial.name(),
        run.steps.len()
    );
    let rendered = redact_secrets(
        client,
        repro::render_sequence_failure(
            &run,
            &header,
            &replay_command(trial, options, seed),
            &note,
            &token,
        ),
    );
    PropertyFailure {
        violation,
        steps: run.steps.len(),
        repro: written,
        rendered,
    }
}

/// Runs `property::concurrent_linearizable` against `client`'s target, its histories
/// concurrently with each other on `runtime` (blocks until they are done).
pub fn run_concurrent(
    runtime: &tokio::runtime::Handle,
    client: &Client,
    identity: &RunIdentity,
    options: &PropertyOptions,
    seed: u64,
) -> PropertyReport {
    let started = Instant::now();
    let trial = PropertyTrial::ConcurrentLinearizable;
    let plan = Plan {
        cases: options.concurrent_cases,
        seed: seed ^ CONCURRENT_SEED_SALT,
        shrink_replays: MAX_CONCURRENT_SHRINK_REPLAYS,
        shrink_millis: MAX_SHRINK_MILLIS,
        in_flight: options.cases_in_flight,
    };
    let strategy = generate::history(CONCURRENT_CLIENTS, CONCURRENT_POOL_SIZE, CONCURRENT_MAX_OPS);
    let base = HISTORY_CASE_NUMBERS.fetch_add(plan.indexes(), Ordering::Relaxed);
    let run_one = |history: Vec<Vec<Request>>, index: usize| {
        let own_prefix = format!("{}c{}-", identity.uid_prefix(), base + index);
        guarded_case(
            client,
            identity,
            options,
            move |client, identity, ledger| async move {
                let run = run_history(&client, &identity, &ledger, &history, own_prefix).await;
                CaseOutcome {
                    cleanup_problems: run.cleanup_problems.clone(),
                    requests: run.clients.iter().map(Vec::len).sum::<usize>() + run.finals.len(),
                    failure: run.failure.as_ref().map(|failure| failure.summary()),
                    run: Some(run),
                }
            },
        )
    };
    let driven = runtime.block_on(drive(&strategy, plan, &run_one));
    let failure = match &driven.verdict {
        Verdict::Passed => None,
        Verdict::Stopped(reason) => Some(PropertyFailure::stopped(trial, reason)),
        Verdict::Failed {
            reason,
            minimal,
            last_failure,
        } => {
            let token = client.target().api_token.expose().to_string();
            let header = format!(
                "{} failed (seed {seed}; {} case(s) run, shrinking included)",
                trial.name(),
                driven.replays
            );
            Some(match last_failure {
                Some((_, Some(run))) => PropertyFailure {
                    violation: match &run.failure {
                        Some(CaseFailure::Violation(violation)) => Some(violation.clone()),
                        _ => None,
                    },
                    steps: run.clients.iter().map(Vec::len).sum::<usize>() + run.finals.len(),
                    repro: None,
                    rendered: redact_secrets(
                        client,
                        repro::render_history_failure(
                            &run.clone(),
                            &header,
                            &replay_command(trial, options, seed),
                            &token,
                        ),
                    ),
                },
                _ => PropertyFailure::without_run(
                    &header,
                    reason,
                    &minimal.iter().flatten().collect::<Vec<_>>(),
                ),
            })
        }
    };
    PropertyReport::from_drive(trial, seed, started, &driven, failure)
}

/// Runs one property trial.
pub fn run_trial(
    trial: PropertyTrial,
    runtime: &tokio::runtime::Handle,
    client: &Client,
    identity: &RunIdentity,
    options: &PropertyOptions,
    seed: u64,
) -> PropertyReport {
    match trial {
        PropertyTrial::CrudSequences => {
            run_crud_sequences(runtime, client, identity, options, seed)
        }
        PropertyTrial::ConcurrentLinearizable => {
            run_concurrent(runtime, client, identity, options, seed)
        }
    }
}

/// One property trial as the engine runs it (blocking: call it off the
/// async workers): its seed line, verdict, cleanup and record go out as
/// events. `seed` is chosen once per run, so that both trials print the same.
pub fn run_as_trial(
    trial: PropertyTrial,
    runtime: &tokio::runtime::Handle,
    suite: &Suite,
    options: &PropertyOptions,
    seed: u64,
    sink: &EventSink,
) {
    let name = trial.name();
    sink.emit(Event::TrialStarted {
        trial: name.clone(),
    });
    let mut options = options.clone();
    options.ledger_file = suite.ledger_file().cloned();
    let size = match trial {
        PropertyTrial::CrudSequences => format!(
            "{} sequences of up to {} requests",
            options.cases, options.max_ops
        ),
        PropertyTrial::ConcurrentLinearizable => format!(
            "{} histories of {CONCURRENT_CLIENTS} concurrent clients",
            options.concurrent_cases
        ),
    };
    sink.emit(Event::Note(format!(
        "{name}: seed {seed} ({}{size}; --seed {seed} replays them)",
        options.seed.origin()
    )));
    let report = run_trial(
        trial,
        runtime,
        suite.client(),
        suite.identity(),
        &options,
        seed,
    );
    sink.emit(Event::Note(format!(
        "{name}: seed {seed}: {} case(s) run, {} request(s), sequence fingerprint {:016x}",
        report.replays, report.requests, report.fingerprint
    )));
    // A case that could not be checked (no response) says nothing about the contract.
    let verdict = match &report.failure {
        None => TrialVerdict::Pass,
        Some(failure) if failure.violation.is_none() => TrialVerdict::Error {
            reason: "a case could not be checked: no response from the target".to_string(),
        },
        Some(_) => TrialVerdict::Fail,
    };
    sink.emit(Event::Verdict {
        trial: name.clone(),
        verdict: verdict.clone(),
    });
    // Each case deleted its own records; what failed there is this trial's cleanup.
    sink.emit(Event::Cleanup {
        trial: name.clone(),
        deletions: 0,
        problems: report.cleanup_problems.clone(),
    });
    let redactor = suite.client().target().redactor();
    // The broken rule's line names the difference; a case that could not be checked says why.
    let first_difference = report.failure.as_ref().and_then(|failure| {
        let line = match &failure.violation {
            Some(violation) => violation.message.lines().next(),
            None => failure
                .rendered
                .lines()
                .nth(1)
                .or(failure.rendered.lines().next()),
        };
        line.map(|line| redactor.text(line))
    });
    sink.emit(Event::TrialFinished(Box::new(FinishedTrial {
        record: TrialRecord {
            name,
            level: "property".to_string(),
            citation: "Managing IPDR Customers (generated operation sequences)".to_string(),
            tags: ["list", "create", "full_update", "partial_update", "delete"]
                .map(String::from)
                .to_vec(),
            verdict,
            duration_ms: millis(report.elapsed),
            message: report
                .failure
                .as_ref()
                .map(|failure| redactor.text(&failure.rendered)),
            transcript: Vec::new(),
            skipped_steps: Vec::new(),
            // The violation's topic names the operation that broke the rule first.
            failed_step: report.failure.as_ref().map(|failure| FailedStep {
                step: None,
                name: None,
                operation: failure.violation.as_ref().and_then(|violation| {
                    violation.topic.split_whitespace().find_map(|word| {
                        Operation::ALL
                            .into_iter()
                            .map(operation_tag)
                            .find(|tag| *tag == word)
                            .map(str::to_string)
                    })
                }),
                section: failure
                    .violation
                    .as_ref()
                    .map(|violation| violation.citation.clone()),
            }),
            differences: Vec::new(),
            artifacts: report
                .failure
                .iter()
                .filter_map(|failure| failure.repro.as_ref())
                .map(|written| redactor.text(&written.path.display().to_string()))
                .collect(),
        },
        kind: "property".to_string(),
        scenario: None,
        snapshots: SnapshotTally::default(),
        observations: Vec::new(),
        first_difference,
    })));
}
