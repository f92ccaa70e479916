//! Runs the `generatedResource` expectations of the ClusterPolicy (JMESPath) family in the
//! kyverno/policies conformance set: the trigger from `resources`, values from the test's
//! values file, clone sources from `cloneSourceResource`; the generated object is compared
//! with the expected one as `kyverno test` does (see [`super::check_generated`]).

use super::{GenerateRule, check_generated};
use crate::conditions::Conditions;
use crate::context::{ContextLoader, JmesPathField};
use crate::test_suite::{as_list, conformance_root, load_docs, test_dirs};
use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
use palisade_engine::{AdmissionRequest, EvaluationContext, Operation, StaticCluster};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

fn files(test_dir: &Path, v: Option<&Value>) -> Vec<Value> {
    as_list(v).iter().filter_map(Value::as_str).flat_map(|p| load_docs(&test_dir.join(p))).collect()
}

/// Context entries as the policy compiler builds them: variables, or values-only externals.
fn compile_context(value: &Value) -> Result<Vec<ContextLoader>, String> {
    let mut out = Vec::new();
    for entry in value.as_array().ok_or(": must be a list")? {
        let name = entry["name"].as_str().unwrap_or_default().to_string();
        if let Some(var) = entry.get("variable") {
            let compile = |f: &str| var.get(f).map(|v| CompiledValue::compile(v).map_err(|e| e.to_string()));
            out.push(ContextLoader::Variable {
                name,
                value: compile("value").transpose()?,
                jmes_path: var
                    .get("jmesPath")
                    .and_then(Value::as_str)
                    .map(|p| Template::compile(p).map_err(|e| e.to_string()).and_then(JmesPathField::compile))
                    .transpose()?,
                default: compile("default").transpose()?,
            });
        } else {
            out.push(ContextLoader::External { name, kind: "apiCall" });
        }
    }
    Ok(out)
}

/// Flat values for `policy`/`rule` on the resource `resource` from a values file.
fn values_for(values: &[Value], policy: &str, rule: &str, resource: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for file in values {
        let mut push = |map: &Value| {
            if let Some(m) = map.as_object() {
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        };
        push(&file["globalValues"]);
        for p in as_list(file.get("policies")).iter().filter(|p| p["name"] == policy) {
            as_list(p.get("resources")).iter().filter(|r| r["name"] == resource).for_each(|r| push(&r["values"]));
            as_list(p.get("rules")).iter().filter(|r| r["name"] == rule).for_each(|r| push(&r["values"]));
        }
    }
    out
}

/// Prepares the rule context the way the policy evaluator does, then generates.
fn generate(
    policy: &str,
    rule: &Value,
    trigger: &Value,
    cluster: Vec<Value>,
    provided: &[(String, Value)],
) -> Result<Vec<Value>, String> {
    let policy_rule = rule["name"].as_str().unwrap_or_default();
    let ctx = EvaluationContext { cluster: Some(Arc::new(StaticCluster::new(cluster))), ..Default::default() };
    let request = AdmissionRequest::for_object(trigger.clone(), Operation::Create);
    let mut data = Vars::for_request(&request, &ctx);
    for (k, v) in provided {
        data.set_path(k, v.clone());
    }
    for loader in compile_context(rule.get("context").unwrap_or(&Value::Array(Vec::new())))? {
        let given = provided.iter().any(|(k, _)| k == loader.name());
        loader.load(&mut data, &ctx, given).map_err(|e| e.to_string())?;
    }
    for (k, v) in provided {
        data.set_path(k, v.clone());
    }
    let preconditions =
        Conditions::compile(rule.get("preconditions").unwrap_or(&Value::Null)).map_err(|e| e.to_string())?;
    if !preconditions.evaluate(&data, Resolution::Lenient).map_err(|e| e.to_string())?.0 {
        return Err("preconditions not met".into());
    }
    let block = rule["generate"].as_object().ok_or("no generate block")?;
    let compiled = GenerateRule::compile(block, &compile_context)?;
    compiled.generate(&mut data, &ctx, policy, policy_rule)
}

#[test]
fn cluster_policy_generated_resources() {
    let root = conformance_root();
    if !root.exists() {
        eprintln!("conformance data not found at {}; nothing checked", root.display());
        return;
    }
    let mut dirs = Vec::new();
    test_dirs(&root, &mut dirs);
    dirs.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for test_dir in dirs {
        let test_file = test_dir.join("kyverno-test.yaml");
        if !std::fs::read_to_string(&test_file).is_ok_and(|t| t.contains("generatedResource")) {
            continue;
        }
        let Some(test) = load_docs(&test_file).into_iter().next() else { continue };
        let policies = files(&test_dir, test.get("policies"));
        let resources = files(&test_dir, test.get("resources"));
        let values = files(&test_dir, test.get("variables"));
        for result in as_list(test.get("results")) {
            let Some(expected_file) = result["generatedResource"].as_str() else { continue };
            let Some(policy) = policies.iter().find(|p| p["metadata"]["name"] == result["policy"]) else { continue };
            if policy["kind"] != "ClusterPolicy" {
                continue;
            }
            let rules = as_list(policy["spec"].get("rules"));
            let Some(rule) = rules.iter().find(|r| r["name"] == result["rule"]) else { continue };
            let expected_docs = load_docs(&test_dir.join(expected_file));
            let mut cluster = resources.clone();
            cluster.extend(
                result["cloneSourceResource"].as_str().map(|f| load_docs(&test_dir.join(f))).unwrap_or_default(),
            );
            for name in as_list(result.get("resources")).iter().filter_map(Value::as_str) {
                let bare = name.rsplit('/').next().unwrap_or(name);
                let Some(trigger) =
                    resources.iter().find(|r| r["kind"] == result["kind"] && r["metadata"]["name"] == bare)
                else {
                    failures.push(format!("{}: trigger {name} not found", test_dir.display()));
                    continue;
                };
                checked += 1;
                let policy_name = policy["metadata"]["name"].as_str().unwrap_or_default();
                let provided = values_for(&values, policy_name, rule["name"].as_str().unwrap_or_default(), bare);
                let generated = match generate(policy_name, rule, trigger, cluster.clone(), &provided) {
                    Ok(g) => g,
                    Err(e) => {
                        failures.push(format!("{}: {e}", test_dir.display()));
                        continue;
                    }
                };
                if generated.is_empty() {
                    failures.push(format!("{}: nothing generated", test_dir.display()));
                } else if let Err(e) = check_generated(&generated, &expected_docs) {
                    failures.push(format!("{}: {e}", test_dir.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{checked} checked, {} failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 4, "only {checked} generate expectations checked");
}
