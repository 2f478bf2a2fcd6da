//! The operator table: each mutant's verdict, the kill rate per operator,
//! every survivor explained, and what makes the self-check fail.

use std::fmt::Write as _;

use super::campaign::{Campaign, MutantRun};
use super::operator::{Mutant, Needs};

/// What a mutant's run means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MutantVerdict {
    /// Some trial that passes without the mutant failed.
    Killed,
    /// Equivalent under the page, and no trial failed: as it must be.
    SurvivedEquivalent(&'static str),
    /// Equivalent under the page, but the suite never sent traffic it applies to.
    EquivalentNeverApplied(&'static str),
    /// Equivalent under the page, yet a trial failed: a false positive of the suite.
    KilledEquivalent(&'static str),
    /// Not equivalent, and no trial failed: the suite misses this departure.
    Gap,
    /// Not equivalent, and the suite never sent traffic it applies to.
    NeverApplied,
    /// The target lacks the configuration the traffic needs (not counted).
    NotExercised(Needs),
}

impl MutantVerdict {
    /// Whether this verdict makes the self-check fail.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            MutantVerdict::KilledEquivalent(_) | MutantVerdict::Gap | MutantVerdict::NeverApplied
        )
    }
}

/// The verdict of one mutant's run.
pub fn verdict(run: &MutantRun) -> MutantVerdict {
    let Some(mutant) = run.mutant else {
        // The baseline has no operator; nothing to judge.
        return MutantVerdict::Killed;
    };
    let equivalence = mutant.operator.equivalence();
    let killed = !run.killers.is_empty();
    if let (false, 0, Some(needs)) = (killed, run.applications, run.missing) {
        return MutantVerdict::NotExercised(needs);
    }
    match (equivalence, killed, run.applications) {
        (Some(why), true, _) => MutantVerdict::KilledEquivalent(why),
        (None, true, _) => MutantVerdict::Killed,
        (Some(why), false, 0) => MutantVerdict::EquivalentNeverApplied(why),
        (None, false, 0) => MutantVerdict::NeverApplied,
        (Some(why), false, _) => MutantVerdict::SurvivedEquivalent(why),
        (None, false, _) => MutantVerdict::Gap,
    }
}

/// One row of the operator table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorRow {
    /// The operator (its kind; the mutants are its scopes and members).
    pub operator: String,
    /// Mutants of this operator.
    pub mutants: usize,
    /// Killed.
    pub killed: usize,
    /// Survived, equivalent under the page (never applied ones included).
    pub equivalent: usize,
    /// Survived, not equivalent (never applied ones included).
    pub gaps: usize,
    /// Equivalent but killed.
    pub false_positives: usize,
    /// Not exercised for lack of configuration.
    pub not_exercised: usize,
}

impl OperatorRow {
    /// Killed over the mutants that must be killed and were exercised; None when there are none.
    pub fn kill_rate(&self) -> Option<f64> {
        let must_die = self.killed + self.gaps;
        (must_die > 0).then(|| 100.0 * self.killed as f64 / must_die as f64)
    }

    fn count(&mut self, verdict: &MutantVerdict) {
        self.mutants += 1;
        match verdict {
            MutantVerdict::Killed => self.killed += 1,
            MutantVerdict::SurvivedEquivalent(_) | MutantVerdict::EquivalentNeverApplied(_) => {
                self.equivalent += 1
            }
            MutantVerdict::KilledEquivalent(_) => self.false_positives += 1,
            MutantVerdict::Gap | MutantVerdict::NeverApplied => self.gaps += 1,
            MutantVerdict::NotExercised(_) => self.not_exercised += 1,
        }
    }
}

/// The campaign judged: one row per operator, every mutant's verdict.
#[derive(Debug, Clone)]
pub struct OperatorTable {
    /// The runs behind it.
    pub campaign: Campaign,
    /// One row per operator, in table order.
    pub rows: Vec<OperatorRow>,
    /// Every mutant with its verdict, in table order.
    pub verdicts: Vec<(Mutant, MutantVerdict)>,
}

