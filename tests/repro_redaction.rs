//! Repro scenarios written by the property trials never hold the token: a
//! server that echoes the request's api_token into every answer makes the
//! trials fail and write repros, and none of them contains the token.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{harness_against, stdout, Server};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};

#[test]
fn repros_against_a_server_that_echoes_the_token_do_not_contain_it() {
    let mut config = ServerConfig::new(UsersFixture::builtin());
    config.deviations = vec![Deviation::ApiTokenEchoed];
    let server = Server::start(config);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("repro-redaction-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let repros = dir.join("repros");
    let output = harness_against(&server.url())
        .arg("property::")
        .args(["--cases", "8", "--concurrent-cases", "2"])
        .arg("--repro-dir")
        .arg(&repros)
        .arg("--ledger-dir")
        .arg(dir.join("ledger"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let token = UsersFixture::builtin().harness().api_token;
    let files: Vec<_> = std::fs::read_dir(&repros)
        .unwrap_or_else(|error| panic!("no repro written ({error}):\n{out}"))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "{out}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            !text.contains(&token),
            "{} contains the token:\n{text}",
            file.display()
        );
    }
    assert!(!out.contains(&token), "the console shows the token");
}

/// The writer itself redacts: whatever a scenario holds (an answer's value
/// taken into an expected pattern, a body field), the file never holds the token.
#[test]
fn the_repro_writer_redacts_the_token_by_value_and_by_key() {
    use ipdr_conformance::execution::property::repro::write_scenario;
    use ipdr_conformance::report::redact::Redactor;
    use ipdr_conformance::spec::scenario::Scenario;

    let token = UsersFixture::builtin().harness().api_token;
    let scenario: Scenario = serde_json::from_value(serde_json::json!({
        "name": "property::leak",
        "level": "documented",
        "citation": "Managing IPDR Customers › Creating a New Customer",
        "tags": ["create"],
        "description": "A repro holding the token.",
        "steps": [{
            "name": "create",
            "request": {
                "method": "POST",
                "path": "/api/ipdrcustomers",
                "body": { "UserID": "${uid:a}", "Name": "Trisul", "Address": format!("at {token}") }
            },
            "expect": { "body": {
                "UserID": "${uid:a}", "Name": "Trisul", "api_token": format!("{token}x")
            } }
        }]
    }))
    .unwrap();
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("repro-writer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (path, _) = write_scenario(&dir, &scenario, "leak", &Redactor::new(&token)).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    assert!(!text.contains(&token), "{text}");
    assert!(
        text.contains("\"Name\": \"Trisul\""),
        "the rest is kept: {text}"
    );
}
