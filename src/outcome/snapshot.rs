//! Snapshot results: normalized steps, and comparing them (the diff by JSON
//! pointer, the canonical form, and the verdict rule). Normalizing and
//! recording live in `execution::snapshot`; showing them in
//! `report::snapshot_diff`.
//!
//! The verdict: **without `--strict`, a snapshot difference never fails a
//! trial**; it is reported. The scenario's own checks, read from the page,
//! are the only binding oracle: a profile records one server's answers,
//! and where the page leaves an answer open (check order, a refusal's
//! shape, ...) another server may answer otherwise and be conformant.
//! With `--strict`, every difference fails, and so does a step with no
//! counterpart.
//!
//! For the reader, each differing step says why it may differ:
//! - an **observed** step: the page is silent;
//! - a step that allows a refusal (`refusal`, `success_or_refusal`): one
//!   side accepted and the other refused, or both refused differently
//!   (when both accepted, it is sorted like any step of its level);
//! - a **documented** or **inferred** step: differences the canonical form
//!   absorbs (see [`canonical`]) are in what the page leaves open; those it
//!   keeps are "beyond the canonical form", judged by the step's own checks
//!   only, and the step is listed at its own level;
//! - after an observed step differed, or a step whose outcome differed,
//!   later differences in the scenario follow that divergence: the state
//!   may have gone another way where the page is silent.
//!
//! A step with no counterpart (the profile took the other branch of an
//! `only_if`, or predates the step) is reported as missing. A step the
//! target skipped (its `only_if` did not hold) has no snapshot and is not
//! compared, whatever the profile holds for it.

use serde_json::{Map, Value};

use crate::spec::contract::{CREATE_MANDATORY_FIELDS, CUSTOMER_FIELDS};

/// Where profiles live by default, relative to the working directory.
pub const DEFAULT_SNAPSHOTS_DIR: &str = "snapshots";
use crate::spec::scenario::{Answer, Level};

/// One step's responses, normalized, with what names it.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedStep {
    /// 0-based position in the scenario.
    pub index: usize,
    /// The step's name.
    pub name: String,
    /// The level the step is checked at.
    pub level: Level,
    /// Which answers the step allows: where a refusal is allowed, the page leaves the outcome open.
    pub answer: Answer,
    /// The snapshot file name (`execution::snapshot::snapshot_file_name`).
    pub file_name: String,
    /// The request as the scenario writes it, e.g. `PUT /api/ipdrcustomers/${uid:a}`.
    pub request: String,
    /// The normalized responses.
    pub document: Value,
}

/// How the two sides of a comparison are named in output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparand {
    /// What the target is compared with: `profile reference`, `--compare-with URL`.
    pub title: String,
    /// The same, short, for lines about one step: `profile reference`, `--compare-with`.
    pub short: String,
    /// The expected side in diff lines: `profile`, `compare-with`.
    pub expected: String,
    /// The target's side in diff lines: `got`, `target`.
    pub actual: String,
    /// Why a step has no counterpart.
    pub missing: String,
}

impl Comparand {
    /// A profile.
    pub fn profile(name: &str) -> Comparand {
        Comparand {
            title: format!("profile {name}"),
            short: format!("profile {name}"),
            expected: "profile".to_string(),
            actual: "got".to_string(),
            missing: format!("no snapshot in profile {name}"),
        }
    }

    /// A second target.
    pub fn target(url: &str) -> Comparand {
        Comparand {
            title: format!("--compare-with {url}"),
            short: "--compare-with".to_string(),
            expected: "compare-with".to_string(),
            actual: "target".to_string(),
            missing: "not reached on --compare-with (a step before it failed there)".to_string(),
        }
    }
}

/// One pending change of a profile.
#[derive(Debug, Clone)]
pub struct PendingSnapshot {
    /// The snapshot file name (without `.new`).
    pub file_name: String,
    /// The differences from the committed snapshot; None when the snapshot is new.
    pub differences: Option<Vec<Difference>>,
}

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

/// Displayed values are cut at this many characters.
const LONG_VALUE: usize = 160;

