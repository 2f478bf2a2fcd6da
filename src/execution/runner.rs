//! `ipdr-conformance run`: scenarios become libtest-mimic trials against one
//! target, with a preflight before and a cleanup sweep after.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Completion, Failed, Trial};
use serde_json::Value;

use super::client::Client;
use super::ledger_file::LedgerFile;
use super::scenario_run::RunIdentity;
use super::scenario_run::{ScenarioOutcome, Verdict};
use super::snapshot::{
    CompareOptions, ScenarioCheck, SnapshotError, SnapshotOptions, SnapshotPlan,
};
use super::suite::Suite;
use super::target::{ApiToken, OtherUser, Target};
use crate::reference::{self, RunningServer, ServerConfig, UsersFixture};
use crate::report::console::{render_failure, render_observations};
use crate::report::redact::Redactor;
use crate::report::run_report::{
    millis, push_record, RunReport, TrialRecord, TrialRecords, TrialVerdict,
};
use crate::report::snapshot_diff::{render_check_failure, render_summary};
use crate::spec::contract::{DocumentedError, COLLECTION_PATH};
use crate::spec::load::{load_dir, load_embedded};

/// Where the target is and how to authenticate ("Authentication").
#[derive(Debug, Clone, clap::Args)]
pub struct TargetOptions {
    /// Base URL of the server under test; without it the embedded reference server is started on loopback.
    #[arg(long = "target", env = "IPDR_TARGET", value_name = "URL")]
    pub target: Option<String>,
    /// API token of --username (prefer the environment variable: flags show up in process lists).
    #[arg(
        long,
        env = "IPDR_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub api_token: Option<ApiToken>,
    /// Username the token belongs to.
    #[arg(long, env = "IPDR_USERNAME")]
    pub username: Option<String>,
    /// Context the user may access.
    #[arg(long, env = "IPDR_CONTEXT", default_value = "default")]
    pub context: String,
    /// A second context the user may access (isolation checks are ignored without it).
    #[arg(long, env = "IPDR_SECOND_CONTEXT")]
    pub second_context: Option<String>,
    /// An existing context the user may not access (those checks are ignored without it).
    #[arg(long, env = "IPDR_FORBIDDEN_CONTEXT")]
    pub forbidden_context: Option<String>,
    /// Per-request timeout in seconds.
    #[arg(
        long,
        env = "IPDR_TIMEOUT",
        default_value_t = 10.0,
        value_name = "SECONDS"
    )]
    pub timeout: f64,
    /// Extra attempts after a network error (connect failure, timeout, reset); never after an HTTP response.
    #[arg(long, env = "IPDR_RETRIES", default_value_t = 0, value_name = "N")]
    pub retries: u32,
    /// Read the API token from this file (first line) instead of IPDR_API_TOKEN / --api-token.
    #[arg(long, env = "IPDR_API_TOKEN_FILE", value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// A second user, for cross-user checks (skipped without it): its username.
    #[arg(long, env = "IPDR_OTHER_USERNAME")]
    pub other_username: Option<String>,
    /// The second user's API token (prefer the environment variable or the file).
    #[arg(
        long,
        env = "IPDR_OTHER_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub other_api_token: Option<ApiToken>,
    /// Read the second user's API token from this file (first line).
    #[arg(long, env = "IPDR_OTHER_API_TOKEN_FILE", value_name = "FILE")]
    pub other_api_token_file: Option<PathBuf>,
    /// A context only the second user may access.
    #[arg(long, env = "IPDR_OTHER_CONTEXT")]
    pub other_context: Option<String>,
}

