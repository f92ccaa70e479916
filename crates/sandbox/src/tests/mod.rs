//! Tests through the `AdmissionPolicy` trait and `PolicySet::evaluate` (mutate, then validate
//! on the mutated object), as the CLI and the webhook run policies.

mod cluster;
mod controllers;
mod decision;
mod examples;
mod matching;
mod settings;
mod update;

use palisade_engine::{
    AdmissionRequest, EvaluationContext, Operation, PolicySet, RuleKind, RuleResult, RuleStatus, SetEvaluation,
    StaticCluster, parse_documents,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// Compiles one policy from a `spec` written in YAML.
pub fn policy_set(spec_yaml: &str) -> PolicySet {
    let text = format!(
        "apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata:\n  name: sandbox\nspec:\n{}",
        indent(spec_yaml)
    );
    let docs = parse_documents("policy.yaml", &text).unwrap();
    let mut set = PolicySet::new();
    for p in crate::load(&docs).unwrap_or_else(|e| panic!("{e:?}")) {
        set.add(p);
    }
    set
}

/// The load error of a policy whose `spec` is written in YAML.
pub fn load_error(spec_yaml: &str) -> String {
    let text = format!(
        "apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata:\n  name: sandbox\nspec:\n{}",
        indent(spec_yaml)
    );
    let docs = parse_documents("policy.yaml", &text).unwrap();
    match crate::load(&docs) {
        Ok(_) => panic!("policy loaded: {spec_yaml}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

/// A Pod in namespace `apps` with one container `app` and the given extra spec fields.
pub fn pod(spec: Value) -> Value {
    let mut spec_obj = json!({"containers": [{"name": "app", "image": "registry.example.com/app:1"}]});
    merge(&mut spec_obj, spec);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "apps", "labels": {"app": "web"}}, "spec": spec_obj})
}

/// Deep-merges `patch` into `target` (objects merged, everything else replaced).
pub fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// Cluster data holding RuntimeClasses with these names.
pub fn cluster_with(classes: &[&str]) -> EvaluationContext {
    let objects = classes
        .iter()
        .map(|n| json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": n}, "handler": n}))
        .collect();
    EvaluationContext { cluster: Some(Arc::new(StaticCluster::new(objects))), ..EvaluationContext::default() }
}

/// Evaluates a CREATE of `object` with RuntimeClasses `kata` and `gvisor` present.
pub fn create(set: &PolicySet, object: Value) -> SetEvaluation {
    set.evaluate(&AdmissionRequest::for_object(object, Operation::Create), &cluster_with(&["kata", "gvisor", "runc"]))
}

/// Evaluates an UPDATE from `old` to `new`.
pub fn update(set: &PolicySet, old: Value, new: Value) -> SetEvaluation {
    let mut req = AdmissionRequest::for_object(new, Operation::Update);
    req.old_object = old;
    set.evaluate(&req, &cluster_with(&["kata", "gvisor", "runc"]))
}

/// The one result of `rule` (mutation or validation).
pub fn result<'a>(eval: &'a SetEvaluation, rule: &str) -> &'a RuleResult {
    let found: Vec<_> = eval.all_results().filter(|r| &*r.rule == rule).collect();
    assert_eq!(found.len(), 1, "expected one {rule} result in {:#?}", eval.all_results().collect::<Vec<_>>());
    found[0]
}

/// Asserts status and exact message of `rule`.
pub fn expect(eval: &SetEvaluation, rule: &str, status: RuleStatus, message: &str) {
    let r = result(eval, rule);
    assert_eq!((r.status, &*r.message), (status, message), "rule {rule}: {r:#?}");
    let kind = if rule == crate::RULE_MUTATE { RuleKind::Mutation } else { RuleKind::Validation };
    assert_eq!(r.kind, kind);
    assert_eq!(&*r.policy, "sandbox");
}

/// Whether the request would be denied (a blocking result or an error).
pub fn denied(eval: &SetEvaluation) -> bool {
    eval.blocking().next().is_some() || eval.all_results().any(|r| r.status == RuleStatus::Error)
}

/// `runtimeClassName` of the patched object at a JSON pointer (`None`: unchanged object).
pub fn patched_runtime(eval: &SetEvaluation, pointer: &str) -> Option<String> {
    eval.patched.as_ref().and_then(|p| p.pointer(pointer)).and_then(Value::as_str).map(str::to_string)
}