/// A normalized-document pointer as people read it: `(HTTP status)`,
/// `(Content-Type)`, `(body)`, or a pointer into the response body.
pub fn pointer_label(pointer: &str) -> String {
    fn single(pointer: &str) -> Option<String> {
        Some(match pointer {
            "/status" => "(HTTP status)".to_string(),
            "/content_type" => "(Content-Type)".to_string(),
            "/body" => "(body)".to_string(),
            "/body_text" => "(body, not JSON)".to_string(),
            "/no_response" => "(no response)".to_string(),
            "/copies" => "(copies)".to_string(),
            other => return other.strip_prefix("/body").map(str::to_string),
        })
    }
    if let Some(rest) = pointer.strip_prefix("/responses/") {
        let (group, inner) = rest.split_once('/').unwrap_or((rest, ""));
        let group = group
            .parse::<usize>()
            .map(|index| format!("(response group {})", index + 1))
            .unwrap_or_else(|_| format!("(response group {group})"));
        // A folded line names every group: `(response group *)`.
        return match single(&format!("/{inner}")) {
            Some(label) if !inner.is_empty() => format!("{group} {label}"),
            _ => group,
        };
    }
    single(pointer).unwrap_or_else(|| pointer.to_string())
}

/// A value as shown in a diff line; `(absent)` for none.
pub fn value_text(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_string();
    };
    let text = value.to_string();
    let count = text.chars().count();
    if count > LONG_VALUE {
        let head: String = text.chars().take(LONG_VALUE / 2).collect();
        format!("{head}… ({count} chars)")
    } else {
        text
    }
}

