//! The production-size rows (issue 14): the default suite as a whole `run`
//! process against the reference server preloaded with realistic customers
//! (`serve --preload-generated N`, about 190 bytes each), the server itself a
//! separate process so that the peak RSS read is the harness's alone. A
//! counting proxy (no added delay) between them counts the requests and the
//! bytes the target sent. Each row is held against the issue's targets.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::outcome::exit::ExitStatus;

use super::child::Ending;
use super::whole_run::{self, Binaries, Measured, Row, RunShape, Workload};

/// How long `serve` may take to print its address (1,000,000 customers take
/// about 3 s in a release build; a debug build is several times slower).
pub const SERVE_START_TIMEOUT: Duration = Duration::from_secs(120);
/// A run is stopped at this many times its target wall time: a clear miss,
/// and the bench stays bounded.
pub const TIME_CAP_FACTOR: u32 = 5;
/// Wall time past which a run without a time target is stopped.
const UNTARGETED_TIME_CAP: Duration = Duration::from_secs(600);
/// How much slower than the baseline the empty target may be before it
/// counts as slower: the spread of one round on this shared machine.
pub const EMPTY_TOLERANCE: f64 = 1.10;

/// What the issue asks of the default suite against a target of this size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// No target at this size (the smaller sizes of --quick and --smoke).
    None,
    /// An empty target: no slower than the baseline binary.
    NoSlowerThanBaseline,
    /// Passes within this wall time and this peak RSS (bytes).
    Within {
        /// Wall time.
        wall: Duration,
        /// Peak resident memory of the harness, in bytes.
        peak_rss: u64,
    },
}

impl Goal {
    /// The issue's target for `customers` preloaded ones.
    pub fn for_size(customers: u64) -> Goal {
        match customers {
            0 => Goal::NoSlowerThanBaseline,
            100_000 => Goal::Within {
                wall: Duration::from_secs(10),
                peak_rss: 150_000_000,
            },
            1_000_000 => Goal::Within {
                wall: Duration::from_secs(60),
                peak_rss: 300_000_000,
            },
            _ => Goal::None,
        }
    }

    /// The target as printed.
    pub fn text(self) -> String {
        match self {
            Goal::None => "-".to_string(),
            Goal::NoSlowerThanBaseline => "no slower than baseline".to_string(),
            Goal::Within { wall, peak_rss } => format!(
                "pass, <= {} s, <= {} MB",
                wall.as_secs(),
                peak_rss / 1_000_000
            ),
        }
    }

    /// How long one run may take before it is stopped.
    fn time_cap(self) -> Duration {
        match self {
            Goal::Within { wall, .. } => wall * TIME_CAP_FACTOR,
            Goal::None | Goal::NoSlowerThanBaseline => UNTARGETED_TIME_CAP,
        }
    }

    /// PASS or MISS (with why) for `run`; for the empty target, against the
    /// baseline's median wall time (None: nothing to compare with, "-").
    pub fn judge(self, run: &Measured, baseline_wall: Option<Duration>) -> String {
        let passed = run.run.ending == Ending::Exited(Some(0));
        let mut misses = Vec::new();
        if !passed {
            misses.push(match run.run.ending {
                Ending::Exited(Some(code)) => format!("exit {code}"),
                Ending::Exited(None) => "killed".to_string(),
                Ending::MemoryCap => "memory cap".to_string(),
                Ending::TimeCap => "time cap".to_string(),
            });
        }
        match self {
            Goal::None => return "-".to_string(),
            Goal::NoSlowerThanBaseline => match baseline_wall {
                None => return "- (no --baseline-bin)".to_string(),
                Some(baseline) => {
                    if run.run.wall.as_secs_f64() > baseline.as_secs_f64() * EMPTY_TOLERANCE {
                        misses.push("slower".to_string());
                    }
                }
            },
            Goal::Within { wall, peak_rss } => {
                if run.run.wall > wall {
                    misses.push("wall".to_string());
                }
                if run.run.peak_rss.is_none_or(|peak| peak > peak_rss) {
                    misses.push("RSS".to_string());
                }
            }
        }
        if misses.is_empty() {
            "PASS".to_string()
        } else {
            format!("MISS ({})", misses.join(", "))
        }
    }
}

