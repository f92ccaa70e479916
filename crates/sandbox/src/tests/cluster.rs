//! RuntimeClass existence and sandbox compatibility.

use super::*;
use crate::{RULE_COMPATIBILITY, RULE_EXISTS, RULE_MUTATE};
use RuleStatus::{Fail, Pass, Skip, Warn};

const SPEC: &str = "validationFailureAction: Enforce\nreservedRuntimes: [runc]\nfallbackRuntime: kata";

const MISSING_KATA: &str = "RuntimeClass \"kata\" does not exist: create it first (apiVersion: node.k8s.io/v1, kind: \
     RuntimeClass, metadata.name: kata, handler: the runtime handler configured on your nodes)";

#[test]
fn a_missing_fallback_runtime_class_is_denied_with_how_to_create_it() {
    let set = policy_set(SPEC);
    let req = AdmissionRequest::for_object(pod(json!({})), Operation::Create);
    let eval = set.evaluate(&req, &cluster_with(&["gvisor"]));
    expect(&eval, RULE_MUTATE, Pass, "the default runtime is reserved: set spec.runtimeClassName to \"kata\"");
    expect(&eval, RULE_EXISTS, Fail, MISSING_KATA);
    assert!(denied(&eval));
}

#[test]
fn a_missing_requested_runtime_class_is_denied() {
    let set = policy_set(SPEC);
    let req = AdmissionRequest::for_object(pod(json!({"runtimeClassName": "kata-fc"})), Operation::Create);
    let eval = set.evaluate(&req, &cluster_with(&["kata"]));
    assert_eq!(result(&eval, RULE_EXISTS).status, Fail);
    assert!(result(&eval, RULE_EXISTS).message.starts_with("RuntimeClass \"kata-fc\" does not exist"));
    assert!(denied(&eval));
}

#[test]
fn in_audit_mode_the_fallback_enforce_would_set_is_checked() {
    let set = policy_set(&SPEC.replace("Enforce", "Audit"));
    let req = AdmissionRequest::for_object(pod(json!({})), Operation::Create);
    let eval = set.evaluate(&req, &cluster_with(&[]));
    expect(&eval, RULE_EXISTS, Fail, MISSING_KATA);
    assert!(!denied(&eval));
}

#[test]
fn without_cluster_data_the_existence_check_warns() {
    let set = policy_set(SPEC);
    let req = AdmissionRequest::for_object(pod(json!({})), Operation::Create);
    let eval = set.evaluate(&req, &EvaluationContext::default());
    expect(&eval, RULE_EXISTS, Warn, "no cluster data: existence of RuntimeClass \"kata\" not checked");
    assert!(!denied(&eval));
}

#[test]
fn an_invalid_requested_name_is_flagged_with_a_hint() {
    let set = policy_set("validationFailureAction: Enforce\ndefaultRuntimeReserved: false");
    let eval = create(&set, pod(json!({"runtimeClassName": "gVisor"})));
    expect(
        &eval,
        RULE_EXISTS,
        Fail,
        "\"gVisor\" is not a valid RuntimeClass name: names are lowercase; did you mean \"gvisor\"?",
    );
}

const HOST_POD: &str = r#"{"hostNetwork": true, "hostPID": true, "hostIPC": true,
    "volumes": [{"name": "data", "hostPath": {"path": "/data"}}, {"name": "tmp", "emptyDir": {}}]}"#;

#[test]
fn host_features_are_denied_in_a_sandbox_rather_than_steered() {
    let set = policy_set(SPEC);
    let eval = create(&set, pod(serde_json::from_str(HOST_POD).unwrap()));
    assert_eq!(patched_runtime(&eval, "/spec/runtimeClassName").as_deref(), Some("kata"));
    expect(
        &eval,
        RULE_COMPATIBILITY,
        Fail,
        "runtime \"kata\" is a sandbox runtime and cannot honour hostNetwork, hostPID, hostIPC, hostPath volume \
         \"data\": remove them, or exclude this workload from RuntimeClassPolicy \"sandbox\"",
    );
    assert!(denied(&eval));
    // Explicitly requesting a sandbox is checked the same way.
    let eval = create(&set, pod(json!({"runtimeClassName": "gvisor", "hostNetwork": true})));
    assert!(result(&eval, RULE_COMPATIBILITY).message.contains("cannot honour hostNetwork:"));
    assert!(denied(&eval));
}

