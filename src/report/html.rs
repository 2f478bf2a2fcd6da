//! One self-contained HTML page: a conformance matrix (doc sections by
//! operation, coloured by verdict) and every trial with its transcript.
//! No script, no external resource: it opens without network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use super::spool::Spool;
use super::{write_file, CompactRun, ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::trial::{RunReport, TrialRecord, TrialVerdict};
use crate::spec::contract::Operation;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The operation names used as matrix columns (the scenario tag spelling).
fn operation_tag(operation: Operation) -> &'static str {
    match operation {
        Operation::List => "list",
        Operation::Create => "create",
        Operation::FullUpdate => "full_update",
        Operation::PartialUpdate => "partial_update",
        Operation::Delete => "delete",
    }
}

/// Severity for colouring a cell by its worst trial.
fn severity(verdict: &TrialVerdict) -> u8 {
    match verdict {
        TrialVerdict::Fail => 4,
        TrialVerdict::Error { .. } => 3,
        TrialVerdict::Unsupported { .. } => 2,
        TrialVerdict::Pass => 1,
        TrialVerdict::Skipped { .. } => 0,
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left}\
td.pass{background:#c8efc8}td.fail{background:#f4b6b6}td.error{background:#f7d59b}\
td.unsupported{background:#e0d4f4}td.skipped{background:#e6e6e6}td.none{color:#999}\
details.trial{margin:.3em 0;padding:.2em .5em;border-left:.4em solid #bbb}\
details.pass{border-color:#5cb85c}details.fail{border-color:#d9534f}details.error{border-color:#f0ad4e}\
details.skipped,details.unsupported{border-color:#999}ul.skipped-steps{color:#666}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}";

/// The report as a self-contained HTML page.
pub fn render(report: &RunReport) -> String {
    let mut out = head(report);
    for trial in &report.trials {
        out.push_str(&trial_section(trial));
    }
    out.push_str(FOOT);
    out
}

/// The end of the page.
pub const FOOT: &str = "</body></html>\n";

/// The page up to the trials: title, counts, interruption, the matrix (from
/// `report`'s trials, transcripts not needed).
pub fn head(report: &RunReport) -> String {
    let counts = report.counts();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>IPDR conformance report</title><style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(out, "<h1>IPDR conformance: {}</h1>", escape(&report.target));
    let _ = writeln!(
        out,
        "<p id=\"summary\" data-pass=\"{}\" data-fail=\"{}\" data-error=\"{}\" data-skipped=\"{}\" data-unsupported=\"{}\">run {} · {} pass · {} fail · {} error · {} skipped · {} unsupported · {:.0} ms</p>",
        counts.pass, counts.fail, counts.error, counts.skipped, counts.unsupported,
        escape(&report.run_id), counts.pass, counts.fail, counts.error, counts.skipped, counts.unsupported, report.duration_ms
    );
    if report.interrupted {
        let _ = writeln!(
            out,
            "<p id=\"interrupted\" data-not-run=\"{}\"><strong>Interrupted</strong> (Ctrl-C): the trials done so far; {} trial(s) not run: {}</p>",
            report.not_run.len(),
            report.not_run.len(),
            escape(&report.not_run.join(", "))
        );
    }
    render_matrix(report, &mut out);
    let _ = writeln!(out, "<h2>Trials</h2>");
    out
}

fn render_matrix(report: &RunReport, out: &mut String) {
    // section → operation → trials
    let mut cells: BTreeMap<&str, BTreeMap<&str, Vec<&TrialRecord>>> = BTreeMap::new();
    for trial in &report.trials {
        let row = cells.entry(trial.section()).or_default();
        for operation in Operation::ALL {
            let tag = operation_tag(operation);
            if trial.tags.iter().any(|t| t == tag) || trial.name.ends_with(&format!("::{tag}")) {
                row.entry(tag).or_default().push(trial);
            }
        }
    }
    out.push_str(
        "<h2>Conformance matrix</h2>\n<table id=\"matrix\"><thead><tr><th>doc section</th>",
    );
    for operation in Operation::ALL {
        let _ = write!(out, "<th>{}</th>", operation_tag(operation));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (section, row) in &cells {
        let _ = write!(
            out,
            "<tr data-section=\"{}\"><th>{}</th>",
            escape(section),
            escape(section)
        );
        for operation in Operation::ALL {
            let tag = operation_tag(operation);
            match row.get(tag) {
                Some(trials) => {
                    let worst = trials
                        .iter()
                        .map(|trial| &trial.verdict)
                        .max_by_key(|verdict| severity(verdict))
                        .expect("non-empty");
                    let passed = trials
                        .iter()
                        .filter(|trial| trial.verdict == TrialVerdict::Pass)
                        .count();
                    let names: Vec<String> =
                        trials.iter().map(|trial| trial.name.clone()).collect();
                    let _ = write!(
                        out,
                        "<td class=\"{}\" data-operation=\"{tag}\" data-verdict=\"{}\" title=\"{}\">{passed}/{}</td>",
                        worst.name(),
                        worst.name(),
                        escape(&names.join("\n")),
                        trials.len()
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "<td class=\"none\" data-operation=\"{tag}\" data-verdict=\"none\">—</td>"
                    );
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// One trial's section: verdict, message, skipped steps, transcript.
pub fn trial_section(trial: &TrialRecord) -> String {
    let mut out = String::new();
    render_trial(trial, &mut out);
    out
}

fn render_trial(trial: &TrialRecord, out: &mut String) {
    let verdict = trial.verdict.name();
    let open = if matches!(
        trial.verdict,
        TrialVerdict::Fail | TrialVerdict::Error { .. }
    ) {
        " open"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<details class=\"trial {verdict}\" data-name=\"{}\" data-verdict=\"{verdict}\"{open}><summary>[{verdict}] {} · <code>{}</code> — {} ({:.1} ms)</summary>",
        escape(&trial.name),
        escape(&trial.level),
        escape(&trial.name),
        escape(&trial.citation),
        trial.duration_ms
    );
    match &trial.verdict {
        TrialVerdict::Skipped { reason }
        | TrialVerdict::Unsupported { reason }
        | TrialVerdict::Error { reason } => {
            let _ = writeln!(out, "<p>{}</p>", escape(reason));
        }
        TrialVerdict::Pass | TrialVerdict::Fail => {}
    }
    if let Some(message) = &trial.message {
        let _ = writeln!(out, "<pre class=\"message\">{}</pre>", escape(message));
    }
    if !trial.skipped_steps.is_empty() {
        // Neither passed nor failed: the branch its condition names was not taken.
        out.push_str("<ul class=\"skipped-steps\">");
        for skipped in &trial.skipped_steps {
            let _ = write!(
                out,
                "<li data-step=\"{}\">step {} {} not run: {}</li>",
                skipped.step,
                skipped.step,
                escape(&format!("{:?}", skipped.name)),
                escape(&skipped.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    if !trial.transcript.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"transcript\"><summary>transcript ({} exchanges)</summary>",
            trial.transcript.len()
        );
        for exchange in &trial.transcript {
            let request = exchange
                .request_body
                .as_ref()
                .map(|body| body.to_string())
                .unwrap_or_default();
            let excerpt = exchange
                .response_body_bytes
                .map(|bytes| format!(" (excerpt of a {bytes}-byte body)"))
                .unwrap_or_default();
            let response = match (&exchange.status, &exchange.transport_error) {
                (Some(status), _) => format!(
                    "HTTP {status} {}{excerpt}\n{}",
                    exchange.content_type.as_deref().unwrap_or(""),
                    exchange
                        .response_body
                        .as_ref()
                        .map(|body| serde_json::to_string_pretty(body).unwrap_or_default())
                        .unwrap_or_default()
                ),
                (None, Some(error)) => format!("no response: {error}"),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "<pre>{} {}\n{}\n→ {}</pre>",
                escape(&exchange.method),
                escape(&exchange.url),
                escape(&request),
                escape(&response)
            );
        }
        out.push_str("</details>\n");
    }
    out.push_str("</details>\n");
}

/// Writes the HTML page: each trial's section is spooled as it finishes,
/// the page assembled (matrix first) when the run ends.
#[derive(Debug)]
pub struct HtmlReporter {
    path: PathBuf,
    run: CompactRun,
    spool: Option<Spool>,
}

impl HtmlReporter {
    /// An HTML page written to `path`.
    pub fn new(path: PathBuf) -> HtmlReporter {
        HtmlReporter {
            path,
            run: CompactRun::default(),
            spool: None,
        }
    }
}

impl Reporter for HtmlReporter {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted(_) => {
                self.spool = Some(Spool::new().map_err(|error| {
                    ReportError::new(&self.path, format!("spooling trials: {error}"))
                })?);
            }
            Event::TrialFinished(finished) => {
                if let Some(spool) = &mut self.spool {
                    let section = self.run.redact(&trial_section(&finished.record));
                    spool
                        .push(&finished.record.name, &section)
                        .map_err(|error| {
                            ReportError::new(&self.path, format!("spooling trials: {error}"))
                        })?;
                }
            }
            _ => {}
        }
        if let Some(report) = self.run.event(event) {
            let head = self.run.redact(&head(&report));
            let mut spool = self.spool.take();
            write_file(&self.path, |out| {
                out.write_all(head.as_bytes())?;
                if let Some(spool) = &mut spool {
                    spool.copy_sorted(out, "")?;
                }
                out.write_all(FOOT.as_bytes())
            })?;
        }
        Ok(())
    }
}
