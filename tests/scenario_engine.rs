//! The scenario engine through its public surface: answer modes, outcome
//! branches, the exact error envelope, the security check, the cap on
//! requests in flight, and the skips (deep mode, a second user, tampers that
//! do not apply). Each test runs scenarios against a small scripted server
//! on loopback whose behaviour a switch changes, so every check is shown to
//! fail where it must and to pass where the page allows.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use serde_json::{json, Value};

use common::{counts, harness, stderr, stdout};
use ipdr_conformance::execution::client::Client;
use ipdr_conformance::execution::scenario_run::{Verdict, MAX_IN_FLIGHT};
use ipdr_conformance::execution::suite::{Suite, TrialResult};
use ipdr_conformance::execution::target::{ApiToken, OtherUser, Target};
use ipdr_conformance::spec::contract::{is_ordinary_value, CUSTOMER_FIELDS};
use ipdr_conformance::spec::load::{parse, LoadedScenario};

const TOKEN: &str = "Tk7configuredSecret42";
const OTHER_TOKEN: &str = "Ot9otherUsersSecret77";
const USERNAME: &str = "user";
const OTHER_USERNAME: &str = "operator";

// ------------------------------------------------------------ the scripted server

/// What the scripted server does differently from a plain conformant one.
#[derive(Debug, Clone, Copy, Default)]
struct Script {
    /// Refuse (HTTP 422, a body of its own) any value that is not ordinary: conformant.
    refuse_unusual: bool,
    /// Answer success with leading and trailing whitespace trimmed, and store that.
    trim_values: bool,
    /// Answer success for a create or update, but store nothing.
    store_nothing: bool,
    /// Answer 422 for unusual values, but store them anyway.
    refuse_but_store: bool,
    /// Echo the api_token received in an `X-Debug-Token` response header.
    echo_token_in_header: bool,
    /// Echo the whole request body in the body of every refusal.
    echo_request_in_refusals: bool,
    /// Add `"data"` to the invalid-token envelope.
    envelope_extra_member: bool,
    /// Sleep this long before each answer (to see requests in flight).
    delay_ms: u64,
}

#[derive(Default)]
struct Store {
    /// (context, UserID) → customer.
    records: BTreeMap<(String, String), Value>,
    next_id: i64,
}

