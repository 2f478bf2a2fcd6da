//! `ipdr-conformance bench`: how fast the harness and the embedded reference
//! server are, printed as figures (never asserted).
//!
//! Everything runs against servers on loopback started by this process;
//! every loop is bounded in count and time. See docs/performance.md
//! for what each figure means.

pub mod child;
pub mod critical_path;
pub mod huge_body;
pub mod load;
pub mod minimal;
pub mod production;
pub mod proxy;
pub mod whole_run;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::execution::client::Client;
use crate::execution::guard::clear_mutation;
use crate::execution::property::{self, PropertyOptions, PropertyTrial};
use crate::execution::suite::Suite;
use crate::execution::target::Target;
use crate::reference::{self, Preload, RunningServer, ServerConfig, UsersFixture};
use crate::spec::contract::{Customer, COLLECTION_PATH};
use crate::spec::load::{load_embedded, LoadedScenario};

use load::{Endpoint, Generator, LoadAuth};

/// The seed of every property run of the bench, so runs compare.
pub const BENCH_SEED: u64 = 7;
/// Customers both servers hold when their ceiling is measured.
const CEILING_PRELOAD: usize = 100;
/// From this many preloaded customers on, a scale row keeps no transcripts
/// (each list answer is megabytes, held twice: text and parsed) and runs
/// [`LARGE_TARGET_CASES`] property cases per trial, printing the default
/// suite's wall time extrapolated from them: the full default suite there
/// takes minutes and gigabytes (see docs/performance.md).
const LARGE_TARGET: usize = 50_000;
/// Property cases per trial on a large target.
const LARGE_TARGET_CASES: u32 = 8;
/// What the latency proxy adds to every answer: a Trisul on the LAN.
pub const REMOTE_LATENCY: Duration = Duration::from_millis(20);

/// Options of `bench`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BenchOptions {
    /// Smaller sizes: preloads of 0, 1,000 and 10,000 customers, shorter loops.
    #[arg(long)]
    pub quick: bool,
    /// Tiny sizes, for the smoke test only (the figures mean nothing).
    #[arg(long, hide = true)]
    pub smoke: bool,
    /// Use the built-in load loop even when wrk is installed.
    #[arg(long)]
    pub no_wrk: bool,
    /// An older ipdr-conformance binary (e.g. built from tag before-issue-11) whose whole
    /// `run` processes are measured alternately with this one's, printed side by side.
    #[arg(long, value_name = "PATH")]
    pub baseline_bin: Option<PathBuf>,
    /// Rounds of each whole-`run` row (default: 3, with --quick 1, for the 20 ms target; 5, with --quick 3, on loopback).
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,
    /// Only the whole-`run` rows: the 20 ms target, loopback, peak RSS.
    #[arg(long)]
    pub runs_only: bool,
    /// Only the production-size rows: `run` against `serve --preload-generated N`
    /// for N = 0, 100,000 and 1,000,000 (with --quick 0, 10,000 and 100,000).
    #[arg(long, conflicts_with = "runs_only")]
    pub production_only: bool,
}

/// How much work each part does.
#[derive(Debug, Clone)]
struct Sizes {
    name: &'static str,
    default_cases: u32,
    default_concurrent_cases: u32,
    preloads: Vec<usize>,
    cases: Vec<u32>,
    overhead_iterations: usize,
    overhead_rounds: usize,
    load_duration: Duration,
    load_connections: usize,
    /// Rounds of the whole-`run` row against the slow target.
    remote_runs: usize,
    /// Rounds of the whole-`run` row on loopback.
    loopback_runs: usize,
    /// What the proxy adds to every answer.
    latency: Duration,
    /// Property cases of the measured `run` processes (None: the default suite).
    run_cases: Option<(u32, u32)>,
    /// Only the trials whose name holds this (None: every trial, the default suite).
    run_filter: Option<&'static str>,
    /// Body size of the huge-answer server.
    huge_body: u64,
    /// How long the huge-answer run may take.
    huge_time_cap: Duration,
    /// Customers preloaded in the production-size rows.
    production: Vec<u64>,
}

