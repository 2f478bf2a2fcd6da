//! Whole `ipdr-conformance run` processes, measured from the outside: the
//! default suite against a target 20 ms away (a loopback latency proxy in
//! front of the embedded reference server), on loopback, and against a server
//! answering huge bodies; with `--baseline-bin`, an older binary measured the
//! same way, alternately with this one, so a noisy shared machine shifts both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::reference::{self, ServerConfig, UsersFixture};

use super::child::{self, ChildRun, Ending, Limits};
use super::{huge_body, proxy};

/// Resident memory past which a measured run is killed (the huge-body run before
/// issue 11 grows to about 19 GB).
pub const RSS_CAP_BYTES: u64 = 2_000_000_000;
/// Wall time past which a run of the suite is killed.
const SUITE_TIME_CAP: Duration = Duration::from_secs(600);

/// Which target a measured `run` talks to.
#[derive(Debug, Clone)]
pub enum Workload {
    /// No `--target`: `run` starts its own embedded server.
    Loopback,
    /// `--target` at this URL with the embedded server's harness credentials.
    Target {
        /// The target's base URL.
        url: String,
        /// Also write `--report-json`.
        report_json: bool,
    },
}

/// The binary measured and, optionally, the one it is compared with.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// This build (the running `bench`).
    pub current: PathBuf,
    /// An older build (`--baseline-bin`).
    pub baseline: Option<PathBuf>,
}

impl Binaries {
    /// The binaries in the order of round `round`: alternately this one and the baseline first.
    fn order(&self, round: usize) -> Vec<(Side, &Path)> {
        let mut order = vec![(Side::Current, self.current.as_path())];
        if let Some(baseline) = &self.baseline {
            order.push((Side::Baseline, baseline.as_path()));
            if round % 2 == 1 {
                order.reverse();
            }
        }
        order
    }
}

/// Which binary a measurement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This build.
    Current,
    /// The `--baseline-bin`.
    Baseline,
}

/// What the `run` processes are asked to do.
#[derive(Debug, Clone)]
pub struct RunShape {
    /// Property cases per trial (None: `run`'s defaults, the default suite).
    pub cases: Option<(u32, u32)>,
    /// Only the trials whose name holds this (libtest's filter; None: every trial).
    pub filter: Option<String>,
    /// Where runs keep their ledgers, reports and output.
    pub scratch: PathBuf,
}

/// One measured `run`, with the requests its target received when counted.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The process.
    pub run: ChildRun,
    /// Requests the proxy or server in front of it counted.
    pub requests: Option<u64>,
    /// Bytes the target sent back (headers included), when a proxy counted them.
    pub bytes: Option<u64>,
}

/// Every measurement of one row, per side.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// This build's runs.
    pub current: Vec<Measured>,
    /// The baseline's runs.
    pub baseline: Vec<Measured>,
}

impl Row {
    fn push(&mut self, side: Side, measured: Measured) {
        match side {
            Side::Current => self.current.push(measured),
            Side::Baseline => self.baseline.push(measured),
        }
    }

    /// The runs of `side`.
    pub fn side(&self, side: Side) -> &[Measured] {
        match side {
            Side::Current => &self.current,
            Side::Baseline => &self.baseline,
        }
    }
}

/// `binary` with no `IPDR_*` variable of this environment leaking in.
pub fn clean_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars_os() {
        // IPDR_JOBS passes through: `IPDR_JOBS=N bench` measures another --jobs.
        if name.to_string_lossy().starts_with("IPDR_") && name != "IPDR_JOBS" {
            command.env_remove(name);
        }
    }
    command
}