struct Scripted {
    script: Script,
    store: Mutex<Store>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A scripted server on loopback, with the runtime that serves it.
struct ScriptedServer {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    state: Arc<Scripted>,
}

impl ScriptedServer {
    fn start(script: Script) -> ScriptedServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(Scripted {
            script,
            store: Mutex::new(Store {
                next_id: 1,
                ..Store::default()
            }),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/api/ipdrcustomers", get(collection).post(collection))
            .route("/api/ipdrcustomers/{uid}", any(one))
            .with_state(Arc::clone(&state));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        ScriptedServer {
            runtime,
            addr,
            state,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every record left, as (context, UserID).
    fn left(&self) -> Vec<(String, String)> {
        let store = self.state.store.lock().unwrap();
        store.records.keys().cloned().collect()
    }

    fn target(&self, with_other: bool) -> Target {
        Target {
            base_url: self.url(),
            api_token: ApiToken::new(TOKEN),
            username: USERNAME.to_string(),
            context: "default".to_string(),
            second_context: Some("ipdr2".to_string()),
            forbidden_context: Some("restricted".to_string()),
            other: with_other.then(|| OtherUser {
                username: OTHER_USERNAME.to_string(),
                api_token: ApiToken::new(OTHER_TOKEN),
                context: "restricted".to_string(),
            }),
            timeout: Duration::from_secs(10),
        }
    }

    /// Runs `scenarios` in process; the results in load order.
    fn run(&self, scenarios: Vec<LoadedScenario>, with_other: bool) -> Vec<TrialResult> {
        let client = Client::new(self.target(with_other)).unwrap();
        let suite = Suite::new(client, scenarios);
        self.runtime.block_on(suite.run_all(2))
    }

    /// The binary's `run` against this server, with the configured (and other) credentials.
    fn harness(&self, with_other: bool) -> std::process::Command {
        let mut command = harness();
        command
            .arg("run")
            .arg("--target")
            .arg(self.url())
            .env("IPDR_API_TOKEN", TOKEN)
            .env("IPDR_USERNAME", USERNAME)
            .env("IPDR_CONTEXT", "default")
            .env("IPDR_SECOND_CONTEXT", "ipdr2")
            .env("IPDR_FORBIDDEN_CONTEXT", "restricted")
            .env("IPDR_LEDGER_DIR", scratch("ledgers"));
        if with_other {
            command
                .env("IPDR_OTHER_USERNAME", OTHER_USERNAME)
                .env("IPDR_OTHER_API_TOKEN", OTHER_TOKEN)
                .env("IPDR_OTHER_CONTEXT", "restricted");
        }
        command
    }
}

fn envelope(status: &str, message: String) -> Value {
    json!({"status": status, "message": message})
}

/// The user a token belongs to, and the contexts that user may access.
fn user_of(token: &str) -> Option<(&'static str, &'static [&'static str])> {
    match token {
        TOKEN => Some((USERNAME, &["default", "ipdr2"])),
        OTHER_TOKEN => Some((OTHER_USERNAME, &["default", "restricted"])),
        _ => None,
    }
}

/// Checks the auth parameters ("Authentication"); the context on success, else the envelope.
fn authenticate(state: &Scripted, body: &Value) -> Result<String, Value> {
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let (token, username, context) = (text("api_token"), text("username"), text("contextname"));
    match user_of(token) {
        Some((owner, contexts)) if owner == username => {
            if !["default", "ipdr2", "restricted"].contains(&context) {
                Err(envelope(
                    "Error",
                    format!("Invalid Context name - {context}"),
                ))
            } else if !contexts.contains(&context) {
                Err(envelope(
                    "Error",
                    format!("The user ({username}) is not allowed to access the context {context}"),
                ))
            } else {
                Ok(context.to_string())
            }
        }
        _ => {
            let mut answer = envelope("ERROR", "Invalid API token".to_string());
            if state.script.envelope_extra_member {
                answer["data"] = json!({"hint": "token"});
            }
            Err(answer)
        }
    }
}

fn reply(state: &Scripted, request: &Value, status: StatusCode, body: Value) -> Response {
    let mut headers = HeaderMap::new();
    if state.script.echo_token_in_header {
        if let Some(token) = request.get("api_token").and_then(Value::as_str) {
            headers.insert("x-debug-token", HeaderValue::from_str(token).unwrap());
        }
    }
    let body = if state.script.echo_request_in_refusals && body.get("UserID").is_none() {
        json!({"error": body, "request": request})
    } else {
        body
    };
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (status, headers, body.to_string()).into_response()
}

/// A refusal of the scripted server's own (where the page is silent).
fn unprocessable(state: &Scripted, request: &Value, why: &str) -> Response {
    reply(
        state,
        request,
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": why}),
    )
}

fn unusual(fields: &serde_json::Map<String, Value>) -> bool {
    fields.iter().any(|(key, value)| {
        CUSTOMER_FIELDS.contains(&key.as_str())
            && key != "id"
            && !value
                .as_str()
                .is_some_and(|text| is_ordinary_value(key, text))
    })
}

/// Applies `fields` to `record` as the script says (trimmed or not).
fn apply(state: &Scripted, record: &mut Value, fields: &serde_json::Map<String, Value>) {
    for field in CUSTOMER_FIELDS.iter().filter(|field| **field != "id") {
        if let Some(Value::String(text)) = fields.get(*field) {
            let text = if state.script.trim_values {
                text.trim().to_string()
            } else {
                text.clone()
            };
            record[*field] = Value::String(text);
        }
    }
}

async fn slow(state: &Scripted) -> impl Drop + '_ {
    struct Leaving<'a>(&'a AtomicUsize);
    impl Drop for Leaving<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if state.script.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(state.script.delay_ms)).await;
    }
    Leaving(&state.in_flight)
}

async fn collection(State(state): State<Arc<Scripted>>, method: Method, body: Bytes) -> Response {
    let _leaving = slow(&state).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let context = match authenticate(&state, &request) {
        Ok(context) => context,
        Err(answer) => return reply(&state, &request, StatusCode::OK, answer),
    };
    if method == Method::GET {
        let store = state.store.lock().unwrap();
        let list: Vec<Value> = store
            .records
            .iter()
            .filter(|((in_context, _), _)| *in_context == context)
            .map(|(_, record)| record.clone())
            .collect();
        return reply(&state, &request, StatusCode::OK, Value::Array(list));
    }
    let fields = request.as_object().cloned().unwrap_or_default();
    let Some(uid) = fields
        .get("UserID")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return unprocessable(&state, &request, "UserID is required");
    };
    let refused =
        (state.script.refuse_unusual || state.script.refuse_but_store) && unusual(&fields);
    let mut store = state.store.lock().unwrap();
    let key = (context, uid.clone());
    if store.records.contains_key(&key) {
        return unprocessable(&state, &request, "exists");
    }
    let id = store.next_id;
    store.next_id += 1;
    let mut record = json!({"id": id, "Name": "", "Address": "", "Email": "", "PhoneNumber": "", "AltPhoneNumber": "", "UserID": uid});
    apply(&state, &mut record, &fields);
    if (!refused && !state.script.store_nothing) || state.script.refuse_but_store {
        store.records.insert(key, record.clone());
    }
    drop(store);
    if refused {
        return unprocessable(&state, &request, "unusual value");
    }
    reply(&state, &request, StatusCode::OK, record)
}

