//! Deliberate departures from the contract, switched on at run time
//! (`serve --deviate NAME`), so the suite can prove it catches each one.
//!
//! Every deviation breaks something the page documents or that follows
//! from it; none only changes a case the page is silent on (the answer to
//! an unknown UserID, duplicate/missing-field/malformed-JSON answers, check
//! order, id sequence, list order, extra members on customer objects). The
//! near-miss ones accept a request the page says must be refused: a token
//! that is not the user's ("Invalid API Token"), a username or context that
//! is not the one configured ("Authentication"), or a path UserID that names
//! no record but changes another one (inferred: an operation touches only
//! the record it names). The leaky ones add members to the documented
//! envelopes, which are exactly `{status, message}`, or put the API token
//! in an answer (security).
//!
//! Adding a deviation takes two edits:
//! 1. one line in the `deviations!` table below (variant, kebab-case name,
//!    one-line description, keywords of the behaviour it breaks);
//! 2. one arm in the hook where it acts. The hooks are few and named, so
//!    the conformant path stays readable:
//!    - [`Deviations::read_token`], [`Deviations::token_matches`],
//!      [`Deviations::missing_token_passes`],
//!      [`Deviations::token_of_any_user_passes`],
//!      [`Deviations::name_matches`] and
//!      [`Deviations::context_when_absent`]: how the credentials sent are
//!      read and compared with the users fixture;
//!    - [`Deviations::auth_check`]: whether a failed documented check is
//!      enforced, skipped, or answered while the operation still runs;
//!    - [`Deviations::path_user_id`] and [`Deviations::user_id_stands_for`]:
//!      which record a PUT, PATCH or DELETE path names;
//!    - [`Deviations::mandatory_fields`] and
//!      [`Deviations::applies_despite_missing_fields`]: which fields a
//!      request must carry, and whether a refused PUT still writes;
//!    - [`Deviations::rewrite_changes`]: which field values reach the store,
//!      and [`Deviations::rewrite_answered`]: which the answer shows;
//!    - [`Deviations::store_faults`]: the store's bugs (shared contexts,
//!      racy or missing uniqueness, new ids on update, unpersisted deletes);
//!    - [`Deviations::rewrite_reply`]: the structured answer after the
//!      operation (envelope texts, list truncation);
//!    - [`Deviations::rewrite_wire`]: the answer on the wire (HTTP status,
//!      content type, JSON types, key names, body shape, extra members).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::spec::contract::{
    DocumentedError, Operation, AUTH_FIELDS, MESSAGE_INVALID_CONTEXT_PREFIX, STATUS_CONTEXT_ERROR,
    STATUS_TOKEN_ERROR,
};

use super::reply::{Reply, Wire};
use super::store::{FieldChanges, Record, Store, StoreFaults, Uniqueness};

/// Declares [`Deviation`] with `ALL`, `name()`, `description()` and
/// `behaviour()` from one table.
macro_rules! deviations {
    ($($variant:ident => $name:literal, $description:literal, [$($keyword:literal),+ $(,)?];)+) => {
        /// A deliberate departure from the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
        pub enum Deviation {
            $(
                #[doc = $description]
                #[value(name = $name)]
                $variant,
            )+
        }

        /// How many deviations exist.
        const DEVIATION_COUNT: usize = [$($name),+].len();

        impl Deviation {
            /// Every deviation, in declaration order.
            pub const ALL: [Deviation; DEVIATION_COUNT] = [$(Deviation::$variant),+];

            /// Kebab-case name, equal to the clap value name used by `--deviate`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Deviation::$variant => $name,)+
                }
            }

            /// One-line description of what the server does differently.
            pub fn description(self) -> &'static str {
                match self {
                    $(Deviation::$variant => $description,)+
                }
            }

            /// Lower-case keywords of the behaviour this deviation breaks
            /// (operation, vendor-doc section, error), matched as substrings
            /// of a failing trial's name or citation to attribute it.
            pub fn behaviour(self) -> &'static [&'static str] {
                match self {
                    $(Deviation::$variant => &[$($keyword),+],)+
                }
            }
        }
    };
}

