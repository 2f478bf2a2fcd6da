//! The reference server's own answers where the vendor page is silent.
//!
//! These texts are the reference's choice, not the contract: a conformant
//! server may answer these cases differently, so scenarios must not require
//! them from other targets. They are defined once, here.

use crate::spec::contract::ErrorEnvelope;

/// `status` of every unspecified error; the reference's choice (copies the page's context-error casing).
pub const STATUS_UNSPECIFIED_ERROR: &str = "Error";
/// Message for an unknown UserID on PUT, PATCH or DELETE; the reference's choice.
pub const MESSAGE_NOT_FOUND: &str = "IPDR Customer not found";
/// Message template for a create whose UserID exists in the context (`{UserID}` is replaced); the reference's choice.
pub const MESSAGE_DUPLICATE_USER_ID: &str = "IPDR Customer with UserID {UserID} already exists";
/// Message template for missing mandatory fields (`{fields}`: comma-separated, contract order); the reference's choice.
pub const MESSAGE_MISSING_FIELDS: &str = "Missing mandatory field(s): {fields}";
/// Message template for a customer field that is not a JSON string (`{Field}` is replaced); the reference's choice.
pub const MESSAGE_INVALID_FIELD_TYPE: &str = "Invalid value for field {Field}: expected a string";
/// Message for a body that is not JSON or not a JSON object; the reference's choice.
pub const MESSAGE_MALFORMED_JSON: &str = "Malformed JSON body";
/// Message for a PUT/PATCH whose body UserID differs from the path UserID; the reference's choice.
pub const MESSAGE_USER_ID_MISMATCH: &str = "UserID in body does not match UserID in URL";
/// Message template for a request the strict flavour's validation refused
/// (`{problems}`: `<field> <detail>`, joined by "; "); only the strict
/// flavour validates this way, but every flavour can render every error.
pub const MESSAGE_REJECTED: &str = "Rejected: {problems}";

/// One reason the strict flavour's validation refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The body key (or `base` for the body as a whole, `path` for the path UserID).
    pub field: String,
    /// What is wrong with it, in a few words.
    pub detail: &'static str,
}

/// A failure the vendor page does not document; answered with the reference's own text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnspecifiedError {
    /// No customer with the path's UserID in the context.
    NotFound,
    /// A customer with this UserID already exists in the context.
    DuplicateUserId(String),
    /// These mandatory fields are missing, in contract order.
    MissingFields(Vec<&'static str>),
    /// This customer field is present but not a JSON string.
    InvalidFieldType(&'static str),
    /// The body is not JSON, or not a JSON object.
    MalformedJson,
    /// The body's UserID differs from the path's.
    UserIdMismatch,
    /// The strict flavour's validation refused these fields (never empty).
    Rejected(Vec<FieldProblem>),
}

impl UnspecifiedError {
    /// The exact message text.
    pub fn message(&self) -> String {
        match self {
            UnspecifiedError::NotFound => MESSAGE_NOT_FOUND.to_string(),
            UnspecifiedError::DuplicateUserId(user_id) => {
                MESSAGE_DUPLICATE_USER_ID.replace("{UserID}", user_id)
            }
            UnspecifiedError::MissingFields(fields) => {
                MESSAGE_MISSING_FIELDS.replace("{fields}", &fields.join(", "))
            }
            UnspecifiedError::InvalidFieldType(field) => {
                MESSAGE_INVALID_FIELD_TYPE.replace("{Field}", field)
            }
            UnspecifiedError::MalformedJson => MESSAGE_MALFORMED_JSON.to_string(),
            UnspecifiedError::UserIdMismatch => MESSAGE_USER_ID_MISMATCH.to_string(),
            UnspecifiedError::Rejected(problems) => {
                let problems: Vec<String> = problems
                    .iter()
                    .map(|problem| format!("{} {}", problem.field, problem.detail))
                    .collect();
                MESSAGE_REJECTED.replace("{problems}", &problems.join("; "))
            }
        }
    }

    /// The Trisul-style envelope `{"status":"Error","message":...}`.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            status: STATUS_UNSPECIFIED_ERROR.to_string(),
            message: self.message(),
        }
    }
}
