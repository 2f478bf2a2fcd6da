//! One case of `property::concurrent_linearizable`: a few clients send
//! short sequences at the same time on overlapping UserIDs; then the list.
//! The case passes iff some order of all the requests, respecting each
//! client's order and real time (a request that ended before another
//! started comes first), explains every answer and the final list with
//! [`model::accept`]: an exhaustive depth-first search over interleavings.

use std::sync::Arc;
use std::time::Instant;

use crate::execution::client::Client;
use crate::execution::scenario_run::{CleanupLedger, RunIdentity};
use crate::spec::model::{self, Observed, Request, Scope, State, Violation};
use crate::spec::scenario::Level;

use super::exchange::{echoed_secret, send, Step};
use super::sequence::{concretize, delete_duplicates, final_lists, scope, CaseFailure};

/// One request of one client, with when it was in flight.
#[derive(Debug, Clone)]
pub struct TimedStep {
    /// The request and its answer.
    pub step: Step,
    /// When it was sent.
    pub started: Instant,
    /// When its answer was complete.
    pub ended: Instant,
}

/// What one concurrent case did.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    /// Every UserID of the case starts with this.
    pub own_prefix: String,
    /// Each client's steps, in its order.
    pub clients: Vec<Vec<TimedStep>>,
    /// The lists sent after every client finished.
    pub finals: Vec<Step>,
    /// Why the case failed, if it did.
    pub failure: Option<CaseFailure>,
    /// Cleanup problems (reported, not failures).
    pub cleanup_problems: Vec<String>,
}

/// Runs `history` (one request list per client, with pool labels) under `own_prefix`, checks it, cleans up.
/// What the case may create is recorded in `ledger` (fresh for the case).
pub async fn run_history(
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    history: &[Vec<Request>],
    own_prefix: String,
) -> HistoryRun {
    let barrier = Arc::new(tokio::sync::Barrier::new(history.len()));
    let mut tasks = Vec::new();
    for requests in history {
        let requests: Vec<Request> = requests
            .iter()
            .map(|request| concretize(request, &own_prefix))
            .collect();
        let (client, identity, ledger, barrier, own_prefix) = (
            client.clone(),
            identity.clone(),
            ledger.clone(),
            Arc::clone(&barrier),
            own_prefix.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // Every client's first request leaves at the same moment.
            barrier.wait().await;
            let mut steps = Vec::new();
            for request in requests {
                let started = Instant::now();
                let exchange = send(&client, &identity, &ledger, &request, &own_prefix)
                    .await
                    .map_err(|error| error.to_string())?;
                steps.push(TimedStep {
                    step: Step {
                        request,
                        exchange,
                        final_check: false,
                    },
                    started,
                    ended: Instant::now(),
                });
            }
            Ok::<_, String>(steps)
        }));
    }
    let mut run = HistoryRun {
        own_prefix: own_prefix.clone(),
        clients: Vec::new(),
        finals: Vec::new(),
        failure: None,
        cleanup_problems: Vec::new(),
    };
    for task in tasks {
        match task.await {
            Ok(Ok(steps)) => run.clients.push(steps),
            Ok(Err(problem)) => run.failure = Some(CaseFailure::Problem(problem)),
            Err(error) => {
                run.failure = Some(CaseFailure::Problem(format!(
                    "a client task failed: {error}"
                )))
            }
        }
    }
    if run.failure.is_none() {
        for request in final_lists(client) {
            match send(client, identity, ledger, &request, &own_prefix).await {
                Ok(exchange) => run.finals.push(Step {
                    request,
                    exchange,
                    final_check: true,
                }),
                Err(error) => run.failure = Some(CaseFailure::Problem(error.to_string())),
            }
        }
    }
    if run.failure.is_none() {
        // A secret echoed fails whatever order explains the answers.
        run.failure = run
            .clients
            .iter()
            .flatten()
            .map(|timed| &timed.step)
            .chain(&run.finals)
            .find_map(|step| echoed_secret(client, step))
            .map(CaseFailure::Violation);
    }
    if run.failure.is_none() {
        let scope = scope(client, identity, own_prefix);
        run.failure = check(&scope, &run.clients, &run.finals).err();
    }
    run.cleanup_problems = ledger.clean(client, identity).await;
    let finals: Vec<&Step> = run.finals.iter().collect();
    run.cleanup_problems
        .extend(delete_duplicates(client, identity, ledger, &finals, &run.own_prefix).await);
    run
}