async fn one(
    State(state): State<Arc<Scripted>>,
    method: Method,
    UrlPath(uid): UrlPath<String>,
    body: Bytes,
) -> Response {
    let _leaving = slow(&state).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let context = match authenticate(&state, &request) {
        Ok(context) => context,
        Err(answer) => return reply(&state, &request, StatusCode::OK, answer),
    };
    let fields = request.as_object().cloned().unwrap_or_default();
    let key = (context, uid);
    let mut store = state.store.lock().unwrap();
    let Some(existing) = store.records.get(&key).cloned() else {
        drop(store);
        return unprocessable(&state, &request, "not found");
    };
    if method == Method::DELETE {
        store.records.remove(&key);
        drop(store);
        return reply(&state, &request, StatusCode::OK, existing);
    }
    let refused =
        (state.script.refuse_unusual || state.script.refuse_but_store) && unusual(&fields);
    let mut record = existing;
    apply(&state, &mut record, &fields);
    if (!refused && !state.script.store_nothing) || state.script.refuse_but_store {
        store.records.insert(key, record.clone());
    }
    drop(store);
    if refused {
        return unprocessable(&state, &request, "unusual value");
    }
    reply(&state, &request, StatusCode::OK, record)
}

// ------------------------------------------------------------ scenarios

fn scenario(text: &str) -> LoadedScenario {
    parse("test.json", text).unwrap_or_else(|error| panic!("{error}"))
}

