//! Tests that need a program from outside Rust: the HTML report read in
//! headless Chromium, the man page rendered by groff.
//!
//! libtest's `#[test]` has no way to say "skipped" at run time, so a test
//! that returned early printed `ok`. This file runs its own harness
//! (libtest-mimic, `harness = false`): where the program is missing the
//! trial is reported as `ignored (no chromium on PATH: ...)`, counted in the
//! summary's "ignored", unless CI or `IPDR_REQUIRE_TOOLS=1` is set (as
//! `.ci/run` does), where a missing program fails the trial.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{harness, harness_against, stderr, stdout, Server, TempDir};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// Set (to anything) to make a missing program fail its trial; CI does the same.
const REQUIRE_TOOLS: &str = "IPDR_REQUIRE_TOOLS";

fn main() {
    let trials = vec![
        Trial::ignorable_test("the_html_matrix_reads_from_a_real_browser", || {
            with_program(
                &["chromium", "chromium-browser"],
                "apt-get install chromium",
                |browser| {
                    the_html_matrix_reads_from_a_real_browser(&browser);
                },
            )
        }),
        Trial::ignorable_test("the_man_page_renders_in_groff_without_warnings", || {
            with_program(&["groff"], "apt-get install groff-base", |groff| {
                the_man_page_renders_in_groff_without_warnings(&groff);
            })
        }),
        Trial::test(
            "a_missing_program_is_reported_as_ignored_or_fails_where_required",
            || {
                a_missing_program_is_reported_as_ignored_or_fails_where_required();
                Ok(())
            },
        ),
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// Runs `test` with the first of `names` found on PATH; without one, the
/// trial is ignored with the reason, or fails where the programs are required.
fn with_program(
    names: &[&str],
    install: &str,
    test: impl FnOnce(PathBuf),
) -> Result<Completion, Failed> {
    let Some(program) = names.iter().find_map(|name| on_path(name)) else {
        let missing = format!("no {} on PATH: {install}", names.join(" or "));
        return if std::env::var_os("CI").is_some() || std::env::var_os(REQUIRE_TOOLS).is_some() {
            Err(format!(
                "{missing} (CI or {REQUIRE_TOOLS} is set, so it must run; .ci/run installs it)"
            )
            .into())
        } else {
            Ok(Completion::ignored_with(format!(
                "{missing}; .ci/run runs it"
            )))
        };
    };
    test(program);
    Ok(Completion::Completed)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn the_html_matrix_reads_from_a_real_browser(browser: &Path) {
    let dir = TempDir::new("reports-browser");
    let html = dir.0.join("report.html");
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_deviation(Deviation::TokenErrorStatusMixedCase),
    );
    let run = harness_against(&server.url())
        .arg("--report-html")
        .arg(&html)
        .arg("--out-dir")
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(html.is_file(), "no HTML report:\n{}", stderr(&run));
    let profile = dir.0.join("chromium-profile");
    let dom = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("id=\"matrix\""),
        "the browser rendered no matrix:\n{dom}"
    );
    // The invalid-token row holds failing cells; the creation row passes.
    let row = dom
        .split("<tr ")
        .find(|row| row.contains("data-section=\"Error Handling › Invalid API Token\""))
        .expect("an invalid-token row");
    assert!(row.contains("data-verdict=\"fail\""), "{row}");
    let create_row = dom
        .split("<tr ")
        .find(|row| {
            row.contains("data-section=\"Managing IPDR Customers › Creating a New Customer\"")
        })
        .expect("a create row");
    assert!(
        !create_row.contains("data-verdict=\"fail\""),
        "{create_row}"
    );
}

/// What `man ./ipdr-conformance.1` does: groff reads every page without a warning.
fn the_man_page_renders_in_groff_without_warnings(groff: &Path) {
    for command in [
        &[][..],
        &["run"][..],
        &["sweep"][..],
        &["snapshots", "accept"][..],
    ] {
        let page = harness().arg("man").args(command).output().unwrap();
        assert_eq!(page.status.code(), Some(0), "{}", stderr(&page));
        let rendered = piped(
            Command::new(groff).args(["-man", "-Tutf8", "-ww", "-P-cbou"]),
            &page.stdout,
        );
        assert!(rendered.status.success(), "{}", stderr(&rendered));
        assert_eq!(stderr(&rendered), "", "groff warns on man {command:?}");
        let text = stdout(&rendered);
        assert!(text.contains("SYNOPSIS"), "{text}");
    }
}

fn piped(command: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// This binary again, one trial, with nothing on PATH (so no browser).
fn without_programs(trial: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let empty = TempDir::new("no-programs");
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", trial, "--color", "never", "--test-threads", "1"])
        .env("PATH", &empty.0)
        .env_remove("CI")
        .env_remove(REQUIRE_TOOLS)
        .envs(env.iter().copied());
    let output = command.output().unwrap();
    (output.status.code(), stdout(&output))
}

fn a_missing_program_is_reported_as_ignored_or_fails_where_required() {
    let trial = "the_html_matrix_reads_from_a_real_browser";
    let (code, out) = without_programs(trial, &[]);
    assert_eq!(code, Some(0), "{out}");
    let line = out
        .lines()
        .find(|line| line.starts_with(&format!("test {trial} ")))
        .unwrap_or_else(|| panic!("no line for the trial:\n{out}"));
    insta::assert_snapshot!("missing_browser_line", line);
    assert!(
        out.contains("test result: ok. 0 passed; 0 failed; 1 ignored;"),
        "{out}"
    );
    for required in [(REQUIRE_TOOLS, "1"), ("CI", "true")] {
        let (code, out) = without_programs(trial, &[required]);
        assert_eq!(code, Some(101), "{required:?}:\n{out}");
        assert!(out.contains(&format!("test {trial} ... FAILED")), "{out}");
        assert!(
            out.contains("no chromium or chromium-browser on PATH"),
            "{out}"
        );
        assert!(
            out.contains("test result: FAILED. 0 passed; 1 failed; 0 ignored;"),
            "{out}"
        );
    }
}
