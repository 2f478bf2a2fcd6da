//! Users, tokens and contexts the reference server knows, and the customers
//! it may start with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::spec::contract::Customer;

use super::error::ReferenceError;

/// The built-in users fixture, embedded so the binary works outside the source tree.
const BUILTIN_USERS_JSON: &str = include_str!("../../fixtures/reference-users.json");
/// How the built-in fixture is named in error messages.
const BUILTIN_USERS_NAME: &str = "built-in fixtures/reference-users.json";

/// One user of the reference server: a username, its token and its contexts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureUser {
    /// The username sent as `username`.
    pub username: String,
    /// The user's own API token, sent as `api_token`.
    pub api_token: String,
    /// The contexts this user may access ("Authentication": access is context-specific).
    pub contexts: Vec<String>,
}

/// Which user and contexts the harness uses against this server (as written in the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HarnessSection {
    username: String,
    context: String,
    #[serde(default)]
    second_context: Option<String>,
    #[serde(default)]
    forbidden_context: Option<String>,
    #[serde(default)]
    other_username: Option<String>,
    #[serde(default)]
    other_context: Option<String>,
}

/// The file format of a users fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    contexts: Vec<String>,
    users: Vec<FixtureUser>,
    harness: HarnessSection,
}

/// The credentials the harness uses against a server running this fixture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarnessCredentials {
    /// Username to send.
    pub username: String,
    /// That user's API token.
    pub api_token: String,
    /// A context the user may access.
    pub context: String,
    /// A second accessible context, for isolation checks.
    pub second_context: Option<String>,
    /// An existing context the user may not access.
    pub forbidden_context: Option<String>,
    /// A second user with a context only it may access, for cross-user checks.
    pub other: Option<OtherCredentials>,
}

/// The second user's credentials, as the harness uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherCredentials {
    /// Its username.
    pub username: String,
    /// Its token.
    pub api_token: String,
    /// A context only it may access.
    pub context: String,
}

/// Users, tokens and contexts of the reference server, validated on load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersFixture {
    contexts: Vec<String>,
    users: Vec<FixtureUser>,
    harness: HarnessCredentials,
}

impl UsersFixture {
    /// The built-in fixture (`fixtures/reference-users.json`, embedded at build time).
    pub fn builtin() -> Self {
        // The embedded file is checked by a unit test; it cannot be invalid in a tested build.
        Self::from_json_str(BUILTIN_USERS_JSON, BUILTIN_USERS_NAME)
            .expect("the built-in users fixture is valid")
    }

