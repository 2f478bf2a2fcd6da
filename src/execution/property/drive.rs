//! Driving one property trial's cases: generated from the seed in exactly the
//! order proptest's `TestRunner::run` generates them, run up to
//! [`Plan::in_flight`] at once, and, when any fails, the first failing case
//! in generation order shrunk by sequential replays exactly as `TestRunner`
//! shrinks (the same ValueTree walk, the same budget of replays and time).
//!
//! Which case is "first" is decided by its index, never by when it finished,
//! and cases past it that were already running are waited for but do not
//! count: the verdict, the minimal case, the replays counted and the
//! fingerprint are those of a sequential run, as long as each case's answers
//! depend only on its own records (each case has its own UserID pool).

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use proptest::strategy::{BoxedStrategy, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRng, TestRunner};
use tokio::task::JoinSet;

/// How many cases to generate from which seed, how far to shrink, how many to run at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Cases generated and run (when none fails).
    pub cases: u32,
    /// The seed of the generator.
    pub seed: u64,
    /// Shrinking stops after this many replays...
    pub shrink_replays: u32,
    /// ...or after this long (0: no limit), as proptest's `max_shrink_time`.
    pub shrink_millis: u32,
    /// Cases running at once (at least 1); replays while shrinking always run one at a time.
    pub in_flight: usize,
}

impl Plan {
    /// The proptest configuration `TestRunner::run` would use for this plan.
    pub fn config(&self) -> Config {
        Config {
            cases: self.cases,
            max_shrink_iters: self.shrink_replays,
            max_shrink_time: self.shrink_millis,
            // Replays come from the seed, never from files next to the sources.
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(self.seed),
            ..Config::default()
        }
    }

    /// Index of the first shrinking replay (first runs are `0..cases`); the replay after
    /// the last one the budget allows is [`Plan::spare_index`].
    fn replay_index(&self, replay: u32) -> usize {
        self.cases as usize + replay as usize
    }

    /// How many case indexes one drive may hand out: every first run, every replay, and
    /// one spare (for a replay of the minimal case after the drive).
    pub fn indexes(&self) -> usize {
        self.spare_index() + 1
    }

    /// The index left for one more replay after the drive.
    pub fn spare_index(&self) -> usize {
        self.replay_index(self.shrink_replays)
    }
}

/// What one run of one case gave.
#[derive(Debug)]
pub struct CaseOutcome<R> {
    /// Cleanup problems (reported, not failures).
    pub cleanup_problems: Vec<String>,
    /// Requests sent (cleanup not included).
    pub requests: usize,
    /// Why it failed, in one line.
    pub failure: Option<String>,
    /// The whole run (None: the case panicked, see [`isolated`]).
    pub run: Option<R>,
}

/// Runs `case` as a task of its own. If it panics, the panic becomes the case's failure
/// and `cleanup` still runs, so the case's records are deleted whatever happened.
pub async fn isolated<R, C>(
    case: impl Future<Output = CaseOutcome<R>> + Send + 'static,
    cleanup: impl FnOnce() -> C,
) -> CaseOutcome<R>
where
    R: Send + 'static,
    C: Future<Output = Vec<String>>,
{
    match tokio::spawn(case).await {
        Ok(outcome) => outcome,
        Err(error) => CaseOutcome {
            cleanup_problems: cleanup().await,
            requests: 0,
            failure: Some(format!("the case panicked: {}", panic_message(error))),
            run: None,
        },
    }
}

/// What a panicked (or cancelled) task said.
fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// How a drive ended.
#[derive(Debug)]
pub enum Verdict<T, R> {
    /// Every case passed.
    Passed,
    /// The generator gave up before a failure was found (proptest's `TestError::Abort`).
    Stopped(String),
    /// A case failed; shrinking found `minimal`.
    Failed {
        /// The last failure's reason.
        reason: String,
        /// The minimal failing value (proptest's `TestError::Fail` value).
        minimal: T,
        /// The last failing run and its value (the minimal one, unless shrinking ended on a pass).
        last_failure: Option<(T, Option<R>)>,
    },
}

