//! `completions <shell>`: the shell completion script, generated from the
//! same clap definition that parses the command line, so it never drifts.

use clap_complete::Shell;

/// Options of `completions`.
#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `args.shell` to stdout.
pub fn print(args: CompletionsArgs, mut command: clap::Command) -> std::io::Result<()> {
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, &name, &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    if args.shell == Shell::Bash {
        script = bash_with_reachable_arms(&script, &name);
    }
    super::to_stdout(script.as_bytes())
}

/// clap_complete's bash script spells a hyphenated binary's state two ways:
/// the loop sets `ipdr__conformance__subcmd__run`, the case arms match
/// `ipdr__subcmd__conformance__subcmd__run`, so no command's options ever
/// complete (clap-rs/clap#6421). Spell the arms as the loop does; a no-op
/// once clap_complete agrees with itself.
fn bash_with_reachable_arms(script: &str, name: &str) -> String {
    let state = name.replace('-', "__");
    let misspelt = name.replace('-', "__subcmd__");
    script.replace(
        &format!("        {misspelt}__subcmd__"),
        &format!("        {state}__subcmd__"),
    )
}
