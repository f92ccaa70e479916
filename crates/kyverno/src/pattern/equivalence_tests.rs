//! Randomised equivalence of the pattern walker with the reference copy in `reference_tests`:
//! every outcome (kind, path and message) must be identical.

use super::{PatternOutcome, compile, reference_tests};
use crate::test_suite::Rng;
use serde_json::{Map, Value, json};

const KEYS: &[&str] = &["a", "b", "c", "spec", "metadata", "labels", "annotations", "app*", "x?", "containers"];
const RESOURCE_KEYS: &[&str] = &["a", "b", "c", "spec", "metadata", "labels", "annotations", "app1", "appx", "xy"];
const ANCHORS: &[&str] = &["", "", "", "(", "<(", "X(", "=(", "^("];

fn pattern_scalar(rng: &mut Rng) -> Value {
    let strings = [
        "*", "?*", "a", "b", "a | b", ">1", "<=2", "!a", "1-3", "1!-3", "1Gi", ">1s", "", "app*", "true", "null", "!*",
        ">0 & <3",
    ];
    match rng.below(6) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(*rng.pick(&[0.0, 1.0, 2.5, 3.0])),
        _ => json!(*rng.pick(&strings)),
    }
}

fn resource_scalar(rng: &mut Rng) -> Value {
    let strings = ["a", "b", "", "1Gi", "2s", "app1", "true", "2", "z"];
    match rng.below(6) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(*rng.pick(&[0, 1, 2, 7])),
        3 => json!(2.5),
        _ => json!(*rng.pick(&strings)),
    }
}

fn pattern(rng: &mut Rng, depth: usize) -> Value {
    match if depth == 0 { 2 } else { rng.below(5) } {
        0 | 1 => {
            let mut map = Map::new();
            for _ in 0..rng.below(4) + usize::from(depth == 4) {
                let anchor = *rng.pick(ANCHORS);
                let key = *rng.pick(KEYS);
                let raw = if anchor.is_empty() { key.to_string() } else { format!("{anchor}{key})") };
                let value = if anchor == "^(" || rng.chance(20) {
                    Value::Array((0..rng.below(3) + 1).map(|_| pattern(rng, depth.saturating_sub(1))).collect())
                } else {
                    pattern(rng, depth - 1)
                };
                map.insert(raw, value);
            }
            Value::Object(map)
        }
        3 => Value::Array((0..rng.below(3)).map(|_| pattern(rng, depth - 1)).collect()),
        _ => pattern_scalar(rng),
    }
}

/// A resource shaped like `pattern`, with random omissions, additions and values.
fn resource_like(rng: &mut Rng, pattern: &Value, depth: usize) -> Value {
    if depth == 0 || rng.chance(8) {
        return random_resource(rng, depth.min(2));
    }
    match pattern {
        Value::Object(entries) => {
            let mut map = Map::new();
            for (raw, value) in entries {
                if rng.chance(20) {
                    continue;
                }
                let key = super::anchor::parse(raw).map_or(raw.as_str(), |a| a.key);
                let key = if key.contains(['*', '?']) { *rng.pick(RESOURCE_KEYS) } else { key };
                map.insert(key.to_string(), resource_like(rng, value, depth - 1));
            }
            if rng.chance(20) {
                map.insert(rng.pick(RESOURCE_KEYS).to_string(), random_resource(rng, 1));
            }
            Value::Object(map)
        }
        Value::Array(items) if !items.is_empty() => {
            let n = rng.below(4);
            Value::Array(
                (0..n)
                    .map(|_| {
                        let item = &items[rng.below(items.len())];
                        resource_like(rng, item, depth - 1)
                    })
                    .collect(),
            )
        }
        Value::String(s) if rng.chance(40) => json!(s),
        _ => resource_scalar(rng),
    }
}

