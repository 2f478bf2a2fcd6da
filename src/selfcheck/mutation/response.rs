//! Answer operators: edits of a response's status, headers and JSON body.
//!
//! Customer objects are recognised by their `UserID` member, lists by being
//! arrays, and the documented error envelopes by their documented texts,
//! which come from the contract ([`DocumentedError::envelope`]) rather than
//! being typed again here.

use serde_json::{Map, Value};

use super::operator::{
    EnvelopeEdit, ListEdit, MemberEdit, Operator, ID_OFFSET, RESHAPED_REFUSAL_STATUS,
};
use crate::spec::contract::{claims_success, DocumentedError};

/// An answer on its way back to the harness, open to one edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body parsed as JSON (None: not JSON; then only header edits apply).
    pub json: Option<Value>,
    /// Headers to set on the way out, replacing the upstream's.
    pub set_headers: Vec<(&'static str, String)>,
    /// The upstream's Content-Type.
    pub content_type: Option<String>,
    /// How many answers the proxy gave before this one.
    pub sequence: u64,
}

impl Answer {
    /// An answer with a status and a JSON body, as the upstream sent it.
    pub fn new(status: u16, json: Option<Value>, content_type: Option<String>) -> Answer {
        Answer {
            status,
            json,
            set_headers: Vec::new(),
            content_type,
            sequence: 0,
        }
    }
}

/// Applies `operator` to `answer`; whether it changed anything.
pub fn apply(operator: &Operator, answer: &mut Answer) -> bool {
    match operator {
        Operator::Member { field, edit } => {
            for_each_customer(answer, |customer| edit_member(customer, field, *edit))
        }
        Operator::List(edit) => match answer.json.as_mut() {
            Some(Value::Array(elements)) => edit_list(elements, *edit),
            _ => false,
        },
        Operator::Envelope { error, edit } => edit_envelope(answer, *error, *edit),
        Operator::ExtraCustomerMember => for_each_customer(answer, |customer| {
            customer.insert(
                "created_at".to_string(),
                Value::String("2024-01-01T00:00:00Z".to_string()),
            );
            true
        }),
        Operator::EmptyStringsAbsent => for_each_customer(answer, |customer| {
            let before = customer.len();
            customer.retain(|_, value| value.as_str() != Some(""));
            customer.len() != before
        }),
        Operator::EmptyStringsNull => for_each_customer(answer, |customer| {
            let mut changed = false;
            for value in customer.values_mut() {
                if value.as_str() == Some("") {
                    *value = Value::Null;
                    changed = true;
                }
            }
            changed
        }),
        Operator::IdOffset => for_each_customer(answer, |customer| match customer.get_mut("id") {
            Some(id) => match id.as_i64().and_then(|n| n.checked_add(ID_OFFSET)) {
                Some(shifted) => {
                    *id = Value::from(shifted);
                    true
                }
                None => false,
            },
            None => false,
        }),
        Operator::ListOrderPerCall => {
            let sequence = answer.sequence;
            match answer.json.as_mut() {
                Some(Value::Array(elements)) if elements.len() >= 2 => {
                    let by = (sequence % elements.len() as u64) as usize;
                    elements.rotate_left(by);
                    by != 0
                }
                _ => false,
            }
        }
        Operator::UndocumentedRefusalReshaped => reshape_undocumented_refusal(answer),
        Operator::ConnectionClose => {
            answer.set_headers.push(("connection", "close".to_string()));
            true
        }
        Operator::CharsetParameter => match answer.content_type.as_deref() {
            Some(media) if media.trim().eq_ignore_ascii_case("application/json") => {
                answer.set_headers.push((
                    "content-type",
                    "application/json; charset=utf-8".to_string(),
                ));
                true
            }
            _ => false,
        },
        Operator::ValidCredential(_)
        | Operator::SecondContextAsConfigured
        | Operator::NeighbourUserId
        | Operator::NearMissUserIdAsExisting => false,
    }
}

/// Whether `value` is a customer object: a JSON object with a `UserID` member.
pub fn is_customer(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.contains_key("UserID"))
}

/// Runs `edit` on the answer's customer object, or on each customer object of its list.
fn for_each_customer(
    answer: &mut Answer,
    mut edit: impl FnMut(&mut Map<String, Value>) -> bool,
) -> bool {
    let mut changed = false;
    match answer.json.as_mut() {
        Some(Value::Array(elements)) => {
            for element in elements {
                if is_customer(element) {
                    if let Value::Object(customer) = element {
                        changed |= edit(customer);
                    }
                }
            }
        }
        Some(value) if is_customer(value) => {
            if let Value::Object(customer) = value {
                changed = edit(customer);
            }
        }
        _ => {}
    }
    changed
}

