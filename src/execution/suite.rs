//! A suite: scenarios bound to one target and one run identity, runnable
//! one at a time (the engine's trials) or all at once (self-checks, bench).

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::client::Client;
use super::ledger_file::LedgerFile;
use super::list_stream::{Glance, KeepWhere};
use super::scenario_run::{
    opt_in_reason, principal_auth_body, run_scenario_observed, CleanupLedger, RunIdentity,
    ScenarioOutcome, StepObserver, Unobserved, Verdict,
};
use super::snapshot::{NormalizedStep, Normalizer};
use crate::spec::contract::COLLECTION_PATH;
use crate::spec::load::LoadedScenario;
use crate::spec::scenario::Principal;

/// Scenarios bound to a target.
#[derive(Debug)]
pub struct Suite {
    client: Client,
    identity: RunIdentity,
    scenarios: Vec<LoadedScenario>,
    ledger_file: Option<Arc<LedgerFile>>,
    deep: bool,
    /// Cleanup problems of [`Suite::run_one`] and [`Suite::sweep_leftovers`], for the caller to show.
    problems: Mutex<Vec<String>>,
}

/// One scenario run and the cleanup after it.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// What the steps did.
    pub outcome: ScenarioOutcome,
    /// Deletions sent for records the scenario may have created.
    pub deletions: usize,
    /// Deletions that failed.
    pub cleanup_problems: Vec<String>,
}

/// One scenario's result.
#[derive(Debug, Clone)]
pub struct TrialResult {
    /// The scenario.
    pub scenario: LoadedScenario,
    /// What happened.
    pub outcome: ScenarioOutcome,
}

impl TrialResult {
    /// Whether the trial failed or errored.
    pub fn failed(&self) -> bool {
        matches!(
            self.outcome.verdict,
            Verdict::Failed(_) | Verdict::Errored(_)
        )
    }
}

impl Suite {
    /// Binds `scenarios` to the target `client` talks to, under a fresh run identity.
    pub fn new(client: Client, scenarios: Vec<LoadedScenario>) -> Arc<Suite> {
        Suite::with_ledger_file(client, scenarios, RunIdentity::fresh(), None)
    }

    /// Like [`Suite::new`], with a given identity and a ledger file every creating request is written to first.
    pub fn with_ledger_file(
        client: Client,
        scenarios: Vec<LoadedScenario>,
        identity: RunIdentity,
        ledger_file: Option<Arc<LedgerFile>>,
    ) -> Arc<Suite> {
        Suite::with_options(client, scenarios, identity, ledger_file, false)
    }

    /// Like [`Suite::with_ledger_file`]; with `deep`, scenarios tagged `deep` run too (`run --deep`).
    pub fn with_options(
        client: Client,
        scenarios: Vec<LoadedScenario>,
        identity: RunIdentity,
        ledger_file: Option<Arc<LedgerFile>>,
        deep: bool,
    ) -> Arc<Suite> {
        Arc::new(Suite {
            ledger_file,
            identity,
            client,
            scenarios,
            deep,
            problems: Mutex::default(),
        })
    }

