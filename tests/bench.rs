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
        "== Production-size targets: the smoke-sized suite as a `run` process",
        "customers  binary",
        "serve start (preload stored, address printed; slowest run): 0 -> ",
        "proxy check, 0 customers, this binary: wall ",
        "proxy check, 1,000 customers, this binary: wall ",
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
    for customers in ["0", "1,000"] {
        let row = production_row(&stdout, customers, "this binary");
        assert_eq!(row.exit, "0 pass", "{row:?}");
        assert!(row.wall > 0.0 && row.requests > 0, "{row:?}");
        // Bytes from the target, then the harness's peak RSS.
        assert!(row.rest.matches(" MB").count() >= 2, "{row:?}");
    }
    // The empty target's verdict needs a baseline; 1,000 has no target in the issue.
    assert_eq!(
        production_row(&stdout, "0", "this binary").verdict,
        "- (no --baseline-bin)"
    );
    assert_eq!(production_row(&stdout, "1,000", "this binary").verdict, "-");
}

/// One line of the production-size table: its figures and its last columns.
#[derive(Debug)]
struct ProductionRow {
    /// Wall seconds.
    wall: f64,
    /// Requests the proxy counted.
    requests: u64,
    /// The rest of the line: bytes, peak, exit, target, verdict.
    rest: String,
    /// The exit column, e.g. "0 pass".
    exit: String,
    /// The last column.
    verdict: String,
}

/// The production-size row of `customers` for `binary` ("this binary" or "baseline").
fn production_row(stdout: &str, customers: &str, binary: &str) -> ProductionRow {
    let line = stdout.lines().find_map(|line| {
        // The first column is the size, the second the binary.
        let rest = line.strip_prefix(customers)?.strip_prefix(' ')?;
        rest.trim_start()
            .strip_prefix(binary)
            .map(|after| (line, after))
    });
    let (line, after) =
        line.unwrap_or_else(|| panic!("no {customers} / {binary} row in:\n{stdout}"));
    let words: Vec<&str> = after.split_whitespace().collect();
    // "0.33 s  159  0.1 MB  35.4 MB  0 pass  <target>  <verdict>": the exit,
    // target and verdict columns are padded apart by two spaces or more.
    let columns: Vec<&str> = after
        .split("  ")
        .map(str::trim)
        .filter(|column| !column.is_empty())
        .collect();
    let exit = columns
        .iter()
        .find(|column| column.ends_with(" pass") || column.contains(" error"))
        .unwrap_or_else(|| panic!("no exit column in {line:?}"));
    ProductionRow {
        wall: words[0]
            .parse()
            .unwrap_or_else(|_| panic!("no wall in {line:?}")),
        requests: words[2]
            .replace(',', "")
            .parse()
            .unwrap_or_else(|_| panic!("no requests in {line:?}")),
        rest: words[3..].join(" "),
        exit: exit.to_string(),
        verdict: columns.last().expect("a verdict").to_string(),
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

/// The production-size rows alone, with the baseline (here the same binary):
/// both sides measured at every size, each judged against the targets.
#[test]
fn bench_production_rows_measure_both_binaries() {
    let binary = env!("CARGO_BIN_EXE_ipdr-conformance");
    let output = Command::new(binary)
        .args([
            "bench",
            "--smoke",
            "--production-only",
            "--baseline-bin",
            binary,
        ])
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("alternating with the baseline"), "{stdout}");
    assert!(!stdout.contains("== Whole `run`"), "{stdout}");
    for customers in ["0", "1,000"] {
        for side in ["this binary", "baseline"] {
            let row = production_row(&stdout, customers, side);
            assert_eq!(row.exit, "0 pass", "{row:?}");
            assert!(row.wall > 0.0 && row.requests > 0, "{row:?}");
        }
    }
    // Against the baseline the empty target is judged, whichever way it goes.
    let empty = production_row(&stdout, "0", "this binary");
    assert!(
        empty.verdict == "PASS" || empty.verdict == "MISS (slower)",
        "{empty:?}"
    );
    assert!(!stdout.contains("note:"), "{stdout}");
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
