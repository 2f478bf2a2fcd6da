//! The reference server's deliberate deviations and its conformant `alt`
//! flavour, tested through the public surface over loopback HTTP.
//!
//! Every deviation has its own test, which runs one probe twice: against
//! the conformant server (the documented behaviour must hold) and with the
//! deviation on (the specific change must show). The probe is an exhaustive
//! `match`, so a new deviation does not compile without one.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ipdr_conformance::reference::{Deviation, Flavour, Preload, PreloadCustomer, ServerConfig};
use ipdr_conformance::spec::contract::Customer;
use reqwest::Method;
use serde_json::{json, Value};

mod common;
use common::wire::{full_fields, Answer, Harness, BAD_TOKEN};

const TOKEN_ERROR: &str = r#"{"status":"ERROR","message":"Invalid API token"}"#;
const BAD_CONTEXT: &str = "ipdrr";
/// The preloaded customer in the harness's context (the page's example).
const KNOWN: &str = "B68t19";
/// The preloaded customer in the context the harness may not access.
const RESTRICTED_ONLY: &str = "R00001";

/// The page's example customer (id 5) in the harness's context, and one
/// customer (id 6) in the context the harness may not access; the next
/// id handed out is 7.
fn preload() -> Preload {
    let known = Customer {
        id: 5,
        name: "Trisul".into(),
        address: "Chennai".into(),
        email: "demo@gmail.com".into(),
        phone_number: "1234567890".into(),
        alt_phone_number: "9999999999".into(),
        user_id: KNOWN.into(),
    };
    Preload::new().with("default", known).with(
        "restricted",
        PreloadCustomer::new(RESTRICTED_ONLY, "Hidden"),
    )
}

fn config() -> ServerConfig {
    ServerConfig::builtin().with_preload(preload())
}

/// The harness's list body in its context, with the auth parameter `key`
/// replaced by `value` (left out when `None`).
fn list_body_with(h: &Harness, key: &str, value: Option<Value>) -> Value {
    let mut body = h.body(json!({}));
    match value {
        Some(value) => body[key] = value,
        None => {
            body.as_object_mut().expect("object").remove(key);
        }
    }
    body
}

/// The letters of `text` with their case swapped.
fn swap_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// A GET whose `api_token` is `token` lists the harness's context when
/// `accepted`, and gets the exact invalid-token envelope otherwise.
async fn assert_token(h: &Harness, token: Value, accepted: bool) {
    let answer = h
        .send(
            Method::GET,
            None,
            &list_body_with(h, "api_token", Some(token.clone())),
        )
        .await;
    if accepted {
        assert_eq!(user_ids(&answer.json()), [KNOWN], "token {token}");
    } else {
        answer.assert_exact(TOKEN_ERROR);
    }
    // The wrong token is refused either way.
    h.send(Method::GET, None, &h.bad_token_body(json!({})))
        .await
        .assert_exact(TOKEN_ERROR);
}

/// A PATCH of KNOWN's Address whose `api_token` is `token` changes it
/// when `accepted`, and nothing otherwise.
async fn assert_token_patches(h: &Harness, token: &str, accepted: bool) {
    let mut body = h.body(json!({"Address": "Tampered"}));
    body["api_token"] = json!(token);
    h.send(Method::PATCH, Some(KNOWN), &body).await;
    let address = h.stored(KNOWN).expect("kept").address;
    assert_eq!(address, if accepted { "Tampered" } else { "Chennai" });
}

/// A PATCH of Address through the path `path` changes KNOWN when `reaches`;
/// otherwise it is refused and KNOWN keeps its Address.
async fn assert_path_reaches_known(h: &Harness, path: &str, reaches: bool) {
    let answer = h
        .raw_at(
            Method::PATCH,
            format!("{}/{path}", h.url(None)),
            h.body(json!({"Address": "Reached"})).to_string(),
        )
        .await;
    let stored = h.stored(KNOWN).expect("kept");
    if reaches {
        assert_eq!(answer.assert_customer()["UserID"], KNOWN, "{path}");
        assert_eq!(stored.address, "Reached", "{path}");
    } else {
        assert_eq!(
            answer.json()["message"],
            "IPDR Customer not found",
            "{path}"
        );
        assert_eq!(stored.address, "Chennai", "{path}");
    }
}

fn user_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|c| c["UserID"].as_str().expect("UserID string"))
        .collect()
}

// ------------------------------------------------------------------ deviations

/// Runs the probe of `deviation` against a conformant server, then against
/// one with the deviation on.
async fn check(deviation: Deviation) {
    let conformant = Harness::with_config(config()).await;
    probe(deviation, &conformant, false).await;
    let deviant = Harness::with_config(config().with_deviation(deviation)).await;
    probe(deviation, &deviant, true).await;
}

