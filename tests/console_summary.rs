//! The console ends with the verdict: one summary block comes last, with
//! the counts by verdict and by level, the differences counted (the first
//! few shown, none twice), where the files are and what the exit code
//! means. `-q` prints only the failures and the summary; `-v` every
//! observed step. Pinned against the embedded reference server and against
//! a server with a deviation.

mod common;

use common::{harness, harness_against, stable, stderr, stdout, Server};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};

/// Trials small enough to pin: the CRUD scenarios (some with observed steps).
const REFERENCE_FILTER: &str = "crud::";
/// The trials of PUT: with [`Deviation::PutActsLikePatch`], a failure,
/// observed differences and profile differences at once.
const DEVIATION_FILTER: &str = "full_update";
/// Left out: its list step's difference quotes records (and ids) that depend on what ran beside it.
const DEVIATION_SKIP: &str = "full_update_without_user_id";

/// [`stable`], and what else changes between runs: the UserID counters, the
/// record ids and the lengths of cut lines that hold them.
fn pinned(out: &str) -> String {
    let mut text = stable(out);
    for (marker, placeholder) in [
        ("zzconf-[run]-", "[n]"),
        ("\"id\":", "[id]"),
        ("… (", "[n]"),
    ] {
        let mut result = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(marker) {
            let (head, tail) = rest.split_at(at + marker.len());
            result.push_str(head);
            let digits = tail.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 {
                result.push_str(placeholder);
            }
            rest = &tail[digits..];
        }
        result.push_str(rest);
        text = result;
    }
    text
}

/// The summary block: from its `summary:` line to the end of the output.
fn summary(out: &str) -> String {
    let at = out
        .rfind("\nsummary:\n")
        .map(|at| at + 1)
        .or_else(|| out.starts_with("summary:\n").then_some(0))
        .unwrap_or_else(|| panic!("no summary:\n{out}"));
    out[at..].to_string()
}

/// `out` without its failures block (from `failures:` to what follows the last one).
fn without_failures(out: &str) -> String {
    let Some(start) = out
        .find("\nfailures:\n")
        .or_else(|| out.starts_with("failures:\n").then_some(0))
    else {
        return out.to_string();
    };
    let rest = &out[start + 1..];
    let end = [
        "\nobserved behaviour where",
        "\nsteps that differ from",
        "\nsummary:",
    ]
    .iter()
    .filter_map(|marker| rest.find(marker))
    .min()
    .map_or(out.len(), |at| start + 1 + at + 1);
    format!("{}{}", &out[..start.min(out.len())], &out[end..])
}

fn deviating_server() -> Server {
    Server::start(
        ServerConfig::new(UsersFixture::builtin()).with_deviation(Deviation::PutActsLikePatch),
    )
}

/// The embedded server, `flags` added.
fn against_the_reference(flags: &[&str]) -> std::process::Output {
    harness()
        .arg("run")
        .arg(REFERENCE_FILTER)
        .args(flags)
        .output()
        .unwrap()
}

/// The server with a deviation, `flags` added.
fn against(server: &Server, flags: &[&str]) -> std::process::Output {
    harness_against(&server.url())
        .args([DEVIATION_FILTER, "--skip", DEVIATION_SKIP])
        .args(flags)
        .output()
        .unwrap()
}

