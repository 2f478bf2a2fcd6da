//! The harness proves itself: every deviation of the reference server is
//! caught by a trial belonging to the broken behaviour, and the conformant
//! alt flavour fails nothing.

use ipdr_conformance::reference::Deviation;
use ipdr_conformance::selfcheck::{render, run_matrix};
use ipdr_conformance::spec::load::load_embedded;

#[test]
fn every_deviation_is_caught_and_alt_has_no_false_positives() {
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
    assert!(
        matrix.false_positives.is_empty(),
        "false positives against alt:\n{printed}"
    );
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
fn the_properties_alone_catch_at_least_90_percent_and_alt_has_no_false_positives() {
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
    assert!(
        matrix.false_positives.is_empty(),
        "false positives against alt:\n{printed}"
    );
    assert!(
        printed.contains("false positives against --flavour alt: 0\n"),
        "{printed}"
    );
}
