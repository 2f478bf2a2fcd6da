//! Minimal reproductions: the shrunk sequence as numbered steps and curl
//! commands, and as a scenario file in the spine's format that fails the
//! same way (checked before it is offered).
//!
//! The scenario keeps the checks the page backs for every conformant
//! server: a step the page lets a server refuse (a duplicate create, a PUT
//! or PATCH of an unknown UserID, a value it need not accept, a request
//! with several problems) expects `"answer": "success_or_refusal"` or
//! `"refusal"`; the records such a step touches are then only checked for
//! what holds on every branch (later steps on them become `observed`); the
//! failing step keeps the check that failed. Tampered auth is written as
//! `{"tampered": {...}}`, never as the value sent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::execution::client::Client;
use crate::execution::scenario_run::HARNESS_PREFIX;
use crate::execution::scenario_run::{run_scenario, CleanupLedger, RunIdentity, Verdict};
use crate::execution::target::Target;
use crate::reference::{self, Flavour, ServerConfig, UsersFixture};
use crate::report::curl::curl_command;
use crate::report::redact::Redactor;
use crate::spec::contract::{customer_path, DocumentedError, COLLECTION_PATH};
use crate::spec::load::{parse, LoadedScenario};
use crate::spec::model::{
    self, abbreviate, operation_tag, Action, Auth, Context, Expectation, Observed, Request, Scope,
    Violation,
};
use crate::spec::pattern::{MatchContext, Pattern};
use crate::spec::scenario::{
    Answer, AuthVariant, Expect, ExplicitAuth, Level, Method, Scenario, Step as ScenarioStep,
    TamperedAuth,
};
use crate::spec::tamper::Tamper;
use crate::spec::template::{Bindings, Variable};

use super::concurrent::HistoryRun;
use super::exchange::Step;
use super::generate::NO_USER_ID_LABEL;
use super::sequence::{CaseFailure, CaseRun};

/// The near misses of `token` that tampered requests send (a prefix, one character changed,
/// the case swapped: strings that are not the token but show nearly all of it), each with a
/// bash expression that rebuilds it from `$IPDR_API_TOKEN`. The padded and extended tokens
/// hold the token itself, which the usual redaction replaces.
fn token_near_misses(token: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = token.chars().collect();
    let middle = chars.len() / 2;
    [Tamper::Prefix, Tamper::OneCharChanged, Tamper::CaseChanged]
        .into_iter()
        .filter_map(|tamper| {
            let Some(Some(Value::String(near))) = tamper.apply(token) else {
                return None;
            };
            let expression = match tamper {
                Tamper::Prefix => "${IPDR_API_TOKEN%?}".to_string(),
                Tamper::OneCharChanged => format!(
                    "${{IPDR_API_TOKEN:0:{middle}}}{}${{IPDR_API_TOKEN:{}}}",
                    near.chars().nth(middle).unwrap_or('x'),
                    middle + 1
                ),
                _ => "${IPDR_API_TOKEN~~}".to_string(),
            };
            Some((near, expression))
        })
        .collect()
}

/// `text` with every near miss of `token` replaced, for what is neither a curl command nor the token.
fn redact_near_misses(text: String, token: &str) -> String {
    token_near_misses(token)
        .into_iter()
        .fold(text, |text, (near, _)| {
            text.replace(&near, "<a near miss of the API token>")
        })
}

/// The curl command for `request`, the token and its near misses spliced in from `$IPDR_API_TOKEN`.
fn curl_line(request: &crate::execution::client::SentRequest, token: &str) -> String {
    let mut command = curl_command(request, token);
    if !token.is_empty() {
        for (near, expression) in token_near_misses(token) {
            // Inside the single-quoted body: close the quote, splice the expansion, reopen.
            command = command.replace(&near, &format!("'\"{expression}\"'"));
        }
    }
    command
}

