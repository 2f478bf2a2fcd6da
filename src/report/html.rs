//! One self-contained HTML page: a conformance matrix (one row per doc
//! section, one column per operation, coloured by verdict, with a legend),
//! the differences where the page leaves the answer open, and every trial
//! with its transcript.
//! No script, no external resource: it opens without network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use super::spool::Spool;
use super::{write_file, CompactRun, ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::trial::{
    doc_sections, DifferenceKind, RunReport, TrialRecord, TrialVerdict, DIFFERENCE_LINE,
};
use crate::spec::contract::Operation;
use crate::spec::model::operation_tag;

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
td.unsupported{background:#e0d4f4}td.skipped{background:#e6e6e6}td.none{color:#999}td.elsewhere{color:#999;background:#f6f6f6}\
p.legend{color:#555;max-width:60em}ul.differences{color:#555}\
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
    let by_level: Vec<String> = report
        .counts_by_level()
        .iter()
        .map(|(level, counts)| format!("{level} {}", counts.nonzero()))
        .collect();
    let _ = writeln!(
        out,
        "<p id=\"by-level\">by level: {}</p>",
        escape(&by_level.join(" · "))
    );
    render_matrix(report, &mut out);
    render_differences(report, &mut out);
    let _ = writeln!(out, "<h2>Trials</h2>");
    out
}

/// The doc sections in the page's order; rows follow it (others after, by name).
const PAGE_ORDER: [&str; 11] = [
    "Generating API Key",
    "Authentication",
    "Managing IPDR Customers",
    "Managing IPDR Customers › Retrieving Customer List",
    "Managing IPDR Customers › Creating a New Customer",
    "Managing IPDR Customers › Updating Customer Information",
    "Managing IPDR Customers › Partially Updating Customer Information",
    "Managing IPDR Customers › Deleting a Customer",
    "Error Handling › Invalid API Token",
    "Error Handling › Invalid Context Name",
    "Error Handling › Unauthorized Context Access",
];

/// What one trial says about one (section, operation) cell.
enum CellEntry<'a> {
    /// Judged here: the trial's verdict (a failure only where it failed).
    Judged(&'a TrialRecord, &'a TrialVerdict),
    /// Failed or errored at another operation or section: named, not counted.
    Elsewhere(&'a TrialRecord, String),
}

/// The operations a trial exercises: its operation tags (or its name's last segment).
fn operations_of(trial: &TrialRecord) -> Vec<&'static str> {
    Operation::ALL
        .into_iter()
        .map(operation_tag)
        .filter(|tag| {
            trial.tags.iter().any(|t| t == tag) || trial.name.ends_with(&format!("::{tag}"))
        })
        .collect()
}

/// Each (section, operation) cell a trial belongs to, with what it says
/// there. A failed trial counts as failed only at the operation its
/// failing step exercised, and only in the row of the section documenting
/// that operation when it cites it (a PUT deviation leaves the PATCH
/// section's PATCH cell alone); elsewhere it is named, not counted.
fn place<'a>(trial: &'a TrialRecord) -> Vec<(String, &'static str, CellEntry<'a>)> {
    let mut sections = trial.sections();
    // A property trial cites the whole API; its failure belongs to the broken rule's section.
    let broken = trial
        .failed_step
        .as_ref()
        .filter(|_| trial.verdict.is_failure())
        .and_then(|step| step.section.as_deref())
        .map(doc_sections)
        .unwrap_or_default();
    for section in &broken {
        if !sections.contains(section) {
            sections.push(section.clone());
        }
    }
    let mut operations = operations_of(trial);
    let failed_at = trial
        .failed_step
        .as_ref()
        .filter(|_| trial.verdict.is_failure())
        .and_then(|step| step.operation.as_deref())
        .and_then(|tag| {
            Operation::ALL
                .into_iter()
                .find(|operation| operation_tag(*operation) == tag)
        });
    let Some(failed_at) = failed_at else {
        return sections
            .iter()
            .flat_map(|section| {
                operations.iter().map(move |operation| {
                    (
                        section.clone(),
                        *operation,
                        CellEntry::Judged(trial, &trial.verdict),
                    )
                })
            })
            .collect();
    };
    let failed_tag = operation_tag(failed_at);
    if !operations.contains(&failed_tag) {
        operations.push(failed_tag);
    }
    let home: Vec<&String> = match sections
        .iter()
        .find(|section| section.as_str() == failed_at.citation())
    {
        Some(section) => vec![section],
        None if !broken.is_empty() => sections
            .iter()
            .filter(|section| broken.contains(section))
            .collect(),
        None => sections.iter().collect(),
    };
    let step = trial
        .failed_step
        .as_ref()
        .and_then(|step| step.step)
        .map(|step| format!(" (step {step})"))
        .unwrap_or_default();
    let mut placed = Vec::new();
    for section in &sections {
        for operation in &operations {
            let entry = if *operation == failed_tag && home.contains(&section) {
                CellEntry::Judged(trial, &trial.verdict)
            } else {
                CellEntry::Elsewhere(
                    trial,
                    format!("{} at {}{step}", trial.verdict.name(), failed_at.method()),
                )
            };
            placed.push((section.clone(), *operation, entry));
        }
    }
    placed
}

/// The sort key of a row: the page's order, then the name.
fn row_order(section: &str) -> (usize, String) {
    let at = PAGE_ORDER
        .iter()
        .position(|known| *known == section)
        .unwrap_or(PAGE_ORDER.len());
    (at, section.to_string())
}