/// Asserts the behaviour `deviation` breaks: as documented when `on` is
/// false, with the specific change when it is true.
async fn probe(deviation: Deviation, h: &Harness, on: bool) {
    let pick = |deviant: &'static str, conformant: &'static str| {
        if on {
            deviant
        } else {
            conformant
        }
    };
    let forbidden_message = |user: &str| {
        format!(
            "The user ({user}) is not allowed to access the context {}",
            h.forbidden
        )
    };
    match deviation {
        Deviation::TokenErrorStatusMixedCase => {
            let answer = h
                .send(Method::GET, None, &h.bad_token_body(json!({})))
                .await;
            answer.assert_exact(&format!(
                r#"{{"status":"{}","message":"Invalid API token"}}"#,
                pick("Error", "ERROR")
            ));
        }
        Deviation::TokenErrorHttp401 => {
            let answer = h
                .send(Method::GET, None, &h.bad_token_body(json!({})))
                .await;
            assert_eq!(answer.status, if on { 401 } else { 200 });
            assert_eq!(answer.text, TOKEN_ERROR);
        }
        Deviation::ContextErrorStatusUpperCase => {
            let answer = h.list_in(BAD_CONTEXT).await;
            answer.assert_exact(&format!(
                r#"{{"status":"{}","message":"Invalid Context name - ipdrr"}}"#,
                pick("ERROR", "Error")
            ));
        }
        Deviation::ContextErrorOmitsName => {
            let answer = h.list_in(BAD_CONTEXT).await;
            answer.assert_exact(&format!(
                r#"{{"status":"Error","message":"{}"}}"#,
                pick("Invalid Context name - ", "Invalid Context name - ipdrr")
            ));
        }
        Deviation::ContextErrorMessageReworded => {
            let answer = h.list_in(BAD_CONTEXT).await;
            answer.assert_exact(&format!(
                r#"{{"status":"Error","message":"{}"}}"#,
                pick(
                    "Invalid context name: ipdrr",
                    "Invalid Context name - ipdrr"
                )
            ));
        }
        Deviation::ForbiddenErrorOmitsUsername => {
            let answer = h.list_in(&h.forbidden).await;
            let user = if on { "" } else { h.username.as_str() };
            answer.assert_exact(
                &json!({"status": "Error", "message": forbidden_message(user)}).to_string(),
            );
        }
        Deviation::ForbiddenErrorHttp403 => {
            let answer = h.list_in(&h.forbidden).await;
            assert_eq!(answer.status, if on { 403 } else { 200 });
            assert_eq!(
                answer.json(),
                json!({"status": "Error", "message": forbidden_message(&h.username)})
            );
        }
        Deviation::ForbiddenContextNotChecked => {
            let answer = h.list_in(&h.forbidden).await;
            if on {
                assert_eq!(user_ids(&answer.json()), [RESTRICTED_ONLY]);
            } else {
                assert_eq!(answer.json()["message"], forbidden_message(&h.username));
            }
            // An unknown context is still refused.
            assert_eq!(
                h.list_in(BAD_CONTEXT).await.json()["message"],
                "Invalid Context name - ipdrr"
            );
        }
        Deviation::TokenNotCheckedOnDelete => {
            // Other methods still check the token.
            h.send(Method::GET, None, &h.bad_token_body(json!({})))
                .await
                .assert_exact(TOKEN_ERROR);
            let answer = h
                .send(Method::DELETE, Some(KNOWN), &h.bad_token_body(json!({})))
                .await;
            if on {
                assert_eq!(answer.assert_customer()["UserID"], KNOWN);
                assert!(h.stored(KNOWN).is_none());
            } else {
                answer.assert_exact(TOKEN_ERROR);
                assert!(h.stored(KNOWN).is_some());
            }
        }
        Deviation::ListWorksWithBadToken => {
            h.send(
                Method::POST,
                None,
                &h.bad_token_body(full_fields("New001", "n")),
            )
            .await
            .assert_exact(TOKEN_ERROR);
            let answer = h
                .send(Method::GET, None, &h.bad_token_body(json!({})))
                .await;
            if on {
                assert_eq!(user_ids(&answer.json()), [KNOWN]);
            } else {
                answer.assert_exact(TOKEN_ERROR);
            }
        }
        Deviation::CreateAppliedDespiteTokenError => {
            h.send(
                Method::POST,
                None,
                &h.bad_token_body(full_fields("New001", "n")),
            )
            .await
            .assert_exact(TOKEN_ERROR);
            assert_eq!(h.stored("New001").is_some(), on);
        }
        Deviation::PatchAppliedDespiteTokenError => {
            h.send(
                Method::PATCH,
                Some(KNOWN),
                &h.bad_token_body(json!({"Address": "Partially Updated"})),
            )
            .await
            .assert_exact(TOKEN_ERROR);
            let address = h.stored(KNOWN).expect("kept").address;
            assert_eq!(address, pick("Partially Updated", "Chennai"));
        }
        Deviation::ContextIsolationBroken => {
            let second = h.list_in(&h.second).await.json();
            if on {
                assert_eq!(user_ids(&second), [KNOWN, RESTRICTED_ONLY]);
            } else {
                assert_eq!(second, json!([]));
            }
            // The same UserID in the second context.
            let answer = h.create_in(&h.second, full_fields(KNOWN, "Other")).await;
            assert_eq!(answer.json().get("id").is_some(), !on, "{}", answer.text);
            // A PATCH in the second context reaches the default context's record.
            h.send(
                Method::PATCH,
                Some(KNOWN),
                &h.body_in(&h.second, json!({"Address": "Moved"})),
            )
            .await;
            let address = h.stored(KNOWN).expect("kept").address;
            assert_eq!(address, pick("Moved", "Chennai"));
        }
        Deviation::PhoneNumberAsNumber => {
            let created = h
                .create(
                    json!({"UserID": "P1", "Name": "p", "PhoneNumber": "0441234567",
                    "AltPhoneNumber": "+91 99"}),
                )
                .await
                .json();
            let listed = h.list().await.json();
            for customer in [&created, &listed[1]] {
                if on {
                    assert_eq!(customer["PhoneNumber"], json!(441234567));
                } else {
                    assert_eq!(customer["PhoneNumber"], "0441234567");
                }
                // Not all digits: still a string.
                assert_eq!(customer["AltPhoneNumber"], "+91 99");
            }
            let example = &listed[0];
            assert_eq!(example["AltPhoneNumber"].is_number(), on);
        }
        Deviation::EmailFieldRenamed => {
            let created = h.create(full_fields("E1", "e")).await.json();
            let listed = h.list().await.json();
            for customer in [&created, &listed[0]] {
                assert_eq!(customer.get("Email").is_some(), !on, "{customer}");
                assert_eq!(customer.get("email").is_some(), on, "{customer}");
            }
            let keys: Vec<&String> = created.as_object().expect("object").keys().collect();
            assert_eq!(keys[3], pick("email", "Email"));
        }
        Deviation::IdAsString => {
            let created = h.create(full_fields("I1", "i")).await.json();
            let listed = h.list().await.json();
            if on {
                assert_eq!(created["id"], "7");
                assert_eq!(listed[0]["id"], "5");
            } else {
                assert_eq!(created["id"], 7);
                assert_eq!(listed[0]["id"], 5);
            }
        }
        Deviation::PutActsLikePatch => {
            let answer = h.put(KNOWN, json!({"Name": "Changed"})).await;
            if on {
                let updated = answer.assert_customer();
                assert_eq!(updated["Name"], "Changed");
                assert_eq!(updated["Address"], "Chennai");
            } else {
                assert!(answer.json()["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("Missing")));
                assert_eq!(h.stored(KNOWN).expect("kept").name, "Trisul");
            }
        }
        Deviation::PatchBlanksOmittedFields => {
            let updated = h
                .patch(KNOWN, json!({"Address": "Partially Updated"}))
                .await
                .assert_customer();
            assert_eq!(updated["Address"], "Partially Updated");
            assert_eq!(updated["Name"], pick("", "Trisul"));
            assert_eq!(updated["Email"], pick("", "demo@gmail.com"));
            assert_eq!(
                h.stored(KNOWN).expect("kept").phone_number,
                pick("", "1234567890")
            );
        }
        Deviation::IdChangesOnUpdate => {
            let put = h
                .put(KNOWN, full_fields(KNOWN, "Put"))
                .await
                .assert_customer();
            let patched = h
                .patch(KNOWN, json!({"Name": "Patched"}))
                .await
                .assert_customer();
            if on {
                assert_ne!(put["id"], 5);
                assert_ne!(patched["id"], put["id"]);
            } else {
                assert_eq!([&put["id"], &patched["id"]], [5, 5]);
            }
            assert_eq!(h.stored(KNOWN).expect("kept").id, patched["id"]);
        }
        Deviation::CreateDropsAltPhone => {
            let created = h.create(full_fields("A1", "a")).await.assert_customer();
            assert_eq!(created["AltPhoneNumber"], pick("", "9999999999"));
            assert_eq!(created["PhoneNumber"], "1234567890");
            // Updates still write it.
            let patched = h
                .patch("A1", json!({"AltPhoneNumber": "5555555555"}))
                .await
                .assert_customer();
            assert_eq!(patched["AltPhoneNumber"], "5555555555");
        }
        Deviation::PutDropsAddress => {
            let mut fields = full_fields(KNOWN, "Trisul Network Analyzer");
            fields["Address"] = json!("India");
            let updated = h.put(KNOWN, fields).await.assert_customer();
            assert_eq!(updated["Name"], "Trisul Network Analyzer");
            assert_eq!(updated["Address"], pick("Chennai", "India"));
        }
        Deviation::PatchIgnoresName => {
            let updated = h
                .patch(KNOWN, json!({"Name": "Renamed", "Email": "new@x"}))
                .await
                .assert_customer();
            assert_eq!(updated["Email"], "new@x");
            assert_eq!(updated["Name"], pick("Trisul", "Renamed"));
        }
        Deviation::PutMissingFieldsPartiallyApplied => {
            let answer = h
                .put(KNOWN, json!({"Name": "Changed", "UserID": KNOWN}))
                .await;
            assert_eq!(
                answer.json()["message"],
                "Missing mandatory field(s): Address, Email, PhoneNumber, AltPhoneNumber"
            );
            let stored = h.stored(KNOWN).expect("kept");
            assert_eq!(stored.name, pick("Changed", "Trisul"));
            assert_eq!(stored.address, "Chennai");
        }
        Deviation::DeleteReturnsStatus => {
            let answer = h.delete(KNOWN).await;
            if on {
                answer.assert_exact(r#"{"status":"Success","message":"Customer deleted"}"#);
            } else {
                assert_eq!(answer.assert_customer()["id"], 5);
            }
            assert!(h.stored(KNOWN).is_none());
        }
        Deviation::DeleteNotPersisted => {
            assert_eq!(h.delete(KNOWN).await.assert_customer()["id"], 5);
            assert_eq!(h.stored(KNOWN).is_some(), on);
            let listed = h.list().await.json();
            assert_eq!(listed.as_array().map(Vec::len), Some(usize::from(on)));
        }
        Deviation::CreateReturnsStatus => {
            let answer = h.create(full_fields("C1", "c")).await;
            if on {
                answer.assert_exact(r#"{"status":"Success"}"#);
            } else {
                assert_eq!(answer.assert_customer()["UserID"], "C1");
            }
            assert!(h.stored("C1").is_some());
        }
        Deviation::ListWrappedInObject => {
            let listed = h.list().await.json();
            let customers = if on { &listed["data"] } else { &listed };
            assert_eq!(user_ids(customers), [KNOWN]);
            assert_eq!(listed.is_array(), !on);
        }
        Deviation::ListTruncatedAt50 => {
            for i in 0..59 {
                h.create(json!({"UserID": format!("L{i:03}"), "Name": "l"}))
                    .await
                    .assert_customer();
            }
            let listed = h.list().await.json();
            assert_eq!(
                listed.as_array().map(Vec::len),
                Some(if on { 50 } else { 60 })
            );
            // Fewer than 50 are unaffected.
            assert_eq!(h.list_in(&h.second).await.json(), json!([]));
        }
        Deviation::NonJsonContentType => {
            let answers = [
                h.list().await,
                h.list_in(BAD_CONTEXT).await,
                h.delete("Nope").await,
            ];
            for answer in answers {
                let expected = pick("text/html; charset=UTF-8", "application/json");
                assert_eq!(answer.content_type, expected);
                answer.json();
            }
        }
        Deviation::NonAtomicUniqueness => {
            // Sequential duplicates are still refused.
            let again = h.create(full_fields(KNOWN, "Again")).await;
            assert!(again.json().get("id").is_none(), "{}", again.text);
            let most = race_creates(h).await;
            if on {
                assert!(most > 1, "no round let two concurrent creates through");
            } else {
                assert_eq!(most, 1);
            }
        }
        Deviation::DuplicateUserIdAccepted => {
            let again = h.create(full_fields(KNOWN, "Again")).await;
            assert_eq!(again.json().get("id").is_some(), on, "{}", again.text);
            assert_eq!(h.stored_all(KNOWN).len(), if on { 2 } else { 1 });
        }
        Deviation::MissingNameAccepted => {
            let answer = h.create(json!({"UserID": "N1", "Address": "a"})).await;
            if on {
                assert_eq!(answer.assert_customer()["Name"], "");
            } else {
                assert_eq!(answer.json()["message"], "Missing mandatory field(s): Name");
            }
            assert_eq!(h.stored("N1").is_some(), on);
            // UserID stays mandatory.
            let answer = h.create(json!({"Name": "n"})).await;
            assert_eq!(
                answer.json()["message"],
                "Missing mandatory field(s): UserID"
            );
        }
        Deviation::TruncateLongValues => {
            let long = "x".repeat(300);
            let created = h
                .create(json!({"UserID": "T1", "Name": "short", "Address": long}))
                .await
                .assert_customer();
            let expected = if on { "x".repeat(255) } else { long };
            assert_eq!(created["Address"], expected);
            assert_eq!(created["Name"], "short");
            assert_eq!(h.stored("T1").expect("stored").address, expected);
        }
        Deviation::MangleNonAscii => {
            let created = h
                .create(json!({"UserID": "M1", "Name": "Zoë 東京", "Address": "plain"}))
                .await
                .assert_customer();
            assert_eq!(created["Name"], pick("Zo? ??", "Zoë 東京"));
            assert_eq!(created["Address"], "plain");
        }
        Deviation::TrimWhitespace => {
            let created = h
                .create(json!({"UserID": "W1", "Name": "  padded\t", "Address": "in side"}))
                .await
                .assert_customer();
            assert_eq!(created["Name"], pick("padded", "  padded\t"));
            assert_eq!(created["Address"], "in side");
        }
        Deviation::TokenPrefixAccepted => {
            let prefix = &h.token[..h.token.len() - 1];
            assert_token(h, json!(prefix), on).await;
            assert_token_patches(h, prefix, on).await;
            // The empty string is no prefix that counts.
            assert_token(h, json!(""), false).await;
        }
        Deviation::TokenExtensionAccepted => {
            let extended = format!("{}x", h.token);
            assert_token(h, json!(extended), on).await;
            assert_token_patches(h, &extended, on).await;
        }
        Deviation::TokenCaseInsensitive => {
            let swapped = swap_case(&h.token);
            assert_token(h, json!(swapped), on).await;
            assert_token_patches(h, &swapped, on).await;
        }
        Deviation::TokenTrimmed => {
            let padded = format!(" {}\t", h.token);
            assert_token(h, json!(padded), on).await;
            assert_token_patches(h, &padded, on).await;
        }
        Deviation::TokenCheckSkippedWhenAbsent => {
            for sent in [None, Some(Value::Null)] {
                let answer = h
                    .send(Method::GET, None, &list_body_with(h, "api_token", sent))
                    .await;
                if on {
                    assert_eq!(user_ids(&answer.json()), [KNOWN]);
                } else {
                    answer.assert_exact(TOKEN_ERROR);
                }
            }
            // A mutating request too.
            let mut body = h.body(json!({"Address": "Tokenless"}));
            body.as_object_mut().expect("object").remove("api_token");
            h.send(Method::PATCH, Some(KNOWN), &body).await;
            let address = h.stored(KNOWN).expect("kept").address;
            assert_eq!(address, pick("Tokenless", "Chennai"));
            // The user still has to exist.
            let mut nobody = list_body_with(h, "api_token", None);
            nobody["username"] = json!("nobody");
            h.send(Method::GET, None, &nobody)
                .await
                .assert_exact(TOKEN_ERROR);
        }
        Deviation::TokenArrayUnwrapped => {
            assert_token(h, json!([h.token]), on).await;
            // Two strings, or an array of another type, are still refused.
            assert_token(h, json!([h.token, h.token]), false).await;
            assert_token(h, json!([[h.token]]), false).await;
        }
        Deviation::UsernameFollowsName => {
            let operator = h.server.users().harness().other.expect("other user");
            // The harness's token with the operator's name reaches the
            // operator's context.
            let mut body = h.body_in(&operator.context, json!({}));
            body["username"] = json!(operator.username);
            let answer = h.send(Method::GET, None, &body).await;
            if on {
                assert_eq!(user_ids(&answer.json()), [RESTRICTED_ONLY]);
            } else {
                answer.assert_exact(TOKEN_ERROR);
            }
            body["UserID"] = json!("Cross1");
            body["Name"] = json!("Cross");
            h.send(Method::POST, None, &body).await;
            let created = h.snapshot()[&operator.context]
                .iter()
                .any(|c| c.user_id == "Cross1");
            assert_eq!(created, on);
            // An unknown username or an unknown token is still refused.
            let mut nobody = h.body(json!({}));
            nobody["username"] = json!("nobody");
            h.send(Method::GET, None, &nobody)
                .await
                .assert_exact(TOKEN_ERROR);
            let mut forged = h.bad_token_body(json!({}));
            forged["username"] = json!(operator.username);
            h.send(Method::GET, None, &forged)
                .await
                .assert_exact(TOKEN_ERROR);
        }
        Deviation::UsernameCaseInsensitive => {
            let shouted = h.username.to_uppercase();
            let answer = h
                .send(
                    Method::GET,
                    None,
                    &list_body_with(h, "username", Some(json!(shouted))),
                )
                .await;
            if on {
                assert_eq!(user_ids(&answer.json()), [KNOWN]);
            } else {
                answer.assert_exact(TOKEN_ERROR);
            }
            let mut body = h.body(json!({"Address": "Shouted"}));
            body["username"] = json!(shouted);
            h.send(Method::PATCH, Some(KNOWN), &body).await;
            let address = h.stored(KNOWN).expect("kept").address;
            assert_eq!(address, pick("Shouted", "Chennai"));
        }
        Deviation::ContextCaseInsensitive => {
            let shouted = h.context.to_uppercase();
            let answer = h.list_in(&shouted).await;
            if on {
                assert_eq!(user_ids(&answer.json()), [KNOWN]);
            } else {
                answer.assert_exact(
                    &json!({"status": "Error", "message": format!("Invalid Context name - {shouted}")})
                        .to_string(),
                );
            }
            // A create acts in the matching context.
            h.create_in(&shouted, json!({"UserID": "Case01", "Name": "c"}))
                .await;
            assert_eq!(h.stored("Case01").is_some(), on);
            assert_eq!(h.snapshot().get(&shouted), None, "no new context");
        }
        Deviation::ContextDefaultsWhenAbsent => {
            let answer = h
                .send(Method::GET, None, &list_body_with(h, "contextname", None))
                .await;
            if on {
                assert_eq!(user_ids(&answer.json()), [KNOWN]);
            } else {
                answer.assert_exact(r#"{"status":"Error","message":"Invalid Context name - "}"#);
            }
            let mut body = h.body(json!({"UserID": "Ctx01", "Name": "c"}));
            body.as_object_mut().expect("object").remove("contextname");
            h.send(Method::POST, None, &body).await;
            assert_eq!(h.stored("Ctx01").is_some(), on);
            // A null context is still invalid.
            let answer = h
                .send(
                    Method::GET,
                    None,
                    &list_body_with(h, "contextname", Some(Value::Null)),
                )
                .await;
            answer.assert_exact(r#"{"status":"Error","message":"Invalid Context name - null"}"#);
        }
        Deviation::UserIdPrefixMatch => {
            assert_path_reaches_known(h, &KNOWN[..4], on).await;
            // A DELETE too.
            let answer = h.delete(&KNOWN[..3]).await;
            assert_eq!(answer.json().get("id").is_some(), on, "{}", answer.text);
            assert_eq!(h.stored(KNOWN).is_none(), on);
        }
        Deviation::UserIdCaseInsensitive => {
            assert_path_reaches_known(h, &swap_case(KNOWN), on).await;
            let answer = h.delete(&KNOWN.to_lowercase()).await;
            assert_eq!(answer.json().get("id").is_some(), on, "{}", answer.text);
            assert_eq!(h.stored(KNOWN).is_none(), on);
        }
        Deviation::UserIdDoubleDecoded => {
            // "%2542" is "%42" after one decoding, "B" after two.
            let path = format!("%2542{}", &KNOWN[1..]);
            assert_path_reaches_known(h, &path, on).await;
            // A plain path still works.
            h.patch(KNOWN, json!({"Name": "Plain"}))
                .await
                .assert_customer();
        }
        Deviation::ForbiddenErrorCarriesData => {
            let answer = h.list_in(&h.forbidden).await;
            let mut expected =
                json!({"status": "Error", "message": forbidden_message(&h.username)});
            if on {
                let body = answer.json();
                assert_eq!(user_ids(&body["data"]), [RESTRICTED_ONLY]);
                expected["data"] = body["data"].clone();
                assert_eq!(body, expected);
            } else {
                answer.assert_exact(&expected.to_string());
            }
        }
        Deviation::ErrorEnvelopeExtraMember => {
            let answer = h
                .send(Method::GET, None, &h.bad_token_body(json!({})))
                .await;
            answer.assert_exact(pick(
                r#"{"status":"ERROR","message":"Invalid API token","code":401}"#,
                TOKEN_ERROR,
            ));
            // The context envelopes are untouched.
            h.list_in(BAD_CONTEXT)
                .await
                .assert_exact(r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#);
        }
        Deviation::ApiTokenEchoed => {
            let answers = [
                h.create(full_fields("Echo01", "e")).await,
                h.list().await,
                h.patch("Echo01", json!({"Name": "f"})).await,
                h.delete("Echo01").await,
            ];
            for answer in answers {
                assert_eq!(answer.status, 200);
                assert_eq!(answer.text.contains(&h.token), on, "{}", answer.text);
                let body = answer.json();
                let objects = match &body {
                    Value::Array(list) => list.clone(),
                    object => vec![object.clone()],
                };
                for object in objects {
                    let echoed = object.get("api_token").is_some();
                    assert_eq!(echoed, on, "{object}");
                    if on {
                        assert_eq!(object["username"], h.username);
                        assert_eq!(object["contextname"], h.context);
                    }
                }
            }
            // Errors stay exact.
            h.send(Method::GET, None, &h.bad_token_body(json!({})))
                .await
                .assert_exact(TOKEN_ERROR);
        }
        Deviation::ListTruncatedAt250 => {
            for i in 0..259 {
                h.create(json!({"UserID": format!("L{i:03}"), "Name": "l"}))
                    .await
                    .assert_customer();
            }
            let listed = h.list().await.json();
            assert_eq!(
                listed.as_array().map(Vec::len),
                Some(if on { 250 } else { 260 })
            );
            // The first 250 in id order: the preloaded one comes first.
            assert_eq!(listed[0]["UserID"], KNOWN);
        }
        Deviation::PatchIgnoresEmptyStrings => {
            let answer = h
                .patch(KNOWN, json!({"Address": "", "Name": "Renamed"}))
                .await
                .assert_customer();
            // The answer shows what was sent either way.
            assert_eq!(answer["Address"], "");
            assert_eq!(answer["Name"], "Renamed");
            let stored = h.stored(KNOWN).expect("kept");
            assert_eq!(stored.address, pick("Chennai", ""));
            assert_eq!(stored.name, "Renamed");
            let listed = h.list().await.json();
            assert_eq!(listed[0]["Address"], pick("Chennai", ""));
        }
        Deviation::ControlCharactersStripped => {
            let created = h
                .create(json!({"UserID": "X1", "Name": "line1\nline2\tend\u{7}"}))
                .await
                .assert_customer();
            assert_eq!(
                created["Name"],
                pick("line1line2end", "line1\nline2\tend\u{7}")
            );
        }
    }
}

/// Up to three rounds of 16 concurrent creates of one new UserID; the
/// largest number of successes in one round.
async fn race_creates(h: &Harness) -> usize {
    let mut most = 0;
    for round in 0..3 {
        let user_id = format!("Race{round:02}");
        let mut tasks = Vec::new();
        for i in 0..16 {
            let request = h
                .client
                .post(h.url(None))
                .header("Content-Type", "application/json")
                .body(
                    h.body(json!({"UserID": user_id, "Name": format!("racer {i}")}))
                        .to_string(),
                );
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.expect("request sent");
                response.json::<Value>().await.expect("JSON answer")
            }));
        }
        let mut successes = 0;
        for task in tasks {
            if task.await.expect("task").get("id").is_some() {
                successes += 1;
            }
        }
        assert_eq!(h.stored_all(&user_id).len(), successes);
        most = most.max(successes);
        if most > 1 {
            break;
        }
    }
    most
}

/// Declares one test per deviation, and the list of deviations tested.
macro_rules! deviation_tests {
    ($($test:ident => $variant:ident,)+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                check(Deviation::$variant).await;
            }
        )+

        const TESTED: &[Deviation] = &[$(Deviation::$variant),+];
    };
}

deviation_tests! {
    token_error_status_mixed_case => TokenErrorStatusMixedCase,
    token_error_http_401 => TokenErrorHttp401,
    context_error_status_upper_case => ContextErrorStatusUpperCase,
    context_error_omits_name => ContextErrorOmitsName,
    context_error_message_reworded => ContextErrorMessageReworded,
    forbidden_error_omits_username => ForbiddenErrorOmitsUsername,
    forbidden_error_http_403 => ForbiddenErrorHttp403,
    forbidden_context_not_checked => ForbiddenContextNotChecked,
    token_not_checked_on_delete => TokenNotCheckedOnDelete,
    list_works_with_bad_token => ListWorksWithBadToken,
    create_applied_despite_token_error => CreateAppliedDespiteTokenError,
    patch_applied_despite_token_error => PatchAppliedDespiteTokenError,
    context_isolation_broken => ContextIsolationBroken,
    phone_number_as_number => PhoneNumberAsNumber,
    email_field_renamed => EmailFieldRenamed,
    id_as_string => IdAsString,
    put_acts_like_patch => PutActsLikePatch,
    patch_blanks_omitted_fields => PatchBlanksOmittedFields,
    id_changes_on_update => IdChangesOnUpdate,
    create_drops_alt_phone => CreateDropsAltPhone,
    put_drops_address => PutDropsAddress,
    patch_ignores_name => PatchIgnoresName,
    put_missing_fields_partially_applied => PutMissingFieldsPartiallyApplied,
    delete_returns_status => DeleteReturnsStatus,
    delete_not_persisted => DeleteNotPersisted,
    create_returns_status => CreateReturnsStatus,
    list_wrapped_in_object => ListWrappedInObject,
    list_truncated_at_50 => ListTruncatedAt50,
    non_json_content_type => NonJsonContentType,
    non_atomic_uniqueness => NonAtomicUniqueness,
    duplicate_userid_accepted => DuplicateUserIdAccepted,
    missing_name_accepted => MissingNameAccepted,
    truncate_long_values => TruncateLongValues,
    mangle_non_ascii => MangleNonAscii,
    trim_whitespace => TrimWhitespace,
    control_characters_stripped => ControlCharactersStripped,
    token_prefix_accepted => TokenPrefixAccepted,
    token_extension_accepted => TokenExtensionAccepted,
    token_case_insensitive => TokenCaseInsensitive,
    token_trimmed => TokenTrimmed,
    token_check_skipped_when_absent => TokenCheckSkippedWhenAbsent,
    token_array_unwrapped => TokenArrayUnwrapped,
    username_follows_name => UsernameFollowsName,
    username_case_insensitive => UsernameCaseInsensitive,
    context_case_insensitive => ContextCaseInsensitive,
    context_defaults_when_absent => ContextDefaultsWhenAbsent,
    user_id_prefix_match => UserIdPrefixMatch,
    user_id_case_insensitive => UserIdCaseInsensitive,
    user_id_double_decoded => UserIdDoubleDecoded,
    forbidden_error_carries_data => ForbiddenErrorCarriesData,
    error_envelope_extra_member => ErrorEnvelopeExtraMember,
    api_token_echoed => ApiTokenEchoed,
    list_truncated_at_250 => ListTruncatedAt250,
    patch_ignores_empty_strings => PatchIgnoresEmptyStrings,
}

#[test]
fn every_deviation_has_its_own_test() {
    let tested: BTreeSet<Deviation> = TESTED.iter().copied().collect();
    let all: BTreeSet<Deviation> = Deviation::ALL.into_iter().collect();
    assert_eq!(tested, all);
    assert_eq!(
        TESTED.len(),
        Deviation::ALL.len(),
        "a deviation is tested twice"
    );
    assert!(Deviation::ALL.len() >= 54);
}

#[test]
fn deviation_names_descriptions_and_behaviour_keywords() {
    let mut names = BTreeSet::new();
    for deviation in Deviation::ALL {
        let name = deviation.name();
        assert!(names.insert(name), "{name} twice");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name} is not kebab-case"
        );
        assert_eq!(deviation.to_string(), name);
        assert!(!deviation.description().is_empty(), "{name}");
        assert!(!deviation.description().contains('\n'), "{name}");
        assert!(!deviation.behaviour().is_empty(), "{name}");
        for keyword in deviation.behaviour() {
            assert_eq!(*keyword, keyword.to_lowercase(), "{name}: {keyword}");
        }
    }
}