fn dir_with(name: &str, scenarios: &[(&str, &str)]) -> PathBuf {
    let dir = scratch(name);
    for (file, text) in scenarios {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("scenario_engine")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A create with padded values that may be refused, and both branches.
const PADDED_CREATE: &str = r#"{
  "name": "engine::padded_create",
  "level": "inferred",
  "citation": "Managing IPDR Customers › Creating a New Customer",
  "steps": [
    {
      "name": "create with padded values",
      "request": {"method": "POST", "path": "/api/ipdrcustomers", "body": {"UserID": "${uid:a}", "Name": " Padded ", "Address": "Chennai"}},
      "expect": {"answer": "success_or_refusal", "body": {"$customer": {"UserID": "${uid:a}", "Name": " Padded ", "Address": "Chennai"}}},
      "outcome": "created",
      "capture": {"id": "/id"}
    },
    {
      "name": "accepted: the list holds the exact values",
      "only_if": {"accepted": "created"},
      "request": {"method": "GET", "path": "/api/ipdrcustomers"},
      "expect": {"body": {"$contains": {"$customer": {"id": "${id}", "UserID": "${uid:a}", "Name": " Padded ", "Address": "Chennai"}}}}
    },
    {
      "name": "refused: the list lacks the UserID",
      "only_if": {"refused": "created"},
      "request": {"method": "GET", "path": "/api/ipdrcustomers"},
      "expect": {"body": {"$lacks": {"UserID": "${uid:a}"}}}
    }
  ]
}"#;

fn only(results: &[TrialResult]) -> &TrialResult {
    assert_eq!(results.len(), 1);
    &results[0]
}

/// (index, skipped?) of every step of a result.
fn ran(result: &TrialResult) -> Vec<(usize, bool)> {
    result
        .outcome
        .steps
        .iter()
        .map(|step| (step.index, step.is_skipped()))
        .collect()
}

// ------------------------------------------------------------ answer modes and branches

#[test]
fn a_server_that_accepts_and_stores_exactly_passes_and_the_refused_branch_is_skipped() {
    let server = ScriptedServer::start(Script::default());
    let results = server.run(vec![scenario(PADDED_CREATE)], false);
    let result = only(&results);
    assert_eq!(
        result.outcome.verdict,
        Verdict::Passed,
        "{:?}",
        result.outcome
    );
    assert_eq!(ran(result), [(0, false), (1, false), (2, true)]);
    let skipped = &result.outcome.steps[2];
    assert_eq!(
        skipped.skipped.as_deref(),
        Some("only if step 1 \"create with padded values\" was refused; it was accepted")
    );
    assert!(skipped.exchanges.is_empty(), "a skipped step sends nothing");
    assert_eq!(result.outcome.steps[0].accepted, Some(true));
    assert!(server.left().is_empty(), "the record is cleaned up");
}

#[test]
fn a_server_that_refuses_cleanly_passes_through_the_refused_branch() {
    let server = ScriptedServer::start(Script {
        refuse_unusual: true,
        ..Script::default()
    });
    let results = server.run(vec![scenario(PADDED_CREATE)], false);
    let result = only(&results);
    assert_eq!(
        result.outcome.verdict,
        Verdict::Passed,
        "{:?}",
        result.outcome
    );
    assert_eq!(ran(result), [(0, false), (1, true), (2, false)]);
    assert_eq!(result.outcome.steps[0].accepted, Some(false));
    assert!(result.outcome.steps[0].mismatches.is_empty());
}

#[test]
fn a_success_with_altered_values_fails_the_step_that_may_be_refused() {
    let server = ScriptedServer::start(Script {
        trim_values: true,
        ..Script::default()
    });
    let results = server.run(vec![scenario(PADDED_CREATE)], false);
    let result = only(&results);
    assert_eq!(result.outcome.verdict, Verdict::Failed(0));
    let mismatch = &result.outcome.steps[0].mismatches[0];
    assert_eq!(mismatch.pointer, "/Name");
    assert_eq!(mismatch.actual, "\"Padded\"");
}

#[test]
fn a_success_that_stores_nothing_fails_the_accepted_branch() {
    // Why a `$one_of` of both states would not do: this server answers a
    // success, and the list holds no record at all.
    let server = ScriptedServer::start(Script {
        store_nothing: true,
        ..Script::default()
    });
    let results = server.run(vec![scenario(PADDED_CREATE)], false);
    let result = only(&results);
    assert_eq!(
        result.outcome.verdict,
        Verdict::Failed(1),
        "{:?}",
        result.outcome
    );
}

#[test]
fn a_refusal_that_stores_anyway_fails_the_refused_branch() {
    let server = ScriptedServer::start(Script {
        refuse_but_store: true,
        ..Script::default()
    });
    let results = server.run(vec![scenario(PADDED_CREATE)], false);
    let result = only(&results);
    assert_eq!(
        result.outcome.verdict,
        Verdict::Failed(2),
        "{:?}",
        result.outcome
    );
    assert!(server.left().is_empty(), "cleanup deletes it all the same");
}

#[test]
fn a_refusal_step_passes_any_refusal_and_fails_a_success() {
    let text = r#"{
      "name": "engine::refusal",
      "level": "inferred",
      "citation": "Authentication",
      "steps": [
        {"name": "create with padded values, refused", "request": {"method": "POST", "path": "/api/ipdrcustomers", "body": {"UserID": "${uid:a}", "Name": " x "}}, "expect": {"answer": "refusal"}}
      ]
    }"#;
    let refusing = ScriptedServer::start(Script {
        refuse_unusual: true,
        ..Script::default()
    });
    let result = refusing.run(vec![scenario(text)], false);
    assert_eq!(only(&result).outcome.verdict, Verdict::Passed);
    let accepting = ScriptedServer::start(Script::default());
    let result = accepting.run(vec![scenario(text)], false);
    let result = only(&result);
    assert_eq!(result.outcome.verdict, Verdict::Failed(0));
    assert_eq!(result.outcome.steps[0].mismatches[0].pointer, "(answer)");
    assert!(accepting.left().is_empty());
}

