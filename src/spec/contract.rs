//! The IPDR Customer Management API contract: the single source of truth.
//!
//! Every type and text here comes from the vendor page
//! (`ipdr-customer-management-api.txt`); the section each rule rests on is
//! cited. The reference server, the scenario checks and the schema generator
//! all use these items, so a change here changes all of them at once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Path of the collection endpoint ("Base URL").
pub const COLLECTION_PATH: &str = "/api/ipdrcustomers";

/// Path of one customer, addressed by its UserID ("Updating Customer Information").
pub fn customer_path(user_id: &str) -> String {
    format!("{COLLECTION_PATH}/{user_id}")
}

/// `user_id` as one path segment of `/api/ipdrcustomers/{UserID}`: every byte but ASCII
/// letters, digits and `-._~` (RFC 3986 "unreserved") percent-encoded, so that a server
/// decoding the path once reads exactly `user_id` (a literal `%30` travels as `%2530`).
pub fn path_segment(user_id: &str) -> String {
    let mut segment = String::with_capacity(user_id.len());
    for byte in user_id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    segment
}

/// `text` with every valid `%XX` escape decoded once (RFC 3986), as a server
/// decodes a path segment; invalid escapes, and a result that is not UTF-8,
/// are kept as they are.
pub fn percent_decoded(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

/// `status` of the invalid-token envelope: upper case ("Error Handling › Invalid API Token").
pub const STATUS_TOKEN_ERROR: &str = "ERROR";
/// `status` of both context envelopes: mixed case ("Invalid Context Name", "Unauthorized Context Access").
pub const STATUS_CONTEXT_ERROR: &str = "Error";
/// Message of the invalid-token envelope ("Error Handling › Invalid API Token").
pub const MESSAGE_INVALID_TOKEN: &str = "Invalid API token";
/// Prefix of the invalid-context message; the context name follows ("Invalid Context Name").
pub const MESSAGE_INVALID_CONTEXT_PREFIX: &str = "Invalid Context name - ";
/// HTTP status of every documented error envelope ("Error Handling": all three tables say 200).
pub const ERROR_HTTP_STATUS: u16 = 200;
/// HTTP status of every documented success ("Response" tables: 200).
pub const SUCCESS_HTTP_STATUS: u16 = 200;

/// The customer field names, in the order the page lists them ("Response Example").
pub const CUSTOMER_FIELDS: [&str; 7] = [
    "id",
    "Name",
    "Address",
    "Email",
    "PhoneNumber",
    "AltPhoneNumber",
    "UserID",
];

/// The fields a PUT must carry, besides auth ("Updating Customer Information": all Yes).
pub const FULL_UPDATE_FIELDS: [&str; 6] = [
    "Name",
    "Address",
    "Email",
    "PhoneNumber",
    "AltPhoneNumber",
    "UserID",
];

/// The fields a create must carry, besides auth ("Creating a New Customer": only UserID and Name).
pub const CREATE_MANDATORY_FIELDS: [&str; 2] = ["UserID", "Name"];

/// The three auth parameters carried in the JSON body of every request, GET and DELETE too ("Authentication").
pub const AUTH_FIELDS: [&str; 3] = ["api_token", "username", "contextname"];

/// Longest UserID, Name or Address a conformant server must accept, in characters.
///
/// The page sets no limit; its longest example value, "Trisul Network
/// Analytics", has 24 characters. Longer values may be refused (cleanly).
pub const ORDINARY_MAX_CHARS: usize = 64;

/// Whether a conformant server must accept `value` in the body field `field` and store it exactly.
///
/// The page gives no character set, length or format for any field
/// ("Creating a New Customer" only says "string"), so a server may refuse
/// anything unlike the page's own examples. What it must accept are values
/// like them:
/// - `UserID`: ASCII letters, digits and `-`, 1 to [`ORDINARY_MAX_CHARS`]
///   characters (the examples are "B68t19" and "Xlr8d3"; the hyphen is the
///   one thing the harness adds, to keep its records apart);
/// - `Name`, `Address`: words of ASCII letters and digits joined by single
///   spaces, 1 to [`ORDINARY_MAX_CHARS`] characters ("Trisul Network
///   Analyzer", "Chennai");
/// - `Email`: `local@domain.tld` in lower-case ASCII letters and digits, dots
///   between labels ("demo@gmail.com");
/// - `PhoneNumber`, `AltPhoneNumber`: exactly ten ASCII digits ("1234567890").
///
/// Anything else (empty or padded values, Unicode, punctuation, control
/// characters, long values) may be refused; accepted, it must read back
/// exactly (inferred: values round-trip).
pub fn is_ordinary_value(field: &str, value: &str) -> bool {
    let within = |text: &str| !text.is_empty() && text.chars().count() <= ORDINARY_MAX_CHARS;
    let alnum = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric());
    match field {
        "UserID" => {
            within(value)
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }
        "Name" | "Address" => within(value) && value.split(' ').all(alnum),
        "Email" => {
            let lower = |text: &str| {
                !text.is_empty()
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            };
            let Some((local, domain)) = value.split_once('@') else {
                return false;
            };
            within(value)
                && local.split('.').all(lower)
                && domain.split('.').count() >= 2
                && domain.split('.').all(lower)
        }
        "PhoneNumber" | "AltPhoneNumber" => {
            value.len() == 10 && value.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Whether an answer claims success for the customer `user_id`: HTTP 2xx and a JSON object whose `UserID` is `user_id`.
///
/// Every documented success returns the customer object with HTTP 200
/// ("Response" tables); every answer that does not is a refusal, whatever
/// its shape or status. Where the page is silent, a clean refusal (any
/// refusal, nothing changed) is conformant. `user_id` None accepts any
/// string UserID (a create whose UserID the harness left out).
pub fn claims_success(
    status: u16,
    body: Option<&serde_json::Value>,
    user_id: Option<&str>,
) -> bool {
    (200..300).contains(&status)
        && body
            .and_then(serde_json::Value::as_object)
            .and_then(|object| object.get("UserID"))
            .and_then(serde_json::Value::as_str)
            .is_some_and(|found| user_id.is_none_or(|wanted| wanted == found))
}

/// One IPDR customer record as the server returns it ("Retrieving Customer List › Response Example").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Customer")]
pub struct Customer {
    /// Server-assigned numeric id.
    pub id: i64,
    /// Customer name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Customer address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Customer email address.
    #[serde(rename = "Email")]
    pub email: String,
    /// Primary phone number.
    #[serde(rename = "PhoneNumber")]
    pub phone_number: String,
    /// Alternate phone number.
    #[serde(rename = "AltPhoneNumber")]
    pub alt_phone_number: String,
    /// Unique user identifier.
    #[serde(rename = "UserID")]
    pub user_id: String,
}

/// The list response: an array of customers ("Retrieving Customer List › Response").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "CustomerList")]
pub struct CustomerList(pub Vec<Customer>);

/// The auth parameters every request carries in its JSON body ("Authentication").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "AuthParams")]
pub struct AuthParams {
    /// Your API authentication token.
    pub api_token: String,
    /// Your username.
    pub username: String,
    /// Context name (e.g. "default").
    pub contextname: String,
}

/// Body of GET /api/ipdrcustomers: auth only ("Retrieving Customer List").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "ListRequest")]
pub struct ListRequest {
    /// Auth parameters.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// Body of DELETE /api/ipdrcustomers/{UserID}: auth only ("Deleting a Customer").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "DeleteRequest")]
pub struct DeleteRequest {
    /// Auth parameters.
    #[serde(flatten)]
    pub auth: AuthParams,
}

/// Body of POST /api/ipdrcustomers ("Creating a New Customer": only UserID and Name are mandatory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "CreateRequest")]
pub struct CreateRequest {
    /// Auth parameters.
    #[serde(flatten)]
    pub auth: AuthParams,
    /// Unique user identifier.
    #[serde(rename = "UserID")]
    pub user_id: String,
    /// Customer name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Customer address.
    #[serde(rename = "Address", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub address: Option<String>,
    /// Customer email address.
    #[serde(rename = "Email", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub email: Option<String>,
    /// Primary phone number.
    #[serde(
        rename = "PhoneNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "String")]
    pub phone_number: Option<String>,
    /// Alternate phone number.
    #[serde(
        rename = "AltPhoneNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "String")]
    pub alt_phone_number: Option<String>,
}

/// Body of PUT /api/ipdrcustomers/{UserID}: every field required ("Updating Customer Information").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "FullUpdateRequest")]
pub struct FullUpdateRequest {
    /// Auth parameters.
    #[serde(flatten)]
    pub auth: AuthParams,
    /// Customer name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Customer address.
    #[serde(rename = "Address")]
    pub address: String,
    /// Customer email address.
    #[serde(rename = "Email")]
    pub email: String,
    /// Primary phone number.
    #[serde(rename = "PhoneNumber")]
    pub phone_number: String,
    /// Alternate phone number.
    #[serde(rename = "AltPhoneNumber")]
    pub alt_phone_number: String,
    /// Unique user identifier.
    #[serde(rename = "UserID")]
    pub user_id: String,
}

/// Body of PATCH /api/ipdrcustomers/{UserID}: any subset of fields ("Partially Updating Customer Information").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "PartialUpdateRequest")]
pub struct PartialUpdateRequest {
    /// Auth parameters.
    #[serde(flatten)]
    pub auth: AuthParams,
    /// Customer name.
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub name: Option<String>,
    /// Customer address.
    #[serde(rename = "Address", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub address: Option<String>,
    /// Customer email address.
    #[serde(rename = "Email", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub email: Option<String>,
    /// Primary phone number.
    #[serde(
        rename = "PhoneNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "String")]
    pub phone_number: Option<String>,
    /// Alternate phone number.
    #[serde(
        rename = "AltPhoneNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "String")]
    pub alt_phone_number: Option<String>,
    /// Unique user identifier.
    #[serde(rename = "UserID", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub user_id: Option<String>,
}

/// The shape of every documented error: `{"status": ..., "message": ...}` with HTTP 200 ("Error Handling").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "ErrorEnvelope")]
pub struct ErrorEnvelope {
    /// `ERROR` for the token error, `Error` for the context errors.
    pub status: String,
    /// Human-readable message.
    pub message: String,
}

/// The three documented errors ("Error Handling"), checked in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentedError {
    /// "Invalid API Token": `{"status": "ERROR", "message": "Invalid API token"}`.
    InvalidToken,
    /// "Invalid Context Name": `{"status": "Error", "message": "Invalid Context name - <contextname>"}`.
    InvalidContext,
    /// "Unauthorized Context Access": `{"status": "Error", "message": "The user (<username>) is not allowed to access the context <contextname>"}`.
    ForbiddenContext,
}

impl DocumentedError {
    /// Every documented error, in the order a server checks them.
    pub const ALL: [DocumentedError; 3] = [
        DocumentedError::InvalidToken,
        DocumentedError::InvalidContext,
        DocumentedError::ForbiddenContext,
    ];

    /// The vendor doc section this error comes from.
    pub fn citation(self) -> &'static str {
        match self {
            DocumentedError::InvalidToken => "Error Handling › Invalid API Token",
            DocumentedError::InvalidContext => "Error Handling › Invalid Context Name",
            DocumentedError::ForbiddenContext => "Error Handling › Unauthorized Context Access",
        }
    }

    /// The exact `status` text of this error.
    pub fn status(self) -> &'static str {
        match self {
            DocumentedError::InvalidToken => STATUS_TOKEN_ERROR,
            DocumentedError::InvalidContext | DocumentedError::ForbiddenContext => {
                STATUS_CONTEXT_ERROR
            }
        }
    }

    /// The exact envelope for a request made as `username` in `contextname`.
    pub fn envelope(self, username: &str, contextname: &str) -> ErrorEnvelope {
        let message = match self {
            DocumentedError::InvalidToken => MESSAGE_INVALID_TOKEN.to_string(),
            DocumentedError::InvalidContext => {
                format!("{MESSAGE_INVALID_CONTEXT_PREFIX}{contextname}")
            }
            DocumentedError::ForbiddenContext => {
                format!("The user ({username}) is not allowed to access the context {contextname}")
            }
        };
        ErrorEnvelope {
            status: self.status().to_string(),
            message,
        }
    }
}

/// The five operations of the API, one per documented request table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// GET /api/ipdrcustomers ("Retrieving Customer List").
    List,
    /// POST /api/ipdrcustomers ("Creating a New Customer").
    Create,
    /// PUT /api/ipdrcustomers/{UserID} ("Updating Customer Information").
    FullUpdate,
    /// PATCH /api/ipdrcustomers/{UserID} ("Partially Updating Customer Information").
    PartialUpdate,
    /// DELETE /api/ipdrcustomers/{UserID} ("Deleting a Customer").
    Delete,
}

