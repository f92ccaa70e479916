//! Mutations compose in order: a later policy sees what an earlier one changed, whether the
//! caller uses `PolicySet::evaluate` or mutates one request value in place (as the webhook does).

use palisade_engine::{AdmissionPolicy, AdmissionRequest, EvaluationContext, Operation, PolicySet, parse_documents};
use serde_json::json;
use std::sync::Arc;

const POLICIES: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: add-tier}
spec:
  rules:
    - name: add-tier
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              tier: sandboxed
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: kata-for-sandboxed}
spec:
  rules:
    - name: kata
      match: {any: [{resources: {kinds: [Pod]}}]}
      preconditions:
        all:
          - key: "{{ request.object.metadata.labels.tier || '' }}"
            operator: Equals
            value: sandboxed
      mutate:
        patchStrategicMerge:
          spec:
            +(runtimeClassName): kata
"#;

fn policies() -> Vec<Arc<palisade_kyverno::KyvernoPolicy>> {
    let docs = parse_documents("chain.yaml", POLICIES).expect("parse");
    palisade_kyverno::load_policies(&docs).expect("compile").into_iter().map(Arc::new).collect()
}

fn pod() -> AdmissionRequest {
    AdmissionRequest::for_object(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        Operation::Create,
    )
}

#[test]
fn policy_set_chains_mutations() {
    let mut set = PolicySet::new();
    for p in policies() {
        set.add(p);
    }
    let eval = set.evaluate(&pod(), &EvaluationContext::default());
    let patched = eval.patched.expect("mutated");
    assert_eq!(patched["metadata"]["labels"]["tier"], "sandboxed");
    assert_eq!(patched["spec"]["runtimeClassName"], "kata");
}

#[test]
fn in_place_request_updates_are_seen_by_later_policies() {
    // The webhook keeps one request value whose object each policy changes in place.
    let ctx = EvaluationContext::default();
    let mut current = pod();
    for policy in policies() {
        policy.mutate(&mut current, &ctx);
    }
    assert_eq!(current.object["spec"]["runtimeClassName"], "kata");
}
