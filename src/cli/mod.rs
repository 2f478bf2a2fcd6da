//! The command line: every clap struct, turned into the typed configuration
//! the library takes; the one place where arguments are parsed, errors
//! become exit codes and one-line messages, and the small commands print.

pub mod completions;
pub mod man_page;
pub mod run;
pub mod selfcheck;
pub mod sweep;
pub mod target;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use ipdr_conformance::execution::engine::load_scenarios;
use ipdr_conformance::execution::out_dir::{OutDir, DEFAULT_OUT_DIR};
use ipdr_conformance::execution::snapshot::examples::reference_examples;
use ipdr_conformance::execution::snapshot::{self, profile};
use ipdr_conformance::outcome::exit::ExitStatus;
use ipdr_conformance::reference::{self, Deviation, Flavour, ServerConfig, UsersFixture};
use ipdr_conformance::report::{markdown, snapshot_diff};
use ipdr_conformance::spec::schema;

/// Where what outlives a run is kept: the ledger and the repros, under one directory.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Output")]
pub struct OutDirArgs {
    /// Where the cleanup ledger (ledger/) and repro scenarios (repros/) are kept; created only when something is written, removed when left empty.
    #[arg(long, env = "IPDR_OUT_DIR", value_name = "DIR", default_value = DEFAULT_OUT_DIR)]
    pub out_dir: PathBuf,
    /// Keep the cleanup ledger here instead of <out-dir>/ledger.
    #[arg(long, env = "IPDR_LEDGER_DIR", value_name = "DIR")]
    pub ledger_dir: Option<PathBuf>,
}

impl OutDirArgs {
    /// The directories, each override applied; `repros` overrides `<out-dir>/repros`.
    pub fn dirs(&self, repros: Option<&std::path::Path>) -> OutDir {
        OutDir::new(&self.out_dir, self.ledger_dir.as_deref(), repros)
    }
}

/// Conformance harness for the Trisul IPDR Customer Management API.
#[derive(Parser)]
#[command(name = "ipdr-conformance", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conformance suite against a target (default: the embedded reference server).
    #[command(after_help = ExitStatus::table())]
    Run(Box<run::RunArgs>),
    /// Delete the records that killed runs left on the target (from the cleanup ledger).
    #[command(after_help = sweep::EXIT_CODES)]
    Sweep(Box<sweep::SweepArgs>),
    /// Serve the embedded reference server.
    Serve(ServeArgs),
    /// Write JSON Schema and OpenAPI documents generated from the contract types.
    Schema {
        /// Directory to write into (created if missing).
        #[arg(long, default_value = "schemas")]
        out: PathBuf,
    },
    /// Prove the suite: against every deviation, every conformant flavour, and every mutation operator.
    #[command(after_help = selfcheck::EXIT_CODES)]
    Selfcheck(Box<selfcheck::SelfcheckArgs>),
    /// Print the scenario catalogue as a Markdown table (the one in docs/scenarios.md).
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
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or with --out write one page per command.
    Man(man_page::ManArgs),
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
    /// Preload this many realistic made-up customers (about 190 bytes each) in the harness's context.
    #[arg(long, value_name = "N", conflicts_with = "preload")]
    preload_generated: Option<u64>,
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

/// Parses the command line and runs the command; its exit code.
pub fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run::run(*args),
        Command::Sweep(args) => sweep::sweep(*args),
        Command::Serve(args) => exit_on_error(serve(args)),
        Command::Schema { out } => exit_on_error(write_schemas(out)),
        Command::Scenarios { specs } => exit_on_error(print_scenarios(specs)),
        Command::Snapshots { action } => exit_on_error(settle_snapshots(action)),
        Command::Bench(options) => exit_on_error(ipdr_conformance::bench::run_from_cli(options)),
        Command::Completions(args) => exit_on_error(
            completions::print(args, Cli::command()).context("writing the script to stdout"),
        ),
        Command::Man(args) => exit_on_error(man_page::man(args, Cli::command())),
        Command::Selfcheck(args) => match selfcheck::selfcheck(*args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(ExitStatus::ContractFailure.code()),
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::from(ExitStatus::Setup.code())
            }
        },
    }
}

/// Writes `bytes` to stdout; a reader that stopped early (`| head`) is no error.
pub fn to_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn exit_on_error(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(ExitStatus::Setup.code())
        }
    }
}

fn print_scenarios(specs: Option<PathBuf>) -> anyhow::Result<()> {
    let scenarios = load_scenarios(specs.as_ref())?;
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
    let examples = reference_examples().context("reading the OpenAPI examples")?;
    let written = schema::write_all(&out, &examples)
        .with_context(|| format!("writing schemas to {}", out.display()))?;
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
    if let Some(count) = args.preload_generated {
        let context = config.users.harness().context;
        config.preload =
            reference::Preload::generated(context, count, reference::DEFAULT_GENERATED_SEED);
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
