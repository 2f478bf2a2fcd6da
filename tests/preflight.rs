//! The preflight proves the configuration before any trial (issue 13): a
//! target that is not this API, a context or a user that does not behave as
//! declared, and the common slips (no scheme, http/https mixed up, an empty
//! token) each end with exit 2 and one line per mismatch naming the flag,
//! before any trial. Every message is pinned. The conformant flavours of
//! the reference server pass it with every optional context configured.
//!
//! Servers: the embedded reference server, and small hand-written ones on
//! 127.0.0.1 (raw HTTP/1.1) for answers it never gives.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{harness_against, stable, stderr, stdout, Server};
use ipdr_conformance::reference::{Flavour, ServerConfig, UsersFixture};
use ipdr_conformance::spec::contract::DocumentedError;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// No run may take longer than this; it is killed and the test fails.
const WALL_CLOCK: Duration = Duration::from_secs(60);
/// One cheap trial, run when the preflight passes.
const TRIAL: &str = "errors::invalid_token::list";

// ---------------------------------------------------------------- running the binary

fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "preflight-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `command` (kept away from the working directory), killing it past [`WALL_CLOCK`].
fn bounded(mut command: Command) -> Output {
    let dir = scratch("run");
    command
        .current_dir(&dir)
        .arg("--ledger-dir")
        .arg(dir.join("ledger"))
        .arg("--repro-dir")
        .arg(dir.join("repros"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out_pipe.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err_pipe.read_to_end(&mut bytes);
        bytes
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WALL_CLOCK {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run did not end within {WALL_CLOCK:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// `run --target URL --exact TRIAL [args]` with the fixture's credentials
/// (token, username, context, second and forbidden context).
fn run(url: &str, args: &[&str]) -> Output {
    let mut command = harness_against(url);
    command
        .args(["--exact", TRIAL, "--timeout", "5"])
        .args(args);
    bounded(command)
}

/// Like [`run`], with the fixture's other user too.
fn run_with_other_user(url: &str, args: &[&str]) -> Output {
    let other = UsersFixture::builtin().harness().other.unwrap();
    let mut command = harness_against(url);
    command
        .args(["--exact", TRIAL, "--timeout", "5"])
        .args(["--other-username", &other.username])
        .args(["--other-context", &other.context])
        .env("IPDR_OTHER_API_TOKEN", &other.api_token)
        .args(args);
    bounded(command)
}

/// Stopped by the preflight: exit 2, every stderr line an error, nothing on
/// stdout (no trial ran, none is blamed), no token shown. The lines, stable.
fn refused(output: &Output) -> String {
    let err = stderr(output);
    let out = stdout(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{err}",
        output.status
    );
    assert!(err.lines().all(|line| line.starts_with("error: ")), "{err}");
    assert!(out.trim().is_empty(), "no trial may run:\n{out}");
    let credentials = UsersFixture::builtin().harness();
    assert!(!err.contains(&credentials.api_token), "{err}");
    assert!(
        !err.contains(&credentials.other.unwrap().api_token),
        "{err}"
    );
    stable(&err)
}

/// Exactly one line, naming `flag`.
fn one_line(output: &Output, flag: &str) -> String {
    let lines = refused(output);
    assert_eq!(lines.lines().count(), 1, "one line:\n{lines}");
    assert!(
        lines.starts_with(&format!("error: {flag}"))
            || lines.starts_with(&format!("error: bad configuration: {flag}")),
        "names {flag}:\n{lines}"
    );
    lines
}

/// The preflight passed: the trial ran (whatever its verdict), nothing on stderr.
fn preflight_passed(output: &Output) {
    assert_ne!(output.status.code(), Some(2), "{}", stderr(output));
    assert!(stderr(output).trim().is_empty(), "{}", stderr(output));
    assert!(stdout(output).contains(TRIAL), "{}", stdout(output));
}

fn reference() -> Server {
    Server::start(ServerConfig::builtin())
}

// ---------------------------------------------------------------- scripted servers

/// One request as a scripted server reads it.
struct Request {
    path: String,
    body: Value,
}

type Script = Arc<dyn Fn(&Request) -> Vec<u8> + Send + Sync>;

/// A hand-written HTTP/1.1 server on an ephemeral loopback port.
struct Scripted {
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
}

impl Scripted {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers every request with what `script` says (keep-alive).
    fn http(script: impl Fn(&Request) -> Vec<u8> + Send + Sync + 'static) -> Scripted {
        let script: Script = Arc::new(script);
        Scripted::serve(move |stream| {
            let script = Arc::clone(&script);
            async move { serve_http(stream, script).await }
        })
    }

    /// Reads once from each connection, writes `answer`, then reads until the client leaves.
    fn raw(answer: &'static [u8]) -> Scripted {
        Scripted::serve(move |mut stream| async move {
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer).await;
            let _ = stream.write_all(answer).await;
            while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
        })
    }

    fn serve<F, Fut>(handle: F) -> Scripted
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handle(stream));
            }
        });
        Scripted {
            _runtime: runtime,
            addr,
        }
    }
}

