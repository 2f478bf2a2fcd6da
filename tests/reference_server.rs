//! The embedded reference server, tested through its public surface over
//! loopback HTTP only.

use ipdr_conformance::reference::{
    self, Deviation, Preload, PreloadCustomer, ReferenceError, ServerConfig, UsersFixture,
};
use ipdr_conformance::spec::contract::Customer;
use reqwest::Method;
use serde_json::{json, Value};

mod common;
use common::wire::{full_fields, loopback, Harness};

const TOKEN_ERROR: &str = r#"{"status":"ERROR","message":"Invalid API token"}"#;
const NOT_FOUND: &str = r#"{"status":"Error","message":"IPDR Customer not found"}"#;
const MALFORMED: &str = r#"{"status":"Error","message":"Malformed JSON body"}"#;
const MISMATCH: &str =
    r#"{"status":"Error","message":"UserID in body does not match UserID in URL"}"#;

/// The exact JSON text of a customer, keys in contract order.
fn customer_text(id: i64, fields: &Value) -> String {
    json!({
        "id": id,
        "Name": fields["Name"],
        "Address": fields["Address"],
        "Email": fields["Email"],
        "PhoneNumber": fields["PhoneNumber"],
        "AltPhoneNumber": fields["AltPhoneNumber"],
        "UserID": fields["UserID"],
    })
    .to_string()
}

fn unspecified(message: &str) -> String {
    json!({"status": "Error", "message": message}).to_string()
}

// ---------------------------------------------------------------- happy paths

#[tokio::test]
async fn list_starts_empty_and_returns_customers_in_creation_order() {
    let h = Harness::start().await;
    h.list().await.assert_exact("[]");
    let first = full_fields("B68t19", "Trisul");
    let second = json!({
        "Name": "Trisul Network Analytics", "Address": "India", "Email": "test@gmail.com",
        "PhoneNumber": "3333333333", "AltPhoneNumber": "5555555555", "UserID": "Xlr8d3",
    });
    h.create(first.clone()).await;
    h.create(second.clone()).await;
    let expected = format!(
        "[{},{}]",
        customer_text(1, &first),
        customer_text(2, &second)
    );
    h.list().await.assert_exact(&expected);
}

#[tokio::test]
async fn create_returns_the_created_object_with_a_new_id() {
    let h = Harness::start().await;
    let fields = full_fields("B68t19", "Trisul");
    h.create(fields.clone())
        .await
        .assert_exact(&customer_text(1, &fields));
    let other = full_fields("Other1", "Someone");
    h.create(other.clone())
        .await
        .assert_exact(&customer_text(2, &other));
    assert_eq!(h.snapshot()["default"].len(), 2);
}

#[tokio::test]
async fn create_with_only_mandatory_fields_stores_empty_optional_fields() {
    let h = Harness::start().await;
    let answer = h.create(json!({"UserID": "U1", "Name": "Only"})).await;
    answer.assert_exact(
        r#"{"id":1,"Name":"Only","Address":"","Email":"","PhoneNumber":"","AltPhoneNumber":"","UserID":"U1"}"#,
    );
}

#[tokio::test]
async fn ids_come_from_one_increasing_server_wide_counter() {
    let h = Harness::start().await;
    let a = h.create(json!({"UserID": "A", "Name": "a"})).await.json();
    let b = h
        .create_in(&h.second, json!({"UserID": "B", "Name": "b"}))
        .await
        .json();
    h.send(Method::DELETE, Some("A"), &h.body(json!({}))).await;
    let c = h.create(json!({"UserID": "C", "Name": "c"})).await.json();
    assert_eq!([&a["id"], &b["id"], &c["id"]], [1, 2, 3]);
}

