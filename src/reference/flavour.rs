//! Conformant variants of the reference server that differ only where the
//! vendor page is silent.
//!
//! A flavour plugs in where the reference's own choices are made: id
//! assignment, list order and the scope of uniqueness in the store
//! ([`Flavour::store_choices`]), unspecified errors on the wire
//! ([`Flavour::unspecified_wire`]), customer objects' members
//! ([`Flavour::customer_json`]), extra headers, where auth parameters may
//! come from, the order of the documented checks, validation before them,
//! what a body UserID that differs from the path's means, and what a PUT of
//! an unknown UserID does. Everything the page documents (or that follows
//! from it) is the same in every flavour: HTTP 200 successes with the
//! objects the page shows, the three exact error envelopes with HTTP 200,
//! string fields, ids kept on update, PATCH keeping omitted fields, PUT
//! requiring every field and changing nothing when refused, uniqueness,
//! context isolation.
//!
//! # The strict flavour, choice by choice
//!
//! [`Flavour::Strict`] takes, wherever the page is silent, the opposite
//! choice from the reference:
//!
//! | choice | strict | why it is allowed |
//! |---|---|---|
//! | values | only [`is_ordinary_value`](crate::spec::contract::is_ordinary_value) values (body fields and the path UserID); empty strings, tabs, Unicode, long values refused | the page gives no character set, length or format |
//! | uniqueness | a create whose UserID exists in any context is refused | "Unique user identifier" does not say unique where |
//! | PATCH | an empty PATCH (no field, or its own UserID only), and a body UserID other than the path's, refused | the page does not say whether a PATCH that changes nothing, or one that would rename the record, is accepted; "(any field)" means a PATCH naming its own UserID beside other fields is accepted |
//! | unknown body keys | refused (anything but the 3 auth parameters and 6 customer fields) | the page lists the parameters, not what else may come |
//! | auth parameters | absent, non-string or empty ones refused as invalid input (not the token envelope) | the page names an envelope for an invalid token, not for a missing one |
//! | check order | parse → validation (keys, types, mandatory, values, path) → context exists → token → access → operation (UserID existence last) | the page lists the errors, not the order in which several are judged |
//! | ids | the smallest positive id no live record holds: a deleted id comes back | the page only shows integers |
//! | list order | a permutation of id order that changes with every list answered ([`shifted`](super::store::shifted)), never id order twice in a row | the page gives no order |
//! | unspecified errors | 404 `text/plain` `no such customer`; 422 `{"errors":[{"field","detail"}]}`; 409 the same shape; 400 `application/problem+json` | the page documents three errors only |
//! | customer objects | also `created_at` (RFC 3339) and `Context`; optional fields never given are absent | the page does not say objects carry nothing else, nor what a never-given field reads as |
//! | connections | `Connection: close` on every answer | HTTP/1.1 lets either side close |
//!
//! The three documented envelopes stay exact, with HTTP 200; successes are
//! HTTP 200 with every field the page shows as a string and an integer id.

use serde_json::{json, Value};

use crate::spec::contract::DocumentedError;

use super::reply::Wire;
use super::store::{IdAllocation, ListOrder, Record, StoreChoices};
use super::unspecified::UnspecifiedError;
use super::validation::{DETAIL_NOT_A_STRING, DETAIL_PATH_MISMATCH, DETAIL_REQUIRED};

/// Which conformant variant the server plays (`serve --flavour NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Flavour {
    /// The reference's own choices, listed in the module docs of `reference`.
    #[default]
    Reference,
    /// Another conformant server: ids from 1000 in steps of 7, the list newest
    /// first, unspecified errors as HTTP 4xx `{"error":{"code","detail"}}`,
    /// extra `X-Request-Id`/`X-Powered-By` headers, auth parameters also read
    /// from the query string, the path's UserID winning over the body's,
    /// optional fields omitted on create answered as `null`, and a PUT of an
    /// unknown UserID creating the record with exactly the values sent.
    Alt,
    /// The opposite of the reference wherever the page is silent: refuses
    /// whatever it may, reuses ids, reorders the list on every call, answers
    /// 4xx with bodies of its own, adds members to customer objects, closes
    /// every connection (the table in this module's docs).
    Strict,
}

/// What a PUT of an unknown UserID does (the page is silent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownPut {
    /// Refused as not found.
    Refuse,
    /// The record is created with exactly the values sent.
    Upsert,
}

/// What a PUT/PATCH whose body UserID differs from the path's gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserIdMismatch {
    /// Refused with an unspecified error.
    Refuse,
    /// Accepted; the body's UserID is ignored.
    PathWins,
}

