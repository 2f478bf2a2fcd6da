//! The harness proves itself: the whole suite against every deliberate
//! deviation of the reference server (each must be caught, by a trial that
//! belongs to the broken behaviour), against every conformant flavour but
//! the reference (nothing may fail), and through a mutating proxy applying
//! generic operators one at a time ([`mutation`]).

mod early_stop;
pub mod mutation;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::execution::client::Client;
use crate::execution::property::{self, PropertyOptions, PropertyReport, PropertyTrial};
use crate::execution::scenario_run::RunIdentity;
use crate::execution::suite::{Suite, TrialResult};
use crate::execution::target::Target;
use crate::reference::{self, Deviation, Flavour, ReferenceError, ServerConfig, UsersFixture};
use crate::spec::load::LoadedScenario;

/// What the suite did against one deviation.
#[derive(Debug, Clone)]
pub struct DeviationRow {
    /// The deviation.
    pub deviation: Deviation,
    /// Names of the trials that failed (the run stops at the first one that belongs to the deviation).
    pub failing: Vec<String>,
    /// Failing trials whose name or citation names the broken behaviour.
    pub attributed: Vec<String>,
}

impl DeviationRow {
    /// Caught: some trial failed, and one of them belongs to the behaviour.
    pub fn caught(&self) -> bool {
        !self.failing.is_empty() && !self.attributed.is_empty()
    }
}

/// What failed against one conformant flavour: each is a false positive.
#[derive(Debug, Clone)]
pub struct FlavourRow {
    /// The flavour.
    pub flavour: Flavour,
    /// Trials that failed against it.
    pub false_positives: Vec<String>,
}

/// The whole self-check.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// One row per deviation.
    pub rows: Vec<DeviationRow>,
    /// One row per conformant flavour other than the reference.
    pub flavours: Vec<FlavourRow>,
}

impl Matrix {
    /// Deviations caught.
    pub fn caught(&self) -> usize {
        self.rows.iter().filter(|row| row.caught()).count()
    }

    /// Every trial that failed against a conformant flavour.
    pub fn false_positives(&self) -> usize {
        self.flavours
            .iter()
            .map(|row| row.false_positives.len())
            .sum()
    }

    /// Whether every deviation was caught and nothing failed against a conformant flavour.
    pub fn is_perfect(&self) -> bool {
        self.caught() == self.rows.len() && self.false_positives() == 0
    }
}

/// Every conformant flavour that makes other choices than the reference
/// where the page is silent (alt, and strict once it exists): each one's
/// failures are false positives.
pub fn conformant_flavours() -> Vec<Flavour> {
    <Flavour as clap::ValueEnum>::value_variants()
        .iter()
        .copied()
        .filter(|flavour| *flavour != Flavour::Reference)
        .collect()
}