#[test]
fn behaviour_keywords_name_the_operation_or_error_they_break() {
    let cases = [
        (
            Deviation::TokenNotCheckedOnDelete,
            "errors::invalid_token::delete",
            "Error Handling › Invalid API Token",
        ),
        (
            Deviation::ContextErrorOmitsName,
            "errors::invalid_context::list",
            "Error Handling › Invalid Context Name",
        ),
        (
            Deviation::ForbiddenContextNotChecked,
            "errors::forbidden_context::put",
            "Error Handling › Unauthorized Context Access",
        ),
        (
            Deviation::PatchBlanksOmittedFields,
            "crud::patch_keeps_omitted_fields",
            "Managing IPDR Customers › Partially Updating Customer Information",
        ),
        (
            Deviation::PutDropsAddress,
            "crud::put_replaces_all_fields",
            "Managing IPDR Customers › Updating Customer Information",
        ),
        (
            Deviation::DeleteNotPersisted,
            "crud::delete_removes",
            "Managing IPDR Customers › Deleting a Customer",
        ),
        (
            Deviation::ListWrappedInObject,
            "crud::list_array",
            "Managing IPDR Customers › Retrieving Customer List",
        ),
        (
            Deviation::MangleNonAscii,
            "roundtrip::unicode_create",
            "Managing IPDR Customers › Creating a New Customer",
        ),
        (
            Deviation::ContextIsolationBroken,
            "isolation::second_context_list",
            "Authentication",
        ),
        (
            Deviation::DuplicateUserIdAccepted,
            "validation::duplicate_user_id",
            "Managing IPDR Customers › Creating a New Customer",
        ),
        (
            Deviation::TokenPrefixAccepted,
            "auth::api_token::prefix",
            "Error Handling › Invalid API Token",
        ),
        (
            Deviation::TokenCheckSkippedWhenAbsent,
            "auth::api_token::absent",
            "Authentication",
        ),
        (
            Deviation::UsernameFollowsName,
            "cross_user::token_with_other_username",
            "Authentication",
        ),
        (
            Deviation::UsernameCaseInsensitive,
            "auth::username::case_changed",
            "Authentication",
        ),
        (
            Deviation::ContextDefaultsWhenAbsent,
            "auth::contextname::absent",
            "Authentication",
        ),
        (
            Deviation::UserIdDoubleDecoded,
            "user_id_variants::percent_encoded",
            "Managing IPDR Customers",
        ),
        (
            Deviation::ForbiddenErrorCarriesData,
            "errors::forbidden_context::list",
            "Error Handling › Unauthorized Context Access",
        ),
        (
            Deviation::ErrorEnvelopeExtraMember,
            "errors::invalid_token::list",
            "Error Handling › Invalid API Token",
        ),
        (
            Deviation::ApiTokenEchoed,
            "security::token_never_echoed",
            "Authentication",
        ),
        (
            Deviation::ListTruncatedAt250,
            "completeness::list_holds_more_than_250",
            "Managing IPDR Customers › Retrieving Customer List",
        ),
        (
            Deviation::PatchIgnoresEmptyStrings,
            "roundtrip::empty_string::partial_update",
            "Managing IPDR Customers › Partially Updating Customer Information",
        ),
    ];
    for (deviation, name, citation) in cases {
        let name = name.to_lowercase();
        let citation = citation.to_lowercase();
        assert!(
            deviation
                .behaviour()
                .iter()
                .any(|k| name.contains(k) || citation.contains(k)),
            "{deviation} does not claim {name} / {citation}"
        );
    }
}

