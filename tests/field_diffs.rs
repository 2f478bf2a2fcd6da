//! Failure messages point at the difference: a list check names the field
//! of the nearest record (same UserID first) by JSON pointer instead of
//! quoting the list, `$each` shows the first few elements that differ, a
//! snapshot list pairs records by UserID, the property model names the
//! differing fields, and JUnit's failure message is the first difference.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{counts, harness_against, stable, stdout, Server};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};
use serde_json::{json, Value};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("field-diffs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    dir
}

fn server_with(deviation: Deviation) -> Server {
    Server::start(ServerConfig::new(UsersFixture::builtin()).with_deviation(deviation))
}

/// A create of `${uid:label}` with every field, checked as a customer object.
fn create(label: &str, name: &str, address: &str) -> Value {
    json!({
        "name": format!("create {label}"),
        "request": {
            "method": "POST",
            "path": "/api/ipdrcustomers",
            "body": {
                "UserID": format!("${{uid:{label}}}"),
                "Name": name,
                "Address": address,
                "Email": "demo@gmail.com",
                "PhoneNumber": "1234567890",
                "AltPhoneNumber": "9999999999"
            }
        },
        "expect": { "status": 200 }
    })
}

fn write_scenario(dir: &Path, file: &str, scenario: Value) {
    std::fs::write(
        dir.join("specs").join(file),
        serde_json::to_string_pretty(&scenario).unwrap(),
    )
    .unwrap();
}

