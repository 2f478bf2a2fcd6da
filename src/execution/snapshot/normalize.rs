//! Normalization: a step's responses with everything that changes from run
//! to run (or from server to server where the page is silent about it)
//! replaced by stable placeholders.
//!
//! A normalized step is one JSON document:
//!
//! ```json
//! {"status": 200, "content_type": "application/json", "body": {..}}
//! ```
//!
//! (`body_text` instead of `body` when the body is not JSON; `{"no_response":
//! true}` when nothing came back). A concurrent step is
//! `{"concurrent": N, "responses": [{"copies": K, "status": ..}, ..]}`: the
//! responses as a sorted multiset, so arrival order does not matter.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::execution::scenario_run::RunIdentity;
use crate::execution::target::Target;
use crate::outcome::exchange::{ReceivedResponse, TransportError};
use crate::outcome::redact::Redactor;
use crate::outcome::scenario::ScenarioOutcome;
pub use crate::outcome::snapshot::NormalizedStep;
use crate::spec::contract::MESSAGE_INVALID_CONTEXT_PREFIX;
use crate::spec::load::LoadedScenario;
use crate::spec::scenario::{AuthVariant, Step};
use crate::spec::template::{templates_in, Template, Variable};

/// Longest step slug in a snapshot file name.
const MAX_SLUG: usize = 60;

/// `<scenario name with :: → __>__<NN>_<step slug>.snap`, NN counting from 01.
///
/// Explicit, never derived from the calling function: trials run in parallel.
pub fn snapshot_file_name(scenario: &str, index: usize, step_name: &str) -> String {
    let mut slug = String::new();
    for c in step_name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let mut slug = slug.trim_matches('_').to_string();
    slug.truncate(MAX_SLUG);
    let slug = slug.trim_end_matches('_');
    let slug = if slug.is_empty() { "step" } else { slug };
    format!(
        "{}__{:02}_{slug}.snap",
        scenario.replace("::", "__"),
        index + 1
    )
}

/// What varies between runs of one scenario, and the placeholders that replace it.
#[derive(Debug, Clone)]
pub struct Normalizer {
    /// `zzconf-<run>-<tag>-`: every UserID this scenario creates starts with it.
    uid_prefix: String,
    /// The scenario's `${uid:LABEL}` labels, longest first.
    labels: Vec<String>,
    /// Run-specific texts (invalid context, invalid token) → placeholder, replaced anywhere.
    substitutions: Vec<(String, String)>,
    /// Configured names (username, contexts) → placeholder, replaced as whole strings
    /// and inside the documented error messages.
    names: Vec<(String, String)>,
    /// Keeps the api token out ("never in output": by value and by the `api_token` key).
    redactor: Redactor,
}

impl Normalizer {
    /// The normalizer of scenario `loaded` run under `tag` by `identity` against `target`.
    pub fn new(
        loaded: &LoadedScenario,
        tag: &str,
        identity: &RunIdentity,
        target: &Target,
    ) -> Normalizer {
        let mut labels: Vec<String> = scenario_labels(loaded);
        labels.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        labels.dedup();
        let mut names = vec![(target.username.clone(), "<username>".to_string())];
        names.push((target.context.clone(), "<context>".to_string()));
        if let Some(second) = &target.second_context {
            names.push((second.clone(), "<second_context>".to_string()));
        }
        if let Some(forbidden) = &target.forbidden_context {
            names.push((forbidden.clone(), "<forbidden_context>".to_string()));
        }
        if let Some(other) = &target.other {
            names.push((other.username.clone(), "<other_username>".to_string()));
            names.push((other.context.clone(), "<other_context>".to_string()));
        }
        Normalizer {
            uid_prefix: format!("{}{tag}-", identity.uid_prefix()),
            labels,
            substitutions: vec![
                (identity.invalid_context(), "<invalid_context>".to_string()),
                (identity.invalid_token(), "<invalid_token>".to_string()),
            ],
            names,
            redactor: target.redactor(),
        }
    }

