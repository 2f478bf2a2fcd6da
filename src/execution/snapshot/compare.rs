//! Comparing normalized steps: the diff by JSON pointer, the canonical form
//! binding steps are judged on, and the verdict rules.
//!
//! Rules, per step:
//! - An **observed** step (the page is silent) that differs is *reported*.
//! - A **documented** or **inferred** step is compared on its canonical
//!   form, in which what the page leaves open is made equal (see
//!   [`canonical`]); a difference that remains *fails*, and a difference
//!   the canonical form absorbs is *reported*.
//! - A step that allows a refusal (`refusal`, `success_or_refusal`) leaves
//!   the outcome or the refusal's shape open: when the two sides' outcomes
//!   differ (one accepted, one refused), or both refused, its differences
//!   are *reported*; when both accepted, it is compared like any binding step.
//! - After an observed step differs, or after a step whose outcome differs
//!   from the other side's, later differences in the scenario are
//!   *reported*, not failed: the server's state may legitimately have gone
//!   another way where the page is silent (pattern checks still judge those
//!   steps).
//! - A step with no counterpart (not in the profile: the profile took the
//!   other branch of an `only_if`, or predates the step) is *reported*.
//! - A step the target skipped (its `only_if` did not hold) has no snapshot
//!   and is not compared, whatever the profile holds for it.
//!
//! `--strict` fails on reported differences too.

use serde_json::{Map, Value};

use super::normalize::NormalizedStep;
use crate::spec::contract::{CREATE_MANDATORY_FIELDS, CUSTOMER_FIELDS};
use crate::spec::scenario::{Answer, Level};

/// One difference between two normalized documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// JSON pointer into the normalized document (`/status`, `/body/Address`, ...).
    pub pointer: String,
    /// The value on the expected side (the profile, or the `--compare-with` target); None: absent.
    pub expected: Option<Value>,
    /// The value on the target; None: absent.
    pub actual: Option<Value>,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every difference between `expected` and `actual`, by JSON pointer.
///
/// Objects are compared key by key (expected's keys first), arrays index by
/// index (extra elements are differences against an absent value).
pub fn diff(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_at(Some(expected), Some(actual), "", &mut out);
    out
}

fn diff_at(
    expected: Option<&Value>,
    actual: Option<&Value>,
    pointer: &str,
    out: &mut Vec<Difference>,
) {
    match (expected, actual) {
        (Some(Value::Object(left)), Some(Value::Object(right))) => {
            for (key, value) in left {
                diff_at(
                    Some(value),
                    right.get(key),
                    &format!("{pointer}/{}", escape(key)),
                    out,
                );
            }
            for (key, value) in right {
                if !left.contains_key(key) {
                    diff_at(
                        None,
                        Some(value),
                        &format!("{pointer}/{}", escape(key)),
                        out,
                    );
                }
            }
        }
        (Some(Value::Array(left)), Some(Value::Array(right))) => {
            for index in 0..left.len().max(right.len()) {
                diff_at(
                    left.get(index),
                    right.get(index),
                    &format!("{pointer}/{index}"),
                    out,
                );
            }
        }
        (left, right) if left == right => {}
        (left, right) => out.push(Difference {
            pointer: pointer.to_string(),
            expected: left.cloned(),
            actual: right.cloned(),
        }),
    }
}

/// The optional customer fields: Address, Email, PhoneNumber, AltPhoneNumber
/// ("Creating a New Customer": only UserID and Name are mandatory).
fn is_optional_field(key: &str) -> bool {
    key != "id" && CUSTOMER_FIELDS.contains(&key) && !CREATE_MANDATORY_FIELDS.contains(&key)
}

/// Whether a body member is one the page documents: a customer field
/// ("Response Example") or an error envelope's `status` and `message`
/// ("Error Handling").
fn is_documented_member(key: &str) -> bool {
    CUSTOMER_FIELDS.contains(&key) || key == "status" || key == "message"
}