/// Runs the scenarios of `dir` against `server` with JUnit and JSON reports.
fn run(dir: &Path, server: &Server, extra: &[&str]) -> Output {
    harness_against(&server.url())
        .current_dir(dir)
        .arg("--specs")
        .arg(dir.join("specs"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--report-json")
        .arg(dir.join("report.json"))
        .args(["--jobs", "1"])
        .args(extra)
        .arg("field_diffs::")
        .output()
        .unwrap()
}

/// The UserIDs of this run as `zzconf-[run]-[n]-` (the scenario's position in the suite).
fn pinned(text: &str) -> String {
    let text = stable(text);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("zzconf-[run]-") {
        let (head, tail) = rest.split_at(at + "zzconf-[run]-".len());
        out.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[n]");
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// The `diff (by JSON pointer):` lines of the console's failure text.
fn diff_section(out: &str) -> String {
    let start = out
        .find("diff (by JSON pointer):\n")
        .unwrap_or_else(|| panic!("no diff section in:\n{out}"));
    out[start..]
        .lines()
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `<failure message="...">` of a JUnit file, unescaped enough to read.
fn junit_failure_messages(junit: &str) -> Vec<String> {
    junit
        .split("<failure ")
        .skip(1)
        .filter_map(|tail| {
            let at = tail.find("message=\"")? + "message=\"".len();
            let end = tail[at..].find('"')?;
            Some(
                tail[at..at + end]
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            )
        })
        .collect()
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// The "PUT versus PATCH" list check of the page's note, among other
/// records: a PUT that lacks fields but still writes them shows up as
/// `/N/Address` of the record with the same UserID, not as the whole list.
#[test]
fn a_failed_contains_names_the_differing_field_of_the_record_with_the_same_user_id() {
    let dir = scratch("contains");
    write_scenario(
        &dir,
        "put_then_list.json",
        json!({
            "name": "field_diffs::put_then_list",
            "level": "documented",
            "citation": "Managing IPDR Customers › Partially Updating Customer Information",
            "tags": ["create", "partial_update", "full_update", "list"],
            "steps": [
                // Listed before a, and as near by field count: only the UserID tells them apart.
                create("b", "Trisul", "Partially Updated"),
                create("c", "Other", "Chennai"),
                create("a", "Trisul", "Chennai"),
                {
                    "name": "PATCH only Address",
                    "request": {
                        "method": "PATCH",
                        "path": "/api/ipdrcustomers/${uid:a}",
                        "body": { "Address": "Partially Updated" }
                    },
                    "expect": { "status": 200 }
                },
                {
                    "name": "PUT only Address",
                    "level": "observed",
                    "request": {
                        "method": "PUT",
                        "path": "/api/ipdrcustomers/${uid:a}",
                        "body": { "Address": "Put Without The Other Fields" }
                    },
                    "expect": { "status": 200 }
                },
                {
                    "name": "the list shows the PATCH applied and the incomplete PUT not",
                    "level": "inferred",
                    "request": { "method": "GET", "path": "/api/ipdrcustomers" },
                    "expect": {
                        "body": {
                            "$contains": {
                                "$customer": {
                                    "UserID": "${uid:a}",
                                    "Name": "Trisul",
                                    "Address": "Partially Updated",
                                    "Email": "demo@gmail.com",
                                    "PhoneNumber": "1234567890",
                                    "AltPhoneNumber": "9999999999"
                                }
                            }
                        }
                    }
                }
            ]
        }),
    );
    let server = server_with(Deviation::PutMissingFieldsPartiallyApplied);
    let output = run(&dir, &server, &[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    insta::assert_snapshot!("contains_diff", pinned(&diff_section(&out)));
    // The record with another UserID but the expected Address is not the one shown.
    assert!(!diff_section(&out).contains("-b"), "{out}");

    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    insta::assert_snapshot!(
        "contains_junit_message",
        pinned(&junit_failure_messages(&junit).join("\n"))
    );
    let trial = &report(&dir)["trials"][0];
    assert_eq!(trial["verdict"], "fail");
    // The reports still carry the whole list: every record, in the transcript.
    let transcript = trial["transcript"].to_string();
    for label in ["-a\"", "-b\"", "-c\""] {
        assert!(transcript.contains(label), "{label} not in {transcript}");
    }
}

/// `$each` over a list whose every element differs: the first few
/// elements' differences, a type named where it is wrong, and a count of the rest.
#[test]
fn a_failed_each_shows_the_first_elements_and_counts_the_rest() {
    let dir = scratch("each");
    let mut steps: Vec<Value> = (1..=8)
        .map(|n| create(&format!("r{n}"), "Trisul", "Chennai"))
        .collect();
    for step in &mut steps {
        // The creates answer numbers too: only the list is checked here.
        step["level"] = json!("observed");
    }
    steps.push(json!({
        "name": "every listed customer has string fields",
        "request": { "method": "GET", "path": "/api/ipdrcustomers" },
        "expect": { "body": { "$each": { "$customer": {} } } }
    }));
    write_scenario(
        &dir,
        "each.json",
        json!({
            "name": "field_diffs::each_has_string_fields",
            "level": "documented",
            "citation": "Managing IPDR Customers › Retrieving Customer List",
            "tags": ["create", "list"],
            "steps": steps
        }),
    );
    let server = server_with(Deviation::PhoneNumberAsNumber);
    let output = run(&dir, &server, &[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    insta::assert_snapshot!("each_diff", pinned(&diff_section(&out)));
}

/// Two failures of different kinds: each JUnit failure message is its own
/// first difference, and the failure body still holds the whole text.
#[test]
fn junit_failure_messages_are_each_trials_first_difference() {
    let dir = scratch("junit");
    write_scenario(
        &dir,
        "token.json",
        json!({
            "name": "field_diffs::token_error",
            "level": "documented",
            "citation": "Error Handling › Invalid API Token",
            "tags": ["list", "error"],
            "steps": [{
                "name": "list with an invalid token",
                "request": { "method": "GET", "path": "/api/ipdrcustomers", "auth": "invalid_token" },
                "expect": { "body": { "$error": "invalid_token" } }
            }]
        }),
    );
    write_scenario(
        &dir,
        "name.json",
        json!({
            "name": "field_diffs::listed_name",
            "level": "documented",
            "citation": "Managing IPDR Customers › Retrieving Customer List",
            "tags": ["create", "list"],
            "steps": [
                create("a", "Trisul", "Chennai"),
                {
                    "name": "the list holds the record under another Name",
                    "request": { "method": "GET", "path": "/api/ipdrcustomers" },
                    "expect": { "body": { "$contains": { "UserID": "${uid:a}", "Name": "Someone Else" } } }
                }
            ]
        }),
    );
    let server = server_with(Deviation::TokenErrorStatusMixedCase);
    let output = run(&dir, &server, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let messages = junit_failure_messages(&junit);
    assert_eq!(messages.len(), 2, "{junit}");
    insta::assert_snapshot!("junit_messages", pinned(&messages.join("\n")));
    // The whole explanation stays in the failure's body.
    assert!(junit.contains("did not meet its expectation"), "{junit}");
}

/// A snapshot list that holds one record more than the profile: the extra
/// record is one line, not a cascade of every later index.
#[test]
fn a_snapshot_list_pairs_records_by_user_id() {
    let dir = scratch("snapshot");
    let steps = json!([
        create("a", "Trisul", "Chennai"),
        create("b", "Trisul", "Chennai"),
        create("c", "Trisul", "Chennai"),
        {
            "name": "delete a",
            "request": { "method": "DELETE", "path": "/api/ipdrcustomers/${uid:a}" },
            "expect": { "status": 200 }
        },
        {
            "name": "list after the delete",
            "level": "observed",
            "request": { "method": "GET", "path": "/api/ipdrcustomers" },
            "expect": { "status": 200 }
        }
    ]);
    write_scenario(
        &dir,
        "snapshot.json",
        json!({
            "name": "field_diffs::list_after_delete",
            "level": "documented",
            "citation": "Managing IPDR Customers › Deleting a Customer",
            "tags": ["create", "delete", "list"],
            "steps": steps
        }),
    );
    let reference = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let recorded = run(
        &dir,
        &reference,
        &["--record", "here", "--snapshots-dir", "profiles"],
    );
    assert!(recorded.status.success(), "{}", stdout(&recorded));
    let server = server_with(Deviation::DeleteNotPersisted);
    let output = run(
        &dir,
        &server,
        // -v: the full listing of profile differences (the summary shows each cut short).
        &["--snapshots", "here", "--snapshots-dir", "profiles", "-v"],
    );
    let out = stdout(&output);
    // DeleteNotPersisted keeps the run's records: the sweep's exit code is not this test's concern.
    assert_eq!(counts(&out), (1, 0, 0), "{out}");
    let summary = out
        .find("steps that differ from profile here")
        .map(|at| &out[at..])
        .unwrap_or_else(|| panic!("no snapshot summary in:\n{out}"));
    let summary: Vec<&str> = summary
        .lines()
        .take_while(|line| !line.is_empty())
        .collect();
    insta::assert_snapshot!("snapshot_list_pairs", pinned(&summary.join("\n")));
}

/// The property model's list check: every differing field of the one
/// record, by JSON pointer, instead of the whole record it expected; the
/// JUnit message is the broken rule's line, which names the first field.
#[test]
fn the_model_list_check_names_each_differing_field_by_pointer() {
    let dir = scratch("model");
    let server = server_with(Deviation::PutMissingFieldsPartiallyApplied);
    let output = harness_against(&server.url())
        .current_dir(&dir)
        .args(["--exact", "property::crud_sequences", "--cases", "32"])
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let violation = |text: &str| -> Vec<String> {
        let start = text
            .find("a stored value reads back unchanged from the list")
            .unwrap_or_else(|| panic!("no list violation in:\n{text}"));
        text[start..]
            .lines()
            .take_while(|line| !line.is_empty())
            .map(str::to_string)
            .collect()
    };
    // The generated case's number in its UserIDs (`-p240-`) is not what this pins.
    let pinned_violation = violation(&pinned(&out))
        .join("\n")
        .split("zzconf-[run]-p")
        .enumerate()
        .map(|(at, part)| match at {
            0 => part.to_string(),
            _ => format!(
                "zzconf-[run]-p[case]{}",
                part.trim_start_matches(|c: char| c.is_ascii_digit())
            ),
        })
        .collect::<String>();
    insta::assert_snapshot!("model_list_violation", pinned_violation);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_eq!(junit_failure_messages(&junit), violation(&out)[..1]);
}