/// Why the self-check could not run.
#[derive(Debug, thiserror::Error)]
pub enum SelfcheckError {
    /// A server variant did not start.
    #[error("a reference server variant did not start: {0}")]
    Reference(#[from] ReferenceError),
    /// The HTTP client could not be built.
    #[error("{0}")]
    Client(String),
}

/// Runs `scenarios` against a reference server built from `config`.
pub async fn run_against(
    config: ServerConfig,
    scenarios: &[LoadedScenario],
) -> Result<Vec<TrialResult>, SelfcheckError> {
    let credentials = config.users.harness();
    let server = reference::start(config, ([127, 0, 0, 1], 0).into()).await?;
    let target = Target::from_harness(credentials, server.base_url(), Duration::from_secs(10));
    let client = Client::new(target).map_err(|error| SelfcheckError::Client(error.to_string()))?;
    let suite = Suite::new(client, scenarios.to_vec());
    let results = suite.run_all(8).await;
    server.shutdown().await;
    Ok(results)
}

fn failing(results: &[TrialResult]) -> Vec<&TrialResult> {
    results.iter().filter(|result| result.failed()).collect()
}

/// Whether a trial belongs to the behaviour a deviation breaks: one of its
/// keywords is in the trial's name or citation.
fn belongs(loaded: &LoadedScenario, deviation: Deviation) -> bool {
    let name = loaded.scenario.name.to_lowercase();
    let citation = loaded.scenario.citation.to_lowercase();
    deviation
        .behaviour()
        .iter()
        .any(|keyword| name.contains(keyword) || citation.contains(keyword))
}

/// Deviations checked at once by the matrix (each on its own server).
const MATRIX_PARALLELISM: usize = 2;
/// Trials in flight against one deviation's server.
const TRIALS_IN_FLIGHT: usize = 8;

/// Runs the suite against one deviation until a trial that belongs to it fails.
///
/// Trials that belong to the deviation go first; that only changes how
/// soon the run stops, never whether the deviation is caught.
async fn deviation_row(
    deviation: Deviation,
    scenarios: Arc<Vec<LoadedScenario>>,
) -> Result<DeviationRow, SelfcheckError> {
    let config = ServerConfig::new(UsersFixture::builtin()).with_deviation(deviation);
    let credentials = config.users.harness();
    let server = reference::start(config, ([127, 0, 0, 1], 0).into()).await?;
    let target = Target::from_harness(credentials, server.base_url(), Duration::from_secs(10));
    let client = Client::new(target).map_err(|error| SelfcheckError::Client(error.to_string()))?;
    let suite = Suite::new(client, scenarios.as_ref().clone());
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    order.sort_by_key(|index| !belongs(&scenarios[*index], deviation));
    let outcomes = early_stop::run_until(
        &suite,
        &order,
        TRIALS_IN_FLIGHT,
        move |loaded, outcome| early_stop::failed(outcome) && belongs(loaded, deviation),
        // The server is thrown away: a cancelled trial leaves nothing that matters.
        true,
    )
    .await;
    server.shutdown().await;
    let failed: Vec<&LoadedScenario> = outcomes
        .iter()
        .zip(scenarios.iter())
        .filter(|(outcome, _)| outcome.as_ref().is_some_and(early_stop::failed))
        .map(|(_, loaded)| loaded)
        .collect();
    Ok(DeviationRow {
        deviation,
        failing: failed
            .iter()
            .map(|loaded| loaded.scenario.name.clone())
            .collect(),
        attributed: failed
            .iter()
            .filter(|loaded| belongs(loaded, deviation))
            .map(|loaded| loaded.scenario.name.clone())
            .collect(),
    })
}

/// Runs the suite against every deviation (until it is caught) and, whole,
/// against every conformant flavour.
pub async fn run_matrix(scenarios: &[LoadedScenario]) -> Result<Matrix, SelfcheckError> {
    let shared = Arc::new(scenarios.to_vec());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(MATRIX_PARALLELISM));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, deviation) in Deviation::ALL.into_iter().enumerate() {
        let (shared, semaphore) = (Arc::clone(&shared), Arc::clone(&semaphore));
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            (index, deviation_row(deviation, shared).await)
        });
    }
    let mut rows: Vec<Option<DeviationRow>> = vec![None; Deviation::ALL.len()];
    while let Some(joined) = tasks.join_next().await {
        let (index, row) = joined
            .map_err(|error| SelfcheckError::Client(format!("a matrix run was lost: {error}")))?;
        rows[index] = Some(row?);
    }
    let rows = rows.into_iter().flatten().collect();
    let mut flavours = Vec::new();
    for flavour in conformant_flavours() {
        let config = ServerConfig::new(UsersFixture::builtin()).with_flavour(flavour);
        flavours.push(FlavourRow {
            flavour,
            false_positives: failing(&run_against(config, scenarios).await?)
                .iter()
                .map(|result| result.scenario.scenario.name.clone())
                .collect(),
        });
    }
    Ok(Matrix { rows, flavours })
}

/// The matrix as people read it: deviation → failing trials, then the score.
pub fn render(matrix: &Matrix) -> String {
    let mut out = String::new();
    let width = matrix
        .rows
        .iter()
        .map(|row| row.deviation.name().len())
        .max()
        .unwrap_or(10);
    let _ = writeln!(out, "{:<width$}  caught by", "deviation");
    for row in &matrix.rows {
        let verdict = if row.caught() {
            let shown: Vec<&str> = row.attributed.iter().take(3).map(String::as_str).collect();
            let more = row.failing.len() - shown.len();
            if more > 0 {
                format!("{} (+{more} more failing)", shown.join(", "))
            } else {
                shown.join(", ")
            }
        } else if row.failing.is_empty() {
            "MISSED: no trial failed".to_string()
        } else {
            format!(
                "MISSED: only unrelated trials failed: {}",
                row.failing.join(", ")
            )
        };
        let _ = writeln!(out, "{:<width$}  {verdict}", row.deviation.name());
    }
    let total = matrix.rows.len();
    let caught = matrix.caught();
    let _ = writeln!(
        out,
        "\nmutation score: {caught}/{total} deviations caught ({:.0} %)",
        if total == 0 {
            0.0
        } else {
            100.0 * caught as f64 / total as f64
        }
    );
    for row in &matrix.flavours {
        let _ = writeln!(
            out,
            "false positives against --flavour {}: {}{}",
            row.flavour,
            row.false_positives.len(),
            if row.false_positives.is_empty() {
                String::new()
            } else {
                format!(" ({})", row.false_positives.join(", "))
            }
        );
    }
    out
}

/// Deviations checked at once by the properties-only matrix.
const PROPERTY_MATRIX_PARALLELISM: usize = 4;

/// The seed of the properties-only matrix, so that its verdicts are the same on every run.
pub const PROPERTY_MATRIX_SEED: u64 = 20_241_127;