deviations! {
    // ---- "Error Handling": the documented envelopes and their HTTP status.
    TokenErrorStatusMixedCase => "token-error-status-mixed-case",
        "the invalid-token envelope says \"Error\" instead of \"ERROR\"",
        ["invalid_token", "invalid api token"];
    TokenErrorHttp401 => "token-error-http-401",
        "the invalid-token envelope is sent with HTTP 401 instead of 200",
        ["invalid_token", "invalid api token"];
    ContextErrorStatusUpperCase => "context-error-status-upper-case",
        "the invalid-context envelope says \"ERROR\" instead of \"Error\"",
        ["invalid_context", "invalid context name"];
    ContextErrorOmitsName => "context-error-omits-name",
        "the invalid-context message is \"Invalid Context name - \" without the context name",
        ["invalid_context", "invalid context name"];
    ContextErrorMessageReworded => "context-error-message-reworded",
        "the invalid-context message reads \"Invalid context name: NAME\"",
        ["invalid_context", "invalid context name"];
    ForbiddenErrorOmitsUsername => "forbidden-error-omits-username",
        "the unauthorized-context message reads \"The user () is not allowed ...\"",
        ["forbidden", "unauthorized", "unauthorized context access"];
    ForbiddenErrorHttp403 => "forbidden-error-http-403",
        "the unauthorized-context envelope is sent with HTTP 403 instead of 200",
        ["forbidden", "unauthorized", "unauthorized context access"];
    ForbiddenErrorCarriesData => "forbidden-error-carries-data",
        "the unauthorized-context envelope also carries \"data\": the context's customers",
        ["forbidden", "unauthorized"];
    ErrorEnvelopeExtraMember => "error-envelope-extra-member",
        "the invalid-token envelope also carries \"code\": 401",
        ["invalid_token", "invalid api token"];

    // ---- "Authentication": checks skipped, or answered but not obeyed.
    ForbiddenContextNotChecked => "forbidden-context-not-checked",
        "per-user context access is never checked: any existing context is usable",
        ["forbidden", "unauthorized", "unauthorized context access"];
    TokenNotCheckedOnDelete => "token-not-checked-on-delete",
        "DELETE skips the token check: an invalid token still deletes",
        ["invalid_token", "invalid api token"];
    ListWorksWithBadToken => "list-works-with-bad-token",
        "GET skips the token check: an invalid token still lists the customers",
        ["invalid_token", "invalid api token"];
    CreateAppliedDespiteTokenError => "create-applied-despite-token-error",
        "POST with an invalid token answers the token error but creates the record",
        ["invalid_token", "invalid api token"];
    PatchAppliedDespiteTokenError => "patch-applied-despite-token-error",
        "PATCH with an invalid token answers the token error but applies the change",
        ["invalid_token", "invalid api token"];
    ContextIsolationBroken => "context-isolation-broken",
        "lookups, lists and the duplicate check ignore the context: all contexts share one store",
        ["isolation", "isolated", "second_context", "second context"];

    // ---- "Authentication": credentials that are merely close to valid ones.
    TokenPrefixAccepted => "token-prefix-accepted",
        "a non-empty prefix of a user's token is accepted as that token",
        ["auth::api_token"];
    TokenExtensionAccepted => "token-extension-accepted",
        "a token that starts with a user's token is accepted",
        ["auth::api_token"];
    TokenCaseInsensitive => "token-case-insensitive",
        "tokens compare case-insensitively",
        ["auth::api_token"];
    TokenTrimmed => "token-trimmed",
        "leading and trailing whitespace is trimmed from the token before comparing",
        ["auth::api_token"];
    TokenCheckSkippedWhenAbsent => "token-check-skipped-when-absent",
        "an absent or null api_token skips the token check (the user comes from username)",
        ["auth::api_token"];
    TokenArrayUnwrapped => "token-array-unwrapped",
        "an api_token that is a JSON array holding one string is taken as that string",
        ["auth::api_token"];
    UsernameFollowsName => "username-follows-name",
        "any user's valid token is accepted with any existing username; access follows the named user",
        ["cross_user", "auth::username"];
    UsernameCaseInsensitive => "username-case-insensitive",
        "usernames compare case-insensitively",
        ["auth::username"];
    ContextCaseInsensitive => "context-case-insensitive",
        "context names compare case-insensitively; the request acts in the matching context",
        ["auth::contextname"];
    ContextDefaultsWhenAbsent => "context-defaults-when-absent",
        "an absent contextname means the first context (\"default\")",
        ["auth::contextname"];

    // ---- Which record a path UserID names.
    UserIdPrefixMatch => "user-id-prefix-match",
        "PUT/PATCH/DELETE of an unknown UserID act on the first record (id order) whose UserID starts with it",
        ["user_id_variants"];
    UserIdCaseInsensitive => "user-id-case-insensitive",
        "PUT/PATCH/DELETE find the record by UserID case-insensitively",
        ["user_id_variants"];
    UserIdDoubleDecoded => "user-id-double-decoded",
        "the path UserID is percent-decoded a second time (%2561 ends up as a)",
        ["user_id_variants"];

    // ---- The customer object's field names and JSON types.
    PhoneNumberAsNumber => "phone-number-as-number",
        "PhoneNumber and AltPhoneNumber are answered as JSON numbers when all digits",
        ["phone", "string", "creating a new customer", "retrieving customer list"];
    EmailFieldRenamed => "email-field-renamed",
        "customer objects say \"email\" instead of \"Email\"",
        ["email", "creating a new customer", "retrieving customer list"];
    IdAsString => "id-as-string",
        "the id is answered as a JSON string instead of a number",
        ["numeric", "creating a new customer", "retrieving customer list"];

    // ---- PUT and PATCH semantics.
    PutActsLikePatch => "put-acts-like-patch",
        "PUT accepts missing fields and keeps the omitted ones",
        ["put", "full_update", "updating customer information"];
    PatchBlanksOmittedFields => "patch-blanks-omitted-fields",
        "PATCH acts like PUT: omitted fields become \"\"",
        ["patch", "partial", "partially updating"];
    IdChangesOnUpdate => "id-changes-on-update",
        "PUT and PATCH re-insert the record under a new id",
        ["put", "patch", "update", "updating customer information"];
    CreateDropsAltPhone => "create-drops-alt-phone",
        "create ignores AltPhoneNumber and stores \"\"",
        ["create", "alt_phone", "creating a new customer"];
    PutDropsAddress => "put-drops-address",
        "PUT ignores Address and keeps the old value",
        ["put", "full_update", "updating customer information"];
    PatchIgnoresName => "patch-ignores-name",
        "PATCH never updates Name",
        ["patch", "partial", "partially updating"];
    PatchIgnoresEmptyStrings => "patch-ignores-empty-strings",
        "PATCH answers the empty strings sent but does not store them",
        ["empty_string", "partial"];
    PutMissingFieldsPartiallyApplied => "put-missing-fields-partially-applied",
        "PUT with fields missing is refused but the fields it did carry are written",
        ["put", "missing", "full_update", "updating customer information"];

    // ---- What create, delete and list answer and do.
    DeleteReturnsStatus => "delete-returns-status",
        "DELETE answers {\"status\":\"Success\",\"message\":\"Customer deleted\"} instead of the deleted object",
        ["delete", "deleting a customer"];
    DeleteNotPersisted => "delete-not-persisted",
        "DELETE answers the object but the record stays",
        ["delete", "deleting a customer"];
    CreateReturnsStatus => "create-returns-status",
        "POST answers {\"status\":\"Success\"} instead of the created object",
        ["create", "creating a new customer"];
    ListWrappedInObject => "list-wrapped-in-object",
        "GET answers {\"data\":[...]} instead of an array",
        ["list", "retrieving customer list"];
    ListTruncatedAt50 => "list-truncated-at-50",
        "GET answers only the first 50 customers of the context",
        ["list", "retrieving customer list", "complete"];
    ListTruncatedAt250 => "list-truncated-at-250",
        "GET answers only the first 250 customers of the context",
        ["list", "complete"];
    ApiTokenEchoed => "api-token-echoed",
        "every success answer (each customer object) also carries the request's api_token, username and contextname",
        ["security"];
    NonJsonContentType => "non-json-content-type",
        "every answer is sent as text/html (body unchanged)",
        ["content_type", "content-type", "json", "creating a new customer", "retrieving customer list"];

    // ---- Uniqueness and mandatory fields.
    NonAtomicUniqueness => "non-atomic-uniqueness",
        "the duplicate-UserID check and the insert are not atomic: concurrent creates of one UserID can all succeed",
        ["concurren", "race", "parallel", "unique", "duplicate"];
    DuplicateUserIdAccepted => "duplicate-userid-accepted",
        "a create with an existing UserID adds a second record",
        ["unique", "duplicate"];
    MissingNameAccepted => "missing-name-accepted",
        "create without Name succeeds and stores \"\"",
        ["missing", "mandatory", "required", "without_name", "creating a new customer"];

    // ---- Values that do not round-trip (non-key fields).
    TruncateLongValues => "truncate-long-values",
        "stored field values are silently cut to 255 characters",
        ["long", "length", "roundtrip", "round_trip"];
    MangleNonAscii => "mangle-non-ascii",
        "non-ASCII characters in field values are stored as '?'",
        ["unicode", "non_ascii", "non-ascii", "utf", "roundtrip", "round_trip"];
    TrimWhitespace => "trim-whitespace",
        "leading and trailing whitespace is stripped from field values",
        ["whitespace", "spaces", "roundtrip", "round_trip"];
    ControlCharactersStripped => "control-characters-stripped",
        "control characters (\\n, \\t, ...) are removed from field values",
        ["control", "newline", "escape", "roundtrip", "round_trip"];
}