fn random_resource(rng: &mut Rng, depth: usize) -> Value {
    match if depth == 0 { 2 } else { rng.below(4) } {
        0 => Value::Object(
            (0..rng.below(4)).map(|_| (rng.pick(RESOURCE_KEYS).to_string(), random_resource(rng, depth - 1))).collect(),
        ),
        1 => Value::Array((0..rng.below(3)).map(|_| random_resource(rng, depth - 1)).collect()),
        _ => resource_scalar(rng),
    }
}

fn label(outcome: &PatternOutcome) -> usize {
    match outcome {
        PatternOutcome::Pass => 0,
        PatternOutcome::Fail { .. } => 1,
        PatternOutcome::Error { .. } => 2,
        PatternOutcome::Skip { .. } => 3,
    }
}

#[test]
fn walker_matches_the_reference_on_random_patterns() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut counts = [0usize; 4];
    let mut compiled = 0usize;
    for _ in 0..4000 {
        let raw = pattern(&mut rng, 4);
        let Ok(compiled_pattern) = compile(&raw) else { continue };
        compiled += 1;
        for _ in 0..25 {
            let resource = resource_like(&mut rng, &raw, 5);
            let want = reference_tests::validate(&compiled_pattern, &resource);
            let got = compiled_pattern.validate(&resource);
            assert_eq!(got, want, "pattern {raw}\nresource {resource}");
            // A quiet walk (no failure text) decides the same.
            let quiet = compiled_pattern.validate_with(&resource, true);
            assert_eq!(label(&quiet), label(&got), "quiet: pattern {raw}\nresource {resource}");
            counts[label(&got)] += 1;
        }
    }
    eprintln!("{compiled} patterns; pass/fail/error/skip: {counts:?}");
    assert!(counts.iter().all(|&c| c > 1000), "poor coverage: {counts:?}");
}

/// Every variable-free pattern of each upstream policy, against every resource beside it.
#[test]
fn walker_matches_the_reference_on_upstream_policies() {
    use crate::test_suite::{files_below, load_docs, upstream_yaml_files};
    let Some(files) = upstream_yaml_files() else { return };
    let mut checked = 0usize;
    for file in &files {
        let docs = load_docs(file);
        let mut patterns = Vec::new();
        for doc in &docs {
            if !matches!(doc.get("kind").and_then(Value::as_str), Some("ClusterPolicy" | "Policy")) {
                continue;
            }
            let Some(Value::Array(rules)) = doc.pointer("/spec/rules") else { continue };
            for rule in rules {
                if let Some(validate) = rule.get("validate") {
                    super::conformance_tests::collect(validate, String::new(), &mut patterns);
                }
            }
        }
        let mut compiled = Vec::new();
        for (_, pattern, is_any) in patterns.iter().filter(|(_, p, _)| !p.to_string().contains("{{")) {
            match (is_any, pattern) {
                (true, Value::Array(items)) => compiled.extend(items.iter().filter_map(|p| compile(p).ok())),
                _ => compiled.extend(compile(pattern).ok()),
            }
        }
        if compiled.is_empty() {
            continue;
        }
        let Some(policy_dir) = file.parent() else { continue };
        let mut resource_files = Vec::new();
        files_below(policy_dir, &|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"), &mut resource_files);
        for resource in resource_files.iter().flat_map(|f| load_docs(f)) {
            if matches!(resource.get("kind").and_then(Value::as_str), Some("ClusterPolicy" | "Policy" | "Test")) {
                continue;
            }
            for pattern in &compiled {
                let want = reference_tests::validate(pattern, &resource);
                assert_eq!(pattern.validate(&resource), want, "{}\nresource {resource}", file.display());
                let quiet = pattern.validate_with(&resource, true);
                assert_eq!(label(&quiet), label(&want), "quiet: {}\nresource {resource}", file.display());
                checked += 1;
            }
        }
    }
    eprintln!("checked {checked} upstream pattern/resource pairs");
    assert!(checked > 1000, "only {checked} pairs");
}
