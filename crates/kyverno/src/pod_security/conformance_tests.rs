//! Runs the upstream kyverno/policies tests whose policies use `validate.podSecurity`
//! (`pod-security/subrule/...` in `../shared/conformance/kyverno-policies`, beside the
//! repository): each expected pass/fail of a `podSecurity` rule is checked on the Pod, and on
//! the same pod wrapped in a Deployment and a CronJob for the `autogen-` rules.

use super::{PodSecurityOutcome, compile};
use crate::test_suite::{conformance_root, load_docs, test_files};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The resource as the autogen rule `rule` sees it.
fn as_autogen(rule: &str, pod: &Value) -> Option<Value> {
    let template = json!({"metadata": pod.get("metadata").cloned().unwrap_or(json!({})), "spec": pod["spec"].clone()});
    if rule.starts_with("autogen-cronjob-") {
        Some(json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}}))
    } else if rule.starts_with("autogen-") {
        Some(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"template": template}}),
        )
    } else {
        None
    }
}

#[test]
fn upstream_podsecurity_tests() {
    let root = conformance_root();
    if !root.is_dir() {
        eprintln!("conformance data not found at {}; nothing checked", root.display());
        return;
    }
    let mut files = Vec::new();
    test_files(&root, &mut files);
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let dir = file.parent().unwrap_or(Path::new("."));
        let Some(test) = load_docs(&file).into_iter().next() else { continue };
        let paths = |key: &str| -> Vec<PathBuf> {
            test[key].as_array().into_iter().flatten().filter_map(Value::as_str).map(|p| dir.join(p)).collect()
        };
        // (policy, rule) -> compiled podSecurity
        let mut rules = Vec::new();
        for policy in paths("policies").iter().flat_map(|p| load_docs(p)) {
            let name = policy["metadata"]["name"].as_str().unwrap_or("").to_string();
            for rule in policy["spec"]["rules"].as_array().into_iter().flatten() {
                let Some(block) = rule["validate"].get("podSecurity") else { continue };
                let rule_name = rule["name"].as_str().unwrap_or("").to_string();
                let compiled = compile(block).unwrap_or_else(|e| panic!("{}: {rule_name}: {e}", file.display()));
                rules.push((name.clone(), rule_name, compiled));
            }
        }
        if rules.is_empty() {
            continue;
        }
        let resources: Vec<Value> = paths("resources").iter().flat_map(|p| load_docs(p)).collect();
        for result in test["results"].as_array().into_iter().flatten() {
            let policy = result["policy"].as_str().unwrap_or("");
            let rule = result["rule"].as_str().unwrap_or("");
            let expected = result["result"].as_str().unwrap_or("");
            let base_rule = rule.trim_start_matches("autogen-cronjob-").trim_start_matches("autogen-");
            let Some((_, _, ps)) = rules.iter().find(|(p, r, _)| p == policy && r == base_rule) else { continue };
            let mut names: Vec<&str> =
                result["resources"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            names.extend(result["resource"].as_str());
            for name in names {
                let Some(pod) = resources.iter().find(|r| r["metadata"]["name"] == name && r["kind"] == "Pod") else {
                    continue;
                };
                let resource = as_autogen(rule, pod).unwrap_or_else(|| pod.clone());
                let got = match ps.check(&resource) {
                    PodSecurityOutcome::Pass => "pass",
                    PodSecurityOutcome::Fail { .. } => "fail",
                    PodSecurityOutcome::Error { .. } => "error",
                };
                checked += 1;
                if got != expected {
                    failures.push(format!("{}: {policy}/{rule} {name}: got {got}, want {expected}", file.display()));
                }
                // Every Pod verdict must hold for the controllers autogen would cover.
                if !rule.starts_with("autogen-") {
                    for autogen in ["autogen-", "autogen-cronjob-"] {
                        let wrapped = as_autogen(&format!("{autogen}{rule}"), pod).unwrap_or(Value::Null);
                        let got = if ps.check(&wrapped) == PodSecurityOutcome::Pass { "pass" } else { "fail" };
                        checked += 1;
                        if got != expected {
                            failures.push(format!(
                                "{}: {autogen}{rule} {name}: got {got}, want {expected}",
                                file.display()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} cases differ:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 6, "only {checked} podSecurity cases checked");
}
