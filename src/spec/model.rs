//! A pure model of the documented contract, for property-based checking.
//!
//! The model holds what the harness knows about its own records, per
//! context, and decides with one function, [`accept`], whether a target's
//! answer to one request is one the vendor page allows, and what the state
//! is afterwards. The sequential property trial and the linearizability
//! check share it; nothing here does I/O.
//!
//! The oracle comes from the page alone. Where the page is explicit the
//! check is exact: the three error envelopes (`{status, message}` and
//! nothing more, HTTP 200, "Error Handling"), customer objects with string
//! fields and an integer id ("Response Examples"), PATCH keeping omitted
//! fields, the id kept on update, DELETE returning the deleted object, a
//! rejected request changing nothing. Where the page is silent a clean
//! refusal is conformant: any answer that does not claim success
//! ([`claims_success`]), with nothing changed. That covers values that are
//! not [ordinary](is_ordinary_value) (a UserID holding `%` included, in a
//! path too), a UserID that exists in the other context or differs from an
//! existing one only in case, a duplicate create, a PUT or PATCH of an
//! unknown UserID, an empty PATCH, missing fields, and a request with several
//! problems (the documented envelope is exact only when the auth problem is
//! the only one). A UserID that only resembles a record's ([`UserIdVariant`])
//! names another record: that record is left untouched, whatever the answer.
//! The configured token with the other user's name is refused, any refusal.
//! A success claimed where the page is silent must show what it claims:
//! the values sent, or for a duplicate create the existing record unchanged.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value};

use super::contract::{
    claims_success, customer_path, is_ordinary_value, path_segment, percent_decoded,
    DocumentedError, Operation, COLLECTION_PATH, ERROR_HTTP_STATUS, FULL_UPDATE_FIELDS,
    SUCCESS_HTTP_STATUS,
};
use super::scenario::Level;
use super::tamper::{expected_refusal, AuthField, ExpectedRefusal, Tamper};

/// Citation of the rule that a request without valid auth parameters is refused.
pub const AUTHENTICATION_CITATION: &str =
    "Authentication: \"All API requests require authentication using the following parameters\"";

/// A customer field other than UserID and id ("Creating a New Customer" table), in contract order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `Name`: mandatory on create.
    Name,
    /// `Address`: optional.
    Address,
    /// `Email`: optional.
    Email,
    /// `PhoneNumber`: optional.
    PhoneNumber,
    /// `AltPhoneNumber`: optional.
    AltPhoneNumber,
}

impl Field {
    /// Every non-key field, in contract order.
    pub const ALL: [Field; 5] = [
        Field::Name,
        Field::Address,
        Field::Email,
        Field::PhoneNumber,
        Field::AltPhoneNumber,
    ];

    /// The JSON key of this field (from [`FULL_UPDATE_FIELDS`]).
    pub fn key(self) -> &'static str {
        FULL_UPDATE_FIELDS[self as usize]
    }

    /// Whether a create may leave it out ("Only UserID and Name are mandatory").
    pub fn is_optional(self) -> bool {
        self != Field::Name
    }

    /// Whether a conformant server must accept `value` in this field: exactly [`is_ordinary_value`].
    pub fn is_ordinary(self, value: &str) -> bool {
        is_ordinary_value(self.key(), value)
    }
}

/// Field values a request carries (absent fields are not sent).
pub type Values = BTreeMap<Field, String>;

/// What the model knows about one stored field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// This exact string; the empty string reads as `""`, `null` or nothing (the page does not say which).
    Set(String),
    /// Never given (an optional field left out on create): reads as `""`, `null` or nothing, the page does not say which.
    Unset,
}

impl Slot {
    /// Whether the slot reads as `""`, `null` or nothing.
    fn is_blank(&self) -> bool {
        match self {
            Slot::Set(text) => text.is_empty(),
            Slot::Unset => true,
        }
    }

    /// Whether `found` (None: the key is missing) is what this slot allows.
    fn admits(&self, found: Option<&Value>) -> bool {
        match (self, found) {
            (Slot::Set(text), Some(Value::String(found))) => text == found,
            (slot, None | Some(Value::Null)) => slot.is_blank(),
            (Slot::Unset, Some(Value::String(found))) => found.is_empty(),
            _ => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Slot::Set(text) if text.is_empty() => {
                "\"\", null or nothing (sent as the empty string)".to_string()
            }
            Slot::Set(text) => abbreviate(&Value::String(text.clone())),
            Slot::Unset => "\"\", null or nothing (never given)".to_string(),
        }
    }

    /// The spine pattern for this slot.
    fn pattern(&self) -> Value {
        match self {
            Slot::Set(text) if !text.is_empty() => Value::String(text.clone()),
            _ => json!({"$one_of": ["", {"$any": "null"}, {"$absent": true}]}),
        }
    }
}

/// One of the harness's own records as the model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The id the server gave it.
    pub id: i64,
    /// Every non-key field.
    pub fields: BTreeMap<Field, Slot>,
}

impl Record {
    /// The value of `field` (Unset when the model has none).
    pub fn slot(&self, field: Field) -> &Slot {
        self.fields.get(&field).unwrap_or(&Slot::Unset)
    }
}

/// A context the harness can see into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Context {
    /// The configured context.
    Primary,
    /// The second context the user may access.
    Second,
}

/// The harness's own records, per context, keyed by UserID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Records in the configured context.
    pub primary: BTreeMap<String, Record>,
    /// Records in the second context.
    pub second: BTreeMap<String, Record>,
    /// For each UserID, the requests that named it so far (`operation auth`), to say in a violation what led to it.
    pub touched: BTreeMap<String, Vec<String>>,
}

impl State {
    /// The records of `context`.
    pub fn records(&self, context: Context) -> &BTreeMap<String, Record> {
        match context {
            Context::Primary => &self.primary,
            Context::Second => &self.second,
        }
    }

    fn records_mut(&mut self, context: Context) -> &mut BTreeMap<String, Record> {
        match context {
            Context::Primary => &mut self.primary,
            Context::Second => &mut self.second,
        }
    }
}

/// Which auth parameters a request carries ("Authentication", "Error Handling").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// The configured token, username and context.
    Configured,
    /// The configured credentials in the second context.
    SecondContext,
    /// A token the server cannot know.
    InvalidToken,
    /// A context that does not exist.
    InvalidContext,
    /// An existing context the user may not access.
    ForbiddenContext,
    /// A token the server cannot know and a context that does not exist: two documented errors at once.
    InvalidTokenAndContext,
    /// The configured parameters with one of them spoiled ([`crate::spec::tamper`]).
    Tampered(AuthField, Tamper),
    /// The configured token with the other user's username (`--other-username`), in the
    /// configured context: a borrowed username.
    OtherUsername,
    /// The configured token with the other user's username, in the other user's context
    /// (`--other-context`).
    OtherUsernameInOtherContext,
}

impl Auth {
    /// The context whose records the request works on, if it is admitted.
    pub fn context(self) -> Option<Context> {
        match self {
            Auth::Configured => Some(Context::Primary),
            Auth::SecondContext => Some(Context::Second),
            _ => None,
        }
    }

    /// The context the request names, when it is one the harness can see:
    /// the configured one when only the token or the username is wrong.
    pub fn named_context(self) -> Option<Context> {
        match self {
            Auth::Configured
            | Auth::InvalidToken
            | Auth::OtherUsername
            | Auth::Tampered(AuthField::ApiToken | AuthField::Username, _) => {
                Some(Context::Primary)
            }
            Auth::SecondContext => Some(Context::Second),
            Auth::InvalidContext
            | Auth::ForbiddenContext
            | Auth::InvalidTokenAndContext
            | Auth::OtherUsernameInOtherContext
            | Auth::Tampered(AuthField::Contextname, _) => None,
        }
    }