/// A reference server in its own process (`serve --port 0`), killed and
/// reaped when dropped, on every path out of the bench.
pub struct ServeProcess {
    child: Child,
    addr: SocketAddr,
    /// Spawn to the address printed: storing the preload, mostly.
    pub ready_after: Duration,
}

impl ServeProcess {
    /// Starts `binary serve --port 0 --preload-generated customers` and waits
    /// (at most `timeout`) for the address it prints on stdout; its stderr goes to `stderr`.
    pub fn start(
        binary: &Path,
        customers: u64,
        stderr: &Path,
        timeout: Duration,
    ) -> anyhow::Result<ServeProcess> {
        let stderr_file = std::fs::File::create(stderr)
            .with_context(|| format!("creating {}", stderr.display()))?;
        let mut command = whole_run::clean_command(binary);
        command
            .args(["serve", "--port", "0", "--preload-generated"])
            .arg(customers.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file));
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {} serve", binary.display()))?;
        let stdout = child.stdout.take().context("serve's stdout")?;
        // From here on the guard kills the child whatever happens.
        let mut guard = ServeProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ready_after: Duration::ZERO,
        };
        let (lines, first) = mpsc::channel();
        // Reads every line until the process ends, so its stdout never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let deadline = started + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match first.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = listening_addr(&line) {
                        guard.addr = addr;
                        guard.ready_after = started.elapsed();
                        return Ok(guard);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => anyhow::bail!(
                    "{} serve --preload-generated {customers} printed no address within {} s (stderr: {})",
                    binary.display(),
                    timeout.as_secs(),
                    stderr.display()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => anyhow::bail!(
                    "{} serve --preload-generated {customers} ended before it printed an address: {}",
                    binary.display(),
                    std::fs::read_to_string(stderr).unwrap_or_default().trim()
                ),
            }
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // Already gone is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in `reference server listening on http://127.0.0.1:PORT`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let url = line.strip_prefix("reference server listening on ")?;
    url.trim().strip_prefix("http://")?.parse().ok()
}

/// The runs of one size.
#[derive(Debug)]
pub struct SizeRow {
    /// Customers preloaded.
    pub customers: u64,
    /// The issue's target.
    pub goal: Goal,
    /// Every run, per side.
    pub row: Row,
    /// How long the server took to start, per run (the longest).
    pub serve_start: Duration,
}

/// The proxy check: the same run with and without the counting proxy.
#[derive(Debug)]
pub struct ProxyCheck {
    /// Customers preloaded.
    pub customers: u64,
    /// Through the proxy (the row's own run).
    pub with_proxy: Duration,
    /// Straight to the server.
    pub without: Measured,
}

/// Measures every size in `sizes` (`rounds` rounds, each binary alternately
/// first, a fresh server per run), then the `check_sizes` rows once more with
/// this binary, without the proxy.
pub fn measure(
    runtime: &tokio::runtime::Runtime,
    binaries: &Binaries,
    shape: &RunShape,
    sizes: &[u64],
    rounds: usize,
    check_sizes: &[u64],
) -> anyhow::Result<(Vec<SizeRow>, Vec<ProxyCheck>)> {
    let server_binary = binaries.current.clone();
    let serve = |customers: u64, tag: &str| {
        ServeProcess::start(
            &server_binary,
            customers,
            &shape.scratch.join(format!("serve-{tag}.stderr.txt")),
            SERVE_START_TIMEOUT,
        )
    };
    let mut rows = Vec::new();
    for &customers in sizes {
        let goal = Goal::for_size(customers);
        let mut serve_start = Duration::ZERO;
        let row = whole_run::alternate(
            binaries,
            rounds,
            &format!("production-{customers}"),
            |binary, tag| {
                let server = serve(customers, tag)?;
                serve_start = serve_start.max(server.ready_after);
                whole_run::through_proxy(
                    runtime,
                    server.addr(),
                    Duration::ZERO,
                    binary,
                    shape,
                    tag,
                    goal.time_cap(),
                )
            },
        )?;
        rows.push(SizeRow {
            customers,
            goal,
            row,
            serve_start,
        });
    }
    let mut checks = Vec::new();
    for &customers in check_sizes {
        let tag = format!("production-{customers}-no-proxy");
        let server = serve(customers, &tag)?;
        let workload = Workload::Target {
            url: format!("http://{}", server.addr()),
            report_json: false,
        };
        let run = whole_run::measure(
            &binaries.current,
            &workload,
            shape,
            &tag,
            Goal::for_size(customers).time_cap(),
        )?;
        drop(server);
        let with_proxy = rows
            .iter()
            .find(|row| row.customers == customers)
            .and_then(|row| whole_run::median_wall(&row.row.current))
            .unwrap_or_default();
        checks.push(ProxyCheck {
            customers,
            with_proxy,
            without: Measured {
                run,
                requests: None,
                bytes: None,
            },
        });
    }
    Ok((rows, checks))
}

