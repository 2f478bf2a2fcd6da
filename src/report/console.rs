//! What a person reads on the console: failure explanations and the
//! observed-behaviour summary.

use std::fmt::Write as _;

use serde_json::Value;

use super::curl::curl_command_redacted;
use super::redact::Redactor;
use crate::execution::client::Exchange;
use crate::execution::scenario_run::{ScenarioOutcome, StepOutcome, Verdict};
use crate::spec::load::LoadedScenario;
use crate::spec::scenario::Answer;

/// Strings longer than this are shortened in displayed bodies.
const LONG_STRING: usize = 120;
/// Displayed raw (non-JSON) bodies are cut at this many characters.
const LONG_BODY: usize = 2000;

/// A copy of `value` with long strings shortened, for display only.
pub fn abbreviate(value: &Value) -> Value {
    match value {
        Value::String(text) if text.chars().count() > LONG_STRING => {
            let head: String = text.chars().take(40).collect();
            Value::String(format!("{head}… ({} chars)", text.chars().count()))
        }
        Value::Array(items) => Value::Array(items.iter().map(abbreviate).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), abbreviate(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(&abbreviate(value)).unwrap_or_else(|_| value.to_string())
}

/// One line describing a response, e.g. `HTTP 200, application/json`.
fn response_line(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(response) => format!(
            "HTTP {}, {}",
            response.status,
            response
                .content_type
                .as_deref()
                .unwrap_or("no Content-Type")
        ),
        Err(error) => format!("no response: {error}"),
    }
}

fn response_body(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(response) => match &response.json {
            Some(json) => pretty(json),
            None if response.body.is_empty() => "(empty body)".to_string(),
            None => {
                let cut: String = response.body.chars().take(LONG_BODY).collect();
                if cut.len() < response.body.len() {
                    format!("{cut}… ({} bytes)", response.body.len())
                } else {
                    cut
                }
            }
        },
        Err(_) => "(none)".to_string(),
    }
}

/// The exchange to show for a step: the first one sent (concurrent steps say how many there were).
fn shown_exchange(step: &StepOutcome) -> Option<&Exchange> {
    step.exchanges.first()
}

/// What a step expected, in one line: the answer mode and, for a success, status and content type.
fn expected_line(step: &StepOutcome) -> String {
    let json = if step.expected_json {
        ", application/json"
    } else {
        ""
    };
    match step.answer {
        Answer::AsGiven => format!("HTTP {}{json}", step.expected_status),
        Answer::Refusal => {
            "a refusal (any status and body, but not a success: HTTP 2xx with the customer object of the UserID sent, or with an array for a list)".to_string()
        }
        Answer::SuccessOrRefusal => format!(
            "a refusal (any status and body), or a success exactly like this: HTTP {}{json}",
            step.expected_status
        ),
    }
}

/// Explains a failed or errored scenario: what was sent, what came back, what was expected, and the diff.
pub fn render_failure(
    loaded: &LoadedScenario,
    outcome: &ScenarioOutcome,
    redactor: &Redactor,
) -> String {
    let scenario = &loaded.scenario;
    let mut out = String::new();
    let _ = writeln!(out, "{} · {}", scenario.level, scenario.citation);
    let _ = writeln!(out, "scenario file: specs/{}", loaded.source);
    let failing = match outcome.verdict {
        Verdict::Failed(index) | Verdict::Errored(index) => index,
        _ => return out,
    };
    for step in &outcome.steps[..failing] {
        if let Some(reason) = &step.skipped {
            let _ = writeln!(
                out,
                "  step {} {:?}: skipped ({reason})",
                step.index + 1,
                step.name
            );
        } else if let Some(exchange) = shown_exchange(step) {
            let _ = writeln!(
                out,
                "  step {} {:?}: {} {} → {}",
                step.index + 1,
                step.name,
                exchange.request.method,
                exchange.request.url,
                response_line(exchange)
            );
        }
    }
    let step = &outcome.steps[failing];
    let verb = if !step.leaks.is_empty() {
        "failed the security check (binding at every level)"
    } else if step.problem.is_some() {
        "could not be checked"
    } else {
        "did not meet its expectation"
    };
    let _ = writeln!(
        out,
        "\nstep {}/{} {:?} ({}) {verb}",
        failing + 1,
        scenario.steps.len(),
        step.name,
        step.level
    );
    for leak in &step.leaks {
        let _ = writeln!(out, "security: {leak}; a response must never carry a token");
    }
    if let Some(problem) = &step.problem {
        let _ = writeln!(out, "problem: {problem}");
    }
    if let Some(exchange) = shown_exchange(step) {
        if step.exchanges.len() > 1 {
            let _ = writeln!(
                out,
                "(sent {} copies at once; the first is shown)",
                step.exchanges.len()
            );
        }
        let _ = writeln!(
            out,
            "\nrequest:\n{}",
            indent(&curl_command_redacted(&exchange.request, redactor))
        );
        let _ = writeln!(out, "expected: {}", expected_line(step));
        if let Some(body) = &step.expected_body {
            out.push_str(&indent(&pretty(body)));
        }
        let _ = writeln!(out, "\nactual: {}", response_line(exchange));
        out.push_str(&indent(&response_body(exchange)));
    }
    if !step.mismatches.is_empty() {
        let _ = writeln!(out, "\ndiff (by JSON pointer):");
        for mismatch in &step.mismatches {
            let _ = writeln!(
                out,
                "  {}: expected {}, got {}",
                mismatch.pointer, mismatch.expected, mismatch.actual
            );
        }
    }
    redactor.text(out.trim_end())
}

/// One line per observed step: what the target did where the page is silent.
pub fn render_observations(
    loaded: &LoadedScenario,
    outcome: &ScenarioOutcome,
    redactor: &Redactor,
) -> Vec<String> {
    outcome
        .steps
        .iter()
        // A skipped step observed nothing.
        .filter(|step| !step.level.is_binding() && !step.is_skipped())
        .map(|step| {
            let answer = step
                .exchanges
                .first()
                .map(|exchange| {
                    let body = match &exchange.response {
                        Ok(response) => match &response.json {
                            Some(json) => abbreviate(json).to_string(),
                            None => {
                                format!("{:?}", response.body.chars().take(80).collect::<String>())
                            }
                        },
                        Err(_) => String::new(),
                    };
                    format!("{} {body}", response_line(exchange))
                })
                .unwrap_or_else(|| "not sent".to_string());
            let verdict = if step.met() {
                "as the reference".to_string()
            } else {
                let first = step
                    .mismatches
                    .first()
                    .map(|mismatch| {
                        format!(
                            " at {}: expected {}, got {}",
                            mismatch.pointer, mismatch.expected, mismatch.actual
                        )
                    })
                    .or_else(|| step.problem.clone().map(|problem| format!(": {problem}")))
                    .unwrap_or_default();
                format!("differs from the reference{first}")
            };
            redactor.text(&format!(
                "{} · step {} {:?}: {answer} ({verdict})",
                loaded.scenario.name,
                step.index + 1,
                step.name
            ))
        })
        .collect()
}