    /// None when the auth is valid; else the documented errors the auth
    /// problem alone may get, one of them exactly (empty: the page names no
    /// answer, any refusal will do).
    pub fn refusal(self) -> Option<Vec<DocumentedError>> {
        match self {
            Auth::Configured | Auth::SecondContext => None,
            Auth::InvalidToken => Some(vec![DocumentedError::InvalidToken]),
            Auth::InvalidContext => Some(vec![DocumentedError::InvalidContext]),
            Auth::ForbiddenContext => Some(vec![DocumentedError::ForbiddenContext]),
            // The page never says which is checked first: either documented envelope.
            Auth::InvalidTokenAndContext => Some(vec![
                DocumentedError::InvalidToken,
                DocumentedError::InvalidContext,
            ]),
            Auth::Tampered(field, tamper) => Some(match expected_refusal(field, tamper) {
                ExpectedRefusal::Exact(error) => vec![error],
                ExpectedRefusal::ContextEnvelope => vec![
                    DocumentedError::InvalidContext,
                    DocumentedError::ForbiddenContext,
                ],
                ExpectedRefusal::AnyRefusal => Vec::new(),
            }),
            // A token authenticates the user it was issued to; the page names no envelope
            // for another user's name, so any refusal ("Authentication").
            Auth::OtherUsername | Auth::OtherUsernameInOtherContext => Some(Vec::new()),
        }
    }

    /// The name used in step names and topics: the scenario format's `auth`
    /// (`default`, `invalid_token`...), `auth::<field>::<tamper>` for a tampered one.
    pub fn tag(self) -> String {
        match self {
            Auth::Configured => "default".to_string(),
            Auth::SecondContext => "second_context".to_string(),
            Auth::InvalidToken => "invalid_token".to_string(),
            Auth::InvalidContext => "invalid_context".to_string(),
            Auth::ForbiddenContext => "forbidden_context".to_string(),
            Auth::InvalidTokenAndContext => "invalid_token_and_invalid_context".to_string(),
            Auth::Tampered(field, tamper) => format!("auth::{}::{}", field.key(), tamper.name()),
            Auth::OtherUsername => "cross_user::configured_token_with_other_username".to_string(),
            Auth::OtherUsernameInOtherContext => {
                "cross_user::configured_token_with_other_username_in_other_context".to_string()
            }
        }
    }

    /// Words naming the auth in a violation's topic: the tag, and for a spoiled token or
    /// context the documented error it stands for (a near miss of the token is an invalid token).
    pub fn topic(self) -> String {
        match self {
            Auth::Tampered(AuthField::ApiToken, _) => format!("{} invalid_token", self.tag()),
            Auth::Tampered(AuthField::Contextname, _) => format!("{} invalid_context", self.tag()),
            // A name the token was not issued to: the token is not valid for the username
            // sent, so a server serving it skipped (or misread) the token check.
            Auth::OtherUsername | Auth::OtherUsernameInOtherContext => {
                format!("{} auth::username invalid_token", self.tag())
            }
            other => other.tag(),
        }
    }
}

/// What a request asks for; UserIDs are concrete strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// GET the list.
    List,
    /// POST a customer; `user_id` None leaves UserID out, a Name missing from `values` leaves Name out.
    Create {
        /// The UserID sent, if any.
        user_id: Option<String>,
        /// The fields sent.
        values: Values,
    },
    /// PUT: a full update; fields missing from `values` (or a missing body UserID) make it incomplete.
    FullUpdate {
        /// The UserID in the path.
        user_id: String,
        /// The fields sent.
        values: Values,
        /// Whether the body carries UserID (equal to the path's).
        body_user_id: bool,
    },
    /// PATCH: any subset of fields, the empty one included.
    PartialUpdate {
        /// The UserID in the path.
        user_id: String,
        /// The fields sent.
        values: Values,
        /// Whether the body carries UserID (equal to the path's).
        body_user_id: bool,
    },
    /// DELETE.
    Delete {
        /// The UserID in the path.
        user_id: String,
    },
}

/// One request: an action with its auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What it asks for.
    pub action: Action,
    /// Which credentials it carries.
    pub auth: Auth,
}

impl Request {
    /// The API operation.
    pub fn operation(&self) -> Operation {
        match self.action {
            Action::List => Operation::List,
            Action::Create { .. } => Operation::Create,
            Action::FullUpdate { .. } => Operation::FullUpdate,
            Action::PartialUpdate { .. } => Operation::PartialUpdate,
            Action::Delete { .. } => Operation::Delete,
        }
    }

    /// The UserID the request names (path or body), if any.
    pub fn user_id(&self) -> Option<&str> {
        match &self.action {
            Action::List => None,
            Action::Create { user_id, .. } => user_id.as_deref(),
            Action::FullUpdate { user_id, .. }
            | Action::PartialUpdate { user_id, .. }
            | Action::Delete { user_id } => Some(user_id),
        }
    }

    /// The same request with every UserID passed through `rename`.
    pub fn map_user_ids(&self, rename: impl Fn(&str) -> String) -> Request {
        let action = match &self.action {
            Action::List => Action::List,
            Action::Create { user_id, values } => Action::Create {
                user_id: user_id.as_deref().map(&rename),
                values: values.clone(),
            },
            Action::FullUpdate {
                user_id,
                values,
                body_user_id,
            } => Action::FullUpdate {
                user_id: rename(user_id),
                values: values.clone(),
                body_user_id: *body_user_id,
            },
            Action::PartialUpdate {
                user_id,
                values,
                body_user_id,
            } => Action::PartialUpdate {
                user_id: rename(user_id),
                values: values.clone(),
                body_user_id: *body_user_id,
            },
            Action::Delete { user_id } => Action::Delete {
                user_id: rename(user_id),
            },
        };
        Request {
            action,
            auth: self.auth,
        }
    }

    /// The path below the base URL.
    pub fn path(&self) -> String {
        match &self.action {
            Action::List | Action::Create { .. } => COLLECTION_PATH.to_string(),
            Action::FullUpdate { user_id, .. }
            | Action::PartialUpdate { user_id, .. }
            | Action::Delete { user_id } => customer_path(&path_segment(user_id)),
        }
    }

    /// The body's customer fields (auth parameters are added by the sender), in contract order.
    pub fn fields(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let (values, body_user_id) = match &self.action {
            Action::List | Action::Delete { .. } => return map,
            Action::Create { user_id, values } => (values, user_id.clone()),
            Action::FullUpdate {
                user_id,
                values,
                body_user_id,
            }
            | Action::PartialUpdate {
                user_id,
                values,
                body_user_id,
            } => (values, body_user_id.then(|| user_id.clone())),
        };
        for (field, value) in values {
            map.insert(field.key().to_string(), Value::String(value.clone()));
        }
        if let Some(user_id) = body_user_id {
            map.insert("UserID".to_string(), Value::String(user_id));
        }
        map
    }

    /// The values sent, if the action sends any.
    pub fn values(&self) -> Option<&Values> {
        match &self.action {
            Action::List | Action::Delete { .. } => None,
            Action::Create { values, .. }
            | Action::FullUpdate { values, .. }
            | Action::PartialUpdate { values, .. } => Some(values),
        }
    }

    /// Whether some value sent is one a conformant server may refuse ([`Field::is_ordinary`]).
    pub fn carries_unusual_values(&self) -> bool {
        self.values().is_some_and(|values| {
            values
                .iter()
                .any(|(field, value)| !field.is_ordinary(value))
        })
    }

    /// A short description: method, path and body fields (never auth).
    pub fn describe(&self) -> String {
        let fields = self.fields();
        let mut text = format!("{} {}", self.operation().method(), self.path());
        if !fields.is_empty() {
            text.push(' ');
            text.push_str(&abbreviate(&Value::Object(fields)));
        }
        if self.auth != Auth::Configured {
            text.push_str(&format!(" ({})", self.auth.tag()));
        }
        text
    }
}

/// How a UserID a request names resembles the UserID of a record without being it
/// ("PUT /api/ipdrcustomers/{UserID}": a request names a record by its UserID, and a UserID
/// is a "Unique user identifier"): a server that finds records loosely (by prefix, ignoring
/// case, decoding the path twice) acts on the wrong record. `user_id_variants::<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UserIdVariant {
    /// The record's UserID starts with the one named.
    Prefix,
    /// The UserID named starts with the record's.
    Extension,
    /// The same letters in another case.
    Case,
    /// The UserID named holds a literal `%XX`; decoded once more it would be the record's.
    PercentEncoded,
}

impl UserIdVariant {
    /// Every variant.
    pub const ALL: [UserIdVariant; 4] = [
        UserIdVariant::Prefix,
        UserIdVariant::Extension,
        UserIdVariant::Case,
        UserIdVariant::PercentEncoded,
    ];

