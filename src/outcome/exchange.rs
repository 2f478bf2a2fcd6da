//! Exchanges with a target as the run keeps them: what was sent, what came
//! back, and the compact form a finished step holds (a bounded excerpt of
//! each body, its full size noted).

use std::time::Duration;

use serde_json::Value;

/// How much of a response body is read before the rest is dropped; a JSON
/// list read element by element has no such cap (see `execution::list_stream`).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How much of a body's text an [`Exchange`] keeps for transcripts and
/// reports. The checks see the whole body first: its JSON, why it is not
/// JSON, and which secrets it holds are taken before it is cut.
pub const BODY_EXCERPT_BYTES: usize = 64 * 1024;

/// How much body text an answer already judged keeps once its list was cut
/// to the elements that matter ([`ReceivedResponse::keep_list_elements`]).
pub const SHORT_EXCERPT_BYTES: usize = 4 * 1024;

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

/// A response as received, and as kept.
///
/// What it keeps is bounded: the body's text is its first
/// [`BODY_EXCERPT_BYTES`] (the whole body when shorter; see
/// [`ReceivedResponse::is_excerpt`]), with the size read in `body_bytes`.
/// What the checks need from the rest is taken while the whole body is at
/// hand: `json`, `json_error`, `body_secrets`. The parsed `json` itself is
/// kept whole (a body over [`MAX_BODY_BYTES`] never parses).
#[derive(Debug, Clone)]
pub struct ReceivedResponse {
    /// HTTP status.
    pub status: u16,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// Every header as (name, value), values read as lossy UTF-8: kept so the
    /// security check can look for a secret in them.
    pub headers: Vec<(String, String)>,
    /// Body text (lossy UTF-8 where it is not valid UTF-8): the first
    /// [`BODY_EXCERPT_BYTES`] bytes of the body, cut at a character.
    pub body: String,
    /// How many bytes of body were read (at most [`MAX_BODY_BYTES`]).
    pub body_bytes: usize,
    /// Whether the body was valid UTF-8.
    pub utf8: bool,
    /// Whether the body was cut at [`MAX_BODY_BYTES`].
    pub truncated: bool,
    /// The body parsed as JSON, if it parses.
    pub json: Option<Value>,
    /// Why the whole body did not parse as JSON, when it was read whole and was UTF-8.
    pub json_error: Option<String>,
    /// The target's secrets the whole body contained.
    pub body_secrets: BodySecrets,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
    /// How many elements the body had when it was read as a list, element
    /// by element: `json` then holds only the elements its reader kept.
    pub listed: Option<usize>,
    /// Why reading a list stopped before its end, in one line.
    pub stopped: Option<String>,
}

/// The target's secrets ([`Target::secrets`]) a whole body contained, found
/// before the body was cut to its excerpt. `Debug` says how many, never which.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BodySecrets(Vec<String>);

impl BodySecrets {
    /// Each of `secrets` (empty ones skipped) that `body` contains, as its
    /// lossy UTF-8 text would: a secret is valid UTF-8, and no invalid byte
    /// sequence swallows a valid one.
    pub fn search(body: &[u8], secrets: &[&str]) -> BodySecrets {
        // The body whole is one chunk: the same search as a list's.
        let mut search = SecretSearch::new(secrets);
        search.feed(body);
        search.finish()
    }

    /// Whether `secret` was found.
    pub fn contains(&self, secret: &str) -> bool {
        self.0.iter().any(|found| found == secret)
    }

    /// Whether none was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// [`BodySecrets`] searched chunk by chunk, across chunk boundaries, for a
/// body that is never held whole.
#[derive(Clone)]
pub struct SecretSearch {
    secrets: Vec<String>,
    found: Vec<bool>,
    /// The end of the bytes seen so far: a secret may start there.
    window: Vec<u8>,
    longest: usize,
}

impl SecretSearch {
    /// A search for each of `secrets` (empty ones skipped).
    pub fn new(secrets: &[&str]) -> SecretSearch {
        let secrets: Vec<String> = secrets
            .iter()
            .filter(|secret| !secret.is_empty())
            .map(|secret| secret.to_string())
            .collect();
        SecretSearch {
            found: vec![false; secrets.len()],
            longest: secrets.iter().map(String::len).max().unwrap_or(0),
            secrets,
            window: Vec::new(),
        }
    }

