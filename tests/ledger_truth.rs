//! The cleanup ledger is the truth: a run whose last list cannot be read
//! keeps its ledger and exits 3; `sweep` skips a live run's ledger, deletes
//! duplicates until the UserID is gone, and survives corrupt ledgers.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::proxy::Proxy;
use common::{harness, harness_against, stderr, stdout, Server};
use ipdr_conformance::reference::{
    Deviation, Preload, PreloadCustomer, ServerConfig, UsersFixture,
};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ledger-truth-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uids(server: &Server) -> Vec<String> {
    let mut uids: Vec<String> = server
        .running()
        .snapshot()
        .values()
        .flatten()
        .map(|customer| customer.user_id.clone())
        .collect();
    uids.sort();
    uids
}

fn sweep(url: &str, ledger_dir: &Path) -> Output {
    let credentials = UsersFixture::builtin().harness();
    let mut command: Command = harness();
    command
        .arg("sweep")
        .arg("--target")
        .arg(url)
        .arg("--ledger-dir")
        .arg(ledger_dir)
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .env("IPDR_USERNAME", &credentials.username)
        .env("IPDR_CONTEXT", &credentials.context);
    command.stdin(Stdio::null()).output().unwrap()
}

fn ledger_line(run_id: &str, url: &str, context: &str, uid: &str) -> String {
    serde_json::json!({"run_id": run_id, "target": url, "context": context, "user_id": uid})
        .to_string()
}

/// A spec directory with one passing scenario that creates one record.
fn one_create_specs(dir: &Path) -> PathBuf {
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    let scenario = serde_json::json!({
        "name": "ledgertruth::one_create",
        "level": "documented",
        "citation": "Managing IPDR Customers › Creating a New Customer",
        "tags": ["create"],
        "description": "One create.",
        "steps": [{
            "name": "create",
            "request": {
                "method": "POST",
                "path": "/api/ipdrcustomers",
                "body": { "UserID": "${uid:a}", "Name": "Trisul" }
            },
            "expect": { "status": 200 }
        }]
    });
    std::fs::write(specs.join("one.json"), scenario.to_string()).unwrap();
    specs
}

#[test]
fn a_run_whose_last_list_cannot_be_read_keeps_its_ledger_and_exits_3() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let dir = scratch("unlisted");
    let specs = one_create_specs(&dir);
    let run = |proxy: &Proxy, ledger: &Path| {
        harness_against(&proxy.url())
            .args(["--timeout", "1", "--jobs", "1"])
            .arg("--specs")
            .arg(&specs)
            .arg("ledgertruth::")
            .arg("--ledger-dir")
            .arg(ledger)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Count the requests of a clean run; the last one is the final list.
    let calibration = Proxy::start(server.running().addr(), Duration::ZERO, usize::MAX);
    let clean = run(&calibration, &dir.join("ledger-clean"));
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let total = calibration.requests();

    let proxy = Proxy::start(server.running().addr(), Duration::ZERO, total - 1);
    let ledger = dir.join("ledger");
    let output = run(&proxy, &ledger);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{}\n{err}", stdout(&output));
    let kept: Vec<PathBuf> = std::fs::read_dir(&ledger)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    assert_eq!(kept.len(), 1, "the ledger stays: {kept:?}");
    let line: Vec<&str> = err
        .lines()
        .filter(|line| line.contains(&kept[0].display().to_string()))
        .collect();
    assert_eq!(line.len(), 1, "one line names the ledger:\n{err}");
    assert!(line[0].contains("sweep"), "{err}");
}

#[test]
fn sweep_deletes_every_duplicate_of_a_userid() {
    let mut config = ServerConfig::new(UsersFixture::builtin());
    config.deviations = vec![Deviation::DuplicateUserIdAccepted];
    let server = Server::start(config);
    let credentials = UsersFixture::builtin().harness();
    let uid = "zzconf-dddddddd-000-a";
    for _ in 0..3 {
        let body = serde_json::json!({
            "api_token": credentials.api_token,
            "username": credentials.username,
            "contextname": credentials.context,
            "UserID": uid,
            "Name": "Twin",
        });
        let url = format!("{}/api/ipdrcustomers", server.url());
        let status = server.runtime.block_on(async {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        });
        assert!(status.is_success());
    }
    assert_eq!(uids(&server).len(), 3, "three copies to sweep");
    let dir = scratch("duplicates");
    std::fs::write(
        dir.join("dddddddd.jsonl"),
        ledger_line("dddddddd", &server.url(), &credentials.context, uid) + "\n",
    )
    .unwrap();
    let output = sweep(&server.url(), &dir);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(uids(&server).is_empty(), "left: {:?}", uids(&server));
    assert!(!dir.join("dddddddd.jsonl").exists());
}

