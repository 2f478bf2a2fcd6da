//! Keeping the API tokens out of everything a person or a file sees.

use serde_json::Value;

/// What replaces a secret in output.
pub const REDACTED: &str = "<redacted>";

/// The environment variable a curl command reads the configured token from.
pub const TOKEN_VARIABLE: &str = "IPDR_API_TOKEN";

/// The environment variable a curl command reads the other user's token from.
pub const OTHER_TOKEN_VARIABLE: &str = "IPDR_OTHER_API_TOKEN";

/// One secret and the environment variable that stands for it in curl commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// The value, never shown.
    value: String,
    /// The variable curl commands name instead (`IPDR_API_TOKEN`).
    pub variable: &'static str,
    /// How messages name it ("the API token").
    pub label: &'static str,
}

impl Secret {
    /// The value, for searching and replacing only.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Removes every configured secret from text and JSON, by value and by the `api_token` key.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<Secret>,
}

impl Redactor {
    /// A redactor for one token (the configured user's).
    pub fn new(secret: &str) -> Redactor {
        let mut redactor = Redactor::default();
        redactor.push(secret, TOKEN_VARIABLE, "the API token");
        redactor
    }

    /// A redactor for every secret the harness holds for a target: the
    /// token and, with `--other-*`, the other user's token, redacted alike.
    pub fn for_tokens(token: &str, other_token: Option<&str>) -> Redactor {
        let mut redactor = Redactor::new(token);
        if let Some(other) = other_token {
            redactor.push(other, OTHER_TOKEN_VARIABLE, "the other user's API token");
        }
        redactor
    }

    fn push(&mut self, value: &str, variable: &'static str, label: &'static str) {
        // An empty secret would match everywhere; a repeated one is already covered.
        if value.is_empty() || self.secrets.iter().any(|secret| secret.value == value) {
            return;
        }
        self.secrets.push(Secret {
            value: value.to_string(),
            variable,
            label,
        });
        // Longest first, so a token that contains another is replaced whole.
        self.secrets
            .sort_by_key(|secret| std::cmp::Reverse(secret.value.len()));
    }

    /// The secrets, longest first.
    pub fn secrets(&self) -> &[Secret] {
        &self.secrets
    }

    /// The secret `text` contains, if any (a plain substring search).
    pub fn found_in(&self, text: &str) -> Option<&Secret> {
        self.secrets
            .iter()
            .find(|secret| text.contains(secret.value.as_str()))
    }

    /// `text` with every occurrence of every secret replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.value.as_str()) {
                out = out.replace(secret.value.as_str(), REDACTED);
            }
        }
        out
    }

    /// `value` with every `api_token` member equal to a secret, and every occurrence of a secret, replaced.
    pub fn json(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.json(item)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| {
                        let item = match item {
                            Value::String(token)
                                if key == "api_token"
                                    && self.secrets.iter().any(|secret| secret.value == *token) =>
                            {
                                Value::String(REDACTED.to_string())
                            }
                            other => self.json(other),
                        };
                        (self.text(key), item)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_secret_is_redacted_alike() {
        let mut redactor = Redactor::new("first-token");
        redactor.push("second", OTHER_TOKEN_VARIABLE, "the other user's API token");
        assert_eq!(
            redactor.text("a first-token b second c"),
            "a <redacted> b <redacted> c"
        );
        assert_eq!(
            redactor.json(&json!({"api_token": "second", "x": ["first-token!"]})),
            json!({"api_token": "<redacted>", "x": ["<redacted>!"]})
        );
        assert_eq!(
            redactor.found_in("…second…").map(|secret| secret.label),
            Some("the other user's API token")
        );
        assert!(redactor.found_in("nothing here").is_none());
    }

    #[test]
    fn an_empty_secret_redacts_nothing() {
        let redactor = Redactor::new("");
        assert!(redactor.secrets().is_empty());
        assert_eq!(redactor.text("abc"), "abc");
    }
}
