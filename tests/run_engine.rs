//! The run engine through the binary: Ctrl-C (SIGINT or SIGTERM) stops the
//! run, cleans up and writes every report marked interrupted; a second
//! Ctrl-C exits at once; a target that stops answering ends the run quickly.

mod common;

use ipdr_conformance::execution::gate::DEFAULT_BREAKER_FAILURES;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{harness, harness_against, Server};
use ipdr_conformance::reference::{Preload, PreloadCustomer, ServerConfig, UsersFixture};
use serde_json::Value;

/// No run here may take longer than this.
const WALL_CLOCK: Duration = Duration::from_secs(120);

/// A foreign record in each context the harness uses, so that "nothing left" means something.
fn server_with_foreign_records() -> Server {
    let credentials = UsersFixture::builtin().harness();
    let mut preload = Preload::new();
    for context in [
        credentials.context.as_str(),
        credentials.second_context.as_deref().unwrap(),
    ] {
        preload.add(context, PreloadCustomer::new("B68t19", "Trisul"));
        preload.add(
            context,
            PreloadCustomer::new("zzconf-00000000-000-a", "Another run's record"),
        );
    }
    Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload))
}

/// Records of any run of the harness but the foreign one.
fn harness_records(server: &Server) -> usize {
    server
        .running()
        .snapshot()
        .values()
        .flatten()
        .filter(|customer| {
            customer.user_id.starts_with("zzconf-") && customer.user_id != "zzconf-00000000-000-a"
        })
        .count()
}

fn upstream(server: &Server) -> std::net::SocketAddr {
    server.url().trim_start_matches("http://").parse().unwrap()
}

/// A scratch directory under the target dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let path =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The child's stderr, line by line, as it comes.
fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

