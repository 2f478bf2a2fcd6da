//! The axum routes: parse the body, authenticate, validate, operate.
//!
//! Order of checks for every request (the reference's choice where the page
//! is silent): JSON parse → token → context exists → user may access context
//! ("Error Handling", in the page's order) → field validation → operation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use serde_json::{Map, Value};

use crate::spec::contract::{
    DocumentedError, AUTH_FIELDS, COLLECTION_PATH, CREATE_MANDATORY_FIELDS, FULL_UPDATE_FIELDS,
};

use super::deviation::Deviations;
use super::fixture::UsersFixture;
use super::flavour::Flavour;
use super::reply::{render, Reply};
use super::store::{FieldChanges, Store};
use super::unspecified::UnspecifiedError;

// Body keys, taken from the contract's tables (positions checked by a unit test).
const API_TOKEN: &str = AUTH_FIELDS[0];
const USERNAME: &str = AUTH_FIELDS[1];
const CONTEXTNAME: &str = AUTH_FIELDS[2];
const NAME: &str = FULL_UPDATE_FIELDS[0];
const ADDRESS: &str = FULL_UPDATE_FIELDS[1];
const EMAIL: &str = FULL_UPDATE_FIELDS[2];
const PHONE_NUMBER: &str = FULL_UPDATE_FIELDS[3];
const ALT_PHONE_NUMBER: &str = FULL_UPDATE_FIELDS[4];
const USER_ID: &str = FULL_UPDATE_FIELDS[5];

/// A request body: always a JSON object.
type Body = Map<String, Value>;

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct App {
    pub fixture: UsersFixture,
    pub deviations: Deviations,
    pub flavour: Flavour,
    pub store: Store,
}

/// The routes of the API ("Managing IPDR Customers": one table per operation).
pub(crate) fn router(app: Arc<App>) -> Router {
    let one_customer = format!("{COLLECTION_PATH}/{{user_id}}");
    Router::new()
        .route(COLLECTION_PATH, get(list).post(create))
        .route(
            &one_customer,
            put(full_update).patch(partial_update).delete(delete),
        )
        .with_state(app)
}

/// A user allowed into a context.
struct Access {
    context: String,
}

/// A request refused by one of the documented checks.
struct Denied {
    error: DocumentedError,
    username: String,
    contextname: String,
}

impl Denied {
    fn new(error: DocumentedError, username: Option<&str>, contextname: String) -> Self {
        Denied {
            error,
            username: username.unwrap_or_default().to_string(),
            contextname,
        }
    }

    fn into_reply(self) -> Reply {
        Reply::documented(self.error, &self.username, &self.contextname)
    }
}

impl App {
    /// Runs the common steps, then `operate`, and renders the answer.
    fn respond(
        &self,
        body: &[u8],
        operate: impl FnOnce(&Self, &Body, &Access) -> Result<Reply, UnspecifiedError>,
    ) -> Response {
        let reply = match parse_body(body) {
            Err(malformed) => Reply::from(malformed),
            Ok(body) => match self.authenticate(&body) {
                Err(denied) => denied.into_reply(),
                Ok(access) => operate(self, &body, &access).unwrap_or_else(Reply::from),
            },
        };
        render(&self.deviations.rewrite_reply(reply), self.flavour)
    }

    /// The three documented checks, in the page's order ("Error Handling").
    fn authenticate(&self, body: &Body) -> Result<Access, Denied> {
        let token = body.get(API_TOKEN).and_then(Value::as_str);
        let username = body.get(USERNAME).and_then(Value::as_str);
        // A missing contextname reads as "", a non-string one as its JSON text.
        let contextname = match body.get(CONTEXTNAME) {
            None => String::new(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => other.to_string(),
        };

        // "Invalid API Token". Unspecified: a token is valid only as the
        // token of the named user; a missing username fails here too.
        let user = match (token, username) {
            (Some(token), Some(username)) => self
                .fixture
                .user(username)
                .filter(|user| user.api_token == token),
            _ => None,
        };
        let Some(user) = user else {
            return Err(Denied::new(
                DocumentedError::InvalidToken,
                username,
                contextname,
            ));
        };

        // "Invalid Context Name": the context must exist (and be a string).
        let context_is_string = matches!(body.get(CONTEXTNAME), Some(Value::String(_)));
        if !context_is_string || !self.fixture.has_context(&contextname) {
            return Err(Denied::new(
                DocumentedError::InvalidContext,
                username,
                contextname,
            ));
        }

        // "Unauthorized Context Access": access is context-specific ("Authentication").
        if !user.may_access(&contextname) {
            return Err(Denied::new(
                DocumentedError::ForbiddenContext,
                username,
                contextname,
            ));
        }
        Ok(Access {
            context: contextname,
        })
    }
}

/// Unspecified: a body that is not JSON, or not a JSON object, is malformed.
fn parse_body(bytes: &[u8]) -> Result<Body, UnspecifiedError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(UnspecifiedError::MalformedJson),
    }
}