impl Sizes {
    fn for_options(options: &BenchOptions) -> Sizes {
        if options.smoke {
            Sizes {
                name: "smoke",
                default_cases: 4,
                default_concurrent_cases: 2,
                preloads: vec![0, 10],
                cases: vec![1, 2],
                overhead_iterations: 5,
                overhead_rounds: 3,
                load_duration: Duration::from_millis(200),
                load_connections: 4,
                remote_runs: 1,
                loopback_runs: 1,
                latency: Duration::from_millis(1),
                run_cases: Some((4, 2)),
                run_filter: Some("crud"),
                huge_body: 64 * 1024,
                huge_time_cap: Duration::from_secs(3),
                production: vec![0, 1_000],
            }
        } else if options.quick {
            Sizes {
                name: "quick",
                default_cases: property::DEFAULT_CASES,
                default_concurrent_cases: property::DEFAULT_CONCURRENT_CASES,
                preloads: vec![0, 1_000, 10_000],
                cases: vec![1, 2, 8, 32],
                overhead_iterations: 100,
                overhead_rounds: 5,
                load_duration: Duration::from_secs(1),
                load_connections: 16,
                remote_runs: 1,
                loopback_runs: 3,
                latency: REMOTE_LATENCY,
                run_cases: None,
                run_filter: None,
                huge_body: huge_body::HUGE_BODY_BYTES,
                huge_time_cap: Duration::from_secs(60),
                production: vec![0, 10_000, 100_000],
            }
        } else {
            Sizes {
                name: "full",
                default_cases: property::DEFAULT_CASES,
                default_concurrent_cases: property::DEFAULT_CONCURRENT_CASES,
                preloads: vec![0, 1_000, 100_000],
                cases: vec![1, 2, 8, 32],
                overhead_iterations: 300,
                overhead_rounds: 9,
                load_duration: Duration::from_secs(3),
                load_connections: 16,
                remote_runs: 3,
                loopback_runs: 5,
                latency: REMOTE_LATENCY,
                run_cases: None,
                run_filter: None,
                huge_body: huge_body::HUGE_BODY_BYTES,
                huge_time_cap: Duration::from_secs(120),
                production: vec![0, 100_000, 1_000_000],
            }
        }
    }
}

