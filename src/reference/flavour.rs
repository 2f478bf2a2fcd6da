//! Conformant variants of the reference server that differ only where the
//! vendor page is silent.
//!
//! A flavour plugs in where the reference's own choices are made: id
//! assignment and list order in the store ([`Flavour::store_choices`]),
//! unspecified errors on the wire ([`Flavour::unspecified_status`],
//! [`Flavour::unspecified_body`]), extra headers, where auth parameters may
//! come from, and what a body UserID that differs from the path's means.
//! Everything the page documents (or that follows from it) is the same in
//! every flavour: HTTP 200 successes with the objects the page shows, the
//! three exact error envelopes with HTTP 200, string fields, ids kept on
//! update, PATCH keeping omitted fields, PUT requiring every field and
//! changing nothing when refused, uniqueness, context isolation.

use serde_json::{json, Value};

use super::store::StoreChoices;
use super::unspecified::UnspecifiedError;

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
    /// optional fields omitted on create answered as `null`.
    Alt,
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

impl Flavour {
    /// Id assignment, list order and omitted optional fields.
    pub(crate) fn store_choices(self) -> StoreChoices {
        match self {
            Flavour::Reference => StoreChoices::default(),
            Flavour::Alt => StoreChoices {
                first_id: ALT_FIRST_ID,
                id_step: ALT_ID_STEP,
                newest_first: true,
                omitted_optional_is_null: true,
            },
        }
    }

    /// HTTP status of an unspecified error.
    pub(crate) fn unspecified_status(self, error: &UnspecifiedError) -> u16 {
        match self {
            // The reference answers like the documented errors.
            Flavour::Reference => crate::spec::contract::ERROR_HTTP_STATUS,
            Flavour::Alt => match error {
                UnspecifiedError::NotFound => 404,
                UnspecifiedError::DuplicateUserId(_) => 409,
                UnspecifiedError::MissingFields(_)
                | UnspecifiedError::InvalidFieldType(_)
                | UnspecifiedError::UserIdMismatch => 422,
                UnspecifiedError::MalformedJson => 400,
            },
        }
    }

    /// Body of an unspecified error.
    pub(crate) fn unspecified_body(self, error: &UnspecifiedError) -> Value {
        match self {
            Flavour::Reference => json!(error.envelope()),
            Flavour::Alt => json!({
                "error": { "code": alt_error_code(error), "detail": error.message() }
            }),
        }
    }

    /// Headers added to every answer; `request_no` counts requests from 1.
    pub(crate) fn extra_headers(self, request_no: u64) -> Vec<(&'static str, String)> {
        match self {
            Flavour::Reference => Vec::new(),
            Flavour::Alt => vec![
                ("x-request-id", format!("alt-{request_no:08}")),
                ("x-powered-by", ALT_POWERED_BY.to_string()),
            ],
        }
    }

    /// Whether auth parameters absent from the body are read from the query string.
    pub(crate) fn reads_query_auth(self) -> bool {
        matches!(self, Flavour::Alt)
    }

    /// What a body UserID that differs from the path's gets.
    pub(crate) fn user_id_mismatch(self) -> UserIdMismatch {
        match self {
            Flavour::Reference => UserIdMismatch::Refuse,
            Flavour::Alt => UserIdMismatch::PathWins,
        }
    }
}

fn alt_error_code(error: &UnspecifiedError) -> &'static str {
    match error {
        UnspecifiedError::NotFound => "not_found",
        UnspecifiedError::DuplicateUserId(_) => "conflict",
        UnspecifiedError::MissingFields(_) => "missing_fields",
        UnspecifiedError::InvalidFieldType(_) => "invalid_type",
        UnspecifiedError::MalformedJson => "bad_request",
        UnspecifiedError::UserIdMismatch => "user_id_mismatch",
    }
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavour::Reference => "reference",
            Flavour::Alt => "alt",
        })
    }
}