    /// The next bytes of the body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found.iter().all(|found| *found) {
            return;
        }
        // Inside the chunk: its text, searched in place. The end of a
        // character cut at the chunk's start belongs to the seam below.
        let start = chunk
            .iter()
            .take(3)
            .take_while(|byte| (**byte as i8) < -0x40)
            .count();
        let inside = &chunk[start..];
        match std::str::from_utf8(inside) {
            Ok(text) => self.search(text),
            // Only a character cut at the end: the rest is text.
            Err(error) if error.error_len().is_none() => {
                let text = std::str::from_utf8(&inside[..error.valid_up_to()]).unwrap_or_default();
                self.search(text);
            }
            // Not UTF-8: as the lossy text of the whole body shows it (a
            // secret is valid UTF-8, and no invalid byte swallows a valid one).
            Err(_) => self.search(&String::from_utf8_lossy(inside)),
        }
        // Across the seam: the end of the bytes before and the start of these.
        let keep = self.longest.saturating_sub(1) + 3;
        let mut seam = std::mem::take(&mut self.window);
        seam.extend_from_slice(&chunk[..chunk.len().min(keep)]);
        self.search(&String::from_utf8_lossy(&seam));
        self.window = if chunk.len() >= keep {
            chunk[chunk.len() - keep..].to_vec()
        } else {
            seam.split_off(seam.len().saturating_sub(keep))
        };
    }

    fn search(&mut self, text: &str) {
        for (secret, found) in self.secrets.iter().zip(&mut self.found) {
            *found = *found || text.contains(secret.as_str());
        }
    }

    /// What was found.
    pub fn finish(self) -> BodySecrets {
        BodySecrets(
            self.secrets
                .into_iter()
                .zip(self.found)
                .filter(|(_, found)| *found)
                .map(|(secret, _)| secret)
                .collect(),
        )
    }
}

impl std::fmt::Debug for SecretSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretSearch({} secrets)", self.secrets.len())
    }
}

impl std::fmt::Debug for BodySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BodySecrets({} found)", self.0.len())
    }
}

/// The status line and headers of an answer.
#[derive(Debug, Clone)]
pub struct AnswerHead {
    /// HTTP status.
    pub status: u16,
    /// The Content-Type header, if any.
    pub content_type: Option<String>,
    /// Every header as (name, value).
    pub headers: Vec<(String, String)>,
}

