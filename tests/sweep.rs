//! The cleanup ledger survives a killed run: `sweep` deletes what the run
//! left, and nothing else.

mod common;

use std::time::{Duration, Instant};

use common::{harness, harness_against, stdout, Server};
use ipdr_conformance::reference::{Preload, PreloadCustomer, ServerConfig, UsersFixture};

fn credentials_env(command: &mut std::process::Command, url: &str) {
    let credentials = UsersFixture::builtin().harness();
    command
        .arg("--target")
        .arg(url)
        .env("IPDR_API_TOKEN", &credentials.api_token)
        .env("IPDR_USERNAME", &credentials.username)
        .env("IPDR_CONTEXT", &credentials.context)
        .env("IPDR_SECOND_CONTEXT", credentials.second_context.unwrap());
}

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

#[test]
fn a_run_killed_midway_is_swept_clean_and_foreign_records_are_untouched() {
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
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()).with_preload(preload));
    let before = server.running().snapshot();
    let ledger = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ledger-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&ledger);

    let mut run = harness_against(&server.url())
        .arg("--ledger-dir")
        .arg(&ledger)
        .arg("--jobs")
        .arg("1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness_records(&server) < 3 {
        assert!(
            Instant::now() < deadline,
            "the run created nothing to kill it over"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    run.kill().unwrap(); // SIGKILL: no destructor, no cleanup
    run.wait().unwrap();
    assert!(
        harness_records(&server) > 0,
        "the killed run left records behind"
    );

    let mut dry = harness();
    dry.arg("sweep")
        .arg("--dry-run")
        .arg("--ledger-dir")
        .arg(&ledger);
    credentials_env(&mut dry, &server.url());
    let dry = dry.output().unwrap();
    assert!(dry.status.success(), "{}", common::stderr(&dry));
    assert!(stdout(&dry).contains("would delete"), "{}", stdout(&dry));
    assert!(harness_records(&server) > 0, "a dry run deletes nothing");

    let mut sweep = harness();
    sweep.arg("sweep").arg("--ledger-dir").arg(&ledger);
    credentials_env(&mut sweep, &server.url());
    let sweep = sweep.output().unwrap();
    assert!(sweep.status.success(), "{}", common::stderr(&sweep));
    assert!(stdout(&sweep).contains("deleted"), "{}", stdout(&sweep));
    assert_eq!(
        harness_records(&server),
        0,
        "sweep leaves nothing of the killed run"
    );
    assert_eq!(
        server.running().snapshot(),
        before,
        "foreign records, including another run's, are untouched"
    );
    let _ = std::fs::remove_dir_all(&ledger);
}
