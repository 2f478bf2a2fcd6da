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
    fn customer_round_trips_the_page_example() {
        let text = r#"{"id":5,"Name":"Trisul","Address":"Chennai","Email":"demo@gmail.com","PhoneNumber":"1234567890","AltPhoneNumber":"9999999999","UserID":"B68t19"}"#;
        let customer: Customer = serde_json::from_str(text).unwrap();
        assert_eq!(customer.id, 5);
        assert_eq!(serde_json::to_string(&customer).unwrap(), text);
    }
}
