//! Loading and validating scenario files.
//!
//! Everything that can be wrong with a scenario file is found here, before
//! any request is sent: JSON shape, matchers, variables, levels, names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::contract::percent_decoded;
use super::pattern::Pattern;
use super::scenario::{Answer, AuthVariant, OnlyIf, Scenario};
use super::template::{templates_in, Segment, Template, Variable};

include!(concat!(env!("OUT_DIR"), "/embedded_specs.rs"));

/// A scenario ready to run: the file's content with its patterns parsed.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Where it came from (a path relative to the specs directory).
    pub source: String,
    /// The scenario as written.
    pub scenario: Scenario,
    /// Each step's parsed `expect.body`, by step index.
    pub patterns: Vec<Option<Pattern>>,
}

/// Why scenarios could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not a valid scenario.
    #[error("{source_name}: {reason}")]
    Invalid {
        /// The file.
        source_name: String,
        /// What is wrong.
        reason: String,
    },
    /// Two scenarios share a name.
    #[error("scenario name {name:?} is used by both {first} and {second}")]
    DuplicateName {
        /// The name.
        name: String,
        /// The first file.
        first: String,
        /// The second file.
        second: String,
    },
    /// No scenario was found.
    #[error("no scenario files found in {0}")]
    Empty(String),
}

/// Loads the scenarios compiled into the binary from `specs/`, and those generated from the contract.
pub fn load_embedded() -> Result<Vec<LoadedScenario>, LoadError> {
    let mut files: Vec<(String, String)> = EMBEDDED_SPECS
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect();
    // The scenarios generated from the contract run with the built-in ones.
    files.extend(super::adversarial::auth_trial_files());
    load_all(files, "the embedded specs")
}

/// Loads every `*.json` file below `dir`, recursively.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedScenario>, LoadError> {
    let mut paths = Vec::new();
    collect_json_files(dir, &mut paths)?;
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        files.push((name, text));
    }
    load_all(files, &dir.display().to_string())
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| LoadError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            // Opening a FIFO or a device for reading can block forever: refuse it unread.
            let metadata = std::fs::metadata(&path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            if !metadata.is_file() {
                return Err(LoadError::Invalid {
                    source_name: path.display().to_string(),
                    reason: "not a regular file (a FIFO, socket or device is never read)"
                        .to_string(),
                });
            }
            out.push(path);
        }
    }
    Ok(())
}

