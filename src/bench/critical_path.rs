//! The critical-path limit of the default suite: the longest chain of
//! dependent requests, in request rounds. Against a target that adds `d` to
//! every answer, no schedule finishes the run in less than rounds × `d`.
//!
//! A request depends on another when the harness must see that answer before
//! it may send it. Requests that depend on nothing still unanswered form one
//! round, up to the in-flight cap of a step ([`MAX_IN_FLIGHT`]): `k` of them
//! count as ceil(k / cap) rounds. Counted from one run of the suite on loopback
//! (same scenarios, same property seed as the timed run):
//! - the preflight: 1 round (nothing starts before the credentials are checked);
//! - each scenario: one round per step that sent (ceil(copies / cap) for a
//!   concurrent step; skipped steps send nothing), then its cleanup deletes:
//!   ceil(deletes / cap) rounds (they depend on the steps, not on each other).
//!   Read from the run itself: the steps' exchanges, and the deletes as the
//!   requests a counting proxy saw beyond them;
//! - `property::crud_sequences`: 1 round (the list that decides whether lists are
//!   thinned), then its longest case: every generated request (each is checked
//!   against the model state the previous one left), 1 round of final lists,
//!   and 1 round of cleanup when the case sent a request the ledger records.
//!   The cases are regenerated from the seed with the trial's own generator and
//!   checked against the run: same fingerprint, same request count;
//! - `property::concurrent_linearizable`: its clients run at once, so a case is
//!   its longest client, 1 round of final lists and 1 of cleanup: at most
//!   [`property::CONCURRENT_MAX_OPS`] + 2 (a bound from the generator's limits:
//!   its cases are not regenerated here);
//! - the sweep: 1 round of lists (no leftovers after a clean run).
//!
//! Trials are independent of each other, so the run's chain is the preflight,
//! the longest trial, and the sweep.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};

use crate::execution::client::Client;
use crate::execution::engine;
use crate::execution::property::generate::{self, AuthChoices};
use crate::execution::property::{self, sequence, PropertyOptions, PropertyTrial};
use crate::execution::scenario_run::{Verdict, MAX_IN_FLIGHT};
use crate::execution::suite::Suite;
use crate::reference::{self, ServerConfig, UsersFixture};
use crate::spec::load::LoadedScenario;
use crate::spec::model::Request;

use super::proxy;

/// The chain of one run, in rounds, with where it comes from.
#[derive(Debug, Clone)]
pub struct CriticalPath {
    /// The longest scenario and its rounds.
    pub longest_scenario: (String, usize),
    /// Rounds of `property::crud_sequences`: its first list and its longest case.
    pub sequences: usize,
    /// Bound on the rounds of one `property::concurrent_linearizable` case.
    pub histories: usize,
    /// Whether the regenerated sequence cases are the ones the run ran (else why not).
    pub sequences_checked: Result<(), String>,
    /// Requests the analysis run sent (preflight, scenarios with cleanup, properties, sweep).
    pub requests: u64,
    /// Scenarios that did not pass in the analysis run.
    pub scenario_failures: usize,
    /// Property trials that failed in the analysis run.
    pub property_failures: usize,
}

/// Rounds of the preflight before every trial, and of the sweep after them.
const PREFLIGHT_ROUNDS: usize = 1;
/// Rounds of the sweep's lists (one per context, independent of each other).
const SWEEP_ROUNDS: usize = 1;

impl CriticalPath {
    /// The longest chain of the whole run, in rounds.
    pub fn rounds(&self) -> usize {
        PREFLIGHT_ROUNDS
            + self
                .longest_scenario
                .1
                .max(self.sequences)
                .max(self.histories)
            + SWEEP_ROUNDS
    }

    /// The limit against a target that adds `delay` to every answer.
    pub fn limit(&self, delay: Duration) -> Duration {
        delay * self.rounds() as u32
    }

    /// One line: where the rounds come from (trials not run are left out).
    pub fn explain(&self) -> String {
        let mut longest = vec![format!(
            "longest scenario {} ({})",
            self.longest_scenario.1, self.longest_scenario.0
        )];
        if self.sequences > 0 {
            longest.push(format!(
                "crud_sequences {}{}",
                self.sequences,
                match &self.sequences_checked {
                    Ok(()) => String::new(),
                    Err(why) => format!(" (unverified: {why})"),
                }
            ));
        }
        if self.histories > 0 {
            longest.push(format!("concurrent case at most {}", self.histories));
        }
        format!(
            "{PREFLIGHT_ROUNDS} preflight + max({}) + {SWEEP_ROUNDS} sweep",
            longest.join(", ")
        )
    }
}