impl std::fmt::Display for Deviation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many customers the list-truncated-at-50 deviation answers.
const LIST_PAGE_SIZE: usize = 50;
/// How many customers the list-truncated-at-250 deviation answers.
const LIST_LARGE_PAGE_SIZE: usize = 250;
/// The extra member of the error-envelope-extra-member deviation, and its value.
const EXTRA_ENVELOPE_MEMBER: (&str, u16) = ("code", 401);
/// The member the forbidden-error-carries-data deviation adds.
const LEAKED_DATA_MEMBER: &str = "data";
/// How many characters the truncate-long-values deviation keeps.
const STORED_VALUE_CHARS: usize = 255;
/// Content type of the non-json-content-type deviation.
const HTML_CONTENT_TYPE: &str = "text/html; charset=UTF-8";

/// What happens when one documented auth check fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthCheck {
    /// The request is refused with the documented envelope (conformant).
    Enforce,
    /// The failure is ignored.
    Skip,
    /// The envelope is answered, but the operation runs anyway.
    AnswerButApply,
}

/// What was sent as `api_token`, as the token check reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SentToken<'a> {
    /// Absent or `null`.
    Missing,
    /// A string.
    Text(&'a str),
    /// Any other JSON value.
    Other,
}

/// Which kind of name is compared with the users fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    /// A `username`.
    Username,
    /// A `contextname`.
    Context,
}

