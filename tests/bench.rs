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
        "== Whole `run` processes",
        "ms target: wall (1 round(s))",
        "ms target: requests",
        "critical-path limit: ",
        "ms target: wall / critical-path limit",
        "loopback `run` wall (embedded server)",
        "peak RSS, default `run`",
        "peak RSS, `run --report-json`, 64 KiB answers",
        "critical path: 1 preflight + max(longest scenario ",
        "throughput floor (requests x ",
    ] {
        assert!(stdout.contains(figure), "missing {figure:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("NaN"), "a figure is missing:\n{stdout}");
    // Without --baseline-bin, the baseline column is empty, and this binary's is filled.
    for label in [
        "ms target: wall (1 round(s))",
        "ms target: requests",
        "loopback `run` wall (embedded server)",
        "peak RSS, default `run`",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.contains(label))
            .expect("the row is printed");
        let figure = figures_after(line, label).first().copied().unwrap_or("-");
        assert_ne!(figure, "-", "no figure for this binary in {line:?}");
    }
}

/// The words of `line` after `label`.
fn figures_after<'a>(line: &'a str, label: &str) -> Vec<&'a str> {
    let start = line.find(label).map_or(line.len(), |at| at + label.len());
    line[start..].split_whitespace().collect()
}

/// With `--baseline-bin` (here the same binary), both columns and the ratio are filled.
#[test]
fn bench_measures_a_baseline_binary_side_by_side() {
    let binary = env!("CARGO_BIN_EXE_ipdr-conformance");
    let output = Command::new(binary)
        .args(["bench", "--smoke", "--runs-only", "--baseline-bin", binary])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("alternating rounds with the baseline"),
        "{stdout}"
    );
    for label in [
        "ms target: wall (1 round(s))",
        "ms target: requests",
        "loopback `run` wall (embedded server)",
        "peak RSS, default `run`",
    ] {
        let line = stdout
            .lines()
            .find(|line| line.contains(label))
            .unwrap_or_else(|| panic!("no {label:?} in:\n{stdout}"));
        let figures = figures_after(line, label);
        // this binary, baseline (each "N unit" or "N"), ratio "N.NNx".
        assert!(
            figures.last().is_some_and(|ratio| ratio.ends_with('x')),
            "no ratio in {line:?}"
        );
        assert!(!line.contains(" - "), "a column is empty in {line:?}");
    }
}

#[test]
fn bench_refuses_a_baseline_binary_that_does_not_exist() {
    let output = Command::new(env!("CARGO_BIN_EXE_ipdr-conformance"))
        .args([
            "bench",
            "--smoke",
            "--runs-only",
            "--baseline-bin",
            "/nonexistent/ipdr",
        ])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/ipdr"));
}
