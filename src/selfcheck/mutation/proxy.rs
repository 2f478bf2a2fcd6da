//! The mutating proxy: an HTTP server on a free loopback port that forwards
//! every request (method, path, query, headers, body: GET and DELETE carry
//! JSON bodies, "Authentication") to an upstream base URL, and applies at
//! most one [`Mutant`] to the traffic of its scope.
//!
//! With no mutant it forwards faithfully: the status, the headers (but the
//! hop-by-hop ones) and the body bytes are the upstream's. When the upstream
//! fails without answering, the proxy answers with a body that breaks off, so
//! the harness sees a network error, as it would without the proxy.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::operator::Mutant;
use super::request::{self, path_user_id, KnownCredentials, Outgoing};
use super::response::{self, Answer};
use crate::execution::client::MAX_BODY_BYTES;
use crate::spec::contract::{Operation, COLLECTION_PATH};

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No loopback port could be bound.
    #[error("the mutating proxy could not listen on loopback: {0}")]
    Bind(std::io::Error),
    /// The upstream client could not be built.
    #[error("the mutating proxy's upstream client: {0}")]
    Client(String),
}

/// Headers that belong to one connection, not to the message ("hop-by-hop", RFC 9110 §7.6.1),
/// and the ones the HTTP stack computes again.
const NOT_FORWARDED: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

/// The operation a request is, from its method and path ("Managing IPDR Customers").
pub fn operation_of(method: &str, path: &str) -> Option<Operation> {
    let operation = Operation::from_method(method)?;
    let addresses_one = path_user_id(path).is_some();
    let addresses_all = path == COLLECTION_PATH;
    match operation {
        Operation::List | Operation::Create if addresses_all => Some(operation),
        _ if operation.addresses_one_customer() && addresses_one => Some(operation),
        _ => None,
    }
}

/// What the proxy's requests share.
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    mutant: Option<Mutant>,
    known: KnownCredentials,
    applications: AtomicU64,
    /// Answers given so far.
    answers: AtomicU64,
    /// UserIDs named by requests whose traffic was edited.
    touched: Mutex<BTreeSet<String>>,
    /// UserIDs of this run that answers have shown (customer objects).
    existing: Mutex<BTreeSet<String>>,
}

/// A running proxy; stopped by [`MutatingProxy::shutdown`] or on drop.
pub struct MutatingProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MutatingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutatingProxy")
            .field("addr", &self.addr)
            .field("mutant", &self.state.mutant)
            .finish_non_exhaustive()
    }
}