/// `bench` from the command line: prints the figures.
pub fn run_from_cli(options: BenchOptions) -> anyhow::Result<()> {
    let sizes = Sizes::for_options(&options);
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the tokio runtime")?,
    );
    let scenarios = load_embedded()?;
    println!(
        "ipdr-conformance bench ({} sizes; {threads} CPU(s); property seed {BENCH_SEED}; release build: {})",
        sizes.name,
        !cfg!(debug_assertions)
    );

    if options.runs_only {
        return print_whole_runs(&runtime, &scenarios, &sizes, &options);
    }
    if options.production_only {
        return print_production_rows(&runtime, &sizes, &options);
    }

    // 1. The default suite, timed, then once more through a counting proxy.
    let default_options = property_options(sizes.default_cases, sizes.default_concurrent_cases);
    let timed = suite_against(
        &runtime,
        &scenarios,
        Preload::new(),
        &default_options,
        threads,
        false,
    )?;
    let counted = suite_against(
        &runtime,
        &scenarios,
        Preload::new(),
        &default_options,
        threads,
        true,
    )?;
    let requests = counted.requests.unwrap_or(0);
    println!(
        "\n== Default suite ({} scenarios, {} + {} property cases) ==",
        scenarios.len(),
        sizes.default_cases,
        sizes.default_concurrent_cases
    );
    println!("suite wall time:        {:>10.3} s  (server start, scenarios, both property trials, sweep)", secs(timed.wall));
    println!(
        "  scenarios phase:      {:>10.3} s  ({} passed, {} failed)",
        secs(timed.scenarios),
        timed.passed,
        timed.failed
    );
    println!("  property phase:       {:>10.3} s  (crud_sequences {:.3} s and concurrent_linearizable {:.3} s, in parallel; {} case runs; failures: {})",
        secs(timed.properties), secs(timed.crud), secs(timed.concurrent), timed.property_cases, timed.property_failures);
    println!("requests in the run:    {requests:>10}  (request lines counted by a proxy in a second, identical-seed run)");
    println!(
        "requests per second:    {:>10.0}  (counted requests / timed wall time)",
        requests as f64 / secs(timed.wall).max(1e-9)
    );
    println!("peak RSS so far:        {:>10}", peak_rss());

    // 2. Whole `run` processes: the slow target, loopback, memory; before and after.
    print_whole_runs(&runtime, &scenarios, &sizes, &options)?;

    // 3. The production-size rows: preloads of 0, 100,000 and 1,000,000 customers.
    print_production_rows(&runtime, &sizes, &options)?;

    // 4. Harness per-request cost against a bare reqwest loop.
    let (harness, bare) = runtime.block_on(overhead(&sizes))?;
    println!("\n== Harness per-request cost (list+create+delete, one pool, sequential, alternating blocks, median of {}) ==", sizes.overhead_rounds);
    println!(
        "execution::client::Client::send: {:>8.1} µs/request",
        harness * 1e6
    );
    println!(
        "plain reqwest::Client:           {:>8.1} µs/request",
        bare * 1e6
    );
    println!(
        "harness / bare ratio:            {:>8.2}x",
        harness / bare.max(1e-12)
    );

    // 5. The reference server's ceiling against a minimal axum handler.
    let use_wrk = !options.no_wrk && load::wrk_available();
    let generator = if use_wrk {
        Generator::Wrk
    } else {
        Generator::Builtin
    };
    println!("\n== Server ceiling ({} connections, {:.1} s per measurement, {CEILING_PRELOAD} customers preloaded) ==", sizes.load_connections, sizes.load_duration.as_secs_f64());
    match generator {
        Generator::Wrk => println!("load generator: wrk (out of process, 2 threads)"),
        Generator::Builtin => println!("load generator: built-in tokio loop, {} concurrent connections, in process (wrk not {}; it shares the CPU with the server, so figures are lower than wrk's)", sizes.load_connections, if options.no_wrk { "used: --no-wrk" } else { "installed" }),
    }
    for endpoint in [Endpoint::List, Endpoint::Create] {
        let (reference, minimal) = ceiling(&runtime, endpoint, generator, &sizes)?;
        println!(
            "{:<7} reference {:>9.0} req/s   minimal axum {:>9.0} req/s   minimal / reference {:>5.2}x",
            match endpoint { Endpoint::List => "list", Endpoint::Create => "create" },
            reference, minimal, minimal / reference.max(1e-9)
        );
    }

    // 6. Scale.
    println!("\n== Scale: suite wall time ==");
    println!(
        "{:<34} {:>9} {:>11} {:>11} {:>9}",
        "target / cases", "wall s", "scenarios s", "property s", "failed"
    );
    let mut extrapolated = false;
    for preload in &sizes.preloads {
        if *preload >= LARGE_TARGET {
            let options = property_options(LARGE_TARGET_CASES, LARGE_TARGET_CASES);
            let run = suite_against(
                &runtime,
                &scenarios,
                customers(*preload),
                &options,
                threads,
                false,
            )?;
            let full_cases = f64::from(sizes.default_cases + sizes.default_concurrent_cases);
            let scaled = secs(run.properties) * full_cases / f64::from(2 * LARGE_TARGET_CASES);
            let wall = secs(run.wall) - secs(run.properties) + scaled;
            println!(
                "{:<34} {:>8.1}* {:>11.3} {:>10.1}* {:>9}",
                format!("{preload} customers preloaded"),
                wall,
                secs(run.scenarios),
                scaled,
                run.failed + run.property_failures
            );
            extrapolated = true;
        } else {
            let run = suite_against(
                &runtime,
                &scenarios,
                customers(*preload),
                &default_options,
                threads,
                false,
            )?;
            println!(
                "{:<34} {:>9.3} {:>11.3} {:>11.3} {:>9}",
                format!("{preload} customers preloaded"),
                secs(run.wall),
                secs(run.scenarios),
                secs(run.properties),
                run.failed + run.property_failures
            );
        }
    }
    if extrapolated {
        println!("* {LARGE_TARGET_CASES} property cases per trial measured, scaled linearly to the default {} + {}; scenarios measured in full", sizes.default_cases, sizes.default_concurrent_cases);
    }
    for cases in &sizes.cases {
        let run = suite_against(
            &runtime,
            &scenarios,
            Preload::new(),
            &property_options(*cases, *cases),
            threads,
            false,
        )?;
        println!(
            "{:<34} {:>9.3} {:>11.3} {:>11.3} {:>9}",
            format!("{cases} property case(s) per trial"),
            secs(run.wall),
            secs(run.scenarios),
            secs(run.properties),
            run.failed + run.property_failures
        );
    }
    println!("\npeak RSS (VmHWM):       {:>10}", peak_rss());
    Ok(())
}

/// Width of a row's label in the whole-`run` table.
const LABEL: usize = 46;