/// `run`'s exit code as printed: `0 pass`, `2 setup error`.
pub fn exit_text(ending: Ending) -> String {
    match ending {
        Ending::Exited(Some(code)) => {
            let word = [
                ExitStatus::Pass,
                ExitStatus::ContractFailure,
                ExitStatus::Setup,
                ExitStatus::HarnessError,
                ExitStatus::Interrupted,
            ]
            .into_iter()
            .find(|status| i32::from(status.code()) == code)
            .map_or("unknown", ExitStatus::word);
            format!("{code} {word}")
        }
        Ending::Exited(None) => "signal".to_string(),
        Ending::MemoryCap => "memory cap".to_string(),
        Ending::TimeCap => "time cap".to_string(),
    }
}

/// 1,000,000: a count as the issue writes it.
pub fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::child::ChildRun;
    use std::path::PathBuf;

    fn measured(ending: Ending, wall_s: u64, peak_mb: u64) -> Measured {
        Measured {
            run: ChildRun {
                wall: Duration::from_secs(wall_s),
                peak_rss: Some(peak_mb * 1_000_000),
                ending,
                output: PathBuf::from("out.txt"),
                stderr: PathBuf::from("out.stderr.txt"),
            },
            requests: Some(1),
            bytes: Some(1),
        }
    }

    #[test]
    fn rows_are_held_against_the_issues_targets() {
        let goal = Goal::for_size(100_000);
        assert_eq!(goal.text(), "pass, <= 10 s, <= 150 MB");
        assert_eq!(
            goal.judge(&measured(Ending::Exited(Some(0)), 9, 140), None),
            "PASS"
        );
        assert_eq!(
            goal.judge(&measured(Ending::Exited(Some(2)), 1, 35), None),
            "MISS (exit 2)"
        );
        assert_eq!(
            Goal::for_size(1_000_000).judge(&measured(Ending::Exited(Some(0)), 61, 400), None),
            "MISS (wall, RSS)"
        );
        let empty = Goal::for_size(0);
        let fast = measured(Ending::Exited(Some(0)), 1, 30);
        assert_eq!(empty.judge(&fast, None), "- (no --baseline-bin)");
        assert_eq!(empty.judge(&fast, Some(Duration::from_secs(1))), "PASS");
        assert_eq!(
            empty.judge(
                &measured(Ending::Exited(Some(0)), 2, 30),
                Some(Duration::from_secs(1))
            ),
            "MISS (slower)"
        );
        assert_eq!(Goal::for_size(1_000).judge(&fast, None), "-");
    }

    #[test]
    fn the_address_is_read_from_serves_line() {
        assert_eq!(
            listening_addr("reference server listening on http://127.0.0.1:37013"),
            Some(SocketAddr::from(([127, 0, 0, 1], 37013)))
        );
        assert_eq!(listening_addr("something else"), None);
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }

    #[test]
    fn exit_codes_are_named() {
        assert_eq!(exit_text(Ending::Exited(Some(2))), "2 setup error");
        assert_eq!(exit_text(Ending::Exited(Some(0))), "0 pass");
        assert_eq!(exit_text(Ending::TimeCap), "time cap");
    }
}