// ------------------------------------------------------------------ alt flavour

async fn alt() -> Harness {
    Harness::with_config(ServerConfig::builtin().with_flavour(Flavour::Alt)).await
}

/// Asserts an alt-flavour unspecified error: this status and code, no Trisul envelope.
fn assert_alt_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.content_type, "application/json");
    let body = answer.json();
    assert_eq!(body["error"]["code"], code, "{}", answer.text);
    assert!(body["error"]["detail"].is_string(), "{}", answer.text);
    assert!(body.get("status").is_none(), "{}", answer.text);
}

#[test]
fn flavour_names_are_the_clap_values() {
    use clap::ValueEnum;
    let names: Vec<String> = Flavour::value_variants()
        .iter()
        .map(|f| f.to_possible_value().expect("named").get_name().to_string())
        .collect();
    assert_eq!(names, ["reference", "alt", "strict"]);
    assert_eq!(Flavour::default(), Flavour::Reference);
    assert_eq!(Flavour::Alt.to_string(), "alt");
    assert_eq!(Flavour::Strict.to_string(), "strict");
}

#[tokio::test]
async fn alt_ids_start_at_1000_and_go_up_with_gaps() {
    let h = alt().await;
    let a = h.create(json!({"UserID": "A", "Name": "a"})).await.json();
    let b = h
        .create_in(&h.second, json!({"UserID": "B", "Name": "b"}))
        .await
        .json();
    let c = h.create(json!({"UserID": "C", "Name": "c"})).await.json();
    assert_eq!([&a["id"], &b["id"], &c["id"]], [1000, 1007, 1014]);
    // Updates keep the id (documented), as in the reference.
    let put = h.put("A", full_fields("A", "a2")).await.assert_customer();
    let patched = h.patch("A", json!({"Name": "a3"})).await.assert_customer();
    assert_eq!([&put["id"], &patched["id"]], [1000, 1000]);
}