#[test]
fn each_host_feature_alone_is_denied() {
    let set = policy_set(SPEC);
    for (spec, text) in [
        (json!({"hostNetwork": true}), "hostNetwork"),
        (json!({"hostPID": true}), "hostPID"),
        (json!({"hostIPC": true}), "hostIPC"),
        (json!({"volumes": [{"name": "sock", "hostPath": {"path": "/run/x.sock"}}]}), "hostPath volume \"sock\""),
    ] {
        let eval = create(&set, pod(spec));
        let r = result(&eval, RULE_COMPATIBILITY);
        assert_eq!(r.status, Fail);
        assert!(r.message.contains(&format!("cannot honour {text}:")), "{}", r.message);
    }
}

#[test]
fn compatibility_is_configurable() {
    let allow =
        policy_set(&format!("{SPEC}\nsandboxCompatibility:\n  allow: [hostNetwork, hostPID, hostIPC, hostPath]"));
    let eval = create(&allow, pod(serde_json::from_str(HOST_POD).unwrap()));
    assert_eq!(result(&eval, RULE_COMPATIBILITY).status, Pass);
    assert!(!denied(&eval));
    let off = policy_set(&format!("{SPEC}\nsandboxCompatibility:\n  check: false"));
    let eval = create(&off, pod(serde_json::from_str(HOST_POD).unwrap()));
    assert!(eval.all_results().all(|r| &*r.rule != RULE_COMPATIBILITY));
    assert!(!denied(&eval));
}

#[test]
fn host_features_outside_a_sandbox_are_not_this_policys_business() {
    let set = policy_set("validationFailureAction: Enforce\ndefaultRuntimeReserved: false");
    let eval = create(&set, pod(json!({"hostNetwork": true})));
    expect(&eval, RULE_COMPATIBILITY, Skip, "the default runtime is not a sandbox runtime");
    let eval = create(&set, pod(json!({"runtimeClassName": "runc", "hostNetwork": true})));
    expect(&eval, RULE_COMPATIBILITY, Skip, "runtime \"runc\" is not a sandbox runtime");
    assert!(!denied(&eval));
}

#[test]
fn custom_sandbox_runtimes_replace_the_defaults_and_include_the_fallback() {
    let set = policy_set(
        "validationFailureAction: Enforce\ndefaultRuntimeReserved: false\nfallbackRuntime: secure\nsandboxRuntimes: [firecracker-*]\ntriggers: {privileged: true}",
    );
    let privileged = |runtime: &str| {
        pod(json!({"runtimeClassName": runtime,
            "containers": [{"name": "app", "image": "x", "securityContext": {"privileged": true}}]}))
    };
    let req = AdmissionRequest::for_object(privileged("firecracker-1"), Operation::Create);
    let eval = set.evaluate(&req, &cluster_with(&["firecracker-1"]));
    assert!(eval.patched.is_none(), "firecracker-1 is a sandbox");
    let req = AdmissionRequest::for_object(privileged("kata"), Operation::Create);
    let eval = set.evaluate(&req, &cluster_with(&["secure"]));
    assert_eq!(patched_runtime(&eval, "/spec/runtimeClassName").as_deref(), Some("secure"), "kata is not listed");
    expect(
        &eval,
        RULE_COMPATIBILITY,
        Pass,
        "runtime \"secure\" is a sandbox runtime and the workload uses no host feature it cannot honour",
    );
}

#[test]
fn a_node_selector_that_contradicts_the_class_is_denied() {
    let set = policy_set(SPEC);
    let class = json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"},
        "handler": "kata", "scheduling": {"nodeSelector": {"katacontainers.io/kata-runtime": "true"}}});
    let ctx = EvaluationContext { cluster: Some(Arc::new(StaticCluster::new(vec![class]))), ..Default::default() };
    let conflicting = pod(json!({"nodeSelector": {"katacontainers.io/kata-runtime": "false", "zone": "a"}}));
    let eval = set.evaluate(&AdmissionRequest::for_object(conflicting, Operation::Create), &ctx);
    expect(
        &eval,
        RULE_EXISTS,
        Fail,
        "RuntimeClass \"kata\" schedules onto nodes with katacontainers.io/kata-runtime=\"true\", but spec.nodeSelector \
         sets katacontainers.io/kata-runtime=\"false\": the API server would reject the pod; remove the key from \
         spec.nodeSelector",
    );
    let agreeing = pod(json!({"nodeSelector": {"katacontainers.io/kata-runtime": "true", "zone": "a"}}));
    let eval = set.evaluate(&AdmissionRequest::for_object(agreeing, Operation::Create), &ctx);
    expect(&eval, RULE_EXISTS, Pass, "RuntimeClass \"kata\" exists");
}
