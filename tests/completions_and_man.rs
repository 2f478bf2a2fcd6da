//! `completions <shell>` and `man`: what an installer puts in place, printed
//! by the binary itself so it never drifts from the options it describes.

mod common;

use std::process::Command;

use common::{harness, stderr, stdout};

fn succeeds(args: &[&str]) -> String {
    let output = harness().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

/// The commands the top-level help lists, so a new one is never forgotten here.
const COMMANDS: [&str; 10] = [
    "run",
    "sweep",
    "serve",
    "schema",
    "selfcheck",
    "scenarios",
    "snapshots",
    "bench",
    "completions",
    "man",
];

/// The page's `.TH` line, after nothing but roff's string definitions.
fn title(page: &str) -> &str {
    let mut lines = page
        .lines()
        .skip_while(|line| line.starts_with(".ie ") || line.starts_with(".el "));
    lines.next().unwrap_or_default()
}

#[test]
fn bash_completions_parse_and_offer_the_commands_and_their_flags() {
    let script = succeeds(&["completions", "bash"]);
    let checked = Command::new("bash")
        .arg("-n")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut bash| {
            use std::io::Write as _;
            bash.stdin.take().unwrap().write_all(script.as_bytes())?;
            bash.wait_with_output()
        })
        .unwrap();
    assert!(
        checked.status.success(),
        "bash -n refuses the script: {}",
        stderr(&checked)
    );
    assert!(
        script.contains("complete -F _ipdr__conformance") && script.contains("ipdr-conformance"),
        "{script}"
    );
    for command in COMMANDS {
        assert!(script.contains(command), "no {command} in the completions");
    }
    for flag in [
        "--target",
        "--api-token",
        "--second-context",
        "--junit",
        "--flavour",
    ] {
        assert!(script.contains(flag), "no {flag} in the completions");
    }
}

/// What bash offers after `words` (the last one being completed), with the script loaded.
fn bash_offers(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let program = format!(
        r#"source "$1"
function_name=$(complete -p ipdr-conformance | sed 's/.*-F \([^ ]*\).*/\1/')
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
"$function_name" ipdr-conformance "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = words
            .iter()
            .map(|word| format!("'{word}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let output = Command::new("bash")
        .args(["-c", &program, "bash"])
        .arg(script)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_commands_and_each_commands_own_flags() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("ipdr-conformance.bash");
    std::fs::write(&script, succeeds(&["completions", "bash"])).unwrap();
    let commands = bash_offers(&script, &["ipdr-conformance", "s"]);
    let run_flags = bash_offers(&script, &["ipdr-conformance", "run", "--tar"]);
    let snapshot_actions = bash_offers(&script, &["ipdr-conformance", "snapshots", ""]);
    let shells = bash_offers(&script, &["ipdr-conformance", "completions", "f"]);
    let _ = std::fs::remove_dir_all(&dir);
    for command in [
        "sweep",
        "serve",
        "schema",
        "selfcheck",
        "scenarios",
        "snapshots",
    ] {
        assert!(commands.contains(&command.to_string()), "{commands:?}");
    }
    assert_eq!(run_flags, ["--target"]);
    for action in ["pending", "accept", "reject"] {
        assert!(
            snapshot_actions.contains(&action.to_string()),
            "{snapshot_actions:?}"
        );
    }
    assert_eq!(shells, ["fish"]);
}

#[test]
fn every_shell_clap_offers_gets_a_script() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ipdr-conformance"),
        ("fish", "complete -c ipdr-conformance"),
        ("elvish", "edit:completion:arg-completer[ipdr-conformance]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = succeeds(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(script.contains("target"), "{shell}: no --target");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_shells_there_are() {
    let output = harness().args(["completions", "tcsh"]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(stdout(&output).is_empty());
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
    for shell in ["bash", "elvish", "fish", "powershell", "zsh"] {
        assert!(err.contains(shell), "{shell} not offered:\n{err}");
    }
}

#[test]
fn the_man_page_is_roff_naming_every_command() {
    let page = succeeds(&["man"]);
    assert_eq!(
        title(&page),
        ".TH ipdr-conformance 1  \"ipdr-conformance 0.1.0\" "
    );
    assert!(page.contains("\n.SH NAME\n"), "{page}");
    assert!(page.contains("\n.SH SYNOPSIS\n"), "{page}");
    for command in COMMANDS {
        assert!(
            page.contains(&format!("ipdr\\-conformance\\-{command}(1)")),
            "no {command} page named in:\n{page}"
        );
    }
}

#[test]
fn a_command_has_its_own_page_with_its_options_and_exit_codes() {
    let page = succeeds(&["man", "run"]);
    assert_eq!(
        title(&page),
        ".TH ipdr-conformance-run 1  \"ipdr-conformance 0.1.0\" "
    );
    for option in ["\\-\\-target", "\\-\\-api\\-token", "\\-\\-junit"] {
        assert!(page.contains(option), "no {option} in:\n{page}");
    }
    // The grouped help headings become sections.
    for heading in ["\n.SH TARGET\n", "\n.SH CREDENTIALS\n", "\n.SH REPORTS\n"] {
        assert!(page.contains(heading), "no {heading:?} in:\n{page}");
    }
    let exit_status = page
        .split("\n.SH \"EXIT STATUS\"\n")
        .nth(1)
        .expect("an EXIT STATUS section");
    assert!(exit_status.starts_with(".nf\nExit codes"), "{exit_status}");
    assert!(
        exit_status.contains("\n  130  interrupted"),
        "{exit_status}"
    );
    let nested = succeeds(&["man", "snapshots", "accept"]);
    assert!(
        title(&nested).starts_with(".TH ipdr-conformance-snapshots-accept 1 "),
        "{nested}"
    );
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("man-pages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let listed = succeeds(&["man", "--out", dir.to_str().unwrap()]);
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        written.contains(&"ipdr-conformance.1".to_string()),
        "{written:?}"
    );
    for command in COMMANDS {
        let page = format!("ipdr-conformance-{command}.1");
        assert!(written.contains(&page), "no {page} in {written:?}");
        assert!(listed.contains(&page), "{page} not reported:\n{listed}");
    }
    assert!(
        written.contains(&"ipdr-conformance-snapshots-pending.1".to_string()),
        "{written:?}"
    );
    assert!(
        !written.iter().any(|page| page.contains("help")),
        "{written:?}"
    );
}

#[test]
fn man_for_an_unknown_command_is_a_usage_error() {
    let output = harness().args(["man", "frobnicate"]).output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(stdout(&output).is_empty());
    assert!(err.contains("frobnicate"), "{err}");
    assert!(err.contains("run"), "the commands there are:\n{err}");
}