#[test]
fn a_list_served_where_a_refusal_is_required_fails() {
    // The scripted server checks the token: a list with an invalid one is refused.
    let text = r#"{
      "name": "engine::list_refused",
      "level": "inferred",
      "citation": "Authentication",
      "steps": [{"name": "list with an invalid token", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": "invalid_token"}, "expect": {"answer": "refusal"}}]
    }"#;
    let server = ScriptedServer::start(Script::default());
    assert_eq!(
        only(&server.run(vec![scenario(text)], false))
            .outcome
            .verdict,
        Verdict::Passed
    );
    // The configured credentials are served the list: that is a success, so the same step fails.
    let served = text.replace(r#", "auth": "invalid_token""#, "");
    let results = server.run(vec![scenario(&served)], false);
    let result = only(&results);
    assert_eq!(result.outcome.verdict, Verdict::Failed(0));
    assert_eq!(
        result.outcome.steps[0].mismatches[0].actual,
        "a success: HTTP 200 with a list"
    );
}

#[test]
fn a_skipped_step_neither_passes_nor_fails_and_reports_say_so() {
    // The refused branch expects something no server could give: since it is
    // skipped on a server that accepts, the trial passes.
    let impossible = PADDED_CREATE
        .replace("engine::padded_create", "engine::skipped_branch")
        .replace(
            r#""expect": {"body": {"$lacks": {"UserID": "${uid:a}"}}}"#,
            r#""expect": {"status": 599, "body": {"$any": "null"}}"#,
        );
    let server = ScriptedServer::start(Script::default());
    let dir = dir_with("skipped", &[("skipped.json", &impossible)]);
    let reports = scratch("skipped-reports");
    let output = server
        .harness(false)
        .arg("--specs")
        .arg(&dir)
        .arg("--junit")
        .arg(reports.join("junit.xml"))
        .arg("--report-json")
        .arg(reports.join("report.json"))
        .arg("--report-html")
        .arg(reports.join("report.html"))
        .arg("--summary-md")
        .arg(reports.join("summary.md"))
        .args(["--skip", "property::"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    assert_eq!(counts(&out), (1, 0, 0), "{out}");
    let reason = "only if step 1 \\\"create with padded values\\\" was refused; it was accepted";
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).unwrap())
            .unwrap();
    let trial = &json["trials"][0];
    assert_eq!(trial["verdict"], "pass");
    assert_eq!(
        trial["skipped_steps"],
        json!([{"step": 3, "name": "refused: the list lacks the UserID", "reason": reason.replace("\\\"", "\"")}])
    );
    assert_eq!(
        trial["transcript"].as_array().unwrap().len(),
        2,
        "two steps sent"
    );
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(
        html.contains("<li data-step=\"3\">step 3 &quot;refused: the list lacks the UserID&quot; not run: only if step 1 &quot;create with padded values&quot; was refused; it was accepted</li>"),
        "{html}"
    );
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"skipped_step\""), "{junit}");
    assert!(
        junit.contains("tests=\"1\"") && junit.contains("failures=\"0\""),
        "{junit}"
    );
    let summary = std::fs::read_to_string(reports.join("summary.md")).unwrap();
    assert!(
        summary.contains(
            "1 step(s) in 1 trial(s) did not run because their `only_if` condition did not hold"
        ),
        "{summary}"
    );
}

#[test]
fn a_failure_after_a_skipped_step_lists_it_as_skipped() {
    let text = PADDED_CREATE
        .replace("engine::padded_create", "engine::fails_after_skip")
        .replace(
            r#"    }
  ]
}"#,
            r#"    },
    {"name": "a list that cannot match", "request": {"method": "GET", "path": "/api/ipdrcustomers"}, "expect": {"body": {"$any": "object"}}}
  ]
}"#,
        );
    let server = ScriptedServer::start(Script::default());
    let dir = dir_with("fails-after-skip", &[("f.json", &text)]);
    let output = server
        .harness(false)
        .arg("--specs")
        .arg(&dir)
        .args(["--skip", "property::"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("  step 3 \"refused: the list lacks the UserID\": skipped (only if step 1 \"create with padded values\" was refused; it was accepted)"),
        "{out}"
    );
    assert!(
        out.contains(
            "step 4/4 \"a list that cannot match\" (inferred) did not meet its expectation"
        ),
        "{out}"
    );
}