impl OperatorTable {
    /// Judges every run of `campaign`.
    pub fn new(campaign: Campaign) -> OperatorTable {
        let mut rows: Vec<OperatorRow> = Vec::new();
        let mut verdicts = Vec::new();
        for run in &campaign.runs {
            let Some(mutant) = run.mutant else { continue };
            let verdict = verdict(run);
            let kind = mutant.operator.kind();
            match rows.iter_mut().find(|row| row.operator == kind) {
                Some(row) => row.count(&verdict),
                None => {
                    let mut row = OperatorRow {
                        operator: kind,
                        ..OperatorRow::default()
                    };
                    row.count(&verdict);
                    rows.push(row);
                }
            }
            verdicts.push((mutant, verdict));
        }
        OperatorTable {
            campaign,
            rows,
            verdicts,
        }
    }

    /// Every row summed.
    pub fn overall(&self) -> OperatorRow {
        let mut total = OperatorRow {
            operator: "overall".to_string(),
            ..OperatorRow::default()
        };
        for row in &self.rows {
            total.mutants += row.mutants;
            total.killed += row.killed;
            total.equivalent += row.equivalent;
            total.gaps += row.gaps;
            total.false_positives += row.false_positives;
            total.not_exercised += row.not_exercised;
        }
        total
    }

    /// The mutants that survived without being equivalent (never applied ones included).
    pub fn gaps(&self) -> Vec<&Mutant> {
        self.verdicts
            .iter()
            .filter(|(_, verdict)| {
                matches!(verdict, MutantVerdict::Gap | MutantVerdict::NeverApplied)
            })
            .map(|(mutant, _)| mutant)
            .collect()
    }

    /// The equivalent mutants some trial failed on.
    pub fn false_positives(&self) -> Vec<&Mutant> {
        self.verdicts
            .iter()
            .filter(|(_, verdict)| matches!(verdict, MutantVerdict::KilledEquivalent(_)))
            .map(|(mutant, _)| mutant)
            .collect()
    }

    /// Whether the baseline passed through the proxy, no survivor is unexplained and no equivalent was killed.
    pub fn is_clean(&self) -> bool {
        self.campaign.baseline.killers.is_empty()
            && !self
                .verdicts
                .iter()
                .any(|(_, verdict)| verdict.is_problem())
    }

    fn run_of(&self, mutant: &Mutant) -> Option<&MutantRun> {
        self.campaign
            .runs
            .iter()
            .find(|run| run.mutant.as_ref() == Some(mutant))
    }
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |rate| format!("{rate:.0} %"))
}

