//! The plan: what a run holds, decided before the first request. Which
//! trials run after selection (the filter, `--exact`, `--skip`,
//! `--rerun-failed`), which are skipped and why (unconfigured, not deep),
//! and which records each trial may create (the UserID prefix and labels
//! its records carry).

use std::collections::BTreeSet;

use super::client::Client;
use super::property::PropertyTrial;
use super::scenario_run::{missing_configuration, opt_in_reason, RunIdentity};
use super::snapshot::normalize::scenario_labels;
use super::suite::scenario_tag;
use crate::outcome::event::PlannedTrial;
use crate::spec::load::LoadedScenario;

/// What a trial runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialWork {
    /// The scenario at this index of the suite.
    Scenario(usize),
    /// A property trial.
    Property(PropertyTrial),
}

/// The records a trial may create: every UserID starts with `prefix`
/// (scenarios name theirs by `labels`: `<prefix><label>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordScope {
    /// The prefix of every UserID the trial may create.
    pub prefix: String,
    /// A scenario's `${uid:LABEL}` labels, sorted; empty for a property trial (it numbers its own).
    pub labels: Vec<String>,
}

/// One trial of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEntry {
    /// Its name.
    pub name: String,
    /// Its kind as libtest shows it: the scenario's level, or `property`.
    pub kind: String,
    /// What it runs.
    pub work: TrialWork,
    /// Why it is skipped, when it is (set by [`Plan::against`]).
    pub skip: Option<String>,
    /// The records it may create (set by [`Plan::against`]).
    pub records: Option<RecordScope>,
}

/// Which trials a run selects, as libtest selects tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// A substring of the name (or of `[kind] name`); with `exact`, the whole of either.
    pub filter: Option<String>,
    /// Match `filter` and `skip` exactly.
    pub exact: bool,
    /// Leave out trials matching any of these (substrings unless `exact`).
    pub skip: Vec<String>,
    /// Only these names (`--rerun-failed`).
    pub only: Option<BTreeSet<String>>,
}

impl Selection {
    /// Whether a trial named `name` of `kind` is left out.
    pub fn leaves_out(&self, name: &str, kind: &str) -> bool {
        let with_kind = format!("[{kind}] {name}");
        let matches = |pattern: &str| {
            if self.exact {
                name == pattern || with_kind == pattern
            } else {
                with_kind.contains(pattern)
            }
        };
        if let Some(filter) = &self.filter {
            if !matches(filter) {
                return true;
            }
        }
        if self.skip.iter().any(|pattern| matches(pattern)) {
            return true;
        }
        self.only
            .as_ref()
            .is_some_and(|names| !names.contains(name))
    }
}

/// A selection that keeps no trial: a typo in a CI filter must not go green.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingSelected {
    /// The selection as given (`the filter "crud::creat"`, `--skip` patterns...).
    pub selection: String,
    /// The trial names nearest the filter, at most [`CLOSEST_NAMES`] (none without a filter).
    pub closest: Vec<String>,
}

impl std::fmt::Display for NothingSelected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no trial is left to run: {}", self.selection)?;
        if !self.closest.is_empty() {
            write!(f, "; the closest names: {}", self.closest.join(", "))?;
        }
        write!(f, "; `run --list` shows every name")
    }
}

impl std::error::Error for NothingSelected {}

/// How many near names a [`NothingSelected`] offers.
pub const CLOSEST_NAMES: usize = 3;

/// Edit distance between `a` and `b`, in characters.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// How far `pattern` is from matching `name`: the edit distance to the
/// nearest stretch of `name` (a filter is a substring) or to the whole name.
fn distance_to_match(pattern: &str, name: &str) -> usize {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let whole = edit_distance(&pattern, &name);
    if pattern.is_empty() || pattern.len() >= name.len() {
        return whole;
    }
    name.windows(pattern.len())
        .map(|window| edit_distance(&pattern, window))
        .min()
        .unwrap_or(whole)
        .min(whole)
}

/// The names nearest `pattern`, nearest first (ties in name order).
pub fn closest_names<'a>(pattern: &str, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = names
        .into_iter()
        .map(|name| (distance_to_match(pattern, name), name))
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(CLOSEST_NAMES)
        .map(|(_, name)| name.to_string())
        .collect()
}

impl Selection {
    /// The selection in words, for a message.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(filter) = &self.filter {
            parts.push(format!(
                "the filter {filter:?}{} matches none",
                if self.exact { " (--exact)" } else { "" }
            ));
        }
        if !self.skip.is_empty() {
            let skips: Vec<String> = self.skip.iter().map(|skip| format!("{skip:?}")).collect();
            parts.push(format!("--skip {} leaves out the rest", skips.join(", ")));
        }
        if let Some(only) = &self.only {
            parts.push(format!(
                "--rerun-failed names {} trial(s) no longer in the suite",
                only.len()
            ));
        }
        parts.join("; ")
    }
}

/// What a run holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The selected trials: scenarios in load order, then the property trials.
    pub entries: Vec<PlanEntry>,
    /// How many trials the selection left out.
    pub filtered_out: usize,
}

