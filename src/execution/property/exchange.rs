//! Sending one model request to the target: the body with its auth, the
//! safety check on UserIDs, the cleanup ledger, and what came back.

use serde_json::{Map, Value};

use crate::execution::client::{Client, Exchange};
use crate::execution::guard::{can_change_data, clear_mutation, GuardError};
use crate::execution::list_stream::{Glance, KeepWhere, Kind};
use crate::execution::scenario_run::{CleanupLedger, RunIdentity};
use crate::spec::model::{operation_tag, owns_by_texts, Auth, Observed, Request, Violation};
use crate::spec::scenario::{Level, Principal};
use crate::spec::tamper::AuthField;

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
    /// The tamper cannot spoil the configured value (e.g. a case swap of a value without letters).
    #[error("{0} cannot be {1} for the configured value")]
    Untamperable(&'static str, &'static str),
    /// The cleanup ledger could not record the UserID, so the request is not sent.
    #[error("refused to send: the cleanup ledger could not record it: {0}")]
    Ledger(String),
    /// The guard refused the request (see [`clear_mutation`]).
    #[error("{0}")]
    Refused(GuardError),
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

/// Where a record a request may create would live, with whose credentials delete it.
/// A context the user may not use (forbidden, or one that does not exist) is a place
/// too: a server that wrongly acts there keeps the record there, and the DELETE sent
/// with the same context is the one it would honour ("Authentication").
pub fn cleanup_places(
    client: &Client,
    identity: &RunIdentity,
    auth: Auth,
) -> Vec<(Principal, String)> {
    let target = client.target();
    let configured = |context: &String| (Principal::Configured, context.clone());
    match auth {
        // A spoiled parameter must be refused; if a server acts anyway, it most likely acts
        // in the configured context (a near-miss context name taken for the real one).
        Auth::Configured | Auth::InvalidToken | Auth::Tampered(..) => {
            vec![configured(&target.context)]
        }
        Auth::SecondContext => target.second_context.iter().map(configured).collect(),
        // A borrowed username: a server that lets privileges follow the name acts as the
        // other user, who may delete there too; in the other user's context only it may.
        Auth::OtherUsername => std::iter::once(configured(&target.context))
            .chain(
                target
                    .other
                    .iter()
                    .map(|_| (Principal::Other, target.context.clone())),
            )
            .collect(),
        Auth::OtherUsernameInOtherContext => target
            .other
            .iter()
            .map(|other| (Principal::Other, other.context.clone()))
            .collect(),
        // Not listable by the configured user; a refused DELETE there costs one request.
        Auth::ForbiddenContext => target.forbidden_context.iter().map(configured).collect(),
        Auth::InvalidContext | Auth::InvalidTokenAndContext => {
            vec![configured(&identity.invalid_context())]
        }
    }
}

/// The JSON body: auth parameters first ("Authentication": in the body of every request), then the fields.
pub fn body(
    client: &Client,
    identity: &RunIdentity,
    request: &Request,
) -> Result<String, SendError> {
    let target = client.target();
    let string = |text: String| Some(Value::String(text));
    let mut token = string(target.api_token.expose().to_string());
    let mut username = string(target.username.clone());
    let mut contextname = string(target.context.clone());
    match request.auth {
        Auth::Configured => {}
        Auth::InvalidToken => token = string(identity.invalid_token()),
        Auth::SecondContext => {
            contextname = string(
                target
                    .second_context
                    .clone()
                    .ok_or(SendError::Unconfigured("a second context"))?,
            )
        }
        Auth::InvalidContext => contextname = string(identity.invalid_context()),
        Auth::ForbiddenContext => {
            contextname = string(
                target
                    .forbidden_context
                    .clone()
                    .ok_or(SendError::Unconfigured("a forbidden context"))?,
            )
        }
        Auth::InvalidTokenAndContext => {
            token = string(identity.invalid_token());
            contextname = string(identity.invalid_context());
        }
        Auth::OtherUsername | Auth::OtherUsernameInOtherContext => {
            let other = target
                .other
                .as_ref()
                .ok_or(SendError::Unconfigured("a second user"))?;
            username = string(other.username.clone());
            if request.auth == Auth::OtherUsernameInOtherContext {
                contextname = string(other.context.clone());
            }
        }
        Auth::Tampered(field, tamper) => {
            let slot = match field {
                AuthField::ApiToken => &mut token,
                AuthField::Username => &mut username,
                AuthField::Contextname => &mut contextname,
            };
            let configured = match slot {
                Some(Value::String(text)) => text.clone(),
                _ => String::new(),
            };
            *slot = tamper
                .apply(&configured)
                .ok_or(SendError::Untamperable(field.key(), tamper.describe()))?;
        }
    }
    let mut map = Map::new();
    for (field, value) in AuthField::ALL
        .into_iter()
        .zip([token, username, contextname])
    {
        if let Some(value) = value {
            map.insert(field.key().to_string(), value);
        }
    }
    map.extend(request.fields());
    Ok(Value::Object(map).to_string())
}

