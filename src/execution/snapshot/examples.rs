//! The OpenAPI document's examples, read from the committed `reference`
//! profile: each is a scenario step's request and the reference server's
//! recorded answer, so every example was answered by the reference server.
//!
//! The profile holds normalized answers (`<id:1>`, `<uid:a>`, `<username>`);
//! they are filled in with the vendor page's own example values, the same
//! values the request bodies get, so that request and answer agree.

use serde_json::{Map, Value};

use super::normalize::snapshot_file_name;
use super::profile::{Profile, SnapshotError, DEFAULT_PROFILE};
use crate::spec::contract::{Operation, AUTH_FIELDS, COLLECTION_PATH};
use crate::spec::load::{load_embedded, LoadError, LoadedScenario};
use crate::spec::scenario::{AuthVariant, Method};
use crate::spec::schema::OperationExample;

/// The page's example token ("Managing IPDR Customers", every curl example).
const PAGE_API_TOKEN: &str = "GiXwBWWv5g2Fs6QeaTlx";
/// The page's example username (every curl example; "Unauthorized Context Access").
const PAGE_USERNAME: &str = "user";
/// The page's example context (every curl example).
const PAGE_CONTEXT: &str = "default";
/// The context of the page's "Invalid Context Name" example.
const PAGE_INVALID_CONTEXT: &str = "ipdrr";
/// The context of the page's "Unauthorized Context Access" example.
const PAGE_FORBIDDEN_CONTEXT: &str = "ipdr";
/// A token no server knows, for the "Invalid API Token" examples.
const INVALID_TOKEN: &str = "not-a-valid-token";
/// The page's example UserIDs ("Retrieving Customer List › Response
/// Example"), given to a step's UserID labels in order of appearance.
const PAGE_USER_IDS: [&str; 2] = ["B68t19", "Xlr8d3"];

/// The scenario steps shown as examples: (scenario, step number from 1).
/// Each operation gets its success, the three documented errors, and the
/// reference's answers where the page is silent; every request is valid
/// under its request schema (a refusal of a request the schema already
/// rejects would show nothing new).
const CHOSEN_STEPS: [(&str, usize); 26] = [
    ("crud::list_returns_customer_objects", 2),
    ("errors::invalid_token::list", 2),
    ("errors::invalid_context::list", 2),
    ("errors::forbidden_context::list", 2),
    ("crud::create_all_fields", 1),
    ("crud::create_mandatory_only", 1),
    ("errors::invalid_token::create", 1),
    ("errors::invalid_context::create", 1),
    ("errors::forbidden_context::create", 1),
    ("observed::create_with_empty_name", 1),
    ("validation::duplicate_user_id", 2),
    ("crud::full_update", 2),
    ("errors::invalid_token::full_update", 2),
    ("errors::invalid_context::full_update", 2),
    ("errors::forbidden_context::full_update", 2),
    ("observed::unknown_user_id::full_update", 1),
    ("crud::partial_update_one_field", 2),
    ("errors::invalid_token::partial_update", 2),
    ("errors::invalid_context::partial_update", 2),
    ("errors::forbidden_context::partial_update", 2),
    ("observed::unknown_user_id::partial_update", 1),
    ("crud::delete", 2),
    ("errors::invalid_token::delete", 2),
    ("errors::invalid_context::delete", 2),
    ("errors::forbidden_context::delete", 2),
    ("observed::unknown_user_id::delete", 1),
];

