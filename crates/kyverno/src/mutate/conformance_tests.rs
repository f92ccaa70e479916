//! Applies the static `patchStrategicMerge` rules of the kyverno/policies conformance set to their test
//! resources and compares with the expected `patchedResources` (only where the rule has no variables,
//! `foreach`, `context` or `preconditions`, and matches the resource's kind directly).

use crate::test_suite::{as_list, conformance_root, load_docs, test_dirs};

use serde_json::Value;

use super::StrategicPatch;

/// Kinds a rule matches, when it matches by kind only.
fn rule_kinds(rule: &Value) -> Vec<String> {
    let m = &rule["match"];
    let mut blocks = vec![m["resources"].clone()];
    for key in ["any", "all"] {
        blocks.extend(as_list(m.get(key)).into_iter().map(|b| b["resources"].clone()));
    }
    blocks.iter().flat_map(|b| as_list(b.get("kinds"))).filter_map(|k| k.as_str().map(str::to_string)).collect()
}

/// A mutate rule with a `patchStrategicMerge` and nothing the evaluator would have to resolve first.
fn is_static(rule: &Value) -> bool {
    let mutate = &rule["mutate"];
    mutate.get("patchStrategicMerge").is_some()
        && !rule.to_string().contains("{{")
        && mutate.get("foreach").is_none()
        && rule.get("context").is_none()
        && rule.get("preconditions").is_none()
        && rule.get("exclude").is_none()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

#[test]
fn static_strategic_merge_policies() {
    let root = conformance_root();
    let mut dirs = Vec::new();
    test_dirs(&root, &mut dirs);
    dirs.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for test_dir in dirs {
        let test_file = test_dir.join("kyverno-test.yaml");
        if !std::fs::read_to_string(&test_file).is_ok_and(|t| t.contains("patchedResources")) {
            continue;
        }
        let Some(test) = load_docs(&test_file).into_iter().next() else { continue };
        let policies: Vec<Value> = as_list(test.get("policies"))
            .iter()
            .filter_map(Value::as_str)
            .flat_map(|p| load_docs(&test_dir.join(p)))
            .collect();
        let resources: Vec<Value> = as_list(test.get("resources"))
            .iter()
            .filter_map(Value::as_str)
            .flat_map(|p| load_docs(&test_dir.join(p)))
            .collect();
        for result in as_list(test.get("results")) {
            let Some(patched_file) = result["patchedResources"].as_str() else { continue };
            let expected_docs = load_docs(&test_dir.join(patched_file));
            let Some(policy) = policies.iter().find(|p| p["metadata"]["name"] == result["policy"]) else { continue };
            let rules = as_list(policy["spec"].get("rules"));
            let Some(rule) = rules.iter().find(|r| r["name"] == result["rule"]) else { continue };
            if !is_static(rule) {
                continue;
            }
            let Some(kind) = result["kind"].as_str() else { continue };
            if !rule_kinds(rule).iter().any(|k| k == kind) {
                continue;
            }
            // The expected resource is the outcome of every rule of the policy, in order.
            if !rules.iter().all(is_static) {
                continue;
            }
            let patches: Vec<StrategicPatch> = rules
                .iter()
                .filter(|r| rule_kinds(r).iter().any(|k| k == kind))
                .filter_map(|r| r["mutate"].get("patchStrategicMerge"))
                .filter_map(|overlay| StrategicPatch::compile(overlay).ok())
                .collect();
            for name in as_list(result.get("resources")).iter().filter_map(Value::as_str) {
                let (Some(resource), Some(expected)) = (find(&resources, kind, name), find(&expected_docs, kind, name))
                else {
                    continue;
                };
                checked += 1;
                // The kyverno CLI puts namespaced test resources without a namespace into `default`.
                let mut resource = resource.clone();
                if expected["metadata"]["namespace"] == "default"
                    && resource["metadata"].get("namespace").is_none()
                    && let Some(meta) = resource["metadata"].as_object_mut()
                {
                    meta.insert("namespace".to_string(), Value::String("default".to_string()));
                }
                let applied = patches.iter().try_fold(resource, |r, p| p.apply(&r));
                match applied {
                    Ok(got) if &got == expected => {}
                    Ok(got) => failures.push(format!("{} {kind}/{name}: got {got}", test_dir.display())),
                    Err(e) => failures.push(format!("{} {kind}/{name}: {e}", test_dir.display())),
                }
            }
        }
    }
    if !root.exists() {
        eprintln!("conformance data not found at {}; nothing checked", root.display());
        return;
    }
    assert!(failures.is_empty(), "{checked} checked, {} failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 0, "no conformance case applied");
}