/// A token given once, by flag or environment variable or by file; `what` names it in errors.
fn token_from(
    flag: Option<&ApiToken>,
    file: Option<&PathBuf>,
    flag_name: &str,
    file_flag: &str,
) -> Result<Option<ApiToken>, SetupError> {
    let from_file = match file {
        Some(path) => {
            if flag.is_some() {
                return Err(SetupError::Configuration(format!(
                    "give the token once: {file_flag}, or {flag_name}"
                )));
            }
            let text = std::fs::read_to_string(path).map_err(|error| {
                SetupError::Configuration(format!("{file_flag} {}: {error}", path.display()))
            })?;
            Some(ApiToken::new(text.lines().next().unwrap_or("").trim()))
        }
        None => None,
    };
    Ok(from_file
        .or_else(|| flag.cloned())
        .filter(|token| !token.expose().is_empty()))
}

/// The `--other-*` user: all three of username, token and context, or none.
fn other_user(options: &TargetOptions) -> Result<Option<OtherUser>, SetupError> {
    let api_token = token_from(
        options.other_api_token.as_ref(),
        options.other_api_token_file.as_ref(),
        "IPDR_OTHER_API_TOKEN / --other-api-token",
        "--other-api-token-file",
    )?;
    match (&options.other_username, api_token, &options.other_context) {
        (None, None, None) => Ok(None),
        (Some(username), Some(api_token), Some(context))
            if !username.is_empty() && !context.is_empty() =>
        {
            Ok(Some(OtherUser {
                username: username.clone(),
                api_token,
                context: context.clone(),
            }))
        }
        _ => Err(SetupError::Configuration(
            "the cross-user checks need all of --other-username, --other-api-token (or its file or IPDR_OTHER_API_TOKEN) and --other-context".to_string(),
        )),
    }
}

/// Where reports go, and which trials to rerun.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportOptions {
    /// Write JUnit XML (one testcase per trial, level and citation as properties).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write every trial with verdict, level, citation, timing and full transcript as JSON.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write one self-contained HTML page: the conformance matrix and every transcript.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Write a Markdown summary for a CI job summary or a pull-request comment.
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Run only the trials that failed or errored in this earlier --report-json file.
    #[arg(long, value_name = "FILE")]
    pub rerun_failed: Option<PathBuf>,
    /// Where the cleanup ledger of a run against --target is kept until the run has cleaned up.
    #[arg(long, env = "IPDR_LEDGER_DIR", default_value = super::ledger_file::DEFAULT_LEDGER_DIR, value_name = "DIR")]
    pub ledger_dir: PathBuf,
}

