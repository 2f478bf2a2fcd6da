//! Request operators: edits of a request's auth parameters, context and
//! path on its way to the target ("Authentication": the parameters are in
//! the JSON body of every request).
//!
//! The proxy knows the run's credentials ([`KnownCredentials`]), so it can
//! tell a bad credential from a good one. An edited request never addresses
//! a UserID without the run's prefix, so a mutant cannot touch a record the
//! harness did not create.

use crate::spec::contract::percent_decoded;
use std::collections::BTreeSet;

use serde_json::Value;

use super::operator::{CredentialFix, Operator};
use crate::execution::scenario_run::RunIdentity;
use crate::execution::target::{ApiToken, Target};
use crate::spec::contract::COLLECTION_PATH;
use crate::spec::tamper::AuthField;

/// What the proxy is told about the run: the valid credentials, the other
/// contexts and user, and the run's deliberately invalid token and context.
#[derive(Debug, Clone)]
pub struct KnownCredentials {
    /// The configured token.
    pub api_token: ApiToken,
    /// The configured username.
    pub username: String,
    /// The configured context.
    pub context: String,
    /// The second context, if configured.
    pub second_context: Option<String>,
    /// The forbidden context, if configured.
    pub forbidden_context: Option<String>,
    /// The other user's name, token and context, if configured.
    pub other: Option<(String, ApiToken, String)>,
    /// The run's invalid token.
    pub invalid_token: String,
    /// The run's invalid context name.
    pub invalid_context: String,
    /// Every UserID the run creates starts with this.
    pub uid_prefix: String,
}

impl KnownCredentials {
    /// What a run of `identity` against `target` sends.
    pub fn new(target: &Target, identity: &RunIdentity) -> KnownCredentials {
        KnownCredentials {
            api_token: target.api_token.clone(),
            username: target.username.clone(),
            context: target.context.clone(),
            second_context: target.second_context.clone(),
            forbidden_context: target.forbidden_context.clone(),
            other: target.other.as_ref().map(|other| {
                (
                    other.username.clone(),
                    other.api_token.clone(),
                    other.context.clone(),
                )
            }),
            invalid_token: identity.invalid_token(),
            invalid_context: identity.invalid_context(),
            uid_prefix: identity.uid_prefix(),
        }
    }

    fn is_known_token(&self, token: &str) -> bool {
        token == self.api_token.expose()
            || self
                .other
                .as_ref()
                .is_some_and(|(_, other, _)| token == other.expose())
    }

    fn is_known_username(&self, username: &str) -> bool {
        username == self.username
            || self
                .other
                .as_ref()
                .is_some_and(|(other, _, _)| username == other)
    }

    /// Whether a context name is one the run was configured with (valid, second, forbidden, other's).
    fn is_known_context(&self, contextname: &str) -> bool {
        contextname == self.context
            || self.second_context.as_deref() == Some(contextname)
            || self.forbidden_context.as_deref() == Some(contextname)
            || self
                .other
                .as_ref()
                .is_some_and(|(_, _, other)| contextname == other)
    }
}

/// A request on its way to the target, open to one edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The path, without the query.
    pub path: String,
    /// The body parsed as JSON (None: no body or not JSON; then only path edits apply).
    pub json: Option<Value>,
}

