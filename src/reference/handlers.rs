//! The axum routes: parse the body, authenticate, validate, operate.
//!
//! Order of checks for every request (the reference's choice where the page
//! is silent): JSON parse → token → context exists → user may access context
//! ("Error Handling", in the page's order) → field validation → operation.
//! The strict flavour validates first and checks the context before the
//! token ([`Flavour::check_order`]).
//!
//! Every request goes through [`App::handle`]: admission (parse, the
//! flavour's validation and the documented checks), the operation, then
//! [`App::finish`] (deviation rewrites, rendering, flavour headers).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use serde_json::{Map, Value};

use crate::spec::contract::{
    DocumentedError, Operation, AUTH_FIELDS, COLLECTION_PATH, CREATE_MANDATORY_FIELDS,
    FULL_UPDATE_FIELDS,
};

use super::deviation::{AuthCheck, Deviations, Exchange, NameKind, SentToken};
use super::fixture::{FixtureUser, UsersFixture};
use super::flavour::{Flavour, UnknownPut, UserIdMismatch};
use super::reply::{render, render_serialized, render_streamed, Reply};
use super::store::{FieldChanges, Store};
use super::unspecified::UnspecifiedError;
use super::validation;

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
    /// Requests answered so far (numbers the flavour's request ids).
    pub requests: AtomicU64,
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

/// One incoming request, as the handlers pass it on.
struct Incoming<'a> {
    op: Operation,
    uri: &'a Uri,
    /// The path's UserID (decoded once by the router), for PUT, PATCH and DELETE.
    path_user_id: Option<&'a str>,
    bytes: &'a [u8],
}

/// A user allowed into a context.
struct Access {
    /// The context the request acts in (the fixture's spelling).
    context: String,
    /// A documented error to answer although the operation ran (a deviation).
    answer_instead: Option<Denied>,
}

/// A request refused by one of the documented checks.
struct Denied {
    error: DocumentedError,
    username: String,
    contextname: String,
}

impl Denied {
    fn into_reply(self) -> Reply {
        Reply::documented(self.error, &self.username, &self.contextname)
    }
}

/// A request stopped before its operation.
enum Refused {
    /// The body is not a JSON object, or the flavour's validation refused it.
    Unspecified(UnspecifiedError),
    /// A documented check failed.
    Denied(Denied),
}

impl From<Refused> for Reply {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Unspecified(error) => Reply::from(error),
            Refused::Denied(denied) => denied.into_reply(),
        }
    }
}

/// The auth parameters as sent, matched against the users fixture.
struct Credentials<'a> {
    token: SentToken<'a>,
    /// The username sent, if a string.
    username: Option<&'a str>,
    /// The fixture's user with that name.
    user: Option<&'a FixtureUser>,
    /// The contextname as sent: a missing one reads as "", a non-string one
    /// as its JSON text (the envelopes name it).
    contextname: String,
    /// The fixture's context it names, if any.
    context: Option<String>,
}

impl<'a> Credentials<'a> {
    fn read(app: &'a App, body: &'a Body) -> Self {
        let deviations = &app.deviations;
        let username = body.get(USERNAME).and_then(Value::as_str);
        let user = username.and_then(|sent| {
            app.fixture
                .users()
                .iter()
                .find(|user| deviations.name_matches(NameKind::Username, sent, &user.username))
        });
        let (contextname, context) = match body.get(CONTEXTNAME) {
            None => (
                String::new(),
                deviations
                    .context_when_absent(app.fixture.contexts())
                    .map(str::to_string),
            ),
            Some(Value::String(sent)) => {
                let context = app
                    .fixture
                    .contexts()
                    .iter()
                    .find(|stored| deviations.name_matches(NameKind::Context, sent, stored))
                    .cloned();
                (sent.clone(), context)
            }
            Some(other) => (other.to_string(), None),
        };
        Credentials {
            token: deviations.read_token(body.get(API_TOKEN)),
            username,
            user,
            contextname,
            context,
        }
    }

