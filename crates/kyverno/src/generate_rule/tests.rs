use super::*;
use crate::context::JmesPathField;
use crate::vars::Vars;
use palisade_engine::{AdmissionRequest, Operation, StaticCluster};
use serde_json::json;
use std::sync::Arc;

fn no_context(_: &Value) -> Result<Vec<ContextLoader>, String> {
    Ok(Vec::new())
}

fn variable_context(value: &Value) -> Result<Vec<ContextLoader>, String> {
    let items = value.as_array().ok_or(": must be a list")?;
    items
        .iter()
        .map(|e| {
            let var = &e["variable"];
            Ok(ContextLoader::Variable {
                name: e["name"].as_str().unwrap_or_default().to_string(),
                value: var.get("value").map(|v| CompiledValue::compile(v).unwrap()),
                jmes_path: var
                    .get("jmesPath")
                    .and_then(Value::as_str)
                    .map(|p| JmesPathField::compile(Template::compile(p).unwrap()).unwrap()),
                default: None,
            })
        })
        .collect()
}

fn rule(block: Value) -> Result<GenerateRule, String> {
    GenerateRule::compile(block.as_object().unwrap(), &variable_context)
}

fn namespace_trigger() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": "team-a", "uid": "u-1", "labels": {"env": "prod"}}})
}

fn context_for(trigger: Value, cluster: Vec<Value>) -> (Vars<'static>, EvaluationContext) {
    let ctx = EvaluationContext { cluster: Some(Arc::new(StaticCluster::new(cluster))), ..Default::default() };
    let request = AdmissionRequest::for_object(trigger, Operation::Create);
    (Vars::for_request(&request, &ctx), ctx)
}

fn run(block: Value, trigger: Value, cluster: Vec<Value>) -> Result<Vec<Value>, String> {
    let (mut data, ctx) = context_for(trigger, cluster);
    rule(block)?.generate(&mut data, &ctx, "pol", "r")
}

fn secret(ns: &str, name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": name, "namespace": ns, "uid": "s-uid", "resourceVersion": "7",
                        "creationTimestamp": "2024-01-01T00:00:00Z", "labels": labels,
                        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "x"}]},
           "data": {"k": "dg=="}})
}

#[test]
fn data_rules_substitute_variables_and_label_the_object() {
    let block = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "cm-{{request.object.metadata.name}}",
        "namespace": "{{request.object.metadata.name}}", "synchronize": true,
        "data": {"metadata": {"labels": {"app": "x"}}, "data": {"env": "{{request.object.metadata.labels.env}}"}}});
    let out = run(block, namespace_trigger(), vec![]).unwrap();
    assert_eq!(out.len(), 1);
    let cm = &out[0];
    assert_eq!(cm["apiVersion"], "v1");
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "cm-team-a");
    assert_eq!(cm["metadata"]["namespace"], "team-a");
    assert_eq!(cm["data"]["env"], "prod");
    let labels = &cm["metadata"]["labels"];
    let want = [
        ("app", "x"),
        ("app.kubernetes.io/managed-by", "kyverno"),
        ("generate.kyverno.io/policy-name", "pol"),
        ("generate.kyverno.io/policy-namespace", ""),
        ("generate.kyverno.io/rule-name", "r"),
        ("generate.kyverno.io/trigger-kind", "Namespace"),
        ("generate.kyverno.io/trigger-version", "v1"),
        ("generate.kyverno.io/trigger-group", ""),
        ("generate.kyverno.io/trigger-namespace", ""),
        ("generate.kyverno.io/trigger-uid", "u-1"),
    ];
    for (k, v) in want {
        assert_eq!(labels[k], v, "label {k}");
    }
}