impl Plan {
    /// The trials of `scenarios` and the property trials that `selection`
    /// keeps; an error when it keeps none (`--rerun-failed` of a run where
    /// nothing failed keeps none and is fine: there is nothing to rerun).
    pub fn select(
        scenarios: &[LoadedScenario],
        selection: &Selection,
    ) -> Result<Plan, NothingSelected> {
        let all = scenarios
            .iter()
            .enumerate()
            .map(|(index, loaded)| PlanEntry {
                name: loaded.scenario.name.clone(),
                kind: loaded.scenario.level.as_str().to_string(),
                work: TrialWork::Scenario(index),
                skip: None,
                records: None,
            })
            .chain(PropertyTrial::ALL.into_iter().map(|trial| PlanEntry {
                name: trial.name(),
                kind: "property".to_string(),
                work: TrialWork::Property(trial),
                skip: None,
                records: None,
            }));
        let mut entries = Vec::new();
        let mut filtered_out = 0;
        for entry in all {
            if selection.leaves_out(&entry.name, &entry.kind) {
                filtered_out += 1;
            } else {
                entries.push(entry);
            }
        }
        let nothing_to_rerun = selection.only.as_ref().is_some_and(BTreeSet::is_empty);
        if entries.is_empty() && !nothing_to_rerun {
            let names: Vec<String> = scenarios
                .iter()
                .map(|loaded| loaded.scenario.name.clone())
                .chain(PropertyTrial::ALL.iter().map(|trial| trial.name()))
                .collect();
            let closest = match &selection.filter {
                Some(filter) => closest_names(filter, names.iter().map(String::as_str)),
                None => Vec::new(),
            };
            return Err(NothingSelected {
                selection: selection.describe(),
                closest,
            });
        }
        Ok(Plan {
            entries,
            filtered_out,
        })
    }

    /// The plan against one target: why each trial that cannot run is
    /// skipped (a context, a second user, deep mode), and which records
    /// each may create under `identity`.
    pub fn against(
        mut self,
        scenarios: &[LoadedScenario],
        client: &Client,
        identity: &RunIdentity,
        deep: bool,
    ) -> Plan {
        let prefix = identity.uid_prefix();
        for entry in &mut self.entries {
            match entry.work {
                TrialWork::Scenario(index) => {
                    let loaded = &scenarios[index];
                    entry.skip = opt_in_reason(loaded, deep)
                        .or_else(|| missing_configuration(loaded, client));
                    let mut labels = scenario_labels(loaded);
                    labels.sort();
                    labels.dedup();
                    entry.records = Some(RecordScope {
                        prefix: format!("{prefix}{}-", scenario_tag(index)),
                        labels,
                    });
                }
                TrialWork::Property(trial) => {
                    let case = match trial {
                        PropertyTrial::CrudSequences => "p",
                        PropertyTrial::ConcurrentLinearizable => "c",
                    };
                    entry.records = Some(RecordScope {
                        prefix: format!("{prefix}{case}"),
                        labels: Vec::new(),
                    });
                }
            }
        }
        self
    }

    /// The trials as reporters know them.
    pub fn planned(&self) -> Vec<PlannedTrial> {
        self.entries
            .iter()
            .map(|entry| PlannedTrial {
                name: entry.name.clone(),
                kind: entry.kind.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_names_forgive_a_typo_and_a_partial_name() {
        let names = [
            "crud::create",
            "crud::delete",
            "errors::invalid_token::list",
            "property::crud_sequences",
        ];
        assert_eq!(closest_names("crud::creat", names)[0], "crud::create");
        assert_eq!(
            closest_names("invalid_tokn", names)[0],
            "errors::invalid_token::list"
        );
        assert_eq!(
            closest_names("sequense", names)[0],
            "property::crud_sequences"
        );
        assert_eq!(closest_names("x", names).len(), CLOSEST_NAMES);
    }

    #[test]
    fn selection_follows_libtest() {
        let plain = Selection {
            filter: Some("token".into()),
            ..Selection::default()
        };
        assert!(!plain.leaves_out("errors::invalid_token::list", "documented"));
        assert!(plain.leaves_out("crud::create", "documented"));
        // The kind is part of what a filter sees, as in `--list`.
        let kind = Selection {
            filter: Some("[property]".into()),
            ..Selection::default()
        };
        assert!(!kind.leaves_out("property::crud_sequences", "property"));
        assert!(kind.leaves_out("crud::create", "documented"));
        let exact = Selection {
            filter: Some("errors::invalid_token".into()),
            exact: true,
            ..Selection::default()
        };
        assert!(exact.leaves_out("errors::invalid_token::list", "documented"));
        let exact_with_kind = Selection {
            filter: Some("[documented] crud::create".into()),
            exact: true,
            ..Selection::default()
        };
        assert!(!exact_with_kind.leaves_out("crud::create", "documented"));
        let skip = Selection {
            skip: vec!["property::".into(), "crud::".into()],
            ..Selection::default()
        };
        assert!(skip.leaves_out("property::crud_sequences", "property"));
        assert!(skip.leaves_out("crud::create", "documented"));
        assert!(!skip.leaves_out("errors::invalid_token::list", "documented"));
        let only = Selection {
            only: Some(["crud::create".to_string()].into()),
            ..Selection::default()
        };
        assert!(!only.leaves_out("crud::create", "documented"));
        assert!(only.leaves_out("crud::delete", "documented"));
    }
}
