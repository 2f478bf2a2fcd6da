//! `sweep`: deletes the records that killed runs left on the target, as
//! their ledgers list them; touches only UserIDs with their run's prefix.

use std::process::ExitCode;

use ipdr_conformance::execution::client::Client;
use ipdr_conformance::execution::engine::{preflight_credentials, SetupError};
use ipdr_conformance::execution::ledger_file;

use super::OutDirArgs;
use ipdr_conformance::outcome::exit::ExitStatus;

use super::target::TargetArgs;

/// What `sweep`'s exit codes mean, for `--help`.
pub const EXIT_CODES: &str = "Exit codes:\n    0  every record the ledgers list is gone (or, with --dry-run, was listed)\n    2  bad configuration, or the target unusable: nothing was deleted\n    3  some records could not be deleted or confirmed gone: their ledgers are kept\n";

/// Options of `sweep`. The contexts a run checked against do not apply: the
/// ledger names the context of every record.
#[derive(Debug, clap::Args)]
#[command(mut_arg("second_context", |arg| arg.hide(true)))]
#[command(mut_arg("forbidden_context", |arg| arg.hide(true)))]
#[command(mut_arg("target", |arg| arg.help("Base URL of the server whose leftovers to delete (required: sweep never starts the embedded server)")))]
pub struct SweepArgs {
    /// The target whose leftovers to delete.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where run ledgers are kept.
    #[command(flatten)]
    pub out: OutDirArgs,
    /// Say what would be deleted, delete nothing.
    #[arg(long, help_heading = "Sweep")]
    pub dry_run: bool,
}

/// Runs `sweep`: exit 0 when every listed record is gone, 3 when some could not be deleted, 2 on setup.
pub fn sweep(args: SweepArgs) -> ExitCode {
    let result = (|| -> Result<bool, SetupError> {
        let url = args.target.target.clone().ok_or_else(|| {
            SetupError::Configuration("sweep needs --target (IPDR_TARGET)".to_string())
        })?;
        let retries = args.target.retries()?;
        let target = args.target.target(&url)?;
        let client = Client::new(target)
            .map_err(|error| SetupError::Configuration(error.to_string()))?
            .with_retries(retries);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| {
                SetupError::Configuration(format!("starting the async runtime: {error}"))
            })?;
        runtime.block_on(preflight_credentials(&client))?;
        let report = runtime
            .block_on(ledger_file::sweep(
                &client,
                &args.out.dirs(None).ledger,
                args.dry_run,
            ))
            .map_err(|error| SetupError::Configuration(error.to_string()))?;
        // Retired ledgers may leave the out dir empty: it goes too.
        args.out.dirs(None).remove_empty();
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        for (path, pid) in &report.locked {
            println!(
                "skipped {}: in use by a live run (pid {pid}); sweep again once it has ended",
                path.display()
            );
        }
        let verb = if args.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for (context, uid) in &report.deleted {
            println!("{verb} {uid} in context {context}");
        }
        for (context, uid) in &report.already_gone {
            println!("already gone: {uid} in context {context}");
        }
        for (context, uid, why) in &report.failed {
            println!("could not delete {uid} in context {context}: {why}");
        }
        if report.other_targets > 0 {
            println!(
                "left alone: {} ledger entries of other targets",
                report.other_targets
            );
        }
        println!(
            "sweep: {} {verb}, {} already gone, {} failed, {} ledger file(s) retired",
            report.deleted.len(),
            report.already_gone.len(),
            report.failed.len(),
            report.retired_files.len()
        );
        Ok(report.failed.is_empty())
    })();
    let status = match result {
        Ok(true) => ExitStatus::Pass,
        Ok(false) => ExitStatus::HarnessError,
        Err(error) => {
            eprintln!("error: {error}");
            ExitStatus::Setup
        }
    };
    ExitCode::from(status.code())
}
