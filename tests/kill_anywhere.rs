//! A run stopped at any moment, by SIGINT or by SIGKILL, followed by
//! `sweep`, leaves nothing of itself on the target and every foreign record
//! byte-identical (issue 12, "Done when"). The moments are spread over a
//! whole run, scenarios, property cases and cleanup alike.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{harness, harness_against, stderr, stdout, Server};
use ipdr_conformance::reference::{Preload, PreloadCustomer, ServerConfig, UsersFixture};

fn other_user(command: &mut Command) -> &mut Command {
    let other = UsersFixture::builtin().harness().other.unwrap();
    command
        .env("IPDR_OTHER_USERNAME", &other.username)
        .env("IPDR_OTHER_API_TOKEN", &other.api_token)
        .env("IPDR_OTHER_CONTEXT", &other.context)
}

fn harness_records(server: &Server) -> Vec<String> {
    server
        .running()
        .snapshot()
        .values()
        .flatten()
        .map(|customer| customer.user_id.clone())
        .filter(|uid| uid.to_ascii_lowercase().starts_with("zzconf-"))
        .collect()
}

#[test]
fn a_run_stopped_at_any_moment_then_swept_leaves_nothing_and_touches_nothing_else() {
    let mut preload = Preload::new();
    for context in ["default", "ipdr2", "restricted"] {
        preload.add(context, PreloadCustomer::new("B68t19", "Trisul"));
        preload.add(
            context,
            PreloadCustomer::new("Xlr8d3", "Trisul Network Analytics"),
        );
    }
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let before = server.running().snapshot();
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kill-anywhere-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let run = |ledger: &Path| {
        let mut command = harness_against(&server.url());
        other_user(&mut command)
            .arg("--ledger-dir")
            .arg(ledger)
            .arg("--repro-dir")
            .arg(scratch.join("repros"))
            .args(["--cases", "32", "--concurrent-cases", "8"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };

    // How long a whole run takes here, so the stops spread over all of it.
    let started = Instant::now();
    let whole = run(&scratch.join("ledger-whole")).output().unwrap();
    let duration = started.elapsed();
    assert_eq!(whole.status.code(), Some(0), "{}", stdout(&whole));
    assert_eq!(server.running().snapshot(), before, "a whole run cleans up");

    let stops = 8;
    for stop in 1..=stops {
        let ledger = scratch.join(format!("ledger-{stop}"));
        let mut child = run(&ledger).spawn().unwrap();
        std::thread::sleep(duration.mul_f64(stop as f64 / (stops + 1) as f64));
        let signal = if stop % 2 == 0 { "INT" } else { "KILL" };
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success());
        // SIGINT: the run cleans up and writes its reports; bounded all the same.
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "stop {stop}: SIG{signal} did not end the run"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut sweep = harness();
        let credentials = UsersFixture::builtin().harness();
        other_user(&mut sweep)
            .arg("sweep")
            .arg("--target")
            .arg(server.url())
            .arg("--ledger-dir")
            .arg(&ledger)
            .env("IPDR_API_TOKEN", &credentials.api_token)
            .env("IPDR_USERNAME", &credentials.username)
            .env("IPDR_CONTEXT", &credentials.context)
            .stdin(Stdio::null());
        let swept = sweep.output().unwrap();
        assert!(
            matches!(swept.status.code(), Some(0)),
            "stop {stop} (SIG{signal}): sweep {:?}\n{}\n{}",
            swept.status,
            stdout(&swept),
            stderr(&swept)
        );
        assert_eq!(
            harness_records(&server),
            Vec::<String>::new(),
            "stop {stop} (SIG{signal} after {:?}): the run's records are left\n{}",
            duration.mul_f64(stop as f64 / (stops + 1) as f64),
            stdout(&swept)
        );
        assert_eq!(
            server.running().snapshot(),
            before,
            "stop {stop} (SIG{signal}): every foreign record is as it was"
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
