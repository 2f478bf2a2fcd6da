//! A pure model of the documented contract, for property-based checking.
//!
//! The model holds what the harness knows about its own records, per
//! context, and decides with one function, [`accept`], whether a target's
//! answer to one request is one the vendor page allows, and what the state
//! is afterwards. The sequential property trial and the linearizability
//! check share it; nothing here does I/O.
//!
//! Documented outcomes are strict: the exact error envelopes with HTTP 200
//! ("Error Handling"), customer objects with string fields and an integer id
//! ("Response Examples"), PATCH keeping omitted fields, the id kept on
//! update, DELETE returning the deleted object, a rejected request changing
//! nothing. Where the page is silent ([`Expectation::Unspecified`]), the
//! answer may take any form, and the model branches on it: a customer object
//! for the request's UserID means the server applied the request (it must
//! then show exactly the values sent, and the record takes them), anything
//! else means it refused (and nothing changed). Either way the state must be
//! one the page allows, which the list check at the end of a sequence sees.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{json, Map, Value};

use super::contract::{
    customer_path, DocumentedError, Operation, COLLECTION_PATH, ERROR_HTTP_STATUS,
    FULL_UPDATE_FIELDS, SUCCESS_HTTP_STATUS,
};
use super::scenario::Level;

/// Values longer than this many characters may be refused by a conformant server (the page sets no limit, but any store has one).
pub const ORDINARY_MAX_CHARS: usize = 255;

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

    /// Whether a conformant server must accept `value` in this field and store it exactly.
    ///
    /// Ordinary: at most [`ORDINARY_MAX_CHARS`] characters, not empty or
    /// whitespace only, no control characters except `\n`, `\t` and `\r`;
    /// in Name and Address anything else (Unicode, quotes, backslashes,
    /// SQL- or HTML-looking text); in Email a plain address; in the phone
    /// numbers digits with an optional leading `+`. Anything else may be
    /// refused (the page gives no formats or limits), but if accepted it
    /// must read back exactly.
    pub fn is_ordinary(self, value: &str) -> bool {
        let general = !value.trim().is_empty()
            && value.chars().count() <= ORDINARY_MAX_CHARS
            && !value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'));
        general
            && match self {
                Field::Name | Field::Address => true,
                Field::Email => is_plain_email(value),
                Field::PhoneNumber | Field::AltPhoneNumber => {
                    let digits = value.strip_prefix('+').unwrap_or(value);
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                }
            }
    }
}

/// `local@domain.tld` in lower-case ASCII letters, digits and `._+-`.
fn is_plain_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let atom = |text: &str, extra: &[u8]| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
    };
    atom(local, b"._+-")
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| atom(label, b"-"))
}

/// Field values a request carries (absent fields are not sent).
pub type Values = BTreeMap<Field, String>;

/// What the model knows about one stored field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// This exact string.
    Set(String),
    /// Never given (an optional field left out on create): reads as `""`, `null` or nothing, the page does not say which.
    Unset,
}

impl Slot {
    /// Whether `found` (None: the key is missing) is what this slot allows.
    fn admits(&self, found: Option<&Value>) -> bool {
        match (self, found) {
            (Slot::Set(text), Some(Value::String(found))) => text == found,
            (Slot::Unset, None | Some(Value::Null)) => true,
            (Slot::Unset, Some(Value::String(found))) => found.is_empty(),
            _ => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Slot::Set(text) => abbreviate(&Value::String(text.clone())),
            Slot::Unset => "\"\", null or nothing (never given)".to_string(),
        }
    }

