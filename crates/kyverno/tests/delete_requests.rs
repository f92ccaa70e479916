//! DELETE requests, as Kyverno's validation handler treats them (`validateResourceWithRule`: "skipping validation
//! on deleted resource"; `podSecurity` is not run on deletes): patterns, anyPatterns and Pod Security checks do
//! not judge the deleted object, deny conditions and preconditions do. The validating webhook registers DELETE
//! for rules that name no operation (Kyverno's default), so this keeps deletes of old objects possible.

use palisade_engine::{AdmissionPolicy, AdmissionRequest, EvaluationContext, Operation, RuleStatus, parse_documents};
use serde_json::json;

const POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: delete-requests}
spec:
  validationFailureAction: Enforce
  rules:
    - name: team-pattern
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "label team is required"
        pattern: {metadata: {labels: {team: "?*"}}}
    - name: team-any-pattern
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "label team or owner is required"
        anyPattern:
          - metadata: {labels: {team: "?*"}}
          - metadata: {labels: {owner: "?*"}}
    - name: baseline
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        podSecurity: {level: baseline, version: latest}
    - name: no-delete-of-protected
      match: {any: [{resources: {kinds: [Pod]}}]}
      preconditions:
        all:
          - key: "{{ request.operation }}"
            operator: Equals
            value: DELETE
      validate:
        message: "protected pods cannot be deleted"
        deny:
          conditions:
            any:
              - key: "{{ request.oldObject.metadata.labels.protected || '' }}"
                operator: Equals
                value: "true"
"#;

fn statuses(operation: Operation) -> Vec<(String, RuleStatus)> {
    let docs = parse_documents("policy.yaml", POLICY).unwrap();
    let policy = palisade_kyverno::load::load_policy(&docs[0]).unwrap();
    // An unlabelled privileged Pod: fails every pattern and the baseline level.
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": "old", "namespace": "a", "labels": {"protected": "true"}},
                     "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "nginx"}]}});
    let request = AdmissionRequest::for_object(pod, operation);
    let results = policy.validate(&request, &EvaluationContext::default());
    results.iter().map(|r| (r.rule.to_string(), r.status)).collect()
}

#[test]
fn patterns_and_pod_security_skip_deletes_deny_runs() {
    let deleted = statuses(Operation::Delete);
    let status = |rule: &str| deleted.iter().find(|(r, _)| r == rule).map(|(_, s)| *s);
    assert_eq!(status("team-pattern"), Some(RuleStatus::Skip));
    assert_eq!(status("team-any-pattern"), Some(RuleStatus::Skip));
    assert_eq!(status("baseline"), Some(RuleStatus::Skip));
    assert_eq!(status("no-delete-of-protected"), Some(RuleStatus::Fail));

    let created = statuses(Operation::Create);
    let status = |rule: &str| created.iter().find(|(r, _)| r == rule).map(|(_, s)| *s);
    for rule in ["team-pattern", "team-any-pattern", "baseline"] {
        assert_eq!(status(rule), Some(RuleStatus::Fail), "{rule} on CREATE");
    }
    assert_eq!(status("no-delete-of-protected"), Some(RuleStatus::Skip));
}
