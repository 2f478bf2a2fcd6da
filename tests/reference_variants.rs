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
    assert!(Deviation::ALL.len() >= 33);
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
    assert_eq!(names, ["reference", "alt"]);
    assert_eq!(Flavour::default(), Flavour::Reference);
    assert_eq!(Flavour::Alt.to_string(), "alt");
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
        &h.put("Nope", full_fields("Nope", "x")).await,
        404,
        "not_found",
    );
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

    // PUT to an unknown UserID is an error and creates nothing.
    assert_alt_error(
        &h.put("Unknown", full_fields("Unknown", "u")).await,
        404,
        "not_found",
    );
    assert_eq!(h.snapshot(), before);

    // DELETE returns the deleted object and removes it.
    let deleted = h.delete(KNOWN).await.assert_customer();
    assert_eq!(deleted, patched);
    h.list().await.assert_exact("[]");
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
    assert_eq!(refused.expect("answer").status().as_u16(), 401);
}
