//! UPDATE and DELETE: Pods and Jobs are validated, never patched; other controllers may be mutated.

use super::*;
use crate::{RULE_COMPATIBILITY, RULE_EXISTS, RULE_MUTATE, RULE_RUNTIME};
use RuleStatus::{Fail, Pass, Skip, Warn};

const SPEC: &str = "validationFailureAction: Enforce
reservedRuntimes: [runc]
fallbackRuntime: kata
triggers:
  untrustedImage:
    trustedRegistries: [registry.example.com]";

#[test]
fn updating_unrelated_fields_of_an_existing_runc_pod_is_allowed_with_a_warning() {
    let set = policy_set(SPEC);
    let old = pod(json!({}));
    let mut new = old.clone();
    new["metadata"]["labels"]["team"] = json!("a");
    let eval = update(&set, old, new);
    assert!(eval.patched.is_none(), "runtimeClassName of a Pod is immutable");
    expect(&eval, RULE_MUTATE, Skip, "spec.runtimeClassName of an existing Pod cannot be changed: validated instead");
    expect(
        &eval,
        RULE_RUNTIME,
        Warn,
        "the default runtime is reserved: existing Pod left unchanged because spec.runtimeClassName cannot be changed on update",
    );
    expect(&eval, RULE_EXISTS, Skip, "existing Pod: RuntimeClass not checked again on update");
    expect(&eval, RULE_COMPATIBILITY, Skip, "existing Pod: sandbox compatibility not checked again on update");
    assert!(!denied(&eval));
}

#[test]
fn an_update_that_introduces_a_reason_is_denied_not_patched() {
    // The existing Pod already runs on the reserved default runtime (let through), but the new
    // image is untrusted: only the new reason is reported.
    let set = policy_set(SPEC);
    let old = pod(json!({}));
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("docker.io/evil/miner:1");
    let eval = update(&set, old, new);
    assert!(eval.patched.is_none());
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "sandbox required (untrustedImage: container \"app\" image \"docker.io/evil/miner:1\" is not from a trusted \
         registry): spec.runtimeClassName of an existing Pod cannot be changed; delete the Pod and create it again to \
         move it to \"kata\"",
    );
    assert!(denied(&eval));
}

#[test]
fn an_update_of_an_allowed_pod_passes() {
    let set = policy_set(SPEC);
    let old = pod(json!({"runtimeClassName": "kata"}));
    let eval = update(&set, old.clone(), old);
    expect(&eval, RULE_RUNTIME, Pass, "runtime \"kata\" is allowed");
    assert!(!denied(&eval));
}

#[test]
fn jobs_are_validated_on_update_because_their_template_is_immutable() {
    let set = policy_set(SPEC);
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "apps"},
        "spec": {"template": {"spec": {"runtimeClassName": "runc", "containers": [{"name": "app", "image": "registry.example.com/a"}]}}}});
    let eval = update(&set, job.clone(), job);
    assert!(eval.patched.is_none());
    expect(
        &eval,
        RULE_RUNTIME,
        Warn,
        "runtime \"runc\" is reserved: existing Job left unchanged because spec.template.spec.runtimeClassName cannot \
         be changed on update",
    );
}

#[test]
fn controller_templates_are_mutated_on_update() {
    let set = policy_set(SPEC);
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "apps"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.example.com/a"}]}}}});
    let eval = update(&set, deploy.clone(), deploy);
    assert_eq!(patched_runtime(&eval, "/spec/template/spec/runtimeClassName").as_deref(), Some("kata"));
    expect(
        &eval,
        RULE_MUTATE,
        Pass,
        "the default runtime is reserved: set spec.template.spec.runtimeClassName to \"kata\"",
    );
}

#[test]
fn a_missing_old_object_counts_every_reason_as_new() {
    let set = policy_set(SPEC);
    let eval = update(&set, Value::Null, pod(json!({})));
    assert_eq!(result(&eval, RULE_RUNTIME).status, Fail);
}

#[test]
fn ephemeral_containers_are_checked_on_their_subresource() {
    let set = policy_set(SPEC);
    let old = pod(json!({"runtimeClassName": "gvisor"}));
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
    let mut req = AdmissionRequest::for_object(new, Operation::Update);
    req.old_object = old;
    req.sub_resource = "ephemeralcontainers".into();
    let eval = set.evaluate(&req, &cluster_with(&["kata", "gvisor"]));
    assert_eq!(result(&eval, RULE_RUNTIME).status, Pass, "a sandboxed Pod may get an untrusted debug container");
    let old = pod(json!({"runtimeClassName": "runc-legacy"}));
    let mut new = old.clone();
    new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
    let mut req = AdmissionRequest::for_object(new, Operation::Update);
    req.old_object = old;
    req.sub_resource = "ephemeralcontainers".into();
    let eval = set.evaluate(&req, &cluster_with(&["kata", "gvisor"]));
    assert_eq!(result(&eval, RULE_RUNTIME).status, Fail);
    assert!(result(&eval, RULE_RUNTIME).message.contains("ephemeral container \"debug\" image \"busybox\""));
}

#[test]
fn delete_and_connect_are_ignored() {
    let set = policy_set(SPEC);
    for op in [Operation::Delete, Operation::Connect] {
        let req = AdmissionRequest::for_object(pod(json!({})), op);
        let eval = set.evaluate(&req, &EvaluationContext::default());
        assert!(eval.all_results().next().is_none(), "{op:?}");
        assert!(eval.patched.is_none());
    }
}