/// Options of `run`: the target, the scenarios, and the usual test-harness flags.
#[derive(Debug, clap::Args)]
pub struct RunOptions {
    /// The target.
    #[command(flatten)]
    pub target: TargetOptions,
    /// Load scenarios from this directory instead of the ones built into the binary.
    #[arg(long, env = "IPDR_SPECS", value_name = "DIR")]
    pub specs: Option<PathBuf>,
    /// Property-based sequences.
    #[command(flatten)]
    pub property: super::property::PropertyOptions,
    /// Snapshot profiles and differential mode.
    #[command(flatten)]
    pub snapshots: SnapshotOptions,
    /// Reports and reruns.
    #[command(flatten)]
    pub reports: ReportOptions,
    /// Deep mode: also run the scenarios tagged `deep` (they cost many requests, e.g. a list past 1,000 records).
    #[arg(long, env = "IPDR_DEEP", value_parser = clap::builder::BoolishValueParser::new())]
    pub deep: bool,
    /// Filter, --list, --skip, --exact, --test-threads and friends, as in `cargo test`.
    #[command(flatten)]
    pub harness: libtest_mimic::Arguments,
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
    /// The target did not answer.
    #[error("the target {url} is unreachable: {reason}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A snapshot profile cannot be read or written as asked.
    #[error("{0}")]
    Snapshots(#[from] SnapshotError),
    /// The target rejected the configured credentials.
    #[error("the target {url} rejected the configured credentials: GET {COLLECTION_PATH} answered {answer}")]
    CredentialsRejected {
        /// The base URL.
        url: String,
        /// The envelope it answered with.
        answer: String,
    },
}

/// Runs the suite from the command line and returns the process exit code:
/// 0 all passed, 1 a check failed, 2 bad configuration or unreachable target.
pub fn run_from_cli(options: RunOptions) -> ExitCode {
    match run(options) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// The target at `base_url` with the credentials of `options`, checked as `run` checks them.
pub fn target_from_options(options: &TargetOptions, base_url: &str) -> Result<Target, SetupError> {
    let url = reqwest::Url::parse(base_url).map_err(|error| {
        SetupError::Configuration(format!("--target {base_url:?} is not a URL: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SetupError::Configuration(format!(
            "--target {base_url:?} must be an http:// or https:// URL with a host"
        )));
    }
    let api_token = token_from(
        options.api_token.as_ref(),
        options.api_token_file.as_ref(),
        "IPDR_API_TOKEN / --api-token",
        "--api-token-file",
    )?
    .ok_or_else(|| {
        SetupError::Configuration(
            "--target needs an api token (IPDR_API_TOKEN, --api-token-file or --api-token)"
                .to_string(),
        )
    })?;
    let username = options
        .username
        .clone()
        .filter(|username| !username.is_empty())
        .ok_or_else(|| {
            SetupError::Configuration(
                "--target needs a username (IPDR_USERNAME or --username)".to_string(),
            )
        })?;
    Ok(Target {
        base_url: base_url.trim_end_matches('/').to_string(),
        api_token,
        username,
        context: options.context.clone(),
        second_context: options.second_context.clone(),
        forbidden_context: options.forbidden_context.clone(),
        other: other_user(options)?,
        timeout: timeout(options.timeout)?,
    })
}

fn timeout(seconds: f64) -> Result<Duration, SetupError> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0 {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(SetupError::Configuration(format!(
            "--timeout {seconds} must be between 0 and 3600 seconds"
        )))
    }
}

/// Starts the embedded reference server and returns it with the target that reaches it.
async fn start_embedded(options: &TargetOptions) -> Result<(RunningServer, Target), SetupError> {
    let users = UsersFixture::builtin();
    let credentials = users.harness();
    let server = reference::start(ServerConfig::new(users), ([127, 0, 0, 1], 0).into()).await?;
    let target = Target::from_harness(credentials, server.base_url(), timeout(options.timeout)?);
    Ok((server, target))
}

/// One list request with the configured credentials: is the target there, and does it accept them?
pub async fn preflight(client: &Client) -> Result<(), SetupError> {
    let target = client.target();
    let body = target.auth_body(&target.context);
    let exchange = client.send("GET", COLLECTION_PATH, Some(body)).await;
    let response = exchange.response.map_err(|error| SetupError::Unreachable {
        url: target.base_url.clone(),
        reason: error.to_string(),
    })?;
    let Some(Value::Object(map)) = &response.json else {
        return Ok(());
    };
    let message = map.get("message").and_then(Value::as_str);
    let rejected = DocumentedError::ALL.iter().any(|error| {
        Some(
            error
                .envelope(&target.username, &target.context)
                .message
                .as_str(),
        ) == message
    });
    if rejected {
        return Err(SetupError::CredentialsRejected {
            url: target.base_url.clone(),
            answer: Redactor::for_target(target).text(&Value::Object(map.clone()).to_string()),
        });
    }
    Ok(())
}

/// The `--compare-with` target: its URL with the `--compare-*` credentials,
/// each defaulting to the primary target's.
fn compare_target(
    compare: &CompareOptions,
    url: &str,
    primary: &Target,
    timeout_seconds: f64,
) -> Result<Target, SetupError> {
    let options = TargetOptions {
        target: Some(url.to_string()),
        api_token: Some(
            compare
                .compare_api_token
                .clone()
                .unwrap_or_else(|| primary.api_token.clone()),
        ),
        username: Some(
            compare
                .compare_username
                .clone()
                .unwrap_or_else(|| primary.username.clone()),
        ),
        context: compare
            .compare_context
            .clone()
            .unwrap_or_else(|| primary.context.clone()),
        second_context: compare
            .compare_second_context
            .clone()
            .or_else(|| primary.second_context.clone()),
        forbidden_context: compare
            .compare_forbidden_context
            .clone()
            .or_else(|| primary.forbidden_context.clone()),
        timeout: timeout_seconds,
        retries: 0,
        api_token_file: None,
        other_username: None,
        other_api_token: None,
        other_api_token_file: None,
        other_context: None,
    };
    target_from_options(&options, url).map_err(|error| match error {
        SetupError::Configuration(reason) => {
            SetupError::Configuration(reason.replace("--target", "--compare-with"))
        }
        other => other,
    })
}

fn run(options: RunOptions) -> Result<ExitCode, SetupError> {
    let scenarios = match &options.specs {
        Some(dir) => load_dir(dir)?,
        None => load_embedded()?,
    };
    let listing = options.harness.list;
    let rerun = match &options.reports.rerun_failed {
        Some(path) => Some(failed_in(path)?),
        None => None,
    };
    if !listing {
        check_report_paths(&options.reports)?;
    }
    // Before any trial: a profile to check must exist, and --record refuses to overwrite.
    let plan = if listing {
        None
    } else {
        Some(SnapshotPlan::from_options(&options.snapshots)?)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| {
            SetupError::Configuration(format!("starting the async runtime: {error}"))
        })?;
    let (server, target) = match &options.target.target {
        Some(url) => (None, target_from_options(&options.target, url)?),
        None => {
            if options.target.api_token.is_some() || options.target.username.is_some() {
                eprintln!("note: no --target given, so the credentials given are ignored and the embedded reference server is used");
            }
            let (server, target) = runtime.block_on(start_embedded(&options.target))?;
            (Some(server), target)
        }
    };
    let token = target.api_token.expose().to_string();
    let redactor = Redactor::for_target(&target);
    let other_client = match (&plan, &options.snapshots.compare.compare_with) {
        (Some(_), Some(url)) => {
            let other = compare_target(
                &options.snapshots.compare,
                url,
                &target,
                options.target.timeout,
            )?;
            let other = Client::new(other)
                .map_err(|error| SetupError::Configuration(error.to_string()))?
                .with_retries(options.target.retries);
            Some(other)
        }
        _ => None,
    };
    let client = Client::new(target)
        .map_err(|error| SetupError::Configuration(error.to_string()))?
        .with_retries(options.target.retries);
    if !listing {
        runtime.block_on(preflight(&client))?;
        if let Some(other) = &other_client {
            runtime.block_on(preflight(other))?;
        }
    }
    let plan = match plan {
        Some((mut plan, notes)) => {
            plan.prepare()?;
            Some((plan, notes))
        }
        None => None,
    };
    let identity = RunIdentity::fresh();
    // A real target gets a ledger on disk, so `sweep` can clean up after a killed run.
    let ledger_file = match (&options.target.target, listing) {
        (Some(_), false) => Some(Arc::new(
            LedgerFile::create(
                &options.reports.ledger_dir,
                &identity.run_id,
                &client.target().base_url,
            )
            .map_err(|error| SetupError::Configuration(error.to_string()))?,
        )),
        _ => None,
    };
    let suite = Suite::with_options(
        client,
        scenarios.clone(),
        identity,
        ledger_file,
        options.deep,
    );
    println!(
        "run id {} (every record this run creates starts with {})",
        suite.identity().run_id,
        suite.identity().uid_prefix()
    );
    let other_suite = other_client.map(|other| {
        Suite::with_options(other, scenarios, RunIdentity::fresh(), None, options.deep)
    });
    let snapshots = plan.map(|(plan, notes)| {
        for note in notes {
            println!("{note}");
        }
        if let Some(other) = &other_suite {
            println!(
                "--compare-with run id {} (every record it creates there starts with {})",
                other.identity().run_id,
                other.identity().uid_prefix()
            );
        }
        Arc::new(SnapshotRun {
            plan,
            other: other_suite.clone(),
            log: Mutex::new(SnapshotLog::default()),
        })
    });
    let runtime = Arc::new(runtime);
    let observations = Arc::new(Mutex::new(Vec::new()));
    let records: Records = Arc::new(Mutex::new(Vec::new()));
    let started = std::time::Instant::now();
    let mut trials: Vec<Trial> = (0..suite.scenarios().len())
        .map(|index| {
            scenario_trial(
                &runtime,
                &suite,
                index,
                &observations,
                snapshots.clone(),
                &records,
                redactor.clone(),
            )
        })
        .collect();
    trials.extend(super::property::trials(
        &runtime,
        &suite,
        &options.property,
        &records,
        &token,
    ));
    if let Some(names) = &rerun {
        trials.retain(|trial| names.contains(trial.name()));
        println!(
            "rerunning {} trial(s) that failed in the earlier report",
            trials.len()
        );
    }
    let conclusion = libtest_mimic::run(&options.harness, trials);
    print_observations(&observations);
    if let Some(snapshots) = &snapshots {
        print!("{}", snapshots.summary(&redactor));
    }
    if !listing {
        for (context, count) in runtime.block_on(suite.sweep_leftovers()) {
            println!("cleanup: deleted {count} record(s) of this run left in context {context}");
        }
        if let Some(other) = &other_suite {
            for (context, count) in runtime.block_on(other.sweep_leftovers()) {
                println!("cleanup: deleted {count} record(s) of this run left in context {context} on --compare-with");
            }
        }
    }
    if let Some(file) = suite.ledger_file() {
        if runtime.block_on(suite.sweep_leftovers()).is_empty() {
            if let Err(error) = file.retire() {
                eprintln!("warning: {error}");
            }
        } else {
            eprintln!(
                "warning: records of this run may be left on the target; they are listed in {}; run `ipdr-conformance sweep` to delete them",
                file.path().display()
            );
        }
    }
    if let Some(server) = server {
        runtime.block_on(server.shutdown());
    }
    let mut report = RunReport {
        run_id: suite.identity().run_id.clone(),
        target: suite.client().target().base_url.clone(),
        duration_ms: millis(started.elapsed()),
        trials: records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone(),
    };
    report.sort();
    let mut code = exit_code(&report, conclusion.num_failed);
    if !listing {
        if let Err(error) = write_reports(&options.reports, &report, &redactor) {
            eprintln!("error: {error}");
            code = code.max(3);
        }
    }
    Ok(ExitCode::from(code))
}

/// Verdicts of the trials that ran, for the reports.
type Records = TrialRecords;

/// 1 on any contract failure, else 3 on any harness or network error, else 0.
/// Trials that report no record (their failures are counted by libtest) count as failures.
fn exit_code(report: &RunReport, libtest_failed: u64) -> u8 {
    let counts = report.counts();
    let unrecorded_failures = libtest_failed as usize > counts.fail + counts.error;
    if counts.fail > 0 || unrecorded_failures {
        1
    } else if counts.error > 0 {
        3
    } else {
        0
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {reason}")]
pub struct ReportWriteError {
    /// The file.
    path: PathBuf,
    /// Why.
    reason: String,
}

fn write_reports(
    options: &ReportOptions,
    report: &RunReport,
    redactor: &Redactor,
) -> Result<(), ReportWriteError> {
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, redactor.text(&text)).map_err(|error| ReportWriteError {
            path: path.clone(),
            reason: error.to_string(),
        })
    };
    if let Some(path) = &options.junit {
        let xml = crate::report::junit::render(report).map_err(|error| ReportWriteError {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        write(path, xml)?;
    }
    if let Some(path) = &options.report_json {
        let json = serde_json::to_string_pretty(report).expect("a report serializes");
        write(path, json + "\n")?;
    }
    if let Some(path) = &options.report_html {
        write(path, crate::report::html::render(report))?;
    }
    if let Some(path) = &options.summary_md {
        write(path, crate::report::markdown::summary(report))?;
    }
    Ok(())
}

/// The names of the trials that failed or errored in an earlier JSON report.
fn failed_in(path: &PathBuf) -> Result<std::collections::BTreeSet<String>, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        SetupError::Configuration(format!("--rerun-failed {}: {error}", path.display()))
    })?;
    let report: RunReport = serde_json::from_str(&text).map_err(|error| {
        SetupError::Configuration(format!(
            "--rerun-failed {}: not a --report-json file: {error}",
            path.display()
        ))
    })?;
    Ok(report
        .trials
        .into_iter()
        .filter(|trial| {
            matches!(
                trial.verdict,
                TrialVerdict::Fail | TrialVerdict::Error { .. }
            )
        })
        .map(|trial| trial.name)
        .collect())
}

