//! `match`/`exclude` in Kyverno resource-filter syntax, evaluated on the pod a workload describes.

use super::*;
use std::collections::BTreeMap;

const BASE: &str = "validationFailureAction: Enforce\nreservedRuntimes: [runc]\nfallbackRuntime: kata\n";

fn in_namespace(object: &Value, ns: &str) -> Value {
    let mut o = object.clone();
    o["metadata"]["namespace"] = json!(ns);
    o
}

fn deployment(labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "apps", "labels": {"tier": "x"}},
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "a", "image": "nginx"}]}}}})
}

#[test]
fn match_namespaces_and_exclude() {
    let set = policy_set(&format!(
        "{BASE}match:\n  any:\n  - resources:\n      kinds: [Pod]\n      namespaces: [tenant-*]\nexclude:\n  any:\n  - resources:\n      namespaces: [tenant-admin]"
    ));
    let p = pod(json!({}));
    let moved = create(&set, in_namespace(&p, "tenant-a"));
    assert_eq!(patched_runtime(&moved, "/spec/runtimeClassName").as_deref(), Some("kata"));
    for ns in ["apps", "tenant-admin"] {
        let eval = create(&set, in_namespace(&p, ns));
        assert!(eval.all_results().next().is_none(), "{ns}: no result when not matched");
    }
    // A Deployment is matched through its pod template: kinds [Pod] covers controllers.
    let eval = create(&set, in_namespace(&deployment(json!({})), "tenant-b"));
    assert_eq!(patched_runtime(&eval, "/spec/template/spec/runtimeClassName").as_deref(), Some("kata"));
}

#[test]
fn selectors_read_the_pod_template_labels() {
    let set = policy_set(&format!(
        "{BASE}match:\n  any:\n  - resources:\n      selector:\n        matchLabels: {{sandbox: required}}"
    ));
    let eval = create(&set, deployment(json!({"sandbox": "required"})));
    assert_eq!(patched_runtime(&eval, "/spec/template/spec/runtimeClassName").as_deref(), Some("kata"));
    let eval = create(&set, deployment(json!({"app": "web"})));
    assert!(eval.all_results().next().is_none());
}

#[test]
fn namespace_selectors_and_subjects() {
    let set = policy_set(&format!(
        "{BASE}match:\n  any:\n  - resources:\n      namespaceSelector:\n        matchLabels: {{tenancy: untrusted}}\n  - subjects:\n    - kind: ServiceAccount\n      name: runner\n      namespace: ci"
    ));
    let mut ctx = cluster_with(&["kata"]);
    ctx.namespace_labels = Some(BTreeMap::from([("tenancy".to_string(), "untrusted".to_string())]));
    let req = AdmissionRequest::for_object(pod(json!({})), Operation::Create);
    assert!(set.evaluate(&req, &ctx).patched.is_some());
    ctx.namespace_labels = Some(BTreeMap::new());
    assert!(set.evaluate(&req, &ctx).patched.is_none());
    let mut req = req;
    req.user_info.username = "system:serviceaccount:ci:runner".into();
    assert!(set.evaluate(&req, &ctx).patched.is_some(), "matched by subject");
}