impl Difference {
    /// `/status: profile "ERROR", got "Error"`.
    pub fn line(&self, comparand: &Comparand) -> String {
        format!(
            "{}: {} {}, {} {}",
            pointer_label(&self.pointer),
            comparand.expected,
            value_text(self.expected.as_ref()),
            comparand.actual,
            value_text(self.actual.as_ref())
        )
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every difference between `expected` and `actual`, by JSON pointer.
///
/// Objects are compared key by key (expected's keys first); in arrays each
/// element is compared with the one of the same UserID ([`diff_list`]), so
/// a record one side lacks is one difference, not a shift of every later
/// index; elements without a UserID index by index (an extra element is a
/// difference against an absent value).
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
            let before = out.len();
            diff_list(left, right, pointer, out);
            // Pairing by UserID never hides a difference: two lists that
            // differ only in order still differ, index by index.
            if out.len() == before && left != right {
                diff_by_index(left, right, pointer, out);
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

fn diff_by_index(left: &[Value], right: &[Value], pointer: &str, out: &mut Vec<Difference>) {
    for index in 0..left.len().max(right.len()) {
        diff_at(
            left.get(index),
            right.get(index),
            &format!("{pointer}/{index}"),
            out,
        );
    }
}

/// A list element's UserID, when it is an object with a string one.
fn listed_user_id(element: &Value) -> Option<&str> {
    element.get("UserID").and_then(Value::as_str)
}

/// Two lists, each element compared with its counterpart: the element
/// with the same UserID, else the next unpaired element without one in
/// order. A record one side lacks is one difference at its index (on the
/// side that has it), not a shift of every later index. Pointers name the
/// target's index (`actual`), or the expected side's for a record only it has.
fn diff_list(left: &[Value], right: &[Value], pointer: &str, out: &mut Vec<Difference>) {
    let mut taken = vec![false; right.len()];
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    let mut unpaired_left = Vec::new();
    for (at, element) in left.iter().enumerate() {
        let partner = listed_user_id(element).and_then(|user_id| {
            (0..right.len())
                .find(|&index| !taken[index] && listed_user_id(&right[index]) == Some(user_id))
        });
        match partner {
            Some(index) => {
                taken[index] = true;
                pairs.push((Some(at), Some(index)));
            }
            None => unpaired_left.push(at),
        }
    }
    // Elements without a UserID pair in order (`[1,2]` against `[1,3]`);
    // a record whose UserID the other side lacks is missing or extra.
    let right_plain: Vec<usize> = (0..right.len())
        .filter(|&index| !taken[index] && listed_user_id(&right[index]).is_none())
        .collect();
    let mut right_plain = right_plain.into_iter();
    for at in unpaired_left {
        let partner = match listed_user_id(&left[at]) {
            None => right_plain.next(),
            Some(_) => None,
        };
        if let Some(index) = partner {
            taken[index] = true;
        }
        pairs.push((Some(at), partner));
    }
    pairs.extend(
        (0..right.len())
            .filter(|&index| !taken[index])
            .map(|index| (None, Some(index))),
    );
    // In the target's order; a record only the expected side has, at its own index.
    pairs.sort_by_key(|pair| match pair {
        (_, Some(index)) | (Some(index), None) => *index,
        (None, None) => usize::MAX,
    });
    for (mine, theirs) in pairs {
        let index = theirs.or(mine).unwrap_or_default();
        diff_at(
            mine.map(|at| &left[at]),
            theirs.map(|at| &right[at]),
            &format!("{pointer}/{index}"),
            out,
        );
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

/// The canonical form of a binding step's document: what the page always
/// leaves open made equal, so that what remains reads as "beyond the
/// canonical form".
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

/// The differences of one step, sorted for the reader; none fails without `--strict`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepDifferences {
    /// Differences that remain in a binding step's canonical form: only the step's own checks judge them.
    pub beyond_canonical: Vec<Difference>,
    /// Differences in what the page leaves open, for the reason in `leeway`.
    pub open: Vec<Difference>,
    /// Why the `open` differences are open.
    pub leeway: Leeway,
}

/// Why the page leaves a step's differences open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leeway {
    /// An observed step: the page is silent.
    Silent,
    /// The canonical form absorbs them (unset optional fields, undocumented members).
    CanonicalForm,
    /// A step that allows a refusal: one side accepted, the other refused; either is conformant.
    OutcomesDiffer,
    /// A step that allows a refusal: both refused, differently; a refusal may take any shape.
    BothRefused,
    /// After the step at this index diverged (observed, or outcomes differed), the state may differ.
    AfterDivergence(usize),
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
    /// Whether this step fails its trial: only under `--strict`, when it differs or is missing.
    pub fn fails(&self, strict: bool) -> bool {
        strict && self.status != StepStatus::Same
    }

    /// The level this step is listed under after the run: a binding step's
    /// own when a difference remains in its canonical form, otherwise
    /// observed (the page leaves the difference open).
    pub fn listed_level(&self) -> Level {
        match &self.status {
            StepStatus::Differs(differences) if !differences.beyond_canonical.is_empty() => {
                self.step.level
            }
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
                    if raw.is_empty() {
                        StepStatus::Same
                    } else {
                        StepStatus::Differs(sort_differences(&step, other, raw, &mut diverged_at))
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

    /// Whether a difference fails the scenario: under `--strict`, any difference or missing step; otherwise never.
    pub fn fails(&self, strict: bool) -> bool {
        self.steps.iter().any(|check| check.fails(strict))
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

    /// The first difference that fails the scenario (only under
    /// `--strict`), in one line: `step 2 "list": snapshot /status: profile
    /// "ERROR", got "Error"`.
    pub fn first_failure(&self, strict: bool, comparand: &Comparand) -> Option<String> {
        let check = self.steps.iter().find(|check| check.fails(strict))?;
        let what = match &check.status {
            StepStatus::Same => return None,
            StepStatus::Missing => comparand.missing.clone(),
            StepStatus::Differs(differences) => differences
                .beyond_canonical
                .first()
                .or(differences.open.first())
                .map(|difference| format!("snapshot {}", difference.line(comparand)))
                .unwrap_or_else(|| format!("differs from {}", comparand.short)),
        };
        Some(format!(
            "step {} {:?}: {what}",
            check.step.index + 1,
            check.step.name
        ))
    }
}

/// Sorts one step's `raw` differences from `other` by why they may be
/// there, noting in `diverged_at` the first step after which the two
/// sides' states may legitimately differ.
fn sort_differences(
    step: &NormalizedStep,
    other: &Value,
    raw: Vec<Difference>,
    diverged_at: &mut Option<usize>,
) -> StepDifferences {
    let open = |leeway, open| StepDifferences {
        beyond_canonical: Vec::new(),
        open,
        leeway,
    };
    if step.answer != Answer::AsGiven {
        match (document_accepted(other), document_accepted(&step.document)) {
            (false, false) => return open(Leeway::BothRefused, raw),
            (theirs, mine) if theirs != mine => {
                diverged_at.get_or_insert(step.index);
                return open(Leeway::OutcomesDiffer, raw);
            }
            // Both accepted: compared like any step of its level.
            _ => {}
        }
    }
    if !step.level.is_binding() {
        diverged_at.get_or_insert(step.index);
        return open(Leeway::Silent, raw);
    }
    let kept = diff(&canonical(other), &canonical(&step.document));
    let (beyond_canonical, absorbed): (Vec<_>, Vec<_>) = raw
        .into_iter()
        .partition(|difference| kept.iter().any(|kept| kept.pointer == difference.pointer));
    match *diverged_at {
        Some(earlier) if !beyond_canonical.is_empty() => open(
            Leeway::AfterDivergence(earlier),
            beyond_canonical.into_iter().chain(absorbed).collect(),
        ),
        _ => StepDifferences {
            beyond_canonical,
            open: absorbed,
            leeway: Leeway::CanonicalForm,
        },
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
    fn list_records_pair_by_user_id_so_one_missing_record_is_one_difference() {
        let record = |uid: &str, name: &str| json!({"id": format!("<id:{uid}>"), "UserID": uid, "Name": name});
        let profile = json!({"body": [record("<uid:a>", "A"), record("<uid:b>", "B"), record("<uid:c>", "C")]});
        let target = json!({"body": [record("<uid:b>", "B"), record("<uid:c>", "Changed")]});
        let lines: Vec<String> = diff(&profile, &target)
            .iter()
            .map(|difference| difference.line(&Comparand::profile("reference")))
            .collect();
        assert_eq!(
            lines,
            [
                "/0: profile {\"id\":\"<id:<uid:a>>\",\"UserID\":\"<uid:a>\",\"Name\":\"A\"}, got (absent)",
                "/1/Name: profile \"C\", got \"Changed\"",
            ]
        );
        // An extra record is one line at the target's index.
        let extra = diff(&target, &profile);
        assert_eq!(extra.len(), 2, "{extra:?}");
        assert_eq!(
            (extra[0].pointer.as_str(), extra[0].expected.is_none()),
            ("/body/0", true)
        );
    }

    #[test]
    fn lists_that_differ_only_in_order_still_differ() {
        let a = json!({"UserID": "a"});
        let b = json!({"UserID": "b"});
        assert!(diff(&json!([a, b]), &json!([a, b])).is_empty());
        let swapped = diff(&json!([a, b]), &json!([b, a]));
        assert_eq!(
            swapped
                .iter()
                .map(|d| d.pointer.as_str())
                .collect::<Vec<_>>(),
            ["/0/UserID", "/1/UserID"]
        );
        // Elements without a UserID compare index by index.
        assert_eq!(diff(&json!([1, 2]), &json!([1, 3]))[0].pointer, "/1");
    }

    #[test]
    fn the_first_failure_is_only_under_strict_and_names_the_step_and_pointer() {
        let check = ScenarioCheck::compare(
            vec![step(
                1,
                Level::Documented,
                json!({"status": 200, "body": {"status": "Error"}}),
            )],
            |_| Some(json!({"status": 200, "body": {"status": "ERROR"}})),
        );
        let comparand = Comparand::profile("reference");
        assert_eq!(check.first_failure(false, &comparand), None);
        assert_eq!(
            check.first_failure(true, &comparand).as_deref(),
            Some("step 2 \"step 1\": snapshot /status: profile \"ERROR\", got \"Error\"")
        );
    }

    /// The step's differences, or a panic naming what it was instead.
    fn differences(check: &ScenarioCheck, index: usize) -> &StepDifferences {
        match &check.steps[index].status {
            StepStatus::Differs(differences) => differences,
            other => panic!("step {index} does not differ: {other:?}"),
        }
    }

    fn pointers(differences: &[Difference]) -> Vec<&str> {
        differences
            .iter()
            .map(|difference| difference.pointer.as_str())
            .collect()
    }

    #[test]
    fn a_difference_fails_only_under_strict_and_a_missing_step_too() {
        // The check-order case: the page does not order the checks, the
        // profile answered the token envelope, the target the context one.
        let profile =
            json!({"status": 200, "body": {"status": "ERROR", "message": "Invalid API token"}});
        let other = json!({"status": 200, "body": {"status": "Error", "message": "Invalid context name: <invalid_context>"}});
        let check = ScenarioCheck::compare(
            vec![
                step(0, Level::Documented, other),
                step(1, Level::Documented, json!({"status": 200})),
            ],
            |candidate| (candidate.index == 0).then(|| profile.clone()),
        );
        assert!(!check.fails(false), "reported, never failed by default");
        assert!(check.fails(true), "--strict fails on it");
        assert!(!check.steps[0].fails(false) && check.steps[0].fails(true));
        assert_eq!(check.steps[1].status, StepStatus::Missing);
        assert!(!check.steps[1].fails(false) && check.steps[1].fails(true));
        let first = differences(&check, 0);
        assert_eq!(
            pointers(&first.beyond_canonical),
            ["/body/status", "/body/message"]
        );
        assert_eq!(
            check.steps[0].listed_level(),
            Level::Documented,
            "listed at its own level: the canonical form does not explain it"
        );
        // The same documents compare equal: nothing is reported, nothing fails.
        let same =
            ScenarioCheck::compare(vec![step(0, Level::Documented, json!({"a": 1}))], |_| {
                Some(json!({"a": 1}))
            });
        assert!(!same.has_differences() && !same.fails(true));
    }

    #[test]
    fn unset_optional_fields_are_open_on_binding_steps_and_a_value_that_became_unset_is_not() {
        let profile = json!({"body": {"Name": "n", "Address": "", "Email": "e"}});
        let nulls = json!({"body": {"Name": "n", "Address": null, "Email": "e"}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, nulls)], |_| {
            Some(profile.clone())
        });
        assert!(!check.fails(false) && check.fails(true));
        let first = differences(&check, 0);
        assert_eq!(first.leeway, Leeway::CanonicalForm);
        assert!(first.beyond_canonical.is_empty());
        assert_eq!(pointers(&first.open), ["/body/Address"]);
        assert_eq!(check.steps[0].listed_level(), Level::Observed);
        let dropped = json!({"body": {"Name": "n", "Address": "", "Email": ""}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, dropped)], |_| {
            Some(profile.clone())
        });
        assert!(!check.fails(false) && check.fails(true));
        assert_eq!(
            pointers(&differences(&check, 0).beyond_canonical),
            ["/body/Email"],
            "a value that became unset is beyond the canonical form"
        );
        assert_eq!(check.steps[0].listed_level(), Level::Documented);
    }

    #[test]
    fn undocumented_members_are_open_and_a_documented_members_value_is_not() {
        let profile =
            json!({"status": 200, "body": {"status": "ERROR", "message": "Invalid API token"}});
        let extra = json!({"status": 200, "body": {"status": "ERROR", "message": "Invalid API token", "code": 7}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, extra)], |_| {
            Some(profile.clone())
        });
        let first = differences(&check, 0);
        assert!(first.beyond_canonical.is_empty());
        assert_eq!(pointers(&first.open), ["/body/code"]);
        let recased = json!({"status": 200, "body": {"status": "Error", "message": "Invalid API token", "code": 7}});
        let check = ScenarioCheck::compare(vec![step(0, Level::Documented, recased)], |_| {
            Some(profile.clone())
        });
        assert!(!check.fails(false) && check.fails(true));
        let first = differences(&check, 0);
        assert_eq!(pointers(&first.beyond_canonical), ["/body/status"]);
        assert_eq!(
            pointers(&first.open),
            ["/body/code"],
            "both kinds on one step"
        );
    }

    #[test]
    fn an_observed_step_is_silent_and_later_differences_follow_it() {
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
        assert!(!check.fails(false) && check.fails(true));
        assert_eq!(differences(&check, 0).leeway, Leeway::Silent);
        let second = differences(&check, 1);
        assert_eq!(second.leeway, Leeway::AfterDivergence(0));
        assert!(second.beyond_canonical.is_empty());
        assert_eq!(pointers(&second.open), ["/body/0"]);
        assert_eq!(check.steps[1].listed_level(), Level::Observed);
    }

    fn open_step(index: usize, document: Value) -> NormalizedStep {
        NormalizedStep {
            answer: Answer::SuccessOrRefusal,
            ..step(index, Level::Inferred, document)
        }
    }

    #[test]
    fn a_step_that_may_be_refused_is_open_when_the_outcomes_differ_or_both_refused_and_sorted_when_both_succeed(
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
        assert!(!check.fails(false) && check.fails(true));
        assert_eq!(differences(&check, 0).leeway, Leeway::OutcomesDiffer);
        assert_eq!(differences(&check, 1).leeway, Leeway::AfterDivergence(0));
        // Two refusals of different shapes: open, and later steps still sorted on their own.
        let steps = vec![
            open_step(0, refusal.clone()),
            step(1, Level::Inferred, json!({"body": [2]})),
        ];
        let check = ScenarioCheck::compare(steps, |candidate| {
            Some(if candidate.index == 0 {
                json!({"status": 200, "body": {"status": "Error", "message": "no"}})
            } else {
                json!({"body": [1]})
            })
        });
        assert!(!check.fails(false) && check.fails(true));
        assert_eq!(differences(&check, 0).leeway, Leeway::BothRefused);
        assert_eq!(
            pointers(&differences(&check, 1).beyond_canonical),
            ["/body/0"]
        );
        // Both accepted: a changed value is beyond the canonical form, like on any binding step.
        let altered = json!({"status": 200, "body": {"UserID": "<uid:a>", "Name": "Tab"}});
        let check = ScenarioCheck::compare(vec![open_step(0, altered)], |_| Some(success.clone()));
        assert!(!check.fails(false) && check.fails(true));
        assert_eq!(
            pointers(&differences(&check, 0).beyond_canonical),
            ["/body/Name"]
        );
    }
}
