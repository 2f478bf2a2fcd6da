//! Shared HTTP plumbing for the reference-server tests: a harness that
//! talks to a reference server over loopback and keeps answers raw.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use ipdr_conformance::reference::{self, RunningServer, ServerConfig};
use ipdr_conformance::spec::contract::Customer;
use reqwest::Method;
use serde_json::{json, Value};

pub const LOOPBACK: &str = "127.0.0.1:0";
pub const BAD_TOKEN: &str = "WrongToken0000000000";

pub fn loopback() -> SocketAddr {
    LOOPBACK.parse().expect("loopback address")
}

/// One HTTP answer, kept raw so exact texts can be compared.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts HTTP 200, application/json and this exact body text.
    pub fn assert_exact(&self, expected: &str) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.content_type, "application/json");
        assert_eq!(self.text, expected);
    }

    /// Asserts HTTP 200 and a customer object (not an error).
    pub fn assert_customer(&self) -> Value {
        assert_eq!(self.status, 200, "{}", self.text);
        let value = self.json();
        assert!(
            value.get("UserID").is_some() && value.get("status").is_none(),
            "not a customer: {}",
            self.text
        );
        value
    }
}

/// A running server plus a client and the harness credentials.
pub struct Harness {
    pub server: RunningServer,
    pub client: reqwest::Client,
    pub username: String,
    pub token: String,
    pub context: String,
    pub second: String,
    pub forbidden: String,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness::with_config(ServerConfig::builtin()).await
    }

    pub async fn with_config(config: ServerConfig) -> Harness {
        let credentials = config.users.harness();
        let server = reference::start(config, loopback())
            .await
            .expect("server starts");
        assert!(server.addr().ip().is_loopback());
        Harness {
            server,
            client: reqwest::Client::new(),
            username: credentials.username,
            token: credentials.api_token,
            context: credentials.context,
            second: credentials.second_context.expect("second context"),
            forbidden: credentials.forbidden_context.expect("forbidden context"),
        }
    }

    pub fn url(&self, user_id: Option<&str>) -> String {
        match user_id {
            None => format!("{}/api/ipdrcustomers", self.server.base_url()),
            Some(id) => format!("{}/api/ipdrcustomers/{id}", self.server.base_url()),
        }
    }

    /// The auth fields for `context`, plus `extra`'s fields.
    pub fn body_in(&self, context: &str, extra: Value) -> Value {
        let mut body = json!({
            "api_token": self.token,
            "username": self.username,
            "contextname": context,
        });
        if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
            map.extend(extra);
        }
        body
    }

    pub fn body(&self, extra: Value) -> Value {
        self.body_in(&self.context, extra)
    }

    /// `extra` with the default context's auth fields and a wrong token.
    pub fn bad_token_body(&self, extra: Value) -> Value {
        let mut body = self.body(extra);
        body["api_token"] = json!(BAD_TOKEN);
        body
    }

    pub async fn raw_at(&self, method: Method, url: String, body: impl Into<String>) -> Answer {
        let response = self
            .client
            .request(method, url)
            .header("Content-Type", "application/json")
            .body(body.into())
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.expect("body read");
        Answer {
            status,
            content_type,
            headers,
            text,
        }
    }

    pub async fn raw(
        &self,
        method: Method,
        user_id: Option<&str>,
        body: impl Into<String>,
    ) -> Answer {
        self.raw_at(method, self.url(user_id), body).await
    }

    pub async fn send(&self, method: Method, user_id: Option<&str>, body: &Value) -> Answer {
        self.raw(method, user_id, body.to_string()).await
    }

    pub async fn list(&self) -> Answer {
        self.list_in(&self.context).await
    }

    pub async fn list_in(&self, context: &str) -> Answer {
        self.send(Method::GET, None, &self.body_in(context, json!({})))
            .await
    }

    pub async fn create(&self, fields: Value) -> Answer {
        self.send(Method::POST, None, &self.body(fields)).await
    }

    pub async fn create_in(&self, context: &str, fields: Value) -> Answer {
        self.send(Method::POST, None, &self.body_in(context, fields))
            .await
    }

    pub async fn put(&self, user_id: &str, fields: Value) -> Answer {
        self.send(Method::PUT, Some(user_id), &self.body(fields))
            .await
    }

    pub async fn patch(&self, user_id: &str, fields: Value) -> Answer {
        self.send(Method::PATCH, Some(user_id), &self.body(fields))
            .await
    }

    pub async fn delete(&self, user_id: &str) -> Answer {
        self.send(Method::DELETE, Some(user_id), &self.body(json!({})))
            .await
    }

    pub fn snapshot(&self) -> BTreeMap<String, Vec<Customer>> {
        self.server.snapshot()
    }

    /// The stored record with `user_id` in the harness's context.
    pub fn stored(&self, user_id: &str) -> Option<Customer> {
        self.stored_all(user_id).into_iter().next()
    }

    /// Every stored record with `user_id` in the harness's context.
    pub fn stored_all(&self, user_id: &str) -> Vec<Customer> {
        self.snapshot()[&self.context]
            .iter()
            .filter(|c| c.user_id == user_id)
            .cloned()
            .collect()
    }
}

pub fn full_fields(user_id: &str, name: &str) -> Value {
    json!({
        "Name": name,
        "Address": "Chennai",
        "Email": "demo@gmail.com",
        "PhoneNumber": "1234567890",
        "AltPhoneNumber": "9999999999",
        "UserID": user_id,
    })
}
