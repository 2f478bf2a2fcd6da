//! One `ipdr-conformance` process, measured from the outside: wall time from
//! spawn to exit, and peak resident memory (`VmHWM` of `/proc/<pid>/status`,
//! polled every [`POLL`] until the process exits), with a watchdog that kills
//! it past a memory cap or a time cap, so a runaway run cannot exhaust the machine.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often the child's memory is read. Growth in the last interval before
/// it exits is missed; a run's peak comes well before its exit.
pub const POLL: Duration = Duration::from_millis(5);

/// What a measured process may use before it is killed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Resident memory (bytes) past which the process is killed.
    pub rss_cap: u64,
    /// Wall time past which the process is killed.
    pub time_cap: Duration,
}

/// Why a measured process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this code (None: killed by a signal not ours).
    Exited(Option<i32>),
    /// The watchdog killed it at the memory cap.
    MemoryCap,
    /// The watchdog killed it at the time cap.
    TimeCap,
}

/// One measured process.
#[derive(Debug, Clone)]
pub struct ChildRun {
    /// Spawn to exit (or to the kill).
    pub wall: Duration,
    /// Highest `VmHWM` read, in bytes (None: never read, e.g. no /proc).
    pub peak_rss: Option<u64>,
    /// How it ended.
    pub ending: Ending,
    /// Where its stdout went.
    pub output: PathBuf,
    /// Where its stderr went (next to `output`, see [`stderr_path`]).
    pub stderr: PathBuf,
}

impl ChildRun {
    /// Whether the watchdog stopped it.
    pub fn capped(&self) -> bool {
        !matches!(self.ending, Ending::Exited(_))
    }

    /// The first line the process wrote to stderr (None: nothing, or unreadable).
    pub fn first_stderr_line(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.stderr).ok()?;
        text.lines()
            .find(|line| !line.trim().is_empty())
            .map(str::to_string)
    }
}

/// Where a measured process's stderr goes: `output-x.txt` -> `output-x.stderr.txt`.
pub fn stderr_path(output: &Path) -> PathBuf {
    output.with_extension("stderr.txt")
}

/// Why a process could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    /// The output file could not be created.
    #[error("creating {path}: {source}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The binary did not start.
    #[error("starting {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for it failed.
    #[error("waiting for {binary}: {source}")]
    Wait {
        /// The binary.
        binary: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs `command` (stdin closed, stdout to `output`, stderr to [`stderr_path`]) until it exits or
/// the watchdog stops it, polling its memory.
pub fn measure(
    mut command: Command,
    binary: &Path,
    output: &Path,
    limits: Limits,
) -> Result<ChildRun, ChildError> {
    let file = |path: &Path| {
        File::create(path).map_err(|source| ChildError::Output {
            path: path.to_path_buf(),
            source,
        })
    };
    let stdout = file(output)?;
    let stderr_output = stderr_path(output);
    let stderr = file(&stderr_output)?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| ChildError::Spawn {
        binary: binary.to_path_buf(),
        source,
    })?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_rss = None;
    let wait_error = |source| ChildError::Wait {
        binary: binary.to_path_buf(),
        source,
    };
    let ending = loop {
        if let Some((hwm, rss)) = memory(&status_path) {
            peak_rss = Some(peak_rss.map_or(hwm, |peak: u64| peak.max(hwm)));
            if rss > limits.rss_cap {
                stop(&mut child).map_err(wait_error)?;
                break Ending::MemoryCap;
            }
        }
        if let Some(status) = child.try_wait().map_err(wait_error)? {
            break Ending::Exited(status.code());
        }
        if started.elapsed() > limits.time_cap {
            stop(&mut child).map_err(wait_error)?;
            break Ending::TimeCap;
        }
        std::thread::sleep(POLL);
    };
    Ok(ChildRun {
        wall: started.elapsed(),
        peak_rss,
        ending,
        output: output.to_path_buf(),
        stderr: stderr_output,
    })
}

fn stop(child: &mut std::process::Child) -> std::io::Result<()> {
    // Already gone is fine: it ended between the poll and the kill.
    let _ = child.kill();
    child.wait().map(|_| ())
}

/// (`VmHWM`, `VmRSS`) in bytes, from a `/proc/<pid>/status` (None once the process is gone).
fn memory(status_path: &str) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(status_path).ok()?;
    Some((field_kib(&status, "VmHWM:")?, field_kib(&status, "VmRSS:")?))
}

/// A `/proc/<pid>/status` field given in kB, in bytes.
pub fn field_kib(status: &str, name: &str) -> Option<u64> {
    let value = status.lines().find_map(|line| line.strip_prefix(name))?;
    let kib: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Bytes as MB or GB (decimal, as the targets are written).
pub fn human_bytes(bytes: u64) -> String {
    let bytes = bytes as f64;
    if bytes >= 1e9 {
        format!("{:.2} GB", bytes / 1e9)
    } else {
        format!("{:.1} MB", bytes / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_bytes() {
        let status = "Name:\tx\nVmHWM:\t   24320 kB\nVmRSS:\t   1000 kB\n";
        assert_eq!(field_kib(status, "VmHWM:"), Some(24320 * 1024));
        assert_eq!(field_kib(status, "VmRSS:"), Some(1000 * 1024));
        assert_eq!(field_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn bytes_read_as_mb_or_gb() {
        assert_eq!(human_bytes(23_700_000), "23.7 MB");
        assert_eq!(human_bytes(2_160_000_000), "2.16 GB");
    }

    #[test]
    fn a_process_past_its_time_cap_is_stopped() {
        let output = std::env::temp_dir().join(format!("ipdr-bench-child-{}", std::process::id()));
        let mut command = Command::new("sleep");
        command.arg("5");
        let run = measure(
            command,
            Path::new("sleep"),
            &output,
            Limits {
                rss_cap: u64::MAX,
                time_cap: Duration::from_millis(100),
            },
        )
        .expect("sleep runs");
        let _ = std::fs::remove_file(&output);
        let _ = std::fs::remove_file(stderr_path(&output));
        assert_eq!(run.ending, Ending::TimeCap);
        assert!(run.wall < Duration::from_secs(4), "{:?}", run.wall);
    }
}
