//! Reports: JUnit, JSON, HTML and Markdown, tiered exit codes, rerunning
//! failures, and no token anywhere.

mod common;

use std::path::Path;

use common::{harness_against, stdout, Server, TempDir};
use ipdr_conformance::reference::{Deviation, ServerConfig, UsersFixture};
use serde_json::Value;

struct Reports {
    _dir: TempDir,
    junit: std::path::PathBuf,
    json: std::path::PathBuf,
    html: std::path::PathBuf,
    markdown: std::path::PathBuf,
}

fn run_with_reports(url: &str, name: &str) -> (std::process::Output, Reports) {
    run_with_reports_and(url, name, |_| {})
}

/// Like [`run_with_reports`], with `more` adding arguments or variables.
fn run_with_reports_and(
    url: &str,
    name: &str,
    more: impl FnOnce(&mut std::process::Command),
) -> (std::process::Output, Reports) {
    let dir = TempDir::new(name);
    let reports = Reports {
        junit: dir.0.join("junit.xml"),
        json: dir.0.join("report.json"),
        html: dir.0.join("report.html"),
        markdown: dir.0.join("summary.md"),
        _dir: dir,
    };
    let mut command = harness_against(url);
    more(&mut command);
    let output = command
        .arg("--junit")
        .arg(&reports.junit)
        .arg("--report-json")
        .arg(&reports.json)
        .arg("--report-html")
        .arg(&reports.html)
        .arg("--summary-md")
        .arg(&reports.markdown)
        // Ledger and repros in the test's directory, never the worktree's ipdr-out/.
        .arg("--out-dir")
        .arg(&reports._dir.0)
        .output()
        .unwrap();
    (output, reports)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn every_report_format_is_written_and_none_contains_the_token() {
    // A deviation that fails steps carrying the real token, so transcripts hold it.
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_deviation(Deviation::PatchBlanksOmittedFields),
    );
    let token = UsersFixture::builtin().harness().api_token;
    let (output, reports) = run_with_reports(&server.url(), "reports-all");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));

    let json: Value = serde_json::from_str(&read(&reports.json)).unwrap();
    let trials = json["trials"].as_array().unwrap();
    assert!(trials.len() >= 45);
    let failed: Vec<&Value> = trials
        .iter()
        .filter(|trial| trial["verdict"] == "fail")
        .collect();
    assert!(!failed.is_empty());
    for trial in trials {
        for key in [
            "name",
            "level",
            "citation",
            "verdict",
            "duration_ms",
            "transcript",
        ] {
            assert!(trial.get(key).is_some(), "{key} missing in {trial}");
        }
    }
    assert!(failed
        .iter()
        .any(|trial| !trial["transcript"].as_array().unwrap().is_empty()));

    let junit = read(&reports.junit);
    assert_eq!(junit.matches("<testcase ").count(), trials.len());
    assert!(junit.contains("<failure"));
    assert!(junit.contains("name=\"level\""));
    assert!(junit.contains("name=\"citation\""));

    let html = read(&reports.html);
    assert!(html.contains("id=\"matrix\""));
    assert!(!html.contains("<script"), "the page needs no script");
    assert!(
        !html.contains("http-equiv") && !html.contains("<link"),
        "nothing external"
    );

    let markdown = read(&reports.markdown);
    assert!(markdown.starts_with("## ❌ IPDR conformance"), "{markdown}");

    for (name, text) in [
        ("junit", junit),
        ("json", read(&reports.json)),
        ("html", html),
        ("markdown", markdown),
        ("stdout", stdout(&output)),
        ("stderr", common::stderr(&output)),
    ] {
        assert!(!text.contains(&token), "the token leaked into {name}");
    }
    assert!(
        read(&reports.json).contains("<redacted>"),
        "the token is redacted, not dropped"
    );
}

#[test]
fn a_passing_run_reports_every_trial_as_passed() {
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let (output, reports) = run_with_reports(&server.url(), "reports-pass");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let json: Value = serde_json::from_str(&read(&reports.json)).unwrap();
    // Every trial passes, but those this run is not configured for (no
    // second user, no --deep): skipped, with the reason.
    for trial in json["trials"].as_array().unwrap() {
        let name = trial["name"].as_str().unwrap();
        let reason = trial["reason"].as_str().unwrap_or_default();
        let unconfigured = (name.starts_with("cross_user::")
            && reason.starts_with("needs a second user"))
            || (name.starts_with("completeness::deep::")
                && reason == "opt-in deep mode: run with --deep");
        if unconfigured {
            assert_eq!(trial["verdict"], "skipped", "{trial}");
        } else {
            assert_eq!(trial["verdict"], "pass", "{trial}");
        }
    }
    assert!(read(&reports.markdown).starts_with("## ✅"));
    assert!(read(&reports.markdown)
        .contains("**Differences** where the page leaves the answer open: none."));
    assert_eq!(read(&reports.junit).matches("<failure").count(), 0);
    // The branches the reference does not take are listed, not counted as passes or failures.
    let skipped: Vec<&Value> = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|trial| trial["skipped_steps"].as_array().into_iter().flatten())
        .collect();
    assert!(skipped.len() >= 10, "{skipped:?}");
    assert!(skipped.iter().all(|step| step["reason"]
        .as_str()
        .unwrap()
        .starts_with("only if step ")));
    assert!(read(&reports.markdown)
        .contains("did not run because their `only_if` condition did not hold"));
    assert!(read(&reports.junit).contains("name=\"skipped_step\""));
    assert!(read(&reports.html).contains("<ul class=\"skipped-steps\">"));
}

