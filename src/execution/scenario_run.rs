//! Running one scenario against the target: requests, checks, captures, and
//! the cleanup ledger of every record the scenario may have created.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::client::{Client, Exchange, ReceivedResponse};
use crate::spec::contract::COLLECTION_PATH;
use crate::spec::load::LoadedScenario;
use crate::spec::pattern::{MatchContext, Mismatch, Pattern};
use crate::spec::scenario::{AuthVariant, Level, Principal, Request, Step};
use crate::spec::tamper::AuthField;
use crate::spec::template::{resolve_value, Bindings, Template, Variable};

/// Every UserID the harness creates starts with this, so `sweep` can find them.
pub const HARNESS_PREFIX: &str = "zzconf-";

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

    /// The context a mutating request works in, for the cleanup ledger.
    fn context_for_ledger(&self) -> Option<String> {
        self.contextname
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// What happened at one step.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// 0-based position in the scenario.
    pub index: usize,
    /// The step's name.
    pub name: String,
    /// The level it was checked at.
    pub level: Level,
    /// Every exchange (several for a concurrent step).
    pub exchanges: Vec<Exchange>,
    /// Expected HTTP status.
    pub expected_status: u16,
    /// Whether a JSON response was expected.
    pub expected_json: bool,
    /// The expected body, rendered for display.
    pub expected_body: Option<Value>,
    /// Every difference from the expectation.
    pub mismatches: Vec<Mismatch>,
    /// A harness or network problem that kept the step from being checked.
    pub problem: Option<String>,
}

impl StepOutcome {
    /// Whether the response met the expectation.
    pub fn met(&self) -> bool {
        self.mismatches.is_empty() && self.problem.is_none()
    }
}

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every binding step met its expectation.
    Passed,
    /// A binding step did not (index of the step).
    Failed(usize),
    /// A harness or network problem stopped the scenario (index of the step).
    Errored(usize),
    /// The scenario needs configuration the run does not have.
    Ignored(String),
}

/// A scenario's steps and verdict.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    /// The steps that ran.
    pub steps: Vec<StepOutcome>,
    /// The verdict.
    pub verdict: Verdict,
    /// The harness's own panic, if it panicked.
    pub panic: Option<String>,
}

/// Records every (context, UserID) a scenario may have created, before the request goes out.
#[derive(Debug, Default, Clone)]
pub struct CleanupLedger {
    entries: Arc<Mutex<Vec<(String, String)>>>,
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

    /// Records (context, UserID), on disk first when there is a ledger file.
    fn record(&self, context: &str, uid: &str) -> Result<(), String> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = (context.to_string(), uid.to_string());
        if entries.contains(&entry) {
            return Ok(());
        }
        if let Some(file) = &self.file {
            file.record(context, uid)
                .map_err(|error| error.to_string())?;
        }
        entries.push(entry);
        Ok(())
    }

    /// Records a leftover found by listing, so [`CleanupLedger::clean`] deletes it.
    pub fn record_for_sweep(&self, context: &str, uid: &str) {
        // The record is already on the target; the file, if any, is not needed to find it.
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = (context.to_string(), uid.to_string());
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }

    /// Every recorded (context, UserID), in order.
    pub fn entries(&self) -> Vec<(String, String)> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Deletes every recorded record that belongs to this run, with the configured credentials.
    pub async fn clean(&self, client: &Client, identity: &RunIdentity) -> Vec<String> {
        let target = client.target();
        let mut problems = Vec::new();
        for (context, uid) in self.entries() {
            if !uid.starts_with(&identity.uid_prefix()) {
                continue;
            }
            let body = target.auth_body(&context);
            let exchange = client
                .send("DELETE", &format!("{COLLECTION_PATH}/{uid}"), Some(body))
                .await;
            if let Err(error) = exchange.response {
                problems.push(format!("cleanup of {uid} in {context}: {error}"));
            }
        }
        problems
    }
}