    /// Every step that ran, normalized; ids are numbered by first appearance
    /// across the steps. A step skipped by its `only_if` (or never sent) has
    /// no snapshot: there is nothing to compare.
    pub fn scenario(
        &self,
        loaded: &LoadedScenario,
        outcome: &ScenarioOutcome,
    ) -> Vec<NormalizedStep> {
        let mut ids = IdPlaceholders::default();
        outcome
            .steps
            .iter()
            .filter_map(|step_outcome| {
                let step = loaded.scenario.steps.get(step_outcome.index)?;
                let responses: Vec<&Result<ReceivedResponse, TransportError>> = step_outcome
                    .exchanges
                    .iter()
                    .map(|exchange| &exchange.response)
                    .collect();
                if responses.is_empty() {
                    // Never sent (the request could not be built): nothing to compare.
                    return None;
                }
                Some(NormalizedStep {
                    index: step_outcome.index,
                    name: step.name.clone(),
                    level: step_outcome.level,
                    answer: step.expect.answer,
                    file_name: snapshot_file_name(
                        &loaded.scenario.name,
                        step_outcome.index,
                        &step.name,
                    ),
                    request: format!("{} {}", step.request.method.as_str(), step.request.path),
                    document: self.step_document(step, &responses, &mut ids),
                })
            })
            .collect()
    }

    fn step_document(
        &self,
        step: &Step,
        responses: &[&Result<ReceivedResponse, TransportError>],
        ids: &mut IdPlaceholders,
    ) -> Value {
        if step.request.concurrent.is_none() && responses.len() == 1 {
            let mut document = self.response_document(responses[0]);
            ids.assign(&mut document);
            return document;
        }
        // A sorted multiset: order by the document with ids masked, so the
        // placeholders do not depend on which request arrived first.
        let mut documents: Vec<(String, Value)> = responses
            .iter()
            .map(|response| {
                let document = self.response_document(response);
                (masked_ids(&document).to_string(), document)
            })
            .collect();
        documents.sort_by(|a, b| a.0.cmp(&b.0));
        let mut groups: Vec<(usize, Value)> = Vec::new();
        for (_, mut document) in documents {
            ids.assign(&mut document);
            match groups.last_mut() {
                Some((copies, last)) if *last == document => *copies += 1,
                _ => groups.push((1, document)),
            }
        }
        let responses: Vec<Value> = groups
            .into_iter()
            .map(|(copies, document)| {
                let mut group = Map::new();
                group.insert("copies".to_string(), Value::from(copies));
                if let Value::Object(fields) = document {
                    group.extend(fields);
                }
                Value::Object(group)
            })
            .collect();
        json!({ "concurrent": responses_len(step, responses.len()), "responses": responses })
    }

    /// One response as a document, ids not yet replaced.
    fn response_document(&self, response: &Result<ReceivedResponse, TransportError>) -> Value {
        let response = match response {
            Ok(response) => response,
            Err(_) => return json!({ "no_response": true }),
        };
        let content_type = response
            .content_type
            .as_deref()
            .map(|value| {
                Value::String(
                    value
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase(),
                )
            })
            .unwrap_or(Value::Null);
        let mut document = Map::new();
        document.insert("status".to_string(), Value::from(response.status));
        document.insert("content_type".to_string(), content_type);
        match &response.json {
            Some(body) => {
                document.insert("body".to_string(), self.body(body));
            }
            None => {
                document.insert(
                    "body_text".to_string(),
                    Value::String(self.text(&response.body)),
                );
            }
        }
        Value::Object(document)
    }

