//! The harness proves itself: every deviation of the reference server is
//! caught by a trial belonging to the broken behaviour, every conformant
//! flavour (alt, strict once it exists) fails nothing, and every mutation
//! operator is killed or explained.

use ipdr_conformance::reference::Deviation;
use ipdr_conformance::selfcheck::mutation::{self, CampaignOptions, OperatorTable, Upstream};
use ipdr_conformance::selfcheck::{conformant_flavours, render, run_matrix};
use ipdr_conformance::spec::load::load_embedded;

#[test]
fn every_deviation_is_caught_and_no_conformant_flavour_has_false_positives() {
    let scenarios = load_embedded().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let matrix = runtime.block_on(run_matrix(&scenarios)).unwrap();
    let printed = render(&matrix);
    println!("{printed}");
    assert!(
        matrix.rows.len() >= 30,
        "at least 30 deviations:\n{printed}"
    );
    assert_eq!(matrix.rows.len(), Deviation::ALL.len());
    for row in &matrix.rows {
        assert!(
            row.caught(),
            "{} is not caught:\n{printed}",
            row.deviation.name()
        );
    }
    assert_eq!(matrix.flavours.len(), conformant_flavours().len());
    assert!(!conformant_flavours().is_empty());
    for row in &matrix.flavours {
        assert!(
            row.false_positives.is_empty(),
            "false positives against {}:\n{printed}",
            row.flavour
        );
        assert!(printed.contains(&format!(
            "false positives against --flavour {}: 0\n",
            row.flavour
        )));
    }
    assert!(printed.contains(&format!(
        "mutation score: {0}/{0} deviations caught (100 %)",
        matrix.rows.len()
    )));
    assert!(printed.contains("false positives against --flavour alt: 0\n"));
}

/// The properties alone, with every fixed scenario skipped, catch at least
/// 90 % of the deviations (the matrix printed shows which they miss) and
/// fail nothing against the alt flavour.
#[test]
fn the_properties_alone_catch_at_least_90_percent_and_no_conformant_flavour_has_false_positives() {
    use ipdr_conformance::execution::property::PropertyOptions;
    use ipdr_conformance::selfcheck::{render_property_matrix, run_property_matrix};

    let matrix = run_property_matrix(&PropertyOptions::default()).unwrap();
    let printed = render_property_matrix(&matrix);
    println!("{printed}");
    assert_eq!(matrix.rows.len(), Deviation::ALL.len());
    let missed: Vec<&str> = matrix
        .rows
        .iter()
        .filter(|row| !row.caught())
        .map(|row| row.deviation.name())
        .collect();
    println!("missed by the properties alone: {missed:?}");
    assert!(
        matrix.caught() * 10 >= matrix.rows.len() * 9,
        "the properties alone catch {}/{} deviations; missed: {missed:?}\n{printed}",
        matrix.caught(),
        matrix.rows.len()
    );
    for row in &matrix.flavours {
        assert!(
            row.false_positives.is_empty(),
            "false positives against {}:\n{printed}",
            row.flavour
        );
    }
    assert!(
        printed.contains("false positives against --flavour alt: 0\n"),
        "{printed}"
    );
}

/// The operator table over the embedded reference server.
fn operator_table() -> OperatorTable {
    let scenarios = load_embedded().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let campaign = runtime
        .block_on(mutation::run_campaign(
            &scenarios,
            &Upstream::Embedded(ipdr_conformance::reference::Flavour::Reference),
            &CampaignOptions::default(),
        ))
        .unwrap();
    OperatorTable::new(campaign)
}

/// The operator table over the embedded server: the baseline passes through
/// the proxy, no equivalent mutant is killed (no false positive), every
/// survivor is printed with its explanation, the kill rate is printed, and
/// no mutant that departs from the page survives (no gap).
#[test]
fn the_operator_table_kills_every_mutant_but_the_equivalent_ones() {
    let table = operator_table();
    let printed = mutation::render(&table, false);
    println!("{printed}");
    assert!(table.campaign.baseline.killers.is_empty(), "{printed}");
    assert_eq!(table.verdicts.len(), mutation::all_mutants().len());
    let false_positives: Vec<String> = table
        .false_positives()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        false_positives.is_empty(),
        "equivalent mutants killed (false positives of the suite): {false_positives:?}\n{printed}"
    );
    assert!(printed.contains("operator kill rate: "), "{printed}");
    // Every mutant that was not killed is printed with what it means.
    for (mutant, verdict) in &table.verdicts {
        let line = format!("  {mutant}: ");
        match verdict {
            mutation::MutantVerdict::Killed => {}
            mutation::MutantVerdict::SurvivedEquivalent(why) => {
                assert!(
                    printed.contains(&format!("{line}survived (equivalent: {why})")),
                    "{mutant}\n{printed}"
                );
            }
            other => panic!(
                "{mutant}: unexpected verdict {other:?} against the embedded server\n{printed}"
            ),
        }
    }
    let gaps: Vec<String> = table.gaps().iter().map(ToString::to_string).collect();
    assert!(gaps.is_empty(), "gaps: {gaps:?}\n{printed}");
    assert!(table.is_clean(), "{printed}");
    assert!(printed.contains("0 gaps, 0 false positives"), "{printed}");
}
