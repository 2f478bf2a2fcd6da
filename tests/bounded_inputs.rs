//! Every input is bounded: an oversized repeat, an absurd retry count, a
//! zero count, a FIFO among the specs and a malformed token each end with
//! one line on stderr and exit 2, before any request.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{harness, harness_against, stderr, Server};
use ipdr_conformance::reference::{ServerConfig, UsersFixture};

fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bounded-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario whose one step sends `user_id` as the UserID.
fn scenario(user_id: &str) -> String {
    serde_json::json!({
        "name": "bounded::one_create",
        "level": "documented",
        "citation": "Managing IPDR Customers › Creating a New Customer",
        "tags": ["create"],
        "description": "One create.",
        "steps": [{
            "name": "create",
            "request": {
                "method": "POST",
                "path": "/api/ipdrcustomers",
                "body": { "UserID": user_id, "Name": "Trisul" }
            },
            "expect": { "status": 200 }
        }]
    })
    .to_string()
}

/// Runs `command`, killing it if it has not ended within a minute (a hang
/// is then reported as a failure instead of stalling the suite).
fn finish(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Exit 2 with exactly one line on stderr, which contains `needle`.
fn assert_one_line_exit_2(output: &Output, needle: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{text}");
    assert_eq!(text.lines().count(), 1, "one line expected, got:\n{text}");
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

#[test]
fn a_repeat_past_the_total_byte_cap_is_a_load_error() {
    let specs = scratch("repeat");
    // 4 bytes a million times: under the old cap on N, 4 MB in total.
    std::fs::write(specs.join("big.json"), scenario("${repeat:abcd:1000000}")).unwrap();
    let mut command = harness();
    command.arg("run").arg("--specs").arg(&specs).arg("--list");
    assert_one_line_exit_2(&finish(command), "big.json");
}

#[test]
fn a_repeat_under_the_cap_still_loads() {
    let specs = scratch("repeat-ok");
    std::fs::write(specs.join("ok.json"), scenario("${repeat:ab:1000}")).unwrap();
    let mut command = harness();
    command.arg("run").arg("--specs").arg(&specs).arg("--list");
    let output = finish(command);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn absurd_retries_and_zero_counts_are_refused() {
    for (flag, value) in [
        ("--retries", "4294967295"),
        ("--retries", "11"),
        ("--cases", "0"),
        ("--max-ops", "0"),
        ("--jobs", "0"),
    ] {
        let mut command = harness();
        command.arg("run").arg(flag).arg(value);
        let output = finish(command);
        assert_one_line_exit_2(&output, flag);
    }
}

#[test]
fn sweep_refuses_absurd_retries() {
    let mut command = harness();
    command
        .arg("sweep")
        .arg("--target")
        .arg("http://127.0.0.1:9")
        .arg("--retries")
        .arg("4294967295")
        .env("IPDR_API_TOKEN", "x")
        .env("IPDR_USERNAME", "u");
    assert_one_line_exit_2(&finish(command), "--retries");
}

#[cfg(unix)]
#[test]
fn a_fifo_among_the_specs_is_refused_without_reading_it() {
    let specs = scratch("fifo");
    std::fs::write(specs.join("ok.json"), scenario("${uid:a}")).unwrap();
    let fifo = specs.join("pipe.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut command = harness();
    command.arg("run").arg("--specs").arg(&specs).arg("--list");
    assert_one_line_exit_2(&finish(command), "pipe.json");
}

/// A run against a reference server with the token given by `configure`.
fn run_with_token(configure: impl FnOnce(&mut Command)) -> Output {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let mut command = harness_against(&server.url());
    command.env_remove("IPDR_API_TOKEN");
    // One quick trial: the preflight and that trial authenticate with the token.
    command.arg("--exact").arg("crud::create_mandatory_only");
    configure(&mut command);
    finish(command)
}

#[test]
fn a_token_file_with_a_bom_and_crlf_authenticates() {
    let token = UsersFixture::builtin().harness().api_token;
    let dir = scratch("token-bom");
    let file = dir.join("token");
    std::fs::write(&file, format!("\u{feff}{token}\r\n")).unwrap();
    let output = run_with_token(|command| {
        command.arg("--api-token-file").arg(&file);
    });
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn a_token_variable_with_a_trailing_newline_authenticates() {
    let token = UsersFixture::builtin().harness().api_token;
    let output = run_with_token(|command| {
        command.env("IPDR_API_TOKEN", format!("{token}\n"));
    });
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn an_empty_token_names_where_it_came_from() {
    let dir = scratch("token-empty");
    let file = dir.join("token");
    std::fs::write(&file, "\u{feff}\r\n").unwrap();
    let output = run_with_token(|command| {
        command.arg("--api-token-file").arg(&file);
    });
    assert_one_line_exit_2(&output, &file.display().to_string());
    let output = run_with_token(|command| {
        command.env("IPDR_API_TOKEN", "\n");
    });
    assert_one_line_exit_2(&output, "IPDR_API_TOKEN");
}