    /// The name in trial names and topics (`user_id_variants::<name>`).
    pub fn name(self) -> &'static str {
        match self {
            UserIdVariant::Prefix => "prefix",
            UserIdVariant::Extension => "extension",
            UserIdVariant::Case => "case",
            UserIdVariant::PercentEncoded => "percent_encoded",
        }
    }

    /// How `named` resembles `existing`, if it is a look-alike of it (never when they are equal).
    pub fn of(named: &str, existing: &str) -> Option<UserIdVariant> {
        if named == existing {
            None
        } else if existing.starts_with(named) {
            Some(UserIdVariant::Prefix)
        } else if named.starts_with(existing) {
            Some(UserIdVariant::Extension)
        } else if named.eq_ignore_ascii_case(existing) {
            Some(UserIdVariant::Case)
        } else if named.contains('%') && percent_decoded(named) == existing {
            Some(UserIdVariant::PercentEncoded)
        } else {
            None
        }
    }
}

/// Every record of `state` (in any context) whose UserID `named` resembles, with how.
fn look_alikes<'a>(
    state: &'a State,
    named: &'a str,
) -> impl Iterator<Item = (&'a String, UserIdVariant)> + 'a {
    state
        .primary
        .keys()
        .chain(state.second.keys())
        .filter_map(move |existing| UserIdVariant::of(named, existing).map(|how| (existing, how)))
}

/// Names the model needs to predict envelopes and to tell its own records from others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The configured username.
    pub username: String,
    /// The configured context name.
    pub context: String,
    /// The invalid context name sent with [`Auth::InvalidContext`].
    pub invalid_context: String,
    /// The forbidden context name sent with [`Auth::ForbiddenContext`], if configured.
    pub forbidden_context: Option<String>,
    /// Every UserID (and the Name of a create without UserID) of this case starts with it.
    pub own_prefix: String,
}

impl Scope {
    /// The context name a refused request carried, as an envelope would name it.
    fn contextname(&self, auth: Auth) -> String {
        match auth {
            Auth::InvalidContext | Auth::InvalidTokenAndContext => self.invalid_context.clone(),
            Auth::ForbiddenContext => self.forbidden_context.clone().unwrap_or_default(),
            Auth::Tampered(AuthField::Contextname, tamper) => {
                match tamper.apply(&self.context).flatten() {
                    Some(Value::String(text)) => text,
                    Some(other) => other.to_string(),
                    None => String::new(),
                }
            }
            _ => self.context.clone(),
        }
    }

    /// Whether a listed object is one of this case's own records.
    pub fn owns(&self, object: &Map<String, Value>) -> bool {
        owned_by(object, &self.own_prefix)
    }
}

/// Whether a listed object is a case's whose UserIDs (and the Name of a create
/// without UserID) start with `own_prefix`: the only elements the model looks at.
pub fn owned_by(object: &Map<String, Value>, own_prefix: &str) -> bool {
    owns_by_texts(
        object.get("UserID").and_then(Value::as_str),
        object.get(Field::Name.key()).and_then(Value::as_str),
        own_prefix,
    )
}

/// [`owned_by`] of an object's UserID and Name, when they are strings.
pub fn owns_by_texts(user_id: Option<&str>, name: Option<&str>, own_prefix: &str) -> bool {
    [user_id, name]
        .into_iter()
        .flatten()
        .any(|text| text.starts_with(own_prefix))
}

/// What came back for one request, as far as the model cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// HTTP status.
    pub status: u16,
    /// Whether the Content-Type is JSON.
    pub json_content_type: bool,
    /// The body as JSON, if it parsed.
    pub body: Option<Value>,
}

impl Observed {
    fn describe(&self) -> String {
        let body = match &self.body {
            Some(body) => abbreviate(body),
            None => "(no JSON body)".to_string(),
        };
        let content = if self.json_content_type {
            ""
        } else {
            ", not JSON content"
        };
        format!("HTTP {}{content} {body}", self.status)
    }
}

/// A response or state the page does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Documented or inferred.
    pub level: Level,
    /// The vendor doc section the broken rule comes from.
    pub citation: String,
    /// Lower-case words naming the behaviour (operation, auth variant, rule), for attribution.
    pub topic: String,
    /// What was sent, what came back, what was expected.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {}\n{}", self.level, self.citation, self.message)
    }
}

impl std::error::Error for Violation {}

/// A customer object the page requires (or, for an unspecified outcome, allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Its UserID.
    pub user_id: String,
    /// Fields it must show; a field not here may show any string, null or nothing.
    pub fields: BTreeMap<Field, Slot>,
    /// Its id; None: any integer.
    pub id: Option<i64>,
    /// Fields whose expected value is kept from before the request (PATCH keeps omitted fields), not sent.
    pub kept: Vec<Field>,
}

impl Shown {
    /// The spine pattern `{"$customer": {...}}`; `id` renders the id (a captured variable in a scenario).
    pub fn pattern(&self, id: Option<Value>) -> Value {
        let mut given = Map::new();
        if let Some(id) = id {
            given.insert("id".to_string(), id);
        }
        for (field, slot) in &self.fields {
            given.insert(field.key().to_string(), slot.pattern());
        }
        given.insert("UserID".to_string(), Value::String(self.user_id.clone()));
        json!({ "$customer": given })
    }

    /// The record the object describes (fields it shows that the model did not pin are taken from it).
    fn record_from(&self, object: &Map<String, Value>) -> Record {
        let id = object.get("id").and_then(Value::as_i64).unwrap_or_default();
        let fields = Field::ALL
            .into_iter()
            .map(|field| {
                let slot = match self.fields.get(&field) {
                    Some(slot) => slot.clone(),
                    None => match object.get(field.key()) {
                        Some(Value::String(text)) if !text.is_empty() => Slot::Set(text.clone()),
                        _ => Slot::Unset,
                    },
                };
                (field, slot)
            })
            .collect();
        Record { id, fields }
    }
}

/// What the page says about one request in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The auth parameters are not valid: a refusal, and nothing changes ("Authentication", "Error Handling").
    Refused {
        /// The documented errors the auth problem alone gets, one of them exactly (empty: the page names none).
        auth_errors: Vec<DocumentedError>,
        /// Another problem of the request, which lets any refusal do: the envelope is exact only
        /// when the auth problem is the request's only one.
        other_problem: Option<&'static str>,
        /// The username the envelope names.
        username: String,
        /// The context name the envelope names.
        contextname: String,
    },
    /// HTTP 200 and an array holding exactly the model's records of this context ("Retrieving Customer List").
    Listing(Context),
    /// HTTP 200 and this customer object; then the record is the one shown, or gone.
    Customer {
        /// The context the record is in.
        context: Context,
        /// The object required.
        shown: Shown,
        /// Whether the record is deleted (DELETE) rather than stored.
        removes: bool,
        /// Why the page lets a server refuse it instead (a value it need not accept, a UserID
        /// that exists in the other context); a refusal then changes nothing.
        may_refuse: Option<&'static str>,
    },
    /// The page is silent on whether the request is accepted. Any answer that does not claim
    /// success ([`claims_success`]) is a refusal and changes nothing; a success must show one of
    /// `applied`, and the record becomes what it shows.
    Unspecified {
        /// The context the request works on.
        context: Context,
        /// The UserID a success would answer with.
        user_id: Option<String>,
        /// What a success may show; empty: the request may not change anything at all.
        applied: Vec<Shown>,
        /// Why the page is silent, for messages.
        why: &'static str,
    },
}

impl Expectation {
    /// The problem that lets a server refuse the request, if it has one besides its auth.
    fn refusable(&self) -> Option<&'static str> {
        match self {
            Expectation::Refused { other_problem, .. } => *other_problem,
            Expectation::Listing(_) => None,
            Expectation::Customer { may_refuse, .. } => *may_refuse,
            Expectation::Unspecified { why, .. } => Some(why),
        }
    }
}

/// What the page says about `request` when the harness's records are `state`.
pub fn expect(scope: &Scope, state: &State, request: &Request) -> Expectation {
    match request.auth.refusal() {
        Some(auth_errors) => Expectation::Refused {
            auth_errors,
            // What the request would be with valid credentials, in the context it names.
            other_problem: admitted(state, request, request.auth.named_context()).refusable(),
            username: scope.username.clone(),
            contextname: scope.contextname(request.auth),
        },
        None => admitted(state, request, request.auth.context()),
    }
}