    fn denied(&self, error: DocumentedError) -> Denied {
        Denied {
            error,
            username: self.username.unwrap_or_default().to_string(),
            contextname: self.contextname.clone(),
        }
    }
}

impl App {
    /// Admits the request, runs `operate`, and renders the answer.
    async fn handle(
        &self,
        request: Incoming<'_>,
        operate: impl AsyncFnOnce(&Self, &Body, &Access) -> Result<Reply, UnspecifiedError>,
    ) -> Response {
        let op = request.op;
        match self.admit(&request) {
            Err(refused) => self.finish(op, Reply::from(refused), None, None),
            Ok((body, access)) => {
                let outcome = operate(self, &body, &access)
                    .await
                    .unwrap_or_else(Reply::from);
                let reply = match access.answer_instead {
                    Some(denied) => denied.into_reply(),
                    None => outcome,
                };
                self.finish(op, reply, Some(&body), Some(&access.context))
            }
        }
    }

    /// Parses the body, runs the flavour's validation and the documented checks.
    fn admit(&self, request: &Incoming<'_>) -> Result<(Body, Access), Refused> {
        let mut body = parse_body(request.bytes).map_err(Refused::Unspecified)?;
        if self.flavour.reads_query_auth() {
            fill_auth_from_query(&mut body, request.uri.query().unwrap_or_default());
        }
        if self.flavour.validates_before_auth() {
            validation::validate(request.op, &body, request.path_user_id)
                .map_err(Refused::Unspecified)?;
        }
        let access = self
            .authenticate(request.op, &body)
            .map_err(Refused::Denied)?;
        Ok((body, access))
    }

    /// Deviation rewrites, rendering, flavour headers.
    fn finish(
        &self,
        op: Operation,
        reply: Reply,
        body: Option<&Body>,
        context: Option<&str>,
    ) -> Response {
        let request_no = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let wire = match reply {
            // No hook rewrites the list: it is serialised while it is sent.
            Reply::Customers(records) if self.deviations.is_empty() => {
                render_streamed(records, self.flavour, context)
            }
            reply if self.deviations.is_empty() && self.flavour.serializes_records_directly() => {
                render_serialized(&reply, self.flavour)
            }
            reply => {
                let reply = self.deviations.rewrite_reply(op, reply);
                let wire = render(&reply, self.flavour, context);
                let exchange = Exchange {
                    body,
                    store: &self.store,
                };
                self.deviations.rewrite_wire(op, &reply, wire, &exchange)
            }
        };
        wire.with_headers(self.flavour.extra_headers(request_no))
            .into_response()
    }

    /// The three documented checks, in the flavour's order ("Error Handling").
    fn authenticate(&self, op: Operation, body: &Body) -> Result<Access, Denied> {
        let credentials = Credentials::read(self, body);
        let mut answer_instead = None;
        for error in self.flavour.check_order() {
            if !self.fails(error, &credentials) {
                continue;
            }
            let denied = credentials.denied(error);
            match self.deviations.auth_check(op, error) {
                AuthCheck::Enforce => return Err(answer_instead.unwrap_or(denied)),
                AuthCheck::Skip => {}
                AuthCheck::AnswerButApply => {
                    answer_instead.get_or_insert(denied);
                }
            }
        }
        Ok(Access {
            // A skipped context check acts in the context as sent.
            context: credentials
                .context
                .unwrap_or_else(|| credentials.contextname.clone()),
            answer_instead,
        })
    }

    /// Whether `credentials` fail the documented check for `error`.
    fn fails(&self, error: DocumentedError, credentials: &Credentials<'_>) -> bool {
        match error {
            // "Invalid API Token". Unspecified: a token is valid only as the
            // token of the named user; a missing username fails here too.
            DocumentedError::InvalidToken => !self.token_valid(credentials),
            // "Invalid Context Name": the context must exist (and be a string).
            DocumentedError::InvalidContext => credentials.context.is_none(),
            // "Unauthorized Context Access": access is context-specific ("Authentication").
            DocumentedError::ForbiddenContext => !matches!(
                (credentials.user, &credentials.context),
                (Some(user), Some(context)) if user.may_access(context)
            ),
        }
    }

