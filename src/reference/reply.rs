//! The structured answer of one request, and how it goes on the wire.
//!
//! A request's answer passes three stages: a [`Reply`] (what happened),
//! a [`Wire`] (status, headers and JSON body, from [`render`]), and the
//! HTTP response ([`Wire::into_response`]). Deviations may rewrite the
//! first two; the flavour decides the parts the page is silent on.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::spec::contract::{
    DocumentedError, ErrorEnvelope, ERROR_HTTP_STATUS, SUCCESS_HTTP_STATUS,
};

use super::flavour::Flavour;
use super::store::Record;
use super::unspecified::UnspecifiedError;

/// Content type of every conformant answer.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json";

/// What the server answers, before deviations and serialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The list of a context's customers.
    Customers(Vec<Record>),
    /// One customer: created, updated or deleted.
    Customer(Record),
    /// One of the three documented errors, with the envelope to send.
    Documented {
        error: DocumentedError,
        username: String,
        contextname: String,
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
            username: username.to_string(),
            contextname: contextname.to_string(),
            envelope: error.envelope(username, contextname),
        }
    }

    /// Whether this is a success (one customer or the list).
    pub(crate) fn is_success(&self) -> bool {
        matches!(self, Reply::Customer(_) | Reply::Customers(_))
    }
}

impl From<UnspecifiedError> for Reply {
    fn from(error: UnspecifiedError) -> Self {
        Reply::Unspecified(error)
    }
}

/// An answer ready for the wire.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wire {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
    /// The body already serialized, when no hook needs it as a `Value`.
    pub serialized: Option<Vec<u8>>,
}

impl Wire {
    /// A JSON answer.
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Wire {
            status,
            content_type: JSON_CONTENT_TYPE,
            headers: Vec::new(),
            body,
            serialized: None,
        }
    }

    /// A plain-text answer (`body` stays `null` for the hooks).
    pub(crate) fn text(status: u16, content_type: &'static str, text: &str) -> Self {
        Wire {
            status,
            content_type,
            headers: Vec::new(),
            body: Value::Null,
            serialized: Some(text.as_bytes().to_vec()),
        }
    }

    /// This answer with `headers` added.
    pub(crate) fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The HTTP response.
    pub(crate) fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        // Serialising a `Value` cannot fail; answer an empty object if it ever did.
        let bytes = match self.serialized {
            Some(bytes) => bytes,
            None => serde_json::to_vec(&self.body).unwrap_or_else(|_| b"{}".to_vec()),
        };
        let mut response = (status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// Like [`render`], but success bodies are serialized straight from the
/// records, with no `Value` tree in between: the list is the server's hot
/// path (bench: building the tree dominated it). Only for a server with no
/// deviation, since the deviation hooks rewrite the `Value`, and a flavour
/// whose customer objects are the records' serde form
/// ([`Flavour::serializes_records_directly`]).
pub(crate) fn render_serialized(reply: &Reply, flavour: Flavour) -> Wire {
    let serialized = match reply {
        Reply::Customers(records) => serde_json::to_vec(records).ok(),
        Reply::Customer(record) => serde_json::to_vec(record).ok(),
        _ => None,
    };
    match serialized {
        Some(bytes) => Wire {
            status: SUCCESS_HTTP_STATUS,
            content_type: JSON_CONTENT_TYPE,
            headers: Vec::new(),
            body: Value::Null,
            serialized: Some(bytes),
        },
        None => render(reply, flavour, None),
    }
}

/// The conformant wire form of a reply under `flavour`; `context` is the
/// one the request acted in (some flavours name it in customer objects).
pub(crate) fn render(reply: &Reply, flavour: Flavour, context: Option<&str>) -> Wire {
    match reply {
        // "Response" tables: 200 with the object or array.
        Reply::Customers(records) => Wire::json(
            SUCCESS_HTTP_STATUS,
            Value::Array(
                records
                    .iter()
                    .map(|record| flavour.customer_json(record, context))
                    .collect(),
            ),
        ),
        Reply::Customer(record) => {
            Wire::json(SUCCESS_HTTP_STATUS, flavour.customer_json(record, context))
        }
        // "Error Handling": all three documented errors are HTTP 200.
        Reply::Documented { envelope, .. } => Wire::json(ERROR_HTTP_STATUS, json!(envelope)),
        // Unspecified: the flavour decides.
        Reply::Unspecified(error) => flavour.unspecified_wire(error),
    }
}