async fn serve_http(mut stream: TcpStream, script: Script) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 64 * 1024 || !matches!(stream.read(&mut byte).await, Ok(1)) {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let length: usize = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let request = Request {
            path,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        if stream.write_all(&script(&request)).await.is_err() {
            return;
        }
    }
}

/// A full HTTP/1.1 response.
fn response(status: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    if let Some(content_type) = content_type {
        out.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

fn json_answer(value: &Value) -> Vec<u8> {
    response(
        "200 OK",
        Some("application/json"),
        value.to_string().as_bytes(),
    )
}

/// The same answer to every request.
fn answering(
    status: &'static str,
    content_type: Option<&'static str>,
    body: &'static [u8],
) -> Scripted {
    Scripted::http(move |_| response(status, content_type, body))
}

/// A server that answers the fixture's users as the page says, except that
/// an unknown username gets `{"status":"Error","message":"Unknown user NAME"}`:
/// it tells a wrong username from a wrong token.
fn telling_users_apart() -> Scripted {
    let fixture = UsersFixture::builtin();
    Scripted::http(move |request| {
        let username = request.body["username"].as_str().unwrap_or_default();
        let token = request.body["api_token"].as_str().unwrap_or_default();
        let context = request.body["contextname"].as_str().unwrap_or_default();
        let Some(user) = fixture.users().iter().find(|u| u.username == username) else {
            return json_answer(
                &json!({"status": "Error", "message": format!("Unknown user {username}")}),
            );
        };
        let error = if user.api_token != token {
            Some(DocumentedError::InvalidToken)
        } else if !fixture.contexts().iter().any(|c| c == context) {
            Some(DocumentedError::InvalidContext)
        } else if !user.contexts.iter().any(|c| c == context) {
            Some(DocumentedError::ForbiddenContext)
        } else {
            None
        };
        match error {
            Some(error) => json_answer(&json!(error.envelope(username, context))),
            None if request.path.ends_with("/api/ipdrcustomers") => json_answer(&json!([])),
            None => response("404 Not Found", None, b""),
        }
    })
}

// ---------------------------------------------------------------- the endpoint

#[test]
fn a_base_url_with_a_wrong_path_prefix() {
    let server = reference();
    let output = run(&format!("{}/trisul", server.url()), &[]);
    insta::assert_snapshot!("wrong_path_prefix", one_line(&output, "--target"));
}

#[test]
fn html_404_under_a_wrong_path_prefix() {
    let server = answering(
        "404 Not Found",
        Some("text/html; charset=utf-8"),
        b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
    );
    let output = run(&format!("{}/trisul", server.url()), &[]);
    insta::assert_snapshot!("html_404", one_line(&output, "--target"));
}

#[test]
fn an_html_page_with_http_200() {
    let server = answering(
        "200 OK",
        Some("text/html"),
        b"<html><body>Trisul Network Analytics: please log in</body></html>",
    );
    insta::assert_snapshot!("html_200", one_line(&run(&server.url(), &[]), "--target"));
}

#[test]
fn an_empty_answer() {
    let server = answering("200 OK", Some("application/json"), b"");
    insta::assert_snapshot!("empty_body", one_line(&run(&server.url(), &[]), "--target"));
}

#[test]
fn a_body_that_is_not_json() {
    let server = answering("200 OK", Some("text/plain"), b"OK");
    insta::assert_snapshot!("not_json", one_line(&run(&server.url(), &[]), "--target"));
}

#[test]
fn a_body_that_is_not_utf8() {
    let server = answering("200 OK", Some("application/json"), b"[\"\xff\xfe\"]");
    insta::assert_snapshot!("not_utf8", one_line(&run(&server.url(), &[]), "--target"));
}

#[test]
fn a_server_error() {
    let server = answering(
        "502 Bad Gateway",
        Some("text/html"),
        b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    );
    insta::assert_snapshot!("http_502", one_line(&run(&server.url(), &[]), "--target"));
}

#[test]
fn a_json_error_that_is_not_the_apis() {
    let server = answering(
        "404 Not Found",
        Some("application/json"),
        br#"{"detail":"Not Found"}"#,
    );
    insta::assert_snapshot!("json_404", one_line(&run(&server.url(), &[]), "--target"));
}

#[test]
fn a_refusal_the_page_does_not_document() {
    let server = Scripted::http(|_| {
        json_answer(&json!({"status": "error", "message": "Database unavailable"}))
    });
    insta::assert_snapshot!(
        "undocumented_refusal",
        one_line(&run(&server.url(), &[]), "--context default")
    );
}

// ---------------------------------------------------------------- contexts

#[test]
fn a_second_context_that_does_not_exist() {
    let server = reference();
    let output = run(&server.url(), &["--second-context", "nosuch"]);
    insta::assert_snapshot!(
        "second_context_missing",
        one_line(&output, "--second-context nosuch")
    );
}

#[test]
fn a_second_context_the_user_may_not_access() {
    let server = reference();
    let mut command = harness_against(&server.url());
    // The fixture's forbidden context, named by one flag only.
    command.env_remove("IPDR_FORBIDDEN_CONTEXT").args([
        "--exact",
        TRIAL,
        "--second-context",
        "restricted",
    ]);
    let output = bounded(command);
    insta::assert_snapshot!(
        "second_context_forbidden",
        one_line(&output, "--second-context restricted")
    );
}

#[test]
fn a_second_context_that_is_the_context() {
    let server = reference();
    let output = run(&server.url(), &["--second-context", "default"]);
    insta::assert_snapshot!(
        "second_context_is_context",
        one_line(&output, "--second-context default")
    );
}

#[test]
fn a_forbidden_context_that_is_the_second_context() {
    let server = reference();
    let output = run(&server.url(), &["--forbidden-context", "ipdr2"]);
    insta::assert_snapshot!(
        "forbidden_context_is_second_context",
        one_line(&output, "--forbidden-context ipdr2")
    );
}

#[test]
fn a_forbidden_context_that_does_not_exist() {
    let server = reference();
    let output = run(&server.url(), &["--forbidden-context", "nosuch"]);
    insta::assert_snapshot!(
        "forbidden_context_missing",
        one_line(&output, "--forbidden-context nosuch")
    );
}

#[test]
fn a_forbidden_context_the_user_may_access() {
    let server = reference();
    let mut command = harness_against(&server.url());
    // The fixture's second context, named by one flag only.
    command.env_remove("IPDR_SECOND_CONTEXT").args([
        "--exact",
        TRIAL,
        "--forbidden-context",
        "ipdr2",
    ]);
    let output = bounded(command);
    insta::assert_snapshot!(
        "forbidden_context_accessible",
        one_line(&output, "--forbidden-context ipdr2")
    );
}

#[test]
fn a_context_that_does_not_exist() {
    let server = reference();
    let output = run(&server.url(), &["--context", "nosuch"]);
    insta::assert_snapshot!("context_missing", one_line(&output, "--context nosuch"));
}

#[test]
fn a_context_the_user_may_not_access() {
    let server = reference();
    let mut command = harness_against(&server.url());
    command.env_remove("IPDR_FORBIDDEN_CONTEXT").args([
        "--exact",
        TRIAL,
        "--context",
        "restricted",
    ]);
    let output = bounded(command);
    insta::assert_snapshot!(
        "context_forbidden",
        one_line(&output, "--context restricted")
    );
}

#[test]
fn every_mismatch_gets_its_own_line() {
    let server = reference();
    let output = run(
        &server.url(),
        &["--second-context", "nosuch", "--forbidden-context", "ipdr2"],
    );
    let lines = refused(&output);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    insta::assert_snapshot!("two_mismatches", lines);
}

/// A target that refuses the forbidden context with the invalid-context
/// envelope, while the other user lists it: it does not tell a missing
/// context from a forbidden one, so the preflight does not call it missing
/// (the trials judge the envelope).
#[test]
fn a_forbidden_context_the_other_user_lists_is_not_called_missing() {
    let fixture = UsersFixture::builtin();
    let server = Scripted::http(move |request| {
        let username = request.body["username"].as_str().unwrap_or_default();
        let context = request.body["contextname"].as_str().unwrap_or_default();
        let user = fixture.users().iter().find(|u| u.username == username);
        match user {
            Some(user) if user.contexts.iter().any(|c| c == context) => json_answer(&json!([])),
            _ => json_answer(&json!(
                DocumentedError::InvalidContext.envelope(username, context)
            )),
        }
    });
    let output = run_with_other_user(&server.url(), &[]);
    assert!(
        !stderr(&output).contains("--forbidden-context"),
        "{}",
        stderr(&output)
    );
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    // Without the other user's list, the same answer says the context does not exist.
    let output = run(&server.url(), &[]);
    insta::assert_snapshot!(
        "forbidden_context_answered_missing",
        one_line(&output, "--forbidden-context restricted")
    );
}

// ---------------------------------------------------------------- credentials

#[test]
fn a_wrong_token_where_the_answers_do_not_tell_which() {
    let server = reference();
    let output = run(&server.url(), &[]);
    preflight_passed(&output);
    let mut command = harness_against(&server.url());
    command
        .args(["--exact", TRIAL])
        .env("IPDR_API_TOKEN", "not-the-token");
    insta::assert_snapshot!(
        "wrong_token_undecided",
        one_line(&bounded(command), "--username user / --api-token")
    );
}

#[test]
fn a_wrong_username_where_the_answers_do_not_tell_which() {
    let server = reference();
    let mut command = harness_against(&server.url());
    command.args(["--exact", TRIAL]).env("IPDR_USERNAME", "usr");
    insta::assert_snapshot!(
        "wrong_username_undecided",
        one_line(&bounded(command), "--username usr / --api-token")
    );
}

#[test]
fn a_wrong_username_told_apart() {
    let server = telling_users_apart();
    preflight_passed(&run(&server.url(), &[]));
    let mut command = harness_against(&server.url());
    command.args(["--exact", TRIAL]).env("IPDR_USERNAME", "usr");
    insta::assert_snapshot!(
        "wrong_username_told_apart",
        one_line(&bounded(command), "--username usr")
    );
}

#[test]
fn a_wrong_token_told_apart() {
    let server = telling_users_apart();
    let mut command = harness_against(&server.url());
    command
        .args(["--exact", TRIAL])
        .env("IPDR_API_TOKEN", "not-the-token");
    insta::assert_snapshot!(
        "wrong_token_told_apart",
        one_line(&bounded(command), "--api-token")
    );
}

#[test]
fn the_other_users_wrong_token() {
    let server = reference();
    let mut command = harness_against(&server.url());
    let other = UsersFixture::builtin().harness().other.unwrap();
    command
        .args(["--exact", TRIAL])
        .args(["--other-username", &other.username])
        .args(["--other-context", &other.context])
        .env("IPDR_OTHER_API_TOKEN", "not-the-other-token");
    insta::assert_snapshot!(
        "other_token_wrong",
        one_line(
            &bounded(command),
            "--other-username operator / --other-api-token"
        )
    );
}

#[test]
fn the_other_users_context_that_does_not_exist() {
    let server = reference();
    let other = UsersFixture::builtin().harness().other.unwrap();
    let mut command = harness_against(&server.url());
    command
        .args(["--exact", TRIAL])
        .args(["--other-username", &other.username])
        .args(["--other-context", "nosuch"])
        .env("IPDR_OTHER_API_TOKEN", &other.api_token);
    insta::assert_snapshot!(
        "other_context_missing",
        one_line(&bounded(command), "--other-context nosuch")
    );
}

#[test]
fn the_other_user_that_is_the_user() {
    let server = reference();
    let credentials = UsersFixture::builtin().harness();
    let mut command = harness_against(&server.url());
    command
        .args(["--exact", TRIAL])
        .args(["--other-username", &credentials.username])
        .args(["--other-context", "ipdr2"])
        .env("IPDR_OTHER_API_TOKEN", &credentials.api_token);
    insta::assert_snapshot!(
        "other_user_is_user",
        one_line(&bounded(command), "--other-username user")
    );
}

#[test]
fn the_compare_targets_flags_are_named_as_such() {
    let server = reference();
    let compare = reference();
    let output = run(
        &server.url(),
        &[
            "--compare-with",
            &compare.url(),
            "--compare-second-context",
            "nosuch",
        ],
    );
    insta::assert_snapshot!(
        "compare_second_context_missing",
        one_line(&output, "--compare-second-context nosuch")
    );
}

// ---------------------------------------------------------------- slips

#[test]
fn a_target_without_a_scheme() {
    let server = reference();
    let bare = server.url().trim_start_matches("http://").to_string();
    insta::assert_snapshot!("no_scheme", one_line(&run(&bare, &[]), "--target"));
}

#[test]
fn https_against_a_plain_http_server() {
    let server = reference();
    let https = server.url().replace("http://", "https://");
    insta::assert_snapshot!("https_to_http", one_line(&run(&https, &[]), "--target"));
}

#[test]
fn http_against_a_tls_server() {
    // A TLS alert (handshake failure) to whatever arrives: a TLS server that
    // cannot make sense of a plain HTTP request, or of the probe's hello.
    let server = Scripted::raw(b"\x15\x03\x03\x00\x02\x02\x28");
    insta::assert_snapshot!(
        "http_to_tls",
        one_line(&run(&server.url(), &[]), "--target")
    );
}

#[test]
fn http_against_a_tls_server_that_says_so_in_http() {
    // Go's TLS servers answer a plain request this way.
    let server = answering(
        "400 Bad Request",
        Some("text/plain; charset=utf-8"),
        b"Client sent an HTTP request to an HTTPS server.\n",
    );
    insta::assert_snapshot!(
        "http_to_tls_said_in_http",
        one_line(&run(&server.url(), &[]), "--target")
    );
}

#[test]
fn https_against_a_server_that_speaks_neither() {
    let server = Scripted::raw(b"SSH-2.0-OpenSSH_9.2\r\n");
    let https = server.url().replace("http://", "https://");
    let lines = refused(&run(&https, &[]));
    insta::assert_snapshot!("https_to_neither", lines);
}

/// What a case does to the command.
type Configure<'a> = Box<dyn Fn(&mut Command) + 'a>;

#[test]
fn an_empty_token_names_its_source() {
    let server = reference();
    let other = UsersFixture::builtin().harness().other.unwrap();
    let empty_file = scratch("empty-token").join("token");
    std::fs::write(&empty_file, "\n").unwrap();
    let mut lines = Vec::new();
    let cases: Vec<(&str, Configure)> = vec![
        (
            "--api-token",
            Box::new(|command: &mut Command| {
                command
                    .env_remove("IPDR_API_TOKEN")
                    .args(["--api-token", ""]);
            }),
        ),
        (
            "IPDR_API_TOKEN",
            Box::new(|command: &mut Command| {
                command.env("IPDR_API_TOKEN", "");
            }),
        ),
        (
            "IPDR_OTHER_API_TOKEN",
            Box::new(|command: &mut Command| {
                command.env("IPDR_OTHER_API_TOKEN", "");
            }),
        ),
        (
            "--other-api-token-file",
            Box::new(|command: &mut Command| {
                command.arg("--other-api-token-file").arg(&empty_file);
            }),
        ),
        (
            "IPDR_COMPARE_API_TOKEN",
            Box::new(|command: &mut Command| {
                command
                    .args(["--compare-with", "http://127.0.0.1:9"])
                    .env("IPDR_COMPARE_API_TOKEN", "");
            }),
        ),
    ];
    for (source, configure) in cases {
        let mut command = harness_against(&server.url());
        command
            .args(["--exact", TRIAL])
            .args(["--other-username", &other.username])
            .args(["--other-context", &other.context]);
        if source != "--other-api-token-file" {
            command.env("IPDR_OTHER_API_TOKEN", &other.api_token);
        }
        configure(&mut command);
        let output = bounded(command);
        let line = refused(&output);
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(line.contains(source), "{source} not named: {line}");
        lines.push(line.replace(&empty_file.display().to_string(), "[file]"));
    }
    insta::assert_snapshot!("empty_token_sources", lines.concat());
}

// ---------------------------------------------------------------- no false positives

/// Every conformant flavour passes the preflight with every optional
/// context and the other user configured: the fixture's own declarations.
#[test]
fn every_conformant_flavour_passes_with_every_context_configured() {
    for flavour in [Flavour::Reference, Flavour::Alt, Flavour::Strict] {
        let server = Server::start(ServerConfig::builtin().with_flavour(flavour));
        let output = run_with_other_user(&server.url(), &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{flavour}:\nstdout:\n{}\nstderr:\n{}",
            stdout(&output),
            stderr(&output)
        );
        assert!(
            stderr(&output).trim().is_empty(),
            "{flavour}: {}",
            stderr(&output)
        );
    }
}

/// A preflight failure writes no trial into the reports: nothing there
/// blames the server.
#[test]
fn a_preflight_failure_blames_no_trial_in_the_reports() {
    let server = reference();
    let dir = scratch("reports");
    let mut command = harness_against(&server.url());
    command
        .args(["--second-context", "nosuch"])
        .arg("--report-json")
        .arg(dir.join("report.json"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .arg("--summary-md")
        .arg(dir.join("summary.md"));
    let output = bounded(command);
    refused(&output);
    for name in ["report.json", "junit.xml", "summary.md"] {
        // No empty (and, for JUnit, unreadable) file either: the run never started.
        assert!(!dir.join(name).exists(), "{name} was left behind");
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        for blame in ["\"fail\"", "<failure", "FAILED", "❌"] {
            assert!(!text.contains(blame), "{name} blames the server:\n{text}");
        }
    }
}

/// `sweep` checks the endpoint and the credentials, not the contexts a run
/// needs: it cleans whatever the ledger lists, even under a misdeclared context.
#[test]
fn sweep_checks_only_the_credentials() {
    let server = reference();
    let credentials = UsersFixture::builtin().harness();
    let sweep = |token: &str| {
        let dir = scratch("sweep");
        let mut command = common::harness();
        command
            .args(["sweep", "--target", &server.url()])
            .args(["--username", &credentials.username])
            .args(["--forbidden-context", "ipdr2", "--second-context", "nosuch"])
            .arg("--ledger-dir")
            .arg(dir.join("ledger"))
            .env("IPDR_API_TOKEN", token)
            .stdin(Stdio::null());
        command.output().unwrap()
    };
    let output = sweep(&credentials.api_token);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = sweep("not-the-token");
    insta::assert_snapshot!(
        "sweep_wrong_token",
        one_line(&output, "--username user / --api-token")
    );
}
