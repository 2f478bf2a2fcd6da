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

/// What a run holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The selected trials: scenarios in load order, then the property trials.
    pub entries: Vec<PlanEntry>,
    /// How many trials the selection left out.
    pub filtered_out: usize,
}

impl Plan {
    /// The trials of `scenarios` and the property trials that `selection` keeps.
    pub fn select(scenarios: &[LoadedScenario], selection: &Selection) -> Plan {
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
        Plan {
            entries,
            filtered_out,
        }
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