    /// The cleanup problems met so far, taken (each is returned once).
    pub fn take_problems(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .problems
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn note_problems(&self, problems: &[String]) {
        self.problems
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(problems.iter().cloned());
    }

    /// Whether scenarios tagged `deep` run.
    pub fn deep(&self) -> bool {
        self.deep
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The run's ledger file, if it has one.
    pub fn ledger_file(&self) -> Option<&Arc<LedgerFile>> {
        self.ledger_file.as_ref()
    }

    /// This run's identity.
    pub fn identity(&self) -> &RunIdentity {
        &self.identity
    }

    /// The scenarios, in load order.
    pub fn scenarios(&self) -> &[LoadedScenario] {
        &self.scenarios
    }

    /// Runs scenario `index`, then deletes what it may have created, even if
    /// it panicked; cleanup problems are kept for [`Suite::take_problems`].
    pub async fn run_one(self: &Arc<Self>, index: usize) -> ScenarioOutcome {
        let run = self.run_one_observed(index, Arc::new(Unobserved)).await;
        self.note_problems(&run.cleanup_problems);
        run.outcome
    }

    /// Runs scenario `index` telling `observer` about each step, then
    /// deletes what it may have created, even if it panicked.
    pub async fn run_one_observed(
        self: &Arc<Self>,
        index: usize,
        observer: Arc<dyn StepObserver>,
    ) -> ScenarioRun {
        if let Some(reason) = opt_in_reason(&self.scenarios[index], self.deep) {
            return ScenarioRun {
                outcome: ScenarioOutcome {
                    steps: Vec::new(),
                    verdict: Verdict::Ignored(reason),
                    panic: None,
                },
                deletions: 0,
                cleanup_problems: Vec::new(),
            };
        }
        let (outcome, ledger) = self.run_steps(index, observer).await;
        let (deletions, cleanup_problems) = self.clean_up(&ledger).await;
        ScenarioRun {
            outcome,
            deletions,
            cleanup_problems,
        }
    }

    /// Runs scenario `index`'s steps (no opt-in check, no cleanup): the
    /// outcome, and the ledger of what it may have created, to hand to
    /// [`Suite::clean_up`] even if the harness panicked.
    pub async fn run_steps(
        self: &Arc<Self>,
        index: usize,
        observer: Arc<dyn StepObserver>,
    ) -> (ScenarioOutcome, CleanupLedger) {
        let ledger = CleanupLedger::with_file(self.ledger_file.clone());
        let suite = Arc::clone(self);
        let task_ledger = ledger.clone();
        // A task of its own, so that a panic in the harness still leaves the ledger to clean.
        let joined = tokio::spawn(async move {
            let loaded = &suite.scenarios[index];
            run_scenario_observed(
                loaded,
                &scenario_tag(index),
                &suite.client,
                &suite.identity,
                &task_ledger,
                &*observer,
            )
            .await
        })
        .await;
        let outcome = joined.unwrap_or_else(|error| ScenarioOutcome {
            steps: Vec::new(),
            verdict: Verdict::Errored(0),
            panic: Some(panic_message(error)),
        });
        (outcome, ledger)
    }

    /// Deletes every record of this run that `ledger` lists: how many
    /// deletions were sent, and those that failed.
    pub async fn clean_up(&self, ledger: &CleanupLedger) -> (usize, Vec<String>) {
        let prefix = self.identity.uid_prefix();
        let deletions = ledger
            .entries()
            .iter()
            .filter(|entry| entry.user_id.starts_with(&prefix))
            .count();
        (deletions, ledger.clean(&self.client, &self.identity).await)
    }

    /// The normalizer of scenario `index` as this suite runs it (its UserIDs carry [`scenario_tag`]).
    pub fn normalizer(&self, index: usize) -> Normalizer {
        Normalizer::new(
            &self.scenarios[index],
            &scenario_tag(index),
            &self.identity,
            self.client.target(),
        )
    }

    /// Scenario `index`'s steps as `outcome` recorded them, normalized for snapshots.
    pub fn normalized_steps(&self, index: usize, outcome: &ScenarioOutcome) -> Vec<NormalizedStep> {
        self.normalizer(index)
            .scenario(&self.scenarios[index], outcome)
    }

    /// Runs every scenario, at most `parallelism` at once, in load order of results.
    pub async fn run_all(self: &Arc<Self>, parallelism: usize) -> Vec<TrialResult> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..self.scenarios.len() {
            let suite = Arc::clone(self);
            let semaphore = Arc::clone(&semaphore);
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                (index, suite.run_one(index).await)
            });
        }
        let mut results: Vec<Option<ScenarioOutcome>> = vec![None; self.scenarios.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, outcome)) = joined {
                results[index] = Some(outcome);
            }
        }
        results
            .into_iter()
            .zip(&self.scenarios)
            .map(|(outcome, scenario)| TrialResult {
                scenario: scenario.clone(),
                outcome: outcome.unwrap_or_else(|| ScenarioOutcome {
                    steps: Vec::new(),
                    verdict: Verdict::Errored(0),
                    panic: Some("the trial task was lost".to_string()),
                }),
            })
            .collect()
    }

    /// Deletes anything of this run's still on the target, in every context
    /// the user may access and, with `--other-*`, in the other user's
    /// context as the other user; returns how many records were found per
    /// context, and where the list could not be read (deletion and listing
    /// problems are kept for [`Suite::take_problems`]).
    pub async fn sweep_leftovers(&self) -> Leftovers {
        let target = self.client.target();
        let prefix = self.identity.uid_prefix();
        let places: Vec<(Principal, String)> = std::iter::once(target.context.clone())
            .chain(target.second_context.clone())
            .map(|context| (Principal::Configured, context))
            .chain(
                target
                    .other
                    .as_ref()
                    .map(|other| (Principal::Other, other.context.clone())),
            )
            .collect();
        let mut leftovers = Leftovers::default();
        for (principal, context) in places {
            let Some(body) = principal_auth_body(target, principal, &context) else {
                continue;
            };
            // Only this run's records are kept, however long the list.
            let mut sink = KeepWhere(|customer: &Glance| {
                customer
                    .user_id_text()
                    .is_some_and(|uid| uid.starts_with(&prefix))
            });
            let exchange = self
                .client
                .send_list("GET", COLLECTION_PATH, Some(body), &mut sink)
                .await;
            // A list that cannot be read proves nothing is left: the ledger must stay.
            let customers = match exchange.response {
                Ok(response) => match response.json {
                    Some(Value::Array(customers)) => customers,
                    _ => {
                        let why = format!(
                            "listing {context} for this run's leftovers: HTTP {} without a JSON list",
                            response.status
                        );
                        self.note_problems(std::slice::from_ref(&why));
                        leftovers.unlisted.push(context);
                        continue;
                    }
                },
                Err(error) => {
                    let why = format!("listing {context} for this run's leftovers: {error}");
                    self.note_problems(std::slice::from_ref(&why));
                    leftovers.unlisted.push(context);
                    continue;
                }
            };
            let ledger = CleanupLedger::default();
            let mut count = 0;
            for uid in customers
                .iter()
                .filter_map(|customer| customer.get("UserID").and_then(Value::as_str))
            {
                if uid.starts_with(&prefix) {
                    ledger.record_leftover(principal, &context, uid);
                    count += 1;
                }
            }
            if count > 0 {
                let problems = ledger.clean(&self.client, &self.identity).await;
                self.note_problems(&problems);
                let label = match principal {
                    Principal::Configured => context,
                    Principal::Other => format!("{context} (as the other user)"),
                };
                leftovers.found.push((label, count));
            }
        }
        leftovers
    }
}

/// What [`Suite::sweep_leftovers`] found of a run on the target.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Records of this run found (and deleted), per context.
    pub found: Vec<(String, usize)>,
    /// Contexts whose list could not be read: records may remain there.
    pub unlisted: Vec<String>,
}

impl Leftovers {
    /// Whether every context was listed and none held a record of this run.
    pub fn is_clean(&self) -> bool {
        self.found.is_empty() && self.unlisted.is_empty()
    }
}

/// The part of scenario `index`'s UserIDs that keeps them apart from other scenarios' in one run.
pub fn scenario_tag(index: usize) -> String {
    format!("{index:03}")
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_string());
            format!("the harness panicked: {text}")
        }
        Err(error) => format!("the trial was cancelled: {error}"),
    }
}
