//! Rules that read only the request's objects and operation are evaluated against a small shared
//! document instead of the full request context; every other variable still resolves as before.

use palisade_engine::{AdmissionPolicy, AdmissionRequest, EvaluationContext, Operation, RuleStatus, parse_documents};
use serde_json::json;

const POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: request-fields}
spec:
  validationFailureAction: Enforce
  rules:
    - name: operation-only
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "operation {{ request.operation }} on {{ request.object.metadata.name }}"
        deny:
          conditions:
            all:
              - key: "{{ request.operation || 'BACKGROUND' }}"
                operator: Equals
                value: CREATE
    - name: message-reads-the-namespace
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "namespace {{ request.namespace }}, user {{ request.userInfo.username }}"
        deny:
          conditions:
            all:
              - key: "{{ request.operation }}"
                operator: Equals
                value: CREATE
    - name: user-and-service-account
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "{{ serviceAccountNamespace }}/{{ serviceAccountName }}"
        deny:
          conditions:
            any:
              - key: "{{ request.userInfo.username }}"
                operator: Equals
                value: "system:serviceaccount:team-a:deployer"
    - name: projection-over-the-object
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "volumes {{ request.object.spec.volumes[].keys(@)[] }}"
        deny:
          conditions:
            any:
              - key: "{{ request.object.spec.volumes[].keys(@)[] || '' }}"
                operator: AnyIn
                value: [hostPath]
"#;

fn request(operation: Operation) -> AdmissionRequest {
    let mut request = AdmissionRequest::for_object(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "team-a"},
               "spec": {"containers": [{"name": "c", "image": "nginx"}],
                        "volumes": [{"name": "v", "hostPath": {"path": "/"}}]}}),
        operation,
    );
    request.namespace = "team-a".into();
    request.user_info.username = "system:serviceaccount:team-a:deployer".into();
    request
}

#[test]
fn every_request_variable_resolves_whichever_document_a_rule_gets() {
    let docs = parse_documents("request-fields.yaml", POLICY).expect("parse");
    let policy = palisade_kyverno::load_policies(&docs).expect("compile").remove(0);
    let results = policy.validate(&request(Operation::Create), &EvaluationContext::default());
    let got: Vec<(&str, RuleStatus, &str)> = results.iter().map(|r| (&*r.rule, r.status, &*r.message)).collect();
    assert_eq!(
        got,
        [
            ("operation-only", RuleStatus::Fail, "operation CREATE on web"),
            (
                "message-reads-the-namespace",
                RuleStatus::Fail,
                "namespace team-a, user system:serviceaccount:team-a:deployer"
            ),
            ("user-and-service-account", RuleStatus::Fail, "team-a/deployer"),
            ("projection-over-the-object", RuleStatus::Fail, "volumes [\"hostPath\",\"name\"]"),
        ]
    );
    let update = policy.validate(&request(Operation::Update), &EvaluationContext::default());
    assert_eq!(update[0].status, RuleStatus::Pass, "{:?}", update[0]);
    assert_eq!(update[1].status, RuleStatus::Pass, "{:?}", update[1]);
}

const FOREACH_POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: foreach-fields}
spec:
  validationFailureAction: Enforce
  rules:
    - name: elements-only
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "a container has no liveness probe"
        foreach:
          - list: request.object.spec.containers[]
            deny:
              conditions:
                all:
                  - key: livenessProbe
                    operator: AllNotIn
                    value: "{{ element.keys(@)[] }}"
    - name: element-and-user
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: "{{ request.userInfo.username }} may not run nginx"
        foreach:
          - list: "{{ request.object.spec.containers }}"
            deny:
              conditions:
                any:
                  - key: "{{ element.image }}"
                    operator: Equals
                    value: nginx
"#;

#[test]
fn foreach_rules_see_elements_and_request_fields() {
    let docs = parse_documents("foreach-fields.yaml", FOREACH_POLICY).expect("parse");
    let policy = palisade_kyverno::load_policies(&docs).expect("compile").remove(0);
    let results = policy.validate(&request(Operation::Create), &EvaluationContext::default());
    let got: Vec<(&str, RuleStatus, &str)> = results.iter().map(|r| (&*r.rule, r.status, &*r.message)).collect();
    assert_eq!(
        got,
        [
            ("elements-only", RuleStatus::Fail, "a container has no liveness probe"),
            ("element-and-user", RuleStatus::Fail, "system:serviceaccount:team-a:deployer may not run nginx"),
        ]
    );
}
