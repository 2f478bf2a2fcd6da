//! The property trials: they pass against conformant servers, replay by
//! seed, and shrink a failure to a short reproduction whose scenario file
//! fails the same way.
//!
//! The engine runs in-process here (the same functions `run` calls), so the
//! 256 × 30 cases stay fast in a debug build; the binary is used where the
//! command line itself is the subject.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{harness_against, stdout, Server};
use ipdr_conformance::execution::client::Client;
use ipdr_conformance::execution::property::{
    run_concurrent, run_crud_sequences, PropertyOptions, PropertyReport,
};
use ipdr_conformance::execution::scenario_run::RunIdentity;
use ipdr_conformance::execution::target::Target;
use ipdr_conformance::reference::{Deviation, Flavour, ServerConfig, UsersFixture};
use ipdr_conformance::spec::load::parse;
use ipdr_conformance::spec::scenario::Method;

/// A client of `server` with the fixture's harness credentials.
fn client_of(server: &Server) -> Client {
    let credentials = UsersFixture::builtin().harness();
    Client::new(Target::from_harness(
        credentials,
        server.url(),
        Duration::from_secs(10),
    ))
    .unwrap()
}

/// A fresh directory under the system's temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ipdr-property-{name}-{}-{}",
        std::process::id(),
        RunIdentity::fresh().run_id
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(cases: u32, max_ops: usize, seed: u64, repro_dir: PathBuf) -> PropertyOptions {
    PropertyOptions {
        cases,
        max_ops,
        seed: Some(seed),
        repro_dir,
        ..PropertyOptions::default()
    }
}

fn assert_passed(report: &PropertyReport, against: &str) {
    if let Some(failure) = &report.failure {
        panic!(
            "{} failed against {against}:\n{}",
            report.trial.name(),
            failure.rendered
        );
    }
}

fn passes_against(config: ServerConfig, against: &str) {
    let server = Server::start(config);
    let client = client_of(&server);
    let identity = RunIdentity::fresh();
    let dir = scratch_dir(against);
    let options = PropertyOptions {
        concurrent_cases: 64,
        ..options(256, 30, 0x1D_C0FFEE, dir.clone())
    };
    let handle = server.runtime.handle();
    let sequences = run_crud_sequences(handle, &client, &identity, &options, 0x1D_C0FFEE);
    assert_passed(&sequences, against);
    assert_eq!(sequences.replays, 256, "every case ran once, none shrank");
    let concurrent = run_concurrent(handle, &client, &identity, &options, 0x1D_C0FFEE);
    assert_passed(&concurrent, against);
    assert!(!dir.exists(), "nothing is written when nothing fails");
    // Every case deleted what it created.
    for (context, customers) in server.running().snapshot() {
        assert!(customers.is_empty(), "left in {context}: {customers:?}");
    }
}

#[test]
fn two_hundred_fifty_six_sequences_of_up_to_30_requests_and_the_concurrent_trial_pass_against_the_reference(
) {
    passes_against(ServerConfig::builtin(), "the reference");
}

#[test]
fn two_hundred_fifty_six_sequences_of_up_to_30_requests_and_the_concurrent_trial_pass_against_alt()
{
    passes_against(
        ServerConfig::builtin().with_flavour(Flavour::Alt),
        "--flavour alt",
    );
}

#[test]
fn the_same_seed_gives_the_same_sequences() {
    let server = Server::start(ServerConfig::builtin());
    let client = client_of(&server);
    let identity = RunIdentity::fresh();
    let handle = server.runtime.handle();
    let run = |seed| {
        let options = options(16, 30, seed, scratch_dir("seed"));
        run_crud_sequences(handle, &client, &identity, &options, seed).fingerprint
    };
    assert_eq!(run(7), run(7), "same seed, same sequences");
    assert_ne!(run(7), run(8), "another seed, other sequences");
}