#[test]
fn sweep_warns_about_corrupt_lines_and_files_and_goes_on() {
    let mut preload = Preload::new();
    preload.add(
        "default",
        PreloadCustomer::new("zzconf-eeeeeeee-000-a", "Left"),
    );
    preload.add(
        "default",
        PreloadCustomer::new("zzconf-ffffffff-000-a", "Left"),
    );
    preload.add("default", PreloadCustomer::new("B68t19", "Trisul"));
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let url = server.url();
    let dir = scratch("corrupt");
    // Not UTF-8 at all: sorted first, it must not stop the sweep.
    std::fs::write(dir.join("aaaaaaaa.jsonl"), [0xff, 0xfe, b'{', b'\n']).unwrap();
    std::fs::write(
        dir.join("eeeeeeee.jsonl"),
        format!(
            "{{not json\n{}\n",
            ledger_line("eeeeeeee", &url, "default", "zzconf-eeeeeeee-000-a")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("ffffffff.jsonl"),
        ledger_line("ffffffff", &url, "default", "zzconf-ffffffff-000-a") + "\n",
    )
    .unwrap();
    let output = sweep(&url, &dir);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(uids(&server), ["B68t19"], "{out}\n{err}");
    let corrupt = dir.join("eeeeeeee.jsonl").display().to_string();
    assert!(
        err.lines()
            .any(|line| line.contains(&format!("{corrupt}:1")) && line.contains("warning")),
        "a warning names the file and line:\n{err}"
    );
    let unreadable = dir.join("aaaaaaaa.jsonl").display().to_string();
    assert!(
        err.lines()
            .any(|line| line.contains(&unreadable) && line.contains("warning")),
        "a warning names the unreadable file:\n{err}"
    );
    assert!(
        dir.join("aaaaaaaa.jsonl").exists(),
        "an unreadable file is kept"
    );
}

#[test]
fn sweep_skips_the_ledger_of_a_live_run() {
    let mut preload = Preload::new();
    preload.add(
        "default",
        PreloadCustomer::new("zzconf-11111111-000-a", "Live"),
    );
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let url = server.url();
    let dir = scratch("locked");
    std::fs::write(
        dir.join("11111111.jsonl"),
        ledger_line("11111111", &url, "default", "zzconf-11111111-000-a") + "\n",
    )
    .unwrap();
    // This test process is alive: its pid holds the lock.
    std::fs::write(dir.join("11111111.lock"), std::process::id().to_string()).unwrap();
    let output = sweep(&url, &dir);
    let out = stdout(&output) + &stderr(&output);
    assert_eq!(uids(&server), ["zzconf-11111111-000-a"], "{out}");
    assert!(
        out.lines()
            .any(|line| line.contains("11111111.jsonl") && line.contains("in use")),
        "{out}"
    );
    assert!(dir.join("11111111.jsonl").exists());

    // A lock left by a process that is gone is stale: the sweep goes ahead.
    std::fs::write(dir.join("11111111.lock"), "999999999").unwrap();
    let output = sweep(&url, &dir);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(uids(&server).is_empty());
    assert!(!dir.join("11111111.jsonl").exists());
    assert!(!dir.join("11111111.lock").exists());
}

#[test]
fn a_running_harness_holds_a_lock_beside_its_ledger() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let dir = scratch("own-lock");
    let specs = one_create_specs(&dir);
    // Slow enough that the lock can be seen while the run is alive.
    let proxy = Proxy::start(
        server.running().addr(),
        Duration::from_millis(100),
        usize::MAX,
    );
    let ledger = dir.join("ledger");
    let mut child = harness_against(&proxy.url())
        .args(["--jobs", "1"])
        .arg("--specs")
        .arg(&specs)
        .arg("ledgertruth::")
        .arg("--ledger-dir")
        .arg(&ledger)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut saw_lock = false;
    while child.try_wait().unwrap().is_none() {
        if let Ok(entries) = std::fs::read_dir(&ledger) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|ext| ext == "lock") {
                    let pid = std::fs::read_to_string(&path).unwrap_or_default();
                    saw_lock |= pid.trim() == child.id().to_string();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        saw_lock,
        "the live run's pid was in a .lock beside its ledger"
    );
    // A run that keeps nothing removes the directory it left empty, too.
    assert!(
        !ledger.exists(),
        "ledger, lock and their directory are gone at the end: {:?}",
        std::fs::read_dir(&ledger)
            .map(|entries| entries.flatten().map(|e| e.path()).collect::<Vec<_>>())
    );
}

fn harness_records(server: &Server) -> usize {
    uids(server)
        .iter()
        .filter(|uid| uid.starts_with("zzconf-"))
        .count()
}

#[test]
fn a_compare_with_run_killed_midway_leaves_a_ledger_that_sweep_finishes() {
    let primary = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let mut preload = Preload::new();
    preload.add("default", PreloadCustomer::new("B68t19", "Trisul"));
    let compare = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let dir = scratch("compare-kill");
    let ledger = dir.join("ledger");
    let mut child = harness_against(&primary.url())
        .args(["--jobs", "1", "--compare-with", &compare.url()])
        .arg("--ledger-dir")
        .arg(&ledger)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while harness_records(&compare) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup
    child.wait().unwrap();
    assert!(harness_records(&compare) > 0, "the killed run left records");
    let output = sweep(&compare.url(), &ledger);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        uids(&compare),
        ["B68t19"],
        "sweep found the --compare-with records: {}",
        stdout(&output)
    );
}