/// The canonical form a binding step is judged on: what the page leaves
/// open made equal.
///
/// - An optional field left unset may read as `""`, `null` or be absent
///   ("All other fields ... are optional and can be omitted"; the page never
///   shows one unset): all three become absent.
/// - Members the page does not document (a timestamp, a request id) are
///   dropped: the suite's own checks let a conformant server add them.
/// - Ids are already placeholders and lists already sorted by UserID
///   (normalization): the page gives neither an id scheme nor a list order.
pub fn canonical(document: &Value) -> Value {
    let Value::Object(map) = document else {
        return document.clone();
    };
    map.iter()
        .map(|(key, value)| {
            let value = match (key.as_str(), value) {
                ("body", body) => canonical_body(body),
                ("responses", Value::Array(groups)) => {
                    Value::Array(groups.iter().map(canonical).collect())
                }
                _ => value.clone(),
            };
            (key.clone(), value)
        })
        .collect::<Map<String, Value>>()
        .into()
}

fn canonical_body(body: &Value) -> Value {
    match body {
        Value::Array(items) => Value::Array(items.iter().map(canonical_body).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, value)| {
                    let unset = value.is_null() || value.as_str() == Some("");
                    is_documented_member(key) && !(is_optional_field(key) && unset)
                })
                .map(|(key, value)| (key.clone(), canonical_body(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// How one step compares.
#[derive(Debug, Clone, PartialEq)]
pub enum StepStatus {
    /// Equal.
    Same,
    /// The other side has no such step (not in the profile, or not reached on the other target).
    Missing,
    /// Different.
    Differs(StepDifferences),
}

/// The differences of one step, split by verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct StepDifferences {
    /// Differences that fail the run (binding step, beyond the canonical form).
    pub failing: Vec<Difference>,
    /// Differences that are reported (fail only under `--strict`).
    pub reported: Vec<Difference>,
    /// When failing differences were demoted: the index of the earlier observed step that differed.
    pub after_divergence: Option<usize>,
    /// Why a step that allows a refusal was only reported: the outcome or the refusal's shape is open.
    pub open_answer: Option<OpenAnswer>,
}

/// How the two sides of a step that allows a refusal compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAnswer {
    /// One side accepted, the other refused: either is conformant.
    OutcomesDiffer,
    /// Both refused, differently: a refusal may take any shape.
    BothRefused,
}

/// Whether a normalized document claims success: HTTP 2xx and a list, or
/// an object with a string UserID (a single answer; a concurrent step never
/// does). Both sides' UserIDs are the same placeholder, so this is
/// [`crate::execution::scenario_run::answer_claims_success`] on normalized documents.
pub fn document_accepted(document: &Value) -> bool {
    let status = document.get("status").and_then(Value::as_u64);
    let body = document.get("body");
    status.is_some_and(|status| (200..300).contains(&status))
        && (body.is_some_and(Value::is_array)
            || body
                .and_then(|body| body.get("UserID"))
                .is_some_and(Value::is_string))
}

/// One step of the target and how it compares.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCheck {
    /// The target's normalized step.
    pub step: NormalizedStep,
    /// The other side's document, when there is one.
    pub expected: Option<Value>,
    /// The comparison.
    pub status: StepStatus,
}

impl StepCheck {
    /// The level this step's differences are listed under: binding steps
    /// whose differences the canonical form absorbs (or that follow an
    /// observed difference) count as observed.
    pub fn reported_level(&self) -> Level {
        match &self.status {
            StepStatus::Differs(differences) if !differences.failing.is_empty() => self.step.level,
            _ => Level::Observed,
        }
    }
}

/// A whole scenario's comparison.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScenarioCheck {
    /// One entry per step the target ran.
    pub steps: Vec<StepCheck>,
}