/// Citation of the rule that the token is a secret.
const SECRET_CITATION: &str = "Generating API Key: \"This token grants authentication and authorization for all API operations\"";

/// A violation if the answer of `step` carries one of the target's secrets
/// ([`crate::execution::target::Target::secrets`]) in its body or a header;
/// the message names the secret by label, never its value.
pub fn echoed_secret(client: &Client, step: &Step) -> Option<Violation> {
    let response = step.exchange.response.as_ref().ok()?;
    let target = client.target();
    for secret in target.secrets() {
        if secret.is_empty() {
            continue;
        }
        let label = if secret == target.api_token.expose() {
            "the API token (--api-token)"
        } else {
            "the other user's API token (--other-api-token)"
        };
        let place = if response.body_contains_secret(secret) {
            "its body".to_string()
        } else if let Some((name, _)) = response
            .headers
            .iter()
            .find(|(name, value)| value.contains(secret) || name.contains(secret))
        {
            format!("its {name} header")
        } else {
            continue;
        };
        let request = &step.request;
        return Some(Violation {
            level: Level::Inferred,
            citation: SECRET_CITATION.to_string(),
            topic: format!(
                "security secret token echoed {} {}",
                operation_tag(request.operation()),
                request.auth.topic()
            ),
            message: format!(
                "an answer never contains a secret, but {place} contains {label}\n  sent:     {}\n  got:      HTTP {} (the body is not shown: it holds the secret)\n  expected: no answer that echoes a token",
                request.describe(),
                response.status
            ),
        });
    }
    None
}

/// Sends `request`: a mutating one passes the guard ([`clear_mutation`]: its UserIDs, on
/// the URL as the client sends it, carry the run prefix), and the (context, UserID) it may
/// create goes to `ledger` (and its file, against a real target) before the request goes
/// out. The ledger holds the UserID as the path segment that deletes it
/// ([`crate::spec::contract::path_segment`]): a literal `%30` is recorded as `%2530`, the
/// way cleanup and `sweep` send it.
pub async fn send(
    client: &Client,
    identity: &RunIdentity,
    ledger: &CleanupLedger,
    request: &Request,
    own_prefix: &str,
) -> Result<Exchange, SendError> {
    let op = request.operation();
    let body = body(client, identity, request)?;
    let path = request.path();
    if !can_change_data(op.method()) {
        // A list keeps only the case's records, all the model looks at, however long it is.
        // Shared with the other cases and steps asking for the same list at the same time.
        let own_prefix = own_prefix.to_string();
        let sink = KeepWhere(move |element: &Glance| {
            element.kind == Kind::Object
                && owns_by_texts(element.user_id_text(), element.name_text(), &own_prefix)
        });
        let (exchange, _) = client
            .send_shared_list(op.method(), &path, Some(body), sink)
            .await;
        return Ok(exchange);
    }
    let prefix = identity.uid_prefix();
    if let Some(user_id) = request.user_id() {
        // A variant in another case is not this run's on a case-sensitive server.
        if !user_id.starts_with(&prefix) {
            return Err(SendError::ForeignUserId {
                method: op.method(),
                path,
                user_id: user_id.to_string(),
                prefix,
            });
        }
    }
    let cleared = clear_mutation(client.target(), op.method(), &path, Some(&body), &prefix)
        .map_err(SendError::Refused)?;
    for segment in cleared.ledger_segments() {
        for (principal, context) in cleanup_places(client, identity, request.auth) {
            ledger
                .record(principal, &context, segment)
                .map_err(SendError::Ledger)?;
        }
    }
    Ok(client.send_cleared(&cleared).await)
}