const LEGEND: &str = "<table id=\"legend\"><caption>Legend</caption><tbody>\
<tr><td class=\"pass\">n/m</td><td>every trial judged here passed (n passed of m judged)</td></tr>\
<tr><td class=\"fail\">n/m</td><td>a trial failed at this operation: its failing step exercised it</td></tr>\
<tr><td class=\"error\">n/m</td><td>a trial could not be checked here (harness or network)</td></tr>\
<tr><td class=\"unsupported\">n/m</td><td>the target lacks something declared optional</td></tr>\
<tr><td class=\"skipped\">n/m</td><td>not run: the configuration lacks something (a second user, --deep)</td></tr>\
<tr><td class=\"elsewhere\">—</td><td>no trial judged here: the trials that touch it failed at another operation (named in the tooltip)</td></tr>\
<tr><td class=\"none\">—</td><td>no trial of this section exercises this operation</td></tr>\
</tbody></table>\n\
<p class=\"legend\">One row per doc section a trial cites (a trial citing several sections is in each row); one column per operation. \
A cell's colour is the worst verdict judged there. A trial that failed counts only in the cell of the operation its failing step exercised \
(in the row of the section that documents that operation, when the trial cites it); in its other cells it is named in the tooltip, not counted.</p>\n";

fn render_matrix(report: &RunReport, out: &mut String) {
    // section → operation → entries
    let mut cells: BTreeMap<(usize, String), BTreeMap<&str, Vec<CellEntry>>> = BTreeMap::new();
    for trial in &report.trials {
        for (section, operation, entry) in place(trial) {
            cells
                .entry(row_order(&section))
                .or_default()
                .entry(operation)
                .or_default()
                .push(entry);
        }
    }
    out.push_str(
        "<h2>Conformance matrix</h2>\n<table id=\"matrix\"><thead><tr><th>doc section</th>",
    );
    for operation in Operation::ALL {
        let _ = write!(out, "<th>{}</th>", operation_tag(operation));
    }
    out.push_str("</tr></thead><tbody>\n");
    for ((_, section), row) in &cells {
        let _ = write!(
            out,
            "<tr data-section=\"{}\"><th>{}</th>",
            escape(section),
            escape(section)
        );
        for operation in Operation::ALL {
            let tag = operation_tag(operation);
            let entries = row.get(tag).map(Vec::as_slice).unwrap_or_default();
            let judged: Vec<&TrialVerdict> = entries
                .iter()
                .filter_map(|entry| match entry {
                    CellEntry::Judged(_, verdict) => Some(*verdict),
                    CellEntry::Elsewhere(..) => None,
                })
                .collect();
            let title: Vec<String> = entries
                .iter()
                .map(|entry| match entry {
                    CellEntry::Judged(trial, verdict) => {
                        format!("{}: {}", trial.name, verdict.name())
                    }
                    CellEntry::Elsewhere(trial, at) => format!("{}: {at}", trial.name),
                })
                .collect();
            match judged.iter().max_by_key(|verdict| severity(verdict)) {
                Some(worst) => {
                    let passed = judged
                        .iter()
                        .filter(|verdict| ***verdict == TrialVerdict::Pass)
                        .count();
                    let _ = write!(
                        out,
                        "<td class=\"{}\" data-operation=\"{tag}\" data-verdict=\"{}\" title=\"{}\">{passed}/{}</td>",
                        worst.name(),
                        worst.name(),
                        escape(&title.join("\n")),
                        judged.len()
                    );
                }
                None if !entries.is_empty() => {
                    let _ = write!(
                        out,
                        "<td class=\"elsewhere\" data-operation=\"{tag}\" data-verdict=\"elsewhere\" title=\"{}\">—</td>",
                        escape(&title.join("\n"))
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
    out.push_str(LEGEND);
}

/// The differences section: every step that answered otherwise than
/// expected without failing (observed steps unlike the reference, steps
/// unlike the snapshot profile), counted, then one row each.
fn render_differences(report: &RunReport, out: &mut String) {
    let differences = report.differences();
    let observed = differences
        .iter()
        .filter(|(_, difference)| difference.kind == DifferenceKind::Observed)
        .count();
    let snapshot = differences.len() - observed;
    let _ = writeln!(
        out,
        "<h2 id=\"differences\">Differences where the page leaves the answer open</h2>\n<p id=\"difference-counts\" data-observed=\"{observed}\" data-snapshot=\"{snapshot}\">{observed} observed step(s) answered unlike the reference · {snapshot} step(s) differ from the snapshot profile (or --compare-with). Reported; a snapshot difference fails only under --strict.</p>"
    );
    if differences.is_empty() {
        return;
    }
    out.push_str("<table id=\"difference-list\"><thead><tr><th>trial</th><th>step</th><th>level</th><th>compared with</th><th>why</th><th>differences</th></tr></thead><tbody>\n");
    for (trial, difference) in differences {
        let _ = writeln!(
            out,
            "<tr data-kind=\"{}\" data-trial=\"{}\" data-fails=\"{}\"><td><code>{}</code></td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            difference.kind.name(),
            escape(trial),
            difference.fails,
            escape(trial),
            difference.step,
            escape(&format!("{:?}", difference.name)),
            escape(&difference.level),
            escape(&difference.against),
            escape(&difference.why),
            escape(&difference.lines.join("\n"))
        );
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
    if !trial.differences.is_empty() {
        // Reported, not failures (unless under --strict): see the differences section.
        out.push_str("<ul class=\"differences\">");
        for difference in &trial.differences {
            let _ = write!(
                out,
                "<li data-kind=\"{}\" data-step=\"{}\">differs from {}: {}</li>",
                difference.kind.name(),
                difference.step,
                escape(&difference.against),
                escape(&difference.line(DIFFERENCE_LINE))
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