/// One request with its answer and timing, ready for the search.
struct Placed {
    request: Request,
    observed: Observed,
    started: Instant,
    ended: Instant,
}

/// Whether some order explains the history; the violation of the furthest attempt if none does.
pub fn check(
    scope: &Scope,
    clients: &[Vec<TimedStep>],
    finals: &[Step],
) -> Result<(), CaseFailure> {
    let mut placed = Vec::new();
    for steps in clients {
        let mut client = Vec::new();
        for timed in steps {
            let observed = timed.step.observed().ok_or_else(|| {
                CaseFailure::Problem(format!("no response to {}", timed.step.request.describe()))
            })?;
            client.push(Placed {
                request: timed.step.request.clone(),
                observed,
                started: timed.started,
                ended: timed.ended,
            });
        }
        placed.push(client);
    }
    let mut final_placed = Vec::new();
    for step in finals {
        let observed = step.observed().ok_or_else(|| {
            CaseFailure::Problem(format!("no response to {}", step.request.describe()))
        })?;
        final_placed.push((step.request.clone(), observed));
    }
    let total: usize = placed.iter().map(Vec::len).sum();
    let mut search = Search {
        scope,
        clients: &placed,
        finals: &final_placed,
        positions: vec![0; placed.len()],
        furthest: None,
    };
    if search.explain(&State::default(), 0) {
        return Ok(());
    }
    let (depth, violation) = search
        .furthest
        .expect("a failed search records where it stopped");
    Err(CaseFailure::Violation(Violation {
        level: Level::Inferred,
        citation: violation.citation.clone(),
        topic: format!("concurrent linearizable {}", violation.topic),
        message: format!(
            "no order of the {total} concurrent requests explains every answer and the final list \
             (operations are atomic: each takes effect at one instant between its request and its answer); \
             the furthest order tried placed {depth} of {total}, then:\n{}",
            violation.message
        ),
    }))
}

/// The depth-first search over interleavings.
struct Search<'a> {
    scope: &'a Scope,
    clients: &'a [Vec<Placed>],
    finals: &'a [(Request, Observed)],
    positions: Vec<usize>,
    /// How many requests the furthest attempt placed, and what stopped it.
    furthest: Option<(usize, Violation)>,
}

impl Search<'_> {
    fn note(&mut self, depth: usize, violation: Violation) {
        if self
            .furthest
            .as_ref()
            .is_none_or(|(furthest, _)| depth > *furthest)
        {
            self.furthest = Some((depth, violation));
        }
    }

    /// Whether the requests not yet placed can be placed after `state` so that everything is explained.
    fn explain(&mut self, state: &State, depth: usize) -> bool {
        let done = self
            .positions
            .iter()
            .zip(self.clients)
            .all(|(position, client)| *position == client.len());
        if done {
            let mut state = state.clone();
            for (request, observed) in self.finals {
                match model::accept(self.scope, &state, request, observed) {
                    Ok(next) => state = next,
                    Err(violation) => {
                        self.note(depth, violation);
                        return false;
                    }
                }
            }
            return true;
        }
        for client in 0..self.clients.len() {
            let Some(candidate) = self.clients[client].get(self.positions[client]) else {
                continue;
            };
            // Real time: a request cannot take effect after one that had not yet been sent when it was answered.
            let overtaken = self
                .clients
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != client)
                .filter_map(|(other, steps)| steps.get(self.positions[other]))
                .any(|pending| pending.ended < candidate.started);
            if overtaken {
                continue;
            }
            match model::accept(self.scope, state, &candidate.request, &candidate.observed) {
                Ok(next) => {
                    self.positions[client] += 1;
                    let explained = self.explain(&next, depth + 1);
                    self.positions[client] -= 1;
                    if explained {
                        return true;
                    }
                }
                Err(violation) => self.note(depth, violation),
            }
        }
        false
    }
}
