//! The same build against the same server gives the same verdicts: the
//! property trials use a fixed, printed seed unless `--seed random` asks for
//! a fresh one, and a printed seed replays the same sequences.
//!
//! These run the binary, since what is printed is the subject.

mod common;

use std::collections::BTreeMap;

use common::{harness, stdout};
use ipdr_conformance::execution::property::DEFAULT_SEED;

/// Every `test NAME ... VERDICT` line of libtest's output.
fn verdicts(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|line| line.strip_prefix("test "))
        .filter_map(|rest| rest.rsplit_once(" ... "))
        .map(|(name, verdict)| (name.to_string(), verdict.trim().to_string()))
        .collect()
}

/// The seed a property trial printed before it ran.
fn seed_of(out: &str, trial: &str) -> u64 {
    let prefix = format!("{trial}: seed ");
    out.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| panic!("no seed printed for {trial} in:\n{out}"))
}

/// The fingerprint of the sequences a property trial generated.
fn fingerprint_of(out: &str, trial: &str) -> String {
    let prefix = format!("{trial}: seed ");
    out.lines()
        .filter(|line| line.starts_with(&prefix))
        .find_map(|line| line.split("sequence fingerprint ").nth(1))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no fingerprint printed for {trial} in:\n{out}"))
}

#[test]
fn two_runs_without_seed_print_the_same_seed_and_the_same_verdict_for_every_trial() {
    let run = || {
        let output = harness().arg("run").output().unwrap();
        let out = stdout(&output);
        assert!(output.status.success(), "{out}");
        out
    };
    let (first, second) = (run(), run());
    let (first_verdicts, second_verdicts) = (verdicts(&first), verdicts(&second));
    assert!(
        first_verdicts.len() > 50,
        "every trial has a verdict:\n{first}"
    );
    assert_eq!(first_verdicts, second_verdicts);
    for trial in [
        "property::crud_sequences",
        "property::concurrent_linearizable",
    ] {
        assert_eq!(seed_of(&first, trial), DEFAULT_SEED, "{first}");
        assert_eq!(seed_of(&second, trial), DEFAULT_SEED, "{second}");
        assert!(
            first.contains(&format!(
                "{trial}: seed {DEFAULT_SEED} (the default; --seed random explores others; "
            )),
            "{first}"
        );
    }
    // The sequential trial generates the very same sequences.
    assert_eq!(
        fingerprint_of(&first, "property::crud_sequences"),
        fingerprint_of(&second, "property::crud_sequences")
    );
}

#[test]
fn seed_random_prints_a_fresh_seed_that_replays_the_same_sequences() {
    let run = |seed: &str| {
        let output = harness()
            .args([
                "run",
                "--seed",
                seed,
                "--cases",
                "8",
                "--concurrent-cases",
                "4",
                "property::",
            ])
            .output()
            .unwrap();
        let out = stdout(&output);
        assert!(output.status.success(), "{out}");
        out
    };
    let random = run("random");
    let seed = seed_of(&random, "property::crud_sequences");
    assert_eq!(seed, seed_of(&random, "property::concurrent_linearizable"));
    assert!(
        random.contains(&format!(
            "property::crud_sequences: seed {seed} (random; 8 sequences of up to 30 requests; --seed {seed} replays them)"
        )),
        "{random}"
    );
    let replay = run(&seed.to_string());
    for trial in [
        "property::crud_sequences",
        "property::concurrent_linearizable",
    ] {
        assert_eq!(seed_of(&replay, trial), seed);
        assert_eq!(
            fingerprint_of(&random, trial),
            fingerprint_of(&replay, trial),
            "{trial}: the printed seed replays the same sequences"
        );
    }
    let other = run("random");
    assert_ne!(
        fingerprint_of(&other, "property::crud_sequences"),
        fingerprint_of(&random, "property::crud_sequences"),
        "another random seed explores other sequences"
    );
}

#[test]
fn a_seed_that_is_neither_a_number_nor_random_is_refused_with_a_clear_message() {
    let output = harness()
        .args(["run", "--seed", "tomorrow", "--list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = common::stderr(&output);
    assert!(
        err.contains("expected a number (to replay a run) or `random`"),
        "{err}"
    );
}

/// The binary runs the cases of each property trial concurrently; the fingerprint it prints
/// is the one a run with one case at a time gives for the same seed (in process, against a
/// reference server configured like the embedded one).
#[test]
fn the_binary_running_cases_at_once_prints_the_fingerprint_of_one_case_at_a_time() {
    use ipdr_conformance::execution::client::Client;
    use ipdr_conformance::execution::property::{
        run_concurrent, run_crud_sequences, PropertyOptions, SeedChoice,
    };
    use ipdr_conformance::execution::scenario_run::RunIdentity;
    use ipdr_conformance::execution::target::Target;
    use ipdr_conformance::reference::{ServerConfig, UsersFixture};

    let output = harness()
        .args([
            "run",
            "--seed",
            "7",
            "--cases",
            "24",
            "--concurrent-cases",
            "12",
            "property::",
        ])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");

    let server = common::Server::start(ServerConfig::builtin());
    let client = Client::new(Target::from_harness(
        UsersFixture::builtin().harness(),
        server.url(),
        std::time::Duration::from_secs(10),
    ))
    .unwrap();
    let options = PropertyOptions {
        cases: 24,
        concurrent_cases: 12,
        seed: SeedChoice::Given(7),
        cases_in_flight: 1,
        ..PropertyOptions::default()
    };
    let identity = RunIdentity::fresh();
    let handle = server.runtime.handle();
    let one_at_a_time = [
        run_crud_sequences(handle, &client, &identity, &options, 7),
        run_concurrent(handle, &client, &identity, &options, 7),
    ];
    for report in one_at_a_time {
        assert!(report.failure.is_none(), "{}", report.trial.name());
        assert_eq!(report.cases_in_flight, 1);
        assert_eq!(
            fingerprint_of(&out, &report.trial.name()),
            format!("{:016x}", report.fingerprint),
            "{}",
            report.trial.name()
        );
    }
}
