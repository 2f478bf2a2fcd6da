//! `run`: its options, their conversion into a [`RunConfig`], and the
//! command itself: the runtime, Ctrl-C, the reporters and the exit code.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ipdr_conformance::execution::engine::{self, Interrupt, RunConfig, SetupError, TargetChoice};
use ipdr_conformance::execution::gate::{GateConfig, DEFAULT_JOBS};
use ipdr_conformance::execution::out_dir::OutDir;
use ipdr_conformance::execution::plan::Selection;
use ipdr_conformance::execution::property::{
    PropertyOptions, SeedChoice, DEFAULT_CASES, DEFAULT_CONCURRENT_CASES, DEFAULT_MAX_OPS,
};
use ipdr_conformance::execution::snapshot::{CompareOptions, SnapshotOptions, DEFAULT_PROFILE};
use ipdr_conformance::execution::target::ApiToken;
use ipdr_conformance::outcome::event::EventSink;
use ipdr_conformance::outcome::exit::{ExitStatus, EXIT_INTERRUPTED};
use ipdr_conformance::outcome::trial::{RunReport, TrialVerdict};
use ipdr_conformance::report::console::{render_list, ConsoleReporter, ReportFile, Verbosity};
use ipdr_conformance::report::exit_status::ExitStatusReporter;
use ipdr_conformance::report::html::HtmlReporter;
use ipdr_conformance::report::json::JsonReporter;
use ipdr_conformance::report::junit::JunitReporter;
use ipdr_conformance::report::markdown::MarkdownReporter;
use ipdr_conformance::report::progress::ProgressLine;
use ipdr_conformance::report::{self, Reporter};

use super::target::{token_source, TargetArgs};

/// Options of `run`: the target, the scenarios, selection, reports.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Load scenarios from this directory instead of the ones built into the binary.
    #[arg(
        long,
        env = "IPDR_SPECS",
        value_name = "DIR",
        help_heading = "Selection"
    )]
    pub specs: Option<PathBuf>,
    /// Property-based sequences.
    #[command(flatten)]
    pub property: PropertyArgs,
    /// Snapshot profiles and differential mode.
    #[command(flatten)]
    pub snapshots: SnapshotArgs,
    /// Reports and reruns.
    #[command(flatten)]
    pub reports: ReportArgs,
    /// Deep mode: also run the scenarios tagged `deep` (they cost many requests, e.g. a list past 1,000 records).
    #[arg(long, env = "IPDR_DEEP", value_parser = clap::builder::BoolishValueParser::new(), help_heading = "Selection")]
    pub deep: bool,
    /// Which trials, and how fast.
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// Selection as in `cargo test`, and the request gate.
#[derive(Debug, Clone, clap::Args)]
pub struct ScheduleArgs {
    /// Run only the trials whose name (or `[kind] name`) contains this.
    #[arg(value_name = "FILTER", help_heading = "Selection")]
    pub filter: Option<String>,
    /// The filter and --skip match whole names only.
    #[arg(long, help_heading = "Selection")]
    pub exact: bool,
    /// Leave out the trials matching this (repeatable).
    #[arg(long, value_name = "FILTER", help_heading = "Selection")]
    pub skip: Vec<String>,
    /// List the trials and exit.
    #[arg(long, help_heading = "Selection")]
    pub list: bool,
    /// Most requests in flight at once against the target (the request gate).
    #[arg(long, env = "IPDR_JOBS", default_value_t = DEFAULT_JOBS, value_name = "N", help_heading = "Target")]
    pub jobs: usize,
    /// Most requests started per second (for production servers); no limit without it.
    #[arg(long, env = "IPDR_MAX_RPS", value_name = "R", help_heading = "Target")]
    pub max_rps: Option<f64>,
}

/// Options of the property trials.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Properties")]
pub struct PropertyArgs {
    /// Generated sequences for property::crud_sequences.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CASES)]
    pub cases: u32,
    /// Longest generated sequence, in requests.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_OPS)]
    pub max_ops: usize,
    /// Generated concurrent histories for property::concurrent_linearizable.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENT_CASES)]
    pub concurrent_cases: u32,
    /// Seed of the generated sequences, printed on every run. Without --seed a fixed default,
    /// so two runs against one server give the same verdicts; `random` draws a fresh seed;
    /// a number replays the run that printed it.
    #[arg(
        long,
        value_name = "N|random",
        default_value = "default",
        hide_default_value = true
    )]
    pub seed: SeedChoice,
    /// Write the reproduction scenarios of failing properties here instead of <out-dir>/repros.
    #[arg(long, value_name = "DIR")]
    pub repro_dir: Option<PathBuf>,
}

