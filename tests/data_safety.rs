//! The harness deletes what it created, also when checks fail, and never
//! touches a record it did not create.

mod common;

use common::{counts, harness_against, stdout, Server};
use ipdr_conformance::reference::{
    Deviation, Preload, PreloadCustomer, ServerConfig, UsersFixture,
};

/// Customers that belong to someone else, in both contexts the harness uses,
/// including one that carries the harness's prefix but not this run's.
fn foreign_customers() -> Preload {
    let credentials = UsersFixture::builtin().harness();
    let second = credentials
        .second_context
        .expect("the fixture has a second context");
    let mut preload = Preload::new();
    for context in [credentials.context.as_str(), second.as_str()] {
        preload.add(context, PreloadCustomer::new("B68t19", "Trisul"));
        preload.add(
            context,
            PreloadCustomer::new("Xlr8d3", "Trisul Network Analytics"),
        );
        preload.add(
            context,
            PreloadCustomer::new("zzconf-00000000-000-a", "Not this run's"),
        );
    }
    preload
}

fn assert_only_foreign_records_remain(
    server: &Server,
    before: &std::collections::BTreeMap<String, Vec<ipdr_conformance::spec::contract::Customer>>,
) {
    let after = server.running().snapshot();
    assert_eq!(&after, before, "the records the harness did not create must be exactly as they were, and nothing of its own may be left");
}

#[test]
fn a_passing_run_leaves_foreign_records_untouched_and_nothing_behind() {
    let server =
        Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(foreign_customers()));
    let before = server.running().snapshot();
    assert!(before.values().map(Vec::len).sum::<usize>() >= 6);
    let output = harness_against(&server.url()).output().unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        !out.contains("cleanup: deleted"),
        "every scenario cleans up after itself:\n{out}"
    );
    assert_only_foreign_records_remain(&server, &before);
}

#[test]
fn a_failing_run_still_deletes_what_it_created() {
    // With this deviation the error scenarios fail after creating their records.
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_preload(foreign_customers())
            .with_deviation(Deviation::TokenErrorStatusMixedCase),
    );
    let before = server.running().snapshot();
    let output = harness_against(&server.url()).output().unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let (_, failed, _) = counts(&out);
    assert!(failed >= 5, "every invalid-token scenario fails:\n{out}");
    assert!(
        !out.contains("cleanup: deleted"),
        "failing scenarios clean up after themselves:\n{out}"
    );
    assert_only_foreign_records_remain(&server, &before);
}

/// The `--other-*` credentials of the built-in fixture, as environment variables.
fn other_user_env(command: &mut std::process::Command) {
    let other = UsersFixture::builtin()
        .harness()
        .other
        .expect("the fixture has a second user");
    command
        .env("IPDR_OTHER_USERNAME", &other.username)
        .env("IPDR_OTHER_API_TOKEN", &other.api_token)
        .env("IPDR_OTHER_CONTEXT", &other.context);
}

#[test]
fn records_made_as_the_other_user_in_its_own_context_are_deleted_as_the_other_user() {
    // `restricted` is the other user's context: the configured user can neither list nor delete there.
    let scenario = r#"{
      "name": "safety::as_the_other_user",
      "level": "inferred",
      "citation": "Authentication",
      "steps": [
        {"name": "create as the other user", "request": {"method": "POST", "path": "/api/ipdrcustomers", "auth": "other_user", "body": {"UserID": "${uid:a}", "Name": "Other"}}, "expect": {"body": {"$customer": {"UserID": "${uid:a}"}}}},
        {"name": "a check that fails while the record is there", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": "other_user"}, "expect": {"body": {"$lacks": {"UserID": "${uid:a}"}}}}
      ]
    }"#;
    let specs = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("safety-other-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&specs);
    std::fs::create_dir_all(&specs).unwrap();
    std::fs::write(specs.join("other.json"), scenario).unwrap();
    let server =
        Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(foreign_customers()));
    let before = server.running().snapshot();
    let mut run = harness_against(&server.url());
    other_user_env(&mut run);
    let output = run
        .arg("--specs")
        .arg(&specs)
        .arg("--ledger-dir")
        .arg(specs.join("ledger"))
        .args(["--skip", "property::"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert_eq!(counts(&out).1, 1, "{out}");
    assert_only_foreign_records_remain(&server, &before);
    let _ = std::fs::remove_dir_all(&specs);
}

#[test]
fn sweep_deletes_the_other_users_leftovers_with_its_credentials_and_reads_old_ledgers() {
    use ipdr_conformance::reference::Preload;

    let mut preload = Preload::new();
    preload.add(
        "restricted",
        PreloadCustomer::new("zzconf-aaaaaaaa-000-x", "Left as other"),
    );
    preload.add(
        "default",
        PreloadCustomer::new("zzconf-aaaaaaaa-000-y", "Left as configured"),
    );
    preload.add("default", PreloadCustomer::new("B68t19", "Trisul"));
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let url_holder = server.url();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ledger-other-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A line of the format before issue 10 (no principal), and one of a record made as the other user.
    let ledger = dir.join("aaaaaaaa.jsonl");
    std::fs::write(
        &ledger,
        format!(
            "{{\"run_id\":\"aaaaaaaa\",\"target\":\"{url_holder}\",\"context\":\"default\",\"user_id\":\"zzconf-aaaaaaaa-000-y\"}}\n\
             {{\"run_id\":\"aaaaaaaa\",\"target\":\"{url_holder}\",\"context\":\"restricted\",\"user_id\":\"zzconf-aaaaaaaa-000-x\",\"principal\":\"other\"}}\n"
        ),
    )
    .unwrap();
    let credentials = UsersFixture::builtin().harness();
    let sweep = |with_other: bool| {
        let mut command = common::harness();
        command
            .arg("sweep")
            .arg("--target")
            .arg(&url_holder)
            .arg("--ledger-dir")
            .arg(&dir)
            .env("IPDR_API_TOKEN", &credentials.api_token)
            .env("IPDR_USERNAME", &credentials.username);
        if with_other {
            other_user_env(&mut command);
        }
        command.output().unwrap()
    };
    let uids = |server: &Server| -> Vec<String> {
        server
            .running()
            .snapshot()
            .values()
            .flatten()
            .map(|customer| customer.user_id.clone())
            .collect()
    };
    let without = sweep(false);
    let out = stdout(&without);
    assert_eq!(without.status.code(), Some(3), "{out}");
    assert!(
        out.contains("deleted zzconf-aaaaaaaa-000-y in context default"),
        "{out}"
    );
    assert!(
        out.contains("could not delete zzconf-aaaaaaaa-000-x in context restricted (as the other user): it was created as the other user: give --other-username, --other-api-token and --other-context to delete it"),
        "{out}"
    );
    assert!(uids(&server).contains(&"zzconf-aaaaaaaa-000-x".to_string()));
    assert!(
        ledger.exists(),
        "the ledger is kept while anything of it may be left"
    );
    let with = sweep(true);
    let out = stdout(&with);
    assert!(with.status.success(), "{out}");
    assert!(
        out.contains("deleted zzconf-aaaaaaaa-000-x in context restricted (as the other user)"),
        "{out}"
    );
    assert_eq!(uids(&server), ["B68t19"], "only the foreign record is left");
    assert!(!ledger.exists(), "the ledger is retired");
    let _ = std::fs::remove_dir_all(&dir);
}