/// Applies `operator` to `request`; whether it changed anything. `existing`
/// holds the UserIDs of this run that answers have shown so far.
pub fn apply(
    operator: &Operator,
    request: &mut Outgoing,
    known: &KnownCredentials,
    existing: &BTreeSet<String>,
) -> bool {
    match operator {
        Operator::ValidCredential(fix) => fix_credential(*fix, request, known),
        Operator::SecondContextAsConfigured => {
            let Some(second) = &known.second_context else {
                return false;
            };
            let Some(Value::Object(body)) = request.json.as_mut() else {
                return false;
            };
            match body.get_mut(AuthField::Contextname.key()) {
                Some(Value::String(contextname)) if contextname == second => {
                    *contextname = known.context.clone();
                    true
                }
                _ => false,
            }
        }
        Operator::NeighbourUserId => {
            let Some(user_id) = path_user_id(&request.path) else {
                return false;
            };
            let neighbour = neighbour(user_id);
            // Data safety: only ever another UserID of this run.
            if neighbour == user_id || !neighbour.starts_with(&known.uid_prefix) {
                return false;
            }
            request.path = format!("{COLLECTION_PATH}/{neighbour}");
            true
        }
        Operator::NearMissUserIdAsExisting => {
            let Some(user_id) = path_user_id(&request.path) else {
                return false;
            };
            let seen = percent_decoded(user_id);
            let Some(found) = near_miss_of(user_id, existing, &known.uid_prefix) else {
                return false;
            };
            request.path = format!("{COLLECTION_PATH}/{found}");
            // A PUT names its UserID in the body too: the server then acts on the
            // existing record as a coherent request, not one refused for a mismatch.
            if let Some(Value::Object(body)) = request.json.as_mut() {
                if let Some(Value::String(body_user_id)) = body.get_mut("UserID") {
                    if *body_user_id == seen {
                        *body_user_id = found.clone();
                    }
                }
            }
            true
        }
        _ => false,
    }
}

/// The existing UserID of this run that `user_id` (as the path carries it,
/// percent-encoded) nearly names: once decoded, a prefix or an extension of
/// it, the same in another case, or it after a second decoding. None when
/// `user_id` names an existing record itself, or nothing is near.
pub fn near_miss_of<'a>(
    user_id: &str,
    existing: &'a BTreeSet<String>,
    uid_prefix: &str,
) -> Option<&'a String> {
    // The server decodes the path once (RFC 3986): that is the UserID it sees.
    let seen = percent_decoded(user_id);
    if existing.contains(&seen) {
        return None;
    }
    let decoded_twice = seen.contains('%').then(|| percent_decoded(&seen));
    existing.iter().find(|candidate| {
        candidate.starts_with(uid_prefix)
            && (candidate.starts_with(seen.as_str())
                || seen.starts_with(candidate.as_str())
                || candidate.eq_ignore_ascii_case(&seen)
                || decoded_twice.as_deref() == Some(candidate.as_str()))
    })
}

