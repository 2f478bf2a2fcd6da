//! The structured answer of one request, and how it goes on the wire.
//!
//! A request's answer passes three stages: a [`Reply`] (what happened),
//! a [`Wire`] (status, headers and JSON body, from [`render`]), and the
//! HTTP response ([`Wire::into_response`]). Deviations may rewrite the
//! first two; the flavour decides the parts the page is silent on.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::spec::contract::{
    DocumentedError, ErrorEnvelope, ERROR_HTTP_STATUS, SUCCESS_HTTP_STATUS,
};

use super::flavour::Flavour;
use super::store::Record;
use super::unspecified::UnspecifiedError;

/// About how many bytes of a list answer are serialised at a time.
const LIST_CHUNK_BYTES: usize = 64 * 1024;

/// Content type of every conformant answer.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json";

/// What the server answers, before deviations and serialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The list of a context's customers (shared with the store).
    Customers(Vec<Arc<Record>>),
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
    /// A list answer serialised while it is sent, when no hook needs it as a `Value`.
    pub streamed: Option<ListChunks>,
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
            streamed: None,
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
            streamed: None,
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
        let body = match (self.streamed, self.serialized) {
            (Some(list), _) => Body::from_stream(list),
            (None, Some(bytes)) => Body::from(bytes),
            (None, None) => {
                Body::from(serde_json::to_vec(&self.body).unwrap_or_else(|_| b"{}".to_vec()))
            }
        };
        let mut response = (status, body).into_response();
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

/// Like [`render`], but one customer is serialized straight from the
/// record, with no `Value` tree in between (lists go [`render_streamed`]). Only for a server with no
/// deviation, since the deviation hooks rewrite the `Value`, and a flavour
/// whose customer objects are the records' serde form
/// ([`Flavour::serializes_records_directly`]).
pub(crate) fn render_serialized(reply: &Reply, flavour: Flavour) -> Wire {
    let serialized = match reply {
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
            streamed: None,
        },
        None => render(reply, flavour, None),
    }
}

/// The list answer under `flavour`, serialised a chunk at a time while it is
/// sent, so a million customers never sit in memory as one body (issue 14).
/// Byte for byte what [`render`] gives, for a server with no deviation.
pub(crate) fn render_streamed(
    records: Vec<Arc<Record>>,
    flavour: Flavour,
    context: Option<&str>,
) -> Wire {
    Wire {
        status: SUCCESS_HTTP_STATUS,
        content_type: JSON_CONTENT_TYPE,
        headers: Vec::new(),
        body: Value::Null,
        serialized: None,
        streamed: Some(ListChunks {
            records,
            next: 0,
            flavour,
            context: context.map(str::to_string),
            finished: false,
        }),
    }
}

/// A list answer's JSON array, produced in chunks of about [`LIST_CHUNK_BYTES`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListChunks {
    records: Vec<Arc<Record>>,
    /// The first record not yet serialised.
    next: usize,
    flavour: Flavour,
    context: Option<String>,
    /// Whether the closing `]` went out.
    finished: bool,
}

impl ListChunks {
    /// The next piece of the array, `None` once `]` went out.
    fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.finished {
            return None;
        }
        let mut chunk = Vec::with_capacity(LIST_CHUNK_BYTES + 1024);
        if self.next == 0 {
            chunk.push(b'[');
        }
        while let Some(record) = self.records.get(self.next) {
            if chunk.len() >= LIST_CHUNK_BYTES {
                return Some(chunk);
            }
            if self.next > 0 {
                chunk.push(b',');
            }
            // Serialising strings and integers into a Vec cannot fail.
            let _ = if self.flavour.serializes_records_directly() {
                serde_json::to_writer(&mut chunk, record.as_ref())
            } else {
                let customer = self.flavour.customer_json(record, self.context.as_deref());
                serde_json::to_writer(&mut chunk, &customer)
            };
            self.next += 1;
        }
        chunk.push(b']');
        self.finished = true;
        Some(chunk)
    }
}

impl futures_core::Stream for ListChunks {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(
            self.get_mut()
                .next_chunk()
                .map(|chunk| Ok(Bytes::from(chunk))),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::fixture::Preload;
    use crate::reference::store::{Store, StoreFaults};

    /// Every chunk of a streamed list, joined.
    fn streamed_bytes(wire: Wire) -> Vec<u8> {
        let mut list = wire.streamed.expect("a streamed list");
        let mut bytes = Vec::new();
        while let Some(chunk) = list.next_chunk() {
            bytes.extend(chunk);
        }
        bytes
    }

    #[test]
    fn streamed_lists_are_byte_identical_to_the_whole_body() {
        let contexts = ["default".to_string()];
        for flavour in [Flavour::Reference, Flavour::Alt, Flavour::Strict] {
            // Enough customers for several chunks, and none at all.
            for count in [2_000, 1, 0] {
                let preload = Preload::generated("default", count, 7);
                let store = Store::new(
                    &contexts,
                    preload,
                    flavour.store_choices(),
                    StoreFaults::default(),
                )
                .expect("store");
                // Strict reorders on every list: both forms render one list.
                let records = store.list("default");
                let whole = render(&Reply::Customers(records.clone()), flavour, Some("default"));
                let whole = serde_json::to_vec(&whole.body).expect("serialises");
                let streamed = streamed_bytes(render_streamed(records, flavour, Some("default")));
                assert!(
                    whole == streamed,
                    "{flavour}, {count} customers: the streamed list differs"
                );
                if count == 2_000 {
                    assert!(whole.len() > 4 * LIST_CHUNK_BYTES, "{} bytes", whole.len());
                }
            }
        }
    }
}
