//! `man`: the manual pages (roff), generated from the same clap definition
//! that parses the command line: the tool's own page, one command's page,
//! or every page written to a directory.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::error::ErrorKind;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

/// Options of `man`.
#[derive(clap::Args)]
pub struct ManArgs {
    /// Print this command's page instead of the tool's (`run`, `snapshots accept`).
    #[arg(value_name = "COMMAND", conflicts_with = "out")]
    pub command: Vec<String>,
    /// Write every page (ipdr-conformance.1 and one ipdr-conformance-COMMAND.1 per command) into this directory, created if missing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the page `args` names, or writes every page under `args.out`.
pub fn man(args: ManArgs, command: clap::Command) -> anyhow::Result<()> {
    // `help` is clap's, not a command of this tool: no page.
    let mut root = command.disable_help_subcommand(true);
    root.build();
    if let Some(dir) = args.out {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        return write_every_page(&root, &dir);
    }
    let mut page = &root;
    for name in &args.command {
        page = match page.find_subcommand(name) {
            Some(sub) => sub,
            None => unknown_command(&root, page, name),
        };
    }
    let roff = render(page)?;
    super::to_stdout(&roff).context("writing the page to stdout")
}

/// One page: clap_mangen's sections, with the command's exit codes (its
/// after-help) under EXIT STATUS, where man readers look for them.
fn render(page: &clap::Command) -> std::io::Result<Vec<u8>> {
    let source = format!("ipdr-conformance {}", env!("CARGO_PKG_VERSION"));
    let man = Man::new(page.clone().after_help(None::<&'static str>)).source(source);
    // Each render_* starts with the same apostrophe preamble: keep the first.
    let preamble = Roff::new().render();
    let mut out = preamble.clone().into_bytes();
    let mut section = |render: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut piece = Vec::new();
        render(&mut piece)?;
        out.extend_from_slice(piece.strip_prefix(preamble.as_bytes()).unwrap_or(&piece));
        std::io::Result::Ok(())
    };
    section(&|w| man.render_title(w))?;
    section(&|w| man.render_name_section(w))?;
    section(&|w| man.render_synopsis_section(w))?;
    section(&|w| man.render_description_section(w))?;
    section(&|w| man.render_options_section(w))?;
    if page.has_subcommands() {
        section(&|w| man.render_subcommands_section(w))?;
    }
    if let Some(exit_codes) = page.get_after_help() {
        let mut roff = Roff::new();
        roff.control("SH", ["EXIT STATUS"])
            .control("nf", [])
            .text([roman(exit_codes.to_string())])
            .control("fi", []);
        section(&|w| roff.to_writer(w))?;
    }
    if page.get_version().is_some() {
        section(&|w| man.render_version_section(w))?;
    }
    Ok(out)
}

/// A usage error (exit 2), as clap reports one, naming the commands there are.
/// (`root` is the built tool, so `man`'s usage line is the one shown.)
fn unknown_command(root: &clap::Command, parent: &clap::Command, name: &str) -> ! {
    let offered: Vec<&str> = parent.get_subcommands().map(|sub| sub.get_name()).collect();
    let under = parent.get_bin_name().unwrap_or(parent.get_name());
    let message = if offered.is_empty() {
        format!("{under} has no commands, so no page for '{name}'")
    } else {
        format!(
            "no command '{name}' under {under}; the commands: {}",
            offered.join(", ")
        )
    };
    let man = root.find_subcommand("man").unwrap_or(root);
    man.clone()
        .error(ErrorKind::InvalidSubcommand, message)
        .exit()
}

fn write_every_page(command: &clap::Command, dir: &std::path::Path) -> anyhow::Result<()> {
    let name = command.get_display_name().unwrap_or(command.get_name());
    let path = dir.join(format!("{name}.1"));
    let page = render(command).with_context(|| format!("rendering {name}.1"))?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_every_page(sub, dir)?;
    }
    Ok(())
}