/// Fails early, before any trial, when a report file cannot be created.
fn check_report_paths(options: &ReportOptions) -> Result<(), SetupError> {
    for path in [
        &options.junit,
        &options.report_json,
        &options.report_html,
        &options.summary_md,
    ]
    .into_iter()
    .flatten()
    {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|error| {
                SetupError::Configuration(format!(
                    "cannot write the report {}: {error}",
                    path.display()
                ))
            })?;
    }
    Ok(())
}

/// Observed-behaviour lines, per scenario name.
type Observations = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// What the trials of one run do with snapshots, and what they found.
struct SnapshotRun {
    plan: SnapshotPlan,
    /// The `--compare-with` suite, in differential mode.
    other: Option<Arc<Suite>>,
    log: Mutex<SnapshotLog>,
}

/// What the trials found, for the summary after the run.
#[derive(Default)]
struct SnapshotLog {
    /// Scenarios with a differing step.
    checks: Vec<(String, ScenarioCheck)>,
    /// Snapshots recorded.
    recorded: usize,
    /// Scenarios recorded.
    recorded_scenarios: usize,
    /// Recorded scenarios that stopped early: their later steps are not in the profile.
    incomplete: Vec<String>,
    /// `.snap.new` files written.
    pending: usize,
    /// Scenarios the `--compare-with` target did not pass.
    other_failed: Vec<String>,
}