/// `Name` → `name`, `id` → `Id`: the first letter's case flipped.
pub fn renamed(field: &str) -> String {
    let mut chars = field.chars();
    match chars.next() {
        Some(first) if first.is_uppercase() => first.to_lowercase().chain(chars).collect(),
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The value in another JSON type, or None when the edit has nothing to work on.
pub fn retyped(value: &Value) -> Option<Value> {
    match value {
        Value::Number(number) => Some(Value::String(number.to_string())),
        Value::String(text) => Some(
            text.parse::<i64>()
                .map(Value::from)
                .or_else(|_| {
                    text.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                        .ok_or(())
                })
                .unwrap_or_else(|_| Value::Array(vec![Value::String(text.clone())])),
        ),
        _ => None,
    }
}

/// The value changed but of the same type, or None when it has none to change.
pub fn changed_value(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) => Some(Value::String(format!("{text}x"))),
        Value::Number(number) => number
            .as_i64()
            .and_then(|n| n.checked_add(1))
            .map(Value::from)
            .or_else(|| number.as_f64().map(|n| Value::from(n + 1.0))),
        _ => None,
    }
}

fn edit_member(customer: &mut Map<String, Value>, field: &str, edit: MemberEdit) -> bool {
    match edit {
        MemberEdit::Drop => customer.shift_remove(field).is_some(),
        MemberEdit::Rename => match customer.shift_remove(field) {
            Some(value) => {
                customer.insert(renamed(field), value);
                true
            }
            None => false,
        },
        MemberEdit::Retype | MemberEdit::ChangeValue => {
            let Some(value) = customer.get_mut(field) else {
                return false;
            };
            let replacement = if edit == MemberEdit::Retype {
                retyped(value)
            } else {
                changed_value(value)
            };
            match replacement {
                Some(replacement) => {
                    *value = replacement;
                    true
                }
                None => false,
            }
        }
    }
}

fn edit_list(elements: &mut Vec<Value>, edit: ListEdit) -> bool {
    match edit {
        ListEdit::DropFirst if !elements.is_empty() => {
            elements.remove(0);
            true
        }
        ListEdit::DropLast => elements.pop().is_some(),
        ListEdit::DuplicateLast => match elements.last().cloned() {
            Some(last) => {
                elements.push(last);
                true
            }
            None => false,
        },
        // Reversing fewer than two elements changes nothing.
        ListEdit::Reverse if elements.len() >= 2 => {
            elements.reverse();
            true
        }
        _ => false,
    }
}

/// A documented message with its variable parts (username, context name) as wildcards.
#[derive(Debug, Clone)]
struct MessageShape {
    /// The literal pieces between the wildcards, in order.
    pieces: Vec<String>,
}

/// Stand-ins for the username and the context name, never found in a real message.
const USER_MARK: char = '\u{1}';
const CONTEXT_MARK: char = '\u{2}';

impl MessageShape {
    fn of(error: DocumentedError) -> MessageShape {
        let template = error
            .envelope(&USER_MARK.to_string(), &CONTEXT_MARK.to_string())
            .message;
        MessageShape {
            pieces: template
                .split([USER_MARK, CONTEXT_MARK])
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether `message` is the pieces with anything in between (a wildcard may be empty).
    fn matches(&self, message: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return message.is_empty(),
        };
        let Some(mut remaining) = message.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty();
        };
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        remaining.ends_with(last.as_str())
    }
}

/// Which documented envelope `value` is, recognised by its message ("Error Handling").
pub fn documented_envelope(value: &Value) -> Option<DocumentedError> {
    let object = value.as_object()?;
    let message = object.get("message")?.as_str()?;
    object.get("status")?.as_str()?;
    // The token message has no variable part, so it is tried first and exactly.
    DocumentedError::ALL
        .into_iter()
        .find(|error| MessageShape::of(*error).matches(message))
}

/// `ERROR` → `Error`, `Error` → `ERROR`.
pub fn flipped_casing(status: &str) -> String {
    if status.chars().any(char::is_lowercase) {
        status.to_uppercase()
    } else {
        let mut chars = status.chars();
        match chars.next() {
            Some(first) => first
                .to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect(),
            None => String::new(),
        }
    }
}

