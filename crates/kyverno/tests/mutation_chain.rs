//! Mutations compose in order: a later policy sees what an earlier one changed, whether the
//! caller uses `PolicySet::evaluate` or mutates one request value in place (as the webhook does).

use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, EvaluationContext, Operation, PolicySet, RuleStatus, parse_documents,
};
use serde_json::json;
use std::borrow::Cow;
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
    let original = pod();
    let mut current = Cow::Borrowed(&original);
    for policy in policies() {
        policy.mutate(&mut current, &ctx);
    }
    assert_eq!(current.object["spec"]["runtimeClassName"], "kata");
    assert!(original.object["spec"].get("runtimeClassName").is_none(), "the original request is never written");
}

#[test]
fn a_request_no_rule_changes_is_never_copied() {
    // A failed precondition, a `+(key)` already present and a conditional anchor that does not hold all leave
    // the working request borrowed: the webhook copies a request only when a rule writes to it. (A patch that
    // writes the values the object already has does copy it; the result then shows no change.)
    let ctx = EvaluationContext::default();
    let kata = policies().remove(1);
    let mut original = pod();
    let mut current = Cow::Borrowed(&original);
    assert_eq!(kata.mutate(&mut current, &ctx).results[0].status, RuleStatus::Skip);
    assert!(matches!(current, Cow::Borrowed(_)), "copied although the precondition failed");
    original.object["metadata"]["labels"] = json!({"tier": "sandboxed"});
    original.object["spec"]["runtimeClassName"] = json!("gvisor");
    let mut current = Cow::Borrowed(&original);
    assert_eq!(kata.mutate(&mut current, &ctx).results[0].status, RuleStatus::Skip);
    assert!(matches!(current, Cow::Borrowed(_)), "copied although runtimeClassName was already set");

    let docs = parse_documents(
        "conditional.yaml",
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: pull-always-for-latest}
spec:
  rules:
    - name: latest
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge:
          spec:
            containers:
              - (image): "*:latest"
                imagePullPolicy: Always
"#,
    )
    .expect("parse");
    let policy = palisade_kyverno::load_policies(&docs).expect("compile").remove(0);
    let mut current = Cow::Borrowed(&original);
    policy.mutate(&mut current, &ctx);
    assert!(matches!(current, Cow::Borrowed(_)), "copied although the conditional anchor did not hold");

    // The same policy on a `:latest` image writes, so the request is copied and the original stays as it was.
    let mut latest = original.clone();
    latest.object["spec"]["containers"][0]["image"] = json!("nginx:latest");
    let mut current = Cow::Borrowed(&latest);
    policy.mutate(&mut current, &ctx);
    assert_eq!(current.object["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert!(latest.object["spec"]["containers"][0].get("imagePullPolicy").is_none());
}

#[test]
fn a_merge_that_fails_leaves_the_request_as_it_was() {
    // `spec.containers` is a list in the Pod: a map patch for it is a kind mismatch, found by the merge itself
    // when the request is still borrowed (the copy is dropped) and by the merge check once it was copied.
    let docs = parse_documents(
        "broken.yaml",
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: broken-then-label}
spec:
  rules:
    - name: broken
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge:
          spec:
            containers: {image: nginx}
    - name: label
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge:
          metadata: {labels: {checked: "yes"}}
    - name: broken-again
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchStrategicMerge:
          spec:
            containers: {image: nginx}
"#,
    )
    .expect("parse");
    let policy = palisade_kyverno::load_policies(&docs).expect("compile").remove(0);
    let original = pod();
    let mut current = Cow::Borrowed(&original);
    let results = policy.mutate(&mut current, &EvaluationContext::default()).results;
    let statuses: Vec<RuleStatus> = results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RuleStatus::Error, RuleStatus::Pass, RuleStatus::Error], "{results:?}");
    assert!(results[0].message.contains("spec.containers"), "{}", results[0].message);
    assert_eq!(
        results[0].message.replace("rule broken:", "rule broken-again:"),
        &*results[2].message,
        "checked and unchecked merges report the same error"
    );
    let mut want = original.object.clone();
    want["metadata"]["labels"] = json!({"checked": "yes"});
    assert_eq!(current.object, want, "the failed merges left nothing behind");
}