#[test]
fn against_the_reference_the_summary_comes_last() {
    let output = against_the_reference(&[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(
        out.lines()
            .last()
            .is_some_and(|line| line.starts_with("exit 0: pass: ")),
        "the last line says what the exit code means:\n{out}"
    );
    assert!(
        !out.contains("(as the reference)"),
        "observed steps answered as the reference are not listed by default:\n{out}"
    );
    insta::assert_snapshot!("reference_summary", pinned(&summary(&out)));
}

#[test]
fn against_the_reference_quiet_prints_only_the_summary() {
    let output = against_the_reference(&["-q"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    insta::assert_snapshot!("reference_quiet", pinned(&out));
    // The same summary as without -q.
    let default = stdout(&against_the_reference(&[]));
    assert_eq!(pinned(&out), pinned(&summary(&default)));
}

#[test]
fn against_the_reference_verbose_prints_every_observed_step() {
    let output = against_the_reference(&["-v"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    // From the observed steps (sorted) to the end: everything after the trial lines.
    let at = out
        .find("observed behaviour where the page is silent")
        .unwrap_or_else(|| panic!("-v lists the observed steps:\n{out}"));
    insta::assert_snapshot!("reference_verbose_tail", pinned(&out[at..]));
    assert!(out.contains("(as the reference)"), "{out}");
}

#[test]
fn against_a_deviation_the_summary_counts_failures_and_differences_last() {
    let server = deviating_server();
    let output = against(&server, &[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    let summary = summary(&out);
    insta::assert_snapshot!("deviation_summary", pinned(&summary));
    assert!(
        out.lines()
            .last()
            .is_some_and(|line| line.starts_with("exit 1: fail: ")),
        "{out}"
    );
    // Each failure is explained once, before the summary; the summary names it.
    let before = &out[..out.len() - summary.len()];
    let name = "validation::full_update_missing_fields";
    assert_eq!(
        before.matches(&format!("---- {name} ----")).count(),
        1,
        "{out}"
    );
    assert!(summary.contains(name), "{summary}");
    // Every difference is shown once: none in a listing before the summary.
    assert!(!before.contains("steps that differ from profile"), "{out}");
    assert!(!before.contains("observed behaviour"), "{out}");
    for line in summary.lines().filter(|line| line.starts_with("    ")) {
        assert_eq!(out.matches(line).count(), 1, "{line:?} twice in:\n{out}");
    }
}

#[test]
fn against_a_deviation_quiet_prints_only_the_failures_and_the_summary() {
    let server = deviating_server();
    let output = against(&server, &["-q"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    assert!(out.starts_with("failures:\n\n---- "), "{out}");
    assert!(
        !out.lines().any(|line| line.starts_with("test [")),
        "no trial lines:\n{out}"
    );
    let default = stdout(&against(&server, &[]));
    assert_eq!(
        pinned(&summary(&out)),
        pinned(&summary(&default)),
        "the same summary as without -q"
    );
    // The failures as without -q, then the summary: nothing else.
    let headers = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("---- "))
            .map(str::to_string)
            .collect()
    };
    let failures = &out[..out.len() - summary(&out).len()];
    assert_eq!(headers(failures), headers(&default), "{out}");
    assert_eq!(
        without_failures(&out),
        summary(&out),
        "only failures and the summary:\n{out}"
    );
}

#[test]
fn against_a_deviation_verbose_lists_every_difference_before_the_summary() {
    let server = deviating_server();
    let output = against(&server, &["-v"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{}", stderr(&output));
    insta::assert_snapshot!("deviation_verbose_summary", pinned(&summary(&out)));
    let default = stdout(&against(&server, &[]));
    // Failures quote whole lists, whose length depends on what ran beside them: not counted.
    let (verbose_lines, default_lines) = (
        without_failures(&out).lines().count(),
        without_failures(&default).lines().count(),
    );
    // Every observed step (`as the reference` included) and every profile difference.
    let observed = out
        .lines()
        .filter(|line| {
            line.contains(" (as the reference)") || line.contains(" (differs from the reference")
        })
        .count();
    assert!(observed >= 5, "{out}");
    assert!(
        out.contains("steps that differ from profile reference"),
        "{out}"
    );
    assert!(
        verbose_lines > default_lines + observed,
        "-v adds every observed step and the listing: {verbose_lines} vs {default_lines} lines"
    );
}

#[test]
fn a_conformant_server_that_differs_from_the_profile_passes_with_the_differences_shown() {
    // Alt leaves optional fields null where the reference answers "": the page allows both.
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_flavour(ipdr_conformance::reference::Flavour::Alt),
    );
    let output = harness_against(&server.url())
        .args(["-q", "--exact", "crud::create_mandatory_only"])
        .output()
        .unwrap();
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    insta::assert_snapshot!("alt_quiet", pinned(&out));
}