// ------------------------------------------------------------ the oracle's exact envelope

#[test]
fn an_error_envelope_with_an_extra_member_fails() {
    let text = r#"{
      "name": "engine::invalid_token",
      "level": "documented",
      "citation": "Error Handling › Invalid API Token",
      "steps": [{"name": "list with an invalid token", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": "invalid_token"}, "expect": {"body": {"$error": "invalid_token"}}}]
    }"#;
    let plain = ScriptedServer::start(Script::default());
    assert_eq!(
        only(&plain.run(vec![scenario(text)], false))
            .outcome
            .verdict,
        Verdict::Passed
    );
    let extra = ScriptedServer::start(Script {
        envelope_extra_member: true,
        ..Script::default()
    });
    let results = extra.run(vec![scenario(text)], false);
    let result = only(&results);
    assert_eq!(result.outcome.verdict, Verdict::Failed(0));
    let mismatch = &result.outcome.steps[0].mismatches[0];
    assert_eq!(
        (mismatch.pointer.as_str(), mismatch.expected.as_str()),
        ("/data", "(absent)")
    );
}

// ------------------------------------------------------------ the security check

const OBSERVED_LIST: &str = r#"{
  "name": "engine::observed_list",
  "level": "observed",
  "citation": "Managing IPDR Customers › Retrieving Customer List",
  "steps": [{"name": "list, anything goes", "request": {"method": "GET", "path": "/api/ipdrcustomers"}, "expect": {"body": {"$any": "any"}}}]
}"#;

#[test]
fn a_token_echoed_in_a_header_fails_even_an_observed_step() {
    let clean = ScriptedServer::start(Script::default());
    assert_eq!(
        only(&clean.run(vec![scenario(OBSERVED_LIST)], false))
            .outcome
            .verdict,
        Verdict::Passed
    );
    let echoing = ScriptedServer::start(Script {
        echo_token_in_header: true,
        ..Script::default()
    });
    let results = echoing.run(vec![scenario(OBSERVED_LIST)], false);
    let result = only(&results);
    assert_eq!(result.outcome.verdict, Verdict::Failed(0));
    assert_eq!(
        result.outcome.steps[0].leaks,
        ["the answer's header x-debug-token contains the API token"]
    );
    // The binary says so, names the secret by label and never shows it.
    let dir = dir_with("echo", &[("echo.json", OBSERVED_LIST)]);
    let output = echoing
        .harness(false)
        .arg("--specs")
        .arg(&dir)
        .args(["--skip", "property::"])
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("(observed) failed the security check (binding at every level)"),
        "{all}"
    );
    assert!(
        all.contains("security: the answer's header x-debug-token contains the API token; a response must never carry a token"),
        "{all}"
    );
    assert!(!all.contains(TOKEN), "{all}");
}

#[test]
fn the_other_users_token_echoed_in_a_body_is_named_and_redacted_everywhere() {
    let text = r#"{
      "name": "engine::other_user_refused",
      "level": "observed",
      "citation": "Authentication",
      "steps": [{"name": "the other user's token with the configured name", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": {"explicit": {"token_of": "other"}}}, "expect": {"answer": "refusal"}}]
    }"#;
    let server = ScriptedServer::start(Script {
        echo_request_in_refusals: true,
        ..Script::default()
    });
    let results = server.run(vec![scenario(text)], true);
    let result = only(&results);
    assert_eq!(result.outcome.verdict, Verdict::Failed(0));
    assert_eq!(
        result.outcome.steps[0].leaks,
        ["the answer's body contains the other user's API token"]
    );
    let dir = dir_with("other-echo", &[("other.json", text)]);
    let reports = scratch("other-echo-reports");
    let output = server
        .harness(true)
        .arg("--specs")
        .arg(&dir)
        .arg("--report-json")
        .arg(reports.join("report.json"))
        .args(["--skip", "property::"])
        .output()
        .unwrap();
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("\"$IPDR_OTHER_API_TOKEN\""),
        "the curl command names the variable:\n{all}"
    );
    assert!(all.contains("<redacted>"), "{all}");
    let report = std::fs::read_to_string(reports.join("report.json")).unwrap();
    for secret in [TOKEN, OTHER_TOKEN] {
        assert!(!all.contains(secret), "{all}");
        assert!(!report.contains(secret), "{report}");
    }
}

