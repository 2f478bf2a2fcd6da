//! Running the scenario suite once per mutant, through the mutating proxy.
//!
//! First a baseline run through the proxy with no operator: it proves the
//! proxy forwards faithfully and records which trials fail anyway (against
//! a `--target` that departs from the page). Then each mutant gets its own
//! proxy (and, against the embedded server, its own fresh server) and its own
//! run identity; its run stops at the first trial that fails and passed in
//! the baseline (the mutant is killed), so only survivors run the whole
//! suite. Against the embedded server (discarded afterwards) the trials still
//! running are cancelled at once; against a `--target` they finish and clean
//! up. Trials that killed earlier mutants of the same operator run first, so
//! a killed mutant usually dies in its first few trials; the order changes
//! only the cost, never a verdict (a survivor runs every trial). A few
//! mutants run at once.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::operator::{Mutant, Needs};
use super::proxy::{MutatingProxy, ProxyError};
use super::request::KnownCredentials;
use crate::execution::client::Client;
use crate::execution::ledger_file::LedgerFile;
use crate::execution::scenario_run::{RunIdentity, Verdict};
use crate::execution::suite::{scenario_tag, Suite};
use crate::execution::target::Target;
use crate::reference::{
    self, Flavour, HarnessCredentials, Preload, PreloadCustomer, ReferenceError, ServerConfig,
    UsersFixture,
};
use crate::selfcheck::early_stop::{failed, run_until};
use crate::spec::load::LoadedScenario;

/// Per-request timeout against the embedded server.
const EMBEDDED_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the operator table could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The proxy did not start.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The embedded server did not start.
    #[error("the embedded reference server did not start: {0}")]
    Reference(#[from] ReferenceError),
    /// The harness's HTTP client could not be built.
    #[error("{0}")]
    Client(String),
    /// The cleanup ledger of a run against a target could not be written.
    #[error("cleanup ledger: {0}")]
    Ledger(String),
}

/// Where the proxy forwards to.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// A fresh embedded reference server of this flavour for every run.
    Embedded(Flavour),
    /// A server the harness is configured for (`--target`); each run's records are swept afterwards.
    Target {
        /// The target and its credentials.
        target: Box<Target>,
        /// Extra attempts after a network error.
        retries: u32,
        /// Where each run's cleanup ledger is kept until it has cleaned up.
        ledger_dir: PathBuf,
    },
}

impl Upstream {
    /// What the table was measured against, for its heading.
    pub fn describe(&self) -> String {
        match self {
            Upstream::Embedded(Flavour::Reference) => "the embedded reference server".to_string(),
            Upstream::Embedded(flavour) => {
                format!("the embedded reference server, --flavour {flavour}")
            }
            Upstream::Target { target, .. } => format!("--target {}", target.base_url),
        }
    }
}

/// How the campaign runs.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// The mutants, in table order.
    pub mutants: Vec<Mutant>,
    /// Mutants run at once.
    pub parallel_mutants: usize,
    /// Trials run at once within one mutant's run.
    pub trial_parallelism: usize,
    /// Stop scheduling a mutant's trials at its first kill.
    pub stop_at_first_kill: bool,
    /// Print a progress line to stderr every this many mutants (0: never).
    pub progress_every: usize,
}

impl Default for CampaignOptions {
    fn default() -> Self {
        CampaignOptions {
            mutants: super::operator::all_mutants(),
            // Each mutant's trials run one at a time, so what a list operator
            // picks (the first, the last element) does not depend on how other
            // trials interleave: verdicts are the same on every run. Mutants
            // run side by side instead, each with its own server and proxy;
            // on 2 cores, 2 to 4 at once take about the same time, 8 three times as long.
            parallel_mutants: 2,
            trial_parallelism: 1,
            stop_at_first_kill: true,
            progress_every: 0,
        }
    }
}

/// A trial that failed under a mutant but passed in the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Killer {
    /// The trial.
    pub trial: String,
    /// It errored (a harness or network problem) rather than failed a check.
    pub errored: bool,
}