impl ReceivedResponse {
    /// A response from its head and the body bytes read (`truncated` when
    /// reading stopped at [`MAX_BODY_BYTES`]): parses the JSON, searches the
    /// whole body for `secrets`, then keeps only the excerpt of its text.
    pub fn from_body(
        head: AnswerHead,
        mut bytes: Vec<u8>,
        truncated: bool,
        elapsed: Duration,
        secrets: &[&str],
    ) -> ReceivedResponse {
        let body_bytes = bytes.len();
        // A body cut at the cap inside a character is still UTF-8 up to the cut.
        let (utf8, valid_len) = match std::str::from_utf8(&bytes) {
            Ok(_) => (true, body_bytes),
            Err(error) if truncated && error.error_len().is_none() => (true, error.valid_up_to()),
            Err(_) => (false, body_bytes),
        };
        let (json, json_error) = if utf8 && !truncated {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(json) => (Some(json), None),
                Err(error) => (None, Some(error.to_string())),
            }
        } else {
            (None, None)
        };
        let body_secrets = BodySecrets::search(&bytes[..valid_len], secrets);
        let body = if utf8 {
            let mut keep = valid_len.min(BODY_EXCERPT_BYTES);
            while !is_char_boundary(&bytes, keep) {
                keep -= 1;
            }
            bytes.truncate(keep);
            // The buffer was sized for the whole body: give the rest back.
            bytes.shrink_to_fit();
            String::from_utf8(bytes).unwrap_or_default()
        } else {
            String::from_utf8_lossy(&bytes[..body_bytes.min(BODY_EXCERPT_BYTES)]).into_owned()
        };
        ReceivedResponse {
            status: head.status,
            content_type: head.content_type,
            headers: head.headers,
            body,
            body_bytes,
            utf8,
            truncated,
            json,
            json_error,
            body_secrets,
            elapsed,
            listed: None,
            stopped: None,
        }
    }

    /// A response whose body was read as a JSON list, element by element:
    /// `excerpt` is the body's first bytes (at most [`BODY_EXCERPT_BYTES`]),
    /// `body_bytes` how many were read, `kept` the elements kept of the
    /// `listed` read, and `stopped` why reading stopped early, if it did.
    #[allow(clippy::too_many_arguments)]
    pub fn from_list(
        head: AnswerHead,
        excerpt: Vec<u8>,
        body_bytes: usize,
        kept: Vec<Value>,
        listed: usize,
        stopped: Option<String>,
        body_secrets: BodySecrets,
        elapsed: Duration,
    ) -> ReceivedResponse {
        let (utf8, valid_len) = match std::str::from_utf8(&excerpt) {
            Ok(_) => (true, excerpt.len()),
            // Cut at the excerpt's end inside a character.
            Err(error) if error.error_len().is_none() => (true, error.valid_up_to()),
            Err(_) => (false, excerpt.len()),
        };
        let body = if utf8 {
            String::from_utf8_lossy(&excerpt[..valid_len]).into_owned()
        } else {
            String::from_utf8_lossy(&excerpt).into_owned()
        };
        ReceivedResponse {
            status: head.status,
            content_type: head.content_type,
            headers: head.headers,
            body,
            body_bytes,
            utf8,
            truncated: false,
            json: stopped.is_none().then_some(Value::Array(kept)),
            json_error: None,
            body_secrets,
            elapsed,
            listed: Some(listed),
            stopped,
        }
    }

    /// Whether `body` holds only the first [`BODY_EXCERPT_BYTES`] of the body read.
    pub fn is_excerpt(&self) -> bool {
        self.body_bytes > BODY_EXCERPT_BYTES
    }

    /// Whether the whole body contained `secret`, one of the target's
    /// secrets ([`Target::secrets`]); past the excerpt only those were searched.
    pub fn body_contains_secret(&self, secret: &str) -> bool {
        self.body.contains(secret) || self.body_secrets.contains(secret)
    }

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
        if let Some(stopped) = &self.stopped {
            return Some(stopped.clone());
        }
        Some(if self.truncated {
            format!(
                "more than {} MiB; the harness stopped reading at {MAX_BODY_BYTES} bytes",
                MAX_BODY_BYTES >> 20
            )
        } else if !self.utf8 {
            "not valid UTF-8".to_string()
        } else if self.body_bytes == 0 {
            "empty".to_string()
        } else {
            match &self.json_error {
                Some(error) => format!("not JSON ({error})"),
                None => "not JSON".to_string(),
            }
        })
    }
}

/// Whether `at` falls between two UTF-8 characters of `bytes` (which are UTF-8 up to `at`).
fn is_char_boundary(bytes: &[u8], at: usize) -> bool {
    // A continuation byte (0b10xx_xxxx) never starts a character.
    at == 0 || at >= bytes.len() || (bytes[at] as i8) >= -0x40
}

/// Why no response came back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// One request and what came of it. Its size is bounded by the request
/// sent, the headers and the parsed JSON, plus [`BODY_EXCERPT_BYTES`] of body
/// text (see [`ReceivedResponse`]).
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was sent.
    pub request: SentRequest,
    /// What came back.
    pub response: Result<ReceivedResponse, TransportError>,
}

