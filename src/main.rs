//! The `ipdr-conformance` command line: the binary edge, where errors become
//! exit codes and one-line messages.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use ipdr_conformance::execution::runner::{self, RunOptions};
use ipdr_conformance::execution::snapshot::{self, profile};
use ipdr_conformance::reference::{self, Deviation, Flavour, ServerConfig, UsersFixture};
use ipdr_conformance::report::{markdown, snapshot_diff};
use ipdr_conformance::spec::{load, schema};

/// Conformance harness for the Trisul IPDR Customer Management API.
#[derive(Parser)]
#[command(name = "ipdr-conformance", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conformance suite against a target (default: the embedded reference server).
    Run(Box<RunOptions>),
    /// Delete the records that killed runs left on the target (from the cleanup ledger).
    Sweep(Box<runner::SweepOptions>),
    /// Serve the embedded reference server.
    Serve(ServeArgs),
    /// Write JSON Schema and OpenAPI documents generated from the contract types.
    Schema {
        /// Directory to write into (created if missing).
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
    /// Prove the suite: against every deviation, every conformant flavour, and every mutation operator.
    Selfcheck(Box<SelfcheckArgs>),
    /// Print the scenario catalogue as a Markdown table (the README's contract table).
    Scenarios {
        /// Load scenarios from this directory instead of the built-in ones.
        #[arg(long, value_name = "DIR")]
        specs: Option<PathBuf>,
    },
    /// Review a profile's pending changes (the .snap.new files `run --write-pending` writes).
    Snapshots {
        #[command(subcommand)]
        action: SnapshotsAction,
    },
    /// Measure the harness and the embedded reference server, and print the figures.
    Bench(ipdr_conformance::bench::BenchOptions),
}

/// What to do with a profile's pending changes.
#[derive(Subcommand)]
enum SnapshotsAction {
    /// Print each pending change with its differences from the committed snapshot.
    Pending(ProfileArgs),
    /// Replace each snapshot by its pending change.
    Accept(ProfileArgs),
    /// Delete every pending change.
    Reject(ProfileArgs),
}

/// Which profile, where.
#[derive(clap::Args)]
struct ProfileArgs {
    /// The profile.
    #[arg(default_value = snapshot::DEFAULT_PROFILE)]
    profile: String,
    /// Where profiles live.
    #[arg(long, env = "IPDR_SNAPSHOTS_DIR", value_name = "DIR", default_value = snapshot::DEFAULT_DIR)]
    snapshots_dir: PathBuf,
}

/// Options of `selfcheck`.
#[derive(clap::Args)]
struct SelfcheckArgs {
    /// Load scenarios from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    specs: Option<PathBuf>,
    /// The server to run the operator table in front of (default: the embedded reference server).
    #[command(flatten)]
    target: runner::TargetOptions,
    /// Only the operator table: skip the deviation and flavour matrices.
    #[arg(long)]
    operators_only: bool,
    /// Print every mutant, killed ones with the trials that killed them.
    #[arg(long)]
    every_mutant: bool,
    /// Mutants run at once (each runs its trials one at a time).
    #[arg(long, default_value_t = 2, value_name = "N")]
    parallel_mutants: usize,
    /// Without --target: which conformant flavour of the embedded server the operator table runs in front of.
    #[arg(long, value_enum, default_value_t = Flavour::Reference)]
    flavour: Flavour,
    /// Run each mutant's whole suite instead of stopping at its first kill.
    #[arg(long)]
    no_early_stop: bool,
    /// Where the cleanup ledgers of runs against --target are kept until they have cleaned up.
    #[arg(long, env = "IPDR_LEDGER_DIR", default_value = ipdr_conformance::execution::ledger_file::DEFAULT_LEDGER_DIR, value_name = "DIR")]
    ledger_dir: PathBuf,
}

