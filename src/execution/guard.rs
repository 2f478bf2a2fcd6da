//! Where a request may go, and which records a request that can change data
//! may touch: the one decision every request passes before it is sent.
//!
//! The URL is judged as the HTTP client will send it: parsed by the same
//! parser reqwest uses (`url`), so dot segments (`/./`, `/../`, `%2e%2e`),
//! backslashes and `@` are resolved exactly as on the wire before anything
//! is checked. A check on the text as written would pass `/api/./x/../B68t19`
//! and the client would then send `/api/B68t19`.

use reqwest::Url;
use serde_json::Value;

use super::scenario_run::carries_prefix;
use super::target::Target;
use crate::spec::contract::{path_segment, percent_decoded, COLLECTION_PATH};

/// Why a request is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The base URL and path do not make a URL.
    #[error("refused to send {request}: not a valid URL ({reason})")]
    Unparsable {
        /// The method and the URL as written (`DELETE http://...`).
        request: String,
        /// What the parser said.
        reason: String,
    },
    /// The URL leaves the target: another scheme, host or port, or credentials in it.
    #[error("refused to send {request}: it goes to {sent}, not the target {expected}; request bodies carry the API token")]
    LeavesTarget {
        /// The method and the URL as written (`DELETE http://...`).
        request: String,
        /// Where it would go (scheme, host and port; `user@` when it names credentials).
        sent: String,
        /// The target's scheme, host and port.
        expected: String,
    },
    /// Dot segments lead out of the target's base path.
    #[error("refused to send {request}: the client sends it as {canonical}, outside the target's base path {base}")]
    OutsideBase {
        /// The method and the URL as written (`DELETE http://...`).
        request: String,
        /// The URL as the client sends it.
        canonical: String,
        /// The target's base path.
        base: String,
    },
    /// A request that can change data addresses a record that is not this run's.
    #[error("refused to send {request}: the {place} UserID {user_id:?} (as the client sends it: {canonical}) does not carry this run's prefix {prefix:?}")]
    ForeignUserId {
        /// The method and the URL as written (`DELETE http://...`).
        request: String,
        /// The URL as the client sends it.
        canonical: String,
        /// Where the UserID was found: path, query or body.
        place: &'static str,
        /// The UserID, decoded once as a server reads it.
        user_id: String,
        /// This run's prefix.
        prefix: String,
    },
    /// A raw body names a UserID the guard cannot read as a JSON string.
    #[error("refused to send {request}: the body names a UserID that cannot be read as a JSON string, so whose record it touches is unknown")]
    UnreadableBodyUserId {
        /// The method and the URL as written (`DELETE http://...`).
        request: String,
    },
}

/// A request that can change data, cleared to go out: made only by
/// [`clear_mutation`], and the only way [`super::client::Client::send_cleared`]
/// sends such a request, so what is sent is exactly what was judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearedMutation {
    method: String,
    path: String,
    body: Option<String>,
    canonical_url: String,
    ledger_segments: Vec<String>,
}

impl ClearedMutation {
    /// The HTTP method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path as written, relative to the target's base URL.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The body, exactly as judged.
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The URL exactly as the client sends it.
    pub fn canonical_url(&self) -> &str {
        &self.canonical_url
    }

    /// Every UserID it addresses, as the path segment that deletes it
    /// (`/api/ipdrcustomers/{segment}`), for the cleanup ledger.
    pub fn ledger_segments(&self) -> &[String] {
        &self.ledger_segments
    }
}