/// What the wire hook may consult besides the reply.
pub(crate) struct Exchange<'a> {
    /// The request body, when it parsed as a JSON object.
    pub body: Option<&'a Map<String, Value>>,
    /// The store, for deviations that leak data.
    pub store: &'a Store,
}

/// The set of deviations switched on for one server (empty: conformant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deviations(BTreeSet<Deviation>);

impl Deviations {
    /// No deviation: the conformant server.
    pub fn none() -> Self {
        Deviations::default()
    }

    /// Whether no deviation is switched on (the conformant server).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `deviation` is switched on.
    pub fn is_on(&self, deviation: Deviation) -> bool {
        self.0.contains(&deviation)
    }

    /// The switched-on deviations, in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = Deviation> + '_ {
        self.0.iter().copied()
    }

    /// Hook point: how the `api_token` sent is read.
    pub(crate) fn read_token<'a>(&self, sent: Option<&'a Value>) -> SentToken<'a> {
        match sent {
            None | Some(Value::Null) => SentToken::Missing,
            Some(Value::String(text)) => SentToken::Text(text),
            Some(Value::Array(items)) if self.is_on(Deviation::TokenArrayUnwrapped) => {
                match items.as_slice() {
                    [Value::String(text)] => SentToken::Text(text),
                    _ => SentToken::Other,
                }
            }
            Some(_) => SentToken::Other,
        }
    }

    /// Hook point: whether the token `sent` is taken as the user token `real`.
    pub(crate) fn token_matches(&self, sent: &str, real: &str) -> bool {
        let on = |deviation| self.is_on(deviation);
        sent == real
            || (on(Deviation::TokenPrefixAccepted) && !sent.is_empty() && real.starts_with(sent))
            || (on(Deviation::TokenExtensionAccepted) && sent.starts_with(real))
            || (on(Deviation::TokenCaseInsensitive) && sent.to_lowercase() == real.to_lowercase())
            || (on(Deviation::TokenTrimmed) && sent.trim() == real)
    }

    /// Hook point: whether an absent or null token passes the token check.
    pub(crate) fn missing_token_passes(&self) -> bool {
        self.is_on(Deviation::TokenCheckSkippedWhenAbsent)
    }

    /// Hook point: whether any user's token is valid with any existing username.
    pub(crate) fn token_of_any_user_passes(&self) -> bool {
        self.is_on(Deviation::UsernameFollowsName)
    }

    /// Hook point: whether the name `sent` is taken as the fixture's `stored` name.
    pub(crate) fn name_matches(&self, kind: NameKind, sent: &str, stored: &str) -> bool {
        let loose = match kind {
            NameKind::Username => self.is_on(Deviation::UsernameCaseInsensitive),
            NameKind::Context => self.is_on(Deviation::ContextCaseInsensitive),
        };
        sent == stored || (loose && sent.to_lowercase() == stored.to_lowercase())
    }

    /// Hook point: the context an absent `contextname` stands for, out of
    /// the fixture's `contexts` (conformant: none, it is invalid).
    pub(crate) fn context_when_absent<'a>(&self, contexts: &'a [String]) -> Option<&'a str> {
        if self.is_on(Deviation::ContextDefaultsWhenAbsent) {
            contexts.first().map(String::as_str)
        } else {
            None
        }
    }

    /// Hook point: the UserID a path names, after the router decoded it once.
    pub(crate) fn path_user_id<'a>(&self, decoded: &'a str) -> Cow<'a, str> {
        if self.is_on(Deviation::UserIdDoubleDecoded) {
            Cow::Owned(crate::spec::contract::percent_decoded(decoded))
        } else {
            Cow::Borrowed(decoded)
        }
    }

    /// Hook point: whether a path UserID `sent` that no record holds acts
    /// on the record holding `stored` (conformant: never).
    pub(crate) fn user_id_stands_for(&self, sent: &str, stored: &str) -> bool {
        (self.is_on(Deviation::UserIdPrefixMatch) && stored.starts_with(sent))
            || (self.is_on(Deviation::UserIdCaseInsensitive)
                && sent.to_lowercase() == stored.to_lowercase())
    }

    /// Hook point: what a failed documented check of `op` leads to.
    pub(crate) fn auth_check(&self, op: Operation, failed: DocumentedError) -> AuthCheck {
        use DocumentedError::{ForbiddenContext, InvalidToken};
        let on = |deviation| self.is_on(deviation);
        match (failed, op) {
            (InvalidToken, Operation::Delete) if on(Deviation::TokenNotCheckedOnDelete) => {
                AuthCheck::Skip
            }
            (InvalidToken, Operation::List) if on(Deviation::ListWorksWithBadToken) => {
                AuthCheck::Skip
            }
            (InvalidToken, Operation::Create) if on(Deviation::CreateAppliedDespiteTokenError) => {
                AuthCheck::AnswerButApply
            }
            (InvalidToken, Operation::PartialUpdate)
                if on(Deviation::PatchAppliedDespiteTokenError) =>
            {
                AuthCheck::AnswerButApply
            }
            (ForbiddenContext, _) if on(Deviation::ForbiddenContextNotChecked) => AuthCheck::Skip,
            _ => AuthCheck::Enforce,
        }
    }

    /// Hook point: the mandatory fields `op` enforces, out of the contract's `conformant`.
    pub(crate) fn mandatory_fields(
        &self,
        op: Operation,
        conformant: &[&'static str],
    ) -> Vec<&'static str> {
        let waived = |field: &str| match op {
            Operation::FullUpdate => self.is_on(Deviation::PutActsLikePatch),
            Operation::Create => field == "Name" && self.is_on(Deviation::MissingNameAccepted),
            _ => false,
        };
        conformant
            .iter()
            .copied()
            .filter(|field| !waived(field))
            .collect()
    }

    /// Hook point: whether `op`, refused for missing fields, still writes the ones it carried.
    pub(crate) fn applies_despite_missing_fields(&self, op: Operation) -> bool {
        op == Operation::FullUpdate && self.is_on(Deviation::PutMissingFieldsPartiallyApplied)
    }

    /// Hook point: the field values of `op` as they reach the store.
    pub(crate) fn rewrite_changes(&self, op: Operation, mut changes: FieldChanges) -> FieldChanges {
        let on = |deviation| self.is_on(deviation);
        match op {
            Operation::Create if on(Deviation::CreateDropsAltPhone) => {
                changes.alt_phone_number = None;
            }
            Operation::FullUpdate if on(Deviation::PutDropsAddress) => changes.address = None,
            Operation::PartialUpdate => {
                if on(Deviation::PatchIgnoresName) {
                    changes.name = None;
                }
                if on(Deviation::PatchBlanksOmittedFields) {
                    for slot in changes.slots_mut() {
                        slot.get_or_insert_with(String::new);
                    }
                }
                if on(Deviation::PatchIgnoresEmptyStrings) {
                    for slot in changes.slots_mut() {
                        if slot.as_deref() == Some("") {
                            *slot = None;
                        }
                    }
                }
            }
            _ => {}
        }
        for value in changes.slots_mut().into_iter().flatten() {
            if on(Deviation::ControlCharactersStripped) {
                value.retain(|c| !c.is_control());
            }
            if on(Deviation::TrimWhitespace) {
                *value = value.trim().to_string();
            }
            if on(Deviation::MangleNonAscii) {
                *value = value
                    .chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect();
            }
            if on(Deviation::TruncateLongValues) {
                *value = value.chars().take(STORED_VALUE_CHARS).collect();
            }
        }
        changes
    }

    /// Hook point: the record `op` answers, given the field values `sent`
    /// and the record as stored (conformant: the stored record).
    pub(crate) fn rewrite_answered(
        &self,
        op: Operation,
        sent: &FieldChanges,
        mut record: Record,
    ) -> Record {
        if op == Operation::PartialUpdate && self.is_on(Deviation::PatchIgnoresEmptyStrings) {
            let empty = |value: &Option<String>| value.as_deref() == Some("");
            if empty(&sent.name) {
                record.name = String::new();
            }
            let optional = [
                (&sent.address, &mut record.address),
                (&sent.email, &mut record.email),
                (&sent.phone_number, &mut record.phone_number),
                (&sent.alt_phone_number, &mut record.alt_phone_number),
            ];
            for (value, slot) in optional {
                if empty(value) {
                    *slot = Some(String::new());
                }
            }
        }
        record
    }

    /// Hook point: the store's bugs.
    pub(crate) fn store_faults(&self) -> StoreFaults {
        let uniqueness = if self.is_on(Deviation::DuplicateUserIdAccepted) {
            Uniqueness::Unchecked
        } else if self.is_on(Deviation::NonAtomicUniqueness) {
            Uniqueness::CheckThenInsert
        } else {
            Uniqueness::Atomic
        };
        StoreFaults {
            contexts_shared: self.is_on(Deviation::ContextIsolationBroken),
            uniqueness,
            new_id_on_update: self.is_on(Deviation::IdChangesOnUpdate),
            delete_not_persisted: self.is_on(Deviation::DeleteNotPersisted),
        }
    }

    /// Hook point: rewrites the structured answer of `op` before it is rendered.
    pub(crate) fn rewrite_reply(&self, op: Operation, mut reply: Reply) -> Reply {
        let on = |deviation| self.is_on(deviation);
        match &mut reply {
            Reply::Documented {
                error,
                username: _,
                contextname,
                envelope,
            } => match error {
                DocumentedError::InvalidToken => {
                    if on(Deviation::TokenErrorStatusMixedCase) {
                        envelope.status = STATUS_CONTEXT_ERROR.to_string();
                    }
                }
                DocumentedError::InvalidContext => {
                    if on(Deviation::ContextErrorStatusUpperCase) {
                        envelope.status = STATUS_TOKEN_ERROR.to_string();
                    }
                    if on(Deviation::ContextErrorOmitsName) {
                        envelope.message = MESSAGE_INVALID_CONTEXT_PREFIX.to_string();
                    }
                    if on(Deviation::ContextErrorMessageReworded) {
                        envelope.message = format!("Invalid context name: {contextname}");
                    }
                }
                DocumentedError::ForbiddenContext => {
                    if on(Deviation::ForbiddenErrorOmitsUsername) {
                        envelope.message = error.envelope("", contextname).message;
                    }
                }
            },
            Reply::Customers(records) if op == Operation::List => {
                if on(Deviation::ListTruncatedAt50) {
                    records.truncate(LIST_PAGE_SIZE);
                }
                if on(Deviation::ListTruncatedAt250) {
                    records.truncate(LIST_LARGE_PAGE_SIZE);
                }
            }
            _ => {}
        }
        reply
    }

    /// Hook point: rewrites the answer of `op` on the wire.
    pub(crate) fn rewrite_wire(
        &self,
        op: Operation,
        reply: &Reply,
        mut wire: Wire,
        exchange: &Exchange<'_>,
    ) -> Wire {
        let on = |deviation| self.is_on(deviation);
        match reply {
            Reply::Documented {
                error: DocumentedError::InvalidToken,
                ..
            } => {
                if on(Deviation::TokenErrorHttp401) {
                    wire.status = 401;
                }
                if let (true, Some(envelope)) = (
                    on(Deviation::ErrorEnvelopeExtraMember),
                    wire.body.as_object_mut(),
                ) {
                    let (key, value) = EXTRA_ENVELOPE_MEMBER;
                    envelope.insert(key.to_string(), json!(value));
                }
            }
            Reply::Documented {
                error: DocumentedError::ForbiddenContext,
                contextname,
                ..
            } => {
                if on(Deviation::ForbiddenErrorHttp403) {
                    wire.status = 403;
                }
                if let (true, Some(envelope)) = (
                    on(Deviation::ForbiddenErrorCarriesData),
                    wire.body.as_object_mut(),
                ) {
                    let customers: Vec<Value> = exchange
                        .store
                        .list(contextname)
                        .iter()
                        .map(|record| json!(record.as_ref()))
                        .collect();
                    envelope.insert(LEAKED_DATA_MEMBER.to_string(), Value::Array(customers));
                }
            }
            _ => {}
        }
        if reply.is_success() {
            for_each_customer(&mut wire.body, |customer| {
                self.rewrite_customer_json(customer);
                if on(Deviation::ApiTokenEchoed) {
                    echo_auth(customer, exchange.body);
                }
            });
            wire.body = self.reshape_success(op, wire.body);
        }
        if on(Deviation::NonJsonContentType) {
            wire.content_type = HTML_CONTENT_TYPE;
        }
        wire
    }

    /// One customer object's JSON types and key names.
    fn rewrite_customer_json(&self, customer: &mut Map<String, Value>) {
        if self.is_on(Deviation::PhoneNumberAsNumber) {
            for key in ["PhoneNumber", "AltPhoneNumber"] {
                if let Some(number) = customer.get(key).and_then(digits_as_number) {
                    customer.insert(key.to_string(), number);
                }
            }
        }
        if self.is_on(Deviation::IdAsString) {
            if let Some(id) = customer.get("id").and_then(Value::as_i64) {
                customer.insert("id".to_string(), Value::String(id.to_string()));
            }
        }
        if self.is_on(Deviation::EmailFieldRenamed) {
            *customer = std::mem::take(customer)
                .into_iter()
                .map(|(key, value)| match key.as_str() {
                    "Email" => ("email".to_string(), value),
                    _ => (key, value),
                })
                .collect();
        }
    }

    /// The shape of a success body of `op`.
    fn reshape_success(&self, op: Operation, body: Value) -> Value {
        let on = |deviation| self.is_on(deviation);
        match op {
            Operation::Create if on(Deviation::CreateReturnsStatus) => {
                json!({"status": "Success"})
            }
            Operation::Delete if on(Deviation::DeleteReturnsStatus) => {
                json!({"status": "Success", "message": "Customer deleted"})
            }
            Operation::List if on(Deviation::ListWrappedInObject) => json!({"data": body}),
            _ => body,
        }
    }
}