/// Every exchange of a scenario, in order.
pub type Transcript = Vec<Exchange>;

impl ReceivedResponse {
    /// Keeps of a JSON list only the elements `keep` wants, and of the body
    /// text at most [`SHORT_EXCERPT_BYTES`] when any was dropped (the full
    /// size stays in `body_bytes`): for an answer already judged, whose other
    /// elements no report or replay looks at again.
    pub fn keep_list_elements(&mut self, keep: impl Fn(&Value) -> bool) {
        let Some(Value::Array(items)) = &mut self.json else {
            return;
        };
        let before = items.len();
        items.retain(|item| keep(item));
        if items.len() < before {
            items.shrink_to_fit();
            let mut end = self.body.len().min(SHORT_EXCERPT_BYTES);
            while !self.body.is_char_boundary(end) {
                end -= 1;
            }
            self.body.truncate(end);
            self.body.shrink_to_fit();
        }
    }

    /// Drops a JSON list's records other than `keep`'s when the body was
    /// longer than its excerpt, once the step's checks have seen the whole
    /// answer: a finished step then holds a bounded amount, whatever the
    /// target sent. `keep` says which list elements a snapshot may still need
    /// (the run's own records).
    pub fn keep_excerpt(&mut self, keep: impl Fn(&Value) -> bool) {
        if self.is_excerpt() {
            if let Some(Value::Array(items)) = &mut self.json {
                items.retain(|item| keep(item));
                items.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: String) -> ReceivedResponse {
        let head = AnswerHead {
            status: 200,
            content_type: Some("application/json".to_string()),
            headers: Vec::new(),
        };
        ReceivedResponse::from_body(head, body.into_bytes(), false, Duration::ZERO, &[])
    }

    #[test]
    fn an_excerpt_is_bounded_and_notes_the_full_size() {
        let mut big = response("é".repeat(BODY_EXCERPT_BYTES));
        big.keep_excerpt(|_| true);
        assert!(big.body.len() <= BODY_EXCERPT_BYTES);
        assert!(big.body.len() > BODY_EXCERPT_BYTES - 4);
        assert_eq!(big.body_bytes, 2 * BODY_EXCERPT_BYTES);
        assert!(big.is_excerpt());
        assert!(big.body_problem().unwrap().starts_with("not JSON ("));

        let mut small = response(r#"{"status":"ok"}"#.to_string());
        small.keep_excerpt(|_| false);
        assert!(!small.is_excerpt());
        assert!(small.json.is_some());
    }

    #[test]
    fn a_secret_search_by_chunks_finds_what_the_whole_body_search_finds() {
        let secrets = ["Qm7RzT2vXk9LpW4sNa8c", "éé-Hd3Fy6UjB1o"];
        let bodies: Vec<Vec<u8>> = vec![
            format!("[{{\"a\":\"é{}€\"}}]", secrets[0]).into_bytes(),
            format!("€€{}😀", secrets[1]).into_bytes(),
            b"\xff\xfeQm7RzT2vXk9LpW4sNa8c\xff".to_vec(),
            "Qm7RzT2vXk9LpW4sNa8".as_bytes().to_vec(),
            "é".repeat(40).into_bytes(),
        ];
        // The oracle: each secret in the whole body's bytes.
        let contained = |body: &[u8]| {
            let found: Vec<String> = secrets
                .iter()
                .filter(|secret| {
                    body.windows(secret.len())
                        .any(|window| window == secret.as_bytes())
                })
                .map(|secret| secret.to_string())
                .collect();
            BodySecrets(found)
        };
        for body in &bodies {
            let whole = contained(body);
            assert_eq!(BodySecrets::search(body, &secrets), whole, "{body:?} whole");
            for chunk in 1..=body.len() {
                let mut search = SecretSearch::new(&secrets);
                for piece in body.chunks(chunk) {
                    search.feed(piece);
                }
                assert_eq!(search.finish(), whole, "{body:?} in chunks of {chunk}");
            }
        }
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
