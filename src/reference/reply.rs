//! The structured answer of one request, and how it goes on the wire.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::spec::contract::{
    Customer, DocumentedError, ErrorEnvelope, ERROR_HTTP_STATUS, SUCCESS_HTTP_STATUS,
};

use super::flavour::Flavour;
use super::unspecified::UnspecifiedError;

/// What the server answers, before deviations and serialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The list of a context's customers.
    Customers(Vec<Customer>),
    /// One customer: created, updated or deleted.
    Customer(Customer),
    /// One of the three documented errors, with the envelope to send.
    Documented {
        error: DocumentedError,
        envelope: ErrorEnvelope,
    },
    /// A failure the page is silent on.
    Unspecified(UnspecifiedError),
}

impl Reply {
    /// The documented error for a request made as `username` in `contextname`.
    pub(crate) fn documented(error: DocumentedError, username: &str, contextname: &str) -> Self {
        Reply::Documented {
            error,
            envelope: error.envelope(username, contextname),
        }
    }
}

impl From<UnspecifiedError> for Reply {
    fn from(error: UnspecifiedError) -> Self {
        Reply::Unspecified(error)
    }
}

/// Serialises a reply as an `application/json` response.
pub(crate) fn render(reply: &Reply, flavour: Flavour) -> Response {
    match reply {
        // "Response" tables: 200 with the object or array.
        Reply::Customers(customers) => json_response(SUCCESS_HTTP_STATUS, customers),
        Reply::Customer(customer) => json_response(SUCCESS_HTTP_STATUS, customer),
        // "Error Handling": all three documented errors are HTTP 200.
        Reply::Documented { envelope, .. } => json_response(ERROR_HTTP_STATUS, envelope),
        Reply::Unspecified(error) => json_response(unspecified_status(flavour), &error.envelope()),
    }
}

/// HTTP status of an unspecified error: the page is silent; the reference
/// answers like the documented errors (200).
fn unspecified_status(flavour: Flavour) -> u16 {
    match flavour {
        Flavour::Reference => ERROR_HTTP_STATUS,
    }
}

fn json_response<T: Serialize>(status: u16, body: &T) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    // Serialising these plain structs cannot fail; answer an empty object if it ever did.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}