    /// Whether the token sent is the named user's (as the deviations compare it).
    fn token_valid(&self, credentials: &Credentials<'_>) -> bool {
        let Some(user) = credentials.user else {
            return false;
        };
        match credentials.token {
            SentToken::Text(sent) => {
                let matches =
                    |owner: &FixtureUser| self.deviations.token_matches(sent, &owner.api_token);
                matches(user)
                    || (self.deviations.token_of_any_user_passes()
                        && self.fixture.users().iter().any(matches))
            }
            SentToken::Missing => self.deviations.missing_token_passes(),
            SentToken::Other => false,
        }
    }

    /// The UserID a PUT, PATCH or DELETE acts on: the path's, unless a
    /// deviation reads the path differently or looks past an unknown UserID.
    fn target_user_id(&self, context: &str, path_user_id: &str) -> String {
        let user_id = self.deviations.path_user_id(path_user_id).into_owned();
        if self.deviations.is_empty() || self.store.contains(context, &user_id) {
            return user_id;
        }
        self.store
            .first_user_id_where(context, |stored| {
                self.deviations.user_id_stands_for(&user_id, stored)
            })
            .unwrap_or(user_id)
    }

    /// Unspecified: missing mandatory fields of `op` are all listed, in
    /// contract order. UserID or Name sent empty counts as missing: "Only
    /// UserID and Name are mandatory fields" ("Creating a New Customer"),
    /// and a record with an empty UserID could never be addressed again
    /// (`/api/ipdrcustomers/` names no customer).
    fn require(
        &self,
        op: Operation,
        present: &BTreeMap<&'static str, String>,
        conformant: &[&'static str],
    ) -> Result<(), UnspecifiedError> {
        let missing: Vec<&'static str> = self
            .deviations
            .mandatory_fields(op, conformant)
            .into_iter()
            .filter(|field| match present.get(field) {
                None => true,
                Some(value) => value.is_empty() && CREATE_MANDATORY_FIELDS.contains(field),
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(UnspecifiedError::MissingFields(missing))
        }
    }

    /// Unspecified: what a PUT/PATCH body UserID other than the path's gets.
    fn check_user_id(
        &self,
        present: &mut BTreeMap<&'static str, String>,
        path_user_id: &str,
    ) -> Result<(), UnspecifiedError> {
        match present.get(USER_ID) {
            Some(body_user_id) if body_user_id != path_user_id => {
                match self.flavour.user_id_mismatch() {
                    UserIdMismatch::Refuse => Err(UnspecifiedError::UserIdMismatch),
                    UserIdMismatch::PathWins => {
                        present.remove(USER_ID);
                        Ok(())
                    }
                }
            }
            _ => Ok(()),
        }
    }

    /// The non-key field values of `op` as they reach the store.
    fn changes(&self, op: Operation, present: BTreeMap<&'static str, String>) -> FieldChanges {
        self.deviations.rewrite_changes(op, changes(present))
    }
}

/// Unspecified: a body that is not JSON, or not a JSON object, is malformed.
fn parse_body(bytes: &[u8]) -> Result<Body, UnspecifiedError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(UnspecifiedError::MalformedJson),
    }
}

