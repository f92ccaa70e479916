//! Pod controllers: templates at their paths, owned controllers, other kinds ignored.

use super::*;
use crate::{RULE_MUTATE, RULE_RUNTIME};
use RuleStatus::{Fail, Pass, Skip};

const SPEC: &str = "validationFailureAction: Enforce\nreservedRuntimes: [runc]\nfallbackRuntime: kata";

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
}

fn controller(api_version: &str, kind: &str) -> Value {
    let spec = if kind == "CronJob" {
        json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}})
    } else {
        json!({"template": template()})
    };
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "web", "namespace": "apps"}, "spec": spec})
}

const CONTROLLERS: [(&str, &str, &str); 7] = [
    ("apps/v1", "Deployment", "/spec/template/spec/runtimeClassName"),
    ("apps/v1", "ReplicaSet", "/spec/template/spec/runtimeClassName"),
    ("apps/v1", "StatefulSet", "/spec/template/spec/runtimeClassName"),
    ("apps/v1", "DaemonSet", "/spec/template/spec/runtimeClassName"),
    ("batch/v1", "Job", "/spec/template/spec/runtimeClassName"),
    ("batch/v1", "CronJob", "/spec/jobTemplate/spec/template/spec/runtimeClassName"),
    ("v1", "ReplicationController", "/spec/template/spec/runtimeClassName"),
];

#[test]
fn every_controller_template_is_moved_at_its_path() {
    let set = policy_set(SPEC);
    for (api, kind, pointer) in CONTROLLERS {
        let eval = create(&set, controller(api, kind));
        let field = pointer.trim_start_matches('/').replace('/', ".");
        expect(&eval, RULE_MUTATE, Pass, &format!("the default runtime is reserved: set {field} to \"kata\""));
        assert_eq!(patched_runtime(&eval, pointer).as_deref(), Some("kata"), "{kind}");
        expect(&eval, RULE_RUNTIME, Pass, "runtime \"kata\" is allowed");
        assert!(!denied(&eval), "{kind}");
    }
}

#[test]
fn every_controller_is_denied_without_fallback() {
    let set = policy_set("validationFailureAction: Enforce\nreservedRuntimes: [runc]");
    for (api, kind, pointer) in CONTROLLERS {
        let mut object = controller(api, kind);
        *object.pointer_mut(pointer.rsplit_once('/').unwrap().0).unwrap() =
            json!({"runtimeClassName": "runc", "containers": [{"name": "app", "image": "nginx"}]});
        let eval = create(&set, object);
        let field = pointer.trim_start_matches('/').replace('/', ".");
        expect(
            &eval,
            RULE_RUNTIME,
            Fail,
            &format!(
                "runtime \"runc\" is reserved: no fallbackRuntime is configured; set {field} to an allowed runtime"
            ),
        );
        assert!(denied(&eval), "{kind}");
    }
}

#[test]
fn policies_register_for_pods_and_all_controllers() {
    let set = policy_set(SPEC);
    let mut kinds = set.policies()[0].kinds();
    kinds.sort();
    assert_eq!(
        kinds,
        ["CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "ReplicationController", "StatefulSet"]
    );
}

#[test]
fn controllers_managed_by_another_controller_are_left_to_their_owner() {
    // Mutating a Deployment's ReplicaSet would start a fight with the Deployment controller.
    let set = policy_set(SPEC);
    let mut rs = controller("apps/v1", "ReplicaSet");
    rs["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "1", "controller": true}]);
    let eval = create(&set, rs);
    assert!(eval.patched.is_none());
    assert!(eval.mutation_results.is_empty());
    expect(
        &eval,
        RULE_RUNTIME,
        Skip,
        "ReplicaSet is managed by Deployment \"web\": checked at its owner and at its Pods",
    );
    // Pods are always checked, owned or not: they are the last line.
    let mut p = pod(json!({}));
    p["metadata"]["ownerReferences"] = json!([{"kind": "ReplicaSet", "name": "web-1", "controller": true}]);
    let eval = create(&set, p);
    assert_eq!(patched_runtime(&eval, "/spec/runtimeClassName").as_deref(), Some("kata"));
}

#[test]
fn other_kinds_and_groups_are_ignored() {
    let set = policy_set(SPEC);
    for object in [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apps"}}),
        json!({"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}),
    ] {
        let req = AdmissionRequest::for_object(object, Operation::Create);
        let policy = &set.policies()[0];
        assert!(policy.validate(&req, &EvaluationContext::default()).is_empty());
        let mut working = std::borrow::Cow::Borrowed(&req);
        assert!(policy.mutate(&mut working, &EvaluationContext::default()).results.is_empty());
        assert!(matches!(working, std::borrow::Cow::Borrowed(_)), "an unchanged request is not copied");
    }
}

#[test]
fn malformed_specs_are_errors_never_allows() {
    let set = policy_set(SPEC);
    let cases = [
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}}),
            "malformed pod spec: spec.template.spec is missing",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": {"name": "x"}}}),
            "malformed pod spec: spec.containers must be a list, got an object",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"runtimeClassName": 7}}),
            "malformed pod spec: spec.runtimeClassName must be a string, got 7",
        ),
        (
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": "x"}),
            "malformed pod spec: spec must be an object, got a string",
        ),
    ];
    for (object, message) in cases {
        let eval = create(&set, object);
        expect(&eval, RULE_RUNTIME, RuleStatus::Error, message);
        expect(&eval, RULE_MUTATE, RuleStatus::Error, message);
        assert!(eval.patched.is_none());
        assert!(denied(&eval));
    }
    let triggers = policy_set("validationFailureAction: Enforce\nfallbackRuntime: kata\ntriggers: {privileged: true}");
    let eval = create(
        &triggers,
        pod(
            json!({"runtimeClassName": "kata", "containers": [{"name": "a", "securityContext": {"privileged": "yes"}}]}),
        ),
    );
    expect(
        &eval,
        RULE_RUNTIME,
        RuleStatus::Error,
        "malformed pod spec: spec.containers[0].securityContext.privileged must be true or false, got \"yes\"",
    );
}

#[test]
fn pod_status_and_other_subresources_are_ignored() {
    let set = policy_set(SPEC);
    let mut req = AdmissionRequest::for_object(pod(json!({})), Operation::Update);
    req.sub_resource = "status".into();
    assert!(set.evaluate(&req, &EvaluationContext::default()).all_results().next().is_none());
}