/// What the page says about `request` if its credentials are valid in `context`
/// (None: a context the harness cannot see, which holds none of its records).
fn admitted(state: &State, request: &Request, context: Option<Context>) -> Expectation {
    let none = BTreeMap::new();
    let records = context.map_or(&none, |context| state.records(context));
    // "Unique user identifier" does not say in what scope: a UserID held elsewhere may be refused.
    let elsewhere = |user_id: &str| {
        [Context::Primary, Context::Second]
            .into_iter()
            .filter(|other| Some(*other) != context)
            .any(|other| state.records(other).contains_key(user_id))
    };
    let context = context.unwrap_or(Context::Primary);
    let unusual = if request.carries_unusual_values() {
        Some("a value the page does not require a server to accept")
    } else if request
        .user_id()
        .is_some_and(|user_id| !is_ordinary_value("UserID", user_id))
    {
        // A UserID holding `%` or other characters the page's examples never show.
        Some("a UserID the page does not require a server to accept")
    } else {
        None
    };
    let unspecified =
        |user_id: Option<&String>, applied: Vec<Shown>, why| Expectation::Unspecified {
            context,
            user_id: user_id.cloned(),
            applied,
            why,
        };
    let sent_only = |user_id: &String, values: &Values| Shown {
        user_id: user_id.clone(),
        fields: sent_slots(values),
        id: None,
        kept: Vec::new(),
    };
    let unchanged = |user_id: &String, record: &Record| Shown {
        user_id: user_id.clone(),
        fields: record.fields.clone(),
        id: Some(record.id),
        kept: Field::ALL.to_vec(),
    };
    match &request.action {
        Action::List => Expectation::Listing(context),
        Action::Create { user_id, values } => {
            let Some(user_id) = user_id else {
                return unspecified(None, Vec::new(), "a create without UserID");
            };
            if !values.contains_key(&Field::Name) {
                return unspecified(Some(user_id), Vec::new(), "a create without Name");
            }
            if let Some(record) = records.get(user_id) {
                // Refused; or the existing record answered unchanged; or an upsert showing the
                // values sent (fields left out: whatever it shows). One record either way.
                return unspecified(
                    Some(user_id),
                    vec![sent_only(user_id, values), unchanged(user_id, record)],
                    "a create with a UserID that exists",
                );
            }
            let fields = Field::ALL
                .into_iter()
                .map(|field| match values.get(&field) {
                    Some(value) => (field, Slot::Set(value.clone())),
                    None => (field, Slot::Unset),
                })
                .collect();
            Expectation::Customer {
                context,
                shown: Shown {
                    user_id: user_id.clone(),
                    fields,
                    id: None,
                    kept: Vec::new(),
                },
                removes: false,
                may_refuse: unusual
                    .or_else(|| {
                        elsewhere(user_id).then_some("a UserID that exists in the other context")
                    })
                    .or_else(|| {
                        // Whether UserIDs compare by case is not on the page: a server may
                        // hold them unique regardless of case (and, like any UserID, of
                        // context). Accepted, it is its own record.
                        state
                            .primary
                            .keys()
                            .chain(state.second.keys())
                            .any(|existing| {
                                UserIdVariant::of(user_id, existing) == Some(UserIdVariant::Case)
                            })
                            .then_some("a UserID that differs from an existing one only in case")
                    }),
            }
        }
        Action::FullUpdate {
            user_id,
            values,
            body_user_id,
        } => {
            if !*body_user_id || values.len() < Field::ALL.len() {
                return unspecified(Some(user_id), Vec::new(), "a PUT without every field");
            }
            match records.get(user_id) {
                None => unspecified(
                    Some(user_id),
                    vec![sent_only(user_id, values)],
                    "a PUT of an unknown UserID",
                ),
                Some(record) => Expectation::Customer {
                    context,
                    shown: Shown {
                        id: Some(record.id),
                        ..sent_only(user_id, values)
                    },
                    removes: false,
                    may_refuse: unusual,
                },
            }
        }
        Action::PartialUpdate {
            user_id, values, ..
        } => match records.get(user_id) {
            None => unspecified(
                Some(user_id),
                vec![sent_only(user_id, values)],
                "a PATCH of an unknown UserID",
            ),
            Some(record) if values.is_empty() => unspecified(
                Some(user_id),
                vec![unchanged(user_id, record)],
                "an empty PATCH",
            ),
            Some(record) => {
                let mut fields = record.fields.clone();
                fields.extend(sent_slots(values));
                Expectation::Customer {
                    context,
                    shown: Shown {
                        user_id: user_id.clone(),
                        fields,
                        id: Some(record.id),
                        kept: Field::ALL
                            .into_iter()
                            .filter(|field| !values.contains_key(field))
                            .collect(),
                    },
                    removes: false,
                    may_refuse: unusual,
                }
            }
        },
        Action::Delete { user_id } => match records.get(user_id) {
            None => unspecified(Some(user_id), Vec::new(), "a DELETE of an unknown UserID"),
            Some(record) => Expectation::Customer {
                context,
                shown: unchanged(user_id, record),
                removes: true,
                // Only a UserID the page does not require a server to accept (no value is sent).
                may_refuse: unusual,
            },
        },
    }
}

/// Whether `observed` is an answer the page allows to `request` in `state`, and the state after it.
///
/// The one acceptance function of the property trials: the sequential check
/// calls it once per request, the linearizability check once per request
/// per interleaving it tries.
pub fn accept(
    scope: &Scope,
    state: &State,
    request: &Request,
    observed: &Observed,
) -> Result<State, Violation> {
    let expectation = expect(scope, state, request);
    let mut next = state.clone();
    if let Some(user_id) = request.user_id() {
        let op = operation_tag(request.operation());
        let mut note = |named: &str, tag: String| {
            let tags = next.touched.entry(named.to_string()).or_default();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        };
        note(user_id, format!("{op} {}", request.auth.topic()));
        // A look-alike of a record: should that record change, the request that named a
        // UserID resembling it is the likely cause, so both histories say so.
        for (existing, how) in look_alikes(state, user_id) {
            let tag = format!("user_id_variants::{} {op}", how.name());
            note(user_id, tag.clone());
            note(existing, tag);
        }
    }
    let judge = Judge {
        request,
        observed,
        scope,
        touched: &next.touched.clone(),
    };
    match &expectation {
        Expectation::Refused {
            auth_errors,
            other_problem,
            username,
            contextname,
        } => judge.refused(auth_errors, *other_problem, username, contextname)?,
        Expectation::Listing(context) => judge.listing(state.records(*context))?,
        Expectation::Customer {
            context,
            shown,
            removes,
            may_refuse,
        } => {
            if may_refuse.is_some() && !judge.claims_success() {
                // Refused where the page lets a server refuse (any answer but a success): nothing changes.
                return Ok(next);
            }
            let object = judge.customer(shown, Level::Documented)?;
            let records = next.records_mut(*context);
            if *removes {
                records.remove(&shown.user_id);
            } else {
                records.insert(shown.user_id.clone(), shown.record_from(object));
            }
        }
        Expectation::Unspecified {
            context,
            user_id,
            applied,
            ..
        } => {
            let Some(user_id) = user_id else {
                return Ok(next);
            };
            if applied.is_empty() || !judge.claims_success() {
                // Refused in some way the page does not give: nothing changed.
                return Ok(next);
            }
            let mut first_violation = None;
            for shown in applied {
                match judge.customer(shown, Level::Inferred) {
                    Ok(object) => {
                        next.records_mut(*context)
                            .insert(user_id.clone(), shown.record_from(object));
                        return Ok(next);
                    }
                    Err(violation) => {
                        first_violation.get_or_insert(violation);
                    }
                }
            }
            if let Some(mut violation) = first_violation {
                for other in &applied[1..] {
                    violation
                        .message
                        .push_str(&format!("\n  or:       {}", describe_shown(other)));
                }
                return Err(violation);
            }
        }
    }
    Ok(next)
}

/// Checks one answer against one expectation, with messages that say what was sent.
struct Judge<'a> {
    request: &'a Request,
    observed: &'a Observed,
    scope: &'a Scope,
    touched: &'a BTreeMap<String, Vec<String>>,
}