/// Whether a request with `method` can change data: anything but a read.
/// The page's reads are GETs ("Retrieving Customer List"); HEAD reads too.
pub fn can_change_data(method: &str) -> bool {
    !(method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"))
}

/// The scheme, host and port of `url` (`http://127.0.0.1:8000`), with `user@` when it carries credentials.
fn origin_of(url: &Url) -> String {
    let credentials = if url.username().is_empty() && url.password().is_none() {
        ""
    } else {
        "user@"
    };
    format!(
        "{}://{credentials}{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The URL of `path` on `target` as the client sends it; an error when it
/// does not parse, leaves the target's scheme, host or port, carries
/// credentials, or climbs out of the target's base path.
pub fn canonical_url(target: &Target, method: &str, path: &str) -> Result<Url, GuardError> {
    let written = target.url(path);
    let unparsable = |reason: String| GuardError::Unparsable {
        request: format!("{method} {written}"),
        reason,
    };
    let base = Url::parse(&target.base_url).map_err(|error| unparsable(error.to_string()))?;
    let url = Url::parse(&written).map_err(|error| unparsable(error.to_string()))?;
    let (sent, expected) = (origin_of(&url), origin_of(&base));
    if sent != expected {
        return Err(GuardError::LeavesTarget {
            request: format!("{method} {written}"),
            sent,
            expected,
        });
    }
    let base_path = base.path().trim_end_matches('/');
    let inside = url
        .path()
        .strip_prefix(base_path)
        .is_some_and(|rest| rest.starts_with('/'));
    if !inside {
        return Err(GuardError::OutsideBase {
            request: format!("{method} {written}"),
            canonical: url.to_string(),
            base: format!("{base_path}/"),
        });
    }
    Ok(url)
}

/// Whether `segment`, decoded once as a server reads it, hides a dot
/// segment behind an encoded slash (`x%2F..%2FB68t19`).
fn hides_dot_segment(decoded: &str) -> bool {
    decoded
        .split(['/', '\\'])
        .skip(1)
        .any(|piece| piece == "." || piece == "..")
        || decoded == "."
        || decoded == ".."
}

/// The UserIDs a body names under a key that reads as `UserID` ignoring
/// case: from the JSON (after a byte order mark, which a server may skip),
/// and from the text itself, for a body that does not parse (a lenient
/// server may still read it) or names the key twice. None: a `UserID` key
/// whose value cannot be read as a JSON string.
fn body_user_ids(body: &str) -> Option<Vec<String>> {
    let text = body.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let mut found = Vec::new();
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        for (key, value) in &map {
            if key.eq_ignore_ascii_case("UserID") {
                // Not a string: no record is named by it (the contract's UserID is a string).
                if let Value::String(uid) = value {
                    found.push(uid.clone());
                }
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("\"userid\"") {
        let after_key = from + at + "\"userid\"".len();
        from = after_key;
        let rest = text[after_key..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            // `"UserID"` as a value, not a key.
            continue;
        };
        let rest = rest.trim_start();
        if !rest.starts_with('"') {
            // A number, null, an object...: no string UserID; a non-string key value
            // is only accepted when the body parsed and said so.
            if matches!(
                rest.chars().next(),
                Some('0'..='9' | '-' | 'n' | 't' | 'f' | '{' | '[')
            ) {
                continue;
            }
            return None;
        }
        let literal = string_literal(rest)?;
        found.push(serde_json::from_str::<String>(literal).ok()?);
    }
    Some(found)
}

/// The JSON string literal at the start of `text` (quotes included), honouring escapes.
fn string_literal(text: &str) -> Option<&str> {
    let mut escaped = false;
    for (index, byte) in text.bytes().enumerate().skip(1) {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(&text[..=index]),
            _ => {}
        }
    }
    None
}

/// Clears a request that can change data (POST, PUT, PATCH, DELETE): its URL
/// as the client sends it stays on the target, and every UserID it
/// addresses (the last path segment, a `UserID` query parameter, the body's
/// `UserID`) carries `prefix` once decoded. The harness never modifies a
/// record it did not create ("Deleting a Customer" and "Updating Customer
/// Information" address a record by its UserID alone).
pub fn clear_mutation(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<&str>,
    prefix: &str,
) -> Result<ClearedMutation, GuardError> {
    let url = canonical_url(target, method, path)?;
    let written = target.url(path);
    let canonical = url.to_string();
    let foreign = |place: &'static str, user_id: &str| GuardError::ForeignUserId {
        request: format!("{method} {written}"),
        canonical: canonical.clone(),
        place,
        user_id: user_id.to_string(),
        prefix: prefix.to_string(),
    };
    let base_path = Url::parse(&target.base_url)
        .map(|base| base.path().trim_end_matches('/').to_string())
        .unwrap_or_default();
    let relative = &url.path()[base_path.len()..];
    let mut ledger_segments = Vec::new();
    // The collection itself (a create) names no record in its path.
    if relative.trim_end_matches('/') != COLLECTION_PATH {
        let segment = relative.rsplit('/').next().unwrap_or_default();
        let decoded = percent_decoded(segment);
        if !carries_prefix(segment, prefix) || hides_dot_segment(&decoded) {
            return Err(foreign("path", &decoded));
        }
        ledger_segments.push(segment.to_string());
    }
    for (key, value) in url.query_pairs() {
        if key.eq_ignore_ascii_case("UserID") && !carries_prefix(&value, prefix) {
            return Err(foreign("query", &value));
        }
    }
    let body_uids = match body {
        Some(body) => body_user_ids(body).ok_or_else(|| GuardError::UnreadableBodyUserId {
            request: format!("{method} {written}"),
        })?,
        None => Vec::new(),
    };
    for uid in body_uids {
        if !carries_prefix(&uid, prefix) {
            return Err(foreign("body", &uid));
        }
        let segment = path_segment(&uid);
        if !ledger_segments.contains(&segment) {
            ledger_segments.push(segment);
        }
    }
    Ok(ClearedMutation {
        method: method.to_string(),
        path: path.to_string(),
        body: body.map(str::to_string),
        canonical_url: canonical,
        ledger_segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::target::ApiToken;
    use std::time::Duration;

    const PREFIX: &str = "zzconf-1a2b3c4d-";

    fn target(base: &str) -> Target {
        Target {
            base_url: base.to_string(),
            api_token: ApiToken::new("token"),
            username: "u".into(),
            context: "c".into(),
            second_context: None,
            forbidden_context: None,
            other: None,
            timeout: Duration::from_secs(1),
        }
    }

    fn clear(path: &str, body: Option<&str>) -> Result<Vec<String>, GuardError> {
        clear_mutation(
            &target("http://127.0.0.1:8000"),
            "DELETE",
            path,
            body,
            PREFIX,
        )
        .map(|cleared| cleared.ledger_segments)
    }

    #[test]
    fn a_cleared_mutation_carries_exactly_what_was_judged() {
        let body = r#"{"UserID":"zzconf-1a2b3c4d-000-a"}"#;
        let cleared = clear_mutation(
            &target("http://127.0.0.1:8000"),
            "PUT",
            "/api/ipdrcustomers/zzconf-1a2b3c4d-000-a",
            Some(body),
            PREFIX,
        )
        .unwrap();
        assert_eq!(cleared.method(), "PUT");
        assert_eq!(cleared.path(), "/api/ipdrcustomers/zzconf-1a2b3c4d-000-a");
        assert_eq!(cleared.body(), Some(body));
        assert_eq!(
            cleared.canonical_url(),
            "http://127.0.0.1:8000/api/ipdrcustomers/zzconf-1a2b3c4d-000-a"
        );
    }

    #[test]
    fn only_reads_go_without_clearance() {
        for method in ["GET", "get", "HEAD"] {
            assert!(!can_change_data(method), "{method}");
        }
        for method in [
            "POST", "PUT", "PATCH", "DELETE", "delete", "OPTIONS", "MERGE",
        ] {
            assert!(can_change_data(method), "{method}");
        }
    }

    #[test]
    fn dot_segments_are_judged_as_the_client_resolves_them() {
        for path in [
            "/api/./ipdrcustomers/B68t19",
            "/api/ipdrcustomers/zzconf-1a2b3c4d-x/../B68t19",
            "/api/ipdrcustomers/zzconf-1a2b3c4d-x/%2e%2E/B68t19",
            "/api/ipdrcustomers/zzconf-1a2b3c4d-x%2F..%2FB68t19",
            "/api/ipdrcustomers/zzconf-1a2b3c4d-x\\..\\B68t19",
        ] {
            assert!(clear(path, None).is_err(), "{path}");
        }
        assert_eq!(
            clear("/api/./ipdrcustomers/zzconf-1a2b3c4d-x", None).unwrap(),
            ["zzconf-1a2b3c4d-x"]
        );
    }

    #[test]
    fn a_url_that_leaves_the_target_is_refused() {
        let error = clear("@127.0.0.1:9/api/ipdrcustomers/zzconf-1a2b3c4d-x", None).unwrap_err();
        assert!(matches!(error, GuardError::LeavesTarget { .. }), "{error}");
        let nested = clear_mutation(
            &target("http://127.0.0.1:8000/base"),
            "DELETE",
            "/../api/ipdrcustomers/zzconf-1a2b3c4d-x",
            None,
            PREFIX,
        );
        assert!(matches!(nested, Err(GuardError::OutsideBase { .. })));
    }

    #[test]
    fn the_body_user_id_is_read_past_a_bom_and_from_text_that_does_not_parse() {
        assert!(clear(
            "/api/ipdrcustomers",
            Some("\u{feff}{\"UserID\":\"B68t19\"}")
        )
        .is_err());
        assert!(clear("/api/ipdrcustomers", Some("{\"UserID\":\"B68t19\",")).is_err());
        assert!(clear(
            "/api/ipdrcustomers",
            Some("{\"UserID\":\"zzconf-1a2b3c4d-a\",\"userid\":\"B68t19\"}")
        )
        .is_err());
        assert!(clear("/api/ipdrcustomers", Some("{\"User\\u0049D\":\"B68t19\"}")).is_err());
        assert!(matches!(
            clear("/api/ipdrcustomers", Some("{\"UserID\": B68t19}")),
            Err(GuardError::UnreadableBodyUserId { .. })
        ));
        assert_eq!(
            clear(
                "/api/ipdrcustomers",
                Some("{\"UserID\":\"zzconf-1a2b3c4d-a b\",")
            )
            .unwrap(),
            ["zzconf-1a2b3c4d-a%20b"]
        );
    }
}