/// Calls `f` on the customer object, or on each one of an array.
fn for_each_customer(body: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    match body {
        Value::Object(customer) => f(customer),
        Value::Array(customers) => customers
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(f),
        _ => {}
    }
}

/// Copies the auth parameters the request sent into a customer object.
fn echo_auth(customer: &mut Map<String, Value>, body: Option<&Map<String, Value>>) {
    let Some(body) = body else { return };
    for key in AUTH_FIELDS {
        if let Some(value) = body.get(key) {
            customer.insert(key.to_string(), value.clone());
        }
    }
}

/// An all-digit string as a JSON number (leading zeros lost, as a numeric column would).
fn digits_as_number(value: &Value) -> Option<Value> {
    let text = value.as_str()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().map(Value::from)
}

impl FromIterator<Deviation> for Deviations {
    fn from_iter<I: IntoIterator<Item = Deviation>>(iter: I) -> Self {
        Deviations(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_equal_clap_value_names() {
        for deviation in Deviation::ALL {
            let value = deviation.to_possible_value().expect("no skipped variants");
            assert_eq!(value.get_name(), deviation.name());
        }
    }

    #[test]
    fn all_lists_every_variant_once() {
        assert_eq!(Deviation::value_variants(), &Deviation::ALL[..]);
    }

    #[test]
    fn behaviour_keywords_are_lower_case_and_present() {
        for deviation in Deviation::ALL {
            let keywords = deviation.behaviour();
            assert!(!keywords.is_empty(), "{deviation}");
            for keyword in keywords {
                assert!(!keyword.is_empty(), "{deviation}");
                assert_eq!(*keyword, keyword.to_lowercase(), "{deviation}");
            }
        }
    }

    #[test]
    fn no_deviation_changes_nothing() {
        let none = Deviations::none();
        let changes = FieldChanges {
            name: Some(" \tä\n ".to_string()),
            ..FieldChanges::default()
        };
        for op in Operation::ALL {
            assert_eq!(none.rewrite_changes(op, changes.clone()), changes);
            assert_eq!(
                none.mandatory_fields(op, &["UserID", "Name"]),
                ["UserID", "Name"]
            );
            for error in DocumentedError::ALL {
                assert_eq!(none.auth_check(op, error), AuthCheck::Enforce);
            }
        }
        assert_eq!(none.store_faults(), StoreFaults::default());
        assert_eq!(
            none.read_token(Some(&json!(["t"]))),
            SentToken::Other,
            "an array is not a token"
        );
        assert!(none.token_matches("Tok", "Tok"));
        for near in ["To", "Tokx", "tok", " Tok "] {
            assert!(!none.token_matches(near, "Tok"), "{near}");
        }
        assert!(!none.missing_token_passes());
        assert!(!none.token_of_any_user_passes());
        for kind in [NameKind::Username, NameKind::Context] {
            assert!(!none.name_matches(kind, "Default", "default"));
        }
        assert_eq!(none.context_when_absent(&["default".to_string()]), None);
        assert_eq!(none.path_user_id("%61"), "%61");
        assert!(!none.user_id_stands_for("ab", "abc"));
        assert!(!none.user_id_stands_for("AB", "ab"));
    }

    #[test]
    fn second_percent_decoding_turns_2561_into_a() {
        let double = Deviations::from_iter([Deviation::UserIdDoubleDecoded]);
        // The router turned %2561 into %61; the second pass makes it "a".
        assert_eq!(double.path_user_id("%61"), "a");
        assert_eq!(double.path_user_id("plain-1"), "plain-1");
        assert_eq!(double.path_user_id("100%"), "100%");
    }
}