impl SnapshotRun {
    fn log(&self) -> std::sync::MutexGuard<'_, SnapshotLog> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records or compares one scenario's steps; the failure section when they fail the trial.
    fn apply(
        &self,
        suite: &Suite,
        index: usize,
        outcome: &ScenarioOutcome,
        other_outcome: Option<&ScenarioOutcome>,
        redactor: &Redactor,
    ) -> Result<Option<String>, String> {
        let loaded = &suite.scenarios()[index];
        if matches!(outcome.verdict, Verdict::Ignored(_)) {
            return Ok(None);
        }
        let steps = suite.normalized_steps(index, outcome);
        let recorded = steps.len();
        let other_steps = match (&self.other, other_outcome) {
            (Some(other), Some(other_outcome)) => {
                if matches!(
                    other_outcome.verdict,
                    Verdict::Failed(_) | Verdict::Errored(_)
                ) {
                    self.log().other_failed.push(loaded.scenario.name.clone());
                }
                Some(other.normalized_steps(index, other_outcome))
            }
            _ => None,
        };
        let (check, pending) = self
            .plan
            .apply(loaded, steps, other_steps)
            .map_err(|error| format!("snapshot profile: {error}"))?;
        let mut log = self.log();
        log.pending += pending;
        if let SnapshotPlan::Record { .. } = self.plan {
            log.recorded += recorded;
            log.recorded_scenarios += 1;
            if outcome.verdict != Verdict::Passed {
                log.incomplete.push(loaded.scenario.name.clone());
            }
        }
        let Some(check) = check else {
            return Ok(None);
        };
        let strict = self.plan.strict();
        let failure = render_check_failure(
            &check,
            outcome,
            loaded.scenario.steps.len(),
            &self.plan.comparand(),
            &|file_name| self.plan.snapshot_path(file_name),
            strict,
            redactor,
        );
        if check.has_differences() {
            log.checks.push((loaded.scenario.name.clone(), check));
        }
        Ok((!failure.is_empty()).then_some(failure))
    }

