//! The docs stay true: the scenario catalogue (docs/scenarios.md) is the generated table.

mod common;

#[test]
fn the_scenario_catalogue_is_current() {
    let output = common::harness().arg("scenarios").output().unwrap();
    assert!(output.status.success());
    let generated = common::stdout(&output);
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/scenarios.md")).unwrap();
    let start = page
        .find("<!-- scenarios:start -->\n")
        .expect("start marker")
        + "<!-- scenarios:start -->\n".len();
    let end = page.find("<!-- scenarios:end -->").expect("end marker");
    assert!(
        page[start..end] == generated,
        "docs/scenarios.md's scenario table is stale; regenerate it with:\n  \
         cargo run -q -- scenarios > /tmp/scenarios.md && python3 .ci/readme_table.py /tmp/scenarios.md"
    );
}