/// The alt flavour's first id.
const ALT_FIRST_ID: i64 = 1000;
/// The alt flavour's id step.
const ALT_ID_STEP: i64 = 7;
/// The alt flavour's `X-Powered-By` value.
const ALT_POWERED_BY: &str = "alt";
/// The strict flavour's body for an unknown UserID (sent as `text/plain`).
pub(crate) const STRICT_NOT_FOUND_TEXT: &str = "no such customer";
/// The strict flavour's detail for a duplicate UserID.
pub(crate) const STRICT_DUPLICATE_DETAIL: &str = "has already been taken";
/// The strict flavour's detail for a malformed body.
pub(crate) const STRICT_MALFORMED_DETAIL: &str = "the body is not a JSON object";
/// The strict flavour's extra member: when the record was created (RFC 3339, UTC).
pub(crate) const STRICT_CREATED_AT: &str = "created_at";
/// The strict flavour's extra member: the context the record lives in.
pub(crate) const STRICT_CONTEXT: &str = "Context";
/// Content type of the strict flavour's not-found answer.
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// Content type of the strict flavour's malformed-body answer (RFC 9457).
const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl Flavour {
    /// Id assignment, list order, omitted optional fields, scope of uniqueness.
    pub(crate) fn store_choices(self) -> StoreChoices {
        match self {
            Flavour::Reference => StoreChoices::default(),
            Flavour::Alt => StoreChoices {
                ids: IdAllocation::Counter {
                    first: ALT_FIRST_ID,
                    step: ALT_ID_STEP,
                },
                list_order: ListOrder::NewestFirst,
                omitted_optional_unset: true,
                unique_across_contexts: false,
            },
            Flavour::Strict => StoreChoices {
                ids: IdAllocation::SmallestFree,
                list_order: ListOrder::Shifting,
                omitted_optional_unset: true,
                unique_across_contexts: true,
            },
        }
    }

    /// An unspecified error on the wire: status, content type and body.
    pub(crate) fn unspecified_wire(self, error: &UnspecifiedError) -> Wire {
        match self {
            // The reference answers like the documented errors.
            Flavour::Reference => Wire::json(
                crate::spec::contract::ERROR_HTTP_STATUS,
                json!(error.envelope()),
            ),
            Flavour::Alt => Wire::json(
                alt_status(error),
                json!({"error": { "code": alt_error_code(error), "detail": error.message() }}),
            ),
            Flavour::Strict => strict_wire(error),
        }
    }

    /// Whether success bodies may be serialized straight from the records
    /// (customer objects are the records' serde form, `None` as `null`).
    pub(crate) fn serializes_records_directly(self) -> bool {
        !matches!(self, Flavour::Strict)
    }

    /// One customer object as answered for a record in `context`.
    pub(crate) fn customer_json(self, record: &Record, context: Option<&str>) -> Value {
        let mut value = json!(record);
        if self == Flavour::Strict {
            if let Value::Object(object) = &mut value {
                // Optional fields never given are left out.
                object.retain(|_, member| !member.is_null());
                object.insert(
                    STRICT_CREATED_AT.to_string(),
                    Value::String(rfc3339_utc(record.created_ms)),
                );
                if let Some(context) = context {
                    object.insert(STRICT_CONTEXT.to_string(), Value::String(context.into()));
                }
            }
        }
        value
    }

    /// Headers added to every answer; `request_no` counts requests from 1.
    pub(crate) fn extra_headers(self, request_no: u64) -> Vec<(&'static str, String)> {
        match self {
            Flavour::Reference => Vec::new(),
            Flavour::Alt => vec![
                ("x-request-id", format!("alt-{request_no:08}")),
                ("x-powered-by", ALT_POWERED_BY.to_string()),
            ],
            // hyper closes the connection after an answer saying so.
            Flavour::Strict => vec![("connection", "close".to_string())],
        }
    }

    /// Whether auth parameters absent from the body are read from the query string.
    pub(crate) fn reads_query_auth(self) -> bool {
        matches!(self, Flavour::Alt)
    }

    /// Whether the strict validation ([`super::validation`]) runs before the documented checks.
    pub(crate) fn validates_before_auth(self) -> bool {
        matches!(self, Flavour::Strict)
    }

    /// The order in which the documented checks are made.
    pub(crate) fn check_order(self) -> [DocumentedError; 3] {
        match self {
            Flavour::Reference | Flavour::Alt => DocumentedError::ALL,
            Flavour::Strict => [
                DocumentedError::InvalidContext,
                DocumentedError::InvalidToken,
                DocumentedError::ForbiddenContext,
            ],
        }
    }

    /// What a body UserID that differs from the path's gets.
    pub(crate) fn user_id_mismatch(self) -> UserIdMismatch {
        match self {
            Flavour::Reference | Flavour::Strict => UserIdMismatch::Refuse,
            Flavour::Alt => UserIdMismatch::PathWins,
        }
    }

    /// What a PUT of an unknown UserID does.
    pub(crate) fn unknown_put(self) -> UnknownPut {
        match self {
            Flavour::Reference | Flavour::Strict => UnknownPut::Refuse,
            Flavour::Alt => UnknownPut::Upsert,
        }
    }
}

