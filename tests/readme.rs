//! The README stays true: its scenario table is the generated one.

mod common;

#[test]
fn the_readme_scenario_table_is_current() {
    let output = common::harness().arg("scenarios").output().unwrap();
    assert!(output.status.success());
    let generated = common::stdout(&output);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("<!-- scenarios:start -->\n")
        .expect("start marker")
        + "<!-- scenarios:start -->\n".len();
    let end = readme.find("<!-- scenarios:end -->").expect("end marker");
    assert!(
        readme[start..end] == generated,
        "README's scenario table is stale; regenerate it with:\n  \
         cargo run -q -- scenarios > /tmp/t && python3 .ci/readme_table.py /tmp/t"
    );
}