#[test]
fn unresolved_variables_are_errors_naming_the_field() {
    let cases = [
        (
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "{{request.object.metadata.missing}}",
                "namespace": "x", "data": {}}),
            "generate.name: ",
        ),
        (
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "n", "namespace": "x",
                "data": {"data": {"a": "{{request.object.spec.nope}}"}}}),
            "generate.data: ",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Secret", "name": "n", "namespace": "x",
                "clone": {"namespace": "default", "name": "{{request.object.nope}}"}}),
            "generate.clone.name: ",
        ),
    ];
    for (block, want) in cases {
        let err = run(block, namespace_trigger(), vec![]).unwrap_err();
        assert!(err.starts_with(want), "{err} should start with {want}");
        assert!(err.contains("Unknown key"), "{err}");
    }
}

#[test]
fn clone_copies_the_source_and_cleans_server_fields() {
    let block = json!({"apiVersion": "v1", "kind": "Secret", "name": "regcred",
        "namespace": "{{request.object.metadata.name}}", "clone": {"namespace": "default", "name": "regcred"}});
    let out = run(block, namespace_trigger(), vec![secret("default", "regcred", json!({"keep": "me"}))]).unwrap();
    assert_eq!(out.len(), 1);
    let s = &out[0];
    assert_eq!(s["data"]["k"], "dg==");
    assert_eq!(s["metadata"]["namespace"], "team-a");
    for gone in ["uid", "resourceVersion", "creationTimestamp", "ownerReferences"] {
        assert!(s["metadata"].get(gone).is_none(), "{gone} should be removed");
    }
    let labels = &s["metadata"]["labels"];
    assert_eq!(labels["keep"], "me");
    assert_eq!(labels["generate.kyverno.io/source-namespace"], "default");
    assert_eq!(labels["generate.kyverno.io/source-name"], "regcred");
    assert_eq!(labels["generate.kyverno.io/source-kind"], "Secret");
    assert_eq!(labels["generate.kyverno.io/clone-source"], "");
}

#[test]
fn clone_errors_and_skips() {
    let block = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "regcred", "namespace": "team-a",
        "clone": {"namespace": "default", "name": "regcred"}});
    let err = run(block, namespace_trigger(), vec![]).unwrap_err();
    assert_eq!(err, "generate.clone: source ConfigMap default/regcred not found");
    // Cloning an object onto itself generates nothing.
    let block = json!({"apiVersion": "v1", "kind": "Secret", "name": "regcred", "namespace": "default",
        "clone": {"namespace": "default", "name": "regcred"}});
    assert!(run(block, namespace_trigger(), vec![secret("default", "regcred", json!({}))]).unwrap().is_empty());
}

#[test]
fn existing_targets_are_regenerated_only_with_synchronize() {
    let existing = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "team-a"}});
    for (sync, want) in [(false, 0), (true, 1)] {
        let block = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "team-a",
            "synchronize": sync, "data": {"data": {"a": "b"}}});
        let out = run(block, namespace_trigger(), vec![existing.clone()]).unwrap();
        assert_eq!(out.len(), want, "synchronize {sync}");
    }
}

#[test]
fn clone_list_copies_matching_kinds_from_the_namespace() {
    let block = json!({"namespace": "{{request.object.metadata.name}}",
        "cloneList": {"namespace": "default", "kinds": ["v1/Secret", "ConfigMap"],
                      "selector": {"matchLabels": {"sync": "yes"}}}});
    let cluster = vec![
        secret("default", "b", json!({"sync": "yes"})),
        secret("default", "a", json!({"sync": "yes"})),
        secret("default", "c", json!({"sync": "no"})),
        secret("other", "d", json!({"sync": "yes"})),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default",
               "labels": {"sync": "yes"}}}),
    ];
    let out = run(block, namespace_trigger(), cluster).unwrap();
    let names: Vec<(&str, &str)> =
        out.iter().map(|o| (o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap())).collect();
    assert_eq!(names, [("Secret", "a"), ("Secret", "b"), ("ConfigMap", "cm")]);
    assert!(out.iter().all(|o| o["metadata"]["namespace"] == "team-a"));
}

