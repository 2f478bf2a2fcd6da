//! Scenario files and servers built to trick the harness into touching a
//! record it did not create, or into sending the token elsewhere: each trick
//! is refused, and the foreign records are byte-identical afterwards.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{harness_against, stderr, stdout, Server};
use ipdr_conformance::execution::client::Client;
use ipdr_conformance::execution::target::{ApiToken, Target};
use ipdr_conformance::reference::{Preload, PreloadCustomer, ServerConfig, UsersFixture};
use ipdr_conformance::spec::contract::Customer;

/// A customer that belongs to someone else, in every context of the fixture.
const FOREIGN: &str = "B68t19";

fn foreign_records() -> Preload {
    let mut preload = Preload::new();
    for context in ["default", "ipdr2", "restricted"] {
        preload.add(context, PreloadCustomer::new(FOREIGN, "Trisul"));
        preload.add(
            context,
            PreloadCustomer::new("Xlr8d3", "Trisul Network Analytics"),
        );
    }
    preload
}

fn server_with(users: UsersFixture) -> Server {
    Server::start(ServerConfig::new(users).with_preload(foreign_records()))
}

/// A fresh specs directory holding `scenario` as `trick.json`.
fn specs_with(name: &str, scenario: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("guard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("trick.json"), scenario).unwrap();
    dir
}

/// Runs the scenario files of `specs` alone against `server`.
fn run(server: &Server, specs: &PathBuf, token: Option<&str>) -> Output {
    let mut command = harness_against(&server.url());
    if let Some(token) = token {
        command.env("IPDR_API_TOKEN", token);
    }
    command
        .arg("--specs")
        .arg(specs)
        .arg("--ledger-dir")
        .arg(specs.join("ledger"))
        .args(["--skip", "property::"])
        .output()
        .unwrap()
}

fn assert_foreign_untouched(server: &Server, before: &BTreeMap<String, Vec<Customer>>) {
    assert_eq!(
        &server.running().snapshot(),
        before,
        "the records the harness did not create must be exactly as they were"
    );
}

/// A scenario that creates its own record and then sends `request` (a JSON object).
fn scenario(request: &str) -> String {
    format!(
        r#"{{
      "name": "trick::path",
      "level": "inferred",
      "citation": "Deleting a Customer",
      "steps": [
        {{"name": "create", "request": {{"method": "POST", "path": "/api/ipdrcustomers", "body": {{"UserID": "${{uid:a}}", "Name": "Own"}}}}, "expect": {{"body": {{"$customer": {{"UserID": "${{uid:a}}"}}}}}}}},
        {{"name": "the trick", "request": {request}, "expect": {{"answer": "refusal"}}}}
      ]
    }}"#
    )
}

/// A path trick is a load error naming the file and the step: exit 2, nothing sent.
fn assert_load_error(name: &str, path: &str) {
    let server = server_with(UsersFixture::builtin());
    let before = server.running().snapshot();
    let request = format!(r#"{{"method": "DELETE", "path": "{path}"}}"#);
    let specs = specs_with(name, &scenario(&request));
    let output = run(&server, &specs, None);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{path}: a load error\n{err}\n{}",
        stdout(&output)
    );
    assert!(err.contains("trick.json"), "names the file: {err}");
    assert!(err.contains("step 2"), "names the step: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert_foreign_untouched(&server, &before);
    let _ = std::fs::remove_dir_all(&specs);
}

#[test]
fn a_dot_segment_before_the_collection_is_a_load_error() {
    assert_load_error("dot", "/api/./ipdrcustomers/B68t19");
}

#[test]
fn a_dot_dot_segment_after_an_own_user_id_is_a_load_error() {
    assert_load_error("dotdot", "/api/ipdrcustomers/${uid:a}/../B68t19");
}

#[test]
fn a_percent_encoded_dot_dot_segment_is_a_load_error() {
    assert_load_error("encoded", "/api/ipdrcustomers/${uid:a}/%2e%2E/B68t19");
}

#[test]
fn a_dot_dot_segment_arriving_in_a_captured_value_is_refused_when_the_step_runs() {
    // The load cannot see a captured value: the guard judges the URL as the client sends it.
    let server = server_with(UsersFixture::builtin());
    let before = server.running().snapshot();
    let steps = r#"{
      "name": "trick::captured_dots",
      "level": "inferred",
      "citation": "Deleting a Customer",
      "steps": [
        {"name": "create", "request": {"method": "POST", "path": "/api/ipdrcustomers", "body": {"UserID": "${uid:a}", "Name": "Own", "Address": ".."}}, "expect": {"body": {"$customer": {"UserID": "${uid:a}"}}}, "capture": {"up": "/Address"}},
        {"name": "the trick", "request": {"method": "DELETE", "path": "/api/ipdrcustomers/${uid:a}/${up}/B68t19"}, "expect": {"answer": "refusal"}}
      ]
    }"#;
    let specs = specs_with("captured", steps);
    let output = run(&server, &specs, None);
    let out = stdout(&output);
    assert!(
        out.contains("refused to send DELETE") && out.contains("\"B68t19\""),
        "the step errs naming the UserID the client would address:\n{out}"
    );
    assert_ne!(output.status.code(), Some(0), "{out}");
    assert_foreign_untouched(&server, &before);
    let _ = std::fs::remove_dir_all(&specs);
}