/// Why the examples could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExampleError {
    /// The reference profile could not be opened.
    #[error(transparent)]
    Profile(#[from] SnapshotError),
    /// The built-in scenarios could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A chosen step is not usable as an example.
    #[error("example {scenario} step {step}: {reason}")]
    Unusable {
        /// The scenario.
        scenario: String,
        /// The step number, from 1.
        step: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Every example, in [`CHOSEN_STEPS`] order, from the `reference` profile
/// built into the binary and the built-in scenarios.
pub fn reference_examples() -> Result<Vec<OperationExample>, ExampleError> {
    let profile = Profile::built_in(DEFAULT_PROFILE)?;
    let scenarios = load_embedded()?;
    CHOSEN_STEPS
        .iter()
        .map(|(name, step)| example(&profile, &scenarios, name, *step))
        .collect()
}

/// The example of step `number` of scenario `name`.
fn example(
    profile: &Profile,
    scenarios: &[LoadedScenario],
    name: &str,
    number: usize,
) -> Result<OperationExample, ExampleError> {
    let unusable = |reason: String| ExampleError::Unusable {
        scenario: name.to_string(),
        step: number,
        reason,
    };
    let loaded = scenarios
        .iter()
        .find(|loaded| loaded.scenario.name == name)
        .ok_or_else(|| unusable("no such scenario".into()))?;
    let step = number
        .checked_sub(1)
        .and_then(|index| loaded.scenario.steps.get(index))
        .ok_or_else(|| unusable("no such step".into()))?;
    let file = snapshot_file_name(name, number - 1, &step.name);
    let document = profile
        .document(&file)
        .ok_or_else(|| unusable(format!("the reference profile has no {file}")))?;
    let request = &step.request;
    if request.raw_body.is_some() || request.concurrent.is_some() {
        return Err(unusable("a raw or concurrent request is no example".into()));
    }
    let labels = Labels::of(&request.path, request.body.as_ref(), document);
    if labels.names.len() > PAGE_USER_IDS.len() {
        return Err(unusable(format!(
            "more UserID labels than {PAGE_USER_IDS:?}"
        )));
    }
    let path = labels.fill_request(&request.path);
    let (operation, path_user_id) = operation_of(request.method, &path).ok_or_else(|| {
        unusable(format!(
            "{} {path} is no documented operation",
            request.method.as_str()
        ))
    })?;
    let mut body = Map::new();
    for (key, value) in
        auth_values(&request.auth).ok_or_else(|| unusable("its auth has no page example".into()))?
    {
        body.insert(key.to_string(), Value::String(value.to_string()));
    }
    if let Some(Value::Object(fields)) = &request.body {
        for (key, value) in fields {
            body.insert(key.clone(), labels.fill_json(value, Labels::fill_request));
        }
    }
    let status = document
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|status| u16::try_from(status).ok())
        .ok_or_else(|| unusable("the snapshot has no HTTP status".into()))?;
    let response = document
        .get("body")
        .map(|body| labels.fill_json(body, Labels::fill_response))
        .ok_or_else(|| unusable("the snapshot has no JSON body".into()))?;
    let text = serde_json::to_string(&response).unwrap_or_default();
    if text.contains("<id:") || text.contains("<uid:") || text.contains("${") {
        return Err(unusable(format!("a placeholder is left in {text}")));
    }
    Ok(OperationExample {
        operation,
        key: file
            .trim_end_matches(".snap")
            .replace("__", "-")
            .replace('_', "-"),
        summary: format!(
            "{} ({}, step {number}, {} level)",
            step.name,
            name,
            loaded.scenario.step_level(step).as_str()
        ),
        path_user_id,
        request: Value::Object(body),
        status,
        response,
    })
}

/// The operation of a request, and the path's UserID where it names one.
fn operation_of(method: Method, path: &str) -> Option<(Operation, Option<String>)> {
    let user_id = path
        .strip_prefix(COLLECTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'));
    let op = Operation::ALL.into_iter().find(|op| {
        op.method() == method.as_str() && op.addresses_one_customer() == user_id.is_some()
    })?;
    Some((op, user_id.map(str::to_string)))
}

/// The auth parameters of a request, with the page's example values; `None`
/// for a variant the page has no example of.
fn auth_values(auth: &AuthVariant) -> Option<Vec<(&'static str, &'static str)>> {
    let [token, username, context] = AUTH_FIELDS;
    let with = |api_token, contextname| {
        Some(vec![
            (token, api_token),
            (username, PAGE_USERNAME),
            (context, contextname),
        ])
    };
    match auth {
        AuthVariant::Default => with(PAGE_API_TOKEN, PAGE_CONTEXT),
        AuthVariant::InvalidToken => with(INVALID_TOKEN, PAGE_CONTEXT),
        AuthVariant::InvalidContext => with(PAGE_API_TOKEN, PAGE_INVALID_CONTEXT),
        AuthVariant::ForbiddenContext => with(PAGE_API_TOKEN, PAGE_FORBIDDEN_CONTEXT),
        AuthVariant::Omitted
        | AuthVariant::SecondContext
        | AuthVariant::Explicit(_)
        | AuthVariant::Tampered(_)
        | AuthVariant::OtherUser => None,
    }
}

/// The UserID labels a step uses (`${uid:a}` in the request, `<uid:a>` in
/// the answer), in order of appearance, each standing for a page UserID.
struct Labels {
    names: Vec<String>,
}

impl Labels {
    fn of(path: &str, body: Option<&Value>, answer: &Value) -> Labels {
        let mut text = path.to_string();
        if let Some(body) = body {
            text.push_str(&body.to_string());
        }
        text.push_str(&answer.to_string());
        let mut names: Vec<String> = Vec::new();
        for (open, close) in [("${uid:", '}'), ("<uid:", '>')] {
            let mut rest = text.as_str();
            while let Some(at) = rest.find(open) {
                rest = &rest[at + open.len()..];
                let name: String = rest.chars().take_while(|c| *c != close).collect();
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Labels { names }
    }

    /// A request string with its variables filled in.
    fn fill_request(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, user_id) in self.names.iter().zip(PAGE_USER_IDS) {
            out = out.replace(&format!("${{uid:{name}}}"), user_id);
        }
        out.replace("${username}", PAGE_USERNAME)
            .replace("${context}", PAGE_CONTEXT)
    }

    /// A recorded answer string with its placeholders filled in.
    fn fill_response(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, user_id) in self.names.iter().zip(PAGE_USER_IDS) {
            out = out.replace(&format!("<uid:{name}>"), user_id);
        }
        out.replace("<username>", PAGE_USERNAME)
            .replace("<invalid_context>", PAGE_INVALID_CONTEXT)
            .replace("<forbidden_context>", PAGE_FORBIDDEN_CONTEXT)
            .replace("<context>", PAGE_CONTEXT)
    }

    /// `value` with every string filled by `fill`; a whole-string `<id:N>` becomes the number N.
    fn fill_json(&self, value: &Value, fill: fn(&Labels, &str) -> String) -> Value {
        match value {
            Value::String(text) => {
                let id = text
                    .strip_prefix("<id:")
                    .and_then(|rest| rest.strip_suffix('>'))
                    .and_then(|number| number.parse::<u64>().ok());
                match id {
                    Some(id) => Value::from(id),
                    None => Value::String(fill(self, text)),
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.fill_json(item, fill))
                    .collect(),
            ),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, field)| (key.clone(), self.fill_json(field, fill)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}
