//! Runs the upstream gatekeeper-library suites (shared/conformance, read-only) through the
//! suite runner, with Gatekeeper's engine choice (CEL first) and with Rego preferred, prints
//! every miss with its reason and asserts a floor on the pass count.

use palisade_gatekeeper::EnginePreference;
use palisade_gatekeeper::suite::{Outcome, SuiteOptions, SuiteResult, run_suite_file};
#[path = "common/library.rs"]
mod library;

use std::path::Path;

struct Tally {
    passed: usize,
    total: usize,
    misses: Vec<String>,
}

fn run(engine: EnginePreference) -> Option<(Tally, Vec<SuiteResult>)> {
    let root = library::root()?;
    let paths = library::suite_files(&root);
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let options = SuiteOptions { engine, rego: Default::default(), run: None };
    let mut tally = Tally { passed: 0, total: 0, misses: Vec::new() };
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for suite in run_suite_file(&path, &text, &read, &options) {
            let rel = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
            for test in &suite.tests {
                let cases: Vec<_> = test.cases.iter().filter(|c| c.outcome != Outcome::Skip).collect();
                if let Some(err) = &test.error {
                    tally.misses.push(format!("{rel} {}: test error: {err}", test.name));
                    tally.total += 1;
                }
                for case in cases {
                    tally.total += 1;
                    match case.outcome {
                        Outcome::Pass => tally.passed += 1,
                        _ => tally.misses.push(format!(
                            "{rel} {}/{} [{}]: {}",
                            test.name,
                            case.name,
                            test.engine.as_deref().unwrap_or("?"),
                            case.reason.as_deref().unwrap_or_default()
                        )),
                    }
                }
            }
            all.push(suite);
        }
    }
    Some((tally, all))
}

/// Cases passing with Gatekeeper's engine selection (CEL when a template ships it).
const FLOOR_GATEKEEPER: usize = 202;
/// Cases passing when Rego is preferred.
const FLOOR_REGO: usize = 202;

#[test]
fn gatekeeper_library_conformance() {
    for (engine, floor) in
        [(EnginePreference::Gatekeeper, FLOOR_GATEKEEPER), (EnginePreference::PreferRego, FLOOR_REGO)]
    {
        let Some((tally, _)) = run(engine) else {
            eprintln!("gatekeeper-library not found beside the repository; skipping conformance");
            return;
        };
        println!("== {engine:?}: {}/{} cases pass", tally.passed, tally.total);
        for miss in &tally.misses {
            println!("MISS {miss}");
        }
        assert!(tally.passed >= floor, "{engine:?}: {} passed, floor {floor}", tally.passed);
    }
}