#[test]
fn a_raw_body_starting_with_a_bom_does_not_slip_past_the_user_id_check() {
    let server = server_with(UsersFixture::builtin());
    let before = server.running().snapshot();
    let request = r#"{"method": "POST", "path": "/api/ipdrcustomers", "raw_body": "\ufeff{\"api_token\": \"${api_token}\", \"username\": \"${username}\", \"contextname\": \"${context}\", \"UserID\": \"Zq9foreign\", \"Name\": \"Not ours\"}"}"#;
    let specs = specs_with("bom", &scenario(request));
    let output = run(&server, &specs, None);
    let out = stdout(&output);
    assert!(
        out.contains("refused to send POST") && out.contains("the body UserID \"Zq9foreign\""),
        "the request never goes out:\n{out}"
    );
    assert_ne!(output.status.code(), Some(0), "{out}");
    assert_foreign_untouched(&server, &before);
    let _ = std::fs::remove_dir_all(&specs);
}

/// A loopback port that counts the connections made to it and answers each
/// with an empty list.
struct Listener {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Listener {
    fn start(reply: impl Fn(&str) -> String + Send + 'static) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                answer(&mut stream, &reply);
            }
        });
        Listener { port, connections }
    }

    fn empty_list() -> Listener {
        Listener::start(|_| {
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]".to_string()
        })
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one request (head and a Content-Length body) and writes `reply(path)`.
fn answer(stream: &mut TcpStream, reply: &impl Fn(&str) -> String) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(read) = stream.read(&mut buffer) else {
            return;
        };
        if read == 0 {
            return;
        }
        bytes.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|line| {
                    let lower = line.to_ascii_lowercase();
                    lower
                        .strip_prefix("content-length:")
                        .map(|value| value.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if bytes.len() >= end + 4 + length {
                let path = text.split(' ').nth(1).unwrap_or("").to_string();
                let _ = stream.write_all(reply(&path).as_bytes());
                return;
            }
        }
    }
}

fn target(base_url: String) -> Target {
    Target {
        base_url,
        api_token: ApiToken::new("Qm7RzT2vXk9LpW4sNa8c"),
        username: "user".to_string(),
        context: "default".to_string(),
        second_context: None,
        forbidden_context: None,
        other: None,
        timeout: Duration::from_secs(5),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_path_starting_with_at_host_port_is_a_load_error_and_never_sent() {
    let elsewhere = Listener::empty_list();
    let path = format!("@127.0.0.1:{}/api/ipdrcustomers", elsewhere.port);
    let server = server_with(UsersFixture::builtin());
    let before = server.running().snapshot();
    let request = format!(
        r#"{{"method": "POST", "path": "{path}", "body": {{"UserID": "${{uid:b}}", "Name": "N"}}}}"#
    );
    let specs = specs_with("at", &scenario(&request));
    let output = run(&server, &specs, None);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}{}", stdout(&output));
    assert!(
        err.contains("trick.json") && err.contains("step 2"),
        "{err}"
    );
    assert_eq!(elsewhere.connections(), 0, "the body went to another port");
    assert_foreign_untouched(&server, &before);
    let _ = std::fs::remove_dir_all(&specs);

    // The client itself refuses such a URL, whoever asks it to send, even a read
    // (its body carries the token too).
    let client = Client::new(target(server.url())).unwrap();
    let exchange = runtime().block_on(client.send("GET", &path, Some("{}".to_string())));
    let error = exchange.response.unwrap_err().to_string();
    assert!(
        error.starts_with("refused to send GET")
            && error.contains(&format!("127.0.0.1:{}", elsewhere.port)),
        "{error}"
    );
    assert_eq!(elsewhere.connections(), 0, "the body went to another port");
}

#[test]
fn a_redirect_to_another_port_of_the_same_host_is_not_followed_with_the_body() {
    let elsewhere = Listener::empty_list();
    let location = format!("http://127.0.0.1:{}/api/ipdrcustomers", elsewhere.port);
    let moved = location.clone();
    let redirecting = Listener::start(move |_| {
        format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {moved}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    });
    let client = Client::new(target(format!("http://127.0.0.1:{}", redirecting.port))).unwrap();
    let body = r#"{"api_token":"Qm7RzT2vXk9LpW4sNa8c","username":"user","contextname":"default"}"#;
    let exchange = runtime().block_on(common::send_guarded(
        &client,
        "POST",
        "/api/ipdrcustomers",
        Some(body.to_string()),
        "",
    ));
    let error = exchange
        .response
        .expect_err("the redirect is not followed")
        .to_string();
    assert_eq!(
        error,
        format!("refused to follow HTTP 307 to {location}: it would resend the request body, which carries the API token, to another scheme or port than the target's")
    );
    assert_eq!(redirecting.connections(), 1);
    assert_eq!(elsewhere.connections(), 0, "the token went to another port");
}

#[test]
fn a_captured_value_carrying_the_token_is_refused_and_never_shown() {
    // A token under 8 characters is not searched for in answers (a chance
    // match is likely), so an echo of it is captured unless captures are checked.
    let token = "Tk7q2w";
    let fixture = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/reference-users.json"
    ))
    .unwrap()
    .replace("Qm7RzT2vXk9LpW4sNa8c", token);
    let users = UsersFixture::from_json_str(&fixture, "short-token.json").unwrap();
    let server = server_with(users);
    let before = server.running().snapshot();
    let steps = r#"{
      "name": "trick::captured_token",
      "level": "inferred",
      "citation": "Generating API Key",
      "steps": [
        {"name": "create with the token as a name", "request": {"method": "POST", "path": "/api/ipdrcustomers", "raw_body": "{\"api_token\": \"${api_token}\", \"username\": \"${username}\", \"contextname\": \"${context}\", \"UserID\": \"${uid:a}\", \"Name\": \"${api_token}\"}"}, "expect": {"answer": "success_or_refusal"}, "capture": {"name": "/Name"}, "outcome": "made"},
        {"name": "the token into a URL", "only_if": {"accepted": "made"}, "request": {"method": "GET", "path": "/api/ipdrcustomers/${name}"}}
      ]
    }"#;
    let specs = specs_with("token", steps);
    let output = run(&server, &specs, Some(token));
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(
        out.contains("refused to capture ${name} from /Name: the value contains the API token"),
        "{out}"
    );
    assert_ne!(output.status.code(), Some(0), "{out}");
    assert!(
        !out.contains(token) && !err.contains(token),
        "the token is never printed:\n{out}\n{err}"
    );
    assert_foreign_untouched(&server, &before);
    let _ = std::fs::remove_dir_all(&specs);
}