/// Options of `serve`.
#[derive(clap::Args)]
struct ServeArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Users, tokens and contexts (default: the built-in fixtures/reference-users.json).
    #[arg(long)]
    users: Option<PathBuf>,
    /// Customers to preload: a JSON object mapping context name to an array of customer objects.
    #[arg(long)]
    preload: Option<PathBuf>,
    /// Switch on a deliberate departure from the contract (repeatable).
    #[arg(long = "deviate", value_name = "NAME")]
    deviations: Vec<Deviation>,
    /// List the available deviations and exit.
    #[arg(long)]
    list_deviations: bool,
    /// Which conformant variant to play where the vendor page is silent.
    #[arg(long, value_enum, default_value_t = Flavour::Reference)]
    flavour: Flavour,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(options) => runner::run_from_cli(*options),
        Command::Sweep(options) => runner::sweep_from_cli(*options),
        Command::Serve(args) => exit_on_error(serve(args)),
        Command::Schema { out } => exit_on_error(write_schemas(out)),
        Command::Scenarios { specs } => exit_on_error(print_scenarios(specs)),
        Command::Snapshots { action } => exit_on_error(settle_snapshots(action)),
        Command::Bench(options) => exit_on_error(ipdr_conformance::bench::run_from_cli(options)),
        Command::Selfcheck(args) => match selfcheck(*args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn exit_on_error(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn load_scenarios(specs: Option<PathBuf>) -> anyhow::Result<Vec<load::LoadedScenario>> {
    Ok(match specs {
        Some(dir) => load::load_dir(&dir)?,
        None => load::load_embedded()?,
    })
}

/// Prints the self-check: the deviation and flavour matrices (embedded
/// server only) and the operator table; true when all of them are clean.
fn selfcheck(args: SelfcheckArgs) -> anyhow::Result<bool> {
    use ipdr_conformance::selfcheck::{self as check, mutation};

    let scenarios = load_scenarios(args.specs.clone())?;
    let upstream = match &args.target.target {
        Some(url) => mutation::Upstream::Target {
            target: Box::new(runner::target_from_options(&args.target, url)?),
            retries: args.target.retries,
            ledger_dir: args.ledger_dir.clone(),
        },
        None => {
            if args.target.api_token.is_some() || args.target.username.is_some() {
                eprintln!("note: no --target given, so the credentials given are ignored and the embedded reference server is used");
            }
            mutation::Upstream::Embedded(args.flavour)
        }
    };
    let mut clean = true;
    let embedded = matches!(upstream, mutation::Upstream::Embedded(_));
    if embedded && !args.operators_only {
        let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
        let matrix = runtime.block_on(check::run_matrix(&scenarios))?;
        print!("{}", check::render(&matrix));
        clean &= matrix.is_perfect();
        drop(runtime);
        // The properties alone, scenarios skipped: reported, not part of the verdict.
        let properties = check::run_property_matrix(&Default::default());
        let rendered = check::render_property_matrix(&properties?);
        println!("\n{}\n", rendered.trim_end());
    } else if !embedded {
        println!("against --target, only the operator table runs: the deviation and flavour matrices concern the embedded server\n");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    if let mutation::Upstream::Target {
        target, retries, ..
    } = &upstream
    {
        let client = ipdr_conformance::execution::client::Client::new((**target).clone())?
            .with_retries(*retries);
        runtime.block_on(runner::preflight(&client))?;
    }
    let options = mutation::CampaignOptions {
        parallel_mutants: args.parallel_mutants.max(1),
        stop_at_first_kill: !args.no_early_stop,
        progress_every: 25,
        ..Default::default()
    };
    let campaign = runtime.block_on(mutation::run_campaign(&scenarios, &upstream, &options))?;
    let table = mutation::OperatorTable::new(campaign);
    print!("{}", mutation::render(&table, args.every_mutant));
    Ok(clean && table.is_clean())
}

fn print_scenarios(specs: Option<PathBuf>) -> anyhow::Result<()> {
    let scenarios = load_scenarios(specs)?;
    print!("{}", markdown::scenario_table(&scenarios));
    Ok(())
}

/// `snapshots pending|accept|reject`: the review flow without cargo-insta.
fn settle_snapshots(action: SnapshotsAction) -> anyhow::Result<()> {
    let (args, verb) = match &action {
        SnapshotsAction::Pending(args) => (args, None),
        SnapshotsAction::Accept(args) => (args, Some(true)),
        SnapshotsAction::Reject(args) => (args, Some(false)),
    };
    profile::check_name(&args.profile)?;
    let dir = args.snapshots_dir.join(&args.profile);
    if !dir.is_dir() {
        anyhow::bail!("no snapshot profile directory {}", dir.display());
    }
    match verb {
        None => print!(
            "{}",
            snapshot_diff::render_pending(&args.profile, &profile::pending(&dir)?)
        ),
        Some(_) if snapshot::ci_is_set() => {
            println!("CI is set: nothing is written, so no pending change is settled");
        }
        Some(accept) => {
            let count = profile::settle_pending(&dir, accept)?;
            println!(
                "{} {count} pending snapshot change(s) in {}",
                if accept { "accepted" } else { "rejected" },
                dir.display()
            );
        }
    }
    Ok(())
}

fn write_schemas(out: PathBuf) -> anyhow::Result<()> {
    let written =
        schema::write_all(&out).with_context(|| format!("writing schemas to {}", out.display()))?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.list_deviations {
        for deviation in Deviation::ALL {
            println!("{:<40} {}", deviation.name(), deviation.description());
        }
        return Ok(());
    }
    let users = match &args.users {
        Some(path) => UsersFixture::from_path(path)?,
        None => UsersFixture::builtin(),
    };
    let mut config = ServerConfig::new(users);
    config.deviations = args.deviations;
    config.flavour = args.flavour;
    if let Some(path) = &args.preload {
        config.preload = reference::Preload::from_path(path)?;
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let server = reference::start(config, SocketAddr::new(args.bind, args.port))
            .await
            .context("starting the reference server")?;
        println!("reference server listening on {}", server.base_url());
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        server.shutdown().await;
        Ok(())
    })
}
