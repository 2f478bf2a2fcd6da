//! `schemas/openapi.json` is true of the servers it describes: every answer
//! the reference server gives during a whole `run` (each flavour: the
//! reference, alt and strict) fits the document's response for its
//! operation and HTTP status (`default` for a status it does not list).
//! The answers are recorded by a loopback proxy between the harness and
//! the server.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use common::{harness_against, stdout, Server};
use ipdr_conformance::reference::{Flavour, ServerConfig};
use ipdr_conformance::spec::contract::{Operation, COLLECTION_PATH};
use ipdr_conformance::spec::schema::{JSON_SCHEMA_DIALECT, OPENAPI_FILE};
use serde_json::{json, Value};

/// One answer as it crossed the proxy.
#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    status: u16,
    content_type: String,
    body: Bytes,
}

#[derive(Clone)]
struct Relay {
    upstream: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Exchange>>>,
}

/// Headers a proxy does not pass on (hop by hop, or recomputed).
const NOT_RELAYED: [&str; 5] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

async fn relay(
    State(relay): State<Relay>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut request = relay
        .client
        .request(
            method.clone(),
            format!("{}{path_and_query}", relay.upstream),
        )
        .body(body);
    for (name, value) in &headers {
        if !NOT_RELAYED.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    let Ok(answer) = request.send().await else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .unwrap();
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    relay.seen.lock().unwrap().push(Exchange {
        method: method.to_string(),
        path: uri.path().to_string(),
        status: status.as_u16(),
        content_type: answer_headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: bytes.clone(),
    });
    let mut response = Response::builder().status(status.as_u16());
    for (name, value) in &answer_headers {
        if !NOT_RELAYED.contains(&name.as_str()) {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    response.body(Body::from(bytes)).unwrap()
}

/// Runs the whole suite against `flavour` through the recording proxy; every answer.
fn answers_of(flavour: Flavour) -> Vec<Exchange> {
    let server = Server::start(ServerConfig::builtin().with_flavour(flavour));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = Relay {
        upstream: server.url().trim_end_matches('/').to_string(),
        client: reqwest::Client::new(),
        seen: Arc::clone(&seen),
    };
    let app = axum::Router::new().fallback(relay).with_state(state);
    let listener = server
        .runtime
        .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
            [127, 0, 0, 1],
            0,
        ))))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    server.runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let output = harness_against(&format!("http://{addr}"))
        .output()
        .expect("the harness runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{flavour:?}: the suite passes through the proxy:\n{}",
        stdout(&output)
    );
    let answers = seen.lock().unwrap().clone();
    answers
}

/// The operation a request is, if the document describes it.
fn operation_of(method: &str, path: &str) -> Option<(Operation, String)> {
    let one = path
        .strip_prefix(COLLECTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|user_id| !user_id.is_empty() && !user_id.contains('/'));
    let op = Operation::ALL.into_iter().find(|op| {
        op.method() == method
            && if op.addresses_one_customer() {
                one.is_some()
            } else {
                path == COLLECTION_PATH
            }
    })?;
    let document_path = if op.addresses_one_customer() {
        format!("{COLLECTION_PATH}/{{UserID}}")
    } else {
        COLLECTION_PATH.to_string()
    };
    Some((op, document_path))
}

/// The committed document.
fn openapi() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(OPENAPI_FILE);
    serde_json::from_str(&std::fs::read_to_string(path).expect("schemas/openapi.json"))
        .expect("openapi.json is JSON")
}

/// The problems of one answer under the document, if any.
fn problems(openapi: &Value, exchange: &Exchange, op: Operation, path: &str) -> Option<String> {
    let responses = &openapi["paths"][path][op.method().to_ascii_lowercase()]["responses"];
    let status = exchange.status.to_string();
    let (key, response) = match responses.get(&status) {
        Some(response) => (status.as_str(), response),
        None => match responses.get("default") {
            Some(response) => ("default", response),
            None => {
                return Some(format!(
                    "HTTP {status} is not documented and there is no default"
                ))
            }
        },
    };
    let media = exchange
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let content = &response["content"];
    let declared = content
        .get(&media)
        .or_else(|| content.get("*/*"))
        .or_else(|| {
            let wildcard = format!("{}/*", media.split('/').next().unwrap_or_default());
            content.get(wildcard)
        });
    let Some(declared) = declared else {
        return Some(format!("{key}: the content type {media:?} is not declared"));
    };
    if !media.ends_with("json") {
        return None;
    }
    let body: Value = match serde_json::from_slice(&exchange.body) {
        Ok(body) => body,
        Err(error) => return Some(format!("{key}: {media} body is not JSON ({error})")),
    };
    let mut schema = declared["schema"].clone();
    schema["$schema"] = json!(JSON_SCHEMA_DIALECT);
    schema["components"] = openapi["components"].clone();
    let validator = jsonschema::draft202012::new(&schema).expect("the response schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|error| error.to_string())
        .collect();
    (!errors.is_empty()).then(|| format!("{key}: {body} → {}", errors.join("; ")))
}

fn check(flavour: Flavour) {
    let openapi = openapi();
    let answers = answers_of(flavour);
    let mut checked = 0;
    let mut failures = Vec::new();
    for exchange in &answers {
        let Some((op, path)) = operation_of(&exchange.method, &exchange.path) else {
            continue;
        };
        checked += 1;
        if let Some(problem) = problems(&openapi, exchange, op, &path) {
            failures.push(format!(
                "{} {} → HTTP {}: {problem}",
                exchange.method, exchange.path, exchange.status
            ));
        }
    }
    failures.sort();
    failures.dedup();
    assert!(
        checked > 1000,
        "{flavour:?}: only {checked} answers checked of {}",
        answers.len()
    );
    assert!(
        failures.is_empty(),
        "{flavour:?}: {} answer(s) of {checked} do not fit schemas/openapi.json:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_reference_answer_fits_the_openapi_document() {
    check(Flavour::Reference);
}

#[test]
fn every_alt_flavour_answer_fits_the_openapi_document() {
    check(Flavour::Alt);
}

#[test]
fn every_strict_flavour_answer_fits_the_openapi_document() {
    check(Flavour::Strict);
}
