//! What the strict flavour refuses before any auth check.
//!
//! The page gives no character set, length or format for any value, says
//! nothing of unknown body keys, wrong JSON types, empty PATCHes or a body
//! UserID other than the path's, and does not say in which order a request with
//! several problems is judged. Refusing every such request cleanly (an
//! error, nothing changed) is therefore conformant, and the strict flavour
//! does, so the suite proves it never mistakes a clean refusal for a bug.
//! Only values [`is_ordinary_value`] says a server must accept get through.

use serde_json::{Map, Value};

use crate::spec::contract::{
    is_ordinary_value, Operation, AUTH_FIELDS, CREATE_MANDATORY_FIELDS, FULL_UPDATE_FIELDS,
};

use super::unspecified::{FieldProblem, UnspecifiedError};

/// The customer field naming the record.
const USER_ID: &str = FULL_UPDATE_FIELDS[5];

/// Detail of a key that is neither an auth parameter nor a customer field.
pub(crate) const DETAIL_UNKNOWN: &str = "is not a known parameter";
/// Detail of a missing auth parameter or mandatory field.
pub(crate) const DETAIL_REQUIRED: &str = "is required";
/// Detail of a value that is not a JSON string.
pub(crate) const DETAIL_NOT_A_STRING: &str = "must be a string";
/// Detail of an empty auth parameter.
pub(crate) const DETAIL_EMPTY: &str = "must not be empty";
/// Detail of a customer field value unlike the page's examples.
pub(crate) const DETAIL_NOT_ORDINARY: &str = "is not an accepted value";
/// Detail of a PATCH that names no customer field (`field` is `base`).
pub(crate) const DETAIL_NOTHING_TO_CHANGE: &str = "names no field to change";
/// Detail of a body UserID that differs from the path's.
pub(crate) const DETAIL_PATH_MISMATCH: &str = "does not match the path";
/// `field` of a problem with the body as a whole.
pub(crate) const FIELD_BASE: &str = "base";
/// `field` of a problem with the path's UserID.
pub(crate) const FIELD_PATH: &str = "path";