impl Judge<'_> {
    /// The requests that named `user_id` so far, as topic words.
    fn history(&self, user_id: Option<&str>) -> String {
        user_id
            .and_then(|user_id| self.touched.get(user_id))
            .map(|tags| tags.join(" "))
            .unwrap_or_default()
    }

    fn violation(&self, level: Level, rule: &str, expected: String, topic: &str) -> Violation {
        let op = self.request.operation();
        let citation = match self.request.auth.refusal() {
            Some(errors) => errors
                .first()
                .map_or(AUTHENTICATION_CITATION, |error| error.citation()),
            None => op.citation(),
        };
        Violation {
            level,
            citation: citation.to_string(),
            topic: format!(
                "{} {} {topic} {}",
                operation_tag(op),
                self.request.auth.topic(),
                self.history(self.request.user_id())
            ),
            message: format!(
                "{rule}\n  sent:     {}\n  got:      {}\n  expected: {expected}",
                self.request.describe(),
                self.observed.describe()
            ),
        }
    }

    /// Whether the answer claims success: HTTP 2xx with the customer object the request names
    /// ([`claims_success`]), or for a list an array.
    fn claims_success(&self) -> bool {
        match self.request.action {
            Action::List => {
                (200..300).contains(&self.observed.status)
                    && self.observed.body.as_ref().is_some_and(Value::is_array)
            }
            _ => claims_success(
                self.observed.status,
                self.observed.body.as_ref(),
                self.request.user_id(),
            ),
        }
    }

    /// HTTP 200 with JSON content ("Response" tables; "Error Handling": all 200).
    fn http_200_json(&self, what: &str, status: u16) -> Result<&Value, Violation> {
        if self.observed.status != status {
            return Err(self.violation(
                Level::Documented,
                &format!("the page answers {what} with HTTP {status}"),
                format!("HTTP {status}"),
                "http status",
            ));
        }
        if !self.observed.json_content_type {
            return Err(self.violation(
                Level::Documented,
                "the page's examples send and answer JSON (Content-Type: application/json)",
                format!("{what} as application/json"),
                "content-type json",
            ));
        }
        self.observed.body.as_ref().ok_or_else(|| {
            self.violation(
                Level::Documented,
                "the answer is not JSON",
                what.to_string(),
                "json",
            )
        })
    }

    /// A request whose auth is not valid: refused (never a success), with the documented
    /// envelope exactly when the auth problem is its only problem and the page names one.
    fn refused(
        &self,
        auth_errors: &[DocumentedError],
        other_problem: Option<&str>,
        username: &str,
        contextname: &str,
    ) -> Result<(), Violation> {
        let tag = self.request.auth.tag();
        if self.claims_success() {
            // Documented where the page names the error; else it follows from "required".
            let level = if auth_errors.is_empty() {
                Level::Inferred
            } else {
                Level::Documented
            };
            return Err(self.violation(
                level,
                &format!("a request with {tag} is refused and changes nothing; it got a success"),
                "a refusal".to_string(),
                "refused auth",
            ));
        }
        if other_problem.is_some() || auth_errors.is_empty() {
            // Any refusal: the page names no answer, or another problem may be answered first.
            return Ok(());
        }
        self.envelope(auth_errors, username, contextname)
    }

    /// One of `errors`' documented envelopes, exactly: HTTP 200, JSON, `{status, message}` and nothing more.
    fn envelope(
        &self,
        errors: &[DocumentedError],
        username: &str,
        contextname: &str,
    ) -> Result<(), Violation> {
        let expected: Vec<Value> = errors
            .iter()
            .map(|error| json!(error.envelope(username, contextname)))
            .collect();
        let shown = expected
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        let body = self.http_200_json(&format!("the error {shown}"), ERROR_HTTP_STATUS)?;
        if !expected.contains(body) {
            let rule = if errors.len() == 1 {
                format!(
                    "a request with {} gets the documented envelope, exactly ({{status, message}} and nothing more)",
                    self.request.auth.tag()
                )
            } else {
                format!(
                    "a request with {} gets one of the documented envelopes, exactly ({{status, message}} and nothing more)",
                    self.request.auth.tag()
                )
            };
            return Err(self.violation(Level::Documented, &rule, shown, "error envelope"));
        }
        Ok(())
    }

    /// Checks a customer object against `shown`; returns the object.
    fn customer(&self, shown: &Shown, level: Level) -> Result<&Map<String, Value>, Violation> {
        let body = if level == Level::Documented {
            self.http_200_json("a customer object", SUCCESS_HTTP_STATUS)?
        } else {
            self.observed.body.as_ref().unwrap_or(&Value::Null)
        };
        let wanted = || describe_shown(shown);
        let Some(object) = body.as_object() else {
            return Err(self.violation(
                Level::Documented,
                &format!(
                    "{} returns the customer object",
                    operation_sentence(self.request.operation())
                ),
                wanted(),
                "customer object",
            ));
        };
        let name_may_be_blank = shown.fields.get(&Field::Name).is_some_and(Slot::is_blank);
        if let Some(problem) = shape_problem(object, name_may_be_blank) {
            return Err(self.violation(
                Level::Documented,
                &format!("a customer object has string fields and a numeric id ({problem})"),
                wanted(),
                "customer object string numeric",
            ));
        }
        if object.get("UserID").and_then(Value::as_str) != Some(shown.user_id.as_str()) {
            return Err(self.violation(
                Level::Documented,
                "the customer object answered is not the one the request names",
                wanted(),
                "customer object",
            ));
        }
        for (field, slot) in &shown.fields {
            let found = object.get(field.key());
            if slot.admits(found) {
                continue;
            }
            let kept = shown.kept.contains(field);
            let (rule_level, rule, topic) = if kept
                && self.request.operation() == Operation::PartialUpdate
            {
                (
                    Level::Documented,
                    format!("PATCH changes only the fields sent; {} was not sent, so it keeps its value", field.key()),
                    "omitted field kept",
                )
            } else if kept {
                (
                    Level::Documented,
                    format!(
                        "DELETE returns the deleted object; its {} is not what the record held",
                        field.key()
                    ),
                    "deleted object",
                )
            } else {
                (
                    Level::Inferred,
                    format!(
                        "a value sent in {} reads back unchanged (round_trip)",
                        field.key()
                    ),
                    "round_trip value",
                )
            };
            // An unspecified outcome's object is held to what it claims (inferred at most).
            return Err(self.violation(
                rule_level.max(level),
                &format!(
                    "{rule}: expected {}, got {}",
                    slot.describe(),
                    found.map_or("nothing".to_string(), abbreviate)
                ),
                wanted(),
                &format!("{topic} {}", field.key().to_lowercase()),
            ));
        }
        if let Some(id) = shown.id {
            if object.get("id").and_then(Value::as_i64) != Some(id) {
                return Err(self.violation(
                    Level::Inferred,
                    &format!(
                        "the id does not change on update (the page's examples keep \"id\": 3): expected {id}, got {}",
                        object.get("id").map_or("nothing".to_string(), abbreviate)
                    ),
                    wanted(),
                    "id update",
                ));
            }
        }
        Ok(object)
    }

    /// The list holds exactly the model's records of the context.
    fn listing(&self, records: &BTreeMap<String, Record>) -> Result<(), Violation> {
        let body = self.http_200_json("an array of customer objects", SUCCESS_HTTP_STATUS)?;
        let list_violation = |level, rule: String, expected: String, topic: &str, user_id: &str| {
            Violation {
            level,
            citation: Operation::List.citation().to_string(),
            topic: format!(
                "list {} {topic} {}",
                self.request.auth.topic(),
                self.history(Some(user_id))
            ),
            message: format!(
                "{rule}\n  sent:     {}\n  got:      HTTP {} with {} element(s)\n  expected: {expected}",
                self.request.describe(),
                self.observed.status,
                body.as_array().map_or(0, Vec::len)
            ),
        }
        };
        let Some(elements) = body.as_array() else {
            return Err(list_violation(
                Level::Documented,
                format!(
                    "the list is an array of customer objects; got {}",
                    abbreviate(body)
                ),
                "a JSON array".to_string(),
                "array",
                "",
            ));
        };
        // Each record of this run by UserID, with its index in the list (for pointers).
        let mut own: BTreeMap<String, Vec<Listed<'_>>> = BTreeMap::new();
        for (index, element) in elements.iter().enumerate() {
            let Some(object) = element.as_object() else {
                continue;
            };
            if !self.scope.owns(object) {
                continue;
            }
            let name_may_be_blank = object
                .get("UserID")
                .and_then(Value::as_str)
                .and_then(|user_id| records.get(user_id))
                .is_some_and(|record| record.slot(Field::Name).is_blank());
            if let Some(problem) = shape_problem(object, name_may_be_blank) {
                return Err(list_violation(
                    Level::Documented,
                    format!(
                        "a listed customer object has string fields and a numeric id ({problem}): {}",
                        abbreviate(element)
                    ),
                    "customer objects".to_string(),
                    "customer object string numeric",
                    "",
                ));
            }
            let user_id = object
                .get("UserID")
                .and_then(Value::as_str)
                .unwrap_or_default();
            own.entry(user_id.to_string())
                .or_default()
                .push((index, object));
        }
        for (user_id, found) in &own {
            if !records.contains_key(user_id) {
                let (index, object) = found[0];
                let rule = if user_id.starts_with(&self.scope.own_prefix) {
                    format!(
                        "the list holds {user_id} at /{index}, which must not exist (a rejected request changes nothing; a deleted record is gone): {}",
                        abbreviate(&Value::Object(object.clone()))
                    )
                } else {
                    format!(
                        "the list holds a record made by a create without UserID (mandatory) at /{index}: {}",
                        abbreviate(&Value::Object(object.clone()))
                    )
                };
                return Err(list_violation(
                    Level::Inferred,
                    rule,
                    format!("no record with UserID {user_id}"),
                    "absent deleted rejected mandatory missing",
                    user_id,
                ));
            }
        }
        for (user_id, record) in records {
            let found = own.get(user_id).map_or(&[][..], Vec::as_slice);
            let shown = Shown {
                user_id: user_id.clone(),
                fields: record.fields.clone(),
                id: Some(record.id),
                kept: Vec::new(),
            };
            match found {
                [] => {
                    return Err(list_violation(
                        Level::Inferred,
                        format!("the list lacks {user_id}, which exists (created or updated, never deleted)"),
                        describe_shown(&shown),
                        "missing complete",
                        user_id,
                    ))
                }
                [(index, object)] => {
                    // Every field that differs, by JSON pointer into the list; the rule names the first.
                    let id_line = (object.get("id").and_then(Value::as_i64) != Some(record.id))
                        .then(|| {
                            format!(
                                "/{index}/id: expected {}, got {}",
                                record.id,
                                object.get("id").map_or("nothing".to_string(), abbreviate)
                            )
                        });
                    // (field, pointer, what differs there)
                    let differing: Vec<(Field, String, String)> = record
                        .fields
                        .iter()
                        .filter(|(field, slot)| !slot.admits(object.get(field.key())))
                        .map(|(field, slot)| {
                            (
                                *field,
                                format!("/{index}/{}", field.key()),
                                format!(
                                    "expected {}, got {}",
                                    slot.describe(),
                                    object
                                        .get(field.key())
                                        .map_or("nothing".to_string(), abbreviate)
                                ),
                            )
                        })
                        .collect();
                    let lines: Vec<String> = differing
                        .iter()
                        .map(|(_, pointer, what)| format!("{pointer}: {what}"))
                        .chain(id_line.clone())
                        .collect();
                    let expected = format!(
                        "{user_id} as stored; /{index} differs in {} field(s):\n    {}",
                        lines.len(),
                        lines.join("\n    ")
                    );
                    if let Some((field, pointer, what)) = differing.first() {
                        return Err(list_violation(
                            Level::Inferred,
                            format!(
                                "a stored value reads back unchanged from the list (round_trip): {pointer} of {user_id}: {what}"
                            ),
                            expected,
                            &format!("round_trip value {}", field.key().to_lowercase()),
                            user_id,
                        ));
                    }
                    if let Some(first) = &id_line {
                        return Err(list_violation(
                            Level::Inferred,
                            format!(
                                "the list shows {user_id} under the id it was given: {first}"
                            ),
                            expected,
                            "id update",
                            user_id,
                        ));
                    }
                }
                several => {
                    return Err(list_violation(
                        Level::Inferred,
                        format!(
                            "UserID is a unique user identifier, but the list holds {} records with {user_id}",
                            several.len()
                        ),
                        format!("exactly one record with UserID {user_id}"),
                        "unique duplicate",
                        user_id,
                    ))
                }
            }
        }
        Ok(())
    }
}