/// The whole-`run` rows: this binary (and the baseline, alternately) as child processes.
fn print_whole_runs(
    runtime: &Arc<tokio::runtime::Runtime>,
    scenarios: &[LoadedScenario],
    sizes: &Sizes,
    options: &BenchOptions,
) -> anyhow::Result<()> {
    let binaries = binaries(options)?;
    let scratch = scratch_dir("")?;
    let shape = whole_run::RunShape {
        cases: sizes.run_cases,
        filter: sizes.run_filter.map(str::to_string),
        scratch: scratch.clone(),
    };
    let remote_runs = options.runs.unwrap_or(sizes.remote_runs).max(1);
    let loopback_runs = options.runs.unwrap_or(sizes.loopback_runs).max(1);
    let delay_ms = sizes.latency.as_millis();
    let (cases, concurrent_cases) = sizes
        .run_cases
        .unwrap_or((property::DEFAULT_CASES, property::DEFAULT_CONCURRENT_CASES));
    println!(
        "\n== Whole `run` processes: the {} suite, as child processes ({}) ==",
        if sizes.run_cases.is_none() {
            "default"
        } else {
            "smoke-sized"
        },
        match &binaries.baseline {
            Some(baseline) => format!(
                "medians of alternating rounds with the baseline {}",
                baseline.display()
            ),
            None => "medians; no --baseline-bin, so this binary only".to_string(),
        }
    );

    let mut analysis_options = property_options(cases, concurrent_cases);
    analysis_options.seed = property::SeedChoice::Given(property::DEFAULT_SEED);
    // The same trials as the measured runs: every one, or those their filter keeps.
    let kept = |name: &str| sizes.run_filter.is_none_or(|filter| name.contains(filter));
    let trial_scenarios: Vec<LoadedScenario> = scenarios
        .iter()
        .filter(|loaded| kept(&loaded.scenario.name))
        .cloned()
        .collect();
    let trials: Vec<PropertyTrial> = PropertyTrial::ALL
        .into_iter()
        .filter(|trial| kept(&trial.name()))
        .collect();
    let path = critical_path::analyse(
        runtime,
        &trial_scenarios,
        &trials,
        &analysis_options,
        property::DEFAULT_SEED,
    )?;
    let remote = whole_run::remote(runtime, &binaries, &shape, remote_runs, sizes.latency)?;
    let loopback = whole_run::loopback(&binaries, &shape, loopback_runs)?;
    let huge = whole_run::huge_bodies(
        runtime,
        &binaries,
        &shape,
        sizes.huge_body,
        sizes.huge_time_cap,
    )?;

    use whole_run::Side;
    let seconds = |duration: Option<Duration>| {
        duration.map_or_else(
            || "-".to_string(),
            |duration| format!("{:.2} s", secs(duration)),
        )
    };
    let ratio = |current: Option<f64>, baseline: Option<f64>| match (current, baseline) {
        (Some(current), Some(baseline)) if baseline > 0.0 => format!("{:.2}x", current / baseline),
        _ => "-".to_string(),
    };
    let row = |label: &str, current: String, baseline: String, ratio: String| {
        println!("{label:<LABEL$} {current:>14} {baseline:>14} {ratio:>12}");
    };
    row(
        "",
        "this binary".to_string(),
        "baseline".to_string(),
        "this/baseline".to_string(),
    );
    let walls = |row: &whole_run::Row, side| whole_run::median_wall(row.side(side));
    let wall_ratio = |row: &whole_run::Row| {
        ratio(
            walls(row, Side::Current).map(secs),
            walls(row, Side::Baseline).map(secs),
        )
    };
    row(
        &format!("{delay_ms} ms target: wall ({remote_runs} round(s))"),
        seconds(walls(&remote, Side::Current)),
        seconds(walls(&remote, Side::Baseline)),
        wall_ratio(&remote),
    );
    let requests = |side| whole_run::median_requests(remote.side(side));
    let count =
        |value: Option<u64>| value.map_or_else(|| "-".to_string(), |value| value.to_string());
    row(
        &format!("{delay_ms} ms target: requests"),
        count(requests(Side::Current)),
        count(requests(Side::Baseline)),
        ratio(
            requests(Side::Current).map(|value| value as f64),
            requests(Side::Baseline).map(|value| value as f64),
        ),
    );
    let limit = path.limit(sizes.latency);
    row(
        &format!(
            "critical-path limit: {} rounds x {delay_ms} ms",
            path.rounds()
        ),
        seconds(Some(limit)),
        seconds(Some(limit)),
        String::new(),
    );
    let over_limit = |side| {
        walls(&remote, side).map_or_else(
            || "-".to_string(),
            |wall| format!("{:.2}x", secs(wall) / secs(limit).max(1e-9)),
        )
    };
    row(
        &format!("{delay_ms} ms target: wall / critical-path limit"),
        over_limit(Side::Current),
        over_limit(Side::Baseline),
        String::new(),
    );
    row(
        "loopback `run` wall (embedded server)",
        seconds(walls(&loopback, Side::Current)),
        seconds(walls(&loopback, Side::Baseline)),
        wall_ratio(&loopback),
    );
    let peak_ratio = |row: &whole_run::Row| {
        let capped = row
            .current
            .iter()
            .chain(&row.baseline)
            .any(|measured| measured.run.capped());
        if capped {
            "-".to_string()
        } else {
            ratio(
                whole_run::median_peak(&row.current).map(|bytes| bytes as f64),
                whole_run::median_peak(&row.baseline).map(|bytes| bytes as f64),
            )
        }
    };
    row(
        "peak RSS, default `run`",
        whole_run::peak_text(&loopback.current),
        whole_run::peak_text(&loopback.baseline),
        peak_ratio(&loopback),
    );
    row(
        &format!(
            "peak RSS, `run --report-json`, {} answers",
            human_size(sizes.huge_body)
        ),
        whole_run::peak_text(&huge.current),
        whole_run::peak_text(&huge.baseline),
        peak_ratio(&huge),
    );
    println!("critical path: {}", path.explain());
    let total = requests(Side::Current).unwrap_or(path.requests);
    println!(
        "throughput floor (requests x {delay_ms} ms / requests in flight): {}",
        [8u64, 16, 32, 64]
            .map(|jobs| format!(
                "{jobs} -> {:.2} s",
                total as f64 * secs(sizes.latency) / jobs as f64
            ))
            .join(", ")
    );
    println!(
        "the chain was counted in one run on loopback ({} requests, {} scenario(s) and {} property trial(s) not passing, property seed {}); peak RSS is VmHWM polled every {} ms",
        path.requests,
        path.scenario_failures,
        path.property_failures,
        property::DEFAULT_SEED,
        child::POLL.as_millis()
    );
    for (name, row) in [
        (format!("{delay_ms} ms target"), &remote),
        ("loopback".to_string(), &loopback),
        (format!("{} answers", human_size(sizes.huge_body)), &huge),
    ] {
        for (side, runs) in [
            (Side::Current, &row.current),
            (Side::Baseline, &row.baseline),
        ] {
            for measured in runs.iter() {
                if let Some(note) = whole_run::ending_note(measured) {
                    let side = match side {
                        Side::Current => "this binary",
                        Side::Baseline => "baseline",
                    };
                    println!("note: {name}, {side}: {note}");
                }
            }
        }
    }
    // The outputs of runs that did not pass stay for reading; the rest goes.
    let keep: Vec<PathBuf> = [&remote, &loopback, &huge]
        .iter()
        .flat_map(|row| row.current.iter().chain(&row.baseline))
        .filter(|measured| whole_run::ending_note(measured).is_some())
        .map(|measured| measured.run.output.clone())
        .collect();
    if keep.is_empty() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(())
}

