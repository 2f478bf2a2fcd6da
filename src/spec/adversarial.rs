//! Scenarios generated from the contract rather than written by hand: one
//! adversarial-auth trial per auth parameter and tamper.
//!
//! "Authentication" requires `api_token`, `username` and `contextname` in
//! every request body. For each [`AuthField`] and each [`Tamper`], the trial
//! `auth::<field>::<tamper>` sends every operation with that one parameter
//! spoiled and the other two as configured; each must be refused as
//! [`expected_refusal`] says, and nothing may change. The spoiled values are
//! computed when the request is sent (the scenario names the tamper, never a
//! token), and each trial goes through the same loader validation as a file.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::contract::DocumentedError;
use super::load::{parse, LoadError, LoadedScenario};
use super::scenario::{
    Answer, AuthVariant, Expect, Level, Method, Request, Scenario, Step, TamperedAuth,
};
use super::tamper::{expected_refusal, AuthField, ExpectedRefusal, Tamper};

/// Where the generated auth trials say they come from (`generated/auth/<field>/<tamper>`).
pub const AUTH_SOURCE_PREFIX: &str = "generated/auth";

/// The customer created before the tampered requests (the page's create example, "Creating a New Customer").
const RECORD: [(&str, &str); 5] = [
    ("Name", "Trisul"),
    ("Address", "Chennai"),
    ("Email", "demo@gmail.com"),
    ("PhoneNumber", "1234567890"),
    ("AltPhoneNumber", "9999999999"),
];

/// The tampered create's values: ordinary, so auth is the request's only problem.
const TAMPERED_CREATE: [(&str, &str); 5] = [
    ("Name", "Tampered Create"),
    ("Address", "Nowhere"),
    ("Email", "tampered@example.com"),
    ("PhoneNumber", "2222222222"),
    ("AltPhoneNumber", "4444444444"),
];

/// The tampered PUT's values (the page's update example, "Updating Customer Information").
const TAMPERED_PUT: [(&str, &str); 5] = [
    ("Name", "Trisul Network Analyzer"),
    ("Address", "India"),
    ("Email", "test@gmail.com"),
    ("PhoneNumber", "3333333333"),
    ("AltPhoneNumber", "5555555555"),
];

/// The tampered PATCH's Address (the page's partial-update example).
const TAMPERED_PATCH: &str = "Partially Updated";

/// The trial name of `field` spoiled by `tamper`: `auth::<field>::<tamper>`.
pub fn auth_trial_name(field: AuthField, tamper: Tamper) -> String {
    format!("auth::{}::{}", field.key(), tamper.name())
}

/// The source name of a generated auth trial: `generated/auth/<field>/<tamper>`.
pub fn auth_trial_source(field: AuthField, tamper: Tamper) -> String {
    format!("{AUTH_SOURCE_PREFIX}/{}/{}", field.key(), tamper.name())
}

/// The expected body and answer of a tampered step, from what the page lets the refusal look like.
pub fn refusal_expectation(refusal: &ExpectedRefusal) -> Expect {
    let body = match refusal {
        ExpectedRefusal::Exact(error) => Some(json!({ "$error": error })),
        // The `$error` matcher names the context the request sent.
        ExpectedRefusal::ContextEnvelope => Some(json!({ "$one_of": [
            { "$error": DocumentedError::InvalidContext },
            { "$error": DocumentedError::ForbiddenContext },
        ]})),
        ExpectedRefusal::AnyRefusal => None,
    };
    Expect {
        answer: if body.is_some() {
            Answer::AsGiven
        } else {
            Answer::Refusal
        },
        body,
        ..Expect::default()
    }
}

/// Every generated auth trial as (source, JSON text), to be loaded like files.
pub fn auth_trial_files() -> Vec<(String, String)> {
    AuthField::ALL
        .into_iter()
        .flat_map(|field| Tamper::ALL.into_iter().map(move |tamper| (field, tamper)))
        .map(|(field, tamper)| {
            let text = serde_json::to_string_pretty(&auth_trial(field, tamper))
                .expect("a scenario serializes");
            (auth_trial_source(field, tamper), text)
        })
        .collect()
}

/// Every generated scenario, loaded and validated exactly like a scenario file.
pub fn generated() -> Result<Vec<LoadedScenario>, LoadError> {
    auth_trial_files()
        .iter()
        .map(|(source, text)| parse(source, text))
        .collect()
}

fn fields(user_id: &str, values: &[(&str, &str)]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("UserID".into(), Value::String(user_id.into()));
    for (field, value) in values {
        map.insert((*field).into(), Value::String((*value).into()));
    }
    Value::Object(map)
}

fn step(name: String, request: Request, expect: Expect) -> Step {
    Step {
        name,
        level: None,
        request,
        expect,
        capture: BTreeMap::new(),
        outcome: None,
        only_if: None,
    }
}

fn request(method: Method, path: &str, auth: AuthVariant, body: Option<Value>) -> Request {
    Request {
        method,
        path: path.into(),
        auth,
        body,
        raw_body: None,
        concurrent: None,
    }
}

fn expect_body(body: Value) -> Expect {
    Expect {
        body: Some(body),
        ..Expect::default()
    }
}