impl PropertyArgs {
    /// The property options, repros going to `repro_dir`.
    fn options(&self, repro_dir: PathBuf) -> PropertyOptions {
        PropertyOptions {
            cases: self.cases,
            max_ops: self.max_ops,
            concurrent_cases: self.concurrent_cases,
            seed: self.seed,
            repro_dir,
            ..PropertyOptions::default()
        }
    }
}

/// Snapshot options of `run`.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Snapshots")]
pub struct SnapshotArgs {
    /// Check every step against this snapshot profile.
    #[arg(
        long = "snapshots",
        value_name = "PROFILE",
        default_value = DEFAULT_PROFILE,
        conflicts_with = "record"
    )]
    pub profile: String,
    /// Where profiles live [default: ./snapshots if it holds the profile, else the profiles built into the binary].
    #[arg(long, env = "IPDR_SNAPSHOTS_DIR", value_name = "DIR")]
    pub snapshots_dir: Option<PathBuf>,
    /// Record a profile from the current target (into ./snapshots or --snapshots-dir) instead of checking one.
    #[arg(long, value_name = "PROFILE")]
    pub record: Option<String>,
    /// With --record: replace an existing profile.
    #[arg(long, requires = "record")]
    pub force: bool,
    /// Fail on every difference from the profile (or the --compare-with target); without it, differences are only reported.
    #[arg(long)]
    pub strict: bool,
    /// Write a .snap.new beside each snapshot the target differs from, for review.
    #[arg(long, conflicts_with = "record")]
    pub write_pending: bool,
    /// Differential mode.
    #[command(flatten)]
    pub compare: CompareArgs,
}

/// `--compare-with`: a second target, run side by side with the first.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Snapshots")]
pub struct CompareArgs {
    /// Run every scenario against this target too and report each step whose normalized responses differ.
    #[arg(long, value_name = "URL", conflicts_with = "record")]
    pub compare_with: Option<String>,
    /// API token on the --compare-with target [default: the target's].
    #[arg(
        long,
        env = "IPDR_COMPARE_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub compare_api_token: Option<ApiToken>,
    /// Username on the --compare-with target [default: the target's].
    #[arg(long, value_name = "NAME")]
    pub compare_username: Option<String>,
    /// Context on the --compare-with target [default: the target's].
    #[arg(long, value_name = "NAME")]
    pub compare_context: Option<String>,
    /// Second context on the --compare-with target [default: the target's].
    #[arg(long, value_name = "NAME")]
    pub compare_second_context: Option<String>,
    /// Forbidden context on the --compare-with target [default: the target's].
    #[arg(long, value_name = "NAME")]
    pub compare_forbidden_context: Option<String>,
}

impl From<SnapshotArgs> for SnapshotOptions {
    fn from(args: SnapshotArgs) -> SnapshotOptions {
        SnapshotOptions {
            profile: args.profile,
            snapshots_dir: args.snapshots_dir,
            record: args.record,
            force: args.force,
            strict: args.strict,
            write_pending: args.write_pending,
            compare: CompareOptions {
                compare_with: args.compare.compare_with,
                compare_api_token: args.compare.compare_api_token,
                compare_username: args.compare.compare_username,
                compare_context: args.compare.compare_context,
                compare_second_context: args.compare.compare_second_context,
                compare_forbidden_context: args.compare.compare_forbidden_context,
            },
        }
    }
}

/// Where reports go, and which trials to rerun.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Reports")]
pub struct ReportArgs {
    /// Write JUnit XML (one testcase per trial, level and citation as properties).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write every trial with verdict, level, citation, timing and transcript (body excerpts) as JSON.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write one self-contained HTML page: the conformance matrix and every transcript.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Write a Markdown summary for a CI job summary or a pull-request comment.
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Run only the trials that failed or errored in this earlier --report-json file.
    #[arg(long, value_name = "FILE", help_heading = "Selection")]
    pub rerun_failed: Option<PathBuf>,
    /// Where the ledger and repros are kept.
    #[command(flatten)]
    pub out: super::OutDirArgs,
    /// Print only the failures and the summary.
    #[arg(short, long, conflicts_with = "verbose", help_heading = "Output")]
    pub quiet: bool,
    /// Also print every observed step and every difference from the snapshot profile.
    #[arg(short, long, help_heading = "Output")]
    pub verbose: bool,
}

impl ReportArgs {
    /// Fails early, before any trial, when a report file cannot be created;
    /// the files it had to create, which [`ReportArgs::remove_unwritten`] removes.
    fn check_paths(&self) -> Result<Vec<PathBuf>, SetupError> {
        let mut created = Vec::new();
        for path in self.paths() {
            if !path.exists() {
                created.push(path.clone());
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|error| {
                    SetupError::Configuration(format!(
                        "cannot write the report {}: {error}",
                        path.display()
                    ))
                })?;
        }
        Ok(created)
    }

