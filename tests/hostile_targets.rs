//! Hostile targets: servers that refuse, stall, trickle, lie, loop or break
//! off. Each gives an exit 2 with one line on stderr (when the target is
//! unusable before any trial) or a failed or errored trial with a one-line
//! reason, never a panic, a hang or unbounded memory.
//!
//! Every server here is written by hand on 127.0.0.1 (raw HTTP/1.1); the only
//! name resolved is under `.invalid`, which the client answers locally
//! (RFC 6761), so no test sends a DNS query.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{harness_against, stable, stderr, stdout};
use ipdr_conformance::execution::client::{Client, MAX_BODY_BYTES};
use ipdr_conformance::execution::target::{ApiToken, Target};
use ipdr_conformance::reference::UsersFixture;
use ipdr_conformance::spec::contract::DocumentedError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// No run of the binary may take longer than this; it is killed and the test fails.
const WALL_CLOCK: Duration = Duration::from_secs(60);
/// The per-request timeout of the runs about timing out.
const TIMEOUT: &str = "0.5";
/// The per-request timeout of the runs whose target fails at once: long
/// enough that a loaded machine never turns their failure into a timeout.
const PATIENT: &str = "5";
/// One trial whose first step (a create, POST) is binding.
const TRIAL: &str = "errors::invalid_token::list";
const COLLECTION: &str = "/api/ipdrcustomers";

// ---------------------------------------------------------------- servers

/// A request as the hand-written servers read it.
#[derive(Debug, Clone)]
struct RawRequest {
    method: String,
    /// The path, without the server's marker.
    path: String,
    /// The path as sent.
    raw_path: String,
    /// Whether the path started with the server's marker (see [`Hostile::marked_url`]).
    marked: bool,
    /// The body, as text.
    body: String,
}

/// What a server does with one request.
enum Reply {
    /// Write these bytes and keep the connection for the next request.
    Send(Vec<u8>),
    /// Never answer; hold the connection until the client goes away.
    Hang,
    /// Answer, but only after this long.
    Delay(Duration, Vec<u8>),
    /// Write `at_once`, then `slowly` one byte at a time, 100 ms apart.
    Trickle { at_once: Vec<u8>, slowly: Vec<u8> },
    /// Write the head and part of the body, then reset the connection (RST).
    ResetAfter(Vec<u8>),
    /// Write the head and part of the body, then close the connection (FIN).
    CloseAfter(Vec<u8>),
    /// Close without answering.
    Close,
    /// A head declaring `total` body bytes, then as many as the client reads.
    Huge { total: usize },
}

type Behaviour = Arc<dyn Fn(&RawRequest) -> Reply + Send + Sync>;

/// A hand-written server on an ephemeral loopback port.
struct Hostile {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    /// Connections accepted (raw servers) or requests read (HTTP servers).
    requests: Arc<AtomicUsize>,
    /// Requests read whose path carried this server's marker.
    marked: Arc<AtomicUsize>,
    /// A path prefix unique to this server.
    marker: String,
    /// The most body bytes written for any one huge answer.
    huge_written: Arc<AtomicUsize>,
}

/// A path prefix no other server (in this process or another) uses.
fn fresh_marker() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "/hostile-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

impl Hostile {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL with this server's marker: requests sent under it are
    /// told apart from stray ones (a test elsewhere may connect to a port it
    /// believes closed, which this server happens to hold).
    fn marked_url(&self) -> String {
        format!("{}{}", self.url(), self.marker)
    }

