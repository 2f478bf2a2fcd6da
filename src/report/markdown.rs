//! Markdown renderings for the README and CI summaries.

use crate::spec::load::LoadedScenario;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The contract table: every scenario with its level, the doc section it cites, and what it checks.
pub fn scenario_table(scenarios: &[LoadedScenario]) -> String {
    let mut sorted: Vec<&LoadedScenario> = scenarios.iter().collect();
    sorted.sort_by(|a, b| a.scenario.name.cmp(&b.scenario.name));
    let mut out = String::from(
        "| scenario | level | vendor doc section | what it checks |\n|---|---|---|---|\n",
    );
    for loaded in sorted {
        let scenario = &loaded.scenario;
        let what = scenario.description.clone().unwrap_or_else(|| {
            scenario
                .steps
                .iter()
                .map(|step| step.name.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        });
        let levels: std::collections::BTreeSet<_> = scenario
            .steps
            .iter()
            .map(|step| scenario.step_level(step))
            .collect();
        let level = levels
            .iter()
            .map(|level| level.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            cell(&scenario.name),
            level,
            cell(&scenario.citation),
            cell(&what)
        ));
    }
    out
}