fn listed(names: &[String], limit: usize) -> String {
    let shown: Vec<&str> = names.iter().take(limit).map(String::as_str).collect();
    let more = names.len().saturating_sub(limit);
    if more > 0 {
        format!("{} (+{more} more)", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The table as people read it; with `every_mutant`, each killed mutant with its first killers too.
pub fn render(table: &OperatorTable, every_mutant: bool) -> String {
    let mut out = String::new();
    let campaign = &table.campaign;
    let _ = writeln!(
        out,
        "mutation operators: the suite through a mutating proxy in front of {}",
        campaign.upstream
    );
    let baseline = &campaign.baseline;
    if baseline.killers.is_empty() {
        let _ = writeln!(
            out,
            "baseline through the proxy with no operator: {} trials, none failed ({} ignored for missing configuration)",
            campaign.trials, baseline.trials_ignored
        );
    } else {
        let names: Vec<String> = baseline.killers.iter().map(|k| k.trial.clone()).collect();
        let _ = writeln!(
            out,
            "BASELINE FAILED: {} trial(s) fail through the proxy with no operator (mutants are judged on the others): {}",
            names.len(),
            listed(&names, 10)
        );
    }
    let width = table
        .rows
        .iter()
        .map(|row| row.operator.chars().count())
        .max()
        .unwrap_or(10)
        .max("operator".len());
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>7}  {:>6}  {:>10}  {:>4}  {:>9}  {:>7}  {:>9}",
        "operator", "mutants", "killed", "equivalent", "gaps", "false pos", "not run", "kill rate"
    );
    let overall = table.overall();
    for row in table.rows.iter().chain(std::iter::once(&overall)) {
        let _ = writeln!(
            out,
            "{:<width$}  {:>7}  {:>6}  {:>10}  {:>4}  {:>9}  {:>7}  {:>9}",
            row.operator,
            row.mutants,
            row.killed,
            row.equivalent,
            row.gaps,
            row.false_positives,
            row.not_exercised,
            percent(row.kill_rate()),
        );
    }
    let _ = writeln!(
        out,
        "\noperator kill rate: {}/{} mutants that must die were killed ({}); {} equivalent, {} gaps, {} false positives, {} not run for missing configuration",
        overall.killed,
        overall.killed + overall.gaps,
        percent(overall.kill_rate()),
        overall.equivalent,
        overall.gaps,
        overall.false_positives,
        overall.not_exercised
    );
    let mut survivors = String::new();
    for (mutant, verdict) in &table.verdicts {
        let Some(run) = table.run_of(mutant) else {
            continue;
        };
        let line = match verdict {
            MutantVerdict::Killed if every_mutant => {
                let names: Vec<String> = run
                    .killers
                    .iter()
                    .map(|killer| {
                        if killer.errored {
                            format!("{} (error)", killer.trial)
                        } else {
                            killer.trial.clone()
                        }
                    })
                    .collect();
                format!("killed by {}", listed(&names, 3))
            }
            MutantVerdict::Killed => continue,
            MutantVerdict::SurvivedEquivalent(why) => {
                format!("survived (equivalent: {why}); applied {} time(s)", run.applications)
            }
            MutantVerdict::EquivalentNeverApplied(why) => format!(
                "survived (equivalent: {why}); never applied: no trial's traffic had anything for it to edit"
            ),
            MutantVerdict::KilledEquivalent(why) => {
                let names: Vec<String> = run.killers.iter().map(|k| k.trial.clone()).collect();
                format!(
                    "FALSE POSITIVE: equivalent ({why}) but killed by {}",
                    listed(&names, 5)
                )
            }
            MutantVerdict::Gap => {
                let touched = if run.touched_trials.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; edited traffic of {}",
                        listed(&run.touched_trials, 6)
                    )
                };
                format!(
                    "GAP: survived, applied {} time(s), no trial failed{touched}",
                    run.applications
                )
            }
            MutantVerdict::NeverApplied => {
                "GAP: never applied: no trial sends traffic this operator edits".to_string()
            }
            MutantVerdict::NotExercised(needs) => format!(
                "not run: the target lacks {} (the trials that need it were ignored)",
                needs.option()
            ),
        };
        let _ = writeln!(survivors, "  {mutant}: {line}");
    }
    if !survivors.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            if every_mutant {
                "every mutant:"
            } else {
                "every mutant that was not killed:"
            }
        );
        out.push_str(&survivors);
    }
    let killed_runs: Vec<&MutantRun> = campaign
        .runs
        .iter()
        .filter(|run| !run.killers.is_empty())
        .collect();
    let mean_trials = if killed_runs.is_empty() {
        0.0
    } else {
        killed_runs.iter().map(|run| run.trials_run).sum::<usize>() as f64
            / killed_runs.len() as f64
    };
    let _ = writeln!(
        out,
        "\n{} mutants in {:.1} s (baseline {:.1} s); killed mutants stopped after a mean {mean_trials:.1} of {} trials",
        campaign.runs.len(),
        campaign.elapsed.as_secs_f64(),
        baseline.elapsed.as_secs_f64(),
        campaign.trials
    );
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::campaign::Killer;
    use super::super::operator::{ListEdit, Operator};
    use super::*;
    use crate::spec::contract::Operation;

    fn run(operator: Operator, killed: bool, applications: u64) -> MutantRun {
        MutantRun {
            mutant: Some(Mutant {
                operator,
                scope: Some(Operation::List),
            }),
            killers: if killed {
                vec![Killer {
                    trial: "crud::x".to_string(),
                    errored: false,
                }]
            } else {
                Vec::new()
            },
            trials_run: 1,
            trials_ignored: 0,
            applications,
            touched_trials: Vec::new(),
            missing: None,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn verdicts_follow_equivalence_kills_and_applications() {
        let drop = Operator::List(ListEdit::DropFirst);
        let reverse = Operator::List(ListEdit::Reverse);
        assert_eq!(verdict(&run(drop, true, 3)), MutantVerdict::Killed);
        assert_eq!(verdict(&run(drop, false, 3)), MutantVerdict::Gap);
        assert_eq!(verdict(&run(drop, false, 0)), MutantVerdict::NeverApplied);
        assert!(matches!(
            verdict(&run(reverse, false, 3)),
            MutantVerdict::SurvivedEquivalent(_)
        ));
        assert!(matches!(
            verdict(&run(reverse, true, 3)),
            MutantVerdict::KilledEquivalent(_)
        ));
        let mut unconfigured = run(drop, false, 0);
        unconfigured.missing = Some(Needs::ForbiddenContext);
        assert_eq!(
            verdict(&unconfigured),
            MutantVerdict::NotExercised(Needs::ForbiddenContext)
        );
        assert!(MutantVerdict::Gap.is_problem());
        assert!(MutantVerdict::KilledEquivalent("x").is_problem());
        assert!(!MutantVerdict::SurvivedEquivalent("x").is_problem());
        assert!(!MutantVerdict::NotExercised(Needs::SecondContext).is_problem());
    }

    fn campaign(runs: Vec<MutantRun>) -> Campaign {
        Campaign {
            upstream: "the embedded reference server".to_string(),
            trials: 1,
            baseline: MutantRun {
                mutant: None,
                ..run(Operator::List(ListEdit::DropFirst), false, 0)
            },
            runs,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn a_killed_equivalent_and_a_gap_are_printed_and_fail_the_table() {
        let reverse = Operator::List(ListEdit::Reverse);
        let drop = Operator::List(ListEdit::DropFirst);
        let table = OperatorTable::new(campaign(vec![run(reverse, true, 2), run(drop, false, 2)]));
        let printed = render(&table, false);
        assert!(!table.is_clean());
        assert_eq!(table.false_positives().len(), 1);
        assert_eq!(table.gaps().len(), 1);
        assert!(printed.contains("reverse the order @ GET (list): FALSE POSITIVE: equivalent ("));
        assert!(printed.contains("killed by crud::x"));
        assert!(printed
            .contains("drop the first element @ GET (list): GAP: survived, applied 2 time(s)"));
        assert!(printed.contains("operator kill rate: 0/1 mutants that must die were killed (0 %)"));
    }

    #[test]
    fn killed_mutants_and_survived_equivalents_make_a_clean_table() {
        let reverse = Operator::List(ListEdit::Reverse);
        let drop = Operator::List(ListEdit::DropFirst);
        let table = OperatorTable::new(campaign(vec![run(reverse, false, 2), run(drop, true, 2)]));
        let printed = render(&table, false);
        assert!(table.is_clean(), "{printed}");
        assert!(printed.contains(
            "reverse the order @ GET (list): survived (equivalent: the page gives no list order"
        ));
        assert!(
            printed.contains("operator kill rate: 1/1 mutants that must die were killed (100 %)")
        );
        assert!(!printed.contains("drop the first element @"));
        let mut baseline_failed = campaign(vec![run(drop, true, 2)]);
        baseline_failed.baseline.killers = vec![Killer {
            trial: "crud::x".to_string(),
            errored: false,
        }];
        let table = OperatorTable::new(baseline_failed);
        assert!(!table.is_clean());
        assert!(render(&table, false).contains("BASELINE FAILED"));
    }
}