#[tokio::test]
async fn alt_ids_follow_larger_preloaded_ids() {
    let h = Harness::with_config(config().with_flavour(Flavour::Alt)).await;
    // The preload's unnumbered customer took 1000; the next is 1007.
    assert_eq!(h.snapshot()["restricted"][0].id, 1000);
    let created = h.create(json!({"UserID": "N", "Name": "n"})).await.json();
    assert_eq!(created["id"], 1007);
}

#[tokio::test]
async fn alt_lists_newest_first() {
    let h = alt().await;
    for user_id in ["First", "Second", "Third"] {
        h.create(json!({"UserID": user_id, "Name": "x"}))
            .await
            .assert_customer();
    }
    let listed = h.list().await;
    assert_eq!(listed.status, 200);
    assert_eq!(user_ids(&listed.json()), ["Third", "Second", "First"]);
    // The snapshot stays in id order.
    let stored: Vec<String> = h.snapshot()["default"]
        .iter()
        .map(|c| c.user_id.clone())
        .collect();
    assert_eq!(stored, ["First", "Second", "Third"]);
}

#[tokio::test]
async fn alt_answers_unspecified_errors_with_4xx_and_its_own_shape() {
    let h = alt().await;
    h.create(full_fields(KNOWN, "Trisul"))
        .await
        .assert_customer();
    let before = h.snapshot();

    assert_alt_error(
        &h.patch("Nope", json!({"Name": "x"})).await,
        404,
        "not_found",
    );
    assert_alt_error(&h.delete("Nope").await, 404, "not_found");
    assert_alt_error(&h.create(full_fields(KNOWN, "Dup")).await, 409, "conflict");
    assert_alt_error(
        &h.create(json!({"UserID": "u"})).await,
        422,
        "missing_fields",
    );
    assert_alt_error(
        &h.put(KNOWN, json!({"Name": "Changed", "UserID": KNOWN}))
            .await,
        422,
        "missing_fields",
    );
    let mut typed = full_fields("New", "n");
    typed["Email"] = json!(5);
    assert_alt_error(&h.create(typed).await, 422, "invalid_type");
    assert_alt_error(
        &h.patch(KNOWN, json!({"PhoneNumber": null})).await,
        422,
        "invalid_type",
    );
    for body in ["", "{", "[]", "42"] {
        assert_alt_error(&h.raw(Method::POST, None, body).await, 400, "bad_request");
    }
    assert_eq!(h.snapshot(), before, "no refused request changes anything");
}

#[tokio::test]
async fn alt_keeps_the_documented_envelopes_exactly() {
    let h = Harness::with_config(config().with_flavour(Flavour::Alt)).await;
    let before = h.snapshot();
    let operations = [
        (Method::GET, None, json!({})),
        (Method::POST, None, full_fields("New001", "New")),
        (Method::PUT, Some(KNOWN), full_fields(KNOWN, "Changed")),
        (Method::PATCH, Some(KNOWN), json!({"Name": "Changed"})),
        (Method::DELETE, Some(KNOWN), json!({})),
    ];
    let forbidden = json!({"status": "Error", "message": format!(
        "The user ({}) is not allowed to access the context {}", h.username, h.forbidden)})
    .to_string();
    for (method, user_id, fields) in operations {
        h.send(method.clone(), user_id, &h.bad_token_body(fields.clone()))
            .await
            .assert_exact(TOKEN_ERROR);
        h.send(
            method.clone(),
            user_id,
            &h.body_in(BAD_CONTEXT, fields.clone()),
        )
        .await
        .assert_exact(r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#);
        h.send(method.clone(), user_id, &h.body_in(&h.forbidden, fields))
            .await
            .assert_exact(&forbidden);
    }
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn alt_adds_request_id_and_powered_by_headers() {
    let h = alt().await;
    let answers = [
        h.list().await,
        h.create(json!({"UserID": "H", "Name": "h"})).await,
        h.list_in(BAD_CONTEXT).await,
        h.delete("Nope").await,
    ];
    let mut ids = BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer.header("x-powered-by"), Some("alt"));
        let id = answer.header("x-request-id").expect("X-Request-Id");
        assert!(ids.insert(id.to_string()), "request id {id} repeated");
    }
    // The reference adds neither.
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    let answer = reference.list().await;
    assert!(answer.header("x-powered-by").is_none());
    assert!(answer.header("x-request-id").is_none());
}

#[tokio::test]
async fn alt_lets_the_path_user_id_win_over_the_body() {
    let h = alt().await;
    h.create(full_fields(KNOWN, "Trisul"))
        .await
        .assert_customer();
    h.create(full_fields("Other1", "Other"))
        .await
        .assert_customer();
    let put = h
        .put(KNOWN, full_fields("Other1", "Put"))
        .await
        .assert_customer();
    assert_eq!(put["UserID"], KNOWN);
    assert_eq!(put["Name"], "Put");
    let patched = h
        .patch(KNOWN, json!({"UserID": "Renamed", "Name": "Patched"}))
        .await
        .assert_customer();
    assert_eq!(patched["UserID"], KNOWN);
    let stored: Vec<(String, String)> = h.snapshot()["default"]
        .iter()
        .map(|c| (c.user_id.clone(), c.name.clone()))
        .collect();
    assert_eq!(
        stored,
        [
            (KNOWN.to_string(), "Patched".to_string()),
            ("Other1".to_string(), "Other".to_string())
        ]
    );
}