/// What a drive did.
#[derive(Debug)]
pub struct Driven<T, R> {
    /// The verdict.
    pub verdict: Verdict<T, R>,
    /// Runs a sequential run makes: first runs up to the first failure, then the replays.
    pub replays: usize,
    /// Requests of those runs.
    pub requests: usize,
    /// Every request sent, cases run past the first failure included.
    pub requests_sent: usize,
    /// The most cases that ran at once.
    pub most_in_flight: usize,
    /// Cleanup problems of every case that ran.
    pub cleanup_problems: Vec<String>,
    /// A hash of every value a sequential run tries, in its order.
    pub fingerprint: u64,
}

/// A case started in the concurrent phase and not yet past the frontier.
struct Started {
    /// The RNG its value tree grew from, kept until it passes: the first failing
    /// one's tree is grown again from it and shrunk. A tree is far larger than
    /// its value (about 190 KB for a sequence), and 64 cases run at once.
    rng: Option<TestRng>,
    /// Its value as the fingerprint hashes it.
    shown: String,
    /// Its outcome, once it finished (failing ones keep their run).
    outcome: Option<CaseOutcomeSummary>,
}

/// What the frontier needs of a finished case.
struct CaseOutcomeSummary {
    requests: usize,
    failed: bool,
}

/// Counts kept while driving.
#[derive(Default)]
struct Tally {
    replays: usize,
    requests: usize,
    requests_sent: usize,
    most_in_flight: usize,
    cleanup_problems: Vec<String>,
}

/// Generates each case's value tree in the order `TestRunner::run` does: per case a fresh
/// RNG seeded from the previous one (its `gen_get_seed`), then `new_tree` on it.
pub struct Generator<'a, T> {
    strategy: &'a BoxedStrategy<T>,
    config: Config,
    runner: TestRunner,
}

impl<'a, T: std::fmt::Debug> Generator<'a, T> {
    /// The generator of `strategy` under `plan`'s seed.
    pub fn new(strategy: &'a BoxedStrategy<T>, plan: &Plan) -> Self {
        let config = plan.config();
        Generator {
            strategy,
            runner: TestRunner::new(config.clone()),
            config,
        }
    }

    /// The next case's value tree (proptest's reason when the strategy gives up).
    pub fn next_tree(&mut self) -> Result<Box<dyn ValueTree<Value = T>>, String> {
        self.next_case().map(|(_, tree)| tree)
    }

    /// The next case's value tree, and the RNG it grew from ([`Generator::regrow`]).
    pub fn next_case(&mut self) -> Result<(TestRng, Box<dyn ValueTree<Value = T>>), String> {
        let rng = self.runner.new_rng();
        let kept = rng.clone();
        let mut runner = TestRunner::new_with_rng(self.config.clone(), rng);
        let tree = self
            .strategy
            .new_tree(&mut runner)
            .map_err(|reason| reason.to_string())?;
        self.runner = runner;
        Ok((kept, tree))
    }

    /// The tree [`Generator::next_case`] grew from `rng`, grown again: the
    /// same tree, since generation depends on nothing else.
    pub fn regrow(&self, rng: TestRng) -> Result<Box<dyn ValueTree<Value = T>>, String> {
        let mut runner = TestRunner::new_with_rng(self.config.clone(), rng);
        self.strategy
            .new_tree(&mut runner)
            .map_err(|reason| reason.to_string())
    }
}

