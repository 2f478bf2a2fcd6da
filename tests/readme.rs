//! The docs stay true: the contract page's scenario table is the generated one.

mod common;

#[test]
fn the_contract_page_scenario_table_is_current() {
    let output = common::harness().arg("scenarios").output().unwrap();
    assert!(output.status.success());
    let generated = common::stdout(&output);
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contract.md")).unwrap();
    let start = page
        .find("<!-- scenarios:start -->\n")
        .expect("start marker")
        + "<!-- scenarios:start -->\n".len();
    let end = page.find("<!-- scenarios:end -->").expect("end marker");
    assert!(
        page[start..end] == generated,
        "docs/contract.md's scenario table is stale; regenerate it with:\n  \
         cargo run -q -- scenarios > /tmp/t && python3 .ci/readme_table.py /tmp/t"
    );
}
