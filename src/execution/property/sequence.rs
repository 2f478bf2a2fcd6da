//! One case of `property::crud_sequences`: a sequence of requests on a
//! fresh pool of this case's own UserIDs, each answer checked with
//! [`model::accept`] (and for a secret echoed, [`echoed_secret`]), then the
//! list of every context the harness can see compared with the model, then
//! every record of the case deleted.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::execution::client::Client;
use crate::execution::scenario_run::{CleanupLedger, RunIdentity};
use crate::spec::model::{self, Action, Auth, Field, Request, Scope, State, Violation};

use super::exchange::{echoed_secret, send, Step};
use super::generate::NO_USER_ID_LABEL;

/// Why a case failed.
#[derive(Debug, Clone)]
pub enum CaseFailure {
    /// An answer or the final state the page does not allow.
    Violation(Violation),
    /// The harness could not check (no response, or a request it refused to send).
    Problem(String),
}

impl CaseFailure {
    /// One line for proptest's failure reason.
    pub fn summary(&self) -> String {
        match self {
            CaseFailure::Violation(violation) => violation
                .message
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
            CaseFailure::Problem(problem) => problem.clone(),
        }
    }
}

/// What one case did.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// Every UserID of the case starts with this.
    pub own_prefix: String,
    /// The steps sent, in order (the final lists included).
    pub steps: Vec<Step>,
    /// The model state before each step.
    pub states: Vec<State>,
    /// The failure and the index of the step it happened at.
    pub failure: Option<(usize, CaseFailure)>,
    /// Cleanup problems (reported, not failures).
    pub cleanup_problems: Vec<String>,
}

/// The model's names for a case whose UserIDs start with `own_prefix`.
pub fn scope(client: &Client, identity: &RunIdentity, own_prefix: String) -> Scope {
    let target = client.target();
    Scope {
        username: target.username.clone(),
        context: target.context.clone(),
        invalid_context: identity.invalid_context(),
        forbidden_context: target.forbidden_context.clone(),
        own_prefix,
    }
}

/// The request with pool labels turned into this case's UserIDs (and a create without UserID
/// given a Name that marks it as this case's).
pub fn concretize(request: &Request, own_prefix: &str) -> Request {
    let mut concrete = request.map_user_ids(|label| format!("{own_prefix}{label}"));
    if let Action::Create {
        user_id: None,
        values,
    } = &mut concrete.action
    {
        values.insert(Field::Name, format!("{own_prefix}{NO_USER_ID_LABEL}"));
    }
    concrete
}

/// The lists that end every sequence: each context the harness can see.
pub fn final_lists(client: &Client) -> Vec<Request> {
    let mut lists = vec![Request {
        action: Action::List,
        auth: Auth::Configured,
    }];
    if client.target().second_context.is_some() {
        lists.push(Request {
            action: Action::List,
            auth: Auth::SecondContext,
        });
    }
    lists
}

/// Against a large target, a list in the middle of a sequence is sent only at positions
/// that are a multiple of this (every list costs O(customers)); each case still ends
/// with a full list of every context, so no check is lost.
pub const LARGE_TARGET_LIST_STRIDE: usize = 10;

/// Which requests of a generated sequence are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lists {
    /// Every request.
    All,
    /// Lists in the middle of a sequence only at positions that are a multiple of
    /// [`LARGE_TARGET_LIST_STRIDE`]: the same for the same sequence, so that verdicts do not
    /// depend on timing, and the other requests the same as against a small target.
    Thinned,
}

impl Lists {
    /// Whether the request at `position` of a sequence is sent.
    pub fn sends(self, position: usize, request: &Request) -> bool {
        self == Lists::All
            || !matches!(request.action, Action::List)
            || position % LARGE_TARGET_LIST_STRIDE == 0
    }
}

/// Runs `requests` (with pool labels) as one case under `own_prefix`, recording what it
/// may create in `ledger` (fresh for the case), then cleans up.
pub async fn run_case(
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    requests: &[Request],
    own_prefix: String,
    lists: Lists,
) -> CaseRun {
    let scope = scope(client, identity, own_prefix.clone());
    let mut run = CaseRun {
        own_prefix: own_prefix.clone(),
        steps: Vec::new(),
        states: Vec::new(),
        failure: None,
        cleanup_problems: Vec::new(),
    };
    let mut state = State::default();
    let planned = requests
        .iter()
        .enumerate()
        .filter(|(position, request)| lists.sends(*position, request))
        .map(|(_, request)| (concretize(request, &own_prefix), false))
        .chain(final_lists(client).into_iter().map(|list| (list, true)));
    for (index, (request, final_check)) in planned.enumerate() {
        let exchange = match send(client, identity, ledger, &request, &own_prefix).await {
            Ok(exchange) => exchange,
            Err(error) => {
                run.failure = Some((index, CaseFailure::Problem(error.to_string())));
                break;
            }
        };
        let step = Step {
            request,
            exchange,
            final_check,
        };
        run.states.push(state.clone());
        let verdict = match (step.observed(), echoed_secret(client, &step)) {
            // Binding at every step, whatever the model expects of it.
            (Some(_), Some(violation)) => Err(CaseFailure::Violation(violation)),
            (Some(observed), None) => model::accept(&scope, &state, &step.request, &observed)
                .map_err(CaseFailure::Violation),
            (None, _) => Err(CaseFailure::Problem(format!(
                "no response to {}: {}",
                step.request.describe(),
                step.exchange
                    .response
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ))),
        };
        let mut step = step;
        if verdict.is_ok() && matches!(step.request.action, Action::List) {
            // Judged: only this case's records matter from now on (replays, reports).
            // Kept whole, 64 cases in flight each held every other case's records.
            if let Ok(response) = &mut step.exchange.response {
                response.keep_list_elements(|element| {
                    element.as_object().is_some_and(|object| scope.owns(object))
                });
            }
        }
        run.steps.push(step);
        match verdict {
            Ok(next) => state = next,
            Err(failure) => {
                run.failure = Some((index, failure));
                break;
            }
        }
    }
    run.cleanup_problems = ledger.clean(client, identity).await;
    let finals: Vec<&Step> = run.steps.iter().filter(|step| step.final_check).collect();
    run.cleanup_problems
        .extend(delete_duplicates(client, identity, ledger, &finals, &own_prefix).await);
    run
}

/// A server that let one UserID be stored twice keeps a record after one DELETE:
/// delete again as often as the lists after the case showed it (best effort).
pub async fn delete_duplicates(
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    finals: &[&Step],
    own_prefix: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    for step in finals {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let listed = step
            .observed()
            .and_then(|observed| observed.body)
            .and_then(|body| body.as_array().cloned())
            .unwrap_or_default();
        for element in &listed {
            if let Some(user_id) = element.get("UserID").and_then(Value::as_str) {
                if user_id.starts_with(own_prefix) {
                    *counts.entry(user_id.to_string()).or_default() += 1;
                }
            }
        }
        for (user_id, count) in counts.into_iter().filter(|(_, count)| *count > 1) {
            let delete = Request {
                action: Action::Delete { user_id },
                auth: step.request.auth,
            };
            for _ in 1..count {
                if let Err(error) = send(client, identity, ledger, &delete, own_prefix).await {
                    problems.push(format!("cleanup: {error}"));
                }
            }
        }
    }
    problems
}