    /// A response body: token redacted, a list filtered to this scenario's
    /// records and sorted by UserID, run-specific strings replaced.
    pub fn body(&self, body: &Value) -> Value {
        let body = self.redactor.json(body);
        match body {
            Value::Array(items) => {
                let mut kept: Vec<Value> = items
                    .into_iter()
                    .filter(|item| self.is_own(item))
                    .map(|item| self.json(&item))
                    .collect();
                kept.sort_by_cached_key(|item| {
                    (
                        item.get("UserID")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        masked_ids(item).to_string(),
                    )
                });
                Value::Array(kept)
            }
            other => self.json(&other),
        }
    }

    /// Whether a list element belongs in this scenario's snapshot: not an
    /// object with a UserID, or one whose UserID this scenario created.
    fn is_own(&self, item: &Value) -> bool {
        match item {
            Value::Object(map) => match map.get("UserID") {
                Some(Value::String(uid)) => uid.starts_with(&self.uid_prefix),
                // Foreign records (or ones without a UserID) vary with what else runs.
                _ => false,
            },
            _ => true,
        }
    }

    /// Every string (keys too) normalized with [`Normalizer::text`].
    pub fn json(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.json(item)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (self.text(key), self.json(item)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// One string with the token redacted and run-specific parts replaced:
    /// `zzconf-<run>-<tag>-a` → `<uid:a>`, the invalid context and token →
    /// `<invalid_context>`, `<invalid_token>`, and the configured username and
    /// contexts (whole strings, or inside the documented error messages) →
    /// `<username>`, `<context>`, `<second_context>`, `<forbidden_context>`.
    pub fn text(&self, text: &str) -> String {
        let mut out = self.redactor.text(text);
        if out.contains(&self.uid_prefix) {
            for label in &self.labels {
                out = out.replace(
                    &format!("{}{label}", self.uid_prefix),
                    &format!("<uid:{label}>"),
                );
            }
        }
        for (value, placeholder) in &self.substitutions {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), placeholder);
            }
        }
        self.names_in_messages(out)
    }

    fn name(&self, text: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(value, _)| value == text)
            .map(|(_, placeholder)| placeholder.as_str())
    }

    /// Configured names as whole strings, or in the documented messages
    /// ("Error Handling › Invalid Context Name", "Unauthorized Context Access").
    fn names_in_messages(&self, text: String) -> String {
        if let Some(placeholder) = self.name(&text) {
            return placeholder.to_string();
        }
        if let Some(context) = text.strip_prefix(MESSAGE_INVALID_CONTEXT_PREFIX) {
            if let Some(placeholder) = self.name(context) {
                return format!("{MESSAGE_INVALID_CONTEXT_PREFIX}{placeholder}");
            }
        }
        const USER: &str = "The user (";
        const ACCESS: &str = ") is not allowed to access the context ";
        if let Some((username, context)) = text
            .strip_prefix(USER)
            .and_then(|rest| rest.split_once(ACCESS))
        {
            let username = self.name(username).unwrap_or(username);
            let context = self.name(context).unwrap_or(context);
            return format!("{USER}{username}{ACCESS}{context}");
        }
        text
    }
}

/// How many copies a step sent.
fn responses_len(step: &Step, received: usize) -> usize {
    step.request
        .concurrent
        .map(|copies| copies as usize)
        .unwrap_or(received)
}

/// Every `${uid:LABEL}` label a scenario names (with repeats).
pub fn scenario_labels(loaded: &LoadedScenario) -> Vec<String> {
    let mut templates = Vec::new();
    for step in &loaded.scenario.steps {
        templates.extend(Template::parse(&step.request.path).ok());
        if let Some(body) = &step.request.body {
            templates.extend(templates_in(body).unwrap_or_default());
        }
        if let Some(raw) = &step.request.raw_body {
            templates.extend(Template::parse(raw).ok());
        }
        if let AuthVariant::Explicit(explicit) = &step.request.auth {
            templates.extend(
                explicit
                    .values()
                    .filter_map(|value| Template::parse(value).ok()),
            );
        }
        if let Some(expected) = &step.expect.body {
            templates.extend(templates_in(expected).unwrap_or_default());
        }
    }
    templates
        .iter()
        .flat_map(|template| template.variables())
        .filter_map(|variable| match variable {
            Variable::Uid(label) => Some(label.clone()),
            _ => None,
        })
        .collect()
}