#[tokio::test]
async fn alt_reads_auth_from_the_query_string_when_absent_from_the_body() {
    let h = alt().await;
    h.create(json!({"UserID": "Q", "Name": "q"}))
        .await
        .assert_customer();
    let query = format!(
        "{}?api_token={}&username={}&contextname={}",
        h.url(None),
        h.token,
        h.username,
        h.context
    );
    let listed = h.raw_at(Method::GET, query.clone(), "{}").await;
    assert_eq!(user_ids(&listed.json()), ["Q"]);

    // Percent-encoding is decoded; the body may carry some of the fields.
    let partial = format!(
        "{}?api_token={}&contextname=%64efault",
        h.url(None),
        h.token
    );
    let body = json!({"username": h.username}).to_string();
    let listed = h.raw_at(Method::GET, partial, body).await;
    assert_eq!(user_ids(&listed.json()), ["Q"]);

    // The body wins when both carry a field.
    let bad_in_body = h.bad_token_body(json!({})).to_string();
    h.raw_at(Method::GET, query, bad_in_body)
        .await
        .assert_exact(TOKEN_ERROR);
    let bad_in_query = format!(
        "{}?api_token={BAD_TOKEN}&username=nobody&contextname=ipdrr",
        h.url(None)
    );
    let listed = h
        .raw_at(Method::GET, bad_in_query, h.body(json!({})).to_string())
        .await;
    assert_eq!(user_ids(&listed.json()), ["Q"]);

    // Other operations too; a body is still needed (malformed otherwise).
    let delete = format!(
        "{}?api_token={}&username={}&contextname={}",
        h.url(Some("Q")),
        h.token,
        h.username,
        h.context
    );
    assert_alt_error(
        &h.raw_at(Method::DELETE, delete.clone(), "").await,
        400,
        "bad_request",
    );
    let deleted = h.raw_at(Method::DELETE, delete, "{}").await;
    assert_eq!(deleted.assert_customer()["UserID"], "Q");

    // The reference reads the body only.
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    let url = format!(
        "{}?api_token={}&username={}&contextname={}",
        reference.url(None),
        reference.token,
        reference.username,
        reference.context
    );
    reference
        .raw_at(Method::GET, url, "{}")
        .await
        .assert_exact(TOKEN_ERROR);
}

#[tokio::test]
async fn alt_answers_omitted_optional_fields_as_null() {
    let h = alt().await;
    h.create(json!({"UserID": "N", "Name": "n"}))
        .await
        .assert_exact(
            r#"{"id":1000,"Name":"n","Address":null,"Email":null,"PhoneNumber":null,"AltPhoneNumber":null,"UserID":"N"}"#,
        );
    let patched = h
        .patch("N", json!({"Address": "Somewhere"}))
        .await
        .assert_customer();
    assert_eq!(patched["Address"], "Somewhere");
    assert_eq!(patched["Email"], Value::Null);
    // An empty PATCH returns the record unchanged.
    let same = h.patch("N", json!({})).await.assert_customer();
    assert_eq!(same, patched);
    // The list shows the same; PUT sets every field.
    assert_eq!(h.list().await.json()[0], patched);
    let put = h.put("N", full_fields("N", "n")).await.assert_customer();
    assert_eq!(put["Email"], "demo@gmail.com");
    // Given fields are strings, also an empty one.
    let created = h
        .create(json!({"UserID": "E", "Name": "e", "Email": ""}))
        .await
        .assert_customer();
    assert_eq!(created["Email"], "");
    assert_eq!(created["Address"], Value::Null);
    // The snapshot reads unset fields as "".
    assert_eq!(h.snapshot()["default"][1].address, "");
}

#[tokio::test]
async fn alt_keeps_documented_update_and_delete_semantics() {
    let h = alt().await;
    let fields = full_fields(KNOWN, "Trisul");
    let created = h.create(fields.clone()).await.assert_customer();

    // PATCH keeps omitted fields.
    let patched = h
        .patch(KNOWN, json!({"Address": "Partially Updated"}))
        .await
        .assert_customer();
    assert_eq!(patched["Name"], "Trisul");
    assert_eq!(patched["Address"], "Partially Updated");
    assert_eq!(patched["id"], created["id"]);

    // PUT requires every field and changes nothing when refused.
    let before = h.snapshot();
    let refused = h.put(KNOWN, json!({"Name": "Changed"})).await;
    assert_eq!(refused.status, 422);
    assert_eq!(h.snapshot(), before);

    // DELETE returns the deleted object and removes it.
    let deleted = h.delete(KNOWN).await.assert_customer();
    assert_eq!(deleted, patched);
    h.list().await.assert_exact("[]");
}

#[tokio::test]
async fn alt_put_of_an_unknown_user_id_creates_it_with_exactly_the_values_sent() {
    let h = alt().await;
    let fields = full_fields("Upsert1", "Trisul Network Analyzer");
    let put = h.put("Upsert1", fields.clone()).await.assert_customer();
    let mut expected = fields.clone();
    expected["id"] = json!(1000);
    assert_eq!(put, expected);
    // One record, in the request's context only, listed as answered.
    assert_eq!(h.stored_all("Upsert1").len(), 1);
    assert_eq!(h.list().await.json(), json!([put]));
    h.list_in(&h.second).await.assert_exact("[]");
    // A second PUT updates it (same id), it does not add another.
    let mut changed = fields;
    changed["Address"] = json!("India");
    let again = h.put("Upsert1", changed).await.assert_customer();
    assert_eq!(again["id"], 1000);
    assert_eq!(again["Address"], "India");
    assert_eq!(h.stored_all("Upsert1").len(), 1);
    // PATCH and DELETE of an unknown UserID are still refused.
    let before = h.snapshot();
    assert_alt_error(
        &h.patch("Nope", json!({"Name": "x"})).await,
        404,
        "not_found",
    );
    assert_alt_error(&h.delete("Nope").await, 404, "not_found");
    // A PUT missing fields creates nothing either.
    let refused = h
        .put("Partial1", json!({"Name": "p", "UserID": "Partial1"}))
        .await;
    assert_alt_error(&refused, 422, "missing_fields");
    assert_eq!(h.snapshot(), before);

    // The reference refuses the PUT and creates nothing.
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    let answer = reference.put("Upsert1", full_fields("Upsert1", "n")).await;
    assert_eq!(answer.json()["message"], "IPDR Customer not found");
    assert!(reference.stored("Upsert1").is_none());
}

#[tokio::test]
async fn alt_keeps_contexts_isolated_and_user_ids_unique_per_context() {
    let h = alt().await;
    h.create(full_fields("Same01", "In default"))
        .await
        .assert_customer();
    h.list_in(&h.second).await.assert_exact("[]");
    let other = h
        .create_in(&h.second, full_fields("Same01", "In second"))
        .await
        .assert_customer();
    assert_eq!(other["Name"], "In second");
    h.send(
        Method::DELETE,
        Some("Same01"),
        &h.body_in(&h.second, json!({})),
    )
    .await
    .assert_customer();
    assert_eq!(h.list().await.json()[0]["Name"], "In default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn alt_concurrent_creates_of_one_user_id_yield_exactly_one_record() {
    let h = alt().await;
    assert_eq!(race_creates(&h).await, 1);
}

// ------------------------------------------------------------------ strict flavour

async fn strict() -> Harness {
    Harness::with_config(ServerConfig::builtin().with_flavour(Flavour::Strict)).await
}

/// The page's create example ("Creating a New Customer"): every value ordinary.
fn page_example() -> Value {
    full_fields(KNOWN, "Trisul")
}

/// Asserts a strict-flavour validation-style error: this status, JSON
/// `{"errors":[...]}` naming `field`, no Trisul envelope.
fn assert_strict_error(answer: &Answer, status: u16, field: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.content_type, "application/json", "{}", answer.text);
    let body = answer.json();
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {}", answer.text));
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["detail"].is_string()),
        "{field} not named: {}",
        answer.text
    );
    assert!(body.get("status").is_none(), "{}", answer.text);
}

/// Asserts the strict not-found answer: 404, text/plain, not JSON.
fn assert_strict_not_found(answer: &Answer) {
    assert_eq!(answer.status, 404, "{}", answer.text);
    assert!(
        answer.content_type.starts_with("text/plain"),
        "{}",
        answer.content_type
    );
    assert_eq!(answer.text, "no such customer");
    assert!(serde_json::from_str::<Value>(&answer.text).is_err());
}

/// Asserts a strict customer object: exactly `fields` (the page's members)
/// plus `created_at` (RFC 3339, UTC) and `Context`.
fn assert_strict_customer(object: &Value, fields: &Value, context: &str) {
    let mut page_members = object.clone();
    let members = page_members.as_object_mut().expect("an object");
    let created_at = members.remove("created_at").expect("created_at");
    let created_at = created_at.as_str().expect("created_at is a string");
    assert_eq!(
        created_at.len(),
        "2024-02-29T12:34:56.789Z".len(),
        "{created_at}"
    );
    assert!(
        created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
        "{created_at}"
    );
    assert_eq!(members.remove("Context"), Some(json!(context)));
    assert!(members.get("id").is_some_and(Value::is_i64), "{object}");
    members.remove("id");
    assert_eq!(&page_members, fields, "{object}");
}

#[tokio::test]
async fn strict_answers_the_page_examples_as_shown_plus_its_own_members() {
    let h = strict().await;
    // Create ("Creating a New Customer").
    let created = h.create(page_example()).await;
    assert_eq!(created.content_type, "application/json");
    let created = created.assert_customer();
    assert_strict_customer(&created, &page_example(), "default");
    let id = created["id"].clone();
    assert_eq!(id, 1);

    // PUT ("Updating Customer Information"): every field, id kept.
    let put_fields = json!({"Name": "Trisul Network Analyzer", "Address": "India",
        "Email": "test@gmail.com", "PhoneNumber": "3333333333",
        "AltPhoneNumber": "5555555555", "UserID": KNOWN});
    let put = h.put(KNOWN, put_fields.clone()).await.assert_customer();
    assert_strict_customer(&put, &put_fields, "default");
    assert_eq!(put["id"], id);
    assert_eq!(put["created_at"], created["created_at"]);

    // PATCH ("Partially Updating Customer Information"): omitted fields kept.
    let mut patched_fields = put_fields.clone();
    patched_fields["Address"] = json!("Partially Updated");
    let patched = h
        .patch(KNOWN, json!({"Address": "Partially Updated"}))
        .await
        .assert_customer();
    assert_strict_customer(&patched, &patched_fields, "default");
    assert_eq!(patched["id"], id);

    // List ("Retrieving Customer List"): the stored values.
    let listed = h.list().await;
    assert_eq!(listed.status, 200);
    let listed = listed.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_strict_customer(&listed[0], &patched_fields, "default");

    // DELETE ("Deleting a Customer"): the deleted object, then gone.
    let deleted = h.delete(KNOWN).await.assert_customer();
    assert_eq!(deleted, patched);
    h.list().await.assert_exact("[]");
    assert!(h.stored(KNOWN).is_none());
}

