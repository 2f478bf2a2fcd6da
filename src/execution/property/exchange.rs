//! Sending one model request to the target: the body with its auth, the
//! safety check on UserIDs, the cleanup ledger, and what came back.

use serde_json::{Map, Value};

use crate::execution::client::{Client, Exchange};
use crate::execution::scenario_run::{CleanupLedger, RunIdentity};
use crate::spec::model::{Auth, Observed, Request};

/// One request as sent, and its answer.
#[derive(Debug, Clone)]
pub struct Step {
    /// The model request (concrete UserIDs).
    pub request: Request,
    /// The HTTP exchange.
    pub exchange: Exchange,
    /// Whether this is the list the harness adds after a sequence.
    pub final_check: bool,
}

impl Step {
    /// The answer as the model sees it, if one came back.
    pub fn observed(&self) -> Option<Observed> {
        observe(&self.exchange)
    }
}

/// The answer of `exchange` as the model sees it.
pub fn observe(exchange: &Exchange) -> Option<Observed> {
    exchange.response.as_ref().ok().map(|response| Observed {
        status: response.status,
        json_content_type: response.has_json_content_type(),
        body: response.json.clone(),
    })
}

/// Why a request was not sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The auth variant needs a context the target does not have configured.
    #[error("{0} is not configured")]
    Unconfigured(&'static str),
    /// A mutating request would touch a record that is not this run's.
    #[error("refused to send {method} {path}: UserID {user_id:?} does not carry this run's prefix {prefix:?}")]
    ForeignUserId {
        /// HTTP method.
        method: &'static str,
        /// Path.
        path: String,
        /// The offending UserID.
        user_id: String,
        /// This run's prefix.
        prefix: String,
    },
}

/// The context a request's auth names, if the harness can list and clean it.
pub fn cleanable_context(client: &Client, auth: Auth) -> Option<String> {
    let target = client.target();
    match auth {
        Auth::Configured | Auth::InvalidToken => Some(target.context.clone()),
        Auth::SecondContext => target.second_context.clone(),
        // Neither can be listed or cleaned with the configured credentials.
        Auth::InvalidContext | Auth::ForbiddenContext => None,
    }
}

/// The JSON body: auth parameters first ("Authentication": in the body of every request), then the fields.
pub fn body(
    client: &Client,
    identity: &RunIdentity,
    request: &Request,
) -> Result<String, SendError> {
    let target = client.target();
    let mut map = Map::new();
    let token = match request.auth {
        Auth::InvalidToken => identity.invalid_token(),
        _ => target.api_token.expose().to_string(),
    };
    let contextname = match request.auth {
        Auth::Configured | Auth::InvalidToken => target.context.clone(),
        Auth::SecondContext => target
            .second_context
            .clone()
            .ok_or(SendError::Unconfigured("a second context"))?,
        Auth::InvalidContext => identity.invalid_context(),
        Auth::ForbiddenContext => target
            .forbidden_context
            .clone()
            .ok_or(SendError::Unconfigured("a forbidden context"))?,
    };
    map.insert("api_token".to_string(), Value::String(token));
    map.insert(
        "username".to_string(),
        Value::String(target.username.clone()),
    );
    map.insert("contextname".to_string(), Value::String(contextname));
    map.extend(request.fields());
    Ok(Value::Object(map).to_string())
}

/// Sends `request`: refuses a mutating one whose UserID lacks the run prefix, and writes
/// the (context, UserID) to `ledger` before the request goes out.
pub async fn send(
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    request: &Request,
) -> Result<Exchange, SendError> {
    let op = request.operation();
    let body = body(client, identity, request)?;
    let path = request.path();
    if op.method() != "GET" {
        let prefix = identity.uid_prefix();
        if let Some(user_id) = request.user_id() {
            // Safety: the harness never modifies a record it did not create.
            if !user_id.starts_with(&prefix) {
                return Err(SendError::ForeignUserId {
                    method: op.method(),
                    path,
                    user_id: user_id.to_string(),
                    prefix,
                });
            }
            if let Some(context) = cleanable_context(client, request.auth) {
                ledger.record_for_sweep(&context, user_id);
            }
        }
    }
    Ok(client.send(op.method(), &path, Some(body)).await)
}