/// A customer object in a list, with its index there.
type Listed<'a> = (usize, &'a Map<String, Value>);

/// What is wrong with the shape of a customer object, if anything: `id` an integer, `UserID`
/// and `Name` strings, the optional fields strings, null or absent (never given, or sent empty).
/// `name_may_be_blank`: Name was sent as the empty string, so it may read as null or nothing too.
fn shape_problem(object: &Map<String, Value>, name_may_be_blank: bool) -> Option<String> {
    if !object
        .get("id")
        .is_some_and(|id| id.is_i64() || id.is_u64())
    {
        return Some(format!(
            "id is {}",
            object.get("id").map_or("missing".to_string(), abbreviate)
        ));
    }
    if !object.get("UserID").is_some_and(Value::is_string) {
        return Some(format!(
            "UserID is {}",
            object
                .get("UserID")
                .map_or("missing".to_string(), abbreviate)
        ));
    }
    for field in Field::ALL {
        match object.get(field.key()) {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) if field.is_optional() || name_may_be_blank => {}
            other => {
                return Some(format!(
                    "{} is {}",
                    field.key(),
                    other.map_or("missing".to_string(), abbreviate)
                ))
            }
        }
    }
    None
}

fn describe_shown(shown: &Shown) -> String {
    let mut parts = vec![format!("UserID {:?}", shown.user_id)];
    if let Some(id) = shown.id {
        parts.push(format!("id {id}"));
    }
    for (field, slot) in &shown.fields {
        parts.push(format!("{} {}", field.key(), slot.describe()));
    }
    format!("a customer object with {}", parts.join(", "))
}

/// The snake-case operation name used in scenario names.
pub fn operation_tag(op: Operation) -> &'static str {
    match op {
        Operation::List => "list",
        Operation::Create => "create",
        Operation::FullUpdate => "full_update",
        Operation::PartialUpdate => "partial_update",
        Operation::Delete => "delete",
    }
}

fn operation_sentence(op: Operation) -> &'static str {
    match op {
        Operation::List => "a list",
        Operation::Create => "a create",
        Operation::FullUpdate => "a PUT",
        Operation::PartialUpdate => "a PATCH",
        Operation::Delete => "a DELETE",
    }
}