    /// Loads and validates a fixture file.
    pub fn from_path(path: &Path) -> Result<Self, ReferenceError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReferenceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses and validates fixture JSON; `file` names the source in errors.
    pub fn from_json_str(text: &str, file: &str) -> Result<Self, ReferenceError> {
        let parsed: UsersFile =
            serde_json::from_str(text).map_err(|source| ReferenceError::Parse {
                file: file.to_string(),
                source,
            })?;
        let invalid = |problem: String| ReferenceError::InvalidUsers {
            file: file.to_string(),
            problem,
        };

        let mut contexts = BTreeSet::new();
        for context in &parsed.contexts {
            if !contexts.insert(context.as_str()) {
                return Err(invalid(format!("context {context:?} is listed twice")));
            }
        }
        let mut usernames = BTreeSet::new();
        for user in &parsed.users {
            if !usernames.insert(user.username.as_str()) {
                return Err(invalid(format!("user {:?} is listed twice", user.username)));
            }
            if user.api_token.is_empty() {
                return Err(invalid(format!(
                    "user {:?} has an empty api_token",
                    user.username
                )));
            }
            if let Some(unknown) = user
                .contexts
                .iter()
                .find(|c| !contexts.contains(c.as_str()))
            {
                return Err(invalid(format!(
                    "user {:?} is given context {unknown:?}, which is not in \"contexts\"",
                    user.username
                )));
            }
        }

        let harness = &parsed.harness;
        let Some(user) = parsed.users.iter().find(|u| u.username == harness.username) else {
            return Err(invalid(format!(
                "harness user {:?} is not in \"users\"",
                harness.username
            )));
        };
        let may_access = |context: &str| user.contexts.iter().any(|c| c == context);
        let accessible = [
            ("context", Some(&harness.context)),
            ("second_context", harness.second_context.as_ref()),
        ];
        for (key, context) in accessible {
            let Some(context) = context else { continue };
            if !contexts.contains(context.as_str()) {
                return Err(invalid(format!(
                    "harness {key} {context:?} is not in \"contexts\""
                )));
            }
            if !may_access(context) {
                return Err(invalid(format!(
                    "harness user {:?} may not access its {key} {context:?}",
                    user.username
                )));
            }
        }
        if harness.second_context.as_ref() == Some(&harness.context) {
            return Err(invalid("harness second_context equals context".to_string()));
        }
        if let Some(forbidden) = &harness.forbidden_context {
            if !contexts.contains(forbidden.as_str()) {
                return Err(invalid(format!(
                    "harness forbidden_context {forbidden:?} is not in \"contexts\""
                )));
            }
            if may_access(forbidden) {
                return Err(invalid(format!(
                    "harness user {:?} may access its forbidden_context {forbidden:?}",
                    user.username
                )));
            }
        }

        let other = match (&harness.other_username, &harness.other_context) {
            (None, None) => None,
            (Some(username), Some(context)) => {
                let Some(other) = parsed.users.iter().find(|u| &u.username == username) else {
                    return Err(invalid(format!(
                        "harness other_username {username:?} is not in \"users\""
                    )));
                };
                if other.username == user.username {
                    return Err(invalid(
                        "harness other_username equals username".to_string(),
                    ));
                }
                if !other.may_access(context) || may_access(context) {
                    return Err(invalid(format!(
                        "harness other_context {context:?} must be accessible to {username:?} only, not to {:?}",
                        user.username
                    )));
                }
                Some(OtherCredentials {
                    username: username.clone(),
                    api_token: other.api_token.clone(),
                    context: context.clone(),
                })
            }
            _ => {
                return Err(invalid(
                    "harness other_username and other_context go together".to_string(),
                ))
            }
        };
        let credentials = HarnessCredentials {
            username: user.username.clone(),
            api_token: user.api_token.clone(),
            context: harness.context.clone(),
            second_context: harness.second_context.clone(),
            forbidden_context: harness.forbidden_context.clone(),
            other,
        };
        Ok(UsersFixture {
            contexts: parsed.contexts,
            users: parsed.users,
            harness: credentials,
        })
    }

    /// The credentials the harness should use against a server with this fixture.
    pub fn harness(&self) -> HarnessCredentials {
        self.harness.clone()
    }

    /// Every context that exists, in file order.
    pub fn contexts(&self) -> &[String] {
        &self.contexts
    }

    /// Every user, in file order.
    pub fn users(&self) -> &[FixtureUser] {
        &self.users
    }

    /// The user with this exact username.
    pub fn user(&self, username: &str) -> Option<&FixtureUser> {
        self.users.iter().find(|u| u.username == username)
    }

    /// Whether a context with this exact name exists.
    pub fn has_context(&self, context: &str) -> bool {
        self.contexts.iter().any(|c| c == context)
    }
}

impl FixtureUser {
    /// Whether this user may access `context`.
    pub fn may_access(&self, context: &str) -> bool {
        self.contexts.iter().any(|c| c == context)
    }
}

/// One customer to preload; `id` is kept when given, assigned otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreloadCustomer {
    /// Id to keep, or `None` to take the next server id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Customer name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Customer address ("" when omitted).
    #[serde(rename = "Address", default)]
    pub address: String,
    /// Customer email address ("" when omitted).
    #[serde(rename = "Email", default)]
    pub email: String,
    /// Primary phone number ("" when omitted).
    #[serde(rename = "PhoneNumber", default)]
    pub phone_number: String,
    /// Alternate phone number ("" when omitted).
    #[serde(rename = "AltPhoneNumber", default)]
    pub alt_phone_number: String,
    /// Unique user identifier.
    #[serde(rename = "UserID")]
    pub user_id: String,
}

impl PreloadCustomer {
    /// A customer with only the mandatory fields and no fixed id.
    pub fn new(user_id: impl Into<String>, name: impl Into<String>) -> Self {
        PreloadCustomer {
            id: None,
            name: name.into(),
            address: String::new(),
            email: String::new(),
            phone_number: String::new(),
            alt_phone_number: String::new(),
            user_id: user_id.into(),
        }
    }
}

impl PreloadCustomer {
    /// The customer as stored and answered, with `id`: the inverse of `From<Customer>`.
    pub fn with_id(self, id: i64) -> Customer {
        Customer {
            id,
            name: self.name,
            address: self.address,
            email: self.email,
            phone_number: self.phone_number,
            alt_phone_number: self.alt_phone_number,
            user_id: self.user_id,
        }
    }
}