impl ScenarioCheck {
    /// Compares the target's `steps` with the other side: `expected(step)` is its document, if any.
    pub fn compare(
        steps: Vec<NormalizedStep>,
        expected: impl Fn(&NormalizedStep) -> Option<Value>,
    ) -> ScenarioCheck {
        let mut diverged_at: Option<usize> = None;
        let mut checks = Vec::new();
        for step in steps {
            let other = expected(&step);
            let status = match &other {
                None => StepStatus::Missing,
                Some(other) => {
                    let raw = diff(other, &step.document);
                    let open = (step.answer != Answer::AsGiven).then(|| {
                        match (document_accepted(other), document_accepted(&step.document)) {
                            (false, false) => Some(OpenAnswer::BothRefused),
                            (theirs, mine) if theirs != mine => Some(OpenAnswer::OutcomesDiffer),
                            _ => None,
                        }
                    });
                    if raw.is_empty() {
                        StepStatus::Same
                    } else if let Some(Some(open)) = open {
                        if open == OpenAnswer::OutcomesDiffer {
                            diverged_at.get_or_insert(step.index);
                        }
                        StepStatus::Differs(StepDifferences {
                            failing: Vec::new(),
                            reported: raw,
                            after_divergence: None,
                            open_answer: Some(open),
                        })
                    } else if !step.level.is_binding() {
                        diverged_at.get_or_insert(step.index);
                        StepStatus::Differs(StepDifferences {
                            failing: Vec::new(),
                            reported: raw,
                            after_divergence: None,
                            open_answer: None,
                        })
                    } else {
                        let binding = diff(&canonical(other), &canonical(&step.document));
                        let (failing, reported): (Vec<_>, Vec<_>) =
                            raw.into_iter().partition(|difference| {
                                binding
                                    .iter()
                                    .any(|kept| kept.pointer == difference.pointer)
                            });
                        match diverged_at {
                            Some(earlier) if !failing.is_empty() => {
                                StepStatus::Differs(StepDifferences {
                                    failing: Vec::new(),
                                    reported: failing.into_iter().chain(reported).collect(),
                                    after_divergence: Some(earlier),
                                    open_answer: None,
                                })
                            }
                            _ => StepStatus::Differs(StepDifferences {
                                failing,
                                reported,
                                after_divergence: None,
                                open_answer: None,
                            }),
                        }
                    }
                }
            };
            checks.push(StepCheck {
                step,
                expected: other,
                status,
            });
        }
        ScenarioCheck { steps: checks }
    }

    /// Whether a difference fails the scenario (`strict`: any difference, or a missing step).
    pub fn fails(&self, strict: bool) -> bool {
        self.steps.iter().any(|check| match &check.status {
            StepStatus::Same => false,
            StepStatus::Missing => strict,
            StepStatus::Differs(differences) => {
                !differences.failing.is_empty() || (strict && !differences.reported.is_empty())
            }
        })
    }

    /// Whether any step differs or is missing.
    pub fn has_differences(&self) -> bool {
        self.steps
            .iter()
            .any(|check| check.status != StepStatus::Same)
    }

