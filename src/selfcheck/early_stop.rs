//! Running a suite only as long as its verdict is open: a self-check run
//! stops at the first trial that settles it (a mutant killed, a deviation
//! caught), so only survivors and conformant servers pay for the whole suite.

use std::sync::Arc;

use crate::execution::scenario_run::{run_scenario, CleanupLedger, ScenarioOutcome, Verdict};
use crate::execution::suite::{scenario_tag, Suite};
use crate::spec::load::LoadedScenario;

/// Whether a trial failed or errored.
pub fn failed(outcome: &ScenarioOutcome) -> bool {
    matches!(outcome.verdict, Verdict::Failed(_) | Verdict::Errored(_))
}

/// Runs the suite's trials in `order`, at most `parallelism` at once, until
/// `settles` says a finished trial settles the run: then trials not yet
/// started are skipped (None), and with `cancel_running` the ones running are
/// cancelled too (their records are left behind, so only for a throwaway
/// server); otherwise they finish and clean up.
pub async fn run_until(
    suite: &Arc<Suite>,
    order: &[usize],
    parallelism: usize,
    settles: impl Fn(&LoadedScenario, &ScenarioOutcome) -> bool + Send + Sync + 'static,
    cancel_running: bool,
) -> Vec<Option<ScenarioOutcome>> {
    let count = suite.scenarios().len();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
    let settles = Arc::new(settles);
    let mut tasks = tokio::task::JoinSet::new();
    for index in order.iter().copied().filter(|index| *index < count) {
        let (suite, stop, mut stopped, semaphore, settles) = (
            Arc::clone(suite),
            Arc::clone(&stop),
            stopped.clone(),
            Arc::clone(&semaphore),
            Arc::clone(&settles),
        );
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            if *stopped.borrow() {
                return (index, None);
            }
            let outcome = if cancel_running {
                let ledger = CleanupLedger::default();
                let (task_suite, task_ledger) = (Arc::clone(&suite), ledger.clone());
                let mut running = tokio::spawn(async move {
                    run_scenario(
                        &task_suite.scenarios()[index],
                        &scenario_tag(index),
                        task_suite.client(),
                        task_suite.identity(),
                        &task_ledger,
                    )
                    .await
                });
                tokio::select! {
                    joined = &mut running => {
                        for problem in ledger.clean(suite.client(), suite.identity()).await {
                            eprintln!("warning: {problem}");
                        }
                        joined.unwrap_or_else(|error| ScenarioOutcome {
                            steps: Vec::new(),
                            verdict: Verdict::Errored(0),
                            panic: Some(format!("the trial task failed: {error}")),
                        })
                    }
                    () = async {
                        // The guard `wait_for` returns must not live across an await.
                        let _ = stopped.wait_for(|stop| *stop).await.is_ok();
                    } => {
                        running.abort();
                        return (index, None);
                    }
                }
            } else {
                suite.run_one(index).await
            };
            if settles(&suite.scenarios()[index], &outcome) {
                stop.send_replace(true);
            }
            (index, Some(outcome))
        });
    }
    let mut outcomes: Vec<Option<ScenarioOutcome>> = vec![None; count];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => outcomes[index] = outcome,
            Err(error) => eprintln!("warning: a trial task was lost: {error}"),
        }
    }
    outcomes
}