impl MutatingProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (a base
    /// URL), applying `mutant` (None: forwarding only), with `timeout` per
    /// upstream exchange.
    pub async fn start(
        upstream: &str,
        mutant: Option<Mutant>,
        known: KnownCredentials,
        timeout: Duration,
    ) -> Result<MutatingProxy, ProxyError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // Redirects reach the harness as they are: it decides whether to follow them.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|error| ProxyError::Client(error.to_string()))?;
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            mutant,
            known,
            applications: AtomicU64::new(0),
            answers: AtomicU64::new(0),
            touched: Mutex::new(BTreeSet::new()),
            existing: Mutex::new(BTreeSet::new()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let router = Router::new()
            .fallback(forward)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                eprintln!("warning: the mutating proxy stopped: {error}");
            }
        });
        Ok(MutatingProxy {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://<addr>`: the base URL the harness talks to.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests or answers the mutant edited so far.
    pub fn applications(&self) -> u64 {
        self.state.applications.load(Ordering::Relaxed)
    }

    /// The UserIDs named (in the path or the body's `UserID`) by requests whose traffic was edited.
    pub fn touched_user_ids(&self) -> BTreeSet<String> {
        self.state
            .touched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Stops accepting and waits (briefly) for open exchanges to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for MutatingProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A body that fails at once: the harness sees the exchange break off, like the upstream's did.
struct BrokenOff(Option<String>);

impl futures_core::Stream for BrokenOff {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(
            self.0
                .take()
                .map(|reason| Err(std::io::Error::other(reason))),
        )
    }
}

fn broken_off(reason: String) -> Response {
    let mut response = Response::new(Body::from_stream(BrokenOff(Some(reason))));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

/// The UserIDs a request names, for the report of where a mutant applied.
fn named_user_ids(path: &str, json: Option<&Value>) -> Vec<String> {
    path_user_id(path)
        .map(str::to_string)
        .into_iter()
        .chain(
            json.and_then(|json| json.get("UserID"))
                .and_then(Value::as_str)
                .map(str::to_string),
        )
        .collect()
}

/// Adds the run's UserIDs that an answer's customer objects show to what exists.
fn remember_user_ids(state: &ProxyState, json: &Value) {
    let customers: Vec<&Value> = match json {
        Value::Array(elements) => elements.iter().collect(),
        other => vec![other],
    };
    let mut existing = state
        .existing
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for customer in customers {
        if let Some(user_id) = customer.get("UserID").and_then(Value::as_str) {
            if user_id.starts_with(&state.known.uid_prefix) {
                existing.insert(user_id.to_string());
            }
        }
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = operation_of(method.as_str(), uri.path());
    let mutant = state.mutant.filter(|mutant| mutant.applies_to(operation));
    let mut path = uri.path().to_string();
    let mut body = body;
    let request_json: Option<Value> = serde_json::from_slice(&body).ok();
    let mut edited = false;
    if let Some(mutant) = mutant.filter(|mutant| mutant.operator.edits_request()) {
        let mut outgoing = Outgoing {
            path: path.clone(),
            json: request_json.clone(),
        };
        let existing = state
            .existing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if request::apply(&mutant.operator, &mut outgoing, &state.known, &existing) {
            edited = true;
            if outgoing.json != request_json {
                if let Some(json) = &outgoing.json {
                    body = Bytes::from(json.to_string());
                }
            }
            path = outgoing.path;
        }
    }
    let query = uri
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let mut upstream = state
        .client
        .request(method, format!("{}{path}{query}", state.upstream))
        .body(body);
    for (name, value) in &headers {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let mut received = match upstream.send().await {
        Ok(received) => received,
        Err(error) => return broken_off(format!("upstream: {error}")),
    };
    let status = received.status().as_u16();
    let upstream_headers = received.headers().clone();
    let mut bytes = Vec::new();
    loop {
        match received.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                // The harness stops reading here too; more only costs memory.
                if bytes.len() > MAX_BODY_BYTES {
                    break;
                }
            }
            Ok(None) => break,
            Err(error) => return broken_off(format!("upstream body: {error}")),
        }
    }
    let mut answer_status = status;
    let mut answer_bytes = Bytes::from(bytes);
    let mut set_headers = Vec::new();
    let sequence = state.answers.fetch_add(1, Ordering::Relaxed);
    let tracks_existing = matches!(
        state.mutant.map(|mutant| mutant.operator),
        Some(super::operator::Operator::NearMissUserIdAsExisting)
    );
    if tracks_existing {
        if let Ok(json) = serde_json::from_slice::<Value>(&answer_bytes) {
            remember_user_ids(&state, &json);
        }
    }
    if let Some(mutant) = mutant.filter(|mutant| !mutant.operator.edits_request()) {
        let json: Option<Value> = serde_json::from_slice(&answer_bytes).ok();
        let content_type = upstream_headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let mut answer = Answer::new(status, json.clone(), content_type);
        answer.sequence = sequence;
        if response::apply(&mutant.operator, &mut answer) {
            edited = true;
            answer_status = answer.status;
            if answer.json != json {
                if let Some(json) = &answer.json {
                    answer_bytes = Bytes::from(json.to_string());
                }
            }
            set_headers = answer.set_headers;
        }
    }
    if edited {
        state.applications.fetch_add(1, Ordering::Relaxed);
        state
            .touched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(named_user_ids(uri.path(), request_json.as_ref()));
    }
    let mut response = Response::new(Body::from(answer_bytes));
    *response.status_mut() =
        StatusCode::from_u16(answer_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &upstream_headers {
        if !NOT_FORWARDED.contains(&name.as_str()) {
            response.headers_mut().append(name, value.clone());
        }
    }
    for (name, value) in set_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_come_from_method_and_path() {
        let one = format!("{COLLECTION_PATH}/B68t19");
        assert_eq!(operation_of("GET", COLLECTION_PATH), Some(Operation::List));
        assert_eq!(
            operation_of("POST", COLLECTION_PATH),
            Some(Operation::Create)
        );
        assert_eq!(operation_of("PUT", &one), Some(Operation::FullUpdate));
        assert_eq!(operation_of("PATCH", &one), Some(Operation::PartialUpdate));
        assert_eq!(operation_of("DELETE", &one), Some(Operation::Delete));
        assert_eq!(operation_of("GET", &one), None);
        assert_eq!(operation_of("DELETE", COLLECTION_PATH), None);
        assert_eq!(operation_of("POST", &one), None);
        assert_eq!(operation_of("GET", "/other"), None);
    }
}
