//! Snapshot profiles (issue 5): the committed `reference` profile, checking
//! a target against a profile, recording one, the review flow, and the
//! differential mode, through the binary against in-process servers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{counts, harness, harness_against, stable, stderr, stdout, Server};

use ipdr_conformance::execution::snapshot::profile::parse_snapshot;
use ipdr_conformance::execution::snapshot::snapshot_file_name;
use ipdr_conformance::reference::{Deviation, Flavour, ServerConfig, UsersFixture};
use ipdr_conformance::spec::contract::{
    MESSAGE_INVALID_CONTEXT_PREFIX, MESSAGE_INVALID_TOKEN, STATUS_CONTEXT_ERROR, STATUS_TOKEN_ERROR,
};
use ipdr_conformance::spec::load::load_embedded;
use ipdr_conformance::spec::scenario::DEEP_TAG;

/// The committed profile.
fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/reference")
}

/// A fresh, empty directory for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("snapshots_profiles")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dir/reference`, a copy of the committed profile.
fn copy_of_reference(dir: &Path) -> PathBuf {
    let copy = dir.join("reference");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(reference_dir()).unwrap().flatten() {
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    copy
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn alt_server() -> Server {
    Server::start(ServerConfig::new(UsersFixture::builtin()).with_flavour(Flavour::Alt))
}

fn strict_server() -> Server {
    Server::start(ServerConfig::builtin().with_flavour(Flavour::Strict))
}

/// The check-order step: the page does not order the checks; the reference
/// answers the token envelope, the strict flavour the context one.
const CHECK_ORDER_STEP: &str = "errors::check_order::invalid_token_and_invalid_context · step 1 \"list with both errors: one of the two documented envelopes\" (inferred) differs from";

fn all(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// The failure text of one trial (from its `---- name ----` line to the next).
fn failure_of(out: &str, trial: &str) -> String {
    let start = out
        .find(&format!("---- {trial} ----"))
        .unwrap_or_else(|| panic!("no failure for {trial}:\n{out}"));
    let rest = &out[start + 1..];
    // The next failure, or what follows the failures (`-v` listings, the summary).
    let end = [
        "\n---- ",
        "\nobserved behaviour where",
        "\nsteps that differ from",
        "\nsteps whose normalized",
        "\nsummary:",
    ]
    .iter()
    .filter_map(|marker| rest.find(marker))
    .min()
    .unwrap_or(rest.len());
    out[start..start + 1 + end].to_string()
}

/// No diff line compares one id placeholder with another on the same
/// record: id values are never a difference. (After a divergence a list
/// may hold another record at an index; then its UserID differs there too.)
fn assert_no_id_difference(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some((record, _)) = trimmed.split_once("/id: ") else {
            continue;
        };
        if trimmed.matches("\"<id:").count() != 2 {
            continue;
        }
        // The other lines of the same step: the diff lines around this one.
        let indent = line.len() - trimmed.len();
        let same_step = |other: &&&str| {
            other.len() - other.trim_start().len() == indent && other.contains(": ")
        };
        let before = lines[..at].iter().rev().take_while(same_step);
        let after = lines[at + 1..].iter().take_while(same_step);
        let another_record = before.chain(after).any(|other| {
            other
                .trim_start()
                .starts_with(&format!("{record}/UserID: "))
        });
        assert!(another_record, "ids differ: {line}");
    }
}

/// [`stable`], and the scenario's position in the suite (in its UserIDs) too.
fn pinned(out: &str) -> String {
    let out = stable(out);
    let mut result = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find("zzconf-[run]-") {
        let (head, tail) = rest.split_at(at + "zzconf-[run]-".len());
        result.push_str(head);
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            result.push_str("[n]");
        }
        rest = &tail[digits..];
    }
    result.push_str(rest);
    result
}

/// The snapshot file of every step the embedded reference server runs (a
/// step whose `only_if` does not hold there has none), with the number of
/// steps skipped that way.
fn steps_the_reference_runs() -> (Vec<String>, usize) {
    use ipdr_conformance::execution::client::Client;
    use ipdr_conformance::execution::scenario_run::Verdict;
    use ipdr_conformance::execution::suite::Suite;
    use ipdr_conformance::execution::target::Target;

    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let target = Target::from_harness(
        UsersFixture::builtin().harness(),
        server.url(),
        std::time::Duration::from_secs(10),
    );
    let suite = Suite::new(Client::new(target).unwrap(), load_embedded().unwrap());
    let results = server.runtime.block_on(suite.run_all(4));
    let mut files = Vec::new();
    let mut skipped = 0;
    for result in results {
        let scenario = &result.scenario.scenario;
        if matches!(result.outcome.verdict, Verdict::Ignored(_)) {
            // Only the opt-in deep mode is off on the reference: its scenarios have no snapshots.
            assert!(
                scenario.tags.iter().any(|tag| tag == DEEP_TAG),
                "{} is ignored on the reference: {:?}",
                scenario.name,
                result.outcome.verdict
            );
            continue;
        }
        for step in &result.outcome.steps {
            if step.is_skipped() {
                // Only a condition may keep a step from running on the reference.
                assert!(
                    scenario.steps[step.index].only_if.is_some(),
                    "{} step {}",
                    scenario.name,
                    step.index + 1
                );
                skipped += 1;
            } else {
                files.push(snapshot_file_name(&scenario.name, step.index, &step.name));
            }
        }
        let ran_or_skipped = result.outcome.steps.len();
        assert_eq!(
            ran_or_skipped,
            scenario.steps.len(),
            "{}: every step runs or is skipped on the reference ({:?})",
            scenario.name,
            result.outcome.verdict
        );
    }
    files.sort();
    (files, skipped)
}

#[test]
fn the_reference_profile_is_committed_one_insta_snapshot_per_step() {
    let dir = reference_dir();
    let (expected, skipped) = steps_the_reference_runs();
    assert!(skipped >= 10, "the branches not taken: {skipped}");
    assert_eq!(
        files_ending(&dir, ".snap"),
        expected,
        "every step of every scenario that the reference server runs has exactly one \
         snapshot in snapshots/reference (re-record with `cargo run -- run --record reference --force`)"
    );
    assert!(
        files_ending(&dir, ".snap.new").is_empty(),
        "no pending change is committed"
    );
    let token = UsersFixture::builtin().harness().api_token;
    for file in expected {
        let path = dir.join(&file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "{file} holds the api token");
        assert!(
            !text.contains("zzconf-"),
            "{file} holds a run-specific name"
        );
        // insta reads it as one of its own: cargo-insta can review the profile.
        let snapshot = insta::Snapshot::from_file(&path).unwrap();
        let description = snapshot.metadata().description().unwrap_or_default();
        assert!(description.contains(" · step "), "{file}: {description}");
        let contents = snapshot.as_text().unwrap().to_string();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&contents).unwrap(),
            parse_snapshot(&file, &text).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn the_reference_server_passes_its_own_profile_strictly() {
    let output = harness().args(["run", "--strict"]).output().unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    assert!(
        out.contains("checking every step against snapshot profile reference (snapshots/reference); --strict: any difference fails"),
        "{out}"
    );
    assert!(!out.contains("differs from profile"), "{out}");
    let (passed, failed, _) = counts(&out);
    assert!(passed >= 45 && failed == 0, "{out}");
}

#[test]
fn outside_the_source_tree_the_profile_built_into_the_binary_is_used() {
    let elsewhere = scratch("outside");
    let output = harness()
        .current_dir(&elsewhere)
        .args(["run", "--strict"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    assert!(
        out.contains(
            "checking every step against snapshot profile reference (built into the binary)"
        ),
        "{out}"
    );
    assert!(!out.contains("differs from profile"), "{out}");
    assert!(
        files_ending(&elsewhere, "").is_empty(),
        "nothing is written when checking"
    );
}

#[test]
fn an_unknown_profile_is_bad_configuration_before_any_trial() {
    let output = harness()
        .args(["run", "--snapshots", "no-such-profile"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", all(&output));
    assert!(
        stderr(&output).starts_with("error: no snapshot profile \"no-such-profile\""),
        "{}",
        stderr(&output)
    );
    assert!(!stdout(&output).contains("running"));
}

#[test]
fn alt_passes_by_default_and_reports_where_it_differs_from_the_profile() {
    let server = alt_server();
    // -v: every difference is listed (by default the summary counts them and shows the first few).
    let output = harness_against(&server.url()).arg("-v").output().unwrap();
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "alt is conformant:\n{}",
        all(&output)
    );
    assert_eq!(counts(&out).1, 0, "{out}");
    let summary = &out[out
        .find("steps that differ from profile reference (reported, never a failure without --strict):")
        .unwrap_or_else(|| panic!("no summary:\n{out}"))..];
    for expected in [
        // Optional fields left out on create: null instead of "" (a binding step, canonicalized).
        "crud::create_mandatory_only · step 1 \"create with only UserID and Name\" (documented) differs from profile reference (only in what the page leaves open; reported; fails only under --strict)",
        "      /Address: profile \"\", got null",
        // Unspecified errors: a 4xx status and another body shape.
        "validation::duplicate_user_id · step 2 \"create the same UserID again with other values\" (inferred) differs from profile reference (both refused; a refusal may take any shape here; reported; fails only under --strict)",
        "      (HTTP status): profile 200, got 409",
        "      /status: profile \"Error\", got (absent)",
        "      /error: profile (absent), got {\"code\":\"conflict\",\"detail\":\"IPDR Customer with UserID <uid:a> already exists\"}",
        // The path's UserID wins over the body's.
        "observed::user_id_mismatch::partial_update · step 2 \"PATCH with another UserID in the body\" (observed) differs from profile reference",
        // Concurrent responses, as a multiset.
        "      (response group 2) (HTTP status): profile 200, got 409",
        // A list of 260 folded into one line per field.
        "      /*/Email: profile \"\", got null (×260)",
    ] {
        assert!(summary.contains(expected), "missing {expected:?} in:\n{summary}");
    }
    // Ids (from 1000 in steps of 7) and list order (newest first) are not differences.
    assert_no_id_difference(summary);
    assert!(
        !summary.contains("  documented:") && !summary.contains("  inferred:"),
        "{summary}"
    );
}

#[test]
fn alt_fails_under_strict_with_diffs_naming_each_unspecified_behaviour() {
    let server = alt_server();
    let output = harness_against(&server.url())
        .arg("--strict")
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all(&output));
    let (_, failed, _) = counts(&out);
    assert!(failed >= 20, "{out}");
    // Every failure is a snapshot difference; no expectation of the suite fails.
    assert!(!out.contains("did not meet its expectation"), "{out}");
    assert_eq!(
        out.matches("\nsnapshot diff against profile reference:\n")
            .count(),
        failed,
        "{out}"
    );
    for (trial, lines) in [
        (
            "observed::unknown_user_id::delete",
            &[
                "(observed) differs from profile reference (the page is silent here; fails under --strict)",
                "(HTTP status): profile 200, got 404",
                "/message: profile \"IPDR Customer not found\", got (absent)",
                "/error: profile (absent), got {\"code\":\"not_found\",\"detail\":\"IPDR Customer not found\"}",
            ][..],
        ),
        (
            "crud::create_mandatory_only",
            &[
                "(documented) differs from profile reference (only in what the page leaves open; fails under --strict)",
                "snapshot: snapshots/reference/crud__create_mandatory_only__01_create_with_only_userid_and_name.snap",
                "/AltPhoneNumber: profile \"\", got null",
                "/0/Address: profile \"\", got null",
            ][..],
        ),
        (
            "validation::malformed_json::create",
            &["(HTTP status): profile 200, got 400", "\"code\":\"bad_request\""][..],
        ),
        (
            "observed::user_id_mismatch::full_update",
            &["/message: profile \"UserID in body does not match UserID in URL\", got (absent)"][..],
        ),
    ] {
        let failure = failure_of(&out, trial);
        for line in lines {
            assert!(failure.contains(line), "missing {line:?} in:\n{failure}");
        }
    }
    // Ids and list order are never named.
    assert_no_id_difference(&out);
}

#[test]
fn alt_strict_failures_read_as_pinned() {
    let server = alt_server();
    for (trial, name) in [
        (
            "crud::create_mandatory_only",
            "alt_strict_optional_fields_console",
        ),
        (
            "observed::unknown_user_id::delete",
            "alt_strict_unknown_user_id_console",
        ),
    ] {
        let output = harness_against(&server.url())
            .args(["--strict", "--exact", trial])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", all(&output));
        insta::assert_snapshot!(name, pinned(&stdout(&output)));
    }
}

/// The text after the run from the snapshot summary's header on.
fn summary_of(out: &str) -> &str {
    let header =
        "steps that differ from profile reference (reported, never a failure without --strict):";
    &out[out
        .find(header)
        .unwrap_or_else(|| panic!("no summary:\n{out}"))..]
}

#[test]
fn a_conformant_server_whose_binding_answers_differ_from_the_profile_passes_by_default() {
    let server = strict_server();
    // -v: every difference is listed (by default the summary counts them and shows the first few).
    let output = harness_against(&server.url()).arg("-v").output().unwrap();
    let out = stdout(&output);
    assert!(
        output.status.success(),
        "strict is conformant: the profile is no oracle:\n{}",
        all(&output)
    );
    assert_eq!(counts(&out).1, 0, "{out}");
    assert!(!out.contains("snapshot diff against"), "{out}");
    let summary = summary_of(&out);
    // Listed at its own level: the canonical form does not explain it, the step's pattern passed it.
    let inferred = &summary[summary
        .find("\n  inferred: ")
        .unwrap_or_else(|| panic!("no inferred step listed:\n{summary}"))..];
    for expected in [
        format!("{CHECK_ORDER_STEP} profile reference (beyond the canonical form; the step's own checks are the verdict; reported; fails only under --strict)"),
        format!("      /status: profile {STATUS_TOKEN_ERROR:?}, got {STATUS_CONTEXT_ERROR:?}"),
        format!("      /message: profile {MESSAGE_INVALID_TOKEN:?}, got \"{MESSAGE_INVALID_CONTEXT_PREFIX}<invalid_context>\""),
    ] {
        assert!(inferred.contains(&expected), "missing {expected:?} in:\n{summary}");
    }
    // The only binding step listed: every other difference is in what the page leaves open.
    // (No id check: strict reuses ids after a delete, which observed::recreate_after_delete reports.)
    assert!(summary.contains("\n  inferred: 1 step(s)\n"), "{summary}");
    assert!(!summary.contains("\n  documented: "), "{summary}");
}

#[test]
fn the_same_conformant_server_fails_under_strict_with_the_check_order_difference() {
    let server = strict_server();
    let output = harness_against(&server.url())
        .arg("--strict")
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all(&output));
    // Every failure is a snapshot difference; no expectation of the suite fails.
    assert!(!out.contains("did not meet its expectation"), "{out}");
    let failure = failure_of(
        &out,
        "errors::check_order::invalid_token_and_invalid_context",
    );
    for line in [
        "snapshot diff against profile reference:",
        "step 1/2 \"list with both errors: one of the two documented envelopes\" (inferred) differs from profile reference (beyond the canonical form; the step's own checks are the verdict; fails under --strict)",
        &format!("    /status: profile {STATUS_TOKEN_ERROR:?}, got {STATUS_CONTEXT_ERROR:?}"),
    ] {
        assert!(failure.contains(line), "missing {line:?} in:\n{failure}");
    }
    assert!(
        !out.contains("steps that differ from profile reference (reported"),
        "under --strict every difference is in a failure:\n{out}"
    );
}

#[test]
fn a_deviation_that_changes_a_field_value_fails_on_its_pattern_and_the_snapshot_diff_is_reported() {
    for (deviation, trial, line) in [
        (
            Deviation::CreateDropsAltPhone,
            "crud::create_all_fields",
            "/AltPhoneNumber: profile \"9999999999\", got \"\"",
        ),
        (
            Deviation::PutDropsAddress,
            "crud::full_update",
            "/Address: profile \"India\", got \"Chennai\"",
        ),
    ] {
        let server =
            Server::start(ServerConfig::new(UsersFixture::builtin()).with_deviation(deviation));
        let run = |extra: &[&str]| {
            harness_against(&server.url())
                .args(["--exact", trial])
                .args(extra)
                .output()
                .unwrap()
        };
        // By default the scenario's own checks fail it; the profile only reports
        // (-v lists every difference; by default the summary counts them).
        let output = run(&["-v"]);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{}", all(&output));
        let failure = failure_of(&out, trial);
        assert!(
            failure.contains("did not meet its expectation"),
            "{failure}"
        );
        assert!(
            !failure.contains("snapshot diff against"),
            "a snapshot difference is no failure without --strict:\n{failure}"
        );
        let summary = summary_of(&out);
        assert!(
            summary.contains("\n  documented: 1 step(s)\n"),
            "listed at its own level:\n{summary}"
        );
        assert!(
            summary.contains("(documented) differs from profile reference (beyond the canonical form; the step's own checks are the verdict; reported; fails only under --strict)"),
            "{summary}"
        );
        assert!(
            summary.contains(&format!("      {line}\n")),
            "missing {line:?} in:\n{summary}"
        );
        // Under --strict the trial's failure holds the snapshot diff too.
        let output = run(&["--strict"]);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{}", all(&output));
        let failure = failure_of(&out, trial);
        assert!(
            failure.contains("snapshot diff against profile reference:\n"),
            "{failure}"
        );
        assert!(
            failure.contains(&format!("    {line}\n")),
            "missing {line:?} in:\n{failure}"
        );
    }
}

#[test]
fn a_profile_recorded_from_alt_passes_alt_strictly() {
    let dir = scratch("recorded_alt");
    let server = alt_server();
    let recorded = harness_against(&server.url())
        .args(["--record", "alt"])
        .arg("--snapshots-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let out = stdout(&recorded);
    assert!(recorded.status.success(), "{}", all(&recorded));
    assert!(
        out.contains("recording snapshot profile alt into "),
        "{out}"
    );
    let files = files_ending(&dir.join("alt"), ".snap");
    // The same steps as the reference's, but for the branches of an
    // `only_if` alt takes otherwise and the cross-user trials (this run has
    // no second user; the reference profile was recorded with one).
    let mut conditional = std::collections::BTreeSet::new();
    let mut cross_user = std::collections::BTreeSet::new();
    for loaded in load_embedded().unwrap() {
        let scenario = &loaded.scenario;
        for (index, step) in scenario.steps.iter().enumerate() {
            let file = snapshot_file_name(&scenario.name, index, &step.name);
            if step.only_if.is_some() {
                conditional.insert(file.clone());
            }
            if scenario.name.starts_with("cross_user::") {
                cross_user.insert(file);
            }
        }
    }
    let reference = files_ending(&reference_dir(), ".snap");
    let only_alt: Vec<&String> = files.iter().filter(|f| !reference.contains(f)).collect();
    let only_reference: Vec<&String> = reference.iter().filter(|f| !files.contains(f)).collect();
    assert!(
        only_alt.iter().all(|file| conditional.contains(*file)),
        "{only_alt:?}"
    );
    assert!(
        only_reference
            .iter()
            .all(|file| conditional.contains(*file) || cross_user.contains(*file)),
        "{only_reference:?}"
    );
    assert!(
        only_alt.len() >= 4 && files.len() + 100 > reference.len(),
        "alt takes another branch only here and there: {} of {} files",
        files.len(),
        reference.len()
    );
    assert!(out.contains(&format!(
        "recorded snapshot profile alt: {} snapshot(s) of ",
        files.len()
    )));
    let token = UsersFixture::builtin().harness().api_token;
    for file in &files {
        let text = std::fs::read_to_string(dir.join("alt").join(file)).unwrap();
        assert!(!text.contains(&token), "{file} holds the api token");
    }
    // A fresh alt server: ids start over elsewhere, nothing depends on them.
    let fresh = alt_server();
    let checked = harness_against(&fresh.url())
        .args(["--strict", "--snapshots", "alt"])
        .arg("--snapshots-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let out = stdout(&checked);
    assert!(checked.status.success(), "{}", all(&checked));
    assert!(
        out.contains("checking every step against snapshot profile alt ("),
        "{out}"
    );
    assert!(!out.contains("differs from profile"), "{out}");
}

#[test]
fn record_refuses_to_overwrite_a_profile_without_force() {
    let dir = scratch("overwrite");
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let record = |extra: &[&str]| {
        harness_against(&server.url())
            .args(["--exact", "crud::create_all_fields", "--record", "mine"])
            .args(extra)
            .arg("--snapshots-dir")
            .arg(&dir)
            .output()
            .unwrap()
    };
    let first = record(&[]);
    assert!(first.status.success(), "{}", all(&first));
    let files = files_ending(&dir.join("mine"), ".snap");
    assert_eq!(files.len(), 2, "{files:?}");
    let marker = dir.join("mine").join(&files[0]);
    std::fs::write(&marker, "edited by hand").unwrap();

    let again = record(&[]);
    assert_eq!(again.status.code(), Some(2), "{}", all(&again));
    assert_eq!(
        stderr(&again).trim(),
        format!(
            "error: profile \"mine\" already exists in {}; pass --force to replace it",
            dir.join("mine").display()
        )
    );
    assert!(!stdout(&again).contains("running"), "no trial runs");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "edited by hand");

    let forced = record(&["--force"]);
    assert!(forced.status.success(), "{}", all(&forced));
    assert_ne!(std::fs::read_to_string(&marker).unwrap(), "edited by hand");
}

#[test]
fn with_ci_set_nothing_is_written_and_the_output_says_so() {
    let dir = scratch("ci");
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let output = harness_against(&server.url())
        .env("CI", "true")
        .args(["--exact", "crud::create_all_fields", "--record", "mine"])
        .arg("--snapshots-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    assert!(
        out.contains("CI is set: nothing is written, so profile mine is not recorded"),
        "{out}"
    );
    assert!(!dir.join("mine").exists(), "no profile directory");

    // Nor a pending change.
    let copy = copy_of_reference(&dir);
    let alt = alt_server();
    let output = harness_against(&alt.url())
        .env("CI", "1")
        .args(["--exact", "crud::create_mandatory_only", "--write-pending"])
        .arg("--snapshots-dir")
        .arg(&dir)
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    assert!(
        out.contains("CI is set: nothing is written, so no .snap.new file either"),
        "{out}"
    );
    assert!(files_ending(&copy, ".snap.new").is_empty());
}

#[test]
fn pending_changes_are_written_beside_the_snapshots_and_can_be_accepted() {
    let dir = scratch("pending");
    let copy = copy_of_reference(&dir);
    let alt = alt_server();
    let run = |extra: &[&str]| {
        harness_against(&alt.url())
            .args(["--exact", "crud::create_mandatory_only"])
            .args(extra)
            .arg("--snapshots-dir")
            .arg(&dir)
            .output()
            .unwrap()
    };
    let output = run(&["--write-pending"]);
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    let pending = files_ending(&copy, ".snap.new");
    assert_eq!(
        pending,
        [
            "crud__create_mandatory_only__01_create_with_only_userid_and_name.snap.new",
            "crud__create_mandatory_only__02_the_list_holds_the_created_customer.snap.new",
        ]
    );
    assert!(
        out.contains("wrote 2 pending snapshot change(s) as .snap.new in "),
        "{out}"
    );
    for file in &pending {
        // cargo-insta reads them as pending snapshots.
        insta::Snapshot::from_file(&copy.join(file)).unwrap();
    }

    let listed = harness()
        .args(["snapshots", "pending", "reference", "--snapshots-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let listing = stdout(&listed);
    assert!(listed.status.success(), "{}", all(&listed));
    assert!(
        listing.starts_with("profile reference: 2 pending snapshot change(s)\n"),
        "{listing}"
    );
    assert!(
        listing.contains("    /Email: snapshot \"\", new null\n"),
        "{listing}"
    );

    let accepted = harness()
        .args(["snapshots", "accept", "reference", "--snapshots-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(accepted.status.success(), "{}", all(&accepted));
    assert!(files_ending(&copy, ".snap.new").is_empty());
    let strict = run(&["--strict"]);
    assert!(strict.status.success(), "{}", all(&strict));
}

#[test]
fn compare_with_lists_only_observed_differences_between_reference_and_alt() {
    let reference = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let alt = alt_server();
    let output = harness_against(&reference.url())
        .args(["--compare-with", &alt.url()])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    let header = format!(
        "steps whose normalized responses differ from --compare-with {}, by level:\n  documented: none\n  inferred: none\n  observed: ",
        alt.url()
    );
    assert!(out.contains(&header), "{out}");
    assert!(
        out.contains("    validation::duplicate_user_id · step 2 \"create the same UserID again with other values\" (inferred) differs from --compare-with (both refused; a refusal may take any shape here"),
        "{out}"
    );
    assert!(
        out.contains("      (HTTP status): compare-with 409, target 200"),
        "{out}"
    );
    assert_no_id_difference(&out);

    let strict = harness_against(&reference.url())
        .args(["--strict", "--compare-with", &alt.url()])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "{}", all(&strict));
}

#[test]
fn compare_with_a_deviating_server_lists_a_documented_difference_and_fails() {
    let reference = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let broken = Server::start(
        ServerConfig::new(UsersFixture::builtin()).with_deviation(Deviation::CreateDropsAltPhone),
    );
    // The candidate (--target) is the broken one; the live reference is --compare-with.
    let output = harness_against(&broken.url())
        .args([
            "--exact",
            "crud::create_all_fields",
            "--compare-with",
            &reference.url(),
        ])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all(&output));
    // The scenario's own checks fail it, not the difference.
    assert!(
        failure_of(&out, "crud::create_all_fields").contains("did not meet its expectation"),
        "{out}"
    );
    assert!(!out.contains("snapshot diff against"), "{out}");
    assert!(out.contains("  documented: 1 step(s)\n"), "{out}");
    assert!(
        out.contains("      /AltPhoneNumber: compare-with \"9999999999\", target \"\""),
        "{out}"
    );
}

#[test]
fn compare_with_follows_the_same_rule_binding_differences_are_listed_and_fail_only_under_strict() {
    let reference = Server::start(ServerConfig::builtin());
    let strict = strict_server();
    let run = |extra: &[&str]| {
        harness_against(&strict.url())
            .args(["--compare-with", &reference.url()])
            .args(extra)
            .output()
            .unwrap()
    };
    let output = run(&[]);
    let out = stdout(&output);
    assert!(output.status.success(), "{}", all(&output));
    assert_eq!(counts(&out).1, 0, "{out}");
    let listing = &out[out
        .find("steps whose normalized responses differ from --compare-with ")
        .unwrap_or_else(|| panic!("no listing:\n{out}"))..];
    let inferred = &listing[listing
        .find("\n  inferred: ")
        .unwrap_or_else(|| panic!("no inferred step listed:\n{listing}"))..];
    assert!(
        inferred.contains(&format!("{CHECK_ORDER_STEP} --compare-with (beyond the canonical form; the step's own checks are the verdict; reported; fails only under --strict)")),
        "{listing}"
    );
    assert!(
        inferred.contains(&format!(
            "      /status: compare-with {STATUS_TOKEN_ERROR:?}, target {STATUS_CONTEXT_ERROR:?}"
        )),
        "{listing}"
    );

    let output = run(&["--strict"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", all(&output));
    assert!(!out.contains("did not meet its expectation"), "{out}");
    let failure = failure_of(
        &out,
        "errors::check_order::invalid_token_and_invalid_context",
    );
    assert!(
        failure.contains("snapshot diff against --compare-with "),
        "{failure}"
    );
}
