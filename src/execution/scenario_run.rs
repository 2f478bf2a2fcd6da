//! Running one scenario against the target: requests, checks (answer modes,
//! outcomes and conditions, the security check on every answer), captures,
//! and the cleanup ledger of every record the scenario may have created.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::client::{Client, Exchange};
use super::guard::{clear_mutation, ClearedMutation};
use super::list_stream::{Glance, Kind, ListSink};
use super::target::Target;
use crate::outcome::exchange::ReceivedResponse;
use crate::outcome::redact::Redactor;
pub use crate::outcome::scenario::{ScenarioOutcome, StepOutcome, Verdict};
use crate::spec::contract::{claims_success, COLLECTION_PATH};
use crate::spec::contract::{path_segment, percent_decoded};
use crate::spec::load::LoadedScenario;
use crate::spec::pattern::{
    describe_body, Explanation, ListJudge, MatchContext, Mismatch, Pattern,
};
use crate::spec::scenario::{
    Answer, AuthVariant, Level, Method, OnlyIf, Principal, Request, Step, DEEP_TAG,
};
use crate::spec::tamper::AuthField;
use crate::spec::template::{resolve_value, Bindings, Template, Variable};

/// Most requests of one concurrent step in flight at once, so a step with
/// `concurrent: 1010` does not open 1010 connections.
pub const MAX_IN_FLIGHT: usize = 16;

/// Why a scenario tagged [`DEEP_TAG`] is skipped without `--deep`.
pub const DEEP_REASON: &str = "opt-in deep mode: run with --deep";

/// Every UserID the harness creates starts with this, so `sweep` can find them.
pub const HARNESS_PREFIX: &str = "zzconf-";

/// Watches a scenario run step by step: the engine turns what it sees into
/// events, and may stop a scenario before its next step (Ctrl-C).
pub trait StepObserver: Send + Sync {
    /// Called before each step that would send a request: `Err(reason)`
    /// stops the scenario there (the step errs with `reason`, nothing is sent).
    fn proceed(&self, _step: usize) -> Result<(), String> {
        Ok(())
    }

    /// A step's request (or its `copies` concurrent copies) is going out.
    fn sent(&self, _step: usize, _method: &str, _url: &str, _copies: usize) {}

    /// A step's answers came back and were checked.
    fn answered(&self, _step: &StepOutcome) {}
}

/// An observer that sees nothing and never stops a scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl StepObserver for Unobserved {}

/// Identifies one run; every UserID it creates starts with [`RunIdentity::uid_prefix`].
#[derive(Debug, Clone)]
pub struct RunIdentity {
    /// Short random id of this run.
    pub run_id: String,
}

impl RunIdentity {
    /// A fresh run id from the clock and the process id.
    pub fn fresh() -> RunIdentity {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 32) ^ (nanos >> 64) as u64;
        RunIdentity {
            run_id: format!(
                "{:08x}",
                (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
            ),
        }
    }

    /// The prefix of every UserID this run creates.
    pub fn uid_prefix(&self) -> String {
        format!("{HARNESS_PREFIX}{}-", self.run_id)
    }

    /// A context name no server has.
    pub fn invalid_context(&self) -> String {
        format!("{HARNESS_PREFIX}{}-no-such-context", self.run_id)
    }

    /// A token no server issued.
    pub fn invalid_token(&self) -> String {
        format!("{HARNESS_PREFIX}invalid-token-{}", self.run_id)
    }
}

/// The auth parameters one request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentAuth {
    /// Token sent (None: left out; the JSON text when not a string).
    pub api_token: Option<Value>,
    /// Username sent.
    pub username: Option<Value>,
    /// Context sent.
    pub contextname: Option<Value>,
}

impl SentAuth {
    /// Three strings, as configured.
    fn strings(api_token: &str, username: &str, contextname: &str) -> SentAuth {
        SentAuth {
            api_token: Some(Value::String(api_token.to_string())),
            username: Some(Value::String(username.to_string())),
            contextname: Some(Value::String(contextname.to_string())),
        }
    }

    /// The username as an envelope would name it ("" when absent, the JSON text when not a string).
    pub fn username_text(&self) -> String {
        text_of(self.username.as_ref())
    }

    /// The context name as an envelope would name it.
    pub fn contextname_text(&self) -> String {
        text_of(self.contextname.as_ref())
    }

