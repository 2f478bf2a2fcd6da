//! `ipdr-conformance run` through its public surface: the binary.

mod common;

use common::{counts, harness, harness_against, stable, stderr, stdout, Server};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};

#[test]
fn the_whole_suite_passes_against_the_embedded_reference_server() {
    let output = harness().arg("run").output().unwrap();
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "exit {:?}\n{out}\n{}",
        output.status,
        stderr(&output)
    );
    let (passed, failed, skipped) = counts(&out);
    assert!(passed >= 45, "only {passed} trials passed:\n{out}");
    assert_eq!(failed, 0, "{out}");
    // The embedded server has everything configured: only deep mode is opt-in.
    let deep = out
        .lines()
        .filter(|line| line.ends_with("... skipped (opt-in deep mode: run with --deep)"))
        .count();
    assert_eq!(skipped, deep, "{out}");
}

#[test]
fn the_whole_suite_passes_in_deep_mode_too() {
    let output = harness()
        .args(["run", "--deep", "--skip", "property::"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    let (passed, failed, skipped) = counts(&out);
    assert!(passed >= 45, "only {passed} trials passed:\n{out}");
    assert_eq!((failed, skipped), (0, 0), "{out}");
}

#[test]
fn list_shows_every_trial_with_its_level() {
    let output = harness().args(["run", "--list"]).output().unwrap();
    let out = stdout(&output);
    assert!(output.status.success());
    let trials = out.lines().filter(|line| line.ends_with(": test")).count();
    assert!(trials >= 45, "{out}");
    for level in ["[documented]", "[inferred]", "[observed]"] {
        assert!(out.contains(level), "no {level} trial in:\n{out}");
    }
}

#[test]
fn a_passing_scenario_prints_as_pinned() {
    let output = harness()
        .args(["run", "--exact", "errors::invalid_token::list"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stdout(&output));
    insta::assert_snapshot!("passing_scenario_console", stable(&stdout(&output)));
}

#[test]
fn a_token_error_said_in_mixed_case_fails_with_a_readable_diff() {
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_deviation(Deviation::TokenErrorStatusMixedCase),
    );
    let output = harness_against(&server.url())
        .args(["--exact", "errors::invalid_token::list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    insta::assert_snapshot!("failing_scenario_console", stable(&stdout(&output)));
}

#[test]
fn the_token_never_appears_in_output_even_when_checks_fail() {
    // PATCH blanking omitted fields fails steps that carry the real token.
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_deviation(Deviation::PatchBlanksOmittedFields),
    );
    let token = UsersFixture::builtin().harness().api_token;
    let output = harness_against(&server.url()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        all.contains("$IPDR_API_TOKEN"),
        "failures show curl with the variable:\n{all}"
    );
    assert!(!all.contains(&token), "the token leaked:\n{all}");
}

#[test]
fn a_target_without_credentials_is_bad_configuration() {
    let output = harness()
        .args(["run", "--target", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        "error: bad configuration: --target needs an api token (IPDR_API_TOKEN, --api-token-file or --api-token)"
    );
    assert!(!stdout(&output).contains("running"), "no trial may run");
}

#[test]
fn a_malformed_target_url_is_bad_configuration() {
    let output = harness_against("not a url").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .starts_with("error: bad configuration: --target \"not a url\" is not a URL"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unreachable_target_exits_2_before_any_trial() {
    // Bind then drop a listener: the port is closed, on loopback only.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = harness_against(&format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: the target http://127.0.0.1:{port} is unreachable: could not connect"
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!stdout(&output).contains("running"));
}

#[test]
fn rejected_credentials_exit_2_and_never_show_the_token() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let output = harness_against(&server.url())
        .env("IPDR_API_TOKEN", "wrong-token-for-this-test")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    // The flags to fix, named (issue 13).
    assert!(
        err.contains("--username user / --api-token: refused"),
        "{err}"
    );
    assert!(err.contains("Invalid API token"), "{err}");
    assert!(!err.contains("wrong-token-for-this-test"), "{err}");
}

#[test]
fn scenarios_needing_unconfigured_contexts_are_skipped_with_a_reason() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let output = harness_against(&server.url())
        .env_remove("IPDR_SECOND_CONTEXT")
        .env_remove("IPDR_FORBIDDEN_CONTEXT")
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    let (_, failed, skipped) = counts(&out);
    assert_eq!(failed, 0);
    assert!(
        skipped >= 6,
        "isolation and forbidden-context scenarios are skipped:\n{out}"
    );
    assert!(
        out.contains("... skipped (needs a second context the user may access"),
        "{out}"
    );
    assert!(
        out.contains("... skipped (needs an existing context the user may not access"),
        "{out}"
    );
}

#[test]
fn the_token_can_come_from_a_file_but_not_twice() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let token = UsersFixture::builtin().harness().api_token;
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("token-{}", std::process::id()));
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let output = harness_against(&server.url())
        .env_remove("IPDR_API_TOKEN")
        .arg("--api-token-file")
        .arg(&file)
        .args(["--exact", "crud::create_all_fields"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert_eq!(counts(&stdout(&output)).0, 1);
    let twice = harness_against(&server.url())
        .arg("--api-token-file")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        stderr(&twice)
            .contains("give the token once: --api-token-file, or IPDR_API_TOKEN / --api-token"),
        "{}",
        stderr(&twice)
    );
    let _ = std::fs::remove_file(&file);
}

/// The trial lines (`test [kind] name ... verdict`) of a run's output: the names.
fn trial_names(out: &str) -> Vec<String> {
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|line| line.strip_prefix("test ["))
        .filter_map(|rest| rest.split_once("] "))
        .map(|(_, rest)| rest.split(" ...").next().unwrap().trim().to_string())
        .collect();
    names.sort();
    names
}

/// `filtered out` of the `test result:` line.
fn filtered_out(out: &str) -> usize {
    let line = out
        .lines()
        .find(|line| line.starts_with("test result:"))
        .unwrap_or_else(|| panic!("no test result line in:\n{out}"));
    let before = line.split(" filtered out").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_filter_exact_and_skip_select_trials_as_libtest_does() {
    let all = stdout(&harness().args(["run", "--list"]).output().unwrap());
    let total = all.lines().filter(|line| line.ends_with(": test")).count();
    let listed = |args: &[&str]| -> Vec<String> {
        let output = harness()
            .arg("run")
            .arg("--list")
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let mut names: Vec<String> = stdout(&output)
            .lines()
            .filter_map(|line| line.strip_suffix(": test"))
            .map(|line| line.split_once("] ").unwrap().1.to_string())
            .collect();
        names.sort();
        names
    };
    let invalid_token = listed(&["errors::invalid_token::"]);
    assert_eq!(
        invalid_token,
        ["create", "delete", "full_update", "list", "partial_update"]
            .map(|operation| format!("errors::invalid_token::{operation}"))
    );
    // The kind is part of what a filter sees, as in `--list`.
    assert_eq!(
        listed(&["[property]"]),
        [
            "property::concurrent_linearizable",
            "property::crud_sequences"
        ]
    );
    // --exact matches whole names only: a prefix selects nothing, which is a slip (exit 2).
    let output = harness()
        .args(["run", "--list", "--exact", "crud::create"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");

    // A filter runs only what it lists; the others are counted as filtered out.
    let output = harness()
        .args(["run", "errors::invalid_token::", "--skip", "::list"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    let expected: Vec<String> = invalid_token
        .iter()
        .filter(|name| !name.ends_with("::list"))
        .cloned()
        .collect();
    assert_eq!(trial_names(&out), expected, "{out}");
    assert_eq!(counts(&out), (4, 0, 0), "{out}");
    assert_eq!(filtered_out(&out), total - 4, "{out}");
    assert!(out.contains("\nrunning 4 tests\n"), "{out}");

    let output = harness()
        .args(["run", "--exact", "[documented] crud::create_all_fields"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(trial_names(&out), ["crud::create_all_fields"], "{out}");
    assert_eq!(filtered_out(&out), total - 1, "{out}");

    // --exact applies to --skip too: a prefix skips nothing, a whole name skips its trial.
    let skipped = listed(&[
        "--exact",
        "--skip",
        "errors::invalid_token",
        "--skip",
        "property::crud_sequences",
    ]);
    assert_eq!(skipped.len(), total - 1);
    assert!(!skipped.contains(&"property::crud_sequences".to_string()));
}

#[test]
fn the_test_threads_flag_of_libtest_is_gone_in_favour_of_jobs() {
    let output = harness()
        .args(["run", "--test-threads", "2", "--list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--test-threads"),
        "{}",
        stderr(&output)
    );
    let output = harness().args(["run", "--jobs", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        "error: bad configuration: --jobs must be at least 1"
    );
}
