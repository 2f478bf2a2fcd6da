//! Help shows only what applies, grouped, and states the exit codes.

mod common;

use common::{harness, stdout};

fn help(args: &[&str]) -> String {
    let output = harness().args(args).arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    stdout(&output)
}

#[test]
fn run_help_is_grouped_states_the_exit_codes_and_offers_nothing_that_does_nothing() {
    let text = help(&["run"]);
    for heading in [
        "\nTarget:\n",
        "\nCredentials:\n",
        "\nSelection:\n",
        "\nProperties:\n",
        "\nSnapshots:\n",
        "\nReports:\n",
        "\nExit codes",
    ] {
        assert!(text.contains(heading), "no {heading:?} in:\n{text}");
    }
    for code in ["    0  ", "    1  ", "    2  ", "    3  ", "  130  "] {
        assert!(text.contains(code), "exit code {code:?} missing:\n{text}");
    }
    for libtest in ["--nocapture", "--bench", "-Z", "--test-threads", "--format"] {
        assert!(
            !text.contains(libtest),
            "{libtest} does nothing here:\n{text}"
        );
    }
    insta::assert_snapshot!("run_help", text);
}

#[test]
fn sweep_help_leaves_out_what_does_not_apply_to_it() {
    let text = help(&["sweep"]);
    for absent in [
        "--second-context",
        "--forbidden-context",
        "embedded reference server is started",
    ] {
        assert!(
            !text.contains(absent),
            "{absent} does not apply to sweep:\n{text}"
        );
    }
    assert!(text.contains("\nExit codes:\n"), "{text}");
    insta::assert_snapshot!("sweep_help", text);
}

#[test]
fn selfcheck_help_states_its_exit_codes() {
    assert!(help(&["selfcheck"]).contains("\nExit codes:\n"));
}

#[test]
fn top_level_help_lists_every_command_including_completions_and_man() {
    let output = harness().arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for command in ["\n  completions  ", "\n  man          "] {
        assert!(text.contains(command), "no {command:?} in:\n{text}");
    }
    insta::assert_snapshot!("top_level_help", text);
}