#[tokio::test]
async fn strict_refuses_values_unlike_the_page_examples_and_stores_nothing() {
    let h = strict().await;
    h.create(page_example()).await.assert_customer();
    let before = h.snapshot();
    let long = "a".repeat(65);
    let refused_creates = [
        ("Name", json!({"UserID": "New001", "Name": "tab\there"})),
        ("Name", json!({"UserID": "New001", "Name": ""})),
        ("Name", json!({"UserID": "New001", "Name": " padded"})),
        ("Name", json!({"UserID": "New001", "Name": "Zoë"})),
        ("Name", json!({"UserID": "New001", "Name": long})),
        ("UserID", json!({"UserID": "", "Name": "n"})),
        ("UserID", json!({"UserID": "with space", "Name": "n"})),
        (
            "Email",
            json!({"UserID": "New001", "Name": "n", "Email": "not-an-email"}),
        ),
        (
            "PhoneNumber",
            json!({"UserID": "New001", "Name": "n", "PhoneNumber": "+91 1234"}),
        ),
        (
            "Address",
            json!({"UserID": "New001", "Name": "n", "Address": ""}),
        ),
    ];
    for (field, fields) in refused_creates {
        assert_strict_error(&h.create(fields).await, 422, field);
    }
    let mut tabbed = page_example();
    tabbed["Address"] = json!("line\nbreak");
    assert_strict_error(&h.put(KNOWN, tabbed).await, 422, "Address");
    assert_strict_error(&h.patch(KNOWN, json!({"Email": ""})).await, 422, "Email");
    // A path UserID unlike the examples, on every operation naming one.
    let odd_path = format!("{}/a%20b", h.url(None));
    for (method, fields) in [
        (Method::PUT, full_fields("a b", "n")),
        (Method::PATCH, json!({"Name": "n"})),
        (Method::DELETE, json!({})),
    ] {
        let answer = h
            .raw_at(method, odd_path.clone(), h.body(fields).to_string())
            .await;
        assert_strict_error(&answer, 422, "path");
    }
    assert_eq!(h.snapshot(), before, "a refused request changed something");

    // The reference accepts (and stores exactly) what strict refuses.
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    let created = reference
        .create(json!({"UserID": "New001", "Name": "tab\there"}))
        .await
        .assert_customer();
    assert_eq!(created["Name"], "tab\there");
}

#[tokio::test]
async fn strict_refuses_a_user_id_that_exists_in_any_context() {
    let h = strict().await;
    h.create(page_example()).await.assert_customer();
    let before = h.snapshot();
    // The same context, and another one.
    assert_strict_error(&h.create(full_fields(KNOWN, "Again")).await, 409, "UserID");
    assert_strict_error(
        &h.create_in(&h.second, full_fields(KNOWN, "Elsewhere"))
            .await,
        409,
        "UserID",
    );
    assert_eq!(h.snapshot(), before);
    // Once deleted, the UserID is free again, in any context.
    h.delete(KNOWN).await.assert_customer();
    h.create_in(&h.second, full_fields(KNOWN, "Elsewhere"))
        .await
        .assert_customer();
}

#[tokio::test]
async fn strict_refuses_empty_patches_and_patches_renaming_the_record() {
    let h = strict().await;
    h.create(page_example()).await.assert_customer();
    let before = h.snapshot();
    assert_strict_error(&h.patch(KNOWN, json!({})).await, 422, "base");
    assert_strict_error(&h.patch(KNOWN, json!({"UserID": KNOWN})).await, 422, "base");
    assert_strict_error(
        &h.patch(KNOWN, json!({"UserID": "Other1", "Name": "Renamed"}))
            .await,
        422,
        "UserID",
    );
    assert_eq!(h.snapshot(), before);
    // "(any field)": a PATCH naming its own UserID beside a change is accepted.
    let patched = h
        .patch(KNOWN, json!({"UserID": KNOWN, "Name": "Same id"}))
        .await
        .assert_customer();
    assert_eq!(patched["Name"], "Same id");
}