/// Which configuration a scenario needs that the target may lack.
pub fn missing_configuration(loaded: &LoadedScenario, client: &Client) -> Option<String> {
    let target = client.target();
    let needs = |variant: &AuthVariant, variable: Variable| {
        loaded.scenario.steps.iter().any(|step| {
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
    let mut steps = Vec::new();
    for (index, step) in loaded.scenario.steps.iter().enumerate() {
        let level = loaded.scenario.step_level(step);
        let outcome = run_step(
            index,
            step,
            level,
            loaded.patterns[index].as_ref(),
            &mut bindings,
            ledger,
        )
        .await;
        let problem = outcome.problem.is_some();
        let met = outcome.met();
        steps.push(outcome);
        if problem && level.is_binding() {
            return ScenarioOutcome {
                steps,
                verdict: Verdict::Errored(index),
                panic: None,
            };
        }
        if !met && level.is_binding() {
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

/// The UserID a mutating request addresses, from its path or its body.
fn addressed_uids(path: &str, body: Option<&str>) -> Vec<String> {
    let mut uids = Vec::new();
    if let Some(rest) = path
        .strip_prefix(COLLECTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        uids.push(rest.split(['?', '#']).next().unwrap_or(rest).to_string());
    }
    if let Some(Value::Object(map)) = body.and_then(|text| serde_json::from_str::<Value>(text).ok())
    {
        if let Some(Value::String(uid)) = map.get("UserID") {
            uids.push(uid.clone());
        }
    }
    uids
}

async fn run_step(
    index: usize,
    step: &Step,
    level: Level,
    pattern: Option<&Pattern>,
    bindings: &mut ScenarioBindings<'_>,
    ledger: &CleanupLedger,
) -> StepOutcome {
    let mut outcome = StepOutcome {
        index,
        name: step.name.clone(),
        level,
        exchanges: Vec::new(),
        expected_status: step.expect.status,
        expected_json: step.expect.json,
        expected_body: None,
        mismatches: Vec::new(),
        problem: None,
    };
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
    if step.request.method.is_mutating() {
        let context = auth
            .as_ref()
            .and_then(SentAuth::context_for_ledger)
            .unwrap_or_else(|| client.target().context.clone());
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
        for uid in &raw_uids {
            if let Err(error) = ledger.record(&context, uid) {
                outcome.problem = Some(format!("refused to send: {error}"));
                return outcome;
            }
        }
        for (path, body) in &requests {
            // Safety: the harness never modifies a record it did not create.
            for uid in addressed_uids(path, body.as_deref()) {
                if !uid.starts_with(&prefix) {
                    outcome.problem = Some(format!(
                        "refused to send {} {path}: UserID {uid:?} does not carry this run's prefix {prefix:?}",
                        step.request.method.as_str()
                    ));
                    return outcome;
                }
                if let Err(error) = ledger.record(&context, &uid) {
                    outcome.problem = Some(format!("refused to send: {error}"));
                    return outcome;
                }
            }
        }
    }
    let method = step.request.method.as_str();
    outcome.exchanges = if copies == 1 {
        let (path, body) = requests.pop().expect("one request");
        vec![client.send(method, &path, body).await]
    } else {
        let mut tasks = tokio::task::JoinSet::new();
        for (path, body) in requests {
            let client = client.clone();
            tasks.spawn(async move { client.send(method, &path, body).await });
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
        exchanges
    };
    let (username, contextname) = auth
        .as_ref()
        .map(|auth| (auth.username_text(), auth.contextname_text()))
        .unwrap_or_default();
    let context = MatchContext {
        bindings: &*bindings,
        username: &username,
        contextname: &contextname,
    };
    outcome.expected_body = pattern.map(|pattern| pattern.render(&context));
    let mut first_json = None;
    for exchange in &outcome.exchanges {
        let response = match &exchange.response {
            Ok(response) => response,
            Err(error) => {
                outcome.problem = Some(format!("no response: {error}"));
                continue;
            }
        };
        let found = check_response(response, step, pattern, &context);
        for mismatch in found {
            if !outcome.mismatches.contains(&mismatch) {
                outcome.mismatches.push(mismatch);
            }
        }
        if first_json.is_none() {
            first_json = response.json.clone();
        }
    }
    if outcome.problem.is_some() || !outcome.mismatches.is_empty() {
        return outcome;
    }
    for (name, pointer) in &step.capture {
        match first_json.as_ref().and_then(|json| json.pointer(pointer)) {
            Some(value) => {
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

/// Status, content type, JSON-ness and body pattern of one response.
fn check_response(
    response: &ReceivedResponse,
    step: &Step,
    pattern: Option<&Pattern>,
    context: &MatchContext<'_>,
) -> Vec<Mismatch> {
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
    if let (Some(pattern), Some(json)) = (pattern, response.json.as_ref()) {
        found.extend(pattern.mismatches(Some(json), context));
    }
    found
}
