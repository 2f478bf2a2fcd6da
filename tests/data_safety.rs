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
