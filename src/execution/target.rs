//! The target under test: where it is and which credentials to use.

use std::fmt;
use std::time::Duration;

use crate::outcome::redact::Redactor;

/// An API token. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        ApiToken(token.into())
    }

    /// The token as read from `source` (a flag, a variable or a file, named in the error):
    /// a leading byte order mark and trailing line endings are not part of it, and
    /// nothing left is an error rather than an empty token sent to the target.
    pub fn from_source(raw: &str, source: &str) -> Result<ApiToken, EmptyToken> {
        let token = raw
            .strip_prefix('\u{feff}')
            .unwrap_or(raw)
            .trim_end_matches(['\r', '\n']);
        if token.is_empty() {
            return Err(EmptyToken(source.to_string()));
        }
        Ok(ApiToken::new(token))
    }

    /// The token itself, for the request body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A token that is empty once its byte order mark and line endings are gone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the api token from {0} is empty (after removing a byte order mark and line endings)")]
pub struct EmptyToken(pub String);

/// Everything the harness needs to talk to one server.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8000`.
    pub base_url: String,
    /// The token of `username`.
    pub api_token: ApiToken,
    /// The username the token belongs to.
    pub username: String,
    /// A context the user may access ("Authentication": e.g. "default").
    pub context: String,
    /// A second context the user may access, for isolation checks.
    pub second_context: Option<String>,
    /// An existing context the user may not access.
    pub forbidden_context: Option<String>,
    /// A second user, for cross-user checks (`--other-*`).
    pub other: Option<OtherUser>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Target {
    /// A target reaching a reference server at `base_url` with its fixture's harness credentials.
    pub fn from_harness(
        credentials: crate::reference::HarnessCredentials,
        base_url: String,
        timeout: Duration,
    ) -> Target {
        Target {
            base_url,
            api_token: ApiToken::new(credentials.api_token),
            username: credentials.username,
            context: credentials.context,
            second_context: credentials.second_context,
            forbidden_context: credentials.forbidden_context,
            other: credentials.other.map(|other| OtherUser {
                username: other.username,
                api_token: ApiToken::new(other.api_token),
                context: other.context,
            }),
            timeout,
        }
    }

    /// Every secret the harness holds for this target: the token, and the other user's.
    pub fn secrets(&self) -> Vec<&str> {
        std::iter::once(self.api_token.expose())
            .chain(self.other.as_ref().map(|other| other.api_token.expose()))
            .collect()
    }

    /// Removes both tokens from anything shown or written (see [`Redactor`]).
    pub fn redactor(&self) -> Redactor {
        Redactor::for_tokens(
            self.api_token.expose(),
            self.other.as_ref().map(|other| other.api_token.expose()),
        )
    }

    /// The configured credentials for `contextname`, as the JSON body of a list or delete ("Authentication").
    pub fn auth_body(&self, contextname: &str) -> String {
        serde_json::json!({
            "api_token": self.api_token.expose(),
            "username": self.username,
            "contextname": contextname,
        })
        .to_string()
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}

/// A second user of the target: its own token, and a context only it may access.
#[derive(Debug, Clone)]
pub struct OtherUser {
    /// Its username (`--other-username`).
    pub username: String,
    /// Its token (`--other-api-token`); redacted like the first.
    pub api_token: ApiToken,
    /// A context only it may access (`--other-context`).
    pub context: String,
}

impl std::str::FromStr for ApiToken {
    type Err = std::convert::Infallible;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        Ok(ApiToken::new(token))
    }
}