/// JSON text with long strings shortened, for messages.
pub fn abbreviate(value: &Value) -> String {
    fn shorten(value: &Value) -> Value {
        match value {
            Value::String(text) if text.chars().count() > 60 => {
                let head: String = text.chars().take(24).collect();
                Value::String(format!("{head}… ({} chars)", text.chars().count()))
            }
            Value::Array(items) => Value::Array(items.iter().map(shorten).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| (key.clone(), shorten(item)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let text = shorten(value).to_string();
    if text.chars().count() > 400 {
        let cut: String = text.chars().take(400).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// The values a request sent, as the slots they fill.
fn sent_slots(values: &BTreeMap<Field, String>) -> BTreeMap<Field, Slot> {
    values
        .iter()
        .map(|(field, value)| (*field, Slot::Set(value.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            username: "user".to_string(),
            context: "default".to_string(),
            invalid_context: "zzconf-no-such-context".to_string(),
            forbidden_context: Some("restricted".to_string()),
            own_prefix: "zzconf-t-".to_string(),
        }
    }

    fn json_answer(status: u16, body: Value) -> Observed {
        Observed {
            status,
            json_content_type: true,
            body: Some(body),
        }
    }

    fn text_answer(status: u16) -> Observed {
        Observed {
            status,
            json_content_type: false,
            body: None,
        }
    }

    fn create(user_id: &str, name: &str, auth: Auth) -> Request {
        Request {
            action: Action::Create {
                user_id: Some(user_id.to_string()),
                values: [(Field::Name, name.to_string())].into_iter().collect(),
            },
            auth,
        }
    }

    fn object(id: i64, user_id: &str, name: &str) -> Value {
        json!({"id": id, "UserID": user_id, "Name": name, "Address": "", "Email": "",
               "PhoneNumber": "", "AltPhoneNumber": ""})
    }

    /// A state holding `user_id` named `name` with id 1 in `context`.
    fn holding(context: Context, user_id: &str, name: &str) -> State {
        let mut state = State::default();
        let request = create(
            user_id,
            name,
            match context {
                Context::Primary => Auth::Configured,
                Context::Second => Auth::SecondContext,
            },
        );
        accept(
            &scope(),
            &state,
            &request,
            &json_answer(200, object(1, user_id, name)),
        )
        .map(|next| state = next)
        .unwrap();
        state.touched.clear();
        state
    }

    #[test]
    fn a_clean_refusal_of_a_value_that_is_not_ordinary_changes_nothing() {
        let request = create("zzconf-t-u0", "tab\there", Auth::Configured);
        let next = accept(&scope(), &State::default(), &request, &text_answer(422)).unwrap();
        assert!(next.primary.is_empty());
        // Accepted, it must read back exactly: stored stripped is a round-trip violation, not documented.
        let stripped = json_answer(200, object(3, "zzconf-t-u0", "tabhere"));
        let violation = accept(&scope(), &State::default(), &request, &stripped).unwrap_err();
        assert_eq!(violation.level, Level::Inferred, "{violation}");
        assert!(violation.message.contains("round_trip"), "{violation}");
    }

    #[test]
    fn refusing_an_ordinary_create_is_a_documented_violation() {
        let request = create("zzconf-t-u0", "Trisul Network", Auth::Configured);
        let violation =
            accept(&scope(), &State::default(), &request, &text_answer(422)).unwrap_err();
        assert_eq!(violation.level, Level::Documented, "{violation}");
    }

    #[test]
    fn a_user_id_held_in_the_other_context_may_be_refused_and_if_accepted_is_independent() {
        let state = holding(Context::Primary, "zzconf-t-u0", "First");
        let request = create("zzconf-t-u0", "Second", Auth::SecondContext);
        let conflict = json_answer(409, json!({"error": "exists"}));
        let refused = accept(&scope(), &state, &request, &conflict).unwrap();
        assert_eq!(
            (refused.primary, refused.second),
            (state.primary.clone(), state.second.clone())
        );
        let accepted = json_answer(200, object(9, "zzconf-t-u0", "Second"));
        let next = accept(&scope(), &state, &request, &accepted).unwrap();
        assert_eq!(next.primary, state.primary, "the first record is untouched");
        assert_eq!(next.second["zzconf-t-u0"].id, 9);
    }

    #[test]
    fn a_duplicate_create_may_answer_the_existing_record_unchanged_or_upsert_the_values_sent() {
        let state = holding(Context::Primary, "zzconf-t-u0", "First");
        let request = create("zzconf-t-u0", "Again", Auth::Configured);
        let existing = json_answer(200, object(1, "zzconf-t-u0", "First"));
        assert_eq!(
            accept(&scope(), &state, &request, &existing)
                .unwrap()
                .primary,
            state.primary
        );
        let upsert = json_answer(200, object(1, "zzconf-t-u0", "Again"));
        let next = accept(&scope(), &state, &request, &upsert).unwrap();
        assert_eq!(
            next.primary["zzconf-t-u0"].slot(Field::Name),
            &Slot::Set("Again".to_string())
        );
        // Neither what was sent nor what was there.
        let other = json_answer(200, object(1, "zzconf-t-u0", "Other"));
        let violation = accept(&scope(), &state, &request, &other).unwrap_err();
        assert!(violation.message.contains("\n  or:"), "{violation}");
    }

    #[test]
    fn an_empty_string_may_read_back_as_null_or_absent_but_not_as_the_old_value() {
        let state = holding(Context::Primary, "zzconf-t-u0", "First");
        let patch = |address: &str| Request {
            action: Action::PartialUpdate {
                user_id: "zzconf-t-u0".to_string(),
                values: [(Field::Address, address.to_string())]
                    .into_iter()
                    .collect(),
                body_user_id: false,
            },
            auth: Auth::Configured,
        };
        let set = accept(
            &scope(),
            &state,
            &patch("Chennai"),
            &json_answer(
                200,
                json!({"id": 1, "UserID": "zzconf-t-u0", "Name": "First", "Address": "Chennai"}),
            ),
        )
        .unwrap();
        let blank = json_answer(
            200,
            json!({"id": 1, "UserID": "zzconf-t-u0", "Name": "First", "Address": null}),
        );
        accept(&scope(), &set, &patch(""), &blank).unwrap();
        let kept = json_answer(
            200,
            json!({"id": 1, "UserID": "zzconf-t-u0", "Name": "First", "Address": "Chennai"}),
        );
        assert!(accept(&scope(), &set, &patch(""), &kept).is_err());
    }

    #[test]
    fn an_error_envelope_is_exact_when_the_auth_problem_is_the_only_one() {
        let request = create("zzconf-t-u0", "Trisul", Auth::InvalidToken);
        let exact = json_answer(
            200,
            json!({"status": "ERROR", "message": "Invalid API token"}),
        );
        accept(&scope(), &State::default(), &request, &exact).unwrap();
        let extra = json_answer(
            200,
            json!({"status": "ERROR", "message": "Invalid API token", "data": {}}),
        );
        let violation = accept(&scope(), &State::default(), &request, &extra).unwrap_err();
        assert_eq!(violation.level, Level::Documented);
        assert!(
            violation.citation.contains("Invalid API Token"),
            "{violation}"
        );
        assert!(accept(&scope(), &State::default(), &request, &text_answer(422)).is_err());
    }

    #[test]
    fn a_request_with_several_problems_may_get_any_refusal_but_never_a_success() {
        // An invalid token and a value a server may refuse: a server that validates first may say so.
        let unusual = create("zzconf-t-u0", "tab\there", Auth::InvalidToken);
        accept(&scope(), &State::default(), &unusual, &text_answer(422)).unwrap();
        // An invalid token and an unknown UserID.
        let delete = Request {
            action: Action::Delete {
                user_id: "zzconf-t-u9".to_string(),
            },
            auth: Auth::InvalidToken,
        };
        accept(&scope(), &State::default(), &delete, &text_answer(404)).unwrap();
        // An invalid token and an invalid context: either documented envelope, exactly.
        let both = create("zzconf-t-u0", "Trisul", Auth::InvalidTokenAndContext);
        for envelope in [
            json!({"status": "ERROR", "message": "Invalid API token"}),
            json!({"status": "Error", "message": "Invalid Context name - zzconf-no-such-context"}),
        ] {
            accept(
                &scope(),
                &State::default(),
                &both,
                &json_answer(200, envelope),
            )
            .unwrap();
        }
        assert!(accept(&scope(), &State::default(), &both, &text_answer(400)).is_err());
        // Never a success.
        let success = json_answer(200, object(1, "zzconf-t-u0", "tab\there"));
        let violation = accept(&scope(), &State::default(), &unusual, &success).unwrap_err();
        assert_eq!(violation.level, Level::Documented, "{violation}");
    }

    #[test]
    fn a_tampered_token_gets_the_exact_envelope_and_a_tampered_context_either_context_envelope() {
        let prefix = create(
            "zzconf-t-u0",
            "Trisul",
            Auth::Tampered(AuthField::ApiToken, Tamper::Prefix),
        );
        let token_error = json_answer(
            200,
            json!({"status": "ERROR", "message": "Invalid API token"}),
        );
        accept(&scope(), &State::default(), &prefix, &token_error).unwrap();
        let success = json_answer(200, object(1, "zzconf-t-u0", "Trisul"));
        let violation = accept(&scope(), &State::default(), &prefix, &success).unwrap_err();
        assert!(
            violation.topic.contains("auth::api_token::prefix"),
            "{}",
            violation.topic
        );

        let context = create(
            "zzconf-t-u0",
            "Trisul",
            Auth::Tampered(AuthField::Contextname, Tamper::CaseChanged),
        );
        for envelope in [
            json!({"status": "Error", "message": "Invalid Context name - DEFAULT"}),
            json!({"status": "Error", "message": "The user (user) is not allowed to access the context DEFAULT"}),
        ] {
            accept(
                &scope(),
                &State::default(),
                &context,
                &json_answer(200, envelope),
            )
            .unwrap();
        }
        let wrong_name = json_answer(
            200,
            json!({"status": "Error", "message": "Invalid Context name - default"}),
        );
        assert!(accept(&scope(), &State::default(), &context, &wrong_name).is_err());

        // Left out: the page names no answer, any refusal will do; a success is inferred to be wrong.
        let absent = create(
            "zzconf-t-u0",
            "Trisul",
            Auth::Tampered(AuthField::ApiToken, Tamper::Absent),
        );
        accept(&scope(), &State::default(), &absent, &text_answer(401)).unwrap();
        let violation = accept(&scope(), &State::default(), &absent, &success).unwrap_err();
        assert_eq!(violation.level, Level::Inferred);
        assert!(
            violation.citation.starts_with("Authentication"),
            "{violation}"
        );
    }

    fn put(user_id: &str, name: &str) -> Request {
        Request {
            action: Action::FullUpdate {
                user_id: user_id.to_string(),
                values: Field::ALL
                    .into_iter()
                    .map(|field| (field, name.to_string()))
                    .collect(),
                body_user_id: true,
            },
            auth: Auth::Configured,
        }
    }

    fn list() -> Request {
        Request {
            action: Action::List,
            auth: Auth::Configured,
        }
    }

    #[test]
    fn look_alikes_are_told_apart_by_how_they_resemble_the_record() {
        let of = UserIdVariant::of;
        assert_eq!(of("zzconf-t-u", "zzconf-t-u0"), Some(UserIdVariant::Prefix));
        assert_eq!(
            of("zzconf-t-u0x", "zzconf-t-u0"),
            Some(UserIdVariant::Extension)
        );
        assert_eq!(of("zzconf-t-U0", "zzconf-t-u0"), Some(UserIdVariant::Case));
        assert_eq!(
            of("zzconf-t-u%30", "zzconf-t-u0"),
            Some(UserIdVariant::PercentEncoded)
        );
        assert_eq!(of("zzconf-t-u0", "zzconf-t-u0"), None);
        assert_eq!(of("zzconf-t-u1", "zzconf-t-u0"), None);
    }

    #[test]
    fn a_path_carries_a_literal_percent_encoded_once_more() {
        let delete = Request {
            action: Action::Delete {
                user_id: "zzconf-t-u%30".to_string(),
            },
            auth: Auth::Configured,
        };
        assert_eq!(delete.path(), "/api/ipdrcustomers/zzconf-t-u%2530");
    }

    #[test]
    fn a_put_of_a_prefix_answered_with_the_records_object_is_a_refusal_and_the_list_catches_it() {
        let state = holding(Context::Primary, "zzconf-t-u0", "First");
        let request = put("zzconf-t-u", "Other");
        // A server that found the record by prefix answers the record it changed: that is
        // not a success for the UserID named, so the model sees a refusal...
        let wrong_record = json_answer(
            200,
            json!({"id": 1, "UserID": "zzconf-t-u0", "Name": "Other", "Address": "Other",
                   "Email": "Other", "PhoneNumber": "Other", "AltPhoneNumber": "Other"}),
        );
        let next = accept(&scope(), &state, &request, &wrong_record).unwrap();
        assert_eq!(next.primary, state.primary);
        // ...and the list, which shows the record changed, fails, naming the look-alike.
        let listed = json_answer(
            200,
            json!([{"id": 1, "UserID": "zzconf-t-u0", "Name": "Other", "Address": "Other",
                    "Email": "Other", "PhoneNumber": "Other", "AltPhoneNumber": "Other"}]),
        );
        let violation = accept(&scope(), &next, &list(), &listed).unwrap_err();
        assert_eq!(violation.level, Level::Inferred, "{violation}");
        assert!(
            violation.topic.contains("user_id_variants::prefix"),
            "{}",
            violation.topic
        );
        // A conformant upsert under the UserID named is a record of its own.
        let upsert = json_answer(
            200,
            json!({"id": 2, "UserID": "zzconf-t-u", "Name": "Other", "Address": "Other",
                   "Email": "Other", "PhoneNumber": "Other", "AltPhoneNumber": "Other"}),
        );
        let next = accept(&scope(), &state, &request, &upsert).unwrap();
        assert_eq!(next.primary["zzconf-t-u0"], state.primary["zzconf-t-u0"]);
        assert_eq!(next.primary["zzconf-t-u"].id, 2);
    }

    #[test]
    fn a_list_that_differs_from_the_model_names_each_differing_field_of_that_record_only() {
        let mut state = holding(Context::Primary, "zzconf-t-u0", "First");
        state = accept(
            &scope(),
            &state,
            &create("zzconf-t-u1", "Second", Auth::Configured),
            &json_answer(200, object(2, "zzconf-t-u1", "Second")),
        )
        .unwrap();
        let mut changed = object(1, "zzconf-t-u0", "Renamed");
        changed["Address"] = json!("Somewhere");
        let listed = json_answer(200, json!([object(2, "zzconf-t-u1", "Second"), changed]));
        let violation = accept(&scope(), &state, &list(), &listed).unwrap_err();
        let lines: Vec<&str> = violation.message.lines().collect();
        assert_eq!(
            lines[0],
            "a stored value reads back unchanged from the list (round_trip): /1/Name of zzconf-t-u0: expected \"First\", got \"Renamed\""
        );
        assert_eq!(
            lines[3..],
            [
                "  expected: zzconf-t-u0 as stored; /1 differs in 2 field(s):",
                "    /1/Name: expected \"First\", got \"Renamed\"",
                "    /1/Address: expected \"\", null or nothing (never given), got \"Somewhere\"",
            ]
        );
        // The other record is not quoted.
        assert!(!violation.message.contains("Second"), "{violation}");
        assert!(
            violation.topic.contains("round_trip value name"),
            "{}",
            violation.topic
        );
    }

    #[test]
    fn a_user_id_that_is_not_ordinary_may_be_refused_even_for_an_existing_record() {
        let state = holding(Context::Primary, "zzconf-t-u%30", "First");
        let delete = Request {
            action: Action::Delete {
                user_id: "zzconf-t-u%30".to_string(),
            },
            auth: Auth::Configured,
        };
        let refused = accept(&scope(), &state, &delete, &text_answer(422)).unwrap();
        assert_eq!(refused.primary, state.primary);
        // An ordinary UserID's DELETE must succeed.
        let state = holding(Context::Primary, "zzconf-t-u0", "First");
        let delete = Request {
            action: Action::Delete {
                user_id: "zzconf-t-u0".to_string(),
            },
            auth: Auth::Configured,
        };
        assert!(accept(&scope(), &state, &delete, &text_answer(422)).is_err());
    }

    #[test]
    fn a_create_differing_from_a_record_only_in_case_may_be_refused_and_is_its_own_record() {
        let state = holding(Context::Primary, "zzconf-t-u0", "First");
        let request = create("zzconf-t-U0", "Second", Auth::Configured);
        let refused = accept(&scope(), &state, &request, &text_answer(409)).unwrap();
        assert_eq!(refused.primary, state.primary);
        let accepted = json_answer(200, object(2, "zzconf-t-U0", "Second"));
        let next = accept(&scope(), &state, &request, &accepted).unwrap();
        assert_eq!(next.primary["zzconf-t-u0"], state.primary["zzconf-t-u0"]);
        assert_eq!(next.primary["zzconf-t-U0"].id, 2);
        // A prefix is another identifier altogether: refusing its create is a violation.
        let prefix = create("zzconf-t-u", "Third", Auth::Configured);
        assert!(accept(&scope(), &state, &prefix, &text_answer(409)).is_err());
    }

    #[test]
    fn a_borrowed_username_must_be_refused_in_either_context() {
        for auth in [Auth::OtherUsername, Auth::OtherUsernameInOtherContext] {
            let request = create("zzconf-t-u0", "Trisul", auth);
            // Any refusal: the page names no envelope for another user's name.
            accept(&scope(), &State::default(), &request, &text_answer(403)).unwrap();
            accept(
                &scope(),
                &State::default(),
                &request,
                &json_answer(
                    200,
                    json!({"status": "ERROR", "message": "Invalid API token"}),
                ),
            )
            .unwrap();
            let success = json_answer(200, object(1, "zzconf-t-u0", "Trisul"));
            let violation = accept(&scope(), &State::default(), &request, &success).unwrap_err();
            assert_eq!(violation.level, Level::Inferred, "{violation}");
            assert!(violation.citation.starts_with("Authentication"));
            assert!(
                violation.topic.contains("cross_user")
                    && violation.topic.contains("auth::username"),
                "{}",
                violation.topic
            );
        }
    }
}