#[test]
fn the_other_users_token_is_redacted_from_every_report_like_the_first() {
    let other = UsersFixture::builtin().harness().other.unwrap();
    let token = UsersFixture::builtin().harness().api_token;
    let specs = TempDir::new("reports-other-specs");
    // Fails while carrying the other user's token in its transcript.
    std::fs::write(
        specs.0.join("other.json"),
        r#"{"name": "reports::as_the_other_user", "level": "documented", "citation": "Authentication",
            "steps": [{"name": "list as the other user", "request": {"method": "GET", "path": "/api/ipdrcustomers", "auth": "other_user"}, "expect": {"body": {"$any": "object"}}}]}"#,
    )
    .unwrap();
    let server = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let (output, reports) = run_with_reports_and(&server.url(), "reports-other", |command| {
        command
            .arg("--specs")
            .arg(&specs.0)
            .args(["--skip", "property::"])
            .env("IPDR_OTHER_USERNAME", &other.username)
            .env("IPDR_OTHER_API_TOKEN", &other.api_token)
            .env("IPDR_OTHER_CONTEXT", &other.context);
    });
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("\"$IPDR_OTHER_API_TOKEN\""),
        "{}",
        stdout(&output)
    );
    for (name, text) in [
        ("junit", read(&reports.junit)),
        ("json", read(&reports.json)),
        ("html", read(&reports.html)),
        ("markdown", read(&reports.markdown)),
        ("stdout", stdout(&output)),
        ("stderr", common::stderr(&output)),
    ] {
        for secret in [&token, &other.api_token] {
            assert!(
                !text.contains(secret.as_str()),
                "a token leaked into {name}"
            );
        }
    }
    assert!(read(&reports.json).contains("<redacted>"));
}

#[test]
fn rerun_failed_runs_only_the_trials_that_failed() {
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_deviation(Deviation::TokenErrorStatusMixedCase),
    );
    let (_, reports) = run_with_reports(&server.url(), "reports-rerun");
    let json: Value = serde_json::from_str(&read(&reports.json)).unwrap();
    let mut failed: Vec<String> = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|trial| trial["verdict"] == "fail")
        .map(|trial| trial["name"].as_str().unwrap().to_string())
        .collect();
    failed.sort();
    assert!(!failed.is_empty());
    let output = harness_against(&server.url())
        .arg("--rerun-failed")
        .arg(&reports.json)
        .arg("--list")
        .output()
        .unwrap();
    let out = stdout(&output);
    let mut listed: Vec<String> = out
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(|line| line.rsplit(' ').next().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, failed, "{out}");
}

#[test]
fn a_report_that_cannot_be_written_never_hides_a_contract_failure() {
    // /dev/full opens for writing, and every write fails: the report is lost at the end.
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full on this system");
        return;
    }
    let dir = TempDir::new("reports-unwritable");
    let junit = dir.0.join("junit.xml");
    let deviating = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_deviation(Deviation::TokenErrorStatusMixedCase),
    );
    let output = harness_against(&deviating.url())
        .args(["--exact", "errors::invalid_token::list"])
        .args(["--report-json", "/dev/full"])
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let err = common::stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a contract failure stays 1:\n{err}"
    );
    assert!(
        err.lines()
            .any(|line| line.starts_with("error: writing /dev/full: ")),
        "{err}"
    );
    // The other reports are written all the same.
    assert!(read(&junit).contains("<failure"), "{}", read(&junit));

    let conformant = Server::start(ServerConfig::new(UsersFixture::builtin()));
    let output = harness_against(&conformant.url())
        .args(["--exact", "crud::create_all_fields"])
        .args(["--report-json", "/dev/full"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "a lost report raises a pass to 3: {}",
        common::stderr(&output)
    );
    // The console's summary, written once the reports are, says so too.
    let out = stdout(&output);
    assert!(
        out.contains("reports: JSON /dev/full (not written: "),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .is_some_and(|line| line.starts_with("exit 3: error: ")),
        "{out}"
    );
}