/// What one run of the suite through the proxy did.
#[derive(Debug, Clone)]
pub struct MutantRun {
    /// The mutant (None: the baseline).
    pub mutant: Option<Mutant>,
    /// Trials that failed and passed in the baseline (for the baseline: every failing trial).
    pub killers: Vec<Killer>,
    /// Trials that ran (the rest were not scheduled after the first kill).
    pub trials_run: usize,
    /// Trials ignored for missing configuration.
    pub trials_ignored: usize,
    /// Requests or answers the mutant edited.
    pub applications: u64,
    /// Trials whose requests (by their UserIDs) had traffic edited.
    pub touched_trials: Vec<String>,
    /// The configuration the operator needs and the target lacks.
    pub missing: Option<Needs>,
    /// Wall time of the run, server start and cleanup included.
    pub elapsed: Duration,
}

/// The baseline and every mutant's run.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// What the proxy forwarded to.
    pub upstream: String,
    /// Trials in the suite.
    pub trials: usize,
    /// The run with no operator.
    pub baseline: MutantRun,
    /// One run per mutant, in table order.
    pub runs: Vec<MutantRun>,
    /// Wall time of the whole campaign, baseline included.
    pub elapsed: Duration,
}

/// Which trials killed mutants so far, per operator and overall: the order of the next runs.
#[derive(Debug, Default)]
struct KillHistory {
    by_operator: HashMap<String, HashMap<usize, u32>>,
    overall: HashMap<usize, u32>,
}

impl KillHistory {
    /// Trial indices, those that killed most mutants of `operator` (then of any operator) first.
    fn order(&self, operator: &str, count: usize) -> Vec<usize> {
        let empty = HashMap::new();
        let mine = self.by_operator.get(operator).unwrap_or(&empty);
        let mut order: Vec<usize> = (0..count).collect();
        order.sort_by_key(|index| {
            (
                std::cmp::Reverse(mine.get(index).copied().unwrap_or(0)),
                std::cmp::Reverse(self.overall.get(index).copied().unwrap_or(0)),
                *index,
            )
        });
        order
    }

    fn record(&mut self, operator: &str, killers: &[usize]) {
        let mine = self.by_operator.entry(operator.to_string()).or_default();
        for index in killers {
            *mine.entry(*index).or_default() += 1;
            *self.overall.entry(*index).or_default() += 1;
        }
    }
}

/// Run ids handed out in this process, so concurrent runs never share UserIDs.
static RUN_IDS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn unique_identity() -> RunIdentity {
    loop {
        let identity = RunIdentity::fresh();
        let mut taken = RUN_IDS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if taken.insert(identity.run_id.clone()) {
            return identity;
        }
    }
}

