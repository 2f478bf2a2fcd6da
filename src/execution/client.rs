//! HTTP exchanges with the target, recorded as a [`Transcript`].

use std::time::{Duration, Instant};

use serde_json::Value;

use super::target::Target;

/// How much of a response body is read before the rest is dropped.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A request as sent: method, URL and body text.
#[derive(Debug, Clone)]
pub struct SentRequest {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Body text, if any.
    pub body: Option<String>,
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct ReceivedResponse {
    /// HTTP status.
    pub status: u16,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// Body text (lossy UTF-8 where it is not valid UTF-8).
    pub body: String,
    /// Whether the body was valid UTF-8.
    pub utf8: bool,
    /// Whether the body was cut at [`MAX_BODY_BYTES`].
    pub truncated: bool,
    /// The body parsed as JSON, if it parses.
    pub json: Option<Value>,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
}

impl ReceivedResponse {
    /// Whether the Content-Type is JSON (`application/json` or `*+json`).
    pub fn has_json_content_type(&self) -> bool {
        self.content_type.as_deref().is_some_and(|value| {
            let media = value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            media == "application/json"
                || (media.starts_with("application/") && media.ends_with("+json"))
        })
    }
}

/// Why no response came back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was sent.
    pub request: SentRequest,
    /// What came back.
    pub response: Result<ReceivedResponse, TransportError>,
}

/// Every exchange of a scenario, in order.
pub type Transcript = Vec<Exchange>;

/// A shared HTTP client bound to one target.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    target: std::sync::Arc<Target>,
}

impl Client {
    /// Builds the one client of a run (one connection pool, keep-alive).
    pub fn new(target: Target) -> Result<Client, TransportError> {
        let http = reqwest::Client::builder()
            .timeout(target.timeout)
            .connect_timeout(target.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|error| TransportError(format!("building the HTTP client: {error}")))?;
        Ok(Client {
            http,
            target: std::sync::Arc::new(target),
        })
    }

    /// The target this client talks to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends one request with a JSON content type and records the exchange.
    pub async fn send(&self, method: &str, path: &str, body: Option<String>) -> Exchange {
        let request = SentRequest {
            method: method.to_string(),
            url: self.target.url(path),
            body,
        };
        let response = self.perform(&request).await;
        Exchange { request, response }
    }

    async fn perform(&self, request: &SentRequest) -> Result<ReceivedResponse, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| TransportError(format!("invalid method {}", request.method)))?;
        let mut builder = self
            .http
            .request(method, &request.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let mut response = builder.send().await.map_err(describe_error)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let mut bytes = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(describe_error)? {
            let room = MAX_BODY_BYTES - bytes.len();
            if chunk.len() > room {
                bytes.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        let elapsed = started.elapsed();
        let (body, utf8) = match String::from_utf8(bytes) {
            Ok(text) => (text, true),
            Err(error) => (
                String::from_utf8_lossy(error.as_bytes()).into_owned(),
                false,
            ),
        };
        let json = if utf8 && !truncated {
            serde_json::from_str(&body).ok()
        } else {
            None
        };
        Ok(ReceivedResponse {
            status,
            content_type,
            body,
            utf8,
            truncated,
            json,
            elapsed,
        })
    }
}

/// One line naming what went wrong, with the causes reqwest keeps.
fn describe_error(error: reqwest::Error) -> TransportError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "too many redirects"
    } else if error.is_body() || error.is_decode() {
        "the response body broke off"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    if causes.is_empty() {
        TransportError(format!("{kind}: {error}"))
    } else {
        TransportError(format!("{kind}: {}", causes.join(": ")))
    }
}