#[test]
fn foreach_generates_per_element_with_context_and_preconditions() {
    let block = json!({"synchronize": true, "foreach": [{
        "list": "request.object.spec.envs",
        "context": [{"name": "suffix", "variable": {"value": "{{element.name}}-{{elementIndex}}"}}],
        "preconditions": {"all": [{"key": "{{element.enabled}}", "operator": "Equals", "value": true}]},
        "apiVersion": "v1", "kind": "ConfigMap", "name": "cfg-{{suffix}}", "namespace": "{{element.name}}",
        "data": {"data": {"owner": "{{request.object.metadata.name}}"}}}]});
    let trigger = json!({"apiVersion": "example.io/v1", "kind": "App", "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"envs": [{"name": "dev", "enabled": true}, {"name": "qa", "enabled": false},
                          {"name": "prod", "enabled": true}]}});
    let out = run(block, trigger, vec![]).unwrap();
    let names: Vec<&str> = out.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["cfg-dev-0", "cfg-prod-2"]);
    assert_eq!(out[1]["metadata"]["namespace"], "prod");
    assert_eq!(out[1]["data"]["owner"], "app");
    assert_eq!(out[0]["metadata"]["labels"]["generate.kyverno.io/trigger-group"], "example.io");
}

#[test]
fn foreach_clone_per_element_reports_the_element() {
    let block = json!({"foreach": [{"list": "request.object.spec.names", "apiVersion": "v1", "kind": "Secret",
        "name": "{{element}}", "namespace": "team-a", "clone": {"namespace": "default", "name": "{{element}}"}}]});
    let trigger = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "t"}, "spec": {"names": ["a", "zz"]}});
    let err = run(block.clone(), trigger.clone(), vec![secret("default", "a", json!({}))]).unwrap_err();
    assert_eq!(err, "generate.foreach[0].clone: source Secret default/zz not found (element 1)");
    let both = vec![secret("default", "a", json!({})), secret("default", "zz", json!({}))];
    assert_eq!(run(block, trigger, both).unwrap().len(), 2);
}

#[test]
fn namespaced_policies_stay_in_their_namespace() {
    let block = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "other", "data": {}});
    let (mut data, ctx) = context_for(namespace_trigger(), vec![]);
    let err = rule(block).unwrap().generate(&mut data, &ctx, "team-a/pol", "r").unwrap_err();
    assert_eq!(err, "generate.namespace \"other\" must equal policy namespace \"team-a\"");
    let block = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "team-a", "data": {}});
    let out = rule(block).unwrap().generate(&mut data, &ctx, "team-a/pol", "r").unwrap();
    assert_eq!(out[0]["metadata"]["labels"]["generate.kyverno.io/policy-namespace"], "team-a");
    assert_eq!(out[0]["metadata"]["labels"]["generate.kyverno.io/policy-name"], "pol");
}

#[test]
fn compile_errors_name_the_field() {
    let cases = [
        (json!({"apiVersion": "v1", "kind": "ConfigMap", "namespace": "x", "data": {}}), "name: name cannot be empty"),
        (json!({"apiVersion": "v1", "name": "n", "data": {}}), "kind: kind cannot be empty"),
        (json!({"apiVersion": "v1", "kind": "K", "name": "n", "data": {}, "clone": {"name": "a"}}), "clone: only one"),
        (json!({"name": "n", "cloneList": {"kinds": ["Secret"]}}), "name: with cloneList"),
        (json!({"cloneList": {"kinds": ["Secret"], "selector": {"matchLabels": {"a": "*"}}}}), "cloneList.selector"),
        (json!({"apiVersion": "v1", "kind": "K", "name": "n", "data": {"(x)": 1}}), "data.(x): anchors"),
        (json!({"apiVersion": "v1", "kind": "K", "name": "n", "bogus": 1}), "bogus: unknown field"),
        (json!({"apiVersion": "v1", "kind": "K", "name": "n", "synchronize": "yes"}), "synchronize: must be a boolean"),
        (json!({"foreach": [{"apiVersion": "v1", "kind": "K", "name": "n"}]}), "foreach[0].list: missing"),
        (
            json!({"foreach": [{"list": "a[", "apiVersion": "v1", "kind": "K", "name": "n"}]}),
            "foreach[0].list: invalid",
        ),
        (json!({"foreach": [{"list": "a", "kind": "K", "name": "n"}]}), "foreach[0].apiVersion: apiVersion cannot"),
        (json!({"apiVersion": "v1", "kind": "K", "name": "{{ a[ }}", "data": {}}), "name: invalid variable"),
    ];
    for (block, want) in cases {
        let err = GenerateRule::compile(block.as_object().unwrap(), &no_context).unwrap_err();
        assert!(err.starts_with(want), "{err:?} should start with {want:?}");
    }
}

