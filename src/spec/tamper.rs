//! Adversarial auth parameters, derived from the contract's auth table, not
//! from any known bug.
//!
//! "Authentication" requires `api_token`, `username` and `contextname` in
//! every request body. For each of them, a [`Tamper`] turns the configured
//! value into one the target must refuse: absent, `null`, another JSON type,
//! empty, padded, or a near miss. [`expected_refusal`] says what the page
//! lets the refusal look like.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contract::{DocumentedError, AUTH_FIELDS};

/// One of the three auth parameters ("Authentication").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AuthField {
    /// `api_token`.
    ApiToken,
    /// `username`.
    Username,
    /// `contextname`.
    Contextname,
}

impl AuthField {
    /// Every auth parameter, in the page's order.
    pub const ALL: [AuthField; 3] = [
        AuthField::ApiToken,
        AuthField::Username,
        AuthField::Contextname,
    ];

    /// The body key (from [`AUTH_FIELDS`]).
    pub fn key(self) -> &'static str {
        AUTH_FIELDS[self as usize]
    }
}

/// How a configured auth value is spoiled.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tamper {
    /// The key is left out, the other two are sent.
    Absent,
    /// `null`.
    Null,
    /// A JSON array holding the configured value (loose comparisons take it for the value).
    WrongType,
    /// An object `{"$ne": ""}` (query-operator injection into a document store).
    Operator,
    /// The empty string.
    Empty,
    /// The configured value with a space before and after it.
    Padded,
    /// The configured value without its last character.
    Prefix,
    /// The configured value with one character appended.
    Extension,
    /// The configured value with its middle character replaced.
    OneCharChanged,
    /// The configured value with the case of every letter swapped.
    CaseChanged,
}

impl Tamper {
    /// Every tamper, in declaration order.
    pub const ALL: [Tamper; 10] = [
        Tamper::Absent,
        Tamper::Null,
        Tamper::WrongType,
        Tamper::Operator,
        Tamper::Empty,
        Tamper::Padded,
        Tamper::Prefix,
        Tamper::Extension,
        Tamper::OneCharChanged,
        Tamper::CaseChanged,
    ];

    /// Snake-case name, as in trial names.
    pub fn name(self) -> &'static str {
        match self {
            Tamper::Absent => "absent",
            Tamper::Null => "null",
            Tamper::WrongType => "wrong_type",
            Tamper::Operator => "operator",
            Tamper::Empty => "empty",
            Tamper::Padded => "padded",
            Tamper::Prefix => "prefix",
            Tamper::Extension => "extension",
            Tamper::OneCharChanged => "one_char_changed",
            Tamper::CaseChanged => "case_changed",
        }
    }

    /// A few words for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Tamper::Absent => "left out",
            Tamper::Null => "null",
            Tamper::WrongType => "an array holding the configured value",
            Tamper::Operator => "the object {\"$ne\": \"\"}",
            Tamper::Empty => "the empty string",
            Tamper::Padded => "the configured value padded with spaces",
            Tamper::Prefix => "the configured value without its last character",
            Tamper::Extension => "the configured value with a character appended",
            Tamper::OneCharChanged => "the configured value with one character changed",
            Tamper::CaseChanged => "the configured value with its letters' case swapped",
        }
    }

    /// Whether the tampered value is a non-empty string other than the configured one.
    pub fn is_other_string(self) -> bool {
        matches!(
            self,
            Tamper::Padded
                | Tamper::Prefix
                | Tamper::Extension
                | Tamper::OneCharChanged
                | Tamper::CaseChanged
        )
    }

    /// What to send instead of `configured`: `Some(None)` leaves the key out,
    /// `None` means this tamper cannot spoil this value (a case swap of a
    /// value without letters, a prefix of a one-character value).
    pub fn apply(self, configured: &str) -> Option<Option<Value>> {
        let text = |value: String| {
            (value != configured && !value.is_empty()).then_some(Some(Value::String(value)))
        };
        match self {
            Tamper::Absent => Some(None),
            Tamper::Null => Some(Some(Value::Null)),
            Tamper::WrongType => Some(Some(json!([configured]))),
            Tamper::Operator => Some(Some(json!({"$ne": ""}))),
            Tamper::Empty => Some(Some(Value::String(String::new()))),
            Tamper::Padded => text(format!(" {configured} ")),
            Tamper::Prefix => {
                let mut chars: Vec<char> = configured.chars().collect();
                chars.pop();
                text(chars.into_iter().collect())
            }
            Tamper::Extension => text(format!("{configured}x")),
            Tamper::OneCharChanged => {
                let mut chars: Vec<char> = configured.chars().collect();
                let middle = chars.len() / 2;
                let slot = chars.get_mut(middle)?;
                // A replacement that differs in every case, so a case-blind comparison still sees a change.
                *slot = if slot.eq_ignore_ascii_case(&'x') {
                    'y'
                } else {
                    'x'
                };
                text(chars.into_iter().collect())
            }
            Tamper::CaseChanged => text(
                configured
                    .chars()
                    .map(|c| {
                        if c.is_uppercase() {
                            c.to_lowercase().collect::<String>()
                        } else {
                            c.to_uppercase().collect()
                        }
                    })
                    .collect(),
            ),
        }
    }
}