fn edit_envelope(answer: &mut Answer, error: DocumentedError, edit: EnvelopeEdit) -> bool {
    let Some(json) = answer.json.as_mut() else {
        return false;
    };
    if documented_envelope(json) != Some(error) {
        return false;
    }
    let Value::Object(envelope) = json else {
        return false;
    };
    match edit {
        EnvelopeEdit::StatusCasing => {
            let Some(Value::String(status)) = envelope.get_mut("status") else {
                return false;
            };
            let flipped = flipped_casing(status);
            let changed = flipped != *status;
            *status = flipped;
            changed
        }
        EnvelopeEdit::Message => {
            let Some(Value::String(message)) = envelope.get_mut("message") else {
                return false;
            };
            message.push('.');
            true
        }
        EnvelopeEdit::HttpStatus => {
            answer.status = if answer.status == 400 { 401 } else { 400 };
            true
        }
        EnvelopeEdit::ExtraMember => {
            envelope.insert("code".to_string(), Value::from(1));
            true
        }
    }
}

/// A refusal the page does not document becomes HTTP 422 with a body of its own.
fn reshape_undocumented_refusal(answer: &mut Answer) -> bool {
    let Some(json) = answer.json.as_ref() else {
        return false;
    };
    // A list and a customer object are successes; the documented envelopes stay exact.
    let success = json.is_array() || claims_success(answer.status, Some(json), None);
    if success || documented_envelope(json).is_some() {
        return false;
    }
    answer.status = RESHAPED_REFUSAL_STATUS;
    answer.json = Some(serde_json::json!({"errors": [{"detail": "refused"}]}));
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn customer() -> Value {
        json!({"id": 3, "Name": "Trisul", "Address": "", "Email": "demo@gmail.com",
               "PhoneNumber": "1234567890", "AltPhoneNumber": "9999999999", "UserID": "B68t19"})
    }

    fn edited(operator: Operator, json: Value) -> (bool, Answer) {
        let mut answer = Answer::new(200, Some(json), Some("application/json".to_string()));
        let changed = apply(&operator, &mut answer);
        (changed, answer)
    }

    #[test]
    fn member_edits_do_what_they_say() {
        let member = |field, edit| Operator::Member { field, edit };
        let (changed, answer) = edited(member("Email", MemberEdit::Drop), customer());
        assert!(changed);
        assert!(answer.json.unwrap().get("Email").is_none());
        let (_, answer) = edited(member("Name", MemberEdit::Rename), customer());
        let json = answer.json.unwrap();
        assert!(json.get("Name").is_none());
        assert_eq!(json["name"], "Trisul");
        let (_, answer) = edited(member("id", MemberEdit::Rename), customer());
        assert_eq!(answer.json.unwrap()["Id"], 3);
        let (_, answer) = edited(member("PhoneNumber", MemberEdit::Retype), customer());
        assert_eq!(answer.json.unwrap()["PhoneNumber"], json!(1234567890));
        let (_, answer) = edited(member("id", MemberEdit::Retype), customer());
        assert_eq!(answer.json.unwrap()["id"], json!("3"));
        let (_, answer) = edited(member("Name", MemberEdit::Retype), customer());
        assert_eq!(answer.json.unwrap()["Name"], json!(["Trisul"]));
        let (_, answer) = edited(member("UserID", MemberEdit::ChangeValue), customer());
        assert_eq!(answer.json.unwrap()["UserID"], "B68t19x");
        let (_, answer) = edited(member("id", MemberEdit::ChangeValue), customer());
        assert_eq!(answer.json.unwrap()["id"], 4);
    }

    #[test]
    fn member_edits_reach_every_customer_of_a_list_and_nothing_else() {
        let list = json!([customer(), {"not": "a customer"}, customer()]);
        let operator = Operator::Member {
            field: "Name",
            edit: MemberEdit::Drop,
        };
        let (changed, answer) = edited(operator, list);
        assert!(changed);
        let json = answer.json.unwrap();
        assert!(json[0].get("Name").is_none() && json[2].get("Name").is_none());
        assert_eq!(json[1], json!({"not": "a customer"}));
        let envelope = json!({"status": "ERROR", "message": "Invalid API token"});
        let (changed, answer) = edited(operator, envelope.clone());
        assert!(!changed);
        assert_eq!(answer.json.unwrap(), envelope);
    }

    #[test]
    fn list_edits_do_what_they_say() {
        let list = json!([1, 2, 3]);
        let run = |edit| edited(Operator::List(edit), list.clone()).1.json.unwrap();
        assert_eq!(run(ListEdit::DropFirst), json!([2, 3]));
        assert_eq!(run(ListEdit::DropLast), json!([1, 2]));
        assert_eq!(run(ListEdit::DuplicateLast), json!([1, 2, 3, 3]));
        assert_eq!(run(ListEdit::Reverse), json!([3, 2, 1]));
        let (changed, _) = edited(Operator::List(ListEdit::DropFirst), json!([]));
        assert!(!changed);
        let (changed, _) = edited(Operator::List(ListEdit::Reverse), json!([1]));
        assert!(!changed);
    }

    #[test]
    fn envelopes_are_recognised_by_their_documented_texts() {
        let token = DocumentedError::InvalidToken.envelope("user", "default");
        let context = DocumentedError::InvalidContext.envelope("user", "ipdrr");
        let forbidden = DocumentedError::ForbiddenContext.envelope("user", "ipdr");
        for (envelope, error) in [
            (token, DocumentedError::InvalidToken),
            (context, DocumentedError::InvalidContext),
            (forbidden, DocumentedError::ForbiddenContext),
        ] {
            assert_eq!(
                documented_envelope(&serde_json::to_value(envelope).unwrap()),
                Some(error)
            );
        }
        for other in [
            json!({"status": "Error", "message": "IPDR Customer not found"}),
            json!({"status": "ERROR", "message": "Invalid API token!"}),
            json!({"message": "Invalid API token"}),
            customer(),
        ] {
            assert_eq!(documented_envelope(&other), None, "{other}");
        }
    }

    #[test]
    fn envelope_edits_do_what_they_say() {
        let token = serde_json::to_value(DocumentedError::InvalidToken.envelope("u", "c")).unwrap();
        let envelope = |edit| Operator::Envelope {
            error: DocumentedError::InvalidToken,
            edit,
        };
        let (_, answer) = edited(envelope(EnvelopeEdit::StatusCasing), token.clone());
        assert_eq!(answer.json.unwrap()["status"], "Error");
        let (_, answer) = edited(envelope(EnvelopeEdit::Message), token.clone());
        assert_eq!(answer.json.unwrap()["message"], "Invalid API token.");
        let (_, answer) = edited(envelope(EnvelopeEdit::HttpStatus), token.clone());
        assert_eq!(answer.status, 400);
        assert_eq!(answer.json.as_ref(), Some(&token));
        let (_, answer) = edited(envelope(EnvelopeEdit::ExtraMember), token.clone());
        assert_eq!(answer.json.unwrap().as_object().unwrap().len(), 3);
        // Another envelope is left alone.
        let context_operator = Operator::Envelope {
            error: DocumentedError::InvalidContext,
            edit: EnvelopeEdit::HttpStatus,
        };
        let (changed, answer) = edited(context_operator, token);
        assert!(!changed);
        assert_eq!(answer.status, 200);
        assert_eq!(flipped_casing("Error"), "ERROR");
        assert_eq!(flipped_casing("ERROR"), "Error");
    }

    #[test]
    fn probes_do_what_they_say() {
        let (_, answer) = edited(Operator::EmptyStringsAbsent, customer());
        assert!(answer.json.unwrap().get("Address").is_none());
        let (_, answer) = edited(Operator::EmptyStringsNull, customer());
        assert_eq!(answer.json.unwrap()["Address"], Value::Null);
        let (_, answer) = edited(Operator::IdOffset, json!([customer()]));
        assert_eq!(answer.json.unwrap()[0]["id"], 3 + ID_OFFSET);
        let mut answer = Answer::new(200, Some(json!([1, 2, 3])), None);
        answer.sequence = 4;
        assert!(apply(&Operator::ListOrderPerCall, &mut answer));
        assert_eq!(answer.json.unwrap(), json!([2, 3, 1]));
        let (_, answer) = edited(Operator::ExtraCustomerMember, customer());
        assert_eq!(answer.json.unwrap().as_object().unwrap().len(), 8);
        let not_found = json!({"status": "Error", "message": "IPDR Customer not found"});
        let (changed, answer) = edited(Operator::UndocumentedRefusalReshaped, not_found);
        assert!(changed);
        assert_eq!(answer.status, RESHAPED_REFUSAL_STATUS);
        let documented =
            serde_json::to_value(DocumentedError::InvalidToken.envelope("u", "c")).unwrap();
        for kept in [documented, customer(), json!([])] {
            let (changed, _) = edited(Operator::UndocumentedRefusalReshaped, kept);
            assert!(!changed);
        }
        let (_, answer) = edited(Operator::ConnectionClose, json!([]));
        assert_eq!(
            answer.set_headers,
            vec![("connection", "close".to_string())]
        );
        let (_, answer) = edited(Operator::CharsetParameter, json!([]));
        assert_eq!(answer.set_headers[0].1, "application/json; charset=utf-8");
    }
}