/// Runs the baseline, then every mutant, and returns what each did.
pub async fn run_campaign(
    scenarios: &[LoadedScenario],
    upstream: &Upstream,
    options: &CampaignOptions,
) -> Result<Campaign, CampaignError> {
    let started = Instant::now();
    let scenarios: Arc<Vec<LoadedScenario>> = Arc::new(scenarios.to_vec());
    let load_order: Vec<usize> = (0..scenarios.len()).collect();
    let baseline = run_mutant(
        None,
        &scenarios,
        upstream,
        &BTreeSet::new(),
        options,
        &load_order,
    )
    .await?;
    let baseline_failing: Arc<BTreeSet<String>> = Arc::new(
        baseline
            .killers
            .iter()
            .map(|killer| killer.trial.clone())
            .collect(),
    );
    let semaphore = Arc::new(tokio::sync::Semaphore::new(options.parallel_mutants.max(1)));
    let history = Arc::new(Mutex::new(KillHistory::default()));
    let mut tasks = tokio::task::JoinSet::new();
    let total = options.mutants.len();
    for (index, mutant) in options.mutants.iter().copied().enumerate() {
        let (semaphore, scenarios, baseline_failing, history) = (
            Arc::clone(&semaphore),
            Arc::clone(&scenarios),
            Arc::clone(&baseline_failing),
            Arc::clone(&history),
        );
        let (upstream, options) = (upstream.clone(), options.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let kind = mutant.operator.kind();
            let order = history
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .order(&kind, scenarios.len());
            let run = run_mutant(
                Some(mutant),
                &scenarios,
                &upstream,
                &baseline_failing,
                &options,
                &order,
            )
            .await;
            if let Ok(run) = &run {
                let killers: Vec<usize> = run
                    .killers
                    .iter()
                    .filter_map(|killer| {
                        scenarios
                            .iter()
                            .position(|loaded| loaded.scenario.name == killer.trial)
                    })
                    .collect();
                history
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .record(&kind, &killers);
            }
            (index, run)
        });
    }
    let mut runs: Vec<Option<MutantRun>> = vec![None; total];
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (index, run) = joined
            .map_err(|error| CampaignError::Client(format!("a mutant's run was lost: {error}")))?;
        runs[index] = Some(run?);
        done += 1;
        if options.progress_every > 0 && done % options.progress_every == 0 {
            eprintln!(
                "mutation operators: {done}/{total} mutants run ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(Campaign {
        upstream: upstream.describe(),
        trials: scenarios.len(),
        baseline,
        runs: runs.into_iter().flatten().collect(),
        elapsed: started.elapsed(),
    })
}

/// Customers the harness did not create, for the runs of equivalent mutants:
/// with them every list holds several elements (so order probes have
/// something to reorder) and empty optional fields. Mutants that must be
/// killed run on an empty server instead, where the suite can see every
/// record (dropping a record it never created is invisible to it).
fn foreign_customers(credentials: &HarnessCredentials) -> Preload {
    let mut preload = Preload::new();
    let contexts =
        std::iter::once(credentials.context.clone()).chain(credentials.second_context.clone());
    for context in contexts {
        // The page's own examples ("Retrieving Customer List › Response Example").
        let mut trisul = PreloadCustomer::new("B68t19", "Trisul");
        trisul.address = "Chennai".to_string();
        trisul.email = "demo@gmail.com".to_string();
        trisul.phone_number = "1234567890".to_string();
        trisul.alt_phone_number = "9999999999".to_string();
        preload.add(context.clone(), trisul);
        preload.add(
            context.clone(),
            PreloadCustomer::new("Xlr8d3", "Trisul Network Analytics"),
        );
        preload.add(context, PreloadCustomer::new("Q7m2k9", "Customer"));
    }
    preload
}

