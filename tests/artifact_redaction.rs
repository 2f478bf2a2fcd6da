//! No artifact holds a token: against a server that echoes every request's
//! api_token into its answers, a run writes every artifact it can (JUnit,
//! JSON, HTML and Markdown reports, repro scenarios, recorded snapshots,
//! pending snapshots, the ledger, the console) and none contains either
//! configured token (issue 12: "the token goes nowhere but the target").

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{harness_against, stderr, stdout, Server};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};

fn with_other_user(command: &mut Command) -> &mut Command {
    let other = UsersFixture::builtin().harness().other.unwrap();
    command
        .env("IPDR_OTHER_USERNAME", &other.username)
        .env("IPDR_OTHER_API_TOKEN", &other.api_token)
        .env("IPDR_OTHER_CONTEXT", &other.context)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn no_artifact_of_a_run_against_a_server_that_echoes_the_token_contains_it() {
    let credentials = UsersFixture::builtin().harness();
    let secrets = [
        credentials.api_token.clone(),
        credentials.other.clone().unwrap().api_token,
    ];
    let plain = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let echo = Server::start(
        ServerConfig::new(UsersFixture::builtin()).with_deviation(Deviation::ApiTokenEchoed),
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("artifact-redaction-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let snapshots = dir.join("snapshots");
    let run = |server: &Server, args: &[&str]| -> Output {
        let mut command = harness_against(&server.url());
        with_other_user(&mut command)
            .arg("--snapshots-dir")
            .arg(&snapshots)
            .arg("--ledger-dir")
            .arg(dir.join("ledger"))
            .arg("--repro-dir")
            .arg(dir.join("repros"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let mut outputs = Vec::new();
    // A profile recorded from a conformant server, and one from the echoing server.
    outputs.push(run(&plain, &["--record", "plain", "--skip", "property::"]));
    outputs.push(run(&echo, &["--record", "echo", "--skip", "property::"]));
    // Checked against the conformant profile: every echoed answer is a pending snapshot.
    let report = |name: &str| dir.join(name).display().to_string();
    outputs.push(run(
        &echo,
        &[
            "--snapshots",
            "plain",
            "--write-pending",
            "--cases",
            "16",
            "--concurrent-cases",
            "4",
            "--junit",
            &report("junit.xml"),
            "--report-json",
            &report("report.json"),
            "--report-html",
            &report("report.html"),
            "--summary-md",
            &report("summary.md"),
        ],
    ));
    let last = outputs.last().unwrap();
    assert_eq!(last.status.code(), Some(1), "{}", stdout(last));
    let files = files_under(&dir);
    let written = |suffix: &str| {
        files
            .iter()
            .any(|f| f.display().to_string().ends_with(suffix))
    };
    // The artifacts this test is about were all written.
    for suffix in [
        "junit.xml",
        "report.json",
        "report.html",
        "summary.md",
        ".snap",
        ".snap.new",
    ] {
        assert!(written(suffix), "no {suffix} written: {files:?}");
    }
    assert!(
        files.iter().any(|f| f.starts_with(dir.join("repros"))),
        "no repro written: {files:?}"
    );
    assert!(
        std::fs::read_to_string(dir.join("report.json"))
            .unwrap()
            .contains("<redacted>"),
        "the echoed tokens are shown redacted"
    );
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} contains a token",
                file.display()
            );
        }
    }
    for (index, output) in outputs.iter().enumerate() {
        for secret in &secrets {
            assert!(
                !stdout(output).contains(secret.as_str()),
                "run {index}: the console (stdout) shows a token"
            );
            assert!(
                !stderr(output).contains(secret.as_str()),
                "run {index}: the console (stderr) shows a token"
            );
        }
    }
}