/// Waits for the child, failing the test past [`WALL_CLOCK`].
fn wait_bounded(child: &mut Child, started: Instant) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > WALL_CLOCK {
            let _ = child.kill();
            panic!("the run did not end within {WALL_CLOCK:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the run has created at least `count` records on `server`.
fn wait_for_records(server: &Server, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness_records(server) < count {
        assert!(Instant::now() < deadline, "the run created nothing");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A run through `proxy` with every report and small property trials (a
/// property trial that has started runs its cases to the end).
fn interruptible_run(proxy: &Proxy, scratch: &Scratch) -> Command {
    let mut command = harness_against(&proxy.url());
    command
        .args(["--cases", "4", "--max-ops", "6", "--concurrent-cases", "2"])
        .arg("--ledger-dir")
        .arg(scratch.0.join("ledger"))
        .arg("--report-json")
        .arg(scratch.0.join("report.json"))
        .arg("--junit")
        .arg(scratch.0.join("junit.xml"))
        .arg("--report-html")
        .arg(scratch.0.join("report.html"))
        .arg("--summary-md")
        .arg(scratch.0.join("summary.md"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn ctrl_c_stops_the_run_cleans_up_and_writes_every_report_marked_interrupted() {
    for signal_name in ["INT", "TERM"] {
        let server = server_with_foreign_records();
        let before = server.running().snapshot();
        let proxy = Proxy::start(upstream(&server), Duration::from_millis(40), usize::MAX);
        let scratch = Scratch::new(&format!("interrupt-{signal_name}"));
        let started = Instant::now();
        let mut child = interruptible_run(&proxy, &scratch).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut text);
            text
        });
        let errors = stderr_lines(&mut child);
        wait_for_records(&server, 3);
        signal(&child, signal_name);
        let status = wait_bounded(&mut child, started);
        let out = stdout.join().unwrap();
        let err: Vec<String> = errors.try_iter().collect();
        assert_eq!(status.code(), Some(130), "SIG{signal_name}\n{out}\n{err:?}");
        assert!(
            err.iter()
                .any(|line| line.starts_with("interrupted: no trial starts any more")),
            "{err:?}"
        );
        assert!(out.contains("test result: interrupted."), "{out}");
        // Nothing of the run is left, and everything else is as it was.
        assert_eq!(
            harness_records(&server),
            0,
            "SIG{signal_name}: records left"
        );
        assert_eq!(server.running().snapshot(), before);
        let ledgers: Vec<_> = std::fs::read_dir(scratch.0.join("ledger"))
            .map(|dir| dir.filter_map(Result::ok).collect())
            .unwrap_or_default();
        assert!(ledgers.is_empty(), "the ledger is retired: {ledgers:?}");

        let json: Value = serde_json::from_str(&read(scratch.0.join("report.json"))).unwrap();
        assert_eq!(json["interrupted"], true, "{json}");
        let not_run = json["not_run"].as_array().unwrap();
        let trials = json["trials"].as_array().unwrap();
        assert!(
            !not_run.is_empty(),
            "a run interrupted early leaves trials not run"
        );
        assert!(
            trials.len() + not_run.len() >= 100,
            "{} + {}",
            trials.len(),
            not_run.len()
        );
        for trial in trials {
            let name = trial["name"].as_str().unwrap();
            assert!(
                !not_run.iter().any(|other| other == name),
                "{name} is both done and not run"
            );
        }
        let junit = read(scratch.0.join("junit.xml"));
        assert!(
            junit.contains(r#"<property name="interrupted" value="true"/>"#),
            "{junit}"
        );
        assert_eq!(junit.matches("<testcase ").count(), trials.len());
        assert!(read(scratch.0.join("report.html")).contains("id=\"interrupted\""));
        assert!(read(scratch.0.join("summary.md")).contains("**Interrupted** (Ctrl-C)"));
    }
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_ledger_lets_sweep_finish_the_job() {
    let server = server_with_foreign_records();
    let before = server.running().snapshot();
    // Slow enough that the cleanup after the first Ctrl-C is still running at the second.
    let proxy = Proxy::start(upstream(&server), Duration::from_millis(300), usize::MAX);
    let scratch = Scratch::new("interrupt-twice");
    let started = Instant::now();
    let mut child = interruptible_run(&proxy, &scratch)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let errors = stderr_lines(&mut child);
    wait_for_records(&server, 3);
    signal(&child, "INT");
    let first = errors
        .recv_timeout(Duration::from_secs(30))
        .expect("the first Ctrl-C is acknowledged");
    assert!(
        first.starts_with("interrupted: no trial starts any more"),
        "{first}"
    );
    signal(&child, "INT");
    let second = Instant::now();
    let status = wait_bounded(&mut child, started);
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "the second Ctrl-C exits at once, not after {:?}",
        second.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let rest: Vec<String> = errors.iter().collect();
    let last = rest.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("interrupted again: exiting at once; the cleanup ledger in ")
            && last.contains("`ipdr-conformance sweep --target "),
        "one line naming the ledger and sweep: {rest:?}"
    );
    assert!(
        harness_records(&server) > 0,
        "cut short: records are left for sweep"
    );

    // What the killed run had sent still reaches the server (a create held
    // back 300 ms would land after sweep's DELETE): sweep runs after that.
    proxy.wait_delivered();
    proxy.heal();
    let credentials = UsersFixture::builtin().harness();
    let sweep = harness()
        .arg("sweep")
        .arg("--target")
        .arg(proxy.url())
        .arg("--ledger-dir")
        .arg(scratch.0.join("ledger"))
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .env("IPDR_USERNAME", &credentials.username)
        .output()
        .unwrap();
    assert!(
        sweep.status.success(),
        "{}{}",
        common::stdout(&sweep),
        common::stderr(&sweep)
    );
    assert_eq!(harness_records(&server), 0, "sweep finished the job");
    assert_eq!(server.running().snapshot(), before);
}

#[test]
fn a_target_that_stops_answering_ends_the_run_in_seconds_as_errors() {
    let server = server_with_foreign_records();
    // The preflight and a few trials' first requests get through; then silence.
    let proxy = Proxy::start(upstream(&server), Duration::ZERO, 40);
    let scratch = Scratch::new("hung-target");
    let started = Instant::now();
    let output = harness_against(&proxy.url())
        .args(["--timeout", "2", "--jobs", "1"])
        .arg("--ledger-dir")
        .arg(scratch.0.join("ledger"))
        .arg("--report-json")
        .arg(scratch.0.join("report.json"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let out = common::stdout(&output);
    let json: Value = serde_json::from_str(&read(scratch.0.join("report.json"))).unwrap();
    let failed: Vec<&Value> = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|trial| trial["verdict"] == "fail")
        .collect();
    assert_eq!(
        output.status.code(),
        Some(3),
        "failed: {failed:#?}\n{out}\n{}",
        common::stderr(&output)
    );
    // Without a breaker every remaining request (hundreds) would wait out its
    // 2 s; with it, only the few silent sends that open it reach the proxy.
    let unanswered = proxy.requests() - 40;
    assert!(
        unanswered <= DEFAULT_BREAKER_FAILURES as usize,
        "{unanswered} requests sent into the silence (took {elapsed:?})"
    );
    let json: Value = serde_json::from_str(&read(scratch.0.join("report.json"))).unwrap();
    let errors = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|trial| trial["verdict"] == "error")
        .count();
    assert!(errors >= 50, "the remaining trials end as errors: {errors}");
    // What the run created before the silence is in the ledger; once the target is back, sweep deletes it.
    proxy.heal();
    let credentials = UsersFixture::builtin().harness();
    let sweep = harness()
        .arg("sweep")
        .arg("--target")
        .arg(proxy.url())
        .arg("--ledger-dir")
        .arg(scratch.0.join("ledger"))
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .env("IPDR_USERNAME", &credentials.username)
        .output()
        .unwrap();
    assert!(sweep.status.success(), "{}", common::stderr(&sweep));
    assert_eq!(
        harness_records(&server),
        0,
        "left: {:?}\nsweep said: {}{}",
        server.running().snapshot(),
        common::stdout(&sweep),
        common::stderr(&sweep)
    );
}