#[test]
fn flags_are_exposed() {
    let block = json!({"apiVersion": "v1", "kind": "K", "name": "n", "synchronize": true,
        "orphanDownstreamOnPolicyDelete": true, "generateExisting": false, "data": {}});
    let r = rule(block).unwrap();
    assert!(r.synchronize());
    assert!(r.orphan_downstream_on_policy_delete());
    assert_eq!(r.generate_existing(), Some(false));
    assert!(!r.has_foreach());
    let r = rule(json!({"apiVersion": "v1", "kind": "K", "name": "n"})).unwrap();
    assert!(!r.synchronize());
    // No data, clone or cloneList: Kyverno generates nothing.
    let (mut data, ctx) = context_for(namespace_trigger(), vec![]);
    assert!(r.generate(&mut data, &ctx, "p", "r").unwrap().is_empty());
}

#[test]
fn comparable_ignores_generate_labels_and_empty_values() {
    let generated = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "n", "labels": {
        "app.kubernetes.io/managed-by": "kyverno", "generate.kyverno.io/rule-name": "r", "a": "b"}},
        "spec": {"podSelector": {}, "list": [], "x": null, "y": 1}});
    let expected = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "n", "labels": {"a": "b"}},
        "spec": {"y": 1}});
    assert_eq!(comparable(&generated), comparable(&expected));
    let different = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "n"}, "spec": {"y": 1}});
    assert_ne!(comparable(&generated), comparable(&different));
}

#[test]
fn check_generated_pairs_objects_by_namespace_and_name() {
    let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n",
        "labels": {"generate.kyverno.io/rule-name": "r"}}, "data": {"x": "1"}});
    let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "n"}});
    let expected = vec![
        b.clone(),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "n"}, "data": {"x": "1"}}),
    ];
    assert_eq!(check_generated(&[a.clone(), b.clone()], &expected), Ok(()));
    let mut changed = a.clone();
    changed["data"]["x"] = json!("2");
    assert!(check_generated(&[changed], &expected).unwrap_err().starts_with("generated ConfigMap n/a differs"));
    let stray = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}});
    assert_eq!(
        check_generated(&[stray], &expected).unwrap_err(),
        "generated ConfigMap n/c is not in the expected resources"
    );
}

#[test]
fn delete_requests_generate_nothing() {
    let block = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "namespace": "team-a", "data": {}});
    let ctx = EvaluationContext::default();
    let request = AdmissionRequest::for_object(namespace_trigger(), Operation::Delete);
    let mut data = Vars::for_request(&request, &ctx);
    assert!(rule(block.clone()).unwrap().generate(&mut data, &ctx, "p", "r").unwrap().is_empty());
    let request = AdmissionRequest::for_object(namespace_trigger(), Operation::Update);
    let mut data = Vars::for_request(&request, &ctx);
    assert_eq!(rule(block).unwrap().generate(&mut data, &ctx, "p", "r").unwrap().len(), 1);
}