    /// The steps that differ or are missing.
    pub fn differing(&self) -> impl Iterator<Item = &StepCheck> {
        self.steps
            .iter()
            .filter(|check| check.status != StepStatus::Same)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(index: usize, level: Level, document: Value) -> NormalizedStep {
        NormalizedStep {
            index,
            name: format!("step {index}"),
            level,
            answer: Answer::AsGiven,
            file_name: format!("s__{index:02}.snap"),
            request: "GET /".to_string(),
            document,
        }
    }

    #[test]
    fn diff_names_every_pointer() {
        let found = diff(
            &json!({"status": 200, "body": {"status": "ERROR", "list": [1, 2]}}),
            &json!({"status": 404, "body": {"error": {"code": "x"}, "list": [1]}}),
        );
        let pointers: Vec<&str> = found.iter().map(|d| d.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/status", "/body/status", "/body/list/1", "/body/error"]
        );
    }

    #[test]
    fn unset_optional_fields_are_canonicalized_on_binding_steps_only() {
        let profile = json!({"body": {"Name": "n", "Address": "", "Email": "e"}});
        let nulls = json!({"body": {"Name": "n", "Address": null, "Email": "e"}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, nulls.clone())], |_| {
            Some(profile.clone())
        });
        assert!(!check.fails(false));
        assert!(check.fails(true));
        let dropped = json!({"body": {"Name": "n", "Address": "", "Email": ""}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, dropped)], |_| {
            Some(profile.clone())
        });
        assert!(
            check.fails(false),
            "a value that became unset is a real difference"
        );
    }

    #[test]
    fn undocumented_members_are_reported_not_failed() {
        let profile =
            json!({"status": 200, "body": {"status": "ERROR", "message": "Invalid API token"}});
        let extra = json!({"status": 200, "body": {"status": "ERROR", "message": "Invalid API token", "code": 7}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, extra)], |_| {
            Some(profile.clone())
        });
        assert!(!check.fails(false));
        assert!(check.fails(true));
        let recased =
            json!({"status": 200, "body": {"status": "Error", "message": "Invalid API token"}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, recased)], |_| {
            Some(profile.clone())
        });
        assert!(
            check.fails(false),
            "a documented member's value is compared"
        );
    }

    #[test]
    fn differences_after_an_observed_difference_are_reported() {
        let steps = vec![
            step(0, Level::Observed, json!({"status": 404})),
            step(1, Level::Inferred, json!({"body": [1]})),
        ];
        let check = ScenarioCheck::compare(steps, |step| {
            Some(if step.index == 0 {
                json!({"status": 200})
            } else {
                json!({"body": []})
            })
        });
        assert!(!check.fails(false));
        let StepStatus::Differs(second) = &check.steps[1].status else {
            panic!("differs");
        };
        assert_eq!(second.after_divergence, Some(0));
    }

    fn open_step(index: usize, document: Value) -> NormalizedStep {
        NormalizedStep {
            answer: Answer::SuccessOrRefusal,
            ..step(index, Level::Inferred, document)
        }
    }

    #[test]
    fn a_step_that_may_be_refused_is_reported_when_the_outcomes_differ_and_compared_when_both_succeed(
    ) {
        let success = json!({"status": 200, "body": {"UserID": "<uid:a>", "Name": "Tab\t"}});
        let refusal = json!({"status": 422, "body": {"error": "invalid"}});
        // The profile accepted, the target refused: either is conformant, and later steps may differ.
        let steps = vec![
            open_step(0, refusal.clone()),
            step(1, Level::Inferred, json!({"body": []})),
        ];
        let check = ScenarioCheck::compare(steps, |candidate| {
            Some(if candidate.index == 0 {
                success.clone()
            } else {
                json!({"body": [{"UserID": "<uid:a>"}]})
            })
        });
        assert!(!check.fails(false));
        let StepStatus::Differs(first) = &check.steps[0].status else {
            panic!("differs");
        };
        assert_eq!(first.open_answer, Some(OpenAnswer::OutcomesDiffer));
        let StepStatus::Differs(second) = &check.steps[1].status else {
            panic!("differs");
        };
        assert_eq!(second.after_divergence, Some(0));
        // Two refusals of different shapes: reported, and later steps still judged.
        let check = ScenarioCheck::compare(vec![open_step(0, refusal.clone())], |_| {
            Some(json!({"status": 200, "body": {"status": "Error", "message": "no"}}))
        });
        assert!(!check.fails(false) && check.fails(true));
        // Both accepted: a changed value fails like on any binding step.
        let altered = json!({"status": 200, "body": {"UserID": "<uid:a>", "Name": "Tab"}});
        let check = ScenarioCheck::compare(vec![open_step(0, altered)], |_| Some(success.clone()));
        assert!(check.fails(false));
    }
}
