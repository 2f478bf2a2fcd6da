//! Exchanges with a target as the run keeps them: what was sent, what came
//! back, and the compact form a finished step holds (a bounded excerpt of
//! each body, its full size noted).

use std::time::Duration;

use serde_json::Value;

/// How much of a response body is read before the rest is dropped.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How much of a body a checked step keeps for reports (the checks saw all of it).
pub const BODY_EXCERPT_BYTES: usize = 64 * 1024;

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
    /// Every header as (name, value), values read as lossy UTF-8: kept so the
    /// security check can look for a secret in them.
    pub headers: Vec<(String, String)>,
    /// Body text (lossy UTF-8 where it is not valid UTF-8); after
    /// [`ReceivedResponse::keep_excerpt`], only its first [`BODY_EXCERPT_BYTES`].
    pub body: String,
    /// Bytes of body read (at most [`MAX_BODY_BYTES`]), whatever `body` still holds.
    pub body_bytes: usize,
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

    /// Why the body is not a JSON document, in one line; `None` when it is one.
    pub fn body_problem(&self) -> Option<String> {
        if self.json.is_some() {
            return None;
        }
        Some(if self.truncated {
            format!(
                "more than {} MiB; the harness stopped reading at {MAX_BODY_BYTES} bytes",
                MAX_BODY_BYTES >> 20
            )
        } else if !self.utf8 {
            "not valid UTF-8".to_string()
        } else if self.body_bytes == 0 && self.body.is_empty() {
            "empty".to_string()
        } else if self.is_excerpt() {
            "not JSON".to_string()
        } else {
            match serde_json::from_str::<Value>(&self.body) {
                Err(error) => format!("not JSON ({error})"),
                Ok(_) => "not JSON".to_string(),
            }
        })
    }

    /// Whether `body` holds only the start of what was read.
    pub fn is_excerpt(&self) -> bool {
        self.body.len() < self.body_bytes
    }

    /// Drops the body past [`BODY_EXCERPT_BYTES`] (at a character boundary),
    /// and a JSON list's records other than `keep`'s, once the step's checks
    /// have seen the whole answer: a finished step then holds a bounded
    /// amount, whatever the target sent. `keep` says which list elements a
    /// snapshot may still need (the run's own records).
    pub fn keep_excerpt(&mut self, keep: impl Fn(&Value) -> bool) {
        if self.body.len() > BODY_EXCERPT_BYTES {
            let mut end = BODY_EXCERPT_BYTES;
            while !self.body.is_char_boundary(end) {
                end -= 1;
            }
            self.body = self.body[..end].to_string();
            if let Some(Value::Array(items)) = &mut self.json {
                items.retain(|item| keep(item));
                items.shrink_to_fit();
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: String) -> ReceivedResponse {
        ReceivedResponse {
            status: 200,
            content_type: Some("application/json".to_string()),
            headers: Vec::new(),
            json: serde_json::from_str(&body).ok(),
            body_bytes: body.len(),
            body,
            utf8: true,
            truncated: false,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn an_excerpt_is_bounded_and_notes_the_full_size() {
        let mut big = response("é".repeat(BODY_EXCERPT_BYTES));
        big.keep_excerpt(|_| true);
        assert!(big.body.len() <= BODY_EXCERPT_BYTES);
        assert!(big.body.len() > BODY_EXCERPT_BYTES - 4);
        assert_eq!(big.body_bytes, 2 * BODY_EXCERPT_BYTES);
        assert!(big.is_excerpt());
        assert_eq!(big.body_problem().unwrap(), "not JSON");

        let mut small = response(r#"{"status":"ok"}"#.to_string());
        small.keep_excerpt(|_| false);
        assert!(!small.is_excerpt());
        assert!(small.json.is_some());
    }

    #[test]
    fn a_long_list_keeps_only_the_records_asked_for() {
        let items: Vec<Value> = (0..5000)
            .map(|n| serde_json::json!({"UserID": format!("u{n}"), "Name": "x".repeat(20)}))
            .collect();
        let mut list = response(Value::Array(items).to_string());
        list.keep_excerpt(|item| item["UserID"] == "u7");
        assert_eq!(
            list.json,
            Some(serde_json::json!([{"UserID": "u7", "Name": "x".repeat(20)}]))
        );
        assert!(list.body_bytes > BODY_EXCERPT_BYTES);
    }
}
