//! The harness proves itself: the whole suite against every deliberate
//! deviation of the reference server (each must be caught, by a trial that
//! belongs to the broken behaviour) and against the conformant `alt`
//! flavour (nothing may fail).

use std::fmt::Write as _;
use std::time::Duration;

use crate::execution::client::Client;
use crate::execution::suite::{Suite, TrialResult};
use crate::execution::target::Target;
use crate::reference::{self, Deviation, Flavour, ReferenceError, ServerConfig, UsersFixture};
use crate::spec::load::LoadedScenario;

/// What the suite did against one deviation.
#[derive(Debug, Clone)]
pub struct DeviationRow {
    /// The deviation.
    pub deviation: Deviation,
    /// Names of the trials that failed.
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

/// The whole self-check.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// One row per deviation.
    pub rows: Vec<DeviationRow>,
    /// Trials that failed against the conformant alt flavour.
    pub false_positives: Vec<String>,
}

impl Matrix {
    /// Deviations caught.
    pub fn caught(&self) -> usize {
        self.rows.iter().filter(|row| row.caught()).count()
    }

    /// Whether every deviation was caught and nothing failed against alt.
    pub fn is_perfect(&self) -> bool {
        self.caught() == self.rows.len() && self.false_positives.is_empty()
    }
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

/// Whether a failing trial belongs to the behaviour a deviation breaks.
fn belongs(result: &TrialResult, deviation: Deviation) -> bool {
    let name = result.scenario.scenario.name.to_lowercase();
    let citation = result.scenario.scenario.citation.to_lowercase();
    deviation
        .behaviour()
        .iter()
        .any(|keyword| name.contains(keyword) || citation.contains(keyword))
}

/// Runs the suite against every deviation and against the alt flavour.
pub async fn run_matrix(scenarios: &[LoadedScenario]) -> Result<Matrix, SelfcheckError> {
    let mut rows = Vec::new();
    for deviation in Deviation::ALL {
        let config = ServerConfig::new(UsersFixture::builtin()).with_deviation(deviation);
        let results = run_against(config, scenarios).await?;
        let failed = failing(&results);
        rows.push(DeviationRow {
            deviation,
            failing: failed
                .iter()
                .map(|result| result.scenario.scenario.name.clone())
                .collect(),
            attributed: failed
                .iter()
                .filter(|result| belongs(result, deviation))
                .map(|result| result.scenario.scenario.name.clone())
                .collect(),
        });
    }
    let alt = ServerConfig::new(UsersFixture::builtin()).with_flavour(Flavour::Alt);
    let false_positives = failing(&run_against(alt, scenarios).await?)
        .iter()
        .map(|result| result.scenario.scenario.name.clone())
        .collect();
    Ok(Matrix {
        rows,
        false_positives,
    })
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
    let _ = writeln!(
        out,
        "false positives against --flavour alt: {}{}",
        matrix.false_positives.len(),
        if matrix.false_positives.is_empty() {
            String::new()
        } else {
            format!(" ({})", matrix.false_positives.join(", "))
        }
    );
    out
}