/// What the page lets the refusal of a tampered request look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedRefusal {
    /// Exactly this documented envelope (HTTP 200, `{status, message}` and nothing more).
    Exact(DocumentedError),
    /// One of the two documented context envelopes naming the context sent: whether a
    /// near-miss context name exists on the target (then it is refused as
    /// forbidden) is not something the harness can know.
    ContextEnvelope,
    /// Any refusal: the page names no answer for it.
    AnyRefusal,
}

/// What the page says a request with `field` spoiled by `tamper` gets; every
/// one of them is refused and changes nothing.
///
/// - A token that is another non-empty string is "an invalid or expired API
///   token": the documented envelope, exactly ("Error Handling › Invalid API Token").
/// - A context name that is another non-empty string is a context that does
///   not exist, or one the user may not access: one of the two documented
///   context envelopes, naming it ("Invalid Context Name", "Unauthorized Context Access").
/// - A username that is another string: the token is not that user's; the
///   page names no envelope for it ("Authentication": any refusal).
/// - A parameter left out, null, of another JSON type or empty: the page only
///   says it is required ("Authentication": any refusal).
pub fn expected_refusal(field: AuthField, tamper: Tamper) -> ExpectedRefusal {
    if !tamper.is_other_string() {
        return ExpectedRefusal::AnyRefusal;
    }
    match field {
        AuthField::ApiToken => ExpectedRefusal::Exact(DocumentedError::InvalidToken),
        AuthField::Contextname => ExpectedRefusal::ContextEnvelope,
        AuthField::Username => ExpectedRefusal::AnyRefusal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_contract_names() {
        let keys: Vec<&str> = AuthField::ALL.iter().map(|field| field.key()).collect();
        assert_eq!(keys, ["api_token", "username", "contextname"]);
    }

    #[test]
    fn near_misses_differ_from_the_configured_value() {
        let token = "Qm7RzT2vXk9LpW4sNa8c";
        for tamper in Tamper::ALL {
            let sent = tamper.apply(token).expect("applies to a token");
            assert_ne!(sent, Some(Value::String(token.to_string())), "{tamper:?}");
        }
        assert_eq!(
            Tamper::Prefix.apply("abc"),
            Some(Some(Value::String("ab".into())))
        );
        assert_eq!(
            Tamper::Extension.apply("abc"),
            Some(Some(Value::String("abcx".into())))
        );
        assert_eq!(
            Tamper::OneCharChanged.apply("abc"),
            Some(Some(Value::String("axc".into())))
        );
        assert_eq!(
            Tamper::OneCharChanged.apply("aXc"),
            Some(Some(Value::String("ayc".into())))
        );
        assert_eq!(
            Tamper::CaseChanged.apply("deFault"),
            Some(Some(Value::String("DEfAULT".into())))
        );
        assert_eq!(Tamper::Absent.apply("abc"), Some(None));
    }

    #[test]
    fn tampers_that_cannot_spoil_a_value_say_so() {
        assert_eq!(Tamper::CaseChanged.apply("12345"), None);
        assert_eq!(Tamper::Prefix.apply("a"), None);
        assert_eq!(Tamper::OneCharChanged.apply(""), None);
    }

    #[test]
    fn only_other_strings_get_a_named_envelope() {
        assert_eq!(
            expected_refusal(AuthField::ApiToken, Tamper::Prefix),
            ExpectedRefusal::Exact(DocumentedError::InvalidToken)
        );
        assert_eq!(
            expected_refusal(AuthField::ApiToken, Tamper::Empty),
            ExpectedRefusal::AnyRefusal
        );
        assert_eq!(
            expected_refusal(AuthField::Contextname, Tamper::CaseChanged),
            ExpectedRefusal::ContextEnvelope
        );
        assert_eq!(
            expected_refusal(AuthField::Username, Tamper::Padded),
            ExpectedRefusal::AnyRefusal
        );
    }
}
