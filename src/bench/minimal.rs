//! The yardstick for the reference server's ceiling: a minimal axum server
//! doing the same work in memory (parse the JSON body, check the
//! credentials, list or create) and nothing else.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::spec::contract::{Customer, COLLECTION_PATH};

struct Inner {
    customers: Vec<Customer>,
    user_ids: HashSet<String>,
    next_id: i64,
}

struct Minimal {
    api_token: String,
    username: String,
    inner: Mutex<Inner>,
}

/// A running minimal server; aborted on drop.
pub struct MinimalServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MinimalServer {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for MinimalServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the minimal server on a free loopback port with `preload` customers.
pub async fn start(
    api_token: &str,
    username: &str,
    preload: Vec<Customer>,
) -> std::io::Result<MinimalServer> {
    let next_id = preload
        .iter()
        .map(|customer| customer.id)
        .max()
        .unwrap_or(0)
        + 1;
    let state = Arc::new(Minimal {
        api_token: api_token.to_string(),
        username: username.to_string(),
        inner: Mutex::new(Inner {
            user_ids: preload.iter().map(|c| c.user_id.clone()).collect(),
            customers: preload,
            next_id,
        }),
    });
    let router = Router::new()
        .route(COLLECTION_PATH, get(list).post(create))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(MinimalServer { addr, task })
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn error(message: &str) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_vec(&serde_json::json!({"status":"Error","message":message}))
            .unwrap_or_default(),
    )
}

/// Parses the body and checks the credentials; the body on success.
fn admit(state: &Minimal, body: &[u8]) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(error("Malformed JSON body")));
    };
    let field = |key: &str| map.get(key).and_then(Value::as_str);
    if field("api_token") != Some(state.api_token.as_str())
        || field("username") != Some(state.username.as_str())
    {
        return Err(Box::new(error("Invalid API token")));
    }
    if field("contextname") != Some("default") {
        return Err(Box::new(error("Invalid context")));
    }
    Ok(map)
}

async fn list(State(state): State<Arc<Minimal>>, body: Bytes) -> Response {
    if let Err(refused) = admit(&state, &body) {
        return *refused;
    }
    let rendered = {
        let inner = state.inner.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::to_vec(&inner.customers).unwrap_or_default()
    };
    json(StatusCode::OK, rendered)
}

async fn create(State(state): State<Arc<Minimal>>, body: Bytes) -> Response {
    let map = match admit(&state, &body) {
        Ok(map) => map,
        Err(refused) => return *refused,
    };
    let text = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (user_id, name) = (text("UserID"), text("Name"));
    if user_id.is_empty() || name.is_empty() {
        return error("Missing mandatory field(s): UserID, Name");
    }
    let mut inner = state.inner.lock().unwrap_or_else(|p| p.into_inner());
    if !inner.user_ids.insert(user_id.clone()) {
        return error("already exists");
    }
    let customer = Customer {
        id: inner.next_id,
        name,
        address: text("Address"),
        email: text("Email"),
        phone_number: text("PhoneNumber"),
        alt_phone_number: text("AltPhoneNumber"),
        user_id,
    };
    inner.next_id += 1;
    let rendered = serde_json::to_vec(&customer).unwrap_or_default();
    inner.customers.push(customer);
    drop(inner);
    json(StatusCode::OK, rendered)
}