/// The `run` command for `workload`: stdin closed, no `IPDR_*` variable of this
/// environment leaking in, scratch files under `shape.scratch`.
fn command(binary: &Path, workload: &Workload, shape: &RunShape, tag: &str) -> Command {
    let mut command = clean_command(binary);
    command.arg("run");
    command
        .arg("--repro-dir")
        .arg(shape.scratch.join(format!("repros-{tag}")));
    if let Some((cases, concurrent)) = shape.cases {
        command
            .arg("--cases")
            .arg(cases.to_string())
            .arg("--concurrent-cases")
            .arg(concurrent.to_string());
    }
    if let Some(filter) = &shape.filter {
        command.arg(filter);
    }
    if let Workload::Target { url, report_json } = workload {
        let harness = UsersFixture::builtin().harness();
        command
            .arg("--target")
            .arg(url)
            .arg("--username")
            .arg(&harness.username)
            .arg("--context")
            .arg(&harness.context)
            .arg("--ledger-dir")
            .arg(shape.scratch.join(format!("ledger-{tag}")))
            // Tokens go by environment, never on the command line.
            .env("IPDR_API_TOKEN", &harness.api_token);
        if let Some(second) = &harness.second_context {
            command.arg("--second-context").arg(second);
        }
        if let Some(forbidden) = &harness.forbidden_context {
            command.arg("--forbidden-context").arg(forbidden);
        }
        if let Some(other) = &harness.other {
            command
                .arg("--other-username")
                .arg(&other.username)
                .arg("--other-context")
                .arg(&other.context)
                .env("IPDR_OTHER_API_TOKEN", &other.api_token);
        }
        if *report_json {
            command
                .arg("--report-json")
                .arg(shape.scratch.join(format!("report-{tag}.json")));
        }
    }
    command
}

/// Measures every binary `rounds` times, alternately first; `one` runs one
/// binary (its target set up and taken down around it) under a tag naming
/// its scratch files.
pub fn alternate(
    binaries: &Binaries,
    rounds: usize,
    name: &str,
    mut one: impl FnMut(&Path, &str) -> anyhow::Result<Measured>,
) -> anyhow::Result<Row> {
    let mut row = Row::default();
    for round in 0..rounds {
        for (side, binary) in binaries.order(round) {
            let tag = format!("{name}-{side:?}-{round}");
            row.push(side, one(binary, &tag)?);
        }
    }
    Ok(row)
}

/// Measures `run` on loopback (no `--target`), `runs` rounds.
pub fn loopback(binaries: &Binaries, shape: &RunShape, runs: usize) -> anyhow::Result<Row> {
    alternate(binaries, runs, "loopback", |binary, tag| {
        let run = measure(binary, &Workload::Loopback, shape, tag, SUITE_TIME_CAP)?;
        Ok(Measured {
            run,
            requests: None,
            bytes: None,
        })
    })
}

/// Measures `run --target` through a proxy adding `delay` to every answer, in front
/// of a fresh embedded reference server per run, `runs` rounds.
pub fn remote(
    runtime: &Arc<tokio::runtime::Runtime>,
    binaries: &Binaries,
    shape: &RunShape,
    runs: usize,
    delay: Duration,
) -> anyhow::Result<Row> {
    alternate(binaries, runs, "remote", |binary, tag| {
        let server = runtime
            .block_on(reference::start(
                ServerConfig::builtin(),
                ([127, 0, 0, 1], 0).into(),
            ))
            .context("starting the reference server")?;
        let measured = through_proxy(
            runtime,
            server.addr(),
            delay,
            binary,
            shape,
            tag,
            SUITE_TIME_CAP,
        );
        runtime.block_on(server.shutdown());
        measured
    })
}

/// Measures `run --target` (no report file) at `upstream` through a counting
/// proxy adding `delay` to every answer: the requests and the bytes the target sent.
pub fn through_proxy(
    runtime: &tokio::runtime::Runtime,
    upstream: SocketAddr,
    delay: Duration,
    binary: &Path,
    shape: &RunShape,
    tag: &str,
    time_cap: Duration,
) -> anyhow::Result<Measured> {
    let proxy = runtime.block_on(proxy::start(upstream, delay))?;
    let workload = Workload::Target {
        url: proxy.base_url(),
        report_json: false,
    };
    let run = measure(binary, &workload, shape, tag, time_cap)?;
    Ok(Measured {
        run,
        requests: Some(proxy.requests()),
        bytes: Some(proxy.bytes_from_target()),
    })
}

/// Measures `run --target --report-json` against a server answering `body_bytes` to
/// every request, once per binary, killed at [`RSS_CAP_BYTES`] or after `time_cap`.
pub fn huge_bodies(
    runtime: &Arc<tokio::runtime::Runtime>,
    binaries: &Binaries,
    shape: &RunShape,
    body_bytes: u64,
    time_cap: Duration,
) -> anyhow::Result<Row> {
    alternate(binaries, 1, "huge", |binary, tag| {
        let server = runtime.block_on(huge_body::start(body_bytes))?;
        let workload = Workload::Target {
            url: server.base_url(),
            report_json: true,
        };
        let run = measure(binary, &workload, shape, tag, time_cap)?;
        Ok(Measured {
            run,
            requests: Some(server.requests()),
            bytes: None,
        })
    })
}