#[tokio::test]
async fn put_replaces_every_field_and_keeps_the_id() {
    let h = Harness::start().await;
    h.create(full_fields("B68t19", "Trisul")).await;
    h.create(full_fields("Other1", "Other")).await;
    let replacement = json!({
        "Name": "Trisul Network Analyzer", "Address": "India", "Email": "test@gmail.com",
        "PhoneNumber": "3333333333", "AltPhoneNumber": "5555555555", "UserID": "B68t19",
    });
    let answer = h
        .send(Method::PUT, Some("B68t19"), &h.body(replacement.clone()))
        .await;
    answer.assert_exact(&customer_text(1, &replacement));
    assert_eq!(
        serde_json::to_string(&h.snapshot()["default"][0]).unwrap(),
        customer_text(1, &replacement)
    );
    assert_eq!(h.snapshot()["default"][1].name, "Other");
}

#[tokio::test]
async fn patch_changes_only_the_given_fields_and_keeps_the_id() {
    let h = Harness::start().await;
    let fields = full_fields("B68t19", "Trisul");
    h.create(fields.clone()).await;
    let answer = h
        .send(
            Method::PATCH,
            Some("B68t19"),
            &h.body(json!({"Address": "Partially Updated"})),
        )
        .await;
    let mut expected = fields.clone();
    expected["Address"] = json!("Partially Updated");
    answer.assert_exact(&customer_text(1, &expected));
    h.list()
        .await
        .assert_exact(&format!("[{}]", customer_text(1, &expected)));
}

#[tokio::test]
async fn patch_accepts_a_matching_user_id_and_several_fields() {
    let h = Harness::start().await;
    let fields = full_fields("B68t19", "Trisul");
    h.create(fields.clone()).await;
    let answer = h
        .send(
            Method::PATCH,
            Some("B68t19"),
            &h.body(json!({"UserID": "B68t19", "Name": "N", "Email": "e@x"})),
        )
        .await;
    let mut expected = fields;
    expected["Name"] = json!("N");
    expected["Email"] = json!("e@x");
    answer.assert_exact(&customer_text(1, &expected));
}

#[tokio::test]
async fn empty_patch_returns_the_record_unchanged() {
    let h = Harness::start().await;
    let fields = full_fields("B68t19", "Trisul");
    h.create(fields.clone()).await;
    let before = h.snapshot();
    h.send(Method::PATCH, Some("B68t19"), &h.body(json!({})))
        .await
        .assert_exact(&customer_text(1, &fields));
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn delete_returns_the_deleted_object_and_removes_it() {
    let h = Harness::start().await;
    let fields = full_fields("B68t19", "Trisul");
    h.create(fields.clone()).await;
    h.create(full_fields("Keep", "Kept")).await;
    h.send(Method::DELETE, Some("B68t19"), &h.body(json!({})))
        .await
        .assert_exact(&customer_text(1, &fields));
    let remaining = h.snapshot()["default"].clone();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].user_id, "Keep");
    h.send(Method::DELETE, Some("B68t19"), &h.body(json!({})))
        .await
        .assert_exact(NOT_FOUND);
}

#[tokio::test]
async fn deleted_user_id_can_be_created_again_with_a_new_id() {
    let h = Harness::start().await;
    h.create(json!({"UserID": "A", "Name": "a"})).await;
    h.send(Method::DELETE, Some("A"), &h.body(json!({}))).await;
    let again = h.create(json!({"UserID": "A", "Name": "a2"})).await.json();
    assert_eq!(again["id"], 2);
}

#[tokio::test]
async fn path_user_id_is_percent_decoded() {
    let h = Harness::start().await;
    h.create(json!({"UserID": "a b", "Name": "spaced"})).await;
    let answer = h
        .send(Method::PATCH, Some("a%20b"), &h.body(json!({"Name": "x"})))
        .await;
    assert_eq!(answer.json()["Name"], "x");
}

// ---------------------------------------------------------- documented errors

/// Each operation with a body that would succeed but for the auth fields.
fn operations() -> Vec<(Method, Option<&'static str>, Value)> {
    vec![
        (Method::GET, None, json!({})),
        (Method::POST, None, full_fields("New001", "New")),
        (
            Method::PUT,
            Some("B68t19"),
            full_fields("B68t19", "Changed"),
        ),
        (Method::PATCH, Some("B68t19"), json!({"Name": "Changed"})),
        (Method::DELETE, Some("B68t19"), json!({})),
    ]
}

