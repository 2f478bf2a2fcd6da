//! Loading and validating scenario files.
//!
//! Everything that can be wrong with a scenario file is found here, before
//! any request is sent: JSON shape, matchers, variables, levels, names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::pattern::Pattern;
use super::scenario::{AuthVariant, Scenario};
use super::template::{templates_in, Template, Variable};

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
    let mut captured: BTreeSet<String> = BTreeSet::new();
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
        let mut templates =
            vec![Template::parse(&request.path).map_err(|error| at(error.to_string()))?];
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
                    if !captured.contains(name) {
                        return Err(at(format!(
                            "${{{name}}} is not captured by an earlier step"
                        )));
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
        for (name, pointer) in &step.capture {
            if !pointer.is_empty() && !pointer.starts_with('/') {
                return Err(at(format!(
                    "capture {name:?}: {pointer:?} is not a JSON pointer"
                )));
            }
            captured.insert(name.clone());
        }
        patterns.push(pattern);
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> String {
        parse("t.json", text).unwrap_err().to_string()
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
}