// ------------------------------------------------------------ requests in flight

#[test]
fn a_concurrent_step_keeps_at_most_16_requests_in_flight() {
    let text = r#"{
      "name": "engine::many_at_once",
      "level": "documented",
      "citation": "Managing IPDR Customers › Retrieving Customer List",
      "steps": [{"name": "sixty-four lists at once", "request": {"method": "GET", "path": "/api/ipdrcustomers", "concurrent": 64}, "expect": {"body": {"$any": "array"}}}]
    }"#;
    let server = ScriptedServer::start(Script {
        delay_ms: 30,
        ..Script::default()
    });
    let results = server.run(vec![scenario(text)], false);
    let result = only(&results);
    assert_eq!(result.outcome.verdict, Verdict::Passed);
    assert_eq!(result.outcome.steps[0].exchanges.len(), 64);
    let most = server.state.max_in_flight.load(Ordering::SeqCst);
    assert!(
        most <= MAX_IN_FLIGHT,
        "{most} requests were in flight at once"
    );
    assert!(most >= 2, "the copies still overlap: {most}");
}

// ------------------------------------------------------------ skips

#[test]
fn deep_scenarios_run_only_with_deep() {
    let deep = r#"{
      "name": "engine::deep_list",
      "level": "documented",
      "citation": "Managing IPDR Customers › Retrieving Customer List",
      "tags": ["list", "deep"],
      "steps": [{"name": "list", "request": {"method": "GET", "path": "/api/ipdrcustomers"}, "expect": {"body": {"$any": "array"}}}]
    }"#;
    let server = ScriptedServer::start(Script::default());
    let dir = dir_with("deep", &[("deep.json", deep)]);
    let run = |extra: &[&str], env: Option<&str>| {
        let mut command = server.harness(false);
        command
            .arg("--specs")
            .arg(&dir)
            .args(["--skip", "property::"])
            .args(extra);
        if let Some(value) = env {
            command.env("IPDR_DEEP", value);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", stdout(&output));
        stdout(&output)
    };
    let default = run(&[], None);
    assert_eq!(counts(&default), (0, 0, 1), "{default}");
    assert!(
        default.contains("... skipped (opt-in deep mode: run with --deep)"),
        "{default}"
    );
    assert_eq!(counts(&run(&["--deep"], None)), (1, 0, 0));
    assert_eq!(counts(&run(&[], Some("true"))), (1, 0, 0));
    assert_eq!(counts(&run(&[], Some("1"))), (1, 0, 0));
    assert_eq!(counts(&run(&[], Some("0"))), (0, 0, 1));
}