/// ceil(`count` / [`MAX_IN_FLIGHT`]).
fn rounds_of(count: usize) -> usize {
    count.div_ceil(MAX_IN_FLIGHT)
}

/// Rounds of one scenario from the requests each step sent and the cleanup deletes after them.
pub fn scenario_rounds(exchanges_per_step: &[usize], cleanup_requests: usize) -> usize {
    exchanges_per_step
        .iter()
        .map(|count| rounds_of(*count))
        .sum::<usize>()
        + rounds_of(cleanup_requests)
}

/// Whether the cleanup ledger records something for `request` (a non-GET naming a UserID).
fn recorded_for_cleanup(request: &Request) -> bool {
    request.operation().method() != "GET" && request.user_id().is_some()
}

/// Rounds of one `crud_sequences` case that sends every request of `requests`.
pub fn sequence_case_rounds(requests: &[Request]) -> usize {
    let final_lists = 1;
    let cleanup = usize::from(requests.iter().any(recorded_for_cleanup));
    requests.len() + final_lists + cleanup
}

/// Runs `scenarios` and the property `trials` once on loopback through a counting
/// proxy, scenario by scenario, then trial by trial, and counts their chain.
pub fn analyse(
    runtime: &Arc<tokio::runtime::Runtime>,
    scenarios: &[LoadedScenario],
    trials: &[PropertyTrial],
    options: &PropertyOptions,
    seed: u64,
) -> anyhow::Result<CriticalPath> {
    let config = ServerConfig::builtin();
    let server = runtime
        .block_on(reference::start(config, ([127, 0, 0, 1], 0).into()))
        .context("starting the reference server")?;
    let counter = runtime.block_on(proxy::start(server.addr(), Duration::ZERO))?;
    let target = crate::execution::target::Target::from_harness(
        UsersFixture::builtin().harness(),
        counter.base_url(),
        Duration::from_secs(30),
    );
    let client = Client::new(target).map_err(|error| anyhow::anyhow!("{error}"))?;
    runtime
        .block_on(engine::preflight(&client))
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let suite = Suite::new(client, scenarios.to_vec());
    let mut longest_scenario = (String::new(), 0);
    let mut scenario_failures = 0;
    for index in 0..suite.scenarios().len() {
        let before = counter.requests();
        let outcome = runtime.block_on(suite.run_one(index));
        let sent = (counter.requests() - before) as usize;
        let per_step: Vec<usize> = outcome
            .steps
            .iter()
            .map(|step| step.exchanges.len())
            .collect();
        let cleanup = sent.saturating_sub(per_step.iter().sum());
        let rounds = scenario_rounds(&per_step, cleanup);
        if rounds > longest_scenario.1 {
            longest_scenario = (suite.scenarios()[index].scenario.name.clone(), rounds);
        }
        scenario_failures += usize::from(matches!(
            outcome.verdict,
            Verdict::Failed(_) | Verdict::Errored(_)
        ));
    }
    let handle = runtime.handle();
    let run = |trial| {
        trials.contains(&trial).then(|| {
            property::run_trial(
                trial,
                handle,
                suite.client(),
                suite.identity(),
                options,
                seed,
            )
        })
    };
    let crud = run(PropertyTrial::CrudSequences);
    let concurrent = run(PropertyTrial::ConcurrentLinearizable);
    runtime.block_on(suite.sweep_leftovers());
    let requests = counter.requests();
    drop(counter);
    runtime.block_on(server.shutdown());

    let (sequences, sequences_checked) = match &crud {
        Some(crud) => {
            let (cases, fingerprint) = regenerate_sequences(suite.client(), options, seed);
            let final_lists = sequence::final_lists(suite.client()).len();
            let planned: usize = cases.iter().map(|case| case.len() + final_lists).sum();
            let checked = if let Some(failure) = &crud.failure {
                Err(format!(
                    "the trial failed, so shrinking replays ran: {}",
                    failure.rendered.lines().next().unwrap_or("")
                ))
            } else if fingerprint != crud.fingerprint {
                Err("the regenerated cases are not the ones the trial ran".to_string())
            } else if planned != crud.requests {
                Err(format!(
                    "the regenerated cases send {planned} requests, the trial sent {}",
                    crud.requests
                ))
            } else {
                Ok(())
            };
            let longest_case = cases
                .iter()
                .map(|case| sequence_case_rounds(case))
                .max()
                .unwrap_or(0);
            // The first round is the list that decides whether lists are thinned.
            (1 + longest_case, checked)
        }
        None => (0, Ok(())),
    };
    Ok(CriticalPath {
        longest_scenario,
        sequences,
        histories: concurrent
            .as_ref()
            .map_or(0, |_| property::CONCURRENT_MAX_OPS + 2),
        sequences_checked,
        requests,
        scenario_failures,
        property_failures: [&crud, &concurrent]
            .into_iter()
            .flatten()
            .filter(|report| report.failure.is_some())
            .count(),
    })
}