impl From<Customer> for PreloadCustomer {
    fn from(customer: Customer) -> Self {
        PreloadCustomer {
            id: Some(customer.id),
            name: customer.name,
            address: customer.address,
            email: customer.email,
            phone_number: customer.phone_number,
            alt_phone_number: customer.alt_phone_number,
            user_id: customer.user_id,
        }
    }
}

/// Customers the server starts with: context name → customers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preload {
    file: Option<String>,
    contexts: BTreeMap<String, Vec<PreloadCustomer>>,
}

impl Preload {
    /// An empty preload.
    pub fn new() -> Self {
        Preload::default()
    }

    /// Loads a preload file: a JSON object mapping context name to an array of customers.
    pub fn from_path(path: &Path) -> Result<Self, ReferenceError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReferenceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses preload JSON; `file` names the source in errors.
    pub fn from_json_str(text: &str, file: &str) -> Result<Self, ReferenceError> {
        let contexts: BTreeMap<String, Vec<PreloadCustomer>> =
            serde_json::from_str(text).map_err(|source| ReferenceError::Parse {
                file: file.to_string(),
                source,
            })?;
        Ok(Preload {
            file: Some(file.to_string()),
            contexts,
        })
    }

    /// `customers` in `context`, named in errors as generated.
    pub(crate) fn from_customers(context: String, customers: Vec<PreloadCustomer>) -> Self {
        Preload {
            file: Some("generated preload".to_string()),
            contexts: BTreeMap::from([(context, customers)]),
        }
    }

    /// Adds one customer to `context`.
    pub fn add(&mut self, context: impl Into<String>, customer: impl Into<PreloadCustomer>) {
        self.contexts
            .entry(context.into())
            .or_default()
            .push(customer.into());
    }

    /// This preload plus one customer in `context` (builder style).
    pub fn with(
        mut self,
        context: impl Into<String>,
        customer: impl Into<PreloadCustomer>,
    ) -> Self {
        self.add(context, customer);
        self
    }

    /// The customers to preload, by context.
    pub fn contexts(&self) -> &BTreeMap<String, Vec<PreloadCustomer>> {
        &self.contexts
    }

    /// The customers to preload, by context, taken out.
    pub(crate) fn into_contexts(self) -> BTreeMap<String, Vec<PreloadCustomer>> {
        self.contexts
    }

    /// Whether nothing is preloaded.
    pub fn is_empty(&self) -> bool {
        self.contexts.values().all(Vec::is_empty)
    }

    /// How this preload is named in error messages.
    pub(crate) fn source_name(&self) -> &str {
        self.file.as_deref().unwrap_or("in-code preload")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_fixture_is_valid_and_names_the_harness() {
        let fixture = UsersFixture::from_json_str(BUILTIN_USERS_JSON, BUILTIN_USERS_NAME)
            .expect("valid built-in fixture");
        let harness = fixture.harness();
        assert_eq!(harness.username, "user");
        assert_eq!(harness.api_token.len(), 20);
        assert_eq!(harness.second_context.as_deref(), Some("ipdr2"));
        assert_eq!(harness.forbidden_context.as_deref(), Some("restricted"));
    }

    #[test]
    fn unknown_harness_user_is_reported_with_the_file() {
        let text = r#"{"contexts":["default"],"users":[],
            "harness":{"username":"ghost","context":"default"}}"#;
        let error = UsersFixture::from_json_str(text, "users.json").unwrap_err();
        let message = error.to_string();
        assert!(message.contains("users.json"), "{message}");
        assert!(message.contains("\"ghost\""), "{message}");
    }

    #[test]
    fn accessible_forbidden_context_is_rejected() {
        let text = r#"{"contexts":["default"],
            "users":[{"username":"u","api_token":"t","contexts":["default"]}],
            "harness":{"username":"u","context":"default","forbidden_context":"default"}}"#;
        let error = UsersFixture::from_json_str(text, "f.json").unwrap_err();
        assert!(
            matches!(error, ReferenceError::InvalidUsers { .. }),
            "{error}"
        );
    }

    #[test]
    fn user_with_unknown_context_is_rejected() {
        let text = r#"{"contexts":["default"],
            "users":[{"username":"u","api_token":"t","contexts":["nope"]}],
            "harness":{"username":"u","context":"default"}}"#;
        let error = UsersFixture::from_json_str(text, "f.json").unwrap_err();
        assert!(error.to_string().contains("\"nope\""), "{error}");
    }
}