/// The customer fields present in a body, keyed by contract name.
///
/// Unspecified: a present field that is not a JSON string (number, null,
/// bool, array, object) is rejected, first offender in FULL_UPDATE_FIELDS
/// order; unknown keys are ignored.
fn present_fields(body: &Body) -> Result<BTreeMap<&'static str, String>, UnspecifiedError> {
    let mut present = BTreeMap::new();
    for field in FULL_UPDATE_FIELDS {
        match body.get(field) {
            None => {}
            Some(Value::String(value)) => {
                present.insert(field, value.clone());
            }
            Some(_) => return Err(UnspecifiedError::InvalidFieldType(field)),
        }
    }
    Ok(present)
}

/// Unspecified: missing mandatory fields are all listed, in `required` order.
fn require(
    present: &BTreeMap<&'static str, String>,
    required: &[&'static str],
) -> Result<(), UnspecifiedError> {
    let missing: Vec<&'static str> = required
        .iter()
        .copied()
        .filter(|field| !present.contains_key(field))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(UnspecifiedError::MissingFields(missing))
    }
}

/// Unspecified: PUT/PATCH may not carry a UserID other than the path's.
fn require_same_user_id(
    present: &BTreeMap<&'static str, String>,
    path_user_id: &str,
) -> Result<(), UnspecifiedError> {
    match present.get(USER_ID) {
        Some(body_user_id) if body_user_id != path_user_id => Err(UnspecifiedError::UserIdMismatch),
        _ => Ok(()),
    }
}

/// The non-key fields among `present`; absent ones stay `None`.
fn changes(mut present: BTreeMap<&'static str, String>) -> FieldChanges {
    FieldChanges {
        name: present.remove(NAME),
        address: present.remove(ADDRESS),
        email: present.remove(EMAIL),
        phone_number: present.remove(PHONE_NUMBER),
        alt_phone_number: present.remove(ALT_PHONE_NUMBER),
    }
}

/// GET /api/ipdrcustomers ("Retrieving Customer List"): the context's customers, in id order.
async fn list(State(app): State<Arc<App>>, body: Bytes) -> Response {
    app.respond(&body, |app, _body, access| {
        Ok(Reply::Customers(app.store.list(&access.context)))
    })
}

/// POST /api/ipdrcustomers ("Creating a New Customer"): only UserID and Name are mandatory.
async fn create(State(app): State<Arc<App>>, body: Bytes) -> Response {
    app.respond(&body, |app, body, access| {
        let mut present = present_fields(body)?;
        require(&present, &CREATE_MANDATORY_FIELDS)?;
        let user_id = present
            .remove(USER_ID)
            .ok_or_else(|| UnspecifiedError::MissingFields(vec![USER_ID]))?;
        let customer = app
            .store
            .create(&access.context, user_id, changes(present))?;
        Ok(Reply::Customer(customer))
    })
}

/// PUT /api/ipdrcustomers/{UserID} ("Updating Customer Information"): every field required.
async fn full_update(
    State(app): State<Arc<App>>,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Response {
    app.respond(&body, |app, body, access| {
        let present = present_fields(body)?;
        require(&present, &FULL_UPDATE_FIELDS)?;
        require_same_user_id(&present, &user_id)?;
        let customer = app
            .store
            .update(&access.context, &user_id, changes(present))?;
        Ok(Reply::Customer(customer))
    })
}

/// PATCH /api/ipdrcustomers/{UserID} ("Partially Updating Customer Information"): any subset.
async fn partial_update(
    State(app): State<Arc<App>>,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Response {
    app.respond(&body, |app, body, access| {
        let present = present_fields(body)?;
        require_same_user_id(&present, &user_id)?;
        let customer = app
            .store
            .update(&access.context, &user_id, changes(present))?;
        Ok(Reply::Customer(customer))
    })
}

/// DELETE /api/ipdrcustomers/{UserID} ("Deleting a Customer"): returns the deleted object.
async fn delete(State(app): State<Arc<App>>, Path(user_id): Path<String>, body: Bytes) -> Response {
    app.respond(&body, |app, _body, access| {
        let customer = app.store.delete(&access.context, &user_id)?;
        Ok(Reply::Customer(customer))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::contract::Customer;

    #[test]
    fn field_constants_are_the_contract_names() {
        assert_eq!(
            [API_TOKEN, USERNAME, CONTEXTNAME],
            ["api_token", "username", "contextname"]
        );
        let customer = Customer {
            id: 1,
            name: "n".into(),
            address: "a".into(),
            email: "e".into(),
            phone_number: "p".into(),
            alt_phone_number: "q".into(),
            user_id: "u".into(),
        };
        let value = serde_json::to_value(&customer).expect("serialises");
        let expected = [
            (NAME, "n"),
            (ADDRESS, "a"),
            (EMAIL, "e"),
            (PHONE_NUMBER, "p"),
            (ALT_PHONE_NUMBER, "q"),
            (USER_ID, "u"),
        ];
        for (key, want) in expected {
            assert_eq!(value[key], want, "{key}");
        }
    }
}