/// Runs `plan.cases` cases of `strategy` through `run_one` (the value and the case's index:
/// `0..cases` for first runs, then one per replay, below [`Plan::indexes`]), up to
/// `plan.in_flight` at once, and shrinks the first failing one.
pub async fn drive<T, R, F, Fut>(
    strategy: &BoxedStrategy<T>,
    plan: Plan,
    run_one: F,
) -> Driven<T, R>
where
    T: std::fmt::Debug + Clone + Send + 'static,
    R: Send + 'static,
    F: Fn(T, usize) -> Fut,
    Fut: Future<Output = CaseOutcome<R>> + Send + 'static,
{
    let mut generator = Generator::new(strategy, &plan);
    let mut tally = Tally::default();
    let mut fingerprint = DefaultHasher::new();
    let mut started: BTreeMap<usize, Started> = BTreeMap::new();
    // Failing cases' runs, by index, until the first one is known.
    let mut failed_runs: BTreeMap<usize, (String, Option<R>)> = BTreeMap::new();
    let mut running = JoinSet::new();
    let mut indexes = BTreeMap::new();
    let mut next = 0usize;
    // Every case below it passed and is counted.
    let mut frontier = 0usize;
    let mut stopped = None;
    let in_flight = plan.in_flight.max(1);
    loop {
        while failed_runs.is_empty()
            && stopped.is_none()
            && next < plan.cases as usize
            && running.len() < in_flight
        {
            let (rng, tree) = match generator.next_case() {
                Ok(case) => case,
                Err(reason) => {
                    stopped = Some(reason);
                    break;
                }
            };
            let value = tree.current();
            started.insert(
                next,
                Started {
                    shown: format!("{value:?}"),
                    rng: Some(rng),
                    outcome: None,
                },
            );
            let task = running.spawn(run_one(value, next));
            indexes.insert(task.id(), next);
            next += 1;
            tally.most_in_flight = tally.most_in_flight.max(running.len());
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let (index, outcome) = match joined {
            Ok((id, outcome)) => (indexes.remove(&id), outcome),
            // Not expected: each case runs [`isolated`]; its records are in its own ledger.
            Err(error) => (
                indexes.remove(&error.id()),
                CaseOutcome {
                    cleanup_problems: Vec::new(),
                    requests: 0,
                    failure: Some(format!("the case's task failed: {error}")),
                    run: None,
                },
            ),
        };
        let Some(index) = index else { continue };
        tally.requests_sent += outcome.requests;
        tally.cleanup_problems.extend(outcome.cleanup_problems);
        if let Some(reason) = outcome.failure.clone() {
            failed_runs.insert(index, (reason, outcome.run));
        }
        if let Some(case) = started.get_mut(&index) {
            case.outcome = Some(CaseOutcomeSummary {
                requests: outcome.requests,
                failed: outcome.failure.is_some(),
            });
            if outcome.failure.is_none() {
                case.rng = None;
            }
        }
        // Count, in index order, the cases that passed: exactly those a sequential run ran.
        while let Some(case) = started.get(&frontier) {
            match &case.outcome {
                Some(summary) if !summary.failed => {
                    tally.replays += 1;
                    tally.requests += summary.requests;
                    case.shown.hash(&mut fingerprint);
                    started.remove(&frontier);
                    frontier += 1;
                }
                _ => break,
            }
        }
    }
    // Every case below the first failure passed; any later one is not counted.
    let first_failure = failed_runs.keys().next().copied();
    let Some(first) = first_failure else {
        return Driven {
            verdict: match stopped {
                Some(reason) => Verdict::Stopped(reason),
                None => Verdict::Passed,
            },
            replays: tally.replays,
            requests: tally.requests,
            requests_sent: tally.requests_sent,
            most_in_flight: tally.most_in_flight,
            cleanup_problems: tally.cleanup_problems,
            fingerprint: fingerprint.finish(),
        };
    };
    debug_assert_eq!(
        frontier, first,
        "every case before the first failure passed"
    );
    let case = started
        .remove(&first)
        .expect("the first failing case was started");
    case.shown.hash(&mut fingerprint);
    tally.replays += 1;
    tally.requests += case.outcome.as_ref().map_or(0, |summary| summary.requests);
    let (reason, run) = failed_runs
        .remove(&first)
        .expect("the first failing case has a run");
    let rng = case.rng.expect("a failing case keeps its RNG");
    let mut tree = generator
        .regrow(rng)
        .expect("a tree that grew once grows again from the same RNG");
    drop(started);
    drop(failed_runs);
    let last_failure = Some((tree.current(), run));
    let (reason, last_failure) = shrink(
        &mut tree,
        &plan,
        reason,
        last_failure,
        &run_one,
        &mut tally,
        &mut fingerprint,
    )
    .await;
    Driven {
        verdict: Verdict::Failed {
            reason,
            minimal: tree.current(),
            last_failure,
        },
        replays: tally.replays,
        requests: tally.requests,
        requests_sent: tally.requests_sent,
        most_in_flight: tally.most_in_flight,
        cleanup_problems: tally.cleanup_problems,
        fingerprint: fingerprint.finish(),
    }
}

/// proptest's `TestRunner::shrink`, replay for replay: simplify after a failure,
/// complicate after a pass, stop at the replay or time budget (then back to the last
/// failure). Replays run one at a time.
async fn shrink<T, R, F, Fut>(
    tree: &mut Box<dyn ValueTree<Value = T>>,
    plan: &Plan,
    first_reason: String,
    mut last_failure: Option<(T, Option<R>)>,
    run_one: &F,
    tally: &mut Tally,
    fingerprint: &mut DefaultHasher,
) -> (String, Option<(T, Option<R>)>)
where
    T: std::fmt::Debug + Clone + Send + 'static,
    R: Send + 'static,
    F: Fn(T, usize) -> Fut,
    Fut: Future<Output = CaseOutcome<R>> + Send + 'static,
{
    let mut reason = first_reason;
    if plan.shrink_replays == 0 {
        return (reason, last_failure);
    }
    let started = Instant::now();
    let mut iterations = 0u32;
    if tree.simplify() {
        loop {
            let timed_out = plan.shrink_millis > 0
                && started.elapsed() > Duration::from_millis(u64::from(plan.shrink_millis));
            if iterations >= plan.shrink_replays || timed_out {
                // Back to the most recent failing value.
                while tree.complicate() {}
                break;
            }
            let value = tree.current();
            format!("{value:?}").hash(fingerprint);
            let outcome = run_one(value.clone(), plan.replay_index(iterations)).await;
            iterations += 1;
            tally.replays += 1;
            tally.requests += outcome.requests;
            tally.requests_sent += outcome.requests;
            tally.cleanup_problems.extend(outcome.cleanup_problems);
            match outcome.failure {
                None => {
                    if !tree.complicate() {
                        break;
                    }
                }
                Some(why) => {
                    reason = why;
                    last_failure = Some((value, outcome.run));
                    if !tree.simplify() {
                        break;
                    }
                }
            }
        }
    }
    (reason, last_failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::test_runner::TestCaseError;
    use std::sync::Mutex;

    fn plan(cases: u32, seed: u64, in_flight: usize) -> Plan {
        Plan {
            cases,
            seed,
            shrink_replays: 2048,
            shrink_millis: 60_000,
            in_flight,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// What `TestRunner::run` tries, in order, with `fails` as the property.
    fn proptest_tries(
        strategy: &BoxedStrategy<Vec<u32>>,
        plan: &Plan,
        fails: fn(&[u32]) -> bool,
    ) -> (Vec<Vec<u32>>, Option<Vec<u32>>) {
        let tried = Mutex::new(Vec::new());
        let result = TestRunner::new(plan.config()).run(strategy, |value| {
            tried.lock().unwrap().push(value.clone());
            if fails(&value) {
                Err(TestCaseError::fail("fails"))
            } else {
                Ok(())
            }
        });
        let minimal = match result {
            Err(proptest::test_runner::TestError::Fail(_, minimal)) => Some(minimal),
            _ => None,
        };
        (tried.into_inner().unwrap(), minimal)
    }

    /// The values tried in a sequential run's order, the minimal one, and the drive.
    type Tries = (Vec<Vec<u32>>, Option<Vec<u32>>, Driven<Vec<u32>, Vec<u32>>);

    /// What [`drive`] tries in a sequential run's order: first runs up to the first
    /// failure, then the replays.
    fn drive_tries(
        strategy: &BoxedStrategy<Vec<u32>>,
        plan: Plan,
        fails: fn(&[u32]) -> bool,
    ) -> Tries {
        let tried = std::sync::Arc::new(Mutex::new(BTreeMap::new()));
        let runtime = runtime();
        let driven = runtime.block_on(drive(strategy, plan, |value: Vec<u32>, index| {
            let tried = std::sync::Arc::clone(&tried);
            async move {
                // Later cases finish first, so completion order is not index order.
                tokio::time::sleep(Duration::from_micros(
                    u64::from(value.iter().sum::<u32>() % 7) * 100,
                ))
                .await;
                tried.lock().unwrap().insert(index, value.clone());
                CaseOutcome {
                    cleanup_problems: Vec::new(),
                    requests: value.len(),
                    failure: fails(&value).then(|| "fails".to_string()),
                    run: Some(value),
                }
            }
        }));
        let tried = tried.lock().unwrap().clone();
        let first_failure = tried
            .iter()
            .filter(|(index, value)| **index < plan.cases as usize && fails(value))
            .map(|(index, _)| *index)
            .next();
        let sequential: Vec<Vec<u32>> = tried
            .into_iter()
            .filter(|(index, _)| {
                first_failure.is_none_or(|first| *index <= first || *index >= plan.cases as usize)
            })
            .map(|(_, value)| value)
            .collect();
        let minimal = match &driven.verdict {
            Verdict::Failed { minimal, .. } => Some(minimal.clone()),
            _ => None,
        };
        (sequential, minimal, driven)
    }

    fn strategy() -> BoxedStrategy<Vec<u32>> {
        vec(0u32..1000, 1..20).boxed()
    }

    #[test]
    fn the_same_values_are_tried_in_the_same_order_as_proptest_at_any_concurrency() {
        let strategy = strategy();
        let passing: fn(&[u32]) -> bool = |_| false;
        let failing: fn(&[u32]) -> bool = |value| value.iter().filter(|n| **n > 500).count() >= 3;
        for fails in [passing, failing] {
            for seed in [1, 7, 1010] {
                let (expected, expected_minimal) =
                    proptest_tries(&strategy, &plan(64, seed, 1), fails);
                for in_flight in [1, 5, 64] {
                    let (tried, minimal, driven) =
                        drive_tries(&strategy, plan(64, seed, in_flight), fails);
                    assert_eq!(tried, expected, "seed {seed}, {in_flight} at once");
                    assert_eq!(
                        minimal, expected_minimal,
                        "seed {seed}, {in_flight} at once"
                    );
                    assert_eq!(driven.replays, expected.len());
                    assert_eq!(
                        driven.requests,
                        expected.iter().map(Vec::len).sum::<usize>()
                    );
                    assert!(driven.most_in_flight <= in_flight);
                    let mut hasher = DefaultHasher::new();
                    for value in &expected {
                        format!("{value:?}").hash(&mut hasher);
                    }
                    assert_eq!(driven.fingerprint, hasher.finish());
                }
            }
        }
    }

    #[test]
    fn the_first_failure_is_the_lowest_index_whatever_finished_first() {
        let strategy = strategy();
        // Most cases fail: which one is first depends only on the index.
        let fails: fn(&[u32]) -> bool = |value| value.len() > 3;
        let (expected, expected_minimal) = proptest_tries(&strategy, &plan(64, 3, 1), fails);
        let (tried, minimal, driven) = drive_tries(&strategy, plan(64, 3, 64), fails);
        assert_eq!(tried, expected);
        assert_eq!(minimal, expected_minimal);
        assert!(driven.most_in_flight > 1, "cases ran at once");
        let Verdict::Failed { last_failure, .. } = driven.verdict else {
            panic!("a failure")
        };
        let (value, run) = last_failure.expect("a failing run");
        assert_eq!(Some(value.clone()), minimal);
        assert_eq!(run, Some(value));
    }

    /// The property trials' own strategies (unions, samples, regexes, nested vectors) are
    /// generated in proptest's order too.
    #[test]
    fn the_trials_strategies_are_generated_in_proptests_order() {
        use crate::execution::property::generate::{history, sequence, AuthChoices};
        fn check<T: std::fmt::Debug + Clone + PartialEq>(strategy: BoxedStrategy<T>, seed: u64) {
            let plan = plan(48, seed, 1);
            let tried = Mutex::new(Vec::new());
            TestRunner::new(plan.config())
                .run(&strategy, |value| {
                    tried.lock().unwrap().push(value);
                    Ok(())
                })
                .unwrap();
            let mut generator = Generator::new(&strategy, &plan);
            let generated: Vec<T> = (0..48)
                .map(|_| generator.next_tree().unwrap().current())
                .collect();
            assert_eq!(generated, tried.into_inner().unwrap(), "seed {seed}");
        }
        let choices =
            AuthChoices::for_values("Qm7RzT2vXk9LpW4sNa8c", "user", "default", true, true, true);
        for seed in [7, 1010] {
            check(sequence(&choices, 3, 30), seed);
            check(history(3, 2, 3), seed);
        }
    }

    #[test]
    fn a_case_that_panics_fails_and_is_cleaned_up() {
        let runtime = runtime();
        let cleaned = std::sync::Arc::new(Mutex::new(false));
        let outcome: CaseOutcome<()> =
            runtime.block_on(isolated(async { panic!("model bug") }, || {
                let cleaned = std::sync::Arc::clone(&cleaned);
                async move {
                    *cleaned.lock().unwrap() = true;
                    vec!["one problem".to_string()]
                }
            }));
        assert!(*cleaned.lock().unwrap());
        assert_eq!(
            outcome.failure.as_deref(),
            Some("the case panicked: model bug")
        );
        assert_eq!(outcome.cleanup_problems, ["one problem"]);
        assert!(outcome.run.is_none());
    }
}