    /// What the run found, printed after the trials.
    fn summary(&self, redactor: &Redactor) -> String {
        let log = self.log();
        let comparand = self.plan.comparand();
        let strict = self.plan.strict();
        let mut out = String::new();
        match &self.plan {
            SnapshotPlan::Record { name, writer, .. } => match writer {
                Some(writer) => {
                    out.push_str(&format!(
                        "recorded snapshot profile {name}: {} snapshot(s) of {} scenario(s) in {}\n",
                        log.recorded,
                        log.recorded_scenarios,
                        writer.dir().display()
                    ));
                    if !log.incomplete.is_empty() {
                        let mut incomplete = log.incomplete.clone();
                        incomplete.sort();
                        out.push_str(&format!(
                            "  {} scenario(s) did not pass, so their steps after the failing one are not in the profile: {}\n",
                            incomplete.len(),
                            incomplete.join(", ")
                        ));
                    }
                }
                None => out.push_str(&format!(
                    "CI is set: nothing was written; profile {name} was not recorded\n"
                )),
            },
            SnapshotPlan::Compare { .. } => {
                out.push_str(&render_summary(
                    &log.checks,
                    &comparand,
                    strict,
                    true,
                    redactor,
                ));
                if !log.other_failed.is_empty() {
                    let mut failed = log.other_failed.clone();
                    failed.sort();
                    out.push_str(&format!(
                        "note: --compare-with did not meet the expectations of {} scenario(s): {}\n",
                        failed.len(),
                        failed.join(", ")
                    ));
                }
            }
            SnapshotPlan::Check {
                profile,
                pending_dir,
                ..
            } => {
                out.push_str(&render_summary(
                    &log.checks,
                    &comparand,
                    strict,
                    false,
                    redactor,
                ));
                if let Some(dir) = pending_dir {
                    if log.pending > 0 {
                        out.push_str(&format!(
                            "wrote {} pending snapshot change(s) as .snap.new in {}; review them with `cargo insta review` (in the source tree) or `ipdr-conformance snapshots pending|accept|reject {}{}`\n",
                            log.pending,
                            dir.display(),
                            profile.name,
                            match dir.parent() {
                                Some(parent) if parent != std::path::Path::new(super::snapshot::DEFAULT_DIR) => {
                                    format!(" --snapshots-dir {}", parent.display())
                                }
                                _ => String::new(),
                            }
                        ));
                    }
                }
            }
        }
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out
    }
}