    /// After a run that never started: removes the report files the check
    /// created and nothing wrote, so CI sees no report rather than an empty
    /// (and, for JUnit, unreadable) one.
    fn remove_unwritten(created: &[PathBuf]) {
        for path in created {
            if std::fs::metadata(path).is_ok_and(|meta| meta.len() == 0) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        [
            &self.junit,
            &self.report_json,
            &self.report_html,
            &self.summary_md,
        ]
        .into_iter()
        .flatten()
    }

    /// How much the console prints.
    fn verbosity(&self) -> Verbosity {
        if self.quiet {
            Verbosity::Quiet
        } else if self.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }

    /// Each report asked for, as the console's summary names it.
    fn files(&self) -> Vec<ReportFile> {
        [
            ("JUnit", &self.junit),
            ("JSON", &self.report_json),
            ("HTML", &self.report_html),
            ("Markdown", &self.summary_md),
        ]
        .into_iter()
        .filter_map(|(format, path)| {
            path.as_ref().map(|path| ReportFile {
                format: format.to_string(),
                path: path.clone(),
            })
        })
        .collect()
    }

    /// A reporter for each report asked for.
    fn reporters(&self) -> Vec<Box<dyn Reporter>> {
        let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
        if let Some(path) = &self.junit {
            reporters.push(Box::new(JunitReporter::new(path.clone())));
        }
        if let Some(path) = &self.report_json {
            reporters.push(Box::new(JsonReporter::new(path.clone())));
        }
        if let Some(path) = &self.report_html {
            reporters.push(Box::new(HtmlReporter::new(path.clone())));
        }
        if let Some(path) = &self.summary_md {
            reporters.push(Box::new(MarkdownReporter::new(path.clone())));
        }
        reporters
    }
}

/// The names of the trials that failed or errored in an earlier JSON report.
fn failed_in(path: &PathBuf) -> Result<BTreeSet<String>, SetupError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        SetupError::Configuration(format!("--rerun-failed {}: {error}", path.display()))
    })?;
    let report: RunReport = serde_json::from_str(&text).map_err(|error| {
        SetupError::Configuration(format!(
            "--rerun-failed {}: not a --report-json file: {error}",
            path.display()
        ))
    })?;
    Ok(report
        .trials
        .into_iter()
        .filter(|trial| {
            matches!(
                trial.verdict,
                TrialVerdict::Fail | TrialVerdict::Error { .. }
            )
        })
        .map(|trial| trial.name)
        .collect())
}

impl RunArgs {
    /// The typed configuration of this run.
    pub fn config(&self) -> Result<RunConfig, SetupError> {
        let target = match &self.target.target {
            Some(url) => TargetChoice::Remote(Box::new(self.target.target(url)?)),
            None => TargetChoice::Embedded,
        };
        let only = match &self.reports.rerun_failed {
            Some(path) => Some(failed_in(path)?),
            None => None,
        };
        let retries = self.target.retries()?;
        for (flag, value) in [
            ("--jobs", self.schedule.jobs),
            ("--cases", self.property.cases as usize),
            ("--max-ops", self.property.max_ops),
        ] {
            // Zero would run nothing and report the emptiness as a pass (or wait forever for a slot).
            if value == 0 {
                return Err(SetupError::Configuration(format!(
                    "{flag} must be at least 1"
                )));
            }
        }
        if let Some(rate) = self.schedule.max_rps {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(SetupError::Configuration(format!(
                    "--max-rps {rate} must be a positive number of requests per second"
                )));
            }
        }
        Ok(RunConfig {
            target,
            timeout: self.target.timeout()?,
            retries,
            specs: self.specs.clone(),
            deep: self.deep,
            property: self.property.options(self.out_dir().repros),
            snapshots: self.snapshots()?,
            selection: Selection {
                filter: self.schedule.filter.clone(),
                exact: self.schedule.exact,
                skip: self.schedule.skip.clone(),
                only,
            },
            ledger_dir: self.out_dir().ledger,
            gate: GateConfig {
                jobs: self.schedule.jobs,
                max_rps: self.schedule.max_rps,
                ..GateConfig::default()
            },
            heartbeat: false,
        })
    }
}

impl RunArgs {
    /// Where this run's ledger and repros go.
    pub fn out_dir(&self) -> OutDir {
        self.reports.out.dirs(self.property.repro_dir.as_deref())
    }