    /// Marked requests read so far.
    fn marked(&self) -> usize {
        self.marked.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Serves HTTP/1.1 requests, each answered as `behaviour` says.
    fn http(behaviour: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static) -> Hostile {
        let behaviour: Behaviour = Arc::new(behaviour);
        let runtime = Hostile::runtime();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let marked = Arc::new(AtomicUsize::new(0));
        let huge_written = Arc::new(AtomicUsize::new(0));
        let marker = fresh_marker();
        let counters = Counters {
            requests: Arc::clone(&requests),
            marked: Arc::clone(&marked),
            huge_written: Arc::clone(&huge_written),
            marker: marker.clone(),
        };
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(
                    stream,
                    Arc::clone(&behaviour),
                    counters.clone(),
                ));
            }
        });
        Hostile {
            runtime,
            addr,
            requests,
            marked,
            marker,
            huge_written,
        }
    }

    /// Accepts TCP and answers whatever arrives (a TLS ClientHello) with these
    /// bytes, then waits for the client to close.
    fn raw(answer: &'static [u8]) -> Hostile {
        let runtime = Hostile::runtime();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        runtime.spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer).await;
                    let _ = stream.write_all(answer).await;
                    // Keep reading until the client gives up: closing with
                    // unread bytes would reset the connection instead.
                    while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
                });
            }
        });
        Hostile {
            runtime,
            addr,
            requests,
            marked: Arc::new(AtomicUsize::new(0)),
            marker: fresh_marker(),
            huge_written: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// What an HTTP server counts.
#[derive(Clone)]
struct Counters {
    requests: Arc<AtomicUsize>,
    marked: Arc<AtomicUsize>,
    huge_written: Arc<AtomicUsize>,
    marker: String,
}

/// Reads one request head (and its body, by Content-Length); None at end of stream.
async fn read_request(stream: &mut TcpStream, marker: &str) -> Option<RawRequest> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next()?.to_string();
    let raw_path = words.next()?.to_string();
    let (path, marked) = match raw_path.strip_prefix(marker) {
        Some(rest) if rest.starts_with('/') => (rest.to_string(), true),
        _ => (raw_path.clone(), false),
    };
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(RawRequest {
        method,
        path,
        raw_path,
        marked,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

async fn serve_connection(mut stream: TcpStream, behaviour: Behaviour, counters: Counters) {
    let written = counters.huge_written;
    while let Some(request) = read_request(&mut stream, &counters.marker).await {
        counters.requests.fetch_add(1, Ordering::SeqCst);
        if request.marked {
            counters.marked.fetch_add(1, Ordering::SeqCst);
        }
        match behaviour(&request) {
            Reply::Send(bytes) => {
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Delay(pause, bytes) => {
                tokio::time::sleep(pause).await;
                let _ = stream.write_all(&bytes).await;
                return;
            }
            Reply::Hang => {
                // Hold the connection, reading nothing more, until the client leaves.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Reply::Trickle { at_once, slowly } => {
                if stream.write_all(&at_once).await.is_err() {
                    return;
                }
                for byte in slowly {
                    if stream.write_all(&[byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                return;
            }
            Reply::ResetAfter(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(250)).await;
                let _ = stream.set_zero_linger();
                return; // dropped with linger 0: RST
            }
            Reply::CloseAfter(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            Reply::Huge { total } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < total {
                    let n = chunk.len().min(total - sent);
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        break;
                    }
                    sent += n;
                    written.fetch_max(sent, Ordering::SeqCst);
                }
                return;
            }
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

/// The answer the preflight (a list, GET) gets from every trial-hostile server.
fn empty_list() -> Reply {
    Reply::Send(response("200 OK", Some("application/json"), b"[]"))
}

/// The answer to a list in the fixture's forbidden context, as the preflight expects it.
fn forbidden_envelope(request: &RawRequest) -> Option<Reply> {
    let credentials = UsersFixture::builtin().harness();
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    let context = body["contextname"].as_str()?;
    (Some(context) == credentials.forbidden_context.as_deref()).then(|| {
        let envelope = DocumentedError::ForbiddenContext.envelope(&credentials.username, context);
        Reply::Send(response(
            "200 OK",
            Some("application/json"),
            serde_json::to_string(&envelope).unwrap().as_bytes(),
        ))
    })
}

/// Lists (GET, as the preflight and the cleanup sweep send) are answered
/// `[]`, or refused in the forbidden context; every other request gets `hostile`.
fn hostile_on_trials(
    hostile: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static,
) -> impl Fn(&RawRequest) -> Reply + Send + Sync + 'static {
    move |request| {
        if request.method == "GET" && request.path == COLLECTION {
            forbidden_envelope(request).unwrap_or_else(empty_list)
        } else {
            hostile(request)
        }
    }
}

// ---------------------------------------------------------------- running the binary

/// Runs the command, killing it (and failing the test) past [`WALL_CLOCK`].
fn bounded(mut command: Command) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out_pipe.read_to_end(&mut bytes);
        bytes
    });
    let err_reader = std::thread::spawn(move || {
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
    let output = Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    (output, started.elapsed())
}

/// `run --target URL --timeout 0.5 [args]` with the fixture's credentials.
fn run(url: &str, args: &[&str]) -> (Output, Duration) {
    run_with_timeout(url, TIMEOUT, args)
}

/// `run --target URL --timeout 5 [args]`, for targets that fail at once.
fn run_patient(url: &str, args: &[&str]) -> (Output, Duration) {
    run_with_timeout(url, PATIENT, args)
}

fn run_with_timeout(url: &str, timeout: &str, args: &[&str]) -> (Output, Duration) {
    let mut command = harness_against(url);
    command.args(["--timeout", timeout]).args(args);
    bounded(command)
}

/// A target unusable before any trial: exit 2, one line on stderr, no trial run.
fn assert_preflight_refuses(output: &Output) -> String {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit {:?}\nstdout:\n{}\nstderr:\n{err}",
        output.status,
        stdout(output)
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr:\n{err}");
    assert!(
        !stdout(output).contains("running"),
        "no trial may run:\n{}",
        stdout(output)
    );
    stable(&err)
}

/// The lines of a failed or errored trial's report that say why: the step,
/// the request (as curl), the problem, the actual response and the
/// differences. `verdict` starts the trial line's verdict (`fail`, `error (`).
fn reason(output: &Output, verdict: &str) -> String {
    // The UserID carries the scenario's position in the suite: not pinned.
    let out =
        stable(&stdout(output)).replace(&format!("-{:03}-a\"", trial_index(output)), "-[n]-a\"");
    assert!(
        out.contains(&format!("test [documented] {TRIAL} ... {verdict}")),
        "the trial's verdict is {verdict}:\n{out}\nstderr:\n{}",
        stderr(output)
    );
    out.lines()
        .filter(|line| {
            line.starts_with("step ")
                || line.starts_with("problem:")
                || line.starts_with("actual:")
                || line.starts_with("  curl ")
                || line.contains(": expected ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The three digits of the trial's UserIDs (`zzconf-<run>-NNN-a`).
fn trial_index(output: &Output) -> usize {
    let out = stable(&stdout(output));
    out.split("zzconf-[run]-")
        .skip(1)
        .find_map(|rest| rest.get(..3)?.parse().ok())
        .unwrap_or_else(|| panic!("no UserID in:\n{out}"))
}

/// A network problem on a trial: the trial errs (exit 3: a harness or
/// network error, not a contract failure), with one `problem:` line.
fn assert_trial_errs(output: &Output) -> String {
    let code = output.status.code();
    assert!(code == Some(3), "exit {code:?}\n{}", stdout(output));
    let reason = reason(output, "error (");
    assert_eq!(
        reason
            .lines()
            .filter(|line| line.starts_with("problem:"))
            .count(),
        1,
        "one problem line:\n{reason}"
    );
    reason
}

/// A response that breaks the contract: the trial fails (exit 1).
fn assert_trial_fails(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{}", stdout(output));
    let reason = reason(output, "fail\n");
    assert!(
        !reason.contains("problem:"),
        "a response is checked, not an error:\n{reason}"
    );
    reason
}

// ---------------------------------------------------------------- unusable before any trial

/// A loopback port bound but not listening: connecting to it is refused, and
/// nothing else (another test, another process) can take it while it is held.
fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

#[test]
fn connection_refused() {
    let (_held, port) = refusing_port();
    let (output, _) = run_patient(&format!("http://127.0.0.1:{port}"), &[]);
    insta::assert_snapshot!("connection_refused", assert_preflight_refuses(&output));
}

#[test]
fn dns_failure_is_answered_locally_for_the_invalid_tld() {
    let (output, elapsed) = run_patient("http://ipdr-target.invalid/", &[]);
    insta::assert_snapshot!("dns_failure", assert_preflight_refuses(&output));
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn tls_failure_against_a_server_answering_garbage() {
    let server = Hostile::raw(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    let (output, _) = run_patient(&format!("https://{}", server.addr), &[]);
    insta::assert_snapshot!("tls_failure", assert_preflight_refuses(&output));
    assert!(server.requests() >= 1, "the TLS server was reached");
}

#[test]
fn a_server_that_accepts_and_never_answers() {
    let server = Hostile::http(|_| Reply::Hang);
    let (output, elapsed) = run(&server.url(), &[]);
    insta::assert_snapshot!("never_answers", assert_preflight_refuses(&output));
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_server_slower_than_the_timeout() {
    let server = Hostile::http(|_| {
        Reply::Delay(
            Duration::from_secs(3),
            response("200 OK", Some("application/json"), b"[]"),
        )
    });
    let (output, elapsed) = run(&server.url(), &[]);
    insta::assert_snapshot!("timeout", assert_preflight_refuses(&output));
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_server_that_trickles_its_whole_answer() {
    // One byte every 100 ms: the status line alone outlasts a 0.5 s timeout.
    let server = Hostile::http(|_| Reply::Trickle {
        at_once: Vec::new(),
        slowly: response("200 OK", Some("application/json"), b"[]"),
    });
    let (output, elapsed) = run(&server.url(), &[]);
    insta::assert_snapshot!("trickle_headers", assert_preflight_refuses(&output));
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_list_trickled_below_the_throughput_floor_ends_at_its_budget() {
    // A list has no size cap, but must keep up 256 KiB/s past the timeout:
    // one element per 100 ms is far below it, and would take minutes.
    let mut slowly = b"[".to_vec();
    for n in 0..2000 {
        slowly.extend_from_slice(format!("{{\"UserID\":\"u{n}\"}},").as_bytes());
    }
    slowly.extend_from_slice(b"{}]");
    let server = Hostile::http(move |_| Reply::Trickle {
        at_once: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n".to_vec(),
        slowly: slowly.clone(),
    });
    let (output, elapsed) = run(&server.url(), &[]);
    let refused = assert_preflight_refuses(&output);
    assert!(
        refused.contains("timed out after 0.5") && refused.contains("while reading a list ("),
        "{refused}"
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_server_that_does_not_speak_http() {
    let server = Hostile::raw(b"SSH-2.0-OpenSSH_9.2\r\n");
    let (output, _) = run_patient(&server.url(), &[]);
    insta::assert_snapshot!("not_http", assert_preflight_refuses(&output));
}

#[test]
fn a_server_that_closes_without_answering() {
    let server = Hostile::http(|_| Reply::Close);
    let (output, _) = run_patient(&server.url(), &[]);
    insta::assert_snapshot!("closes_without_answer", assert_preflight_refuses(&output));
}

#[test]
fn a_redirect_loop_on_every_request() {
    let server = Hostile::http(|request| {
        let location = format!("Location: {}\r\n", request.path);
        let mut head = b"HTTP/1.1 307 Temporary Redirect\r\n".to_vec();
        head.extend_from_slice(location.as_bytes());
        head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        Reply::Send(head)
    });
    let (output, _) = run_patient(&server.url(), &[]);
    insta::assert_snapshot!("redirect_loop_preflight", assert_preflight_refuses(&output));
}

// ---------------------------------------------------------------- misbehaving on trials

#[test]
fn a_timeout_on_a_trial() {
    let server = Hostile::http(hostile_on_trials(|_| Reply::Hang));
    let (output, elapsed) = run(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_timeout", assert_trial_errs(&output));
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_body_trickled_a_byte_at_a_time_ends_at_the_timeout() {
    let server = Hostile::http(hostile_on_trials(|_| {
        // The head at once, then the body a byte per 100 ms (12.8 s in all).
        let body = br#"{"UserID":"x","Name":"y","id":1}"#.repeat(4);
        Reply::Trickle {
            at_once: format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            slowly: body,
        }
    }));
    let (output, elapsed) = run(&server.url(), &["--exact", TRIAL]);
    insta::with_settings!({filters => vec![(r"\(\d+ of 128 bytes received\)", "([n] of 128 bytes received)")]}, {
        insta::assert_snapshot!("trial_trickled_body", assert_trial_errs(&output));
    });
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
}

#[test]
fn a_connection_reset_mid_body() {
    let server = Hostile::http(hostile_on_trials(|_| {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                .to_vec();
        bytes.extend_from_slice(br#"{"UserID":"#);
        Reply::ResetAfter(bytes)
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_reset_mid_body", assert_trial_errs(&output));
}

#[test]
fn a_connection_closed_mid_body() {
    let server = Hostile::http(hostile_on_trials(|_| {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                .to_vec();
        bytes.extend_from_slice(br#"{"UserID":"#);
        Reply::CloseAfter(bytes)
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_closed_mid_body", assert_trial_errs(&output));
}

#[test]
fn a_redirect_loop_on_a_trial() {
    let server = Hostile::http(hostile_on_trials(|request| {
        Reply::Send(
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
                request.path
            )
            .into_bytes(),
        )
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_redirect_loop", assert_trial_errs(&output));
}

#[test]
fn an_endless_chain_of_redirects_on_a_trial() {
    let hops = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hops);
    let server = Hostile::http(hostile_on_trials(move |_| {
        let hop = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::Send(
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {COLLECTION}?hop={hop}\r\nContent-Length: 0\r\n\r\n"
            )
            .into_bytes(),
        )
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::with_settings!({filters => vec![(r"hop=\d+", "hop=[n]")]}, {
        insta::assert_snapshot!("trial_too_many_redirects", assert_trial_errs(&output));
    });
}

#[test]
fn a_non_json_body() {
    let server = Hostile::http(hostile_on_trials(|_| {
        Reply::Send(response(
            "200 OK",
            Some("text/html"),
            b"<html><body>Service temporarily unavailable</body></html>",
        ))
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_non_json", assert_trial_fails(&output));
}

#[test]
fn invalid_utf8_in_a_json_body() {
    let server = Hostile::http(hostile_on_trials(|_| {
        Reply::Send(response(
            "200 OK",
            Some("application/json"),
            b"{\"Name\": \"\xff\xfe\xc3\x28\"}",
        ))
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_invalid_utf8", assert_trial_fails(&output));
}

#[test]
fn an_empty_body() {
    let server = Hostile::http(hostile_on_trials(|_| {
        Reply::Send(response("200 OK", Some("application/json"), b""))
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_empty_body", assert_trial_fails(&output));
}

#[test]
fn http_5xx() {
    let server = Hostile::http(hostile_on_trials(|_| {
        Reply::Send(response(
            "503 Service Unavailable",
            Some("text/plain"),
            b"upstream unavailable",
        ))
    }));
    let (output, _) = run_patient(&server.url(), &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_5xx", assert_trial_fails(&output));
}

#[test]
fn a_huge_body_is_read_only_up_to_the_cap() {
    // Written on the fly by the server, never held in memory by it.
    const SERVED: usize = 256 * 1024 * 1024;
    let server = Hostile::http(hostile_on_trials(|_| Reply::Huge { total: SERVED }));
    // A generous timeout, so that a slow machine still reaches the cap in time.
    let (output, elapsed) = run_with_timeout(&server.url(), "10", &["--exact", TRIAL]);
    insta::assert_snapshot!("trial_huge_body", assert_trial_fails(&output));
    // The client stopped reading at the cap and dropped the connection: past
    // it, the server could only fill the kernel's socket buffers.
    let written = server.huge_written.load(Ordering::SeqCst);
    let buffers = socket_buffer_limit();
    assert!(written >= MAX_BODY_BYTES, "{written} bytes written");
    assert!(
        written <= MAX_BODY_BYTES + buffers,
        "the harness kept reading: {written} of {SERVED} bytes written (cap {MAX_BODY_BYTES}, socket buffers at most {buffers})"
    );
    assert!(
        MAX_BODY_BYTES + buffers < SERVED,
        "the check proves nothing here"
    );
    assert!(elapsed < Duration::from_secs(40), "{elapsed:?}");
}

/// The most a loopback connection's kernel buffers can hold: the receiver's
/// and the sender's largest TCP buffers (Linux), 64 MiB elsewhere.
fn socket_buffer_limit() -> usize {
    let largest = |path: &str| -> Option<usize> {
        std::fs::read_to_string(path)
            .ok()?
            .split_whitespace()
            .last()?
            .parse()
            .ok()
    };
    match (
        largest("/proc/sys/net/ipv4/tcp_rmem"),
        largest("/proc/sys/net/ipv4/tcp_wmem"),
    ) {
        (Some(receive), Some(send)) => receive + send + 1024 * 1024,
        _ => 64 * 1024 * 1024,
    }
}

// ---------------------------------------------------------------- retries, in-process

/// A target at `url` with made-up credentials.
fn target(url: String) -> Target {
    Target {
        base_url: url,
        api_token: ApiToken::new("retry-test-token"),
        username: "user".to_string(),
        context: "default".to_string(),
        second_context: None,
        forbidden_context: None,
        other: None,
        // Nothing here waits for a timeout: a loaded machine must not turn
        // an immediate failure into one.
        timeout: Duration::from_secs(5),
    }
}

/// A server for in-process tests: marked requests get `behaviour`, stray
/// ones a 404 (see [`Hostile::marked_url`]).
fn marked_only(behaviour: impl Fn(&RawRequest) -> Reply + Send + Sync + 'static) -> Hostile {
    Hostile::http(move |request| {
        if request.marked {
            behaviour(request)
        } else {
            Reply::Send(response("404 Not Found", None, b""))
        }
    })
}

/// Drops the first `drops` connections after reading their request, then answers `[]`.
fn drops_first(drops: usize) -> Hostile {
    let dropped = Arc::new(AtomicUsize::new(0));
    marked_only(move |_| {
        if dropped.fetch_add(1, Ordering::SeqCst) < drops {
            Reply::Close
        } else {
            empty_list()
        }
    })
}

/// Sends one request with a body under the server's marked URL: the status or the error.
fn send(server: &Hostile, retries: u32, method: &str) -> Result<u16, String> {
    let client = Client::new(target(server.marked_url()))
        .unwrap()
        .with_retries(retries);
    let exchange = server
        .runtime
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(20),
                common::send_guarded(&client, method, COLLECTION, Some("{}".to_string()), ""),
            )
            .await
        })
        .expect("bounded by the client's timeout");
    exchange
        .response
        .map(|response| response.status)
        .map_err(|error| error.to_string())
}

#[test]
fn a_dropped_connection_is_retried_when_asked() {
    let server = drops_first(1);
    assert_eq!(send(&server, 1, "GET"), Ok(200));
    assert_eq!(server.marked(), 2, "one dropped, one answered");
}

#[test]
fn without_retries_a_dropped_connection_is_a_transport_error() {
    let server = drops_first(1);
    assert_eq!(
        send(&server, 0, "GET"),
        Err("the connection closed before a response arrived".to_string())
    );
    assert_eq!(server.marked(), 1);
}

#[test]
fn retries_that_run_out_say_how_many_attempts_were_made() {
    let server = drops_first(usize::MAX);
    assert_eq!(
        send(&server, 2, "GET"),
        Err("the connection closed before a response arrived (3 attempts)".to_string())
    );
    assert_eq!(server.marked(), 3);
}

#[test]
fn an_http_error_status_is_never_retried() {
    let server = marked_only(|_| {
        Reply::Send(response(
            "500 Internal Server Error",
            Some("application/json"),
            b"{}",
        ))
    });
    assert_eq!(send(&server, 3, "GET"), Ok(500));
    assert_eq!(server.marked(), 1, "a response is not retried");
}

#[test]
fn a_request_the_server_may_have_received_is_not_retried_unless_safe() {
    // A create that may have been applied is not sent again: a retry could
    // answer "already exists" and fail a conformant server.
    let server = drops_first(1);
    assert_eq!(
        send(&server, 3, "POST"),
        Err("the connection closed before a response arrived".to_string())
    );
    assert_eq!(server.marked(), 1);
}

#[test]
fn a_refused_connection_is_retried_for_any_method() {
    let (_held, port) = refusing_port();
    let client = Client::new(target(format!("http://127.0.0.1:{port}")))
        .unwrap()
        .with_retries(2);
    let runtime = Hostile::runtime();
    let started = Instant::now();
    let exchange = runtime.block_on(common::send_guarded(
        &client,
        "POST",
        COLLECTION,
        Some("{}".to_string()),
        "",
    ));
    assert_eq!(
        exchange.response.unwrap_err().to_string(),
        "could not connect: connection refused (3 attempts)"
    );
    // Two pauses between attempts, 100 ms and 200 ms.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_name_under_invalid_is_not_retried() {
    let client = Client::new(target("http://ipdr-target.invalid".to_string()))
        .unwrap()
        .with_retries(3);
    let runtime = Hostile::runtime();
    let exchange = runtime.block_on(client.send("GET", COLLECTION, None));
    let error = exchange.response.unwrap_err().to_string();
    assert!(
        error.starts_with("could not connect: cannot resolve ipdr-target.invalid"),
        "{error}"
    );
    assert!(!error.contains("attempts"), "one attempt only: {error}");
}

// ---------------------------------------------------------------- redirects, in-process

/// Sends one GET with a body, as the list does; the status or the error.
fn get(server: &Hostile) -> Result<u16, String> {
    send(server, 0, "GET")
}

#[test]
fn a_redirect_on_the_same_host_is_followed() {
    let server = marked_only(|request| {
        if request.path == COLLECTION {
            Reply::Send(
                format!(
                    "HTTP/1.1 308 Permanent Redirect\r\nLocation: {}/\r\nContent-Length: 0\r\n\r\n",
                    request.raw_path
                )
                .into_bytes(),
            )
        } else {
            empty_list()
        }
    });
    assert_eq!(get(&server), Ok(200));
    assert_eq!(server.marked(), 2);
}

#[test]
fn a_redirect_to_another_host_is_refused_since_bodies_carry_the_token() {
    // localhost is another host than 127.0.0.1; the client resolves it without DNS.
    let port = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&port);
    let server = marked_only(move |request| {
        Reply::Send(
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{}{}\r\nContent-Length: 0\r\n\r\n",
                seen.load(Ordering::SeqCst),
                request.path
            )
            .into_bytes(),
        )
    });
    port.store(usize::from(server.addr.port()), Ordering::SeqCst);
    let error = get(&server).unwrap_err();
    assert_eq!(
        error.replace(&server.addr.port().to_string(), "[port]"),
        "refused to follow HTTP 307 to http://localhost:[port]/api/ipdrcustomers: only redirects on the same host are followed, since request bodies carry the API token"
    );
    assert_eq!(server.marked(), 1, "the other host was never asked");
}