/// The cases `property::crud_sequences` runs with `seed` (when none fails), generated
/// as its driver generates them, and their fingerprint as its report computes it.
fn regenerate_sequences(
    client: &Client,
    options: &PropertyOptions,
    seed: u64,
) -> (Vec<Vec<Request>>, u64) {
    let target = client.target();
    let choices = AuthChoices::for_values(
        target.api_token.expose(),
        &target.username,
        &target.context,
        target.second_context.is_some(),
        target.forbidden_context.is_some(),
        target.other.is_some(),
    );
    let strategy = generate::sequence(&choices, property::POOL_SIZE, options.max_ops);
    let mut runner = TestRunner::new(Config {
        cases: options.cases,
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    });
    let cases = std::sync::Mutex::new(Vec::new());
    let hasher = std::sync::Mutex::new(DefaultHasher::new());
    // Every case passes here, so the runner draws exactly the trial's cases.
    let _ = runner.run(&strategy, |case| {
        if let (Ok(mut hasher), Ok(mut cases)) = (hasher.lock(), cases.lock()) {
            format!("{case:?}").hash(&mut *hasher);
            cases.push(case);
        }
        Ok(())
    });
    let cases = cases
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let fingerprint = hasher
        .into_inner()
        .map_or(0, |hasher: DefaultHasher| hasher.finish());
    (cases, fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::{Action, Auth, Values};

    fn request(action: Action) -> Request {
        Request {
            action,
            auth: Auth::Configured,
        }
    }

    #[test]
    fn a_concurrent_step_counts_its_copies_by_the_in_flight_cap() {
        assert_eq!(scenario_rounds(&[1, 1, 1], 0), 3);
        assert_eq!(scenario_rounds(&[1, MAX_IN_FLIGHT, 1], 0), 3);
        assert_eq!(scenario_rounds(&[1, MAX_IN_FLIGHT + 1], 0), 3);
        // A skipped step sent nothing; the cleanup deletes are one round up to the cap.
        assert_eq!(scenario_rounds(&[1, 0, 1], 2), 3);
        assert_eq!(scenario_rounds(&[1], 2 * MAX_IN_FLIGHT + 1), 4);
    }

    #[test]
    fn a_sequence_case_is_its_requests_then_the_final_lists_then_the_cleanup() {
        let list = request(Action::List);
        let delete = request(Action::Delete {
            user_id: "u0".to_string(),
        });
        let create_without_user_id = request(Action::Create {
            user_id: None,
            values: Values::default(),
        });
        // Only lists: nothing to clean up.
        assert_eq!(sequence_case_rounds(&[list.clone(), list.clone()]), 3);
        // A create without UserID leaves nothing in the ledger either.
        assert_eq!(sequence_case_rounds(&[create_without_user_id]), 2);
        assert_eq!(sequence_case_rounds(&[list, delete]), 4);
    }

    #[test]
    fn the_run_is_the_preflight_the_longest_trial_and_the_sweep() {
        let path = CriticalPath {
            longest_scenario: ("a::b".to_string(), 12),
            sequences: 33,
            histories: 5,
            sequences_checked: Ok(()),
            requests: 0,
            scenario_failures: 0,
            property_failures: 0,
        };
        assert_eq!(path.rounds(), 35);
        assert_eq!(
            path.limit(Duration::from_millis(20)),
            Duration::from_millis(700)
        );
    }
}