    /// The snapshot options, with the `--compare-with` token cleaned like the target's.
    fn snapshots(&self) -> Result<SnapshotOptions, SetupError> {
        let mut options: SnapshotOptions = self.snapshots.clone().into();
        if let Some(token) = &options.compare.compare_api_token {
            let source = token_source(token, "IPDR_COMPARE_API_TOKEN", "--compare-api-token");
            let token = ApiToken::from_source(token.expose(), &source)
                .map_err(|error| SetupError::Configuration(error.to_string()))?;
            options.compare.compare_api_token = Some(token);
        }
        Ok(options)
    }
}

/// `run`: the suite against the target, every requested report, and the exit code.
pub fn run(args: RunArgs) -> ExitCode {
    let setup_failed = |error: SetupError| {
        eprintln!("error: {error}");
        ExitCode::from(ExitStatus::Setup.code())
    };
    let mut config = match args.config() {
        Ok(config) => config,
        Err(error) => return setup_failed(error),
    };
    if args.schedule.list {
        return match engine::plan_only(&config) {
            Ok(plan) => print_list(&render_list(&plan.planned())),
            Err(error) => setup_failed(error),
        };
    }
    let created_reports = match args.reports.check_paths() {
        Ok(created) => created,
        Err(error) => return setup_failed(error),
    };
    if args.target.target.is_none() && args.target.has_credentials() {
        eprintln!("note: no --target given, so the credentials given are ignored and the embedded reference server is used");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return setup_failed(SetupError::Configuration(format!(
                "starting the async runtime: {error}"
            )))
        }
    };
    let progress = std::io::stderr().is_terminal().then(ProgressLine::new);
    config.heartbeat = progress.is_some();
    let exit_status = ExitStatusReporter::new();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![
        Box::new(
            ConsoleReporter::new(std::io::stdout().is_terminal(), args.reports.verbosity())
                .with_reports(args.reports.files()),
        ),
        Box::new(exit_status.clone()),
    ];
    reporters.extend(args.reports.reporters());
    let (sink, events) = EventSink::channel();
    let reporting = std::thread::spawn(move || report::drive(events, reporters, progress));
    let interrupt = Interrupt::new();
    let ledger_note = match &config.target {
        TargetChoice::Remote(target) => format!(
            "the cleanup ledger in {} lists what this run created: `ipdr-conformance sweep --target {}` finishes the job",
            args.out_dir().ledger.display(),
            target.base_url
        ),
        TargetChoice::Embedded => {
            "the embedded reference server stops with the run, so nothing of it is left".to_string()
        }
    };
    let result = runtime.block_on(async {
        tokio::spawn(watch_signals(Arc::clone(&interrupt), ledger_note));
        engine::run(config, sink, interrupt).await
    });
    // Ends every task still holding the event sink, so that the reporters see the stream end.
    drop(runtime);
    // A run that kept nothing leaves no directory behind.
    args.out_dir().remove_empty();
    let report_failures = reporting.join().unwrap_or_default();
    for failure in &report_failures {
        eprintln!("error: {failure}");
    }
    let status = match result {
        Err(SetupError::Interrupted) => {
            eprintln!("error: {}", SetupError::Interrupted);
            ExitStatus::Interrupted
        }
        Err(error) => {
            ReportArgs::remove_unwritten(&created_reports);
            return setup_failed(error);
        }
        Ok(end) => {
            let mut status = exit_status.status();
            if end.interrupted {
                status = status.and(ExitStatus::Interrupted);
            }
            status
        }
    };
    let report_status = if report_failures.is_empty() {
        ExitStatus::Pass
    } else {
        ExitStatus::HarnessError
    };
    ExitCode::from(status.and(report_status).code())
}

/// Prints the `--list` output alone. A reader that stops early (`| head`)
/// closes the pipe: that ends the list quietly, as it does for `ls`.
fn print_list(list: &str) -> ExitCode {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(list.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: writing the list: {error}");
            ExitCode::from(ExitStatus::HarnessError.code())
        }
    }
}

/// Ctrl-C or SIGTERM: the first asks the run to stop; the second exits at once.
async fn watch_signals(interrupt: Arc<Interrupt>, ledger_note: String) {
    #[cfg(unix)]
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut signals = 0;
    loop {
        #[cfg(unix)]
        let received = match terminate.as_mut() {
            Some(terminate) => tokio::select! {
                result = tokio::signal::ctrl_c() => result.is_ok(),
                received = terminate.recv() => received.is_some(),
            },
            None => tokio::signal::ctrl_c().await.is_ok(),
        };
        #[cfg(not(unix))]
        let received = tokio::signal::ctrl_c().await.is_ok();
        if !received {
            return;
        }
        signals += 1;
        if signals == 1 {
            interrupt.request();
        } else {
            let clear = if std::io::stderr().is_terminal() {
                "\r\x1b[2K"
            } else {
                ""
            };
            eprintln!("{clear}interrupted again: exiting at once; {ledger_note}");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }
}