/// This binary and the `--baseline-bin`, checked to exist.
fn binaries(options: &BenchOptions) -> anyhow::Result<whole_run::Binaries> {
    let binaries = whole_run::Binaries {
        current: std::env::current_exe().context("finding this binary")?,
        baseline: options.baseline_bin.clone(),
    };
    if let Some(baseline) = &binaries.baseline {
        anyhow::ensure!(
            baseline.is_file(),
            "--baseline-bin {}: no such file",
            baseline.display()
        );
    }
    Ok(binaries)
}

/// This bench's scratch directory for measured runs (`part` under it, when given), created.
fn scratch_dir(part: &str) -> anyhow::Result<PathBuf> {
    let scratch = std::env::temp_dir()
        .join(format!("ipdr-bench-{}", std::process::id()))
        .join(part);
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    Ok(scratch)
}

/// The production-size rows: the default suite as a `run` process against
/// `serve --preload-generated N` in its own process, each held against the
/// issue's targets (issue 14).
fn print_production_rows(
    runtime: &tokio::runtime::Runtime,
    sizes: &Sizes,
    options: &BenchOptions,
) -> anyhow::Result<()> {
    use production::{exit_text, grouped};
    use whole_run::Side;
    let binaries = binaries(options)?;
    let scratch = scratch_dir("production")?;
    let shape = whole_run::RunShape {
        cases: sizes.run_cases,
        filter: sizes.run_filter.map(str::to_string),
        scratch: scratch.clone(),
    };
    let rounds = options.runs.unwrap_or(1).max(1);
    println!(
        "\n== Production-size targets: the {} suite as a `run` process against `serve --preload-generated N` (a separate process), through a counting proxy adding 0 ms ({}) ==",
        if sizes.run_cases.is_none() { "default" } else { "smoke-sized" },
        match &binaries.baseline {
            Some(baseline) => format!("{rounds} round(s), alternating with the baseline {}", baseline.display()),
            None => format!("{rounds} round(s); no --baseline-bin, so this binary only"),
        }
    );
    // The empty target and the next size (100,000 in the full bench) run once
    // more without the proxy: what the proxy costs.
    let check_sizes = &sizes.production[..sizes.production.len().min(2)];
    let (rows, checks) = production::measure(
        runtime,
        &binaries,
        &shape,
        &sizes.production,
        rounds,
        check_sizes,
    )?;
    println!(
        "{:<10} {:<11} {:>9} {:>9} {:>12} {:>13}  {:<16} {:<27} verdict",
        "customers", "binary", "wall", "requests", "from target", "harness peak", "exit", "target"
    );
    let mut notes = Vec::new();
    for size in &rows {
        let baseline_wall = whole_run::median_wall(&size.row.baseline);
        for side in [Side::Current, Side::Baseline] {
            for measured in size.row.side(side) {
                let (name, verdict) = match side {
                    Side::Current => ("this binary", size.goal.judge(measured, baseline_wall)),
                    Side::Baseline => (
                        "baseline",
                        match size.goal {
                            // The baseline is what the empty target is compared with.
                            production::Goal::NoSlowerThanBaseline => "-".to_string(),
                            goal => goal.judge(measured, None),
                        },
                    ),
                };
                let run = &measured.run;
                println!(
                    "{:<10} {:<11} {:>9} {:>9} {:>12} {:>13}  {:<16} {:<27} {verdict}",
                    grouped(size.customers),
                    name,
                    format!(
                        "{}{:.2} s",
                        if run.ending == child::Ending::TimeCap {
                            "≥ "
                        } else {
                            ""
                        },
                        secs(run.wall)
                    ),
                    measured.requests.map_or_else(|| "-".to_string(), grouped),
                    measured
                        .bytes
                        .map_or_else(|| "-".to_string(), child::human_bytes),
                    whole_run::peak_text(std::slice::from_ref(measured)),
                    exit_text(run.ending),
                    size.goal.text(),
                );
                if run.ending != child::Ending::Exited(Some(0)) {
                    notes.push(format!(
                        "{} customers, {name}: {} after {:.2} s; stderr: {}",
                        grouped(size.customers),
                        exit_text(run.ending),
                        secs(run.wall),
                        run.first_stderr_line()
                            .unwrap_or_else(|| "(empty)".to_string())
                    ));
                }
            }
        }
    }
    println!(
        "serve start (preload stored, address printed; slowest run): {}",
        rows.iter()
            .map(|size| format!(
                "{} -> {:.2} s",
                grouped(size.customers),
                secs(size.serve_start)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for check in &checks {
        let without = secs(check.without.run.wall);
        let with = secs(check.with_proxy);
        println!(
            "proxy check, {} customers, this binary: wall {with:.2} s through the proxy, {without:.2} s straight to the server ({}; the proxy adds {:+.0} %)",
            grouped(check.customers),
            exit_text(check.without.run.ending),
            (with / without.max(1e-9) - 1.0) * 100.0
        );
    }
    println!("requests and bytes are counted by the proxy (bytes: everything the target sent, headers included); peak RSS is the `run` process's VmHWM; runs are stopped past {} or {}x their target wall time", child::human_bytes(whole_run::RSS_CAP_BYTES), production::TIME_CAP_FACTOR);
    for note in &notes {
        println!("note: {note}");
    }
    // The outputs of runs that did not pass stay for reading; the rest goes.
    let failing: Vec<&whole_run::Measured> = rows
        .iter()
        .flat_map(|size| size.row.current.iter().chain(&size.row.baseline))
        .chain(checks.iter().map(|check| &check.without))
        .filter(|measured| measured.run.ending != child::Ending::Exited(Some(0)))
        .collect();
    if failing.is_empty() {
        let _ = std::fs::remove_dir_all(&scratch);
        // Empty unless the whole-`run` rows kept something.
        if let Some(parent) = scratch.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    } else {
        println!(
            "outputs of the runs that did not pass: {}",
            failing
                .iter()
                .map(|measured| measured.run.stderr.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// 256 MiB, 64 KiB: a body size as written in the issue.
fn human_size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn property_options(cases: u32, concurrent_cases: u32) -> PropertyOptions {
    PropertyOptions {
        cases,
        concurrent_cases,
        seed: property::SeedChoice::Given(BENCH_SEED),
        repro_dir: std::env::temp_dir().join("ipdr-bench-repros"),
        ..PropertyOptions::default()
    }
}

/// `count` realistic customers (about 190 bytes each) in the harness's
/// context: those of `serve --preload-generated`.
fn customers(count: usize) -> Preload {
    Preload::generated(
        UsersFixture::builtin().harness().context,
        count as u64,
        reference::DEFAULT_GENERATED_SEED,
    )
}

/// Peak resident set size from /proc/self/status.
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .map(|value| value.trim().to_string())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_string())
}

/// What one suite run did.
#[derive(Debug)]
struct SuiteRun {
    wall: Duration,
    scenarios: Duration,
    properties: Duration,
    crud: Duration,
    concurrent: Duration,
    passed: usize,
    failed: usize,
    property_cases: usize,
    property_failures: usize,
    requests: Option<u64>,
}

fn start_reference(
    runtime: &tokio::runtime::Runtime,
    preload: Preload,
) -> anyhow::Result<RunningServer> {
    let config = ServerConfig::builtin().with_preload(preload);
    runtime
        .block_on(reference::start(config, ([127, 0, 0, 1], 0).into()))
        .context("starting the reference server")
}

fn harness_target(base_url: String) -> Target {
    Target::from_harness(
        UsersFixture::builtin().harness(),
        base_url,
        Duration::from_secs(30),
    )
}

/// Runs the suite in process, in `run`'s order:
/// every scenario (`threads` at once), then both property trials in parallel,
/// then the sweep; timed from the server's start. With `count`, through a counting proxy.
fn suite_against(
    runtime: &Arc<tokio::runtime::Runtime>,
    scenarios: &[LoadedScenario],
    preload: Preload,
    options: &PropertyOptions,
    threads: usize,
    count: bool,
) -> anyhow::Result<SuiteRun> {
    let large = preload.contexts().values().map(Vec::len).sum::<usize>() >= LARGE_TARGET;
    // The preload is built before the clock starts; storing it is timed.
    let started = Instant::now();
    let server = start_reference(runtime, preload)?;
    let proxy = if count {
        Some(runtime.block_on(proxy::start(server.addr(), Duration::ZERO))?)
    } else {
        None
    };
    let base_url = proxy
        .as_ref()
        .map_or_else(|| server.base_url(), |proxy| proxy.base_url());
    let client =
        Client::new(harness_target(base_url)).map_err(|error| anyhow::anyhow!("{error}"))?;
    let suite = Suite::new(client, scenarios.to_vec());
    let scenarios_started = Instant::now();
    // Verdicts only: the transcripts are dropped as soon as each scenario ends.
    let (total, failed) = if large {
        runtime.block_on(scenario_verdicts(&suite, threads))
    } else {
        runtime.block_on(async {
            let results = suite.run_all(threads).await;
            (
                results.len(),
                results.iter().filter(|result| result.failed()).count(),
            )
        })
    };
    let scenarios_elapsed = scenarios_started.elapsed();
    let properties_started = Instant::now();
    let reports = std::thread::scope(|scope| {
        let handles: Vec<_> = PropertyTrial::ALL
            .into_iter()
            .map(|trial| {
                let (handle, suite) = (runtime.handle(), &suite);
                scope.spawn(move || {
                    property::run_trial(
                        trial,
                        handle,
                        suite.client(),
                        suite.identity(),
                        options,
                        BENCH_SEED,
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join())
            .collect::<Vec<_>>()
    });
    let properties = properties_started.elapsed();
    let mut crud = Duration::ZERO;
    let mut concurrent = Duration::ZERO;
    let mut property_cases = 0;
    let mut property_failures = 0;
    for report in reports {
        let report = report.map_err(|_| anyhow::anyhow!("a property trial panicked"))?;
        property_cases += report.replays;
        property_failures += usize::from(report.failure.is_some());
        match report.trial {
            PropertyTrial::CrudSequences => crud = report.elapsed,
            PropertyTrial::ConcurrentLinearizable => concurrent = report.elapsed,
        }
    }
    runtime.block_on(suite.sweep_leftovers());
    let wall = started.elapsed();
    let requests = proxy.as_ref().map(|proxy| proxy.requests());
    drop(proxy);
    runtime.block_on(server.shutdown());
    Ok(SuiteRun {
        wall,
        scenarios: scenarios_elapsed,
        properties,
        crud,
        concurrent,
        passed: total - failed,
        failed,
        property_cases,
        property_failures,
        requests,
    })
}

/// [`Suite::run_all`]'s loop keeping only the verdicts, so that a large
/// target's transcripts do not pile up: (scenarios run, failed).
async fn scenario_verdicts(suite: &Arc<Suite>, parallelism: usize) -> (usize, usize) {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..suite.scenarios().len() {
        let (suite, semaphore) = (Arc::clone(suite), Arc::clone(&semaphore));
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let outcome = suite.run_one(index).await;
            matches!(
                outcome.verdict,
                crate::execution::scenario_run::Verdict::Failed(_)
                    | crate::execution::scenario_run::Verdict::Errored(_)
            )
        });
    }
    let (mut total, mut failed) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        total += 1;
        failed += usize::from(joined.unwrap_or(true));
    }
    (total, failed)
}

/// The prefix of the overhead row's own records.
const OVERHEAD_PREFIX: &str = "bench-oh-";

/// Median seconds per request through the harness client and through plain reqwest.
async fn overhead(sizes: &Sizes) -> anyhow::Result<(f64, f64)> {
    let config = ServerConfig::builtin();
    let server = reference::start(config, ([127, 0, 0, 1], 0).into()).await?;
    let target = harness_target(server.base_url());
    let client = Client::new(target.clone()).map_err(|error| anyhow::anyhow!("{error}"))?;
    let bare = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let auth = target.auth_body(&target.context);
    let create_body = |uid: &str| {
        serde_json::json!({
            "api_token": target.api_token.expose(),
            "username": target.username,
            "contextname": target.context,
            "UserID": uid,
            "Name": "Bench",
        })
        .to_string()
    };
    let collection = target.url(COLLECTION_PATH);
    let mut harness_times = Vec::new();
    let mut bare_times = Vec::new();
    // One warm-up round of each, not counted.
    for round in 0..=sizes.overhead_rounds {
        for harness_turn in if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        } {
            let started = Instant::now();
            for iteration in 0..sizes.overhead_iterations {
                let uid = format!("{OVERHEAD_PREFIX}{round}-{harness_turn}-{iteration}");
                let one = format!("{COLLECTION_PATH}/{uid}");
                if harness_turn {
                    client
                        .send("GET", COLLECTION_PATH, Some(auth.clone()))
                        .await
                        .response?;
                    // Changes go through the guard, as in a run: its cost is the harness's.
                    for (method, path, body) in [
                        ("POST", COLLECTION_PATH, create_body(&uid)),
                        ("DELETE", one.as_str(), auth.clone()),
                    ] {
                        let cleared =
                            clear_mutation(&target, method, path, Some(&body), OVERHEAD_PREFIX)?;
                        client.send_cleared(&cleared).await.response?;
                    }
                } else {
                    for (method, url, body) in [
                        (reqwest::Method::GET, collection.clone(), auth.clone()),
                        (reqwest::Method::POST, collection.clone(), create_body(&uid)),
                        (reqwest::Method::DELETE, target.url(&one), auth.clone()),
                    ] {
                        bare.request(method, url)
                            .header(reqwest::header::CONTENT_TYPE, "application/json")
                            .body(body)
                            .send()
                            .await?
                            .bytes()
                            .await?;
                    }
                }
            }
            let per_request =
                started.elapsed().as_secs_f64() / (3 * sizes.overhead_iterations) as f64;
            if round > 0 {
                if harness_turn {
                    harness_times.push(per_request)
                } else {
                    bare_times.push(per_request)
                }
            }
        }
    }
    server.shutdown().await;
    Ok((median(harness_times), median(bare_times)))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Requests per second on `endpoint` of the reference server and of the minimal one,
/// measured alternately (reference, minimal), each on a fresh server.
fn ceiling(
    runtime: &Arc<tokio::runtime::Runtime>,
    endpoint: Endpoint,
    generator: Generator,
    sizes: &Sizes,
) -> anyhow::Result<(f64, f64)> {
    let users = UsersFixture::builtin();
    let harness = users.harness();
    let auth = LoadAuth {
        api_token: harness.api_token.clone(),
        username: harness.username.clone(),
    };
    let preloaded: Vec<Customer> = (0..CEILING_PRELOAD)
        .map(|index| Customer {
            id: index as i64 + 1,
            name: format!("Preloaded {index}"),
            address: String::new(),
            email: String::new(),
            phone_number: String::new(),
            alt_phone_number: String::new(),
            user_id: format!("bench-pre-{index}"),
        })
        .collect();
    let mut preload = Preload::new();
    for customer in &preloaded {
        preload.add("default", customer.clone());
    }
    let measure = |base_url: &str, tag: &str| -> anyhow::Result<f64> {
        match generator {
            Generator::Wrk => load::run_wrk(
                base_url,
                endpoint,
                &auth,
                tag,
                sizes.load_connections,
                sizes.load_duration,
            ),
            Generator::Builtin => runtime.block_on(load::run_builtin(
                base_url,
                endpoint,
                &auth,
                tag,
                sizes.load_connections,
                sizes.load_duration,
            )),
        }
    };
    let server = start_reference(runtime, preload)?;
    let reference_rate = measure(&server.base_url(), "ref");
    runtime.block_on(server.shutdown());
    let minimal = runtime.block_on(minimal::start(
        &harness.api_token,
        &harness.username,
        preloaded,
    ))?;
    let minimal_rate = measure(&minimal.base_url(), "min");
    drop(minimal);
    Ok((reference_rate?, minimal_rate?))
}
