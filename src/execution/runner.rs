//! `ipdr-conformance run`: scenarios become libtest-mimic trials against one
//! target, with a preflight before and a cleanup sweep after.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Completion, Failed, Trial};
use serde_json::Value;

use super::client::Client;
use super::scenario_run::Verdict;
use super::suite::Suite;
use super::target::{ApiToken, Target};
use crate::reference::{self, RunningServer, ServerConfig, UsersFixture};
use crate::report::console::{render_failure, render_observations};
use crate::report::redact::Redactor;
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

fn target_from_options(options: &TargetOptions, base_url: &str) -> Result<Target, SetupError> {
    let url = reqwest::Url::parse(base_url).map_err(|error| {
        SetupError::Configuration(format!("--target {base_url:?} is not a URL: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SetupError::Configuration(format!(
            "--target {base_url:?} must be an http:// or https:// URL with a host"
        )));
    }
    let api_token = options
        .api_token
        .clone()
        .filter(|token| !token.expose().is_empty())
        .ok_or_else(|| {
            SetupError::Configuration(
                "--target needs an api token (IPDR_API_TOKEN or --api-token)".to_string(),
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
async fn preflight(client: &Client) -> Result<(), SetupError> {
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
            answer: Redactor::new(target.api_token.expose())
                .text(&Value::Object(map.clone()).to_string()),
        });
    }
    Ok(())
}

fn run(options: RunOptions) -> Result<ExitCode, SetupError> {
    let scenarios = match &options.specs {
        Some(dir) => load_dir(dir)?,
        None => load_embedded()?,
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
    let client =
        Client::new(target).map_err(|error| SetupError::Configuration(error.to_string()))?;
    if !options.harness.list {
        runtime.block_on(preflight(&client))?;
    }
    let suite = Suite::new(client, scenarios);
    println!(
        "run id {} (every record this run creates starts with {})",
        suite.identity().run_id,
        suite.identity().uid_prefix()
    );
    let runtime = Arc::new(runtime);
    let observations = Arc::new(Mutex::new(Vec::new()));
    let mut trials: Vec<Trial> = (0..suite.scenarios().len())
        .map(|index| scenario_trial(&runtime, &suite, index, &observations, token.clone()))
        .collect();
    trials.extend(super::property::trials(&runtime, &suite, &options.property, &token));
    let conclusion = libtest_mimic::run(&options.harness, trials);
    print_observations(&observations);
    if !options.harness.list {
        for (context, count) in runtime.block_on(suite.sweep_leftovers()) {
            println!("cleanup: deleted {count} record(s) of this run left in context {context}");
        }
    }
    if let Some(server) = server {
        runtime.block_on(server.shutdown());
    }
    Ok(if conclusion.num_failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Observed-behaviour lines, per scenario name.
type Observations = Arc<Mutex<Vec<(String, Vec<String>)>>>;

fn scenario_trial(
    runtime: &Arc<tokio::runtime::Runtime>,
    suite: &Arc<Suite>,
    index: usize,
    observations: &Observations,
    token: String,
) -> Trial {
    let loaded = &suite.scenarios()[index];
    let name = loaded.scenario.name.clone();
    let kind = loaded.scenario.level.as_str();
    let (runtime, suite, observations) = (
        Arc::clone(runtime),
        Arc::clone(suite),
        Arc::clone(observations),
    );
    Trial::ignorable_test(name, move || {
        let outcome = runtime.block_on(suite.run_one(index));
        let loaded = &suite.scenarios()[index];
        let observed = render_observations(loaded, &outcome, &token);
        if !observed.is_empty() {
            let mut observations = observations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            observations.push((loaded.scenario.name.clone(), observed));
        }
        match outcome.verdict {
            Verdict::Passed => Ok(Completion::Completed),
            Verdict::Ignored(reason) => Ok(Completion::ignored_with(reason)),
            Verdict::Failed(_) | Verdict::Errored(_) => {
                Err(Failed::from(render_failure(loaded, &outcome, &token)))
            }
        }
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