    /// The spine pattern for this slot.
    fn pattern(&self) -> Value {
        match self {
            Slot::Set(text) => Value::String(text.clone()),
            Slot::Unset => json!({"$one_of": ["", {"$any": "null"}, {"$absent": true}]}),
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

    /// The documented error the request must get, if any.
    pub fn refusal(self) -> Option<DocumentedError> {
        match self {
            Auth::InvalidToken => Some(DocumentedError::InvalidToken),
            Auth::InvalidContext => Some(DocumentedError::InvalidContext),
            Auth::ForbiddenContext => Some(DocumentedError::ForbiddenContext),
            Auth::Configured | Auth::SecondContext => None,
        }
    }

    /// Snake-case name, as in the scenario format's `auth`.
    pub fn tag(self) -> &'static str {
        match self {
            Auth::Configured => "default",
            Auth::SecondContext => "second_context",
            Auth::InvalidToken => "invalid_token",
            Auth::InvalidContext => "invalid_context",
            Auth::ForbiddenContext => "forbidden_context",
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
            | Action::Delete { user_id } => customer_path(user_id),
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
    /// The context name a refused request carried.
    fn contextname(&self, auth: Auth) -> String {
        match auth {
            Auth::InvalidContext => self.invalid_context.clone(),
            Auth::ForbiddenContext => self.forbidden_context.clone().unwrap_or_default(),
            _ => self.context.clone(),
        }
    }

    /// Whether a listed object is one of this case's own records.
    fn owns(&self, object: &Map<String, Value>) -> bool {
        [object.get("UserID"), object.get(Field::Name.key())]
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|text| text.starts_with(&self.own_prefix))
    }
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

    /// The body as a customer object for `user_id`, if it is one.
    fn customer_for(&self, user_id: &str) -> Option<&Map<String, Value>> {
        self.body
            .as_ref()
            .and_then(Value::as_object)
            .filter(|object| object.get("UserID").and_then(Value::as_str) == Some(user_id))
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
    /// A documented error envelope with HTTP 200; nothing changes ("Error Handling").
    Refused {
        /// Which error.
        error: DocumentedError,
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
        /// Whether the request carries values a server may refuse; refusing changes nothing.
        may_refuse: bool,
    },
    /// The page is silent on the answer. A customer object for `user_id` means the request was applied:
    /// it must match `applied` (when given) and the record becomes what it shows; any other answer changes nothing.
    Unspecified {
        /// The context the request works on.
        context: Context,
        /// The UserID an applied request would answer with.
        user_id: Option<String>,
        /// What an answer that applied the request must show; None: the request may not change anything at all.
        applied: Option<Shown>,
        /// Why the page is silent, for messages.
        why: &'static str,
    },
}

/// What the page says about `request` when the harness's records are `state`.
pub fn expect(scope: &Scope, state: &State, request: &Request) -> Expectation {
    if let Some(error) = request.auth.refusal() {
        return Expectation::Refused {
            error,
            username: scope.username.clone(),
            contextname: scope.contextname(request.auth),
        };
    }
    let context = request.auth.context().unwrap_or(Context::Primary);
    let records = state.records(context);
    let may_refuse = request.carries_unusual_values();
    let unspecified =
        |user_id: Option<&String>, applied: Option<Shown>, why| Expectation::Unspecified {
            context,
            user_id: user_id.cloned(),
            applied,
            why,
        };
    match &request.action {
        Action::List => Expectation::Listing(context),
        Action::Create { user_id, values } => {
            let Some(user_id) = user_id else {
                return unspecified(None, None, "a create without UserID");
            };
            if !values.contains_key(&Field::Name) {
                return unspecified(Some(user_id), None, "a create without Name");
            }
            let sent: BTreeMap<Field, Slot> = Field::ALL
                .into_iter()
                .map(|field| match values.get(&field) {
                    Some(value) => (field, Slot::Set(value.clone())),
                    None => (field, Slot::Unset),
                })
                .collect();
            if records.contains_key(user_id) {
                // Unspecified: rejected, or an upsert that shows the values sent (omitted ones: any).
                let applied = Shown {
                    user_id: user_id.clone(),
                    fields: sent
                        .into_iter()
                        .filter(|(_, slot)| *slot != Slot::Unset)
                        .collect(),
                    id: None,
                    kept: Vec::new(),
                };
                return unspecified(
                    Some(user_id),
                    Some(applied),
                    "a create with a UserID that exists",
                );
            }
            Expectation::Customer {
                context,
                shown: Shown {
                    user_id: user_id.clone(),
                    fields: sent,
                    id: None,
                    kept: Vec::new(),
                },
                removes: false,
                may_refuse,
            }
        }
        Action::FullUpdate {
            user_id,
            values,
            body_user_id,
        } => {
            if !*body_user_id || values.len() < Field::ALL.len() {
                return unspecified(Some(user_id), None, "a PUT without every field");
            }
            let sent = sent_slots(values);
            match records.get(user_id) {
                None => unspecified(
                    Some(user_id),
                    Some(Shown {
                        user_id: user_id.clone(),
                        fields: sent,
                        id: None,
                        kept: Vec::new(),
                    }),
                    "a PUT of an unknown UserID",
                ),
                Some(record) => Expectation::Customer {
                    context,
                    shown: Shown {
                        user_id: user_id.clone(),
                        fields: sent,
                        id: Some(record.id),
                        kept: Vec::new(),
                    },
                    removes: false,
                    may_refuse,
                },
            }
        }
        Action::PartialUpdate {
            user_id, values, ..
        } => {
            let sent = sent_slots(values);
            match records.get(user_id) {
                None => unspecified(
                    Some(user_id),
                    Some(Shown {
                        user_id: user_id.clone(),
                        fields: sent,
                        id: None,
                        kept: Vec::new(),
                    }),
                    "a PATCH of an unknown UserID",
                ),
                Some(record) if values.is_empty() => unspecified(
                    Some(user_id),
                    Some(Shown {
                        user_id: user_id.clone(),
                        fields: record.fields.clone(),
                        id: Some(record.id),
                        kept: Field::ALL.to_vec(),
                    }),
                    "an empty PATCH",
                ),
                Some(record) => {
                    let mut fields = record.fields.clone();
                    fields.extend(sent);
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
                        may_refuse,
                    }
                }
            }
        }
        Action::Delete { user_id } => match records.get(user_id) {
            None => unspecified(Some(user_id), None, "a DELETE of an unknown UserID"),
            Some(record) => Expectation::Customer {
                context,
                shown: Shown {
                    user_id: user_id.clone(),
                    fields: record.fields.clone(),
                    id: Some(record.id),
                    kept: Field::ALL.to_vec(),
                },
                removes: true,
                may_refuse: false,
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
        let tag = format!(
            "{} {}",
            operation_tag(request.operation()),
            request.auth.tag()
        );
        let tags = next.touched.entry(user_id.to_string()).or_default();
        if !tags.contains(&tag) {
            tags.push(tag);
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
            error,
            username,
            contextname,
        } => judge.envelope(*error, username, contextname)?,
        Expectation::Listing(context) => judge.listing(state.records(*context))?,
        Expectation::Customer {
            context,
            shown,
            removes,
            may_refuse,
        } => {
            if *may_refuse && observed.customer_for(&shown.user_id).is_none() {
                // An unusual value refused (any answer but the object): nothing changes.
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
            let (Some(applied), Some(_)) = (applied, observed.customer_for(user_id)) else {
                // Refused in some way the page does not give: nothing changed.
                return Ok(next);
            };
            let object = judge.customer(applied, Level::Inferred)?;
            next.records_mut(*context)
                .insert(user_id.clone(), applied.record_from(object));
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
            Some(error) => error.citation().to_string(),
            None => op.citation().to_string(),
        };
        Violation {
            level,
            citation,
            topic: format!(
                "{} {} {topic} {}",
                operation_tag(op),
                self.request.auth.tag(),
                self.history(self.request.user_id())
            ),
            message: format!(
                "{rule}\n  sent:     {}\n  got:      {}\n  expected: {expected}",
                self.request.describe(),
                self.observed.describe()
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

    fn envelope(
        &self,
        error: DocumentedError,
        username: &str,
        contextname: &str,
    ) -> Result<(), Violation> {
        let expected = error.envelope(username, contextname);
        let shown = json!(expected).to_string();
        let body = self.http_200_json(&format!("the error {shown}"), ERROR_HTTP_STATUS)?;
        let same = |key: &str, want: &str| body.get(key).and_then(Value::as_str) == Some(want);
        if !(same("status", &expected.status) && same("message", &expected.message)) {
            return Err(self.violation(
                Level::Documented,
                &format!(
                    "a request with {} gets the documented envelope, exactly",
                    self.request.auth.tag()
                ),
                shown,
                "error envelope",
            ));
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
        if let Some(problem) = shape_problem(object) {
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
                self.request.auth.tag(),
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
        let mut own: BTreeMap<String, Vec<&Map<String, Value>>> = BTreeMap::new();
        for element in elements {
            let Some(object) = element.as_object() else {
                continue;
            };
            if !self.scope.owns(object) {
                continue;
            }
            if let Some(problem) = shape_problem(object) {
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
            own.entry(user_id.to_string()).or_default().push(object);
        }
        for (user_id, found) in &own {
            if !records.contains_key(user_id) {
                let rule = if user_id.starts_with(&self.scope.own_prefix) {
                    format!(
                        "the list holds {user_id}, which must not exist (a rejected request changes nothing; a deleted record is gone): {}",
                        abbreviate(&Value::Object(found[0].clone()))
                    )
                } else {
                    format!(
                        "the list holds a record made by a create without UserID (mandatory): {}",
                        abbreviate(&Value::Object(found[0].clone()))
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
                [object] => {
                    for (field, slot) in &record.fields {
                        if !slot.admits(object.get(field.key())) {
                            return Err(list_violation(
                                Level::Inferred,
                                format!(
                                    "a stored value reads back unchanged from the list (round_trip): {} of {user_id} expected {}, got {}",
                                    field.key(),
                                    slot.describe(),
                                    object.get(field.key()).map_or("nothing".to_string(), abbreviate)
                                ),
                                describe_shown(&shown),
                                &format!("round_trip value {}", field.key().to_lowercase()),
                                user_id,
                            ));
                        }
                    }
                    if object.get("id").and_then(Value::as_i64) != Some(record.id) {
                        return Err(list_violation(
                            Level::Inferred,
                            format!(
                                "the list shows {user_id} under the id it was given: expected {}, got {}",
                                record.id,
                                object.get("id").map_or("nothing".to_string(), abbreviate)
                            ),
                            describe_shown(&shown),
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

/// What is wrong with the shape of a customer object, if anything: `id` an integer, the other fields strings (optional ones may be null or absent).
fn shape_problem(object: &Map<String, Value>) -> Option<String> {
    if !object
        .get("id")
        .is_some_and(|id| id.is_i64() || id.is_u64())
    {
        return Some(format!(
            "id is {}",
            object.get("id").map_or("missing".to_string(), abbreviate)
        ));
    }
    for key in ["UserID", Field::Name.key()] {
        if !object.get(key).is_some_and(Value::is_string) {
            return Some(format!(
                "{key} is {}",
                object.get(key).map_or("missing".to_string(), abbreviate)
            ));
        }
    }
    for field in Field::ALL.into_iter().filter(|field| field.is_optional()) {
        match object.get(field.key()) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(other) => return Some(format!("{} is {}", field.key(), abbreviate(other))),
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