#[tokio::test]
async fn strict_refuses_unknown_keys_missing_fields_wrong_types_and_malformed_json() {
    let h = strict().await;
    h.create(page_example()).await.assert_customer();
    let before = h.snapshot();

    // Unknown body keys, on a create and on a list.
    let mut with_id = full_fields("New001", "n");
    with_id["id"] = json!(3);
    assert_strict_error(&h.create(with_id).await, 422, "id");
    assert_strict_error(
        &h.send(Method::GET, None, &h.body(json!({"page": 2}))).await,
        422,
        "page",
    );
    // Missing mandatory fields.
    assert_strict_error(&h.create(json!({"UserID": "New001"})).await, 422, "Name");
    assert_strict_error(
        &h.put(KNOWN, json!({"Name": "Changed", "UserID": KNOWN}))
            .await,
        422,
        "Address",
    );
    // Wrong JSON types.
    let mut typed = full_fields("New001", "n");
    typed["Email"] = json!(5);
    assert_strict_error(&h.create(typed).await, 422, "Email");
    assert_strict_error(&h.patch(KNOWN, json!({"Name": null})).await, 422, "Name");
    // A body UserID other than the path's.
    assert_strict_error(
        &h.put(KNOWN, full_fields("Other1", "n")).await,
        422,
        "UserID",
    );
    assert_strict_error(
        &h.send(
            Method::DELETE,
            Some(KNOWN),
            &h.body(json!({"UserID": "Other1"})),
        )
        .await,
        422,
        "UserID",
    );
    // Auth parameters absent, null, of another type or empty: invalid input,
    // not the token envelope (the page names no answer for them).
    for key in ["api_token", "username", "contextname"] {
        for sent in [None, Some(Value::Null), Some(json!(["x"])), Some(json!(""))] {
            let answer = h
                .send(Method::GET, None, &list_body_with(&h, key, sent.clone()))
                .await;
            assert_strict_error(&answer, 422, key);
        }
    }
    // Malformed JSON: 400, a problem document.
    for body in ["", "{", "[]", "42", "null"] {
        let answer = h.raw(Method::POST, None, body).await;
        assert_eq!(answer.status, 400, "{body:?}: {}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.json()["status"], 400);
    }
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn strict_validates_then_checks_context_then_token_then_access() {
    let h = strict().await;
    h.create(page_example()).await.assert_customer();
    let before = h.snapshot();
    let token_error = |answer: Answer| answer.assert_exact(TOKEN_ERROR);
    let bad_context = r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#;

    // An invalid token with an invalid body: the validation error.
    let mut body = h.bad_token_body(json!({"UserID": "New001", "Name": "tab\there"}));
    assert_strict_error(&h.send(Method::POST, None, &body).await, 422, "Name");
    // An invalid token in an invalid context: the invalid-context envelope.
    body = h.bad_token_body(json!({}));
    body["contextname"] = json!(BAD_CONTEXT);
    h.send(Method::GET, None, &body)
        .await
        .assert_exact(bad_context);
    // An invalid token in a forbidden context: the token envelope.
    body["contextname"] = json!(h.forbidden);
    token_error(h.send(Method::GET, None, &body).await);
    // An invalid token on an unknown UserID: the token envelope (existence comes last).
    token_error(
        h.send(Method::DELETE, Some("Nope"), &h.bad_token_body(json!({})))
            .await,
    );
    // A forbidden context on an unknown UserID: the forbidden envelope.
    let answer = h
        .send(
            Method::DELETE,
            Some("Nope"),
            &h.body_in(&h.forbidden, json!({})),
        )
        .await;
    answer.assert_exact(
        &json!({"status": "Error", "message": format!(
            "The user ({}) is not allowed to access the context {}", h.username, h.forbidden)})
        .to_string(),
    );
    assert_eq!(h.snapshot(), before);

    // The reference checks the token first.
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    let mut body = reference.bad_token_body(json!({}));
    body["contextname"] = json!(BAD_CONTEXT);
    token_error(reference.send(Method::GET, None, &body).await);
}

#[tokio::test]
async fn strict_keeps_the_documented_envelopes_exactly_with_http_200() {
    let h = Harness::with_config(config().with_flavour(Flavour::Strict)).await;
    let before = h.snapshot();
    let operations = [
        (Method::GET, None, json!({})),
        (Method::POST, None, full_fields("New001", "New")),
        (Method::PUT, Some(KNOWN), full_fields(KNOWN, "Changed")),
        (Method::PATCH, Some(KNOWN), json!({"Name": "Changed"})),
        (Method::DELETE, Some(KNOWN), json!({})),
    ];
    let forbidden = json!({"status": "Error", "message": format!(
        "The user ({}) is not allowed to access the context {}", h.username, h.forbidden)})
    .to_string();
    for (method, user_id, fields) in operations {
        let answer = h
            .send(method.clone(), user_id, &h.bad_token_body(fields.clone()))
            .await;
        answer.assert_exact(TOKEN_ERROR);
        assert_eq!(answer.header("connection"), Some("close"));
        h.send(
            method.clone(),
            user_id,
            &h.body_in(BAD_CONTEXT, fields.clone()),
        )
        .await
        .assert_exact(r#"{"status":"Error","message":"Invalid Context name - ipdrr"}"#);
        h.send(method.clone(), user_id, &h.body_in(&h.forbidden, fields))
            .await
            .assert_exact(&forbidden);
    }
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn strict_reuses_the_smallest_free_id() {
    let h = strict().await;
    for (user_id, expected) in [("Id1", 1), ("Id2", 2), ("Id3", 3)] {
        let created = h
            .create(json!({"UserID": user_id, "Name": "n"}))
            .await
            .assert_customer();
        assert_eq!(created["id"], expected);
    }
    h.delete("Id2").await.assert_customer();
    let reused = h.create(json!({"UserID": "Id4", "Name": "n"})).await.json();
    assert_eq!(reused["id"], 2, "the deleted id comes back");
    // Ids are server-wide: a delete in one context frees the id for another.
    h.delete("Id1").await.assert_customer();
    let elsewhere = h
        .create_in(&h.second, json!({"UserID": "Id5", "Name": "n"}))
        .await
        .json();
    assert_eq!(elsewhere["id"], 1);
    let next = h.create(json!({"UserID": "Id6", "Name": "n"})).await.json();
    assert_eq!(next["id"], 4);

    // The reference never reuses one.
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    reference
        .create(json!({"UserID": "Id1", "Name": "n"}))
        .await;
    reference.delete("Id1").await.assert_customer();
    let created = reference
        .create(json!({"UserID": "Id2", "Name": "n"}))
        .await
        .json();
    assert_eq!(created["id"], 2);
}

#[tokio::test]
async fn strict_changes_the_list_order_between_calls() {
    let h = strict().await;
    let created: Vec<String> = (1..=5).map(|i| format!("Order{i}")).collect();
    for user_id in &created {
        h.create(json!({"UserID": user_id, "Name": "n"}))
            .await
            .assert_customer();
    }
    let mut previous: Option<Vec<String>> = None;
    for call in 0..6 {
        let listed = h.list().await;
        assert_eq!(listed.status, 200);
        let order: Vec<String> = user_ids(&listed.json())
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, created, "call {call}: not the same records");
        assert_ne!(order, created, "call {call}: id order");
        if let Some(previous) = &previous {
            assert_ne!(
                &order, previous,
                "call {call}: same order as the call before"
            );
        }
        previous = Some(order);
    }
}

#[tokio::test]
async fn strict_answers_an_unknown_user_id_with_404_text() {
    let h = strict().await;
    h.create(page_example()).await.assert_customer();
    let before = h.snapshot();
    assert_strict_not_found(&h.put("Nope", full_fields("Nope", "n")).await);
    assert_strict_not_found(&h.patch("Nope", json!({"Name": "n"})).await);
    assert_strict_not_found(&h.delete("Nope").await);
    // A record in another context is unknown here too.
    assert_strict_not_found(
        &h.send(
            Method::DELETE,
            Some(KNOWN),
            &h.body_in(&h.second, json!({})),
        )
        .await,
    );
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn strict_leaves_optional_fields_never_given_out() {
    let h = strict().await;
    let created = h
        .create(json!({"UserID": "Opt1", "Name": "Trisul"}))
        .await
        .assert_customer();
    assert_strict_customer(
        &created,
        &json!({"UserID": "Opt1", "Name": "Trisul"}),
        "default",
    );
    let patched = h
        .patch("Opt1", json!({"Address": "Chennai"}))
        .await
        .assert_customer();
    assert_strict_customer(
        &patched,
        &json!({"UserID": "Opt1", "Name": "Trisul", "Address": "Chennai"}),
        "default",
    );
    assert_eq!(h.list().await.json()[0], patched);
    // A PUT gives every field.
    let put = h
        .put("Opt1", full_fields("Opt1", "Trisul"))
        .await
        .assert_customer();
    assert_strict_customer(&put, &full_fields("Opt1", "Trisul"), "default");
}

/// Sends one keep-alive `request` on a fresh connection and reads until the
/// server closes it or `wait` passes: the bytes read and whether it closed.
fn read_until_closed(
    addr: std::net::SocketAddr,
    request: &str,
    wait: std::time::Duration,
) -> (String, bool) {
    use std::io::{ErrorKind, Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(wait)).expect("timeout set");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut received = Vec::new();
    let closed = match stream.read_to_end(&mut received) {
        Ok(_) => true,
        Err(error) if error.kind() == ErrorKind::ConnectionReset => true,
        Err(error) => {
            assert!(
                matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{error}"
            );
            false
        }
    };
    (String::from_utf8_lossy(&received).into_owned(), closed)
}

/// An HTTP/1.1 list request (keep-alive by default) for `h`'s context.
fn raw_list_request(h: &Harness) -> String {
    let body = h.body(json!({})).to_string();
    format!(
        "GET /api/ipdrcustomers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_closes_the_connection_after_each_answer() {
    let h = strict().await;
    let answers = [
        h.create(page_example()).await,
        h.list().await,
        h.send(Method::GET, None, &h.bad_token_body(json!({})))
            .await,
        h.delete("Nope").await,
        h.raw(Method::POST, None, "{").await,
    ];
    for answer in &answers {
        assert_eq!(
            answer.header("connection"),
            Some("close"),
            "{}",
            answer.text
        );
    }
    // On the wire: a keep-alive request gets its answer, then the server closes.
    let (addr, request) = (h.server.addr(), raw_list_request(&h));
    let wait = std::time::Duration::from_secs(10);
    let (text, closed) =
        tokio::task::spawn_blocking(move || read_until_closed(addr, &request, wait))
            .await
            .expect("reader");
    assert!(closed, "the server kept the connection open: {text}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains(KNOWN), "{text}");

    // The reference keeps it open (so the check above can tell).
    let reference = Harness::with_config(ServerConfig::builtin()).await;
    assert!(reference.list().await.header("connection").is_none());
    let (addr, request) = (reference.server.addr(), raw_list_request(&reference));
    let wait = std::time::Duration::from_millis(500);
    let (text, closed) =
        tokio::task::spawn_blocking(move || read_until_closed(addr, &request, wait))
            .await
            .expect("reader");
    assert!(!closed, "the reference closed the connection");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

// ------------------------------------------------------------------ the binary

/// Starts `ipdr-conformance serve --port 0 ARGS` and returns the child and its base URL.
fn serve(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ipdr-conformance"))
        .args(["serve", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("listening line")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (child, url)
}

#[test]
fn serve_lists_every_deviation_on_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_ipdr-conformance"))
        .args(["serve", "--list-deviations"])
        .output()
        .expect("binary runs");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), Deviation::ALL.len());
    for (line, deviation) in lines.iter().zip(Deviation::ALL) {
        assert!(line.starts_with(deviation.name()), "{line}");
        assert!(line.ends_with(deviation.description()), "{line}");
    }
}

#[tokio::test]
async fn serve_takes_flavour_and_deviations_from_the_command_line() {
    let client = reqwest::Client::new();
    let credentials = ipdr_conformance::reference::UsersFixture::builtin().harness();
    let body = json!({"api_token": credentials.api_token, "username": credentials.username,
        "contextname": credentials.context, "UserID": "Cli", "Name": "c"})
    .to_string();

    let (mut child, url) = serve(&["--flavour", "alt"]);
    let answer = client
        .post(format!("{url}/api/ipdrcustomers"))
        .body(body.clone())
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let answer = answer.expect("answer");
    assert_eq!(
        answer.headers().get("x-powered-by").map(|v| v.as_bytes()),
        Some(&b"alt"[..])
    );
    assert_eq!(answer.json::<Value>().await.expect("json")["id"], 1000);

    let (mut child, url) = serve(&[
        "--deviate",
        "token-error-http-401",
        "--deviate",
        "id-as-string",
        "--deviate",
        "error-envelope-extra-member",
    ]);
    let created = client
        .post(format!("{url}/api/ipdrcustomers"))
        .body(body.clone())
        .send()
        .await;
    let refused = client
        .get(format!("{url}/api/ipdrcustomers"))
        .body(r#"{"api_token":"x","username":"user","contextname":"default"}"#)
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let created = created
        .expect("answer")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(created["id"], "1");
    let refused = refused.expect("answer");
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        refused.text().await.expect("body"),
        r#"{"status":"ERROR","message":"Invalid API token","code":401}"#
    );

    let (mut child, url) = serve(&["--flavour", "strict"]);
    let created = client
        .post(format!("{url}/api/ipdrcustomers"))
        .body(body.clone())
        .send()
        .await;
    let _ = child.kill();
    let _ = child.wait();
    let created = created.expect("answer");
    assert_eq!(
        created.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    let created = created.json::<Value>().await.expect("json");
    assert_eq!(created["Context"], "default");
    assert!(created.get("Address").is_none(), "{created}");
}