#[test]
fn patch_blanking_omitted_fields_shrinks_to_at_most_4_steps_and_its_scenario_fails_the_same_way() {
    let token = UsersFixture::builtin().harness().api_token;
    let server =
        Server::start(ServerConfig::builtin().with_deviation(Deviation::PatchBlanksOmittedFields));
    let client = client_of(&server);
    let identity = RunIdentity::fresh();
    let dir = scratch_dir("patch-blanks");
    let options = options(64, 30, 42, dir.clone());
    let report = run_crud_sequences(server.runtime.handle(), &client, &identity, &options, 42);
    let failure = report
        .failure
        .expect("PATCH blanking omitted fields is caught");
    let rendered = &failure.rendered;
    println!("{rendered}");
    assert!(
        failure.steps <= 4,
        "shrunk to {} steps:\n{rendered}",
        failure.steps
    );
    let violation = failure
        .violation
        .as_ref()
        .expect("a violation, not a problem");
    assert!(
        violation.citation.contains("Partially Updating"),
        "{violation}"
    );
    assert!(rendered.contains("PATCH"), "{rendered}");
    assert!(rendered.contains("curl -sS -X PATCH"), "{rendered}");
    assert!(rendered.contains("$IPDR_API_TOKEN"), "{rendered}");
    assert!(!rendered.contains(&token), "the token leaked:\n{rendered}");

    // The scenario file: it loads, it ends with the PATCH, and it holds no token.
    let written = failure.repro.expect("a scenario is written");
    let text = std::fs::read_to_string(&written.path).unwrap();
    assert!(!text.contains(&token), "the token leaked into the file");
    let loaded = parse("repro.json", &text).expect("the written scenario loads");
    let last = loaded.scenario.steps.last().unwrap();
    assert_eq!(last.request.method, Method::Patch, "{text}");
    assert!(loaded.scenario.steps.len() <= 4, "{text}");
    assert!(
        written.fails_on_conformant.is_empty(),
        "it passes against the reference and alt: {:?}",
        written.fails_on_conformant
    );

    // Run it with the binary against the deviation: exit 1 at the PATCH step.
    let name = loaded.scenario.name.clone();
    let output = harness_against(&server.url())
        .args(["--specs", dir.to_str().unwrap(), "--exact", &name])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    let steps = loaded.scenario.steps.len();
    let failing_line = format!("step {steps}/{steps} \"PATCH");
    assert!(
        out.contains(&failing_line),
        "no {failing_line:?} in:\n{out}"
    );
    assert!(!out.contains(&token), "the token leaked:\n{out}");

    // And against a conformant server it passes: ready for specs/regressions/.
    let reference = Server::start(ServerConfig::builtin());
    let output = harness_against(&reference.url())
        .args(["--specs", dir.to_str().unwrap(), "--exact", &name])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stdout(&output));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_concurrent_trial_catches_non_atomic_uniqueness() {
    let server =
        Server::start(ServerConfig::builtin().with_deviation(Deviation::NonAtomicUniqueness));
    let client = client_of(&server);
    let identity = RunIdentity::fresh();
    for seed in [1, 2, 3] {
        let options = options(64, 30, seed, scratch_dir("race"));
        let report = run_concurrent(server.runtime.handle(), &client, &identity, &options, seed);
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("seed {seed}: the race is not caught"));
        let violation = failure.violation.expect("a violation");
        assert!(
            violation.message.contains("unique"),
            "seed {seed}: {}",
            failure.rendered
        );
    }
}

#[test]
fn the_property_trials_are_part_of_run_and_print_their_seed() {
    let output = common::harness().args(["run", "--list"]).output().unwrap();
    let out = stdout(&output);
    assert!(
        out.contains("[property] property::crud_sequences: test"),
        "{out}"
    );
    assert!(
        out.contains("[property] property::concurrent_linearizable: test"),
        "{out}"
    );
    let output = common::harness()
        .args(["run", "--seed", "99", "--cases", "8", "property::"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("property::crud_sequences: seed 99 (8 sequences of up to 30 requests"),
        "{out}"
    );
}

#[test]
fn a_large_target_gets_fewer_generated_lists_and_the_same_checks() {
    use ipdr_conformance::execution::property::LARGE_TARGET_CUSTOMERS;
    use ipdr_conformance::reference::{Preload, PreloadCustomer};
    let context = UsersFixture::builtin().harness().context;
    let mut preload = Preload::new();
    for n in 0..LARGE_TARGET_CUSTOMERS {
        preload.add(
            context.as_str(),
            PreloadCustomer::new(format!("foreign-{n}"), "Foreign"),
        );
    }
    let large = Server::start(ServerConfig::builtin().with_preload(preload));
    let small = Server::start(ServerConfig::builtin());
    let identity = RunIdentity::fresh();
    let run = |server: &Server| {
        let options = options(16, 30, 7, scratch_dir("large"));
        run_crud_sequences(
            server.runtime.handle(),
            &client_of(server),
            &identity,
            &options,
            7,
        )
    };
    let (on_large, on_small) = (run(&large), run(&small));
    assert_passed(&on_large, "a large reference target");
    assert_passed(&on_small, "an empty reference target");
    // Same seed, other mix: the sequences differ only because lists are rarer.
    assert_ne!(on_large.fingerprint, on_small.fingerprint);
    // The foreign records are untouched and the harness's own are gone.
    let after = large.running().snapshot();
    assert_eq!(after[&context].len(), LARGE_TARGET_CUSTOMERS);
    assert!(after[&context]
        .iter()
        .all(|customer| customer.user_id.starts_with("foreign-")));
}