/// In front of `upstream`: lists in `forbidden` are refused with the
/// documented envelope (so the preflight finds the context forbidden, as
/// declared); everything else is forwarded as it is.
fn refusing_forbidden_lists(server: &Server, forbidden: String) -> String {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use ipdr_conformance::spec::contract::{DocumentedError, COLLECTION_PATH};
    use std::sync::Arc;

    struct Forward {
        upstream: String,
        forbidden: String,
        http: reqwest::Client,
    }
    async fn handle(
        State(forward): State<Arc<Forward>>,
        method: Method,
        uri: Uri,
        body: Bytes,
    ) -> Response {
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if method == Method::GET
            && uri.path() == COLLECTION_PATH
            && sent["contextname"] == forward.forbidden.as_str()
        {
            let envelope = DocumentedError::ForbiddenContext.envelope(
                sent["username"].as_str().unwrap_or_default(),
                &forward.forbidden,
            );
            let text = serde_json::to_string(&envelope).unwrap();
            return (StatusCode::OK, [("content-type", "application/json")], text).into_response();
        }
        let answer = forward
            .http
            .request(method, format!("{}{uri}", forward.upstream))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
        let content_type = answer
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let bytes = answer.bytes().await.unwrap();
        (status, [("content-type", content_type)], bytes).into_response()
    }
    let forward = Arc::new(Forward {
        upstream: server.url(),
        forbidden,
        http: reqwest::Client::new(),
    });
    let listener = server
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(handle).with_state(forward);
    server
        .runtime
        .spawn(async move { axum::serve(listener, router).await });
    url
}

#[test]
fn records_a_server_wrongly_lets_into_the_forbidden_context_are_deleted() {
    let mut config = ServerConfig::new(UsersFixture::builtin());
    config.deviations = vec![Deviation::ForbiddenContextNotChecked];
    let server = Server::start(config);
    let forbidden = UsersFixture::builtin()
        .harness()
        .forbidden_context
        .expect("the fixture has a forbidden context");
    // Lists there are refused, writes let in: the preflight passes, and the
    // sweep cannot see the records, so only the cases' ledger deletes them.
    let url = refusing_forbidden_lists(&server, forbidden.clone());
    let dir = scratch("forbidden");
    let output = harness_against(&url)
        .arg("property::crud_sequences")
        .args(["--cases", "64"])
        .arg("--repro-dir")
        .arg(dir.join("repros"))
        .arg("--ledger-dir")
        .arg(dir.join("ledger"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the departure is found:\n{out}"
    );
    let left: Vec<String> = server
        .running()
        .snapshot()
        .get(&forbidden)
        .into_iter()
        .flatten()
        .map(|customer| customer.user_id.clone())
        .filter(|uid| uid.starts_with("zzconf-"))
        .collect();
    assert!(left.is_empty(), "left in {forbidden}: {left:?}\n{out}");
}

#[test]
fn a_ledger_with_entries_in_contexts_the_user_cannot_list_is_retired() {
    let mut preload = Preload::new();
    preload.add("default", PreloadCustomer::new("B68t19", "Trisul"));
    preload.add(
        "restricted",
        PreloadCustomer::new("zzconf-22222222-000-b", "Not ours to touch"),
    );
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let before = server.running().snapshot();
    let url = server.url();
    let dir = scratch("unlistable");
    std::fs::write(
        dir.join("22222222.jsonl"),
        [
            ledger_line(
                "22222222",
                &url,
                "zzconf-22222222-no-such-context",
                "zzconf-22222222-p1-u0",
            ),
            ledger_line("22222222", &url, "restricted", "zzconf-22222222-000-b"),
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let output = sweep(&url, &dir);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(!dir.join("22222222.jsonl").exists(), "retired:\n{out}");
    assert_eq!(
        server.running().snapshot(),
        before,
        "a refused DELETE changes nothing"
    );
}

#[test]
fn a_run_killed_during_its_property_phase_is_swept_clean() {
    let mut preload = Preload::new();
    preload.add("default", PreloadCustomer::new("B68t19", "Trisul"));
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let dir = scratch("property-kill");
    let ledger = dir.join("ledger");
    let mut child = harness_against(&server.url())
        .arg("property::")
        .args(["--cases", "100000", "--jobs", "4"])
        .arg("--repro-dir")
        .arg(dir.join("repros"))
        .arg("--ledger-dir")
        .arg(&ledger)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while harness_records(&server) < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup
    child.wait().unwrap();
    let output = sweep(&server.url(), &ledger);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(uids(&server), ["B68t19"], "{}", stdout(&output));
}