/// Runs `binary` with `workload`, its output under `shape.scratch`, killed at
/// [`RSS_CAP_BYTES`] or after `time_cap`.
pub fn measure(
    binary: &Path,
    workload: &Workload,
    shape: &RunShape,
    tag: &str,
    time_cap: Duration,
) -> anyhow::Result<ChildRun> {
    let output = shape.scratch.join(format!("output-{tag}.txt"));
    Ok(child::measure(
        command(binary, workload, shape, tag),
        binary,
        &output,
        Limits {
            rss_cap: RSS_CAP_BYTES,
            time_cap,
        },
    )?)
}

/// The median wall time of `runs` (None when empty).
pub fn median_wall(runs: &[Measured]) -> Option<Duration> {
    median(runs.iter().map(|measured| measured.run.wall).collect())
}

/// The median peak RSS of `runs` (None when none was read).
pub fn median_peak(runs: &[Measured]) -> Option<u64> {
    median(
        runs.iter()
            .filter_map(|measured| measured.run.peak_rss)
            .collect(),
    )
}

/// The median request count of `runs`.
pub fn median_requests(runs: &[Measured]) -> Option<u64> {
    median(
        runs.iter()
            .filter_map(|measured| measured.requests)
            .collect(),
    )
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> Option<T> {
    values.sort();
    values.get(values.len() / 2).copied()
}

/// How a run that did not simply pass ended, for a note under the table (None: exit 0).
pub fn ending_note(measured: &Measured) -> Option<String> {
    let run = &measured.run;
    let requests = measured
        .requests
        .map(|count| format!(", {count} requests answered"))
        .unwrap_or_default();
    match run.ending {
        Ending::Exited(Some(0)) => None,
        Ending::Exited(Some(code)) => Some(format!(
            "exit {code} after {:.1} s{requests} (output: {}, stderr: {})",
            run.wall.as_secs_f64(),
            run.output.display(),
            run.stderr.display()
        )),
        Ending::Exited(None) => Some(format!(
            "killed by a signal after {:.1} s{requests} (output: {}, stderr: {})",
            run.wall.as_secs_f64(),
            run.output.display(),
            run.stderr.display()
        )),
        Ending::MemoryCap => Some(format!(
            "stopped at the {} memory cap after {:.1} s{requests}",
            child::human_bytes(RSS_CAP_BYTES),
            run.wall.as_secs_f64()
        )),
        Ending::TimeCap => Some(format!(
            "stopped at the {:.0} s time cap{requests}",
            run.wall.as_secs_f64()
        )),
    }
}

/// A peak as printed: `≥ ` when the watchdog stopped the run (it would have grown further).
pub fn peak_text(runs: &[Measured]) -> String {
    match median_peak(runs) {
        None if runs.is_empty() => "-".to_string(),
        None => "unknown".to_string(),
        Some(peak) => {
            let capped = runs.iter().any(|measured| measured.run.capped());
            format!(
                "{}{}",
                if capped { "≥ " } else { "" },
                child::human_bytes(peak)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_alternate_which_binary_goes_first() {
        let binaries = Binaries {
            current: PathBuf::from("new"),
            baseline: Some(PathBuf::from("old")),
        };
        let sides = |round| -> Vec<Side> {
            binaries
                .order(round)
                .into_iter()
                .map(|(side, _)| side)
                .collect()
        };
        assert_eq!(sides(0), [Side::Current, Side::Baseline]);
        assert_eq!(sides(1), [Side::Baseline, Side::Current]);
        let alone = Binaries {
            current: PathBuf::from("new"),
            baseline: None,
        };
        assert_eq!(alone.order(1).len(), 1);
    }

    #[test]
    fn the_command_carries_no_token_on_its_command_line() {
        let shape = RunShape {
            cases: None,
            filter: None,
            scratch: PathBuf::from("/tmp/x"),
        };
        let workload = Workload::Target {
            url: "http://127.0.0.1:1".to_string(),
            report_json: true,
        };
        let command = command(Path::new("ipdr-conformance"), &workload, &shape, "t");
        let harness = UsersFixture::builtin().harness();
        let args: Vec<String> = command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        assert!(args.iter().all(|arg| !arg.contains(&harness.api_token)));
        assert!(args.contains(&"--report-json".to_string()));
        assert!(command
            .get_envs()
            .any(|(name, value)| name == "IPDR_API_TOKEN"
                && value.is_some_and(|value| value == harness.api_token.as_str())));
    }
}