    /// The context a mutating request works in, when it names one as a string.
    fn context_for_ledger(&self) -> Option<String> {
        self.contextname
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The username sent, when it is a string.
    fn username_str(&self) -> Option<&str> {
        self.username.as_ref().and_then(Value::as_str)
    }
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// One record a scenario may have created, and whose credentials delete it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CleanupEntry {
    /// Whose context it lives in: records created as the other user are deleted as the other user.
    pub principal: Principal,
    /// The context.
    pub context: String,
    /// The UserID.
    pub user_id: String,
}

/// The credentials of `principal` for `contextname`, as the JSON body of a list or delete
/// ("Authentication"); None when the other user is not configured.
pub fn principal_auth_body(
    target: &Target,
    principal: Principal,
    contextname: &str,
) -> Option<String> {
    match principal {
        Principal::Configured => Some(target.auth_body(contextname)),
        Principal::Other => target.other.as_ref().map(|other| {
            serde_json::json!({
                "api_token": other.api_token.expose(),
                "username": other.username,
                "contextname": contextname,
            })
            .to_string()
        }),
    }
}

/// Records every record a scenario may have created, before the request goes out.
#[derive(Debug, Default, Clone)]
pub struct CleanupLedger {
    entries: Arc<Mutex<Vec<CleanupEntry>>>,
    /// The run's ledger file, written before each request so `sweep` survives a killed run.
    file: Option<Arc<super::ledger_file::LedgerFile>>,
}

impl CleanupLedger {
    /// A ledger that also appends every entry to `file` (for a run against a real target).
    pub fn with_file(file: Option<Arc<super::ledger_file::LedgerFile>>) -> CleanupLedger {
        CleanupLedger {
            entries: Arc::default(),
            file,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CleanupEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records (principal, context, UserID), on disk first when there is a
    /// ledger file; the UserID as the path segment that deletes it (see
    /// [`super::guard::ClearedMutation::ledger_segments`]).
    pub fn record(&self, principal: Principal, context: &str, uid: &str) -> Result<(), String> {
        let mut entries = self.lock();
        let entry = CleanupEntry {
            principal,
            context: context.to_string(),
            user_id: uid.to_string(),
        };
        if entries.contains(&entry) {
            return Ok(());
        }
        if let Some(file) = &self.file {
            file.record(principal, context, uid)
                .map_err(|error| error.to_string())?;
        }
        entries.push(entry);
        Ok(())
    }

    /// Records a leftover of the configured user found by listing, so [`CleanupLedger::clean`] deletes it.
    pub fn record_for_sweep(&self, context: &str, uid: &str) {
        self.record_leftover(Principal::Configured, context, uid);
    }

    /// Records a leftover found by listing as `principal`; `uid` is the
    /// UserID as listed, kept as the path segment that deletes it (a listed
    /// `x/../B68t19` must not become a path that addresses `B68t19`).
    pub fn record_leftover(&self, principal: Principal, context: &str, uid: &str) {
        // The record is already on the target; the file, if any, is not needed to find it.
        let mut entries = self.lock();
        let entry = CleanupEntry {
            principal,
            context: context.to_string(),
            user_id: path_segment(uid),
        };
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }

    /// Every recorded entry, in order.
    pub fn entries(&self) -> Vec<CleanupEntry> {
        self.lock().clone()
    }

    /// Deletes every recorded record that belongs to this run, each with the
    /// credentials of the principal it was recorded under. Up to
    /// [`MAX_IN_FLIGHT`] deletes go out at once (the run's gate still bounds
    /// the whole run): one after another, 260 records cost 260 round trips.
    pub async fn clean(&self, client: &Client, identity: &RunIdentity) -> Vec<String> {
        let target = client.target();
        let prefix = identity.uid_prefix();
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        let mut problems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (order, entry) in self.entries().into_iter().enumerate() {
            if !entry.user_id.starts_with(&prefix) || !seen.insert(entry.clone()) {
                continue;
            }
            let Some(body) = principal_auth_body(target, entry.principal, &entry.context) else {
                problems.push((
                    order,
                    format!(
                        "cleanup of {} in {}: the other user is not configured",
                        entry.user_id, entry.context
                    ),
                ));
                continue;
            };
            let path = format!("{COLLECTION_PATH}/{}", entry.user_id);
            // The cleanup deletes through the same guard as every other change.
            let cleared = match clear_mutation(target, "DELETE", &path, Some(&body), &prefix) {
                Ok(cleared) => cleared,
                Err(refused) => {
                    problems.push((
                        order,
                        format!(
                            "cleanup of {} in {}: {refused}",
                            entry.user_id, entry.context
                        ),
                    ));
                    continue;
                }
            };
            let (client, in_flight) = (client.clone(), Arc::clone(&in_flight));
            tasks.spawn(async move {
                let _permit = in_flight.acquire_owned().await;
                let exchange = client.send_cleared(&cleared).await;
                exchange.response.err().map(|error| {
                    (
                        order,
                        format!("cleanup of {} in {}: {error}", entry.user_id, entry.context),
                    )
                })
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(problem) => problems.extend(problem),
                Err(error) => {
                    problems.push((usize::MAX, format!("a cleanup task failed: {error}")))
                }
            }
        }
        // In the order recorded, whatever order the answers came in.
        problems.sort_by_key(|(order, _)| *order);
        problems.into_iter().map(|(_, problem)| problem).collect()
    }
}

/// Why a scenario tagged `deep` does not run: None with `deep`, or when it is not tagged.
pub fn opt_in_reason(loaded: &LoadedScenario, deep: bool) -> Option<String> {
    (!deep && loaded.scenario.tags.iter().any(|tag| tag == DEEP_TAG))
        .then(|| DEEP_REASON.to_string())
}

/// Which configuration a scenario needs that the target may lack.
pub fn missing_configuration(loaded: &LoadedScenario, client: &Client) -> Option<String> {
    let target = client.target();
    let steps = &loaded.scenario.steps;
    let needs = |variant: &AuthVariant, variable: Variable| {
        steps.iter().any(|step| {
            step.request.auth == *variant
                || step_templates(step)
                    .iter()
                    .any(|template| template.variables().any(|found| *found == variable))
        })
    };
    if target.second_context.is_none()
        && needs(&AuthVariant::SecondContext, Variable::SecondContext)
    {
        return Some(
            "needs a second context the user may access (--second-context / IPDR_SECOND_CONTEXT)"
                .to_string(),
        );
    }
    if target.forbidden_context.is_none()
        && needs(&AuthVariant::ForbiddenContext, Variable::ForbiddenContext)
    {
        return Some(
            "needs an existing context the user may not access (--forbidden-context / IPDR_FORBIDDEN_CONTEXT)".to_string(),
        );
    }
    let token_of_other = steps.iter().any(|step| {
        matches!(&step.request.auth, AuthVariant::Explicit(explicit) if explicit.token_of == Some(Principal::Other))
    });
    if target.other.is_none()
        && (token_of_other
            || needs(&AuthVariant::OtherUser, Variable::OtherUsername)
            || needs(&AuthVariant::OtherUser, Variable::OtherContext))
    {
        return Some(
            "needs a second user (--other-username, --other-api-token, --other-context / IPDR_OTHER_USERNAME, IPDR_OTHER_API_TOKEN, IPDR_OTHER_CONTEXT)".to_string(),
        );
    }
    for step in steps {
        if let AuthVariant::Tampered(tampered) = &step.request.auth {
            let configured = match tampered.field {
                AuthField::ApiToken => target.api_token.expose(),
                AuthField::Username => target.username.as_str(),
                AuthField::Contextname => target.context.as_str(),
            };
            if tampered.tamper.apply(configured).is_none() {
                return Some(format!(
                    "the configured {} cannot be turned into {} (e.g. it has no letters, or one character only)",
                    tampered.field.key(),
                    tampered.tamper.describe()
                ));
            }
        }
    }
    None
}

fn step_templates(step: &Step) -> Vec<Template> {
    let mut found: Vec<Template> = Template::parse(&step.request.path).into_iter().collect();
    if let Some(body) = &step.request.body {
        found.extend(crate::spec::template::templates_in(body).unwrap_or_default());
    }
    if let Some(raw) = &step.request.raw_body {
        found.extend(Template::parse(raw));
    }
    if let AuthVariant::Explicit(explicit) = &step.request.auth {
        found.extend(
            explicit
                .values()
                .filter_map(|value| Template::parse(value).ok()),
        );
    }
    if let Some(expected) = &step.expect.body {
        found.extend(crate::spec::template::templates_in(expected).unwrap_or_default());
    }
    found
}

/// Variable values for one scenario.
struct ScenarioBindings<'a> {
    client: &'a Client,
    identity: &'a RunIdentity,
    scenario_tag: String,
    captures: BTreeMap<String, Value>,
    copy: Option<usize>,
}

impl Bindings for ScenarioBindings<'_> {
    fn resolve(&self, variable: &Variable) -> Result<Value, String> {
        let target = self.client.target();
        let text = match variable {
            Variable::Uid(label) => format!(
                "{}{}-{label}",
                self.identity.uid_prefix(),
                self.scenario_tag
            ),
            Variable::Context => target.context.clone(),
            Variable::SecondContext => target
                .second_context
                .clone()
                .ok_or("no second context is configured")?,
            Variable::ForbiddenContext => target
                .forbidden_context
                .clone()
                .ok_or("no forbidden context is configured")?,
            Variable::InvalidContext => self.identity.invalid_context(),
            Variable::Username => target.username.clone(),
            Variable::OtherUsername => target
                .other
                .as_ref()
                .map(|other| other.username.clone())
                .ok_or("no other user is configured")?,
            Variable::OtherContext => target
                .other
                .as_ref()
                .map(|other| other.context.clone())
                .ok_or("no other user is configured")?,
            Variable::ApiToken => target.api_token.expose().to_string(),
            Variable::Repeat { text, times } => text.repeat(*times),
            Variable::Copy => {
                return self
                    .copy
                    .map(Value::from)
                    .ok_or_else(|| "${copy} outside a concurrent request".to_string())
            }
            Variable::Captured(name) => {
                return self
                    .captures
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("${{{name}}} was not captured"))
            }
        };
        Ok(Value::String(text))
    }
}

/// Runs one loaded scenario; `tag` makes its UserIDs unique within the run.
pub async fn run_scenario(
    loaded: &LoadedScenario,
    tag: &str,
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
) -> ScenarioOutcome {
    run_scenario_observed(loaded, tag, client, identity, ledger, &Unobserved).await
}

/// Like [`run_scenario`], telling `observer` about each step, which may stop
/// the scenario before its next step.
pub async fn run_scenario_observed(
    loaded: &LoadedScenario,
    tag: &str,
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    observer: &dyn StepObserver,
) -> ScenarioOutcome {
    if let Some(reason) = missing_configuration(loaded, client) {
        return ScenarioOutcome {
            steps: Vec::new(),
            verdict: Verdict::Ignored(reason),
            panic: None,
        };
    }
    let mut bindings = ScenarioBindings {
        client,
        identity,
        scenario_tag: tag.to_string(),
        captures: BTreeMap::new(),
        copy: None,
    };
    let redactor = client.target().redactor();
    let own = identity.uid_prefix();
    let scenario_prefix = format!("{own}{tag}-");
    // Outcome name → (step index, accepted).
    let mut outcomes: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
    let mut steps = Vec::new();
    for (index, step) in loaded.scenario.steps.iter().enumerate() {
        let level = loaded.scenario.step_level(step);
        if let Some(reason) = unmet_condition(step.only_if.as_ref(), &outcomes, loaded) {
            let mut outcome = StepOutcome::new(index, step, level);
            outcome.skipped = Some(reason);
            steps.push(outcome);
            continue;
        }
        if let Err(reason) = observer.proceed(index) {
            let mut outcome = StepOutcome::new(index, step, level);
            outcome.problem = Some(reason);
            steps.push(outcome);
            return ScenarioOutcome {
                steps,
                verdict: Verdict::Errored(index),
                panic: None,
            };
        }
        let mut outcome = run_step(
            index,
            step,
            level,
            loaded.patterns[index].as_ref(),
            &mut bindings,
            ledger,
            &redactor,
            observer,
        )
        .await;
        observer.answered(&outcome);
        // Checked: from here on the step keeps a bounded excerpt of each body,
        // and a list that passed only this scenario's records (all its snapshot
        // compares): scenarios run side by side, so each list holds theirs too.
        let passed = !outcome.fails();
        for exchange in &mut outcome.exchanges {
            if let Ok(response) = &mut exchange.response {
                if passed {
                    response.keep_list_elements(|item| is_own_record(item, &scenario_prefix));
                } else {
                    response.keep_excerpt(|item| is_own_record(item, &own));
                }
            }
        }
        if let (Some(name), Some(accepted)) = (&step.outcome, outcome.accepted) {
            outcomes.insert(name.as_str(), (index, accepted));
        }
        let problem = outcome.problem.is_some() && level.is_binding();
        let fails = outcome.fails();
        steps.push(outcome);
        if !steps[index].leaks.is_empty() {
            return ScenarioOutcome {
                steps,
                verdict: Verdict::Failed(index),
                panic: None,
            };
        }
        if problem {
            return ScenarioOutcome {
                steps,
                verdict: Verdict::Errored(index),
                panic: None,
            };
        }
        if fails {
            return ScenarioOutcome {
                steps,
                verdict: Verdict::Failed(index),
                panic: None,
            };
        }
    }
    ScenarioOutcome {
        steps,
        verdict: Verdict::Passed,
        panic: None,
    }
}

/// Why a step's `only_if` does not hold, or None when the step runs.
fn unmet_condition(
    only_if: Option<&OnlyIf>,
    outcomes: &BTreeMap<&str, (usize, bool)>,
    loaded: &LoadedScenario,
) -> Option<String> {
    let (name, wanted) = match only_if? {
        OnlyIf::Accepted(name) => (name.as_str(), true),
        OnlyIf::Refused(name) => (name.as_str(), false),
    };
    let word = |accepted: bool| if accepted { "accepted" } else { "refused" };
    let described = |at: usize| {
        format!(
            "step {} {:?}",
            at + 1,
            loaded
                .scenario
                .steps
                .get(at)
                .map(|step| step.name.as_str())
                .unwrap_or_default()
        )
    };
    match outcomes.get(name) {
        Some((_, accepted)) if *accepted == wanted => None,
        Some((at, accepted)) => Some(format!(
            "only if {} was {}; it was {}",
            described(*at),
            word(wanted),
            word(*accepted)
        )),
        None => {
            let at = loaded
                .scenario
                .steps
                .iter()
                .position(|step| step.outcome.as_deref() == Some(name))
                .unwrap_or(0);
            Some(format!(
                "only if {} was {}; it was not run or got no answer",
                described(at),
                word(wanted)
            ))
        }
    }
}

/// The auth a request carries, or None when the step omits it.
fn auth_for(
    request: &Request,
    bindings: &ScenarioBindings<'_>,
) -> Result<Option<SentAuth>, String> {
    let target = bindings.client.target();
    let token = target.api_token.expose();
    let configured = SentAuth::strings(token, &target.username, &target.context);
    let in_context = |contextname: &str| SentAuth::strings(token, &target.username, contextname);
    let resolve = |template: &str| -> Result<String, String> {
        Template::parse(template)
            .map_err(|error| error.to_string())?
            .resolve_string(bindings)
    };
    let other = || {
        target
            .other
            .as_ref()
            .ok_or_else(|| "no other user is configured".to_string())
    };
    Ok(Some(match &request.auth {
        AuthVariant::Default => configured,
        AuthVariant::Omitted => return Ok(None),
        AuthVariant::InvalidToken => SentAuth {
            api_token: Some(Value::String(bindings.identity.invalid_token())),
            ..configured
        },
        AuthVariant::InvalidContext => in_context(&bindings.identity.invalid_context()),
        AuthVariant::ForbiddenContext => in_context(
            target
                .forbidden_context
                .as_deref()
                .ok_or("no forbidden context is configured")?,
        ),
        AuthVariant::SecondContext => in_context(
            target
                .second_context
                .as_deref()
                .ok_or("no second context is configured")?,
        ),
        AuthVariant::OtherUser => {
            let other = other()?;
            SentAuth::strings(other.api_token.expose(), &other.username, &other.context)
        }
        AuthVariant::Tampered(tampered) => {
            let mut sent = configured;
            let (slot, value) = match tampered.field {
                AuthField::ApiToken => (&mut sent.api_token, token),
                AuthField::Username => (&mut sent.username, target.username.as_str()),
                AuthField::Contextname => (&mut sent.contextname, target.context.as_str()),
            };
            *slot = tampered.tamper.apply(value).ok_or_else(|| {
                format!(
                    "{} cannot be {} for the configured value",
                    tampered.field.key(),
                    tampered.tamper.describe()
                )
            })?;
            sent
        }
        AuthVariant::Explicit(explicit) => {
            let api_token = match (&explicit.api_token, explicit.token_of) {
                (Some(_), Some(_)) => {
                    return Err("explicit auth gives both api_token and token_of".to_string())
                }
                (Some(text), None) => resolve(text)?,
                (None, Some(Principal::Other)) => other()?.api_token.expose().to_string(),
                (None, Some(Principal::Configured) | None) => token.to_string(),
            };
            let username = match &explicit.username {
                Some(username) => resolve(username)?,
                None => target.username.clone(),
            };
            let contextname = match &explicit.contextname {
                Some(context) => resolve(context)?,
                None => target.context.clone(),
            };
            SentAuth::strings(&api_token, &username, &contextname)
        }
    }))
}

/// Where a mutating request may create a record, and whose credentials delete it there.
///
/// A request that mixes the two users' credentials (one's token, the other's
/// name) is recorded under both, so the record is deleted whichever user the
/// target took it for; a spoiled context is recorded as sent and as configured.
fn cleanup_places(
    request: &Request,
    auth: Option<&SentAuth>,
    target: &Target,
) -> Vec<(Principal, String)> {
    let sent_context = auth.and_then(SentAuth::context_for_ledger);
    let mut places = Vec::new();
    match &request.auth {
        AuthVariant::OtherUser => {
            if let Some(other) = &target.other {
                places.push((Principal::Other, other.context.clone()));
            }
        }
        AuthVariant::Explicit(explicit) => {
            let context = sent_context.unwrap_or_else(|| target.context.clone());
            places.push((Principal::Configured, context.clone()));
            let others_name = target.other.as_ref().is_some_and(|other| {
                auth.and_then(SentAuth::username_str) == Some(other.username.as_str())
            });
            if target.other.is_some()
                && (explicit.token_of == Some(Principal::Other) || others_name)
            {
                places.push((Principal::Other, context));
            }
        }
        AuthVariant::Tampered(_) => {
            if let Some(context) = sent_context {
                places.push((Principal::Configured, context));
            }
            places.push((Principal::Configured, target.context.clone()));
        }
        _ => places.push((
            Principal::Configured,
            sent_context.unwrap_or_else(|| target.context.clone()),
        )),
    }
    // A record in the second user's context is deleted as that user too: the
    // configured user may not be allowed to touch it there.
    if let Some(other) = &target.other {
        let in_others_context = places.iter().any(|(principal, context)| {
            *principal == Principal::Configured && *context == other.context
        });
        if in_others_context {
            places.push((Principal::Other, other.context.clone()));
        }
    }
    places.dedup();
    places
}

/// The request body text: auth first, then the step's fields.
fn body_for(
    request: &Request,
    auth: Option<&SentAuth>,
    bindings: &ScenarioBindings<'_>,
) -> Result<Option<String>, String> {
    if let Some(raw) = &request.raw_body {
        let template = Template::parse(raw).map_err(|error| error.to_string())?;
        return template.resolve_string(bindings).map(Some);
    }
    let mut map = Map::new();
    if let Some(auth) = auth {
        for (field, value) in
            AuthField::ALL
                .into_iter()
                .zip([&auth.api_token, &auth.username, &auth.contextname])
        {
            if let Some(value) = value {
                map.insert(field.key().to_string(), value.clone());
            }
        }
    }
    if let Some(body) = &request.body {
        if let Value::Object(fields) = resolve_value(body, bindings)? {
            map.extend(fields);
        }
    }
    Ok(Some(Value::Object(map).to_string()))
}

/// The UserID of the path (`/api/ipdrcustomers/{UserID}`), if the path names one.
fn path_uid(path: &str) -> Option<String> {
    path.strip_prefix(COLLECTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .map(|rest| rest.split(['?', '#']).next().unwrap_or(rest).to_string())
}

/// The UserID a body carries as a string, if it is a JSON object with one.
fn body_uid(body: Option<&str>) -> Option<String> {
    match body.and_then(|text| serde_json::from_str::<Value>(text).ok()) {
        Some(Value::Object(map)) => map
            .get("UserID")
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Sends one prepared step request: a change exactly as the guard cleared it, a read as is.
/// A read's answer, when it is a list, is read element by element through `sink`.
async fn send_prepared(
    client: &Client,
    method: &str,
    path: &str,
    body: Option<String>,
    clearance: Option<ClearedMutation>,
    sink: &mut StepSink,
) -> Exchange {
    match clearance {
        Some(cleared) => client.send_cleared(&cleared).await,
        None => client.send_list(method, path, body, sink).await,
    }
}

/// What a step keeps of a list as it streams past: this run's records (all
/// that snapshots and reports use), or every element when the step needs
/// them (a capture, a pattern that looks at elements other than through a
/// list operator); and the step's expected body judged on every element.
struct StepSink {
    judge: Option<ListJudge>,
    own_prefix: String,
    keep_all: bool,
    /// What the last glance decided: keep the element, show it to the judge.
    keep_next: bool,
    judge_next: bool,
}

impl StepSink {
    fn new(judge: Option<ListJudge>, own_prefix: String, keep_all: bool) -> StepSink {
        StepSink {
            judge,
            own_prefix,
            keep_all,
            keep_next: false,
            judge_next: false,
        }
    }
}

impl ListSink for StepSink {
    fn restart(&mut self) {
        if let Some(judge) = &mut self.judge {
            judge.restart();
        }
    }

    fn wants(&mut self, _index: usize, glance: &Glance) -> bool {
        // As [`is_own_record`] decides on the parsed element.
        self.keep_next = self.keep_all
            || glance.kind != Kind::Object
            || glance
                .user_id_text()
                .is_some_and(|uid| uid.starts_with(&self.own_prefix));
        self.judge_next = self.judge.as_mut().is_some_and(|judge| judge.wants(glance));
        self.keep_next || self.judge_next
    }

    fn element(&mut self, _index: usize, element: &Value) -> bool {
        // Wanted only to be kept, it was settled for the judge at a glance.
        if let (true, Some(judge)) = (self.judge_next, &mut self.judge) {
            judge.element(element);
        }
        self.keep_next
    }
}

impl StepSink {
    /// The judged verdict on a list read through this sink, and what the list was, in words.
    fn judged(&self, exchange: &Exchange) -> Option<(Explanation, String)> {
        let response = exchange.response.as_ref().ok()?;
        response.listed?;
        let kept = response.json.as_ref()?;
        let judge = self.judge.as_ref()?;
        Some((judge.finish(kept), judge.described()))
    }
}

/// Whether `uid` is one of this run's, for the safety check before a
/// mutating request: it starts with `prefix` once percent-decoded, ignoring
/// ASCII case. The variants of a run's own UserIDs that the UserID trials
/// send (another case, percent-encoded) stay this run's: no other party's
/// record carries this run's id.
pub fn carries_prefix(uid: &str, prefix: &str) -> bool {
    let decoded = percent_decoded(uid);
    decoded
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The UserID a success must carry: the path's, else the body's (a create).
fn success_uid(path: &str, body: Option<&str>) -> Option<String> {
    // A server decodes the path once: `%2D` in the path is `-` in the UserID it answers.
    path_uid(path)
        .map(|uid| percent_decoded(&uid))
        .or_else(|| body_uid(body))
}

/// Whether an answer to a request with `method` claims success: for a list,
/// HTTP 2xx with a JSON array ("Retrieving Customer List › Response: 200,
/// Returns array of customer objects"); for every other operation,
/// [`claims_success`] (HTTP 2xx with the customer object of `user_id`).
/// Anything else is a refusal.
pub fn answer_claims_success(
    method: Method,
    status: u16,
    body: Option<&Value>,
    user_id: Option<&str>,
) -> bool {
    match method {
        Method::Get => (200..300).contains(&status) && body.is_some_and(Value::is_array),
        _ => claims_success(status, body, user_id),
    }
}

/// Secrets shorter than this are not searched for in answers: a short
/// string turns up by chance (a 4-digit token inside a phone number), and a
/// false security failure is as bad as a missed one.
pub const MIN_SEARCHED_SECRET: usize = 8;

/// Every secret an answer carries, named by label: the body and every header value are searched.
pub fn leaks_in(response: &ReceivedResponse, redactor: &Redactor) -> Vec<String> {
    let mut found = Vec::new();
    for secret in redactor
        .secrets()
        .iter()
        .filter(|secret| secret.value().chars().count() >= MIN_SEARCHED_SECRET)
    {
        if response.body_contains_secret(secret.value()) {
            found.push(format!("the answer's body contains {}", secret.label));
        }
        for (name, value) in &response.headers {
            if value.contains(secret.value()) {
                found.push(format!(
                    "the answer's header {name} contains {}",
                    secret.label
                ));
            }
        }
    }
    found
}

/// The label of a secret that `value` contains anywhere (as text, or in any
/// string inside), of any length: a capture is refused on a mere chance too.
fn secret_in(value: &Value, redactor: &Redactor) -> Option<&'static str> {
    let text = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    redactor
        .secrets()
        .iter()
        .find(|secret| !secret.value().is_empty() && text.contains(secret.value()))
        .map(|secret| secret.label)
}

/// Whether a list element is one of this run's records (a snapshot keeps
/// only those), or not a record at all.
fn is_own_record(item: &Value, prefix: &str) -> bool {
    match item.get("UserID") {
        Some(Value::String(uid)) => uid.starts_with(prefix),
        _ => !item.is_object(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_step(
    index: usize,
    step: &Step,
    level: Level,
    pattern: Option<&Pattern>,
    bindings: &mut ScenarioBindings<'_>,
    ledger: &CleanupLedger,
    redactor: &Redactor,
    observer: &dyn StepObserver,
) -> StepOutcome {
    let mut outcome = StepOutcome::new(index, step, level);
    let copies = step.request.concurrent.unwrap_or(1) as usize;
    let mut requests = Vec::with_capacity(copies);
    let mut auth = None;
    for copy in 0..copies {
        bindings.copy = step.request.concurrent.map(|_| copy);
        let prepared = (|| -> Result<(String, Option<SentAuth>, Option<String>), String> {
            let path = Template::parse(&step.request.path)
                .map_err(|error| error.to_string())?
                .resolve_string(bindings)?;
            let auth = auth_for(&step.request, bindings)?;
            let body = body_for(&step.request, auth.as_ref(), bindings)?;
            Ok((path, auth, body))
        })();
        bindings.copy = None;
        match prepared {
            Ok((path, copy_auth, body)) => {
                auth = copy_auth;
                requests.push((path, body));
            }
            Err(reason) => {
                outcome.problem = Some(format!("could not build the request: {reason}"));
                return outcome;
            }
        }
    }
    let client = bindings.client;
    let prefix = bindings.identity.uid_prefix();
    // One clearance per request that can change data; reads need none.
    let mut clearances: Vec<Option<ClearedMutation>> = vec![None; requests.len()];
    if step.request.method.is_mutating() {
        let places = cleanup_places(&step.request, auth.as_ref(), client.target());
        // A raw body may not parse; the UserIDs it names come from ${uid:...}.
        let raw_uids: Vec<String> = match &step.request.raw_body {
            Some(raw) => Template::parse(raw)
                .map(|template| {
                    template
                        .variables()
                        .filter(|variable| matches!(variable, Variable::Uid(_)))
                        .filter_map(|variable| bindings.resolve(variable).ok())
                        .filter_map(|value| value.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        // Every UserID as the path segment that deletes it, like the guard's.
        let mut uids: Vec<String> = raw_uids.iter().map(|uid| path_segment(uid)).collect();
        for ((path, body), clearance) in requests.iter().zip(clearances.iter_mut()) {
            // Safety: the harness never modifies a record it did not create;
            // judged on the URL as the client sends it.
            match clear_mutation(
                client.target(),
                step.request.method.as_str(),
                path,
                body.as_deref(),
                &prefix,
            ) {
                Ok(cleared) => {
                    uids.extend_from_slice(cleared.ledger_segments());
                    *clearance = Some(cleared);
                }
                Err(refused) => {
                    outcome.problem = Some(refused.to_string());
                    return outcome;
                }
            }
        }
        uids.dedup();
        for uid in &uids {
            for (principal, context) in &places {
                if let Err(error) = ledger.record(*principal, context, uid) {
                    outcome.problem = Some(format!("refused to send: {error}"));
                    return outcome;
                }
            }
        }
    }
    let method = step.request.method.as_str();
    let success_uids: Vec<Option<String>> = requests
        .iter()
        .map(|(path, body)| success_uid(path, body.as_deref()))
        .collect();
    if let Some((path, _)) = requests.first() {
        observer.sent(index, method, &client.target().url(path), copies);
    }
    let (username, contextname) = auth
        .as_ref()
        .map(|auth| (auth.username_text(), auth.contextname_text()))
        .unwrap_or_default();
    let mut judged = None;
    outcome.exchanges = if copies == 1 {
        let (path, body) = requests.pop().expect("one request");
        let clearance = clearances.pop().flatten();
        let judge = pattern.map(|pattern| {
            let context = MatchContext {
                bindings: &*bindings,
                username: &username,
                contextname: &contextname,
            };
            ListJudge::new(pattern, &context)
        });
        let keep_all =
            !step.capture.is_empty() || judge.as_ref().is_some_and(ListJudge::needs_every_element);
        let sink = StepSink::new(judge, prefix.clone(), keep_all);
        let exchange = match clearance {
            Some(cleared) => client.send_cleared(&cleared).await,
            // A read may share its list with other steps asking at the same time.
            None => {
                let (exchange, sink) = client.send_shared_list(method, &path, body, sink).await;
                judged = sink.and_then(|sink| sink.judged(&exchange));
                exchange
            }
        };
        vec![exchange]
    } else {
        let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for (copy, ((path, body), clearance)) in requests.into_iter().zip(clearances).enumerate() {
            let client = client.clone();
            let in_flight = Arc::clone(&in_flight);
            tasks.spawn(async move {
                let _permit = in_flight.acquire_owned().await;
                // Copies are matched whole: they keep every element (up to the cap).
                let mut sink = StepSink::new(None, String::new(), true);
                let exchange =
                    send_prepared(&client, method, &path, body, clearance, &mut sink).await;
                (copy, exchange)
            });
        }
        let mut exchanges = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(exchange) => exchanges.push(exchange),
                Err(error) => {
                    outcome.problem = Some(format!("a concurrent request task failed: {error}"))
                }
            }
        }
        // In the order sent, so each answer meets its own request's UserID.
        exchanges.sort_by_key(|(copy, _)| *copy);
        exchanges
            .into_iter()
            .map(|(_, exchange)| exchange)
            .collect()
    };
    let context = MatchContext {
        bindings: &*bindings,
        username: &username,
        contextname: &contextname,
    };
    if step.expect.answer != Answer::Refusal {
        outcome.expected_body = pattern.map(|pattern| pattern.render(&context));
    }
    let mut first_json = None;
    let mut accepted_all = true;
    let mut answered = 0;
    for (exchange, uid) in outcome.exchanges.iter().zip(&success_uids) {
        let response = match &exchange.response {
            Ok(response) => response,
            Err(error) => {
                outcome.problem = Some(format!("no response: {error}"));
                continue;
            }
        };
        answered += 1;
        // Security: binding at every level and in every answer mode.
        for leak in leaks_in(response, redactor) {
            if !outcome.leaks.contains(&leak) {
                outcome.leaks.push(leak);
            }
        }
        let accepted = answer_claims_success(
            step.request.method,
            response.status,
            response.json.as_ref(),
            uid.as_deref(),
        );
        accepted_all &= accepted;
        let mut notes = Vec::new();
        let found = match (step.expect.answer, accepted) {
            (Answer::AsGiven, _) | (Answer::SuccessOrRefusal, true) => {
                let (found, placed) =
                    check_response(response, step, pattern, &context, judged.as_ref());
                notes = placed;
                found
            }
            (Answer::Refusal, true) => vec![Mismatch {
                pointer: "(answer)".to_string(),
                expected: "a refusal (any answer but a success)".to_string(),
                actual: match step.request.method {
                    Method::Get => format!("a success: HTTP {} with a list", response.status),
                    _ => format!(
                        "a success: HTTP {} with the customer object of {}",
                        response.status,
                        uid.as_deref().unwrap_or("the UserID sent")
                    ),
                },
            }],
            (Answer::Refusal | Answer::SuccessOrRefusal, false) => Vec::new(),
        };
        if !found.is_empty() && outcome.answer_summary.is_none() {
            let described = judged.as_ref().map(|(_, described)| described.as_str());
            outcome.answer_summary = answer_summary(response, described, &notes);
        }
        for mismatch in found {
            if !outcome.mismatches.contains(&mismatch) {
                outcome.mismatches.push(mismatch);
            }
        }
        if first_json.is_none() {
            first_json = response.json.clone();
        }
    }
    if copies == 1 && answered == 1 {
        outcome.accepted = Some(accepted_all);
    }
    if outcome.problem.is_some() || !outcome.mismatches.is_empty() {
        return outcome;
    }
    // A step that may be refused captures only when it was accepted.
    if step.expect.answer == Answer::SuccessOrRefusal && outcome.accepted != Some(true) {
        return outcome;
    }
    for (name, pointer) in &step.capture {
        match first_json.as_ref().and_then(|json| json.pointer(pointer)) {
            Some(value) => {
                // A capture goes into later URLs and bodies: never the token.
                if let Some(label) = secret_in(value, redactor) {
                    outcome.problem = Some(format!(
                        "refused to capture ${{{name}}} from {pointer}: the value contains {label}, which goes nowhere but the body's api_token"
                    ));
                    return outcome;
                }
                bindings.captures.insert(name.clone(), value.clone());
            }
            None => {
                outcome.mismatches.push(Mismatch {
                    pointer: pointer.clone(),
                    expected: format!("a value to capture as ${{{name}}}"),
                    actual: "(missing)".to_string(),
                });
            }
        }
    }
    outcome
}

/// Bodies up to this many characters (as compact JSON) are shown as they
/// are; a list or a longer body is summarised.
const SHOWN_BODY_CHARS: usize = 200;

/// What came back, in a few words, and where the differences are: `a
/// list of 14 customers; none of the 14 elements matches; the nearest is
/// /3, the one with UserID "u1"`. None when the body is short and not a
/// list (it is shown as it is), or not JSON (the body's problem says it).
fn answer_summary(
    response: &ReceivedResponse,
    described: Option<&str>,
    notes: &[String],
) -> Option<String> {
    let json = response.json.as_ref()?;
    let short = !json.is_array() && json.to_string().chars().count() <= SHOWN_BODY_CHARS;
    if short && notes.is_empty() {
        return None;
    }
    // A list read element by element is described whole, not by the elements kept.
    let mut parts = vec![described.map_or_else(|| describe_body(json), str::to_string)];
    parts.extend(notes.iter().cloned());
    Some(parts.join("; "))
}

/// Status, content type, JSON-ness and body pattern of one response: the
/// mismatches, and notes that place them in the body.
fn check_response(
    response: &ReceivedResponse,
    step: &Step,
    pattern: Option<&Pattern>,
    context: &MatchContext<'_>,
    judged: Option<&(Explanation, String)>,
) -> (Vec<Mismatch>, Vec<String>) {
    let mut found = Vec::new();
    if response.status != step.expect.status {
        found.push(Mismatch {
            pointer: "(HTTP status)".to_string(),
            expected: step.expect.status.to_string(),
            actual: response.status.to_string(),
        });
    }
    if step.expect.json {
        if !response.has_json_content_type() {
            found.push(Mismatch {
                pointer: "(Content-Type)".to_string(),
                expected: "application/json".to_string(),
                actual: response
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "(none)".to_string()),
            });
        }
        if let Some(why) = response.body_problem() {
            found.push(Mismatch {
                pointer: "(body)".to_string(),
                expected: "a JSON document".to_string(),
                actual: why,
            });
        }
    }
    let mut notes = Vec::new();
    if let (Some(pattern), Some(json)) = (pattern, response.json.as_ref()) {
        // A list read element by element was judged on every element as it passed.
        let explained = match judged {
            Some((explained, _)) => explained.clone(),
            None => pattern.explain(Some(json), context),
        };
        found.extend(explained.mismatches);
        notes = explained.notes;
    }
    (found, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str, headers: &[(&str, &str)]) -> ReceivedResponse {
        let head = crate::execution::client::AnswerHead {
            status: 200,
            content_type: Some("application/json".into()),
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        };
        ReceivedResponse::from_body(
            head,
            body.as_bytes().to_vec(),
            false,
            std::time::Duration::ZERO,
            &[],
        )
    }

    #[test]
    fn a_secret_in_the_body_or_a_header_is_a_leak_named_by_label() {
        let redactor = Redactor::new("Qm7RzT2vXk9LpW4sNa8c");
        assert!(leaks_in(&answer(r#"{"status":"ok"}"#, &[("x-a", "b")]), &redactor).is_empty());
        assert_eq!(
            leaks_in(
                &answer(
                    r#"{"echo":"xQm7RzT2vXk9LpW4sNa8cx"}"#,
                    &[("x-token", "Qm7RzT2vXk9LpW4sNa8c")]
                ),
                &redactor
            ),
            [
                "the answer's body contains the API token",
                "the answer's header x-token contains the API token"
            ]
        );
    }

    #[test]
    fn variants_of_the_runs_own_user_ids_carry_its_prefix_and_others_do_not() {
        let prefix = "zzconf-1a2b3c4d-";
        for own in [
            "zzconf-1a2b3c4d-007-a",
            "ZZCONF-1A2B3C4D-007-A",
            "zzconf-1a2b3c4d-007-%61",
            "%7Azconf-1a2b3c4d-007-a",
            "zzconf-1a2b3c4d-",
        ] {
            assert!(carries_prefix(own, prefix), "{own}");
        }
        for foreign in [
            "B68t19",
            "zzconf-00000000-000-a",
            "zzconf-1a2b3c4",
            "%zz",
            "",
        ] {
            assert!(!carries_prefix(foreign, prefix), "{foreign}");
        }
    }

    #[test]
    fn a_listed_leftover_is_kept_as_the_path_segment_that_deletes_it() {
        let ledger = CleanupLedger::default();
        ledger.record_leftover(
            Principal::Configured,
            "default",
            "zzconf-1a2b3c4d-a/../B68t19",
        );
        assert_eq!(
            ledger.entries()[0].user_id,
            "zzconf-1a2b3c4d-a%2F..%2FB68t19"
        );
    }

    #[test]
    fn a_short_secret_is_not_searched_for() {
        let redactor = Redactor::new("1234");
        assert!(leaks_in(&answer(r#"{"PhoneNumber":"1234567890"}"#, &[]), &redactor).is_empty());
    }

    #[test]
    fn a_list_is_a_success_only_with_an_array() {
        let list = serde_json::json!([]);
        let object = serde_json::json!({"UserID": "u"});
        assert!(answer_claims_success(Method::Get, 200, Some(&list), None));
        assert!(!answer_claims_success(Method::Get, 403, Some(&list), None));
        assert!(!answer_claims_success(
            Method::Get,
            200,
            Some(&object),
            None
        ));
        assert!(answer_claims_success(
            Method::Post,
            201,
            Some(&object),
            Some("u")
        ));
        assert!(!answer_claims_success(
            Method::Post,
            200,
            Some(&list),
            Some("u")
        ));
    }
}