impl Operation {
    /// Every operation, in the page's order.
    pub const ALL: [Operation; 5] = [
        Operation::List,
        Operation::Create,
        Operation::FullUpdate,
        Operation::PartialUpdate,
        Operation::Delete,
    ];

    /// The HTTP method of this operation.
    pub fn method(self) -> &'static str {
        match self {
            Operation::List => "GET",
            Operation::Create => "POST",
            Operation::FullUpdate => "PUT",
            Operation::PartialUpdate => "PATCH",
            Operation::Delete => "DELETE",
        }
    }

    /// Whether the path names one customer (`/api/ipdrcustomers/{UserID}`).
    pub fn addresses_one_customer(self) -> bool {
        matches!(
            self,
            Operation::FullUpdate | Operation::PartialUpdate | Operation::Delete
        )
    }

    /// The vendor doc section that documents this operation.
    pub fn citation(self) -> &'static str {
        match self {
            Operation::List => "Managing IPDR Customers › Retrieving Customer List",
            Operation::Create => "Managing IPDR Customers › Creating a New Customer",
            Operation::FullUpdate => "Managing IPDR Customers › Updating Customer Information",
            Operation::PartialUpdate => {
                "Managing IPDR Customers › Partially Updating Customer Information"
            }
            Operation::Delete => "Managing IPDR Customers › Deleting a Customer",
        }
    }

    /// The operation for an HTTP method, if the API has one.
    pub fn from_method(method: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.method().eq_ignore_ascii_case(method))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_match_the_page_exactly() {
        let token = DocumentedError::InvalidToken.envelope("user", "default");
        assert_eq!(
            serde_json::to_string(&token).unwrap(),
            r#"{"status":"ERROR","message":"Invalid API token"}"#
        );
        let ctx = DocumentedError::InvalidContext.envelope("user", "ipdrr");
        assert_eq!(
            serde_json::to_string(&ctx).unwrap(),
            r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#
        );
        let forbidden = DocumentedError::ForbiddenContext.envelope("user", "ipdr");
        assert_eq!(
            serde_json::to_string(&forbidden).unwrap(),
            r#"{"status":"Error","message":"The user (user) is not allowed to access the context ipdr"}"#
        );
    }

    #[test]
    fn the_page_examples_are_ordinary_values() {
        for (field, value) in [
            ("UserID", "B68t19"),
            ("UserID", "zzconf-1a2b3c4d-007-a"),
            ("Name", "Trisul Network Analytics"),
            ("Address", "Partially Updated"),
            ("Email", "demo@gmail.com"),
            ("PhoneNumber", "1234567890"),
            ("AltPhoneNumber", "9999999999"),
        ] {
            assert!(is_ordinary_value(field, value), "{field} {value:?}");
        }
        for (field, value) in [
            ("UserID", ""),
            ("UserID", "a b"),
            ("Name", ""),
            ("Name", " Trisul"),
            ("Name", "Tri\tsul"),
            ("Name", "José"),
            ("Address", "a  b"),
            ("Email", "Demo@gmail.com"),
            ("Email", "demo@gmail"),
            ("PhoneNumber", "+911234567890"),
            ("PhoneNumber", "123456789"),
            ("Unknown", "x"),
        ] {
            assert!(!is_ordinary_value(field, value), "{field} {value:?}");
        }
        assert!(!is_ordinary_value(
            "Name",
            &"n".repeat(ORDINARY_MAX_CHARS + 1)
        ));
    }

    #[test]
    fn success_is_2xx_and_the_customer_object() {
        let object = serde_json::json!({"id": 1, "UserID": "u"});
        assert!(claims_success(200, Some(&object), Some("u")));
        assert!(claims_success(201, Some(&object), None));
        assert!(!claims_success(409, Some(&object), Some("u")));
        assert!(!claims_success(200, Some(&object), Some("v")));
        let envelope = serde_json::json!({"status": "Error", "message": "x"});
        assert!(!claims_success(200, Some(&envelope), None));
        assert!(!claims_success(200, None, None));
    }

    #[test]
    fn path_segments_decode_back_to_the_user_id() {
        assert_eq!(path_segment("Plain-1.a_b~"), "Plain-1.a_b~");
        assert_eq!(path_segment("a b/é"), "a%20b%2F%C3%A9");
        assert_eq!(path_segment("u%30"), "u%2530");
        for user_id in ["B68t19", "a b/é", "u%30", "東京"] {
            assert_eq!(percent_decoded(&path_segment(user_id)), user_id);
        }
        assert_eq!(percent_decoded("a%30b%zz%"), "a0b%zz%");
        assert_eq!(percent_decoded("%FF"), "%FF");
    }

    #[test]
    fn customer_round_trips_the_page_example() {
        let text = r#"{"id":5,"Name":"Trisul","Address":"Chennai","Email":"demo@gmail.com","PhoneNumber":"1234567890","AltPhoneNumber":"9999999999","UserID":"B68t19"}"#;
        let customer: Customer = serde_json::from_str(text).unwrap();
        assert_eq!(customer.id, 5);
        assert_eq!(serde_json::to_string(&customer).unwrap(), text);
    }
}