fn preloaded_config() -> ServerConfig {
    ServerConfig::builtin().with_preload(
        Preload::new()
            .with("default", PreloadCustomer::new("B68t19", "Trisul"))
            .with("restricted", PreloadCustomer::new("B68t19", "Restricted")),
    )
}

#[tokio::test]
async fn invalid_token_on_every_operation_is_the_exact_envelope_and_changes_nothing() {
    let h = Harness::with_config(preloaded_config()).await;
    let before = h.snapshot();
    for (method, user_id, fields) in operations() {
        let mut body = h.body(fields);
        body["api_token"] = json!("WrongToken0000000000");
        h.send(method.clone(), user_id, &body)
            .await
            .assert_exact(TOKEN_ERROR);
        assert_eq!(h.snapshot(), before, "{method}");
    }
}

#[tokio::test]
async fn invalid_context_on_every_operation_is_the_exact_envelope_and_changes_nothing() {
    let h = Harness::with_config(preloaded_config()).await;
    let before = h.snapshot();
    for (method, user_id, fields) in operations() {
        let body = h.body_in("ipdrr", fields);
        h.send(method.clone(), user_id, &body)
            .await
            .assert_exact(r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#);
        assert_eq!(h.snapshot(), before, "{method}");
    }
}

#[tokio::test]
async fn forbidden_context_on_every_operation_is_the_exact_envelope_and_changes_nothing() {
    let h = Harness::with_config(preloaded_config()).await;
    let before = h.snapshot();
    let expected = format!(
        r#"{{"status":"Error","message":"The user (user) is not allowed to access the context {}"}}"#,
        h.forbidden
    );
    for (method, user_id, fields) in operations() {
        let body = h.body_in(&h.forbidden, fields);
        h.send(method.clone(), user_id, &body)
            .await
            .assert_exact(&expected);
        assert_eq!(h.snapshot(), before, "{method}");
    }
}

#[tokio::test]
async fn the_same_operations_succeed_with_good_credentials() {
    // Guards the three tests above: their bodies fail only because of auth.
    let h = Harness::with_config(preloaded_config()).await;
    for (method, user_id, fields) in operations() {
        let answer = h.send(method.clone(), user_id, &h.body(fields)).await;
        assert!(
            answer.json().get("status").is_none(),
            "{method}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn token_is_checked_before_the_context() {
    let h = Harness::start().await;
    let mut body = h.body_in("ipdrr", json!({}));
    body["api_token"] = json!("WrongToken0000000000");
    h.send(Method::GET, None, &body)
        .await
        .assert_exact(TOKEN_ERROR);
}

#[tokio::test]
async fn context_existence_is_checked_before_access() {
    // A context that does not exist is also not accessible: the context error wins.
    let h = Harness::start().await;
    h.list_in("nosuchctx")
        .await
        .assert_exact(r#"{"status":"Error","message":"Invalid Context name - nosuchctx"}"#);
}

#[tokio::test]
async fn a_token_is_valid_only_for_its_own_user() {
    let h = Harness::start().await;
    let fixture = UsersFixture::builtin();
    let operator = fixture.user("operator").expect("operator user");
    let mut body = h.body(json!({}));
    body["api_token"] = json!(operator.api_token);
    h.send(Method::GET, None, &body)
        .await
        .assert_exact(TOKEN_ERROR);
    body["username"] = json!("operator");
    h.send(Method::GET, None, &body).await.assert_exact("[]");
}

#[tokio::test]
async fn forbidden_message_names_the_requesting_user() {
    let h = Harness::start().await;
    let operator = UsersFixture::builtin()
        .user("operator")
        .expect("operator")
        .clone();
    let body =
        json!({"api_token": operator.api_token, "username": "operator", "contextname": "ipdr2"});
    h.send(Method::GET, None, &body).await.assert_exact(
        r#"{"status":"Error","message":"The user (operator) is not allowed to access the context ipdr2"}"#,
    );
}

#[tokio::test]
async fn missing_or_non_string_auth_fields() {
    let h = Harness::start().await;
    let cases = [
        (
            json!({"username": "user", "contextname": "default"}),
            TOKEN_ERROR.to_string(),
        ),
        (
            json!({"api_token": 12345, "username": "user", "contextname": "default"}),
            TOKEN_ERROR.to_string(),
        ),
        (
            json!({"api_token": h.token, "contextname": "default"}),
            TOKEN_ERROR.to_string(),
        ),
        (
            json!({"api_token": h.token, "username": 7, "contextname": "default"}),
            TOKEN_ERROR.to_string(),
        ),
        (
            json!({"api_token": h.token, "username": "user"}),
            r#"{"status":"Error","message":"Invalid Context name - "}"#.to_string(),
        ),
        (
            json!({"api_token": h.token, "username": "user", "contextname": 5}),
            r#"{"status":"Error","message":"Invalid Context name - 5"}"#.to_string(),
        ),
        (
            json!({"api_token": h.token, "username": "user", "contextname": "DEFAULT"}),
            r#"{"status":"Error","message":"Invalid Context name - DEFAULT"}"#.to_string(),
        ),
    ];
    for (body, expected) in cases {
        h.send(Method::GET, None, &body)
            .await
            .assert_exact(&expected);
    }
}

#[tokio::test]
async fn get_and_delete_need_their_auth_body() {
    let h = Harness::start().await;
    h.create(json!({"UserID": "A", "Name": "a"})).await;
    h.raw(Method::GET, None, "").await.assert_exact(MALFORMED);
    h.raw(Method::DELETE, Some("A"), "")
        .await
        .assert_exact(MALFORMED);
    h.raw(Method::DELETE, Some("A"), "{}")
        .await
        .assert_exact(TOKEN_ERROR);
    assert_eq!(h.snapshot()["default"].len(), 1);
}

// ------------------------------------------------------------ context isolation

#[tokio::test]
async fn contexts_are_isolated() {
    let h = Harness::start().await;
    let fields = full_fields("Same01", "In default");
    h.create(fields.clone()).await;
    h.list_in(&h.second).await.assert_exact("[]");

    // The same UserID may exist in another context, as a different record.
    let other = full_fields("Same01", "In second");
    h.create_in(&h.second, other.clone())
        .await
        .assert_exact(&customer_text(2, &other));

    let patch = h.body_in(&h.second, json!({"Address": "Moved"}));
    h.send(Method::PATCH, Some("Same01"), &patch).await;
    h.send(
        Method::DELETE,
        Some("Same01"),
        &h.body_in(&h.second, json!({})),
    )
    .await;
    h.list()
        .await
        .assert_exact(&format!("[{}]", customer_text(1, &fields)));

    h.create_in(&h.second, json!({"UserID": "OnlySecond", "Name": "x"}))
        .await;
    h.send(Method::DELETE, Some("OnlySecond"), &h.body(json!({})))
        .await
        .assert_exact(NOT_FOUND);
    assert_eq!(h.snapshot()[&h.second].len(), 1);
}

// ---------------------------------------------------------- unspecified cases

#[tokio::test]
async fn unknown_user_id_on_put_patch_delete_is_not_found() {
    let h = Harness::start().await;
    h.create(full_fields("Known1", "Known")).await;
    let before = h.snapshot();
    h.send(Method::PUT, Some("Nope"), &h.body(full_fields("Nope", "x")))
        .await
        .assert_exact(NOT_FOUND);
    h.send(Method::PATCH, Some("Nope"), &h.body(json!({"Name": "x"})))
        .await
        .assert_exact(NOT_FOUND);
    h.send(Method::PATCH, Some("Nope"), &h.body(json!({})))
        .await
        .assert_exact(NOT_FOUND);
    h.send(Method::DELETE, Some("Nope"), &h.body(json!({})))
        .await
        .assert_exact(NOT_FOUND);
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn duplicate_user_id_on_create_is_rejected() {
    let h = Harness::start().await;
    h.create(full_fields("B68t19", "First")).await;
    let before = h.snapshot();
    h.create(full_fields("B68t19", "Second"))
        .await
        .assert_exact(&unspecified(
            "IPDR Customer with UserID B68t19 already exists",
        ));
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn create_missing_mandatory_fields_lists_them() {
    let h = Harness::start().await;
    let cases = [
        (json!({"Name": "n"}), "Missing mandatory field(s): UserID"),
        (json!({"UserID": "u"}), "Missing mandatory field(s): Name"),
        (
            json!({"Address": "only optional"}),
            "Missing mandatory field(s): UserID, Name",
        ),
    ];
    for (fields, message) in cases {
        h.create(fields).await.assert_exact(&unspecified(message));
    }
    assert!(h.snapshot()["default"].is_empty());
}

/// An empty UserID or Name is a missing one: a record with UserID "" could
/// never be addressed again (`/api/ipdrcustomers/` names no customer).
#[tokio::test]
async fn empty_mandatory_fields_are_missing_ones_on_create_and_put() {
    let h = Harness::start().await;
    let cases = [
        (
            json!({"UserID": "", "Name": "n"}),
            "Missing mandatory field(s): UserID",
        ),
        (
            json!({"UserID": "u", "Name": ""}),
            "Missing mandatory field(s): Name",
        ),
        (
            json!({"UserID": "", "Name": "", "Address": "Chennai"}),
            "Missing mandatory field(s): UserID, Name",
        ),
    ];
    for (fields, message) in cases {
        h.create(fields).await.assert_exact(&unspecified(message));
    }
    assert!(h.snapshot()["default"].is_empty());

    h.create(full_fields("B68t19", "Trisul")).await;
    let before = h.snapshot();
    h.send(
        Method::PUT,
        Some("B68t19"),
        &h.body(full_fields("B68t19", "")),
    )
    .await
    .assert_exact(&unspecified("Missing mandatory field(s): Name"));
    h.send(
        Method::PUT,
        Some("B68t19"),
        &h.body(full_fields("", "Changed")),
    )
    .await
    .assert_exact(&unspecified("Missing mandatory field(s): UserID"));
    assert_eq!(h.snapshot(), before);
    // Optional fields may be emptied: the page makes only UserID and Name mandatory.
    let mut cleared = full_fields("B68t19", "Trisul");
    cleared["Address"] = json!("");
    h.send(Method::PUT, Some("B68t19"), &h.body(cleared))
        .await
        .assert_customer();
}

#[tokio::test]
async fn put_missing_fields_lists_them_and_changes_nothing() {
    let h = Harness::start().await;
    h.create(full_fields("B68t19", "Trisul")).await;
    let before = h.snapshot();
    h.send(
        Method::PUT,
        Some("B68t19"),
        &h.body(json!({"Name": "Changed", "Address": "Changed", "PhoneNumber": "1"})),
    )
    .await
    .assert_exact(&unspecified(
        "Missing mandatory field(s): Email, AltPhoneNumber, UserID",
    ));
    let mut almost = full_fields("B68t19", "Changed");
    almost.as_object_mut().unwrap().remove("AltPhoneNumber");
    h.send(Method::PUT, Some("B68t19"), &h.body(almost))
        .await
        .assert_exact(&unspecified("Missing mandatory field(s): AltPhoneNumber"));
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn wrong_json_types_are_rejected_on_create_put_and_patch() {
    let h = Harness::start().await;
    h.create(full_fields("B68t19", "Trisul")).await;
    let before = h.snapshot();
    for bad in [
        json!(5),
        json!(null),
        json!({"a": 1}),
        json!(true),
        json!(["x"]),
    ] {
        let mut fields = full_fields("New001", "New");
        fields["Email"] = bad.clone();
        h.create(fields).await.assert_exact(&unspecified(
            "Invalid value for field Email: expected a string",
        ));

        let mut fields = full_fields("B68t19", "Changed");
        fields["PhoneNumber"] = bad.clone();
        h.send(Method::PUT, Some("B68t19"), &h.body(fields))
            .await
            .assert_exact(&unspecified(
                "Invalid value for field PhoneNumber: expected a string",
            ));

        h.send(
            Method::PATCH,
            Some("B68t19"),
            &h.body(json!({"Name": "Changed", "AltPhoneNumber": bad})),
        )
        .await
        .assert_exact(&unspecified(
            "Invalid value for field AltPhoneNumber: expected a string",
        ));
    }
    // A wrong type is reported even when a mandatory field is also missing.
    h.create(json!({"Name": 5}))
        .await
        .assert_exact(&unspecified(
            "Invalid value for field Name: expected a string",
        ));
    h.create(json!({"UserID": 5, "Name": "n"}))
        .await
        .assert_exact(&unspecified(
            "Invalid value for field UserID: expected a string",
        ));
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn malformed_bodies_on_every_operation() {
    let h = Harness::start().await;
    h.create(full_fields("B68t19", "Trisul")).await;
    let before = h.snapshot();
    let bodies = ["", "{", "not json", "[]", "\"a string\"", "42", "null"];
    for (method, user_id, _) in operations() {
        for body in bodies {
            h.raw(method.clone(), user_id, body)
                .await
                .assert_exact(MALFORMED);
        }
    }
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn malformed_json_is_reported_before_auth() {
    let h = Harness::start().await;
    h.raw(Method::GET, None, r#"{"api_token": "bad", "#)
        .await
        .assert_exact(MALFORMED);
}

#[tokio::test]
async fn body_user_id_must_match_the_path() {
    let h = Harness::start().await;
    h.create(full_fields("B68t19", "Trisul")).await;
    h.create(full_fields("Other1", "Other")).await;
    let before = h.snapshot();
    h.send(
        Method::PUT,
        Some("B68t19"),
        &h.body(full_fields("Other1", "x")),
    )
    .await
    .assert_exact(MISMATCH);
    h.send(
        Method::PATCH,
        Some("B68t19"),
        &h.body(json!({"UserID": "Renamed", "Name": "x"})),
    )
    .await
    .assert_exact(MISMATCH);
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn auth_errors_come_before_validation() {
    let h = Harness::start().await;
    let mut body = h.body_in(&h.forbidden, json!({"Name": 5}));
    h.send(Method::POST, None, &body).await.assert_exact(&format!(
        r#"{{"status":"Error","message":"The user (user) is not allowed to access the context {}"}}"#,
        h.forbidden
    ));
    body["api_token"] = json!("WrongToken0000000000");
    h.send(Method::PUT, Some("Nope"), &body)
        .await
        .assert_exact(TOKEN_ERROR);
}

#[tokio::test]
async fn unknown_extra_fields_are_ignored() {
    let h = Harness::start().await;
    let mut fields = full_fields("B68t19", "Trisul");
    fields["id"] = json!(999);
    fields["Colour"] = json!({"nested": true});
    let answer = h.create(fields.clone()).await;
    answer.assert_exact(&customer_text(1, &fields));
    let patched = h
        .send(
            Method::PATCH,
            Some("B68t19"),
            &h.body(json!({"id": 7, "Extra": 1})),
        )
        .await;
    assert_eq!(patched.json()["id"], 1);
    let listed = h
        .send(Method::GET, None, &h.body(json!({"Name": 5, "junk": null})))
        .await;
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
}

// ------------------------------------------------------------------ concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_creates_of_one_user_id_yield_exactly_one_record() {
    let h = std::sync::Arc::new(Harness::start().await);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let h = std::sync::Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            h.create(json!({"UserID": "Race01", "Name": format!("racer {i}")}))
                .await
                .json()
        }));
    }
    let mut successes = 0;
    for task in tasks {
        let answer = task.await.expect("task");
        if answer.get("id").is_some() {
            successes += 1;
        } else {
            assert_eq!(
                answer["message"],
                "IPDR Customer with UserID Race01 already exists"
            );
        }
    }
    assert_eq!(successes, 1);
    assert_eq!(h.snapshot()["default"].len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_patches_of_different_fields_lose_no_update() {
    let h = std::sync::Arc::new(Harness::start().await);
    h.create(full_fields("B68t19", "Trisul")).await;
    let fields = ["Name", "Address", "Email", "PhoneNumber", "AltPhoneNumber"];
    for round in 0..10 {
        let mut tasks = Vec::new();
        for field in fields {
            let h = std::sync::Arc::clone(&h);
            tasks.push(tokio::spawn(async move {
                let body = h.body(json!({ field: format!("{field}-{round}") }));
                h.send(Method::PATCH, Some("B68t19"), &body).await
            }));
        }
        for task in tasks {
            let answer = task.await.expect("task");
            assert_eq!(answer.json()["id"], 1);
        }
        let stored = &h.snapshot()["default"][0];
        let values = [
            &stored.name,
            &stored.address,
            &stored.email,
            &stored.phone_number,
            &stored.alt_phone_number,
        ];
        for (field, value) in fields.iter().zip(values) {
            assert_eq!(value, &format!("{field}-{round}"));
        }
    }
}

// ------------------------------------------------------------------- deviations

#[tokio::test]
async fn token_status_deviation_flips_only_the_token_status() {
    let h = Harness::with_config(
        preloaded_config().with_deviation(Deviation::TokenErrorStatusMixedCase),
    )
    .await;
    let mut body = h.body(json!({}));
    body["api_token"] = json!("WrongToken0000000000");
    h.send(Method::GET, None, &body)
        .await
        .assert_exact(r#"{"status":"Error","message":"Invalid API token"}"#);
    h.list_in("ipdrr")
        .await
        .assert_exact(r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#);
    h.list_in(&h.forbidden).await.assert_exact(&format!(
        r#"{{"status":"Error","message":"The user (user) is not allowed to access the context {}"}}"#,
        h.forbidden
    ));
    let listed = h.list().await.json();
    assert_eq!(listed[0]["UserID"], "B68t19");
    h.send(Method::DELETE, Some("Nope"), &h.body(json!({})))
        .await
        .assert_exact(NOT_FOUND);
}

#[test]
fn deviation_names_and_descriptions() {
    assert!(Deviation::ALL.len() >= 33);
    let deviation = Deviation::TokenErrorStatusMixedCase;
    assert_eq!(deviation.name(), "token-error-status-mixed-case");
    assert!(deviation.description().contains("ERROR"));
    assert_eq!(deviation.to_string(), deviation.name());
}

// --------------------------------------------------------- preload and snapshot

#[tokio::test]
async fn preload_keeps_given_ids_assigns_the_rest_and_shows_in_snapshot() {
    let foreign = Customer {
        id: 100,
        name: "Foreign".into(),
        address: "Elsewhere".into(),
        email: "f@example.com".into(),
        phone_number: "1".into(),
        alt_phone_number: "2".into(),
        user_id: "Foreign1".into(),
    };
    let preload = Preload::new()
        .with("default", foreign.clone())
        .with("ipdr2", PreloadCustomer::new("Second1", "Second"));
    let h = Harness::with_config(ServerConfig::builtin().with_preload(preload)).await;

    let snapshot = h.snapshot();
    assert_eq!(snapshot["default"], vec![foreign.clone()]);
    assert_eq!(snapshot["ipdr2"][0].id, 101);
    assert!(snapshot["restricted"].is_empty());

    h.list()
        .await
        .assert_exact(&format!("[{}]", serde_json::to_string(&foreign).unwrap()));
    let created = h
        .create(json!({"UserID": "Mine", "Name": "m"}))
        .await
        .json();
    assert_eq!(created["id"], 102);
    h.create(json!({"UserID": "Foreign1", "Name": "clash"}))
        .await
        .assert_exact(&unspecified(
            "IPDR Customer with UserID Foreign1 already exists",
        ));
    assert_eq!(h.snapshot()["default"][0], foreign);
}

#[tokio::test]
async fn preload_from_a_file() {
    let path = std::env::temp_dir().join(format!(
        "ipdr-reference-preload-{}.json",
        std::process::id()
    ));
    std::fs::write(
        &path,
        r#"{"default":[{"UserID":"F1","Name":"From file","Email":"x@y"},{"id":7,"UserID":"F2","Name":"Kept id"}]}"#,
    )
    .unwrap();
    let preload = Preload::from_path(&path);
    let _ = std::fs::remove_file(&path);
    let preload = preload.expect("preload parses");
    let h = Harness::with_config(ServerConfig::builtin().with_preload(preload)).await;
    h.list().await.assert_exact(
        r#"[{"id":7,"Name":"Kept id","Address":"","Email":"","PhoneNumber":"","AltPhoneNumber":"","UserID":"F2"},{"id":8,"Name":"From file","Address":"","Email":"x@y","PhoneNumber":"","AltPhoneNumber":"","UserID":"F1"}]"#,
    );
}

#[tokio::test]
async fn bad_preloads_are_typed_errors() {
    let unknown_context = ServerConfig::builtin()
        .with_preload(Preload::new().with("nowhere", PreloadCustomer::new("A", "a")));
    let error = reference::start(unknown_context, loopback())
        .await
        .expect_err("unknown context");
    assert!(
        matches!(error, ReferenceError::InvalidPreload { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("\"nowhere\""), "{error}");

    let duplicate = ServerConfig::builtin().with_preload(
        Preload::new()
            .with("default", PreloadCustomer::new("A", "a"))
            .with("default", PreloadCustomer::new("A", "b")),
    );
    let error = reference::start(duplicate, loopback())
        .await
        .expect_err("duplicate UserID");
    assert!(
        matches!(error, ReferenceError::InvalidPreload { .. }),
        "{error}"
    );

    let error = Preload::from_json_str(r#"{"default": [{"Name": "no user id"}]}"#, "p.json")
        .expect_err("missing UserID");
    assert!(matches!(error, ReferenceError::Parse { .. }), "{error}");
    assert!(error.to_string().starts_with("p.json"), "{error}");
}

// ----------------------------------------------------------- fixture and server

#[test]
fn builtin_fixture_exposes_the_harness_credentials() {
    let fixture = UsersFixture::builtin();
    let harness = fixture.harness();
    assert_eq!(harness.username, "user");
    assert_eq!(harness.context, "default");
    assert_eq!(harness.second_context.as_deref(), Some("ipdr2"));
    assert_eq!(harness.forbidden_context.as_deref(), Some("restricted"));
    assert_eq!(
        Some(&harness.api_token),
        fixture.user("user").map(|u| &u.api_token)
    );
    assert_eq!(harness.api_token.len(), 20);
    assert_eq!(fixture.contexts(), ["default", "ipdr2", "restricted"]);
}

#[test]
fn fixture_errors_name_the_file_and_the_problem() {
    let missing = std::path::Path::new("/nonexistent/users.json");
    let error = UsersFixture::from_path(missing).expect_err("missing file");
    assert!(matches!(error, ReferenceError::Read { .. }));
    assert!(
        error.to_string().contains("/nonexistent/users.json"),
        "{error}"
    );

    let text = r#"{"contexts":["default"],
        "users":[{"username":"u","api_token":"t","contexts":["default"]}],
        "harness":{"username":"u","context":"missing"}}"#;
    let error = UsersFixture::from_json_str(text, "mine.json").expect_err("bad context");
    assert!(matches!(error, ReferenceError::InvalidUsers { .. }));
    let message = error.to_string();
    assert!(
        message.contains("mine.json") && message.contains("\"missing\""),
        "{message}"
    );
}

#[tokio::test]
async fn server_stops_on_shutdown() {
    let server = reference::start(ServerConfig::builtin(), loopback())
        .await
        .expect("starts");
    let addr = server.addr();
    assert_ne!(addr.port(), 0);
    assert_eq!(server.base_url(), format!("http://{addr}"));
    server.shutdown().await;
    let connect = tokio::net::TcpStream::connect(addr).await;
    assert!(connect.is_err(), "still accepting after shutdown");
}

#[tokio::test]
async fn a_large_generated_preload_is_listed_whole_and_exactly() {
    // 5,000 realistic customers: about a megabyte, sent as a stream of chunks.
    let preload = Preload::generated("default", 5_000, reference::DEFAULT_GENERATED_SEED);
    let h = Harness::with_config(ServerConfig::builtin().with_preload(preload)).await;
    let answer = h.list().await;
    let expected = serde_json::to_string(&h.snapshot()["default"]).expect("serialises");
    assert!(expected.len() > 900_000, "{} bytes", expected.len());
    answer.assert_exact(&expected);
}