/// `document` with every `id` member replaced by `<id>`, for ordering.
fn masked_ids(document: &Value) -> Value {
    match document {
        Value::Array(items) => Value::Array(items.iter().map(masked_ids).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let item = if key == "id" {
                        Value::String("<id>".to_string())
                    } else {
                        masked_ids(item)
                    };
                    (key.clone(), item)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Server-assigned ids → `<id:N>`, numbered by first appearance within a scenario.
#[derive(Debug, Default)]
struct IdPlaceholders {
    seen: HashMap<String, usize>,
}

impl IdPlaceholders {
    fn placeholder(&mut self, key: String) -> usize {
        let next = self.seen.len() + 1;
        *self.seen.entry(key).or_insert(next)
    }

    /// Replaces every `id` member (a number, or a string: a JSON type the page does not allow) in place.
    fn assign(&mut self, document: &mut Value) {
        match document {
            Value::Array(items) => items.iter_mut().for_each(|item| self.assign(item)),
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    match item {
                        Value::Number(number) if key == "id" => {
                            let n = self.placeholder(number.to_string());
                            *item = Value::String(format!("<id:{n}>"));
                        }
                        Value::String(text) if key == "id" => {
                            let n = self.placeholder(text.clone());
                            *item = Value::String(format!("<id:{n}> (a string)"));
                        }
                        other => self.assign(other),
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_explicit_and_slugged() {
        assert_eq!(
            snapshot_file_name(
                "crud::create_all_fields",
                0,
                "create a customer: all fields!"
            ),
            "crud__create_all_fields__01_create_a_customer_all_fields.snap"
        );
        assert_eq!(snapshot_file_name("a::b", 11, "—"), "a__b__12_step.snap");
    }

    #[test]
    fn ids_are_numbered_by_first_appearance() {
        let mut ids = IdPlaceholders::default();
        let mut first = json!({"id": 1007, "UserID": "x"});
        let mut list = json!([{"id": 1014}, {"id": 1007}, {"id": "1007"}]);
        ids.assign(&mut first);
        ids.assign(&mut list);
        assert_eq!(first["id"], "<id:1>");
        assert_eq!(
            list,
            json!([{"id": "<id:2>"}, {"id": "<id:1>"}, {"id": "<id:1> (a string)"}])
        );
    }

    #[test]
    fn both_tokens_and_the_other_users_names_are_normalized_away() {
        use crate::execution::target::{ApiToken, OtherUser};
        let loaded = crate::spec::load::parse(
            "t.json",
            r#"{"name":"a","level":"observed","citation":"c","steps":[{"name":"s","request":{"method":"GET","path":"/api/ipdrcustomers"}}]}"#,
        )
        .unwrap();
        let target = Target {
            base_url: "http://127.0.0.1:1".into(),
            api_token: ApiToken::new("first-secret"),
            username: "user".into(),
            context: "default".into(),
            second_context: None,
            forbidden_context: None,
            other: Some(OtherUser {
                username: "operator".into(),
                api_token: ApiToken::new("second-secret"),
                context: "ops".into(),
            }),
            timeout: std::time::Duration::from_secs(1),
        };
        let identity = RunIdentity {
            run_id: "1a2b3c4d".into(),
        };
        let normalizer = Normalizer::new(&loaded, "000", &identity, &target);
        assert_eq!(
            normalizer.body(&json!({"echo": "second-secret and first-secret", "api_token": "second-secret", "who": "operator", "context": "ops"})),
            json!({"echo": "<redacted> and <redacted>", "api_token": "<redacted>", "who": "<other_username>", "context": "<other_context>"})
        );
    }
}