/// Alt flavour: auth parameters absent from the body are taken from the query string.
fn fill_auth_from_query(body: &mut Body, query: &str) {
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = form_decoded(key);
        if AUTH_FIELDS.contains(&key.as_str()) && !body.contains_key(&key) {
            body.insert(key, Value::String(form_decoded(value)));
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, then `%XX` escapes.
fn form_decoded(text: &str) -> String {
    crate::spec::contract::percent_decoded(&text.replace('+', " "))
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

/// GET /api/ipdrcustomers ("Retrieving Customer List"): the context's customers.
async fn list(State(app): State<Arc<App>>, uri: Uri, body: Bytes) -> Response {
    let request = Incoming {
        op: Operation::List,
        uri: &uri,
        path_user_id: None,
        bytes: &body,
    };
    app.handle(request, async |app, _body, access| {
        Ok(Reply::Customers(app.store.list(&access.context)))
    })
    .await
}

/// POST /api/ipdrcustomers ("Creating a New Customer"): only UserID and Name are mandatory.
async fn create(State(app): State<Arc<App>>, uri: Uri, body: Bytes) -> Response {
    let op = Operation::Create;
    let request = Incoming {
        op,
        uri: &uri,
        path_user_id: None,
        bytes: &body,
    };
    app.handle(request, async |app, body, access| {
        let mut present = present_fields(body)?;
        app.require(op, &present, &CREATE_MANDATORY_FIELDS)?;
        let user_id = present
            .remove(USER_ID)
            .ok_or_else(|| UnspecifiedError::MissingFields(vec![USER_ID]))?;
        let record = app
            .store
            .create(&access.context, user_id, app.changes(op, present))
            .await?;
        Ok(Reply::Customer(record))
    })
    .await
}

/// PUT /api/ipdrcustomers/{UserID} ("Updating Customer Information"): every field required.
async fn full_update(
    State(app): State<Arc<App>>,
    Path(user_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let op = Operation::FullUpdate;
    let request = Incoming {
        op,
        uri: &uri,
        path_user_id: Some(&user_id),
        bytes: &body,
    };
    app.handle(request, async |app, body, access| {
        let target = app.target_user_id(&access.context, &user_id);
        let mut present = present_fields(body)?;
        if let Err(missing) = app.require(op, &present, &FULL_UPDATE_FIELDS) {
            if app.deviations.applies_despite_missing_fields(op) {
                // Deviation: the refused request still writes what it carried.
                let _ = app
                    .store
                    .update(&access.context, &target, app.changes(op, present));
            }
            return Err(missing);
        }
        app.check_user_id(&mut present, &user_id)?;
        let changes = app.changes(op, present);
        let record = match app.flavour.unknown_put() {
            UnknownPut::Refuse => app.store.update(&access.context, &target, changes)?,
            UnknownPut::Upsert => app.store.upsert(&access.context, &target, changes)?,
        };
        Ok(Reply::Customer(record))
    })
    .await
}

/// PATCH /api/ipdrcustomers/{UserID} ("Partially Updating Customer Information"): any subset.
async fn partial_update(
    State(app): State<Arc<App>>,
    Path(user_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let op = Operation::PartialUpdate;
    let request = Incoming {
        op,
        uri: &uri,
        path_user_id: Some(&user_id),
        bytes: &body,
    };
    app.handle(request, async |app, body, access| {
        let target = app.target_user_id(&access.context, &user_id);
        let mut present = present_fields(body)?;
        app.check_user_id(&mut present, &user_id)?;
        let sent = changes(present);
        let stored = app.deviations.rewrite_changes(op, sent.clone());
        let record = app.store.update(&access.context, &target, stored)?;
        Ok(Reply::Customer(
            app.deviations.rewrite_answered(op, &sent, record),
        ))
    })
    .await
}

/// DELETE /api/ipdrcustomers/{UserID} ("Deleting a Customer"): returns the deleted object.
async fn delete(
    State(app): State<Arc<App>>,
    Path(user_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let request = Incoming {
        op: Operation::Delete,
        uri: &uri,
        path_user_id: Some(&user_id),
        bytes: &body,
    };
    app.handle(request, async |app, _body, access| {
        let target = app.target_user_id(&access.context, &user_id);
        let record = app.store.delete(&access.context, &target)?;
        Ok(Reply::Customer(record))
    })
    .await
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