fn scenario_trial(
    runtime: &Arc<tokio::runtime::Runtime>,
    suite: &Arc<Suite>,
    index: usize,
    observations: &Observations,
    snapshots: Option<Arc<SnapshotRun>>,
    records: &Records,
    redactor: Redactor,
) -> Trial {
    let loaded = &suite.scenarios()[index];
    let name = loaded.scenario.name.clone();
    let kind = loaded.scenario.level.as_str();
    let (runtime, suite, observations, records) = (
        Arc::clone(runtime),
        Arc::clone(suite),
        Arc::clone(observations),
        Arc::clone(records),
    );
    Trial::ignorable_test(name, move || {
        let started = std::time::Instant::now();
        let other = snapshots.as_ref().and_then(|run| run.other.clone());
        let (outcome, other_outcome) = match other {
            Some(other) => {
                let (mine, theirs) = runtime
                    .block_on(async { tokio::join!(suite.run_one(index), other.run_one(index)) });
                (mine, Some(theirs))
            }
            None => (runtime.block_on(suite.run_one(index)), None),
        };
        let loaded = &suite.scenarios()[index];
        let observed = render_observations(loaded, &outcome, &redactor);
        if !observed.is_empty() {
            let mut observations = observations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            observations.push((loaded.scenario.name.clone(), observed));
        }
        let snapshot_failure = match &snapshots {
            Some(run) => run.apply(&suite, index, &outcome, other_outcome.as_ref(), &redactor),
            None => Ok(None),
        };
        let snapshot_failure = match snapshot_failure {
            Ok(section) => section,
            Err(reason) => {
                let mut record = TrialRecord::from_scenario(
                    loaded,
                    &outcome,
                    Some(&reason),
                    started.elapsed(),
                    &redactor,
                );
                record.verdict = TrialVerdict::Error {
                    reason: redactor.text(&reason),
                };
                push_record(&records, record);
                return Err(Failed::from(reason));
            }
        };
        let result = match (&outcome.verdict, snapshot_failure) {
            (Verdict::Ignored(reason), _) => Ok(Completion::ignored_with(reason.clone())),
            (Verdict::Passed, None) => Ok(Completion::Completed),
            (Verdict::Passed, Some(section)) => Err(Failed::from(format!(
                "{} · {}\nscenario file: specs/{}\n\n{section}",
                loaded.scenario.level, loaded.scenario.citation, loaded.source
            ))),
            (Verdict::Failed(_) | Verdict::Errored(_), section) => {
                let mut text = render_failure(loaded, &outcome, &redactor);
                if let Some(section) = section {
                    text.push_str("\n\n");
                    text.push_str(&section);
                }
                Err(Failed::from(text))
            }
        };
        let failure = result.as_ref().err().and_then(|failed| failed.message());
        push_record(
            &records,
            TrialRecord::from_scenario(loaded, &outcome, failure, started.elapsed(), &redactor),
        );
        result
    })
    .with_kind(kind)
}

