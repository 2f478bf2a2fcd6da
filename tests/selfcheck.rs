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

/// Survivors the scenarios do not kill today, each a departure from the page
/// the suite misses (a GAP in `selfcheck`), to be closed by the scenario
/// authors. The test below fails when this list and the table disagree, so a
/// closed gap has to be removed here; once it is empty, drop the `#[ignore]`
/// of [`the_operator_table_has_no_gap`].
const KNOWN_GAPS: &[&str] = &[
    // `$error` checks status and message but not that nothing else is there.
    "add a member to the invalid_token envelope @ GET (list)",
    "add a member to the invalid_token envelope @ POST (create)",
    "add a member to the invalid_token envelope @ PUT",
    "add a member to the invalid_token envelope @ PATCH",
    "add a member to the invalid_token envelope @ DELETE",
    "add a member to the invalid_context envelope @ GET (list)",
    "add a member to the invalid_context envelope @ POST (create)",
    "add a member to the invalid_context envelope @ PUT",
    "add a member to the invalid_context envelope @ PATCH",
    "add a member to the invalid_context envelope @ DELETE",
    "add a member to the forbidden_context envelope @ GET (list)",
    "add a member to the forbidden_context envelope @ POST (create)",
    "add a member to the forbidden_context envelope @ PUT",
    "add a member to the forbidden_context envelope @ PATCH",
    "add a member to the forbidden_context envelope @ DELETE",
    // Only an observed scenario sends a wrong username, and only on a list.
    "an unknown username becomes the configured one @ GET (list)",
    "an unknown username becomes the configured one @ POST (create)",
    "an unknown username becomes the configured one @ PUT",
    "an unknown username becomes the configured one @ PATCH",
    "an unknown username becomes the configured one @ DELETE",
    // errors::auth_omitted::list is observed: a list without auth that answers the list passes.
    "a missing auth parameter is filled in @ GET (list)",
    // No trial sends one user's token with the other user's name (cross-user trials).
    "a token sent with another user's name becomes that user's token @ GET (list)",
    "a token sent with another user's name becomes that user's token @ POST (create)",
    "a token sent with another user's name becomes that user's token @ PUT",
    "a token sent with another user's name becomes that user's token @ PATCH",
    "a token sent with another user's name becomes that user's token @ DELETE",
    // No trial addresses a prefix, extension, case or encoding variant of an existing UserID.
    "a near-miss UserID in the path becomes the existing one @ PUT",
    "a near-miss UserID in the path becomes the existing one @ PATCH",
    "a near-miss UserID in the path becomes the existing one @ DELETE",
];

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
/// survivor is printed with its explanation or as a GAP, the kill rate is
/// printed, and the gaps are exactly the known ones.
#[test]
fn the_operator_table_kills_every_mutant_but_the_equivalent_ones_and_the_known_gaps() {
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
            mutation::MutantVerdict::Gap | mutation::MutantVerdict::NeverApplied => {
                assert!(
                    printed.contains(&format!("{line}GAP: ")),
                    "{mutant}\n{printed}"
                );
            }
            other => panic!(
                "{mutant}: unexpected verdict {other:?} against the embedded server\n{printed}"
            ),
        }
    }
    let gaps: Vec<String> = table.gaps().iter().map(ToString::to_string).collect();
    let new: Vec<&String> = gaps
        .iter()
        .filter(|gap| !KNOWN_GAPS.contains(&gap.as_str()))
        .collect();
    let closed: Vec<&&str> = KNOWN_GAPS
        .iter()
        .filter(|known| !gaps.iter().any(|gap| gap == *known))
        .collect();
    assert!(new.is_empty(), "new gaps: {new:?}\n{printed}");
    assert!(
        closed.is_empty(),
        "gaps now closed, remove them from KNOWN_GAPS: {closed:?}\n{printed}"
    );
}

/// Every mutant is killed or equivalent: the self-check's own verdict on the operators.
#[test]
#[ignore = "gaps (KNOWN_GAPS): the documented envelopes are not checked to hold nothing but status and message; no binding trial sends an unknown username; errors::auth_omitted::list is observed; no cross-user trial; no UserID-variant trial"]
fn the_operator_table_has_no_gap() {
    let table = operator_table();
    let printed = mutation::render(&table, false);
    println!("{printed}");
    assert!(table.is_clean(), "{printed}");
}