/// One line per step: number, request, answer; then its curl command.
fn step_lines(out: &mut String, number: String, step: &Step, note: &str, token: &str) {
    let answer = match &step.exchange.response {
        Ok(response) => format!(
            "HTTP {} {}",
            response.status,
            response
                .json
                .as_ref()
                .map(abbreviate)
                .unwrap_or_else(|| "(not JSON)".to_string())
        ),
        Err(error) => format!("no response: {error}"),
    };
    let what = if step.final_check {
        " (the list after the sequence)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  {number}. {}{what} → {answer}{note}",
        step.request.describe()
    );
    let _ = writeln!(out, "     {}", curl_line(&step.exchange.request, token));
}

/// The shrunk sequence, the violation and how to replay it, token redacted.
pub fn render_sequence_failure(
    run: &CaseRun,
    header: &str,
    replay: &str,
    scenario_note: &str,
    token: &str,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let failing = run.failure.as_ref().map(|(index, _)| *index);
    match run.failure.as_ref().map(|(_, failure)| failure) {
        Some(CaseFailure::Violation(violation)) => {
            let _ = writeln!(out, "{violation}");
        }
        Some(CaseFailure::Problem(problem)) => {
            let _ = writeln!(out, "could not be checked: {problem}");
        }
        None => {}
    }
    let _ = writeln!(
        out,
        "\nminimal sequence ({} request(s); UserIDs as sent in the last replay, the token as $IPDR_API_TOKEN):",
        run.steps.len()
    );
    for (index, step) in run.steps.iter().enumerate() {
        let note = if Some(index) == failing {
            "   ← fails here"
        } else {
            ""
        };
        step_lines(&mut out, (index + 1).to_string(), step, note, token);
    }
    if !scenario_note.is_empty() {
        let _ = writeln!(out, "\n{scenario_note}");
    }
    let _ = writeln!(out, "replay: {replay}");
    redact_near_misses(Redactor::new(token).text(out.trim_end()), token)
}

/// The concurrent history, client by client, with the violation, token redacted.
pub fn render_history_failure(run: &HistoryRun, header: &str, replay: &str, token: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    match &run.failure {
        Some(CaseFailure::Violation(violation)) => {
            let _ = writeln!(out, "{violation}");
        }
        Some(CaseFailure::Problem(problem)) => {
            let _ = writeln!(out, "could not be checked: {problem}");
        }
        None => {}
    }
    let _ = writeln!(
        out,
        "\nminimal history: {} clients started together, each sending its requests in order (the token as $IPDR_API_TOKEN):",
        run.clients.len()
    );
    let letters = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];
    for (client, steps) in run.clients.iter().enumerate() {
        for (index, timed) in steps.iter().enumerate() {
            let letter = letters.get(client).copied().unwrap_or('?');
            step_lines(
                &mut out,
                format!("{letter}{}", index + 1),
                &timed.step,
                "",
                token,
            );
        }
    }
    for (index, step) in run.finals.iter().enumerate() {
        step_lines(&mut out, format!("then {}", index + 1), step, "", token);
    }
    let _ = writeln!(
        out,
        "\nA concurrent history is not written as a scenario: the scenario format sends steps one after another \
         (only copies of one request go out at once). To reproduce by hand, send each client's curl commands \
         from its own shell at the same moment."
    );
    let _ = writeln!(out, "replay: {replay}");
    redact_near_misses(Redactor::new(token).text(out.trim_end()), token)
}

/// Resolves nothing: the concrete patterns the writer evaluates hold no variables.
struct NoVariables;

impl Bindings for NoVariables {
    fn resolve(&self, variable: &Variable) -> Result<Value, String> {
        Err(format!("{variable:?} is not bound here"))
    }
}

/// Builds the scenario for a failed case.
struct ScenarioWriter<'a> {
    scope: &'a Scope,
    /// Records whose state depends on an outcome the page leaves open.
    uncertain: BTreeSet<(Context, String)>,
    /// Captured id variable per record.
    captured: BTreeMap<(Context, String), String>,
}