#[test]
fn scenarios_needing_a_second_user_are_skipped_with_the_flags_to_give() {
    let text = r#"{
      "name": "engine::as_the_other_user",
      "level": "inferred",
      "citation": "Authentication",
      "steps": [{"name": "list as the other user", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": "other_user"}, "expect": {"body": {"$any": "array"}}}]
    }"#;
    let server = ScriptedServer::start(Script::default());
    let results = server.run(vec![scenario(text)], false);
    let Verdict::Ignored(reason) = &only(&results).outcome.verdict else {
        panic!("{:?}", results[0].outcome.verdict);
    };
    assert!(
        reason.contains("--other-username, --other-api-token, --other-context"),
        "{reason}"
    );
    let results = server.run(vec![scenario(text)], true);
    assert_eq!(only(&results).outcome.verdict, Verdict::Passed);
}

#[test]
fn a_tamper_that_cannot_spoil_the_configured_value_is_skipped() {
    let text = r#"{
      "name": "engine::case_changed_context",
      "level": "documented",
      "citation": "Authentication",
      "steps": [{"name": "list with the context's case swapped", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": {"tampered": {"field": "contextname", "tamper": "case_changed"}}}, "expect": {"answer": "refusal"}}]
    }"#;
    let server = ScriptedServer::start(Script::default());
    let mut target = server.target(false);
    target.context = "2024".to_string();
    let suite = Suite::new(Client::new(target).unwrap(), vec![scenario(text)]);
    let results = server.runtime.block_on(suite.run_all(1));
    let Verdict::Ignored(reason) = &only(&results).outcome.verdict else {
        panic!("{:?}", results[0].outcome.verdict);
    };
    assert!(
        reason.contains("contextname cannot be turned into"),
        "{reason}"
    );
    // With letters in the name, the tamper applies, and the target refuses it.
    assert_eq!(
        only(&server.run(vec![scenario(text)], false))
            .outcome
            .verdict,
        Verdict::Passed
    );
}

// ------------------------------------------------------------ cleanup as the other user

#[test]
fn records_created_as_the_other_user_are_deleted_as_the_other_user() {
    // The configured user may not list or delete in `restricted`; only the other user may.
    let text = r#"{
      "name": "engine::created_as_other",
      "level": "inferred",
      "citation": "Authentication",
      "steps": [
        {"name": "create as the other user in its context", "request": {"method": "POST", "path": "/api/ipdrcustomers", "auth": "other_user", "body": {"UserID": "${uid:a}", "Name": "Other"}}, "expect": {"body": {"$customer": {"UserID": "${uid:a}"}}}},
        {"name": "create with the other user's token, explicitly", "request": {"method": "POST", "path": "/api/ipdrcustomers", "auth": {"explicit": {"token_of": "other", "username": "${other_username}", "contextname": "${other_context}"}}, "body": {"UserID": "${uid:b}", "Name": "Other"}}, "expect": {"body": {"$customer": {"UserID": "${uid:b}"}}}},
        {"name": "a failing list, so the trial fails with both records there", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": "other_user"}, "expect": {"body": {"$any": "object"}}}
      ]
    }"#;
    let server = ScriptedServer::start(Script::default());
    let results = server.run(vec![scenario(text)], true);
    assert_eq!(only(&results).outcome.verdict, Verdict::Failed(2));
    assert!(server.left().is_empty(), "left: {:?}", server.left());
    // Through the binary, with the ledger on disk, the same.
    let dir = dir_with("as-other", &[("other.json", text)]);
    let output = server
        .harness(true)
        .arg("--specs")
        .arg(&dir)
        .args(["--skip", "property::"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(server.left().is_empty(), "left: {:?}", server.left());
}

// ------------------------------------------------------------ snapshot profiles and branches

#[test]
fn a_profile_recorded_on_one_branch_does_not_fail_a_server_that_takes_the_other() {
    let accepting = ScriptedServer::start(Script::default());
    let refusing = ScriptedServer::start(Script {
        refuse_unusual: true,
        ..Script::default()
    });
    let specs = dir_with("branches", &[("padded.json", PADDED_CREATE)]);
    let profiles = scratch("branch-profiles");
    let run = |server: &ScriptedServer, args: &[&str]| {
        let output = server
            .harness(false)
            .arg("--specs")
            .arg(&specs)
            .arg("--snapshots-dir")
            .arg(&profiles)
            .args(["--skip", "property::"])
            .args(args)
            .output()
            .unwrap();
        (output.status.code(), stdout(&output))
    };
    let (code, out) = run(&accepting, &["--record", "accepting"]);
    assert_eq!(code, Some(0), "{out}");
    let mut recorded: Vec<String> = std::fs::read_dir(profiles.join("accepting"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            "engine__padded_create__01_create_with_padded_values.snap",
            "engine__padded_create__02_accepted_the_list_holds_the_exact_values.snap"
        ],
        "the skipped step has no snapshot"
    );
    // The refusing server took the other branch: reported, not failed (-v lists every difference).
    let (code, out) = run(&refusing, &["--snapshots", "accepting", "-v"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("engine::padded_create · step 1 \"create with padded values\" (inferred) differs from profile accepting (one side accepted and the other refused; the page allows either here; reported; fails only under --strict)"),
        "{out}"
    );
    assert!(
        out.contains("step 3 \"refused: the list lacks the UserID\" (inferred) no snapshot in profile accepting"),
        "{out}"
    );
    assert!(
        !out.contains("step 2 \""),
        "a step the target skipped is not compared:\n{out}"
    );
    let (code, out) = run(&refusing, &["--snapshots", "accepting", "--strict"]);
    assert_eq!(
        code,
        Some(1),
        "under --strict every difference fails:\n{out}"
    );
    // And a server that takes the profile's branch but alters a value fails on the step itself.
    let trimming = ScriptedServer::start(Script {
        trim_values: true,
        ..Script::default()
    });
    let (code, out) = run(&trimming, &["--snapshots", "accepting"]);
    assert_eq!(code, Some(1), "{out}");
}
