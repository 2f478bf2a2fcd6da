//! `selfcheck`: the suite against every deviation and conformant flavour of
//! the embedded server, and the operator table of the mutating proxy.

use std::path::PathBuf;

use anyhow::Context as _;
use ipdr_conformance::execution::client::Client;
use ipdr_conformance::execution::engine::{load_scenarios, preflight};
use ipdr_conformance::reference::Flavour;
use ipdr_conformance::selfcheck::{self as check, mutation};

use super::target::TargetArgs;

/// What `selfcheck`'s exit codes mean, for `--help`.
pub const EXIT_CODES: &str = "Exit codes:\n    0  every deviation caught, no false positive, every mutant that must die killed\n    1  the suite missed something or failed a conformant server (the tables say which)\n    2  bad configuration, or the target unusable\n";

/// Options of `selfcheck`.
#[derive(clap::Args)]
pub struct SelfcheckArgs {
    /// Load scenarios from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    specs: Option<PathBuf>,
    /// The server to run the operator table in front of (default: the embedded reference server).
    #[command(flatten)]
    target: TargetArgs,
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
    #[command(flatten)]
    out: super::OutDirArgs,
}

/// Prints the self-check: the deviation and flavour matrices (embedded
/// server only) and the operator table; true when all of them are clean.
pub fn selfcheck(args: SelfcheckArgs) -> anyhow::Result<bool> {
    let scenarios = load_scenarios(args.specs.as_ref())?;
    let upstream = match &args.target.target {
        Some(url) => mutation::Upstream::Target {
            target: Box::new(args.target.target(url)?),
            retries: args.target.retries()?,
            ledger_dir: args.out.dirs(None).ledger,
        },
        None => {
            if args.target.has_credentials() {
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
        let client = Client::new((**target).clone())?.with_retries(*retries);
        runtime.block_on(preflight(&client))?;
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