/// Whether a property failure belongs to the behaviour a deviation breaks: its
/// keywords appear in the trial name, the violation's citation or its topic.
fn property_belongs(report: &PropertyReport, deviation: Deviation) -> bool {
    let Some(failure) = &report.failure else {
        return false;
    };
    let mut text = report.trial.name();
    if let Some(violation) = &failure.violation {
        text.push(' ');
        text.push_str(&violation.citation);
        text.push(' ');
        text.push_str(&violation.topic);
    }
    let text = text.to_lowercase();
    deviation
        .behaviour()
        .iter()
        .any(|keyword| text.contains(keyword))
}

/// `trial (first line of the violation)`, for the matrix.
fn property_label(report: &PropertyReport) -> String {
    let reason = report
        .failure
        .as_ref()
        .and_then(|failure| failure.violation.as_ref())
        .and_then(|violation| violation.message.lines().next())
        .unwrap_or("could not be checked");
    let reason: String = reason.chars().take(90).collect();
    format!("{} ({reason})", report.trial.name())
}

/// Runs both property trials against a reference server built from `config`.
fn properties_against(
    runtime: &tokio::runtime::Runtime,
    config: ServerConfig,
    options: &PropertyOptions,
    seed: u64,
) -> Result<Vec<PropertyReport>, SelfcheckError> {
    let credentials = config.users.harness();
    let server = runtime.block_on(reference::start(config, ([127, 0, 0, 1], 0).into()))?;
    let target = Target::from_harness(credentials, server.base_url(), Duration::from_secs(10));
    let client = Client::new(target).map_err(|error| SelfcheckError::Client(error.to_string()))?;
    let identity = RunIdentity::fresh();
    let reports = std::thread::scope(|scope| {
        let running: Vec<_> = PropertyTrial::ALL
            .into_iter()
            .map(|trial| {
                let (client, identity) = (&client, &identity);
                scope.spawn(move || {
                    property::run_trial(trial, runtime.handle(), client, identity, options, seed)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|handle| handle.join().expect("a property trial does not panic"))
            .collect()
    });
    runtime.block_on(server.shutdown());
    Ok(reports)
}

/// The properties alone (no scenario) against every deviation and against every conformant flavour.
///
/// Sequences come from `options.seed` or [`PROPERTY_MATRIX_SEED`]; reproduction
/// scenarios go to a temporary directory that is removed afterwards.
pub fn run_property_matrix(options: &PropertyOptions) -> Result<Matrix, SelfcheckError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| SelfcheckError::Client(format!("starting the async runtime: {error}")))?;
    let repro_dir = std::env::temp_dir().join(format!(
        "ipdr-property-matrix-{}-{}",
        std::process::id(),
        RunIdentity::fresh().run_id
    ));
    let options = PropertyOptions {
        repro_dir: repro_dir.clone(),
        ..options.clone()
    };
    let seed = options.seed.unwrap_or(PROPERTY_MATRIX_SEED);
    // Deviations run a few at a time: most of the time goes to waiting on loopback
    // (and on the racy store's deliberate pause), not to the CPU.
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PROPERTY_MATRIX_PARALLELISM {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(deviation) = Deviation::ALL.get(index).copied() else {
                    break;
                };
                let config = ServerConfig::new(UsersFixture::builtin()).with_deviation(deviation);
                let reports = properties_against(&runtime, config, &options, seed);
                results
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((index, deviation, reports));
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    results.sort_by_key(|(index, _, _)| *index);
    let mut rows = Vec::new();
    for (_, deviation, reports) in results {
        let reports = reports?;
        let failed: Vec<&PropertyReport> = reports
            .iter()
            .filter(|report| report.failure.is_some())
            .collect();
        rows.push(DeviationRow {
            deviation,
            failing: failed.iter().map(|report| report.trial.name()).collect(),
            attributed: failed
                .iter()
                .filter(|report| property_belongs(report, deviation))
                .map(|report| property_label(report))
                .collect(),
        });
    }
    let mut flavours = Vec::new();
    for flavour in conformant_flavours() {
        let config = ServerConfig::new(UsersFixture::builtin()).with_flavour(flavour);
        flavours.push(FlavourRow {
            flavour,
            false_positives: properties_against(&runtime, config, &options, seed)?
                .iter()
                .filter(|report| report.failure.is_some())
                .map(property_label)
                .collect(),
        });
    }
    // Best effort: the directory holds only scenarios written above.
    let _ = std::fs::remove_dir_all(&repro_dir);
    Ok(Matrix { rows, flavours })
}

/// The properties-only matrix as people read it, headed so it is not mistaken for the full one.
pub fn render_property_matrix(matrix: &Matrix) -> String {
    format!(
        "properties only (property::crud_sequences, property::concurrent_linearizable; scenarios skipped):\n{}",
        render(matrix)
    )
}