/// One run of the suite through a proxy applying `mutant`.
async fn run_mutant(
    mutant: Option<Mutant>,
    scenarios: &Arc<Vec<LoadedScenario>>,
    upstream: &Upstream,
    baseline_failing: &BTreeSet<String>,
    options: &CampaignOptions,
    order: &[usize],
) -> Result<MutantRun, CampaignError> {
    let started = Instant::now();
    let identity = unique_identity();
    let (server, target, retries, ledger_dir) = match upstream {
        Upstream::Embedded(flavour) => {
            let mut config = ServerConfig::new(UsersFixture::builtin()).with_flavour(*flavour);
            let credentials = config.users.harness();
            if mutant.is_some_and(|mutant| mutant.operator.equivalence().is_some()) {
                config = config.with_preload(foreign_customers(&credentials));
            }
            let server = reference::start(config, ([127, 0, 0, 1], 0).into()).await?;
            let target = Target::from_harness(credentials, server.base_url(), EMBEDDED_TIMEOUT);
            (Some(server), target, 0, None)
        }
        Upstream::Target {
            target,
            retries,
            ledger_dir,
        } => (None, (**target).clone(), *retries, Some(ledger_dir.clone())),
    };
    let missing = mutant
        .and_then(|mutant| mutant.operator.needs())
        .filter(|needs| match needs {
            Needs::SecondContext => target.second_context.is_none(),
            Needs::ForbiddenContext => target.forbidden_context.is_none(),
            Needs::OtherUser => target.other.is_none(),
        });
    let known = KnownCredentials::new(&target, &identity);
    let proxy = MutatingProxy::start(&target.base_url, mutant, known, target.timeout).await?;
    let through_proxy = Target {
        base_url: proxy.base_url(),
        ..target.clone()
    };
    let client = Client::new(through_proxy)
        .map_err(|error| CampaignError::Client(error.to_string()))?
        .with_retries(retries);
    // Against a real target the ledger names the target itself, so `sweep` finds the records.
    let ledger_file = match &ledger_dir {
        Some(dir) => Some(Arc::new(
            LedgerFile::create(dir, &identity.run_id, &target.base_url)
                .map_err(|error| CampaignError::Ledger(error.to_string()))?,
        )),
        None => None,
    };
    let suite = Suite::with_ledger_file(
        client,
        scenarios.as_ref().clone(),
        identity.clone(),
        ledger_file.clone(),
    );
    let stop_early = options.stop_at_first_kill && mutant.is_some();
    let baseline = baseline_failing.clone();
    let outcomes = run_until(
        &suite,
        order,
        options.trial_parallelism,
        move |loaded, outcome| {
            stop_early && failed(outcome) && !baseline.contains(&loaded.scenario.name)
        },
        // The embedded server is thrown away: nothing to clean up after a cancelled trial.
        server.is_some(),
    )
    .await;
    let applications = proxy.applications();
    let touched = proxy.touched_user_ids();
    proxy.shutdown().await;
    if let Some(server) = server {
        server.shutdown().await;
    } else {
        // The proxy may have edited the cleanup's own requests: sweep straight at the target.
        let direct = Client::new(target.clone())
            .map_err(|error| CampaignError::Client(error.to_string()))?
            .with_retries(retries);
        let sweeper = Suite::with_ledger_file(direct, Vec::new(), identity.clone(), None);
        sweeper.sweep_leftovers().await;
        if let Some(file) = &ledger_file {
            if sweeper.sweep_leftovers().await.is_clean() {
                if let Err(error) = file.retire() {
                    eprintln!("warning: {error}");
                }
            } else {
                eprintln!(
                    "warning: records of run {} may be left on the target; run `ipdr-conformance sweep` to delete them",
                    identity.run_id
                );
            }
        }
    }
    let mut killers = Vec::new();
    let mut trials_run = 0;
    let mut trials_ignored = 0;
    for (index, outcome) in outcomes.iter().enumerate() {
        let Some(outcome) = outcome else { continue };
        trials_run += 1;
        if matches!(outcome.verdict, Verdict::Ignored(_)) {
            trials_ignored += 1;
        }
        let name = &scenarios[index].scenario.name;
        if failed(outcome) && !baseline_failing.contains(name) {
            killers.push(Killer {
                trial: name.clone(),
                errored: matches!(outcome.verdict, Verdict::Errored(_)),
            });
        }
    }
    Ok(MutantRun {
        mutant,
        killers,
        trials_run,
        trials_ignored,
        applications,
        touched_trials: touched_trials(&touched, &identity, scenarios),
        missing,
        elapsed: started.elapsed(),
    })
}

/// The trials whose UserIDs (`<run prefix><tag>-<label>`) are among `user_ids`.
fn touched_trials(
    user_ids: &BTreeSet<String>,
    identity: &RunIdentity,
    scenarios: &[LoadedScenario],
) -> Vec<String> {
    let prefix = identity.uid_prefix();
    let mut names = BTreeSet::new();
    for user_id in user_ids {
        let Some(rest) = user_id.strip_prefix(&prefix) else {
            continue;
        };
        let tag = rest.split('-').next().unwrap_or("");
        if let Some(index) = (0..scenarios.len()).find(|index| scenario_tag(*index) == tag) {
            names.insert(scenarios[index].scenario.name.clone());
        }
    }
    names.into_iter().collect()
}