/// Why the page requires this refusal, and what it lets the refusal look like.
fn reason(field: AuthField, tamper: Tamper, refusal: &ExpectedRefusal) -> String {
    match refusal {
        ExpectedRefusal::Exact(DocumentedError::InvalidToken) => {
            "A token other than the one issued is an invalid token, however close to it, so each request gets the documented invalid-token envelope, exactly".to_string()
        }
        ExpectedRefusal::Exact(error) => format!(
            "The page names this refusal, so each request gets the {} envelope, exactly",
            error.citation()
        ),
        ExpectedRefusal::ContextEnvelope => "A context name other than the configured one names a context that does not exist or one the user may not access; which, the harness cannot know, so each request gets one of the two documented context envelopes, naming the context sent".to_string(),
        ExpectedRefusal::AnyRefusal if tamper.is_other_string() => format!(
            "The configured token is not the token of another {}; the page names no envelope for it, so any refusal is conformant",
            field.key()
        ),
        ExpectedRefusal::AnyRefusal => format!(
            "{} is required and is a string (\"Authentication\"); the page names no answer for a request without a usable one, so any refusal is conformant",
            field.key()
        ),
    }
}

/// The trial for `field` spoiled by `tamper`, built from the contract alone.
pub fn auth_trial(field: AuthField, tamper: Tamper) -> Scenario {
    let refusal = expected_refusal(field, tamper);
    let key = field.key();
    let sent = tamper.describe();
    let (level, citation) = match &refusal {
        ExpectedRefusal::Exact(error) => (
            Level::Documented,
            format!(
                "Authentication: \"All API requests require authentication using the following parameters\"; {}",
                error.citation()
            ),
        ),
        ExpectedRefusal::ContextEnvelope => (
            Level::Documented,
            format!(
                "Authentication: \"All API requests require authentication using the following parameters\"; {}, {}",
                DocumentedError::InvalidContext.citation(),
                DocumentedError::ForbiddenContext.citation()
            ),
        ),
        ExpectedRefusal::AnyRefusal => (
            Level::Inferred,
            "Authentication: \"All API requests require authentication using the following parameters\"".to_string(),
        ),
    };
    let description = format!(
        "Sends {key} as {sent}, the other two auth parameters as configured, on every operation: a list, a create of a new UserID, and a PUT with every field, a PATCH and a DELETE of a record created beforehand. {}. Nothing may change (inferred: a rejected request changes nothing): the record keeps every field and its id, and the new UserID is not created.",
        reason(field, tamper, &refusal)
    );
    let tampered = AuthVariant::Tampered(TamperedAuth { field, tamper });
    let with = format!("with {key} {sent}");
    let refused = refusal_expectation(&refusal);
    let record_path = "/api/ipdrcustomers/${uid:a}";
    let mut create = step(
        "create a customer with the configured auth".into(),
        request(
            Method::Post,
            "/api/ipdrcustomers",
            AuthVariant::Default,
            Some(fields("${uid:a}", &RECORD)),
        ),
        expect_body(json!({ "$customer": fields("${uid:a}", &RECORD) })),
    );
    create.capture.insert("id".into(), "/id".into());
    let mut unchanged = fields("${uid:a}", &RECORD);
    unchanged["id"] = json!("${id}");
    let mut after = vec![
        step(
            "the record is still listed exactly as created".into(),
            request(
                Method::Get,
                "/api/ipdrcustomers",
                AuthVariant::Default,
                None,
            ),
            expect_body(json!({ "$contains": { "$customer": unchanged } })),
        ),
        step(
            "the tampered create created nothing".into(),
            request(
                Method::Get,
                "/api/ipdrcustomers",
                AuthVariant::Default,
                None,
            ),
            expect_body(json!({ "$lacks": { "UserID": "${uid:b}" } })),
        ),
    ];
    if level == Level::Documented {
        for check in &mut after {
            check.level = Some(Level::Inferred);
        }
    }
    let mut steps = vec![
        create,
        step(
            format!("list {with}"),
            request(Method::Get, "/api/ipdrcustomers", tampered.clone(), None),
            refused.clone(),
        ),
        step(
            format!("create a new UserID {with}"),
            request(
                Method::Post,
                "/api/ipdrcustomers",
                tampered.clone(),
                Some(fields("${uid:b}", &TAMPERED_CREATE)),
            ),
            refused.clone(),
        ),
        step(
            format!("PUT every field of the record {with}"),
            request(
                Method::Put,
                record_path,
                tampered.clone(),
                Some(fields("${uid:a}", &TAMPERED_PUT)),
            ),
            refused.clone(),
        ),
        step(
            format!("PATCH the record {with}"),
            request(
                Method::Patch,
                record_path,
                tampered.clone(),
                Some(json!({ "Address": TAMPERED_PATCH })),
            ),
            refused.clone(),
        ),
        step(
            format!("DELETE the record {with}"),
            request(Method::Delete, record_path, tampered, None),
            refused,
        ),
    ];
    steps.extend(after);
    Scenario {
        name: auth_trial_name(field, tamper),
        level,
        citation,
        tags: vec![
            "auth".into(),
            "tampered".into(),
            "list".into(),
            "create".into(),
            "full_update".into(),
            "partial_update".into(),
            "delete".into(),
        ],
        description: Some(description),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_tamper_has_one_valid_trial() {
        let loaded = generated().expect("the generated trials load");
        assert_eq!(loaded.len(), AuthField::ALL.len() * Tamper::ALL.len());
        assert_eq!(loaded[0].scenario.name, "auth::api_token::absent");
        assert_eq!(loaded[0].source, "generated/auth/api_token/absent");
    }

    #[test]
    fn levels_follow_the_named_envelope() {
        let token = auth_trial(AuthField::ApiToken, Tamper::Prefix);
        assert_eq!(token.level, Level::Documented);
        assert!(token.citation.contains("Invalid API Token"));
        let username = auth_trial(AuthField::Username, Tamper::Prefix);
        assert_eq!(username.level, Level::Inferred);
        assert!(!username.citation.contains("Error Handling"));
    }
}
