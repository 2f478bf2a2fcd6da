//! Keeping the api token out of everything a person or a file sees.

use serde_json::Value;

/// What replaces a secret in output.
pub const REDACTED: &str = "<redacted>";

/// Removes one secret from text and JSON, by value and by the `api_token` key.
#[derive(Debug, Clone)]
pub struct Redactor {
    secret: String,
}

impl Redactor {
    /// A redactor for `secret`.
    pub fn new(secret: &str) -> Redactor {
        Redactor {
            secret: secret.to_string(),
        }
    }

    /// `text` with every occurrence of the secret replaced.
    pub fn text(&self, text: &str) -> String {
        if self.secret.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.secret, REDACTED)
        }
    }

    /// `value` with every `api_token` member equal to the secret, and every occurrence of the secret, replaced.
    pub fn json(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.json(item)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| {
                        let item = match item {
                            Value::String(token) if key == "api_token" && *token == self.secret => {
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