fn alt_status(error: &UnspecifiedError) -> u16 {
    match error {
        UnspecifiedError::NotFound => 404,
        UnspecifiedError::DuplicateUserId(_) => 409,
        UnspecifiedError::MissingFields(_)
        | UnspecifiedError::InvalidFieldType(_)
        | UnspecifiedError::UserIdMismatch
        | UnspecifiedError::Rejected(_) => 422,
        UnspecifiedError::MalformedJson => 400,
    }
}

/// The strict flavour's answer to an unspecified error.
fn strict_wire(error: &UnspecifiedError) -> Wire {
    let problem = |field: &str, detail: &str| json!({"field": field, "detail": detail});
    let errors = |list: Vec<Value>| json!({ "errors": list });
    match error {
        UnspecifiedError::NotFound => Wire::text(404, TEXT_CONTENT_TYPE, STRICT_NOT_FOUND_TEXT),
        UnspecifiedError::DuplicateUserId(_) => Wire::json(
            409,
            errors(vec![problem("UserID", STRICT_DUPLICATE_DETAIL)]),
        ),
        UnspecifiedError::MissingFields(fields) => Wire::json(
            422,
            errors(
                fields
                    .iter()
                    .map(|field| problem(field, DETAIL_REQUIRED))
                    .collect(),
            ),
        ),
        UnspecifiedError::InvalidFieldType(field) => {
            Wire::json(422, errors(vec![problem(field, DETAIL_NOT_A_STRING)]))
        }
        UnspecifiedError::UserIdMismatch => {
            Wire::json(422, errors(vec![problem("UserID", DETAIL_PATH_MISMATCH)]))
        }
        UnspecifiedError::Rejected(problems) => Wire::json(
            422,
            errors(
                problems
                    .iter()
                    .map(|found| problem(&found.field, found.detail))
                    .collect(),
            ),
        ),
        UnspecifiedError::MalformedJson => {
            let mut wire = Wire::json(
                400,
                json!({"type": "about:blank", "title": "Bad Request", "status": 400,
                    "detail": STRICT_MALFORMED_DETAIL}),
            );
            wire.content_type = PROBLEM_CONTENT_TYPE;
            wire
        }
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn rfc3339_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        ms % 1000
    )
}

fn alt_error_code(error: &UnspecifiedError) -> &'static str {
    match error {
        UnspecifiedError::NotFound => "not_found",
        UnspecifiedError::DuplicateUserId(_) => "conflict",
        UnspecifiedError::MissingFields(_) => "missing_fields",
        UnspecifiedError::InvalidFieldType(_) => "invalid_type",
        UnspecifiedError::MalformedJson => "bad_request",
        UnspecifiedError::UserIdMismatch => "user_id_mismatch",
        UnspecifiedError::Rejected(_) => "invalid",
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavour::Reference => "reference",
            Flavour::Alt => "alt",
            Flavour::Strict => "strict",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        // 2024-02-29T12:34:56.789Z: a leap day.
        assert_eq!(rfc3339_utc(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn strict_customer_objects_drop_unset_fields_and_add_members() {
        let record = Record {
            id: 1,
            created_ms: 0,
            name: "n".into(),
            address: None,
            email: Some("e@x.io".into()),
            phone_number: None,
            alt_phone_number: None,
            user_id: "u".into(),
        };
        assert_eq!(
            Flavour::Strict.customer_json(&record, Some("default")),
            json!({"id": 1, "Name": "n", "Email": "e@x.io", "UserID": "u",
                "created_at": "1970-01-01T00:00:00.000Z", "Context": "default"})
        );
        assert_eq!(
            Flavour::Alt.customer_json(&record, Some("default"))["Address"],
            Value::Null
        );
    }
}
