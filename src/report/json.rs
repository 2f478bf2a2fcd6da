//! `--report-json`: every trial with verdict, level, citation, timing and
//! transcript (bodies as bounded excerpts). Each trial is spooled to disk as
//! it finishes; the file is assembled in name order when the run ends.

use std::io::Write as _;
use std::path::PathBuf;

use super::spool::Spool;
use super::{write_file, ReportError, Reporter};
use crate::outcome::event::Event;
use crate::outcome::redact::Redactor;
use crate::outcome::trial::{millis, RunReport};

/// Writes the JSON report.
#[derive(Debug)]
pub struct JsonReporter {
    path: PathBuf,
    spool: Option<Spool>,
    run_id: String,
    target: String,
    redactor: Redactor,
}

impl JsonReporter {
    /// A JSON report written to `path`.
    pub fn new(path: PathBuf) -> JsonReporter {
        JsonReporter {
            path,
            spool: None,
            run_id: String::new(),
            target: String::new(),
            redactor: Redactor::default(),
        }
    }
}

/// `text` with every line indented by `by` spaces (a trial inside the `trials` list).
fn indented(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for (at, line) in text.lines().enumerate() {
        if at > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    out
}

impl Reporter for JsonReporter {
    fn event(&mut self, event: &Event) -> Result<(), ReportError> {
        match event {
            Event::RunStarted(run) => {
                self.run_id = run.run_id.clone();
                self.target = run.target.clone();
                self.redactor = run.redactor.clone();
                self.spool = Some(Spool::new().map_err(|error| {
                    ReportError::new(&self.path, format!("spooling trials: {error}"))
                })?);
            }
            Event::TrialFinished(finished) => {
                if let Some(spool) = &mut self.spool {
                    let json = serde_json::to_string_pretty(&finished.record)
                        .map_err(|error| ReportError::new(&self.path, error))?;
                    spool
                        .push(
                            &finished.record.name,
                            &self.redactor.text(&indented(&json, 4)),
                        )
                        .map_err(|error| {
                            ReportError::new(&self.path, format!("spooling trials: {error}"))
                        })?;
                }
            }
            Event::RunFinished(end) => {
                let mut not_run = end.not_run.clone();
                not_run.sort();
                let head = RunReport {
                    run_id: self.run_id.clone(),
                    target: self.target.clone(),
                    duration_ms: millis(end.duration),
                    interrupted: end.interrupted,
                    not_run,
                    trials: Vec::new(),
                };
                // serde's own layout, with the spooled trials in place of the empty list.
                let head = serde_json::to_string_pretty(&head)
                    .map_err(|error| ReportError::new(&self.path, error))?;
                let head = self.redactor.text(&head);
                let Some(open) = head.strip_suffix("[]\n}") else {
                    return Err(ReportError::new(&self.path, "unexpected report layout"));
                };
                let mut spool = self.spool.take();
                write_file(&self.path, |out| {
                    match spool.as_mut().filter(|spool| !spool.is_empty()) {
                        Some(spool) => {
                            out.write_all(open.as_bytes())?;
                            out.write_all(b"[\n")?;
                            spool.copy_sorted(out, ",\n")?;
                            out.write_all(b"\n  ]\n}\n")
                        }
                        None => out.write_all(format!("{head}\n").as_bytes()),
                    }
                })?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::trial::{TrialRecord, TrialVerdict};

    #[test]
    fn the_spooled_report_reads_as_serde_writes_it() {
        let trial = |name: &str| TrialRecord {
            name: name.to_string(),
            level: "documented".to_string(),
            citation: "Error Handling".to_string(),
            tags: vec!["list".to_string()],
            verdict: TrialVerdict::Pass,
            duration_ms: 1.5,
            message: Some("two\nlines".to_string()),
            transcript: Vec::new(),
            skipped_steps: Vec::new(),
            failed_step: None,
            differences: Vec::new(),
            artifacts: Vec::new(),
        };
        let whole = RunReport {
            run_id: "r".into(),
            target: "http://t".into(),
            duration_ms: 2.0,
            interrupted: false,
            not_run: Vec::new(),
            trials: vec![trial("a"), trial("b")],
        };
        let expected = serde_json::to_string_pretty(&whole).unwrap() + "\n";
        let mut spool = Spool::new().unwrap();
        for record in [trial("b"), trial("a")] {
            let json = serde_json::to_string_pretty(&record).unwrap();
            spool.push(&record.name, &indented(&json, 4)).unwrap();
        }
        let head = serde_json::to_string_pretty(&RunReport {
            trials: Vec::new(),
            ..whole.clone()
        })
        .unwrap();
        let mut out = head.strip_suffix("[]\n}").unwrap().as_bytes().to_vec();
        out.extend_from_slice(b"[\n");
        spool.copy_sorted(&mut out, ",\n").unwrap();
        out.extend_from_slice(b"\n  ]\n}\n");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