fn print_observations(observations: &Observations) {
    let mut observations = observations
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if observations.is_empty() {
        return;
    }
    observations.sort();
    println!("observed behaviour where the page is silent (reported, never a failure):");
    for (_, lines) in observations {
        for line in lines {
            println!("  {line}");
        }
    }
    println!();
}

/// Options of `sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepOptions {
    /// The target whose leftovers to delete.
    #[command(flatten)]
    pub target: TargetOptions,
    /// Where run ledgers are kept.
    #[arg(long, env = "IPDR_LEDGER_DIR", default_value = super::ledger_file::DEFAULT_LEDGER_DIR, value_name = "DIR")]
    pub ledger_dir: PathBuf,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `sweep`: deletes the records that killed runs left on the target, as
/// their ledgers list them; touches only UserIDs with their run's prefix.
pub fn sweep_from_cli(options: SweepOptions) -> ExitCode {
    let result = (|| -> Result<bool, SetupError> {
        let url = options.target.target.clone().ok_or_else(|| {
            SetupError::Configuration("sweep needs --target (IPDR_TARGET)".to_string())
        })?;
        let target = target_from_options(&options.target, &url)?;
        let client = Client::new(target)
            .map_err(|error| SetupError::Configuration(error.to_string()))?
            .with_retries(options.target.retries);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                SetupError::Configuration(format!("starting the async runtime: {error}"))
            })?;
        runtime.block_on(preflight(&client))?;
        let report = runtime
            .block_on(super::ledger_file::sweep(
                &client,
                &options.ledger_dir,
                options.dry_run,
            ))
            .map_err(|error| SetupError::Configuration(error.to_string()))?;
        let verb = if options.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for (context, uid) in &report.deleted {
            println!("{verb} {uid} in context {context}");
        }
        for (context, uid) in &report.already_gone {
            println!("already gone: {uid} in context {context}");
        }
        for (context, uid, why) in &report.failed {
            println!("could not delete {uid} in context {context}: {why}");
        }
        if report.other_targets > 0 {
            println!(
                "left alone: {} ledger entries of other targets",
                report.other_targets
            );
        }
        println!(
            "sweep: {} {verb}, {} already gone, {} failed, {} ledger file(s) retired",
            report.deleted.len(),
            report.already_gone.len(),
            report.failed.len(),
            report.retired_files.len()
        );
        Ok(report.failed.is_empty())
    })();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
