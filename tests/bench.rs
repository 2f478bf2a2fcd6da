//! Smoke test of `ipdr-conformance bench`: it runs with tiny sizes and prints
//! every figure. Timings are printed by the command, never asserted here.

use std::process::Command;

#[test]
fn bench_runs_with_tiny_sizes_and_prints_every_figure() {
    let output = Command::new(env!("CARGO_BIN_EXE_ipdr-conformance"))
        .args(["bench", "--smoke", "--no-wrk"])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    for figure in [
        "suite wall time:",
        "scenarios phase:",
        "property phase:",
        "requests in the run:",
        "requests per second:",
        "execution::client::Client::send:",
        "plain reqwest::Client:",
        "harness / bare ratio:",
        "load generator: built-in tokio loop",
        "list    reference",
        "create  reference",
        "minimal / reference",
        "== Scale: suite wall time ==",
        "0 customers preloaded",
        "10 customers preloaded",
        "1 property case(s) per trial",
        "2 property case(s) per trial",
        "peak RSS (VmHWM):",
    ] {
        assert!(stdout.contains(figure), "missing {figure:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("NaN"), "a figure is missing:\n{stdout}");
}