fn load_all(files: Vec<(String, String)>, origin: &str) -> Result<Vec<LoadedScenario>, LoadError> {
    if files.is_empty() {
        return Err(LoadError::Empty(origin.to_string()));
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut loaded = Vec::new();
    for (source, text) in files {
        let scenario = parse(&source, &text)?;
        if let Some(first) = seen.insert(scenario.scenario.name.clone(), source.clone()) {
            return Err(LoadError::DuplicateName {
                name: scenario.scenario.name,
                first,
                second: source,
            });
        }
        loaded.push(scenario);
    }
    Ok(loaded)
}

/// Parses and validates one scenario file's text.
pub fn parse(source: &str, text: &str) -> Result<LoadedScenario, LoadError> {
    let invalid = |reason: String| LoadError::Invalid {
        source_name: source.to_string(),
        reason,
    };
    let scenario: Scenario =
        serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
    let patterns = validate(&scenario).map_err(invalid)?;
    Ok(LoadedScenario {
        source: source.to_string(),
        scenario,
        patterns,
    })
}

/// The `only_if` conditions under which a captured variable exists; None: always (after its step).
type CaptureGuards = Option<BTreeSet<OnlyIf>>;

fn validate(scenario: &Scenario) -> Result<Vec<Option<Pattern>>, String> {
    if scenario.name.trim().is_empty() {
        return Err("the scenario name is empty".to_string());
    }
    if scenario.citation.trim().is_empty() {
        return Err(
            "the citation is empty: every check cites the vendor doc section it comes from"
                .to_string(),
        );
    }
    if scenario.steps.is_empty() {
        return Err("a scenario needs at least one step".to_string());
    }
    let mut captured: BTreeMap<String, CaptureGuards> = BTreeMap::new();
    // Outcome name → the step (1-based) that records it.
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut patterns = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let at = |reason: String| format!("step {} ({:?}): {reason}", index + 1, step.name);
        if let Some(level) = step.level {
            if level < scenario.level {
                return Err(at(format!(
                    "a step may relax the scenario's level ({}) but not make it stricter ({level})",
                    scenario.level
                )));
            }
        }
        let request = &step.request;
        if request.body.is_some() && request.raw_body.is_some() {
            return Err(at("body and raw_body are exclusive".to_string()));
        }
        if request.body.as_ref().is_some_and(|body| !body.is_object()) {
            return Err(at(
                "body must be a JSON object (the auth parameters are merged into it)".to_string(),
            ));
        }
        if request.raw_body.is_some() && request.auth != AuthVariant::Default {
            return Err(at(
                "raw_body carries no injected auth, so auth must be left at its default"
                    .to_string(),
            ));
        }
        if request.concurrent == Some(0) {
            return Err(at("concurrent must be at least 1".to_string()));
        }
        if let AuthVariant::Explicit(explicit) = &request.auth {
            if explicit.api_token.is_some() && explicit.token_of.is_some() {
                return Err(at(
                    "explicit auth gives both api_token and token_of: give one".to_string(),
                ));
            }
        }
        validate_answer(step).map_err(at)?;
        if let Some(condition) = &step.only_if {
            let name = condition_name(condition);
            if !outcomes.contains_key(name) {
                let later = scenario.steps[index..]
                    .iter()
                    .any(|later| later.outcome.as_deref() == Some(name));
                return Err(at(if later {
                    format!("only_if names outcome {name:?}, which this step or a later one records: a condition can only look back")
                } else {
                    format!("only_if names outcome {name:?}, which no earlier step records")
                }));
            }
        }
        if let Some(name) = &step.outcome {
            if name.trim().is_empty() {
                return Err(at("outcome names must not be empty".to_string()));
            }
            if request.concurrent.is_some() {
                return Err(at(
                    "a concurrent step has one answer per copy, so it cannot record one outcome"
                        .to_string(),
                ));
            }
            if let Some(first) = outcomes.insert(name.as_str(), index + 1) {
                return Err(at(format!(
                    "outcome {name:?} is already recorded by step {first}"
                )));
            }
        }
        let path = Template::parse(&request.path).map_err(|error| at(error.to_string()))?;
        check_path(&path).map_err(at)?;
        let mut templates = vec![path];
        if let Some(body) = &request.body {
            templates.extend(templates_in(body).map_err(|error| at(error.to_string()))?);
        }
        if let AuthVariant::Explicit(explicit) = &request.auth {
            for value in explicit.values() {
                templates.push(Template::parse(value).map_err(|error| at(error.to_string()))?);
            }
        }
        let pattern = match &step.expect.body {
            Some(body) => {
                Some(Pattern::parse(body).map_err(|error| at(format!("expect.body {error}")))?)
            }
            None => None,
        };
        let raw = match &request.raw_body {
            Some(raw) => vec![Template::parse(raw).map_err(|error| at(error.to_string()))?],
            None => Vec::new(),
        };
        let all = templates
            .iter()
            .chain(raw.iter())
            .chain(pattern.iter().flat_map(|pattern| pattern.templates()));
        for template in all {
            for variable in template.variables() {
                if let Variable::Captured(name) = variable {
                    match captured.get(name) {
                        None => {
                            return Err(at(format!(
                                "${{{name}}} is not captured by an earlier step"
                            )))
                        }
                        Some(Some(guards))
                            if !step
                                .only_if
                                .as_ref()
                                .is_some_and(|own| guards.contains(own)) =>
                        {
                            let needed: Vec<String> =
                                guards.iter().map(describe_condition).collect();
                            return Err(at(format!(
                                "${{{name}}} is captured only when an earlier step succeeds; guard this step with {}",
                                needed.join(" or ")
                            )));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        for template in &templates {
            if template
                .variables()
                .any(|variable| *variable == Variable::ApiToken)
            {
                return Err(at("${api_token} is allowed in raw_body only".to_string()));
            }
        }
        let guards = capture_guards(step);
        for (name, pointer) in &step.capture {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(at(format!(
                    "capture {name:?}: {pointer:?} is not a JSON pointer"
                )));
            }
            let merged = match (captured.remove(name), &guards) {
                (Some(None), _) | (_, None) => None,
                (Some(Some(mut earlier)), Some(now)) => {
                    earlier.extend(now.iter().cloned());
                    Some(earlier)
                }
                (None, Some(now)) => Some(now.clone()),
            };
            captured.insert(name.clone(), merged);
        }
        patterns.push(pattern);
    }
    Ok(patterns)
}

/// Why a request path may not be sent as written: the HTTP client resolves
/// dot segments (also percent-encoded, in any case) and reads `@` and `//`
/// as a host, so a path that has them addresses something other than it
/// seems to ("Base URL": every request goes to `/api/ipdrcustomers` on the
/// target). A captured value may not sit in the query, where it could name
/// a record the path does not. Variables other than captures and repeats
/// are checked when the step runs (see `execution::guard`).
fn check_path(path: &Template) -> Result<(), String> {
    let mut rendered = String::new();
    let mut in_query = false;
    for segment in path.segments() {
        match segment {
            Segment::Literal(text) => {
                in_query |= text.contains(['?', '#']);
                rendered.push_str(text);
            }
            Segment::Variable(Variable::Repeat { text, times }) => {
                in_query |= text.contains(['?', '#']);
                rendered.push_str(&text.repeat(*times));
            }
            Segment::Variable(Variable::Captured(name)) if in_query => {
                return Err(format!(
                    "the path's query carries the captured value ${{{name}}}: a capture may name a record the path does not; put it in the path"
                ));
            }
            // A placeholder: the value is only known when the step runs.
            Segment::Variable(_) => rendered.push('v'),
        }
    }
    let path_part = rendered.split(['?', '#']).next().unwrap_or_default();
    if !rendered.starts_with('/') || path_part.contains("//") || rendered.contains("://") {
        return Err(format!(
            "path {:?} must be a path on the target starting with one /: no scheme, no host, no //",
            rendered
        ));
    }
    // Encoded, `%40` is only a character of a UserID; raw, it may end userinfo.
    if rendered.contains('@') {
        return Err(format!(
            "path {rendered:?} contains @, which the HTTP client may read as credentials before a host"
        ));
    }
    // Decoded up to twice: a server behind a proxy may decode once more.
    let once = percent_decoded(path_part);
    for text in [path_part.to_string(), once.clone(), percent_decoded(&once)] {
        if text
            .split(['/', '\\'])
            .any(|piece| piece == "." || piece == "..")
        {
            return Err(format!(
                "path {rendered:?} has a dot segment (. or .., maybe percent-encoded), which the HTTP client resolves before sending"
            ));
        }
    }
    Ok(())
}

/// What an answer mode allows a step to say.
fn validate_answer(step: &super::scenario::Step) -> Result<(), String> {
    match step.expect.answer {
        Answer::AsGiven => Ok(()),
        Answer::Refusal => {
            if !step.capture.is_empty() {
                return Err(
                    "a refusal step has no customer object to capture from; remove capture"
                        .to_string(),
                );
            }
            if step.expect.body.is_some() || step.expect.status != 200 || !step.expect.json {
                return Err("a refusal step allows any refusal, so expect.body, expect.status and expect.json would not be checked; remove them (an exact envelope is an as_given step)".to_string());
            }
            Ok(())
        }
        Answer::SuccessOrRefusal => {
            if !step.capture.is_empty() && step.outcome.is_none() {
                return Err("a success_or_refusal step captures only when accepted, so it must name its outcome for the steps that use the capture".to_string());
            }
            Ok(())
        }
    }
}

/// The outcome name a condition looks at.
fn condition_name(condition: &OnlyIf) -> &str {
    match condition {
        OnlyIf::Accepted(name) | OnlyIf::Refused(name) => name,
    }
}

/// A condition as a scenario file writes it.
fn describe_condition(condition: &OnlyIf) -> String {
    match condition {
        OnlyIf::Accepted(name) => format!("\"only_if\": {{\"accepted\": {name:?}}}"),
        OnlyIf::Refused(name) => format!("\"only_if\": {{\"refused\": {name:?}}}"),
    }
}

/// The conditions under which `step`'s captures exist: None when always.
fn capture_guards(step: &super::scenario::Step) -> CaptureGuards {
    let accepted = step
        .outcome
        .as_ref()
        .map(|name| OnlyIf::Accepted(name.clone()));
    if step.expect.answer == Answer::SuccessOrRefusal {
        return Some(accepted.into_iter().collect());
    }
    step.only_if
        .as_ref()
        .map(|own| std::iter::once(own.clone()).chain(accepted).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        parse("t.json", text).unwrap_err().to_string()
    }

    #[test]
    fn a_path_that_is_not_plainly_on_the_target_is_a_load_error_naming_the_step() {
        let with_path = |path: &str| {
            format!(
                r#"{{"name":"a","level":"documented","citation":"c","steps":[{{"name":"c","request":{{"method":"POST","path":"/api/ipdrcustomers","body":{{"UserID":"${{uid:a}}"}}}},"capture":{{"id":"/UserID"}}}},{{"name":"s","request":{{"method":"DELETE","path":"{path}"}}}}]}}"#
            )
        };
        for path in [
            "/api/./ipdrcustomers/B68t19",
            "/api/ipdrcustomers/${uid:a}/../B68t19",
            "/api/ipdrcustomers/${uid:a}/%2E%2e/B68t19",
            "/api/ipdrcustomers/${uid:a}/%252e%252e/B68t19",
            "/api/ipdrcustomers/${repeat:..:1}/B68t19",
            "/api/ipdrcustomers/${uid:a}%2F..%2FB68t19",
            "@127.0.0.1:9/api/ipdrcustomers",
            "//127.0.0.1:9/api/ipdrcustomers",
            "http://127.0.0.1:9/api/ipdrcustomers",
            "/api//ipdrcustomers",
            "/api/ipdrcustomers/${uid:a}?UserID=${id}",
        ] {
            let why = reason(&with_path(path));
            assert!(why.starts_with("t.json: step 2 (\"s\"): "), "{path}: {why}");
        }
        for path in [
            "/api/ipdrcustomers/${id}",
            "/api/ipdrcustomers/${uid:a}.x",
            "/api/ipdrcustomers/${uid:a}?x=1",
            "/api/ipdrcustomers/${uid:a}%40x",
        ] {
            assert!(parse("t.json", &with_path(path)).is_ok(), "{path}");
        }
    }

    #[test]
    fn rejects_uncaptured_variables_and_stricter_steps() {
        let uncaptured = r#"{"name":"a","level":"documented","citation":"c","steps":[{"name":"s","request":{"method":"GET","path":"/x/${id}"}}]}"#;
        assert!(reason(uncaptured).contains("${id} is not captured"));
        let stricter = r#"{"name":"a","level":"observed","citation":"c","steps":[{"name":"s","level":"documented","request":{"method":"GET","path":"/x"}}]}"#;
        assert!(reason(stricter).contains("not make it stricter"));
        let token = r#"{"name":"a","level":"documented","citation":"c","steps":[{"name":"s","request":{"method":"GET","path":"/x","body":{"t":"${api_token}"}}}]}"#;
        assert!(reason(token).contains("raw_body only"));
    }

    fn scenario(steps: &str) -> String {
        format!(r#"{{"name":"a","level":"inferred","citation":"c","steps":[{steps}]}}"#)
    }

    const CREATE: &str = r#""request":{"method":"POST","path":"/api/ipdrcustomers","body":{"UserID":"${uid:a}","Name":"N"}}"#;
    const LIST: &str = r#""request":{"method":"GET","path":"/api/ipdrcustomers"}"#;

    #[test]
    fn outcomes_are_named_once_and_conditions_look_back() {
        let unknown = scenario(&format!(
            r#"{{"name":"s",{LIST},"only_if":{{"accepted":"nope"}}}}"#
        ));
        assert!(reason(&unknown).contains("which no earlier step records"));
        let forward = scenario(&format!(
            r#"{{"name":"s",{LIST},"only_if":{{"refused":"made"}}}},{{"name":"t",{CREATE},"outcome":"made"}}"#
        ));
        assert!(reason(&forward).contains("a condition can only look back"));
        let own = scenario(&format!(
            r#"{{"name":"s",{CREATE},"outcome":"made","only_if":{{"refused":"made"}}}}"#
        ));
        assert!(reason(&own).contains("a condition can only look back"));
        let twice = scenario(&format!(
            r#"{{"name":"s",{CREATE},"outcome":"made"}},{{"name":"t",{CREATE},"outcome":"made"}}"#
        ));
        assert!(reason(&twice).contains("already recorded by step 1"));
        let concurrent = scenario(
            r#"{"name":"s","request":{"method":"POST","path":"/api/ipdrcustomers","concurrent":2},"outcome":"x"}"#,
        );
        assert!(reason(&concurrent).contains("cannot record one outcome"));
        let fine = scenario(&format!(
            r#"{{"name":"s",{CREATE},"expect":{{"answer":"success_or_refusal"}},"outcome":"made"}},{{"name":"t",{LIST},"only_if":{{"refused":"made"}}}}"#
        ));
        assert!(parse("t.json", &fine).is_ok());
    }

    #[test]
    fn refusal_steps_check_nothing_they_would_ignore() {
        let capture = scenario(&format!(
            r#"{{"name":"s",{CREATE},"expect":{{"answer":"refusal"}},"capture":{{"id":"/id"}}}}"#
        ));
        assert!(reason(&capture).contains("remove capture"));
        let body = scenario(&format!(
            r#"{{"name":"s",{CREATE},"expect":{{"answer":"refusal","body":{{"$error":"invalid_token"}}}}}}"#
        ));
        assert!(reason(&body).contains("would not be checked"));
        let status = scenario(&format!(
            r#"{{"name":"s",{CREATE},"expect":{{"answer":"refusal","status":403}}}}"#
        ));
        assert!(reason(&status).contains("would not be checked"));
    }

    #[test]
    fn a_capture_of_a_step_that_may_be_refused_is_used_only_under_its_condition() {
        let unnamed = scenario(&format!(
            r#"{{"name":"s",{CREATE},"expect":{{"answer":"success_or_refusal"}},"capture":{{"id":"/id"}}}}"#
        ));
        assert!(reason(&unnamed).contains("must name its outcome"));
        let unguarded = scenario(&format!(
            r#"{{"name":"s",{CREATE},"expect":{{"answer":"success_or_refusal"}},"outcome":"made","capture":{{"id":"/id"}}}},{{"name":"t",{LIST},"expect":{{"body":{{"$contains":{{"id":"${{id}}"}}}}}}}}"#
        ));
        assert!(
            reason(&unguarded).contains(r#"guard this step with "only_if": {"accepted": "made"}"#),
            "{}",
            reason(&unguarded)
        );
        let wrong_guard = unguarded.replace(
            r#"{"name":"t","#,
            r#"{"name":"t","only_if":{"refused":"made"},"#,
        );
        assert!(reason(&wrong_guard).contains("guard this step"));
        let guarded = unguarded.replace(
            r#"{"name":"t","#,
            r#"{"name":"t","only_if":{"accepted":"made"},"#,
        );
        assert!(parse("t.json", &guarded).is_ok(), "{}", reason(&guarded));
    }

    /// Every binding step that requires a success of a POST, PUT or PATCH
    /// sends only values a conformant server must accept
    /// ([`crate::spec::contract::is_ordinary_value`]), so no scenario can fail
    /// a server for refusing an unusual value: such values belong in
    /// `success_or_refusal` steps.
    #[test]
    fn steps_that_require_a_success_send_only_ordinary_values() {
        use crate::spec::contract::is_ordinary_value;
        use crate::spec::scenario::Method;
        use crate::spec::template::Segment;

        /// The value a template takes in a run, when the harness can tell it in advance.
        fn sample(text: &str) -> Result<String, String> {
            let template = Template::parse(text).map_err(|error| error.to_string())?;
            let mut out = String::new();
            for segment in template.segments() {
                match segment {
                    Segment::Literal(text) => out.push_str(text),
                    // What `${uid:LABEL}` resolves to: `zzconf-<run>-<tag>-LABEL`.
                    Segment::Variable(Variable::Uid(label)) => {
                        out.push_str(&format!("zzconf-1a2b3c4d-000-{label}"))
                    }
                    Segment::Variable(Variable::Copy) => out.push_str("1009"),
                    Segment::Variable(Variable::Repeat { text, times }) => {
                        out.push_str(&text.repeat(*times))
                    }
                    Segment::Variable(other) => {
                        return Err(format!("{other:?} cannot be checked in advance"))
                    }
                }
            }
            Ok(out)
        }
        /// (field, value as written) of every value a step sends: the path's UserID and the body's fields.
        fn sent_values(
            step: &crate::spec::scenario::Step,
        ) -> Vec<(String, Result<String, String>)> {
            let mut values = Vec::new();
            if let Some(uid) = step.request.path.strip_prefix("/api/ipdrcustomers/") {
                values.push(("UserID".to_string(), Ok(uid.to_string())));
            }
            if let Some(serde_json::Value::Object(fields)) = &step.request.body {
                for (field, value) in fields {
                    values.push((
                        field.clone(),
                        value
                            .as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("not a string: {value}")),
                    ));
                }
            }
            values
        }
        fn requires_success(pattern: Option<&Pattern>) -> bool {
            match pattern {
                Some(Pattern::Customer(_)) => true,
                Some(Pattern::OneOf(options)) => {
                    options.iter().all(|option| requires_success(Some(option)))
                }
                _ => false,
            }
        }
        let mut checked = 0;
        let mut offenders = Vec::new();
        for loaded in load_embedded().unwrap() {
            let scenario = &loaded.scenario;
            for (index, step) in scenario.steps.iter().enumerate() {
                let method = step.request.method;
                if !matches!(method, Method::Post | Method::Put | Method::Patch)
                    || !scenario.step_level(step).is_binding()
                    || step.expect.answer != Answer::AsGiven
                    || !requires_success(loaded.patterns[index].as_ref())
                {
                    continue;
                }
                checked += 1;
                let at = format!("{} step {} {:?}", scenario.name, index + 1, step.name);
                // A value the target already accepted, in the step whose
                // acceptance this one is conditioned on, may be required again.
                let accepted_before: Vec<(String, String)> = match &step.only_if {
                    Some(OnlyIf::Accepted(name)) => scenario
                        .steps
                        .iter()
                        .find(|earlier| earlier.outcome.as_ref() == Some(name))
                        .map(|earlier| {
                            sent_values(earlier)
                                .into_iter()
                                .filter_map(|(field, value)| {
                                    value
                                        .and_then(|value| sample(&value))
                                        .ok()
                                        .map(|v| (field, v))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                if step.request.body.is_some()
                    && !step
                        .request
                        .body
                        .as_ref()
                        .is_some_and(|body| body.is_object())
                {
                    offenders.push(format!("{at}: the body is not an object"));
                }
                if step.request.raw_body.is_some() {
                    offenders.push(format!("{at}: a raw body cannot be checked"));
                }
                for (field, value) in sent_values(step) {
                    match value.and_then(|value| sample(&value)) {
                        Ok(value) if accepted_before.contains(&(field.clone(), value.clone())) => {}
                        Ok(value) if is_ordinary_value(&field, &value) => {}
                        Ok(value) => offenders.push(format!(
                            "{at}: {field} {:?} is not an ordinary value",
                            value.chars().take(60).collect::<String>()
                        )),
                        Err(why) => offenders.push(format!("{at}: {field}: {why}")),
                    }
                }
            }
        }
        assert!(checked >= 40, "only {checked} steps were checked");
        assert!(
            offenders.is_empty(),
            "steps that require a success send values a conformant server may refuse \
             (make them success_or_refusal with outcome branches):\n{}",
            offenders.join("\n")
        );
    }
}