/// Runs `sweep` against `server` over the ledger files in `dir`.
fn sweep(server: &Server, dir: &std::path::Path) -> Output {
    let credentials = UsersFixture::builtin().harness();
    common::harness()
        .arg("sweep")
        .arg("--target")
        .arg(server.url())
        .arg("--ledger-dir")
        .arg(dir)
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .env("IPDR_USERNAME", &credentials.username)
        .env("IPDR_CONTEXT", &credentials.context)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_forged_ledger_line_never_makes_sweep_delete_a_foreign_record() {
    let server = server_with(UsersFixture::builtin());
    let before = server.running().snapshot();
    let dir = specs_with("forged-ledger", "{}");
    let run_id = "f0f0f0f0";
    // Each carries the run's prefix as written; as the client sends it, each names B68t19.
    let forged = [
        format!("zzconf-{run_id}-000-a/../{FOREIGN}"),
        format!("zzconf-{run_id}-000-a/%2e%2e/{FOREIGN}"),
        format!("zzconf-{run_id}-000-a/./../../ipdrcustomers/{FOREIGN}"),
        format!("zzconf-{run_id}-000-a%2F..%2F{FOREIGN}"),
    ];
    let lines: String = forged
        .iter()
        .map(|uid| {
            serde_json::json!({"run_id": run_id, "target": server.url(), "context": "default", "user_id": uid})
                .to_string()
                + "\n"
        })
        .collect();
    let ledger = dir.join(format!("{run_id}.jsonl"));
    std::fs::write(&ledger, lines).unwrap();
    let output = sweep(&server, &dir);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_foreign_untouched(&server, &before);
    assert_eq!(output.status.code(), Some(3), "{out}\n{err}");
    assert!(
        !out.contains("already gone") || out.contains("0 already gone"),
        "a refused entry is not reported as gone:\n{out}"
    );
    assert!(
        ledger.exists(),
        "the forged ledger is kept for a person to read"
    );
    assert!(
        format!("{out}{err}").contains("does not carry this run's prefix"),
        "the refusal says why:\n{out}\n{err}"
    );
}

#[test]
fn the_client_sends_no_change_the_guard_has_not_cleared() {
    let server = server_with(UsersFixture::builtin());
    let before = server.running().snapshot();
    let client = Client::new(target(server.url())).unwrap();
    let auth = client.target().auth_body("default");
    for method in ["DELETE", "PUT", "PATCH", "POST"] {
        let path = if method == "POST" {
            "/api/ipdrcustomers".to_string()
        } else {
            format!("/api/ipdrcustomers/{FOREIGN}")
        };
        let exchange = runtime().block_on(client.send(method, &path, Some(auth.clone())));
        let error = exchange
            .response
            .expect_err("not sent without clearance")
            .to_string();
        assert!(
            error.contains("sent only once the guard has cleared it"),
            "{method}: {error}"
        );
    }
    assert_foreign_untouched(&server, &before);
}