/// Every problem the strict flavour finds in a request of `op` with this
/// (parsed) body and path UserID, in a fixed order; `Ok` when there is none.
pub(crate) fn validate(
    op: Operation,
    body: &Map<String, Value>,
    path_user_id: Option<&str>,
) -> Result<(), UnspecifiedError> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, detail: &'static str| {
        problems.push(FieldProblem {
            field: field.to_string(),
            detail,
        });
    };

    for key in body.keys() {
        if !AUTH_FIELDS.contains(&key.as_str()) && !FULL_UPDATE_FIELDS.contains(&key.as_str()) {
            problem(key, DETAIL_UNKNOWN);
        }
    }
    // "Authentication": all three are required strings.
    for key in AUTH_FIELDS {
        match body.get(key) {
            None => problem(key, DETAIL_REQUIRED),
            Some(Value::String(text)) if text.is_empty() => problem(key, DETAIL_EMPTY),
            Some(Value::String(_)) => {}
            Some(_) => problem(key, DETAIL_NOT_A_STRING),
        }
    }
    for field in FULL_UPDATE_FIELDS {
        match body.get(field) {
            None => {}
            Some(Value::String(value)) if is_ordinary_value(field, value) => {}
            Some(Value::String(_)) => problem(field, DETAIL_NOT_ORDINARY),
            Some(_) => problem(field, DETAIL_NOT_A_STRING),
        }
    }
    let mandatory: &[&str] = match op {
        Operation::Create => &CREATE_MANDATORY_FIELDS,
        Operation::FullUpdate => &FULL_UPDATE_FIELDS,
        Operation::List | Operation::PartialUpdate | Operation::Delete => &[],
    };
    for field in mandatory {
        if !body.contains_key(*field) {
            problem(field, DETAIL_REQUIRED);
        }
    }
    // A PATCH may carry any field ("(any field)"), UserID included, but one
    // that changes nothing besides naming its own record may be refused.
    if op == Operation::PartialUpdate
        && !FULL_UPDATE_FIELDS
            .iter()
            .any(|field| *field != USER_ID && body.contains_key(*field))
    {
        problem(FIELD_BASE, DETAIL_NOTHING_TO_CHANGE);
    }
    if let Some(path_user_id) = path_user_id {
        if op.addresses_one_customer() {
            if let Some(Value::String(body_user_id)) = body.get(USER_ID) {
                if body_user_id != path_user_id {
                    problem(USER_ID, DETAIL_PATH_MISMATCH);
                }
            }
        }
        if !is_ordinary_value(USER_ID, path_user_id) {
            problem(FIELD_PATH, DETAIL_NOT_ORDINARY);
        }
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(UnspecifiedError::Rejected(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        let mut map = json!({"api_token": "t", "username": "u", "contextname": "c"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        if let Value::Object(extra) = value {
            map.extend(extra);
        }
        map
    }

    fn fields(result: Result<(), UnspecifiedError>) -> Vec<(String, &'static str)> {
        match result {
            Ok(()) => Vec::new(),
            Err(UnspecifiedError::Rejected(problems)) => problems
                .into_iter()
                .map(|problem| (problem.field, problem.detail))
                .collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ordinary_requests_pass() {
        let create = body(json!({"UserID": "B68t19", "Name": "Trisul"}));
        assert_eq!(fields(validate(Operation::Create, &create, None)), []);
        let patch = body(json!({"Address": "Partially Updated"}));
        assert_eq!(
            fields(validate(Operation::PartialUpdate, &patch, Some("B68t19"))),
            []
        );
        let list = body(json!({}));
        assert_eq!(fields(validate(Operation::List, &list, None)), []);
    }

    #[test]
    fn every_problem_is_listed_in_order() {
        let mut sent = body(json!({"id": 3, "Name": "tab\there", "Email": 5}));
        sent.remove("username");
        sent.insert("contextname".into(), json!(""));
        assert_eq!(
            fields(validate(Operation::Create, &sent, None)),
            [
                ("id".to_string(), DETAIL_UNKNOWN),
                ("username".to_string(), DETAIL_REQUIRED),
                ("contextname".to_string(), DETAIL_EMPTY),
                ("Name".to_string(), DETAIL_NOT_ORDINARY),
                ("Email".to_string(), DETAIL_NOT_A_STRING),
                ("UserID".to_string(), DETAIL_REQUIRED),
            ]
        );
    }

    #[test]
    fn patch_needs_a_field_and_may_name_its_own_user_id() {
        let empty = body(json!({}));
        assert_eq!(
            fields(validate(Operation::PartialUpdate, &empty, Some("a1"))),
            [(FIELD_BASE.to_string(), DETAIL_NOTHING_TO_CHANGE)]
        );
        let named = body(json!({"UserID": "a1", "Name": "n"}));
        assert_eq!(
            fields(validate(Operation::PartialUpdate, &named, Some("a1"))),
            []
        );
        let only_user_id = body(json!({"UserID": "a1"}));
        assert_eq!(
            fields(validate(
                Operation::PartialUpdate,
                &only_user_id,
                Some("a1")
            )),
            [(FIELD_BASE.to_string(), DETAIL_NOTHING_TO_CHANGE)]
        );
        let renamed = body(json!({"UserID": "b2", "Name": "n"}));
        assert_eq!(
            fields(validate(Operation::PartialUpdate, &renamed, Some("a1"))),
            [("UserID".to_string(), DETAIL_PATH_MISMATCH)]
        );
    }

    #[test]
    fn path_user_id_must_be_ordinary_and_match_the_body() {
        let sent = body(json!({"UserID": "other"}));
        assert_eq!(
            fields(validate(Operation::Delete, &sent, Some("a b"))),
            [
                ("UserID".to_string(), DETAIL_PATH_MISMATCH),
                (FIELD_PATH.to_string(), DETAIL_NOT_ORDINARY),
            ]
        );
    }
}
