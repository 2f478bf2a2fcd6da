//! Operator slips in selection end with one line and exit 2; `--list`
//! prints only the list and survives a closed pipe; a run keeps its
//! artifacts in one directory, and a run that keeps nothing leaves none.

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{harness, harness_against, stderr, stdout, Server};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("selection-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_filter_that_matches_nothing_is_one_line_naming_the_closest_trials_and_exit_2() {
    for list in [false, true] {
        let mut command = harness();
        command.args(["run", "crud::craete"]);
        if list {
            command.arg("--list");
        }
        let output = command.stdin(Stdio::null()).output().unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "--list {list}: {err}");
        assert_eq!(stdout(&output), "", "--list {list}: nothing on stdout");
        assert_eq!(err.lines().count(), 1, "one line:\n{err}");
        insta::assert_snapshot!("nothing_selected", err);
    }
}

#[test]
fn a_skip_that_leaves_nothing_is_exit_2() {
    let output = harness()
        .args(["run", "--skip", "::"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--skip \"::\""), "{err}");
}

#[test]
fn list_prints_only_the_list_and_survives_a_closed_pipe() {
    let output = harness().args(["run", "--list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let out = stdout(&output);
    assert!(
        out.lines()
            .all(|line| line.starts_with('[') && line.ends_with(": test")),
        "only trial lines:\n{out}"
    );
    // The reader goes away before the list is written, as `| head -0` does.
    let mut child = harness()
        .args(["run", "--list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

#[test]
fn a_passing_run_against_a_target_leaves_no_directory_behind() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let cwd = scratch("clean");
    let output = harness_against(&server.url())
        .current_dir(&cwd)
        .args(["--cases", "8", "--concurrent-cases", "2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        entries(&cwd),
        Vec::<String>::new(),
        "nothing is left in the working directory"
    );
}

#[test]
fn a_failing_run_keeps_its_repros_in_the_out_dir_only() {
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin()).with_deviation(Deviation::ApiTokenEchoed),
    );
    let cwd = scratch("failing");
    let output = harness_against(&server.url())
        .current_dir(&cwd)
        .args(["property::crud", "--cases", "8"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(entries(&cwd), ["ipdr-out"], "one directory");
    assert_eq!(
        entries(&cwd.join("ipdr-out")),
        ["repros"],
        "the ledger was retired"
    );
    assert!(!entries(&cwd.join("ipdr-out/repros")).is_empty());
    // --out-dir moves all of it.
    let elsewhere = scratch("failing-elsewhere");
    let output = harness_against(&server.url())
        .current_dir(&cwd)
        .arg("--out-dir")
        .arg(&elsewhere)
        .args(["property::crud", "--cases", "8"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(entries(&elsewhere), ["repros"]);
}