/// The UserID a `/api/ipdrcustomers/{UserID}` path names.
pub fn path_user_id(path: &str) -> Option<&str> {
    path.strip_prefix(COLLECTION_PATH)?
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// The UserID with its last character moved to the next one of its class (`a` → `b`, `z` → `a`, `9` → `0`).
pub fn neighbour(user_id: &str) -> String {
    let mut chars: Vec<char> = user_id.chars().collect();
    if let Some(last) = chars.last_mut() {
        *last = match *last {
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            c if c.is_ascii_alphanumeric() => (c as u8 + 1) as char,
            '-' => '_',
            _ => 'x',
        };
    }
    chars.into_iter().collect()
}

fn fix_credential(fix: CredentialFix, request: &mut Outgoing, known: &KnownCredentials) -> bool {
    let Some(Value::Object(body)) = request.json.as_mut() else {
        return false;
    };
    let configured = |field: AuthField| {
        Value::String(match field {
            AuthField::ApiToken => known.api_token.expose().to_string(),
            AuthField::Username => known.username.clone(),
            AuthField::Contextname => known.context.clone(),
        })
    };
    let field = match fix {
        CredentialFix::MismatchedPair => return fix_mismatched_pair(body, known),
        CredentialFix::Token => AuthField::ApiToken,
        CredentialFix::Username => AuthField::Username,
        CredentialFix::UnknownContext | CredentialFix::ForbiddenContext => AuthField::Contextname,
        CredentialFix::Missing => {
            let mut changed = false;
            for field in AuthField::ALL {
                if !body.contains_key(field.key()) {
                    body.insert(field.key().to_string(), configured(field));
                    changed = true;
                }
            }
            return changed;
        }
    };
    let bad = |value: &Value| {
        let text = value.as_str();
        match fix {
            CredentialFix::Token => !text.is_some_and(|token| known.is_known_token(token)),
            CredentialFix::Username => {
                !text.is_some_and(|username| known.is_known_username(username))
            }
            CredentialFix::UnknownContext => {
                !text.is_some_and(|contextname| known.is_known_context(contextname))
            }
            CredentialFix::ForbiddenContext => {
                text.is_some() && text == known.forbidden_context.as_deref()
            }
            CredentialFix::Missing | CredentialFix::MismatchedPair => false,
        }
    };
    match body.get_mut(field.key()) {
        Some(value) if bad(value) => {
            *value = configured(field);
            true
        }
        _ => false,
    }
}

/// One user's token with the other's name: the token becomes the name's own ("Authentication").
fn fix_mismatched_pair(
    body: &mut serde_json::Map<String, Value>,
    known: &KnownCredentials,
) -> bool {
    let Some((other_name, other_token, _)) = &known.other else {
        return false;
    };
    let token = body.get(AuthField::ApiToken.key()).and_then(Value::as_str);
    let username = body.get(AuthField::Username.key()).and_then(Value::as_str);
    let replacement = match (token, username) {
        (Some(token), Some(username))
            if token == known.api_token.expose() && username == other_name =>
        {
            other_token.expose()
        }
        (Some(token), Some(username))
            if token == other_token.expose() && username == known.username =>
        {
            known.api_token.expose()
        }
        _ => return false,
    };
    body.insert(
        AuthField::ApiToken.key().to_string(),
        Value::String(replacement.to_string()),
    );
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn known() -> KnownCredentials {
        KnownCredentials {
            api_token: ApiToken::new("good-token"),
            username: "user".to_string(),
            context: "default".to_string(),
            second_context: Some("ipdr2".to_string()),
            forbidden_context: Some("restricted".to_string()),
            other: Some((
                "operator".to_string(),
                ApiToken::new("other-token"),
                "private".to_string(),
            )),
            invalid_token: "zzconf-invalid-token-1".to_string(),
            invalid_context: "zzconf-1-no-such-context".to_string(),
            uid_prefix: "zzconf-1-".to_string(),
        }
    }

    fn body(token: Value, username: &str, contextname: &str) -> Outgoing {
        Outgoing {
            path: COLLECTION_PATH.to_string(),
            json: Some(
                json!({"api_token": token, "username": username, "contextname": contextname}),
            ),
        }
    }

    fn fixed(fix: CredentialFix, mut request: Outgoing) -> (bool, Value) {
        let changed = apply(
            &Operator::ValidCredential(fix),
            &mut request,
            &known(),
            &BTreeSet::new(),
        );
        (changed, request.json.unwrap())
    }

    #[test]
    fn a_bad_token_becomes_the_valid_one_and_good_ones_stay() {
        for bad in [
            json!("zzconf-invalid-token-1"),
            json!("good-toke"),
            json!(null),
            json!(7),
        ] {
            let (changed, json) = fixed(CredentialFix::Token, body(bad, "user", "default"));
            assert!(changed);
            assert_eq!(json["api_token"], "good-token");
        }
        for good in ["good-token", "other-token"] {
            let (changed, _) = fixed(CredentialFix::Token, body(json!(good), "user", "default"));
            assert!(!changed);
        }
    }

    #[test]
    fn usernames_and_contexts_are_fixed_only_when_bad() {
        let (changed, json) = fixed(CredentialFix::Username, body(json!("t"), "User", "default"));
        assert!(changed);
        assert_eq!(json["username"], "user");
        let (changed, _) = fixed(
            CredentialFix::Username,
            body(json!("t"), "operator", "default"),
        );
        assert!(!changed);
        let (changed, json) = fixed(
            CredentialFix::UnknownContext,
            body(json!("t"), "user", "zzconf-1-no-such-context"),
        );
        assert!(changed);
        assert_eq!(json["contextname"], "default");
        for known_context in ["default", "ipdr2", "restricted", "private"] {
            let (changed, _) = fixed(
                CredentialFix::UnknownContext,
                body(json!("t"), "user", known_context),
            );
            assert!(!changed, "{known_context}");
        }
        let (changed, json) = fixed(
            CredentialFix::ForbiddenContext,
            body(json!("t"), "user", "restricted"),
        );
        assert!(changed);
        assert_eq!(json["contextname"], "default");
    }

    #[test]
    fn missing_parameters_are_filled_in() {
        let request = Outgoing {
            path: COLLECTION_PATH.to_string(),
            json: Some(json!({"UserID": "zzconf-1-000-a"})),
        };
        let (changed, json) = fixed(CredentialFix::Missing, request);
        assert!(changed);
        assert_eq!(json["api_token"], "good-token");
        assert_eq!(json["username"], "user");
        assert_eq!(json["contextname"], "default");
    }

    #[test]
    fn the_second_context_becomes_the_configured_one() {
        let mut request = body(json!("good-token"), "user", "ipdr2");
        assert!(apply(
            &Operator::SecondContextAsConfigured,
            &mut request,
            &known(),
            &BTreeSet::new()
        ));
        assert_eq!(request.json.unwrap()["contextname"], "default");
        let mut request = body(json!("good-token"), "user", "restricted");
        assert!(!apply(
            &Operator::SecondContextAsConfigured,
            &mut request,
            &known(),
            &BTreeSet::new()
        ));
    }

    #[test]
    fn the_path_user_id_becomes_a_neighbour_of_the_run_only() {
        let mut request = Outgoing {
            path: format!("{COLLECTION_PATH}/zzconf-1-003-a"),
            json: None,
        };
        assert!(apply(
            &Operator::NeighbourUserId,
            &mut request,
            &known(),
            &BTreeSet::new()
        ));
        assert_eq!(request.path, format!("{COLLECTION_PATH}/zzconf-1-003-b"));
        let mut foreign = Outgoing {
            path: format!("{COLLECTION_PATH}/B68t19"),
            json: None,
        };
        assert!(!apply(
            &Operator::NeighbourUserId,
            &mut foreign,
            &known(),
            &BTreeSet::new()
        ));
        assert_eq!(neighbour("ab9"), "ab0");
        assert_eq!(neighbour("abz"), "aba");
        assert_eq!(path_user_id(COLLECTION_PATH), None);
        assert_eq!(path_user_id("/api/ipdrcustomers/x/y"), None);
    }

    #[test]
    fn a_near_miss_user_id_becomes_the_existing_one() {
        let existing: BTreeSet<String> = ["zzconf-1-003-abc".to_string()].into();
        for near in [
            "zzconf-1-003-ab",
            "zzconf-1-003-abcd",
            "zzconf-1-003-ABC",
            "zzconf-1-003-ab%2563",
        ] {
            let mut request = Outgoing {
                path: format!("{COLLECTION_PATH}/{near}"),
                json: None,
            };
            let operator = Operator::NearMissUserIdAsExisting;
            assert!(
                apply(&operator, &mut request, &known(), &existing),
                "{near}"
            );
            assert_eq!(request.path, format!("{COLLECTION_PATH}/zzconf-1-003-abc"));
        }
        for far in ["zzconf-1-003-abc", "zzconf-1-003-ab%63", "zzconf-1-003-xyz"] {
            assert_eq!(near_miss_of(far, &existing, "zzconf-1-"), None, "{far}");
        }
    }

    #[test]
    fn a_token_with_the_other_users_name_becomes_that_users_token() {
        let (changed, json) = fixed(
            CredentialFix::MismatchedPair,
            body(json!("good-token"), "operator", "default"),
        );
        assert!(changed);
        assert_eq!(json["api_token"], "other-token");
        let (changed, _) = fixed(
            CredentialFix::MismatchedPair,
            body(json!("good-token"), "user", "default"),
        );
        assert!(!changed);
    }
}