/// The cell of `operation` in the matrix row of `section`: its `data-verdict`.
fn matrix_cell(html: &str, section: &str, operation: &str) -> String {
    let row = html
        .split("<tr ")
        .find(|row| row.starts_with(&format!("data-section=\"{section}\"")))
        .unwrap_or_else(|| panic!("no row for {section}:\n{html}"));
    let row = &row[..row.find("</tr>").unwrap_or(row.len())];
    let marker = format!("data-operation=\"{operation}\" data-verdict=\"");
    let at = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {operation} cell in {row}"));
    let rest = &row[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[test]
fn the_matrix_has_one_row_per_doc_section_a_legend_and_a_put_deviation_only_in_put_cells() {
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin()).with_deviation(Deviation::PutDropsAddress),
    );
    let (output, reports) = run_with_reports_and(&server.url(), "reports-matrix", |command| {
        command.arg("crud::");
    });
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let html = read(&reports.html);
    assert!(html.contains("<table id=\"legend\">"), "a legend");
    // One row per doc section: none mixes several.
    let sections: Vec<&str> = html
        .split("<tr data-section=\"")
        .skip(1)
        .map(|row| &row[..row.find('"').unwrap()])
        .collect();
    assert!(sections.len() >= 5, "{sections:?}");
    for section in &sections {
        assert!(
            !section.contains(", ") && !section.contains(';') && !section.contains(':'),
            "a row mixes sections: {section}"
        );
    }
    let mut unique = sections.clone();
    unique.dedup();
    assert_eq!(unique.len(), sections.len(), "{sections:?}");
    // crud::put_versus_patch cites the PATCH section and fails at a PUT step:
    // red in that row's PUT cell, never in its PATCH cell.
    let patch = "Managing IPDR Customers › Partially Updating Customer Information";
    let put = "Managing IPDR Customers › Updating Customer Information";
    assert_eq!(matrix_cell(&html, patch, "full_update"), "fail");
    assert_ne!(matrix_cell(&html, patch, "partial_update"), "fail");
    assert_eq!(matrix_cell(&html, put, "full_update"), "fail");
    for operation in ["list", "create", "delete"] {
        assert_ne!(matrix_cell(&html, put, operation), "fail", "{operation}");
    }
    // The JSON report says where each failure was.
    let json: Value = serde_json::from_str(&read(&reports.json)).unwrap();
    let trial = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|trial| trial["name"] == "crud::put_versus_patch")
        .unwrap();
    assert_eq!(trial["failed_step"]["operation"], "full_update", "{trial}");
}

#[test]
fn observed_and_profile_differences_are_in_every_report() {
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin()).with_deviation(Deviation::PutActsLikePatch),
    );
    let (output, reports) = run_with_reports_and(&server.url(), "reports-differences", |command| {
        command.arg("full_update");
    });
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let json: Value = serde_json::from_str(&read(&reports.json)).unwrap();
    let differences: Vec<&Value> = json["trials"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|trial| trial["differences"].as_array().into_iter().flatten())
        .collect();
    let of_kind = |kind: &str| {
        differences
            .iter()
            .filter(|difference| difference["kind"] == kind)
            .count()
    };
    let (observed, snapshot) = (of_kind("observed"), of_kind("snapshot"));
    assert!(observed >= 1 && snapshot >= 1, "{differences:?}");
    for difference in &differences {
        assert!(difference["step"].as_u64().is_some(), "{difference}");
        assert!(difference["against"].as_str().is_some(), "{difference}");
        assert!(
            !difference["lines"].as_array().unwrap().is_empty(),
            "{difference}"
        );
    }
    let html = read(&reports.html);
    assert!(
        html.contains(&format!(
            "<p id=\"difference-counts\" data-observed=\"{observed}\" data-snapshot=\"{snapshot}\">"
        )),
        "{html}"
    );
    assert_eq!(
        html.matches("<tr data-kind=\"").count(),
        differences.len(),
        "one row per difference in its own section"
    );
    let markdown = read(&reports.markdown);
    assert!(
        markdown.contains(&format!(
            "{observed} observed step(s) answered unlike the reference"
        )),
        "{markdown}"
    );
    assert!(
        markdown.contains(&format!("{snapshot} step(s) differ from profile reference")),
        "{markdown}"
    );
}

#[test]
fn a_pass_with_differences_says_so_in_the_markdown_summary() {
    // Alt is conformant; where the page leaves it open it answers unlike the profile.
    let server = Server::start(
        ServerConfig::new(UsersFixture::builtin())
            .with_flavour(ipdr_conformance::reference::Flavour::Alt),
    );
    let (output, reports) = run_with_reports_and(&server.url(), "reports-alt", |command| {
        command.arg("observed::unknown_user_id::");
    });
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let markdown = read(&reports.markdown);
    assert!(
        markdown.starts_with("## ✅"),
        "the verdict stays pass:\n{markdown}"
    );
    assert!(
        markdown.contains("observed step(s) answered unlike the reference"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `observed::unknown_user_id::delete` | 1 | the reference | "),
        "{markdown}"
    );
}