impl ScenarioWriter<'_> {
    /// `${uid:LABEL}` for one of the case's own UserIDs, the text itself otherwise. A
    /// look-alike keeps what a label cannot hold after it: `…-u%30` (a literal `%30`) is
    /// `${uid:u}%30`, which the engine resolves to the same text because `${uid:u}0` is
    /// `${uid:u0}`.
    fn template(&self, text: &str) -> String {
        self.template_with(text, str::to_string)
    }

    /// The path segment of `user_id` ([`crate::spec::contract::path_segment`]) with the case's prefix as
    /// `${uid:...}`: `…-u%30` becomes `${uid:u}%2530`.
    fn path_template(&self, user_id: &str) -> String {
        self.template_with(user_id, crate::spec::contract::path_segment)
    }

    /// `${uid:LABEL}` followed by `rest(what follows the label)`; `rest(text)` for a text
    /// that is not one of the case's own UserIDs.
    fn template_with(&self, text: &str, rest: impl Fn(&str) -> String) -> String {
        let Some(suffix) = text.strip_prefix(&self.scope.own_prefix) else {
            return rest(text);
        };
        let label_end = suffix
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(suffix.len());
        match suffix.split_at(label_end) {
            // Nothing a label can hold: the generator never makes such a UserID.
            ("", _) => rest(text),
            (label, tail) => format!("${{uid:{label}}}{}", rest(tail)),
        }
    }

    /// A concrete pattern or body made portable: own UserIDs as variables, ids as captures.
    fn portable(&self, value: &Value, context: Context) -> Value {
        match value {
            Value::String(text) => Value::String(self.template(text)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.portable(item, context))
                    .collect(),
            ),
            Value::Object(map) => {
                let user_id = map.get("UserID").and_then(Value::as_str);
                let mut out = Map::new();
                for (key, item) in map {
                    let item = match (key.as_str(), user_id) {
                        ("id", Some(user_id)) if item.is_number() => {
                            match self.captured.get(&(context, user_id.to_string())) {
                                Some(variable) => Value::String(format!("${{{variable}}}")),
                                None => json!({"$any": "integer"}),
                            }
                        }
                        _ => self.portable(item, context),
                    };
                    out.insert(key.clone(), item);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn capture_name(&self, context: Context, user_id: &str) -> String {
        // A look-alike's label may hold `%`, which a variable name may not.
        let label: String = user_id
            .strip_prefix(&self.scope.own_prefix)
            .unwrap_or("record")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        match context {
            Context::Primary => format!("id_{label}"),
            Context::Second => format!("id_second_{label}"),
        }
    }

    /// The first list check the observed list fails, as a concrete pattern.
    fn failing_list_check(
        &self,
        records: &BTreeMap<String, model::Record>,
        observed: &Observed,
        auth: Auth,
    ) -> Option<Value> {
        let mut candidates = vec![json!({"$each": {"$any": "object"}})];
        let listed_own: BTreeSet<String> = observed
            .body
            .as_ref()
            .and_then(Value::as_array)
            .map(|elements| {
                elements
                    .iter()
                    .filter_map(|element| element.get("UserID").and_then(Value::as_str))
                    .filter(|user_id| user_id.starts_with(&self.scope.own_prefix))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for user_id in listed_own
            .iter()
            .filter(|user_id| !records.contains_key(*user_id))
        {
            candidates.push(json!({"$lacks": {"UserID": user_id}}));
        }
        let marker = format!("{}{NO_USER_ID_LABEL}", self.scope.own_prefix);
        candidates.push(json!({"$lacks": {"Name": marker}}));
        let context = auth.context().unwrap_or(Context::Primary);
        for user_id in records.keys() {
            candidates.push(json!({"$count": {"of": {"UserID": user_id}, "is": 1}}));
        }
        for (user_id, record) in records {
            if self.uncertain.contains(&(context, user_id.clone())) {
                continue;
            }
            let shown = model::Shown {
                user_id: user_id.clone(),
                fields: record.fields.clone(),
                id: Some(record.id),
                kept: Vec::new(),
            };
            candidates.push(json!({"$contains": shown.pattern(Some(json!(record.id)))}));
        }
        let body = observed.body.as_ref()?;
        let match_context = MatchContext {
            bindings: &NoVariables,
            username: &self.scope.username,
            contextname: &self.scope.context,
        };
        candidates.into_iter().find(|candidate| {
            Pattern::parse(candidate)
                .map(|pattern| !pattern.is_match(Some(body), &match_context))
                .unwrap_or(false)
        })
    }

    fn step(&mut self, index: usize, run: &CaseRun, violation: Option<&Violation>) -> ScenarioStep {
        let step = &run.steps[index];
        let state = &run.states[index];
        let request = &step.request;
        let observed = step.observed();
        let failing = violation.is_some();
        let context = request.auth.context().unwrap_or(Context::Primary);
        let expectation = model::expect(self.scope, state, request);
        let user_id = request.user_id().map(str::to_string);
        let key = user_id.clone().map(|user_id| (context, user_id));
        // Whether another conformant server may hold another state for this UserID (in any
        // context: whether it exists in the other one decides whether a create may be refused).
        let is_uncertain = user_id.as_ref().is_some_and(|user_id| {
            self.uncertain
                .iter()
                .any(|(_, uncertain)| uncertain == user_id)
        });
        let binding = |level: Level| violation.map_or(level, |violation| violation.level);
        let observed_step = || Expect {
            status: observed.as_ref().map_or(200, |observed| observed.status),
            json: observed
                .as_ref()
                .is_some_and(|observed| observed.json_content_type && observed.body.is_some()),
            answer: Answer::AsGiven,
            body: None,
        };
        let success_or_refusal = |body: Value| Expect {
            answer: Answer::SuccessOrRefusal,
            body: Some(body),
            ..Expect::default()
        };
        let mut capture = BTreeMap::new();
        let (level, expect) = match &expectation {
            Expectation::Refused {
                auth_errors,
                other_problem,
                ..
            } => {
                let level = binding(if auth_errors.is_empty() {
                    Level::Inferred
                } else {
                    Level::Documented
                });
                // On another server this UserID may exist or not, and with it the other problem.
                let any_refusal =
                    other_problem.is_some() || auth_errors.is_empty() || (is_uncertain && !failing);
                let body = match auth_errors.as_slice() {
                    _ if any_refusal => None,
                    [error] => Some(json!({ "$error": error_name(*error) })),
                    several => Some(json!({
                        "$one_of": several
                            .iter()
                            .map(|error| json!({ "$error": error_name(*error) }))
                            .collect::<Vec<_>>()
                    })),
                };
                let answer = if any_refusal {
                    Answer::Refusal
                } else {
                    Answer::AsGiven
                };
                (
                    level,
                    Expect {
                        answer,
                        body,
                        ..Expect::default()
                    },
                )
            }
            Expectation::Listing(_) if failing => {
                let check = observed.as_ref().and_then(|observed| {
                    self.failing_list_check(state.records(context), observed, request.auth)
                });
                (
                    binding(Level::Inferred),
                    Expect {
                        body: check.map(|check| self.portable(&check, context)),
                        ..Expect::default()
                    },
                )
            }
            Expectation::Listing(_) => (
                Level::Documented,
                Expect {
                    body: Some(json!({"$each": {"$any": "object"}})),
                    ..Expect::default()
                },
            ),
            Expectation::Customer { .. } if !failing && is_uncertain => {
                // Another server may have taken the other branch earlier.
                (Level::Observed, observed_step())
            }
            Expectation::Customer {
                shown,
                may_refuse: Some(_),
                ..
            } if !failing => {
                // Accepted here; another server may refuse it (and then holds nothing new).
                if let Some(key) = key.clone() {
                    self.uncertain.insert(key);
                }
                let id = shown.id.map(|id| json!(id));
                (
                    Level::Inferred,
                    success_or_refusal(self.portable(&shown.pattern(id), context)),
                )
            }
            Expectation::Customer { shown, removes, .. } => {
                let id = shown.id.map(|id| json!(id));
                let body = self.portable(&shown.pattern(id), context);
                if !removes && !failing {
                    let name = self.capture_name(context, &shown.user_id);
                    capture.insert(name.clone(), "/id".to_string());
                    self.captured.insert((context, shown.user_id.clone()), name);
                }
                if *removes {
                    self.captured.remove(&(context, shown.user_id.clone()));
                }
                (
                    binding(Level::Inferred),
                    Expect {
                        body: Some(body),
                        ..Expect::default()
                    },
                )
            }
            Expectation::Unspecified { applied, .. }
                if !applied.is_empty() && (failing || !is_uncertain) =>
            {
                // A refusal of any kind, or a success that shows one of the allowed objects.
                if !failing {
                    if let Some(key) = key.clone() {
                        self.uncertain.insert(key);
                    }
                }
                let patterns: Vec<Value> = applied
                    .iter()
                    .map(|shown| shown.pattern(shown.id.map(|id| json!(id))))
                    .collect();
                let body = match patterns.as_slice() {
                    [one] => one.clone(),
                    _ => json!({ "$one_of": patterns }),
                };
                (
                    binding(Level::Inferred),
                    success_or_refusal(self.portable(&body, context)),
                )
            }
            Expectation::Unspecified { applied, .. } => {
                if !applied.is_empty() {
                    if let Some(key) = key.clone() {
                        self.uncertain.insert(key);
                    }
                }
                // Any answer; a failing step here fails for a secret echoed, which the engine checks at every step.
                (binding(Level::Observed), observed_step())
            }
        };
        let mut body = request.fields();
        for value in body.values_mut() {
            *value = self.portable(value, context);
        }
        let path = match &request.action {
            Action::List | Action::Create { .. } => COLLECTION_PATH.to_string(),
            Action::FullUpdate { user_id, .. }
            | Action::PartialUpdate { user_id, .. }
            | Action::Delete { user_id } => customer_path(&self.path_template(user_id)),
        };
        ScenarioStep {
            name: step_name(request, step.final_check, &self.scope.own_prefix),
            level: Some(level),
            request: crate::spec::scenario::Request {
                method: method(request),
                path,
                auth: auth_variant(request.auth),
                body: (!body.is_empty()).then_some(Value::Object(body)),
                raw_body: None,
                concurrent: None,
            },
            expect,
            capture,
            outcome: None,
            only_if: None,
        }
    }
}

fn error_name(error: DocumentedError) -> &'static str {
    match error {
        DocumentedError::InvalidToken => "invalid_token",
        DocumentedError::InvalidContext => "invalid_context",
        DocumentedError::ForbiddenContext => "forbidden_context",
    }
}

fn method(request: &Request) -> Method {
    match request.action {
        Action::List => Method::Get,
        Action::Create { .. } => Method::Post,
        Action::FullUpdate { .. } => Method::Put,
        Action::PartialUpdate { .. } => Method::Patch,
        Action::Delete { .. } => Method::Delete,
    }
}

/// The scenario format's auth for `auth`: a tampered one by name, so that the file never
/// holds the token or a near miss of it.
fn auth_variant(auth: Auth) -> AuthVariant {
    match auth {
        Auth::Configured => AuthVariant::Default,
        Auth::SecondContext => AuthVariant::SecondContext,
        Auth::InvalidToken => AuthVariant::InvalidToken,
        Auth::InvalidContext => AuthVariant::InvalidContext,
        Auth::ForbiddenContext => AuthVariant::ForbiddenContext,
        Auth::InvalidTokenAndContext => AuthVariant::Explicit(ExplicitAuth {
            api_token: Some(format!("{HARNESS_PREFIX}invalid-token")),
            contextname: Some("${invalid_context}".to_string()),
            ..ExplicitAuth::default()
        }),
        Auth::Tampered(field, tamper) => AuthVariant::Tampered(TamperedAuth { field, tamper }),
        // The configured token stays the configured one; only the names are borrowed.
        Auth::OtherUsername => AuthVariant::Explicit(ExplicitAuth {
            username: Some("${other_username}".to_string()),
            ..ExplicitAuth::default()
        }),
        Auth::OtherUsernameInOtherContext => AuthVariant::Explicit(ExplicitAuth {
            username: Some("${other_username}".to_string()),
            contextname: Some("${other_context}".to_string()),
            ..ExplicitAuth::default()
        }),
    }
}

/// E.g. `PATCH u0 (Name, Address)` or `GET the list (second_context)`.
fn step_name(request: &Request, final_check: bool, own_prefix: &str) -> String {
    let target = match request.user_id() {
        Some(user_id) => user_id
            .strip_prefix(own_prefix)
            .unwrap_or(user_id)
            .to_string(),
        None if matches!(request.action, Action::List) => "the list".to_string(),
        None => "without UserID".to_string(),
    };
    let mut name = format!("{} {target}", request.operation().method());
    if let Some(values) = request.values() {
        let fields: Vec<&str> = values.keys().map(|field| field.key()).collect();
        name.push_str(&format!(" ({})", fields.join(", ")));
    }
    if request.auth != Auth::Configured {
        name.push_str(&format!(" as {}", request.auth.tag()));
    }
    if final_check {
        name.push_str(", after the sequence");
    }
    name
}

/// The scenario reproducing `run`'s violation, or None when the run failed otherwise.
pub fn scenario_for(run: &CaseRun, scope: &Scope, trial: &str, seed: u64) -> Option<Scenario> {
    let (failing, CaseFailure::Violation(violation)) = run.failure.as_ref()? else {
        return None;
    };
    let mut writer = ScenarioWriter {
        scope,
        uncertain: BTreeSet::new(),
        captured: BTreeMap::new(),
    };
    let steps: Vec<ScenarioStep> = (0..=*failing)
        .map(|index| writer.step(index, run, (index == *failing).then_some(violation)))
        .collect();
    let mut tags = vec!["property".to_string(), "regression".to_string()];
    for step in &run.steps[..=*failing] {
        let tag = operation_tag(step.request.operation()).to_string();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Some(Scenario {
        name: format!("regressions::{trial}_{seed}"),
        level: Level::Documented,
        citation: violation.citation.clone(),
        tags,
        description: Some(format!(
            "Found by property::{trial} (--seed {seed}) and shrunk to {} step(s): {}",
            steps.len(),
            violation
                .message
                .lines()
                .next()
                .unwrap_or_default()
                .replace(&scope.own_prefix, "")
        )),
        steps,
    })
}

/// Where a written scenario went and what running it showed.
#[derive(Debug, Clone)]
pub struct WrittenScenario {
    /// The file.
    pub path: PathBuf,
    /// The loaded scenario.
    pub loaded: LoadedScenario,
    /// The 0-based step it fails at against the target, if it fails.
    pub fails_at: Option<usize>,
    /// Conformant servers (embedded reference, alt flavour) it fails against, with the step.
    pub fails_on_conformant: Vec<(String, usize)>,
}

/// Why a scenario could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file or directory could not be written.
    #[error("could not write {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The scenario did not load back (a harness bug).
    #[error("the written scenario does not load: {0}")]
    Invalid(String),
}

/// Writes `scenario` into `dir`, redacted by `redactor`, and loads it back with [`parse`].
pub fn write_scenario(
    dir: &Path,
    scenario: &Scenario,
    file_stem: &str,
    redactor: &Redactor,
) -> Result<(PathBuf, LoadedScenario), WriteError> {
    let path = dir.join(format!("{file_stem}.json"));
    let io = |source| WriteError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // People move repros into specs/ and share them: never with a token in them.
    let value = redact_api_tokens(
        &redactor.json(&serde_json::to_value(scenario).expect("a scenario serialises")),
    );
    let text = serde_json::to_string_pretty(&value).expect("a scenario serialises") + "\n";
    let loaded = parse(&format!("{file_stem}.json"), &text)
        .map_err(|error| WriteError::Invalid(error.to_string()))?;
    std::fs::write(&path, text).map_err(io)?;
    Ok((path, loaded))
}

/// `value` with every `api_token` member that is not a variable (`${...}`) or
/// one of the harness's own made-up tokens replaced: by key, whatever its value.
fn redact_api_tokens(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(redact_api_tokens).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let item = match item {
                        Value::String(token)
                            if key == "api_token"
                                && !token.starts_with("${")
                                && !token.starts_with(HARNESS_PREFIX)
                                && token != crate::report::redact::REDACTED =>
                        {
                            Value::String(crate::report::redact::REDACTED.to_string())
                        }
                        other => redact_api_tokens(other),
                    };
                    (key.clone(), item)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Runs `loaded` once against `client` and cleans up; the failing step, if any.
async fn failing_step(
    loaded: &LoadedScenario,
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    tag: &str,
) -> Option<usize> {
    let outcome = run_scenario(loaded, tag, client, identity, ledger).await;
    for problem in ledger.clean(client, identity).await {
        eprintln!("warning: {problem}");
    }
    match outcome.verdict {
        Verdict::Failed(index) | Verdict::Errored(index) => Some(index),
        Verdict::Passed | Verdict::Ignored(_) => None,
    }
}

/// Runs the written scenario against the target (recording what it may create in
/// `ledger`) and against the embedded conformant servers.
pub async fn verify(
    path: PathBuf,
    loaded: LoadedScenario,
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    tag: &str,
) -> WrittenScenario {
    let fails_at = failing_step(&loaded, client, identity, ledger, tag).await;
    let mut fails_on_conformant = Vec::new();
    for flavour in [Flavour::Reference, Flavour::Alt] {
        let users = UsersFixture::builtin();
        let credentials = users.harness();
        let Ok(server) = reference::start(
            ServerConfig::new(users).with_flavour(flavour),
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        else {
            continue;
        };
        let target = Target::from_harness(credentials, server.base_url(), Duration::from_secs(10));
        if let Ok(conformant) = Client::new(target) {
            if let Some(index) = failing_step(
                &loaded,
                &conformant,
                &RunIdentity::fresh(),
                &CleanupLedger::default(),
                "r0",
            )
            .await
            {
                fails_on_conformant.push((flavour.to_string(), index));
            }
        }
        server.shutdown().await;
    }
    WrittenScenario {
        path,
        loaded,
        fails_at,
        fails_on_conformant,
    }
}

/// What to tell a person about a written scenario.
pub fn describe_written(written: &WrittenScenario, expected_step: usize) -> String {
    let path = written.path.display();
    let mut text = format!("scenario: wrote {path}");
    match written.fails_at {
        Some(index) if index == expected_step => {
            let _ = write!(
                text,
                "; run with --specs it fails at step {} like the sequence",
                index + 1
            );
        }
        Some(index) => {
            let _ = write!(
                text,
                "; run with --specs it fails at step {} (the sequence failed at step {})",
                index + 1,
                expected_step + 1
            );
        }
        None => {
            text.push_str("; run with --specs against this target it did NOT fail (the failure may depend on timing or on earlier data)");
        }
    }
    if written.fails_on_conformant.is_empty() {
        let _ = write!(
            text,
            ", and it passes against the embedded reference server and --flavour alt.\n\
             To keep it as a regression check: mv {path} specs/regressions/"
        );
    } else {
        let failing: Vec<String> = written
            .fails_on_conformant
            .iter()
            .map(|(server, index)| format!("{server} (step {})", index + 1))
            .collect();
        let _ = write!(
            text,
            ", but it also fails against conformant servers: {}. It depends on an outcome the page leaves open; \
             edit it before keeping it under specs/regressions/",
            failing.join(", ")
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::client::SentRequest;

    #[test]
    fn a_near_miss_of_the_token_is_rebuilt_by_the_shell_never_shown() {
        let token = "Qm7RzT2vXk9LpW4sNa8c";
        let near_misses = token_near_misses(token);
        assert_eq!(near_misses.len(), 3);
        for (near, expression) in &near_misses {
            let request = SentRequest {
                method: "GET".into(),
                url: "http://127.0.0.1:1/api/ipdrcustomers".into(),
                body: Some(json!({"api_token": near, "username": "user"}).to_string()),
            };
            let command = curl_line(&request, token);
            assert!(!command.contains(near.as_str()), "{command}");
            assert!(command.contains(expression.as_str()), "{command}");
            assert_eq!(
                redact_near_misses(format!("got {near}"), token),
                "got <a near miss of the API token>"
            );
            // bash rebuilds exactly the value sent.
            let Ok(output) = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s \"{expression}\""))
                .env("IPDR_API_TOKEN", token)
                .output()
            else {
                continue;
            };
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                *near,
                "{expression}"
            );
        }
    }
}
