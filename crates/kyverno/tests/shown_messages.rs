//! `Messages::Shown` (what the webhook asks for): a result's message is built only when an admission response
//! can show it (Enforce results, and every result of a policy with `emitWarning`); other results keep their
//! status and action, with an empty message. `Messages::All` (the CLI) builds every message.

use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, EvaluationContext, FailureAction, Messages, Operation, RuleResult, RuleStatus,
    parse_documents,
};
use serde_json::json;

fn policy(name: &str, action: &str, emit_warning: bool) -> String {
    format!(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: {name}}}
spec:
  validationFailureAction: {action}
  emitWarning: {emit_warning}
  rules:
    - name: team-label
      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
      validate:
        message: "label team is required"
        pattern: {{metadata: {{labels: {{team: "?*"}}}}}}
    - name: no-latest
      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
      validate:
        message: "image {{{{ request.object.spec.containers[0].image }}}} uses latest"
        deny:
          conditions:
            any:
              - key: "{{{{ request.object.spec.containers[0].image }}}}"
                operator: Equals
                value: "*:latest"
    - name: config
      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
      context:
        - name: settings
          configMap: {{name: settings, namespace: default}}
      validate:
        message: "settings say no"
        deny:
          conditions:
            any:
              - key: "{{{{ settings.data.deny }}}}"
                operator: Equals
                value: "true"
    - name: image-size
      match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
      validate:
        message: "image too big"
        foreach:
          - list: "request.object.spec.containers"
            context:
              - name: imageData
                imageRegistry: {{reference: "{{{{ element.image }}}}"}}
            deny:
              conditions:
                any:
                  - key: "{{{{ imageData.manifest.size }}}}"
                    operator: GreaterThan
                    value: 10
"#
    )
}

fn results(name: &str, action: &str, emit_warning: bool, messages: Messages) -> Vec<RuleResult> {
    let text = policy(name, action, emit_warning);
    let docs = parse_documents("policy.yaml", &text).unwrap();
    let policy = palisade_kyverno::load::load_policy(&docs[0]).unwrap();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                     "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}});
    let request = AdmissionRequest::for_object(pod, Operation::Create);
    policy.validate(&request, &EvaluationContext { messages, ..EvaluationContext::default() })
}

fn summary(results: &[RuleResult]) -> Vec<(String, RuleStatus, FailureAction)> {
    results.iter().map(|r| (r.rule.to_string(), r.status, r.action)).collect()
}

#[test]
fn audit_results_keep_status_and_action_without_a_message() {
    let all = results("audit", "Audit", false, Messages::All);
    let shown = results("audit", "Audit", false, Messages::Shown);
    assert_eq!(summary(&all), summary(&shown));
    let statuses: Vec<RuleStatus> = all.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RuleStatus::Fail, RuleStatus::Fail, RuleStatus::Error, RuleStatus::Error], "{all:?}");
    assert!(all.iter().all(|r| !r.message.is_empty()), "{all:?}");
    // Context entries that do not load (offline), at the rule and in a foreach: the messages are written
    // only for Messages::All.
    assert!(
        all[2]
            .message
            .starts_with("failed to load context: context entry settings: ConfigMap default/settings not found"),
        "{all:?}"
    );
    assert_eq!(
        &*all[3].message,
        "rule image-size execution error: failed to load context: context entry imageData: no value for imageRegistry (offline: provide `imageData` in a values file)"
    );
    assert!(shown.iter().all(|r| r.message.is_empty()), "{shown:?}");
}

#[test]
fn enforce_and_emit_warning_results_keep_their_messages() {
    for (action, emit_warning) in [("Enforce", false), ("Audit", true)] {
        let all = results("shown", action, emit_warning, Messages::All);
        let shown = results("shown", action, emit_warning, Messages::Shown);
        assert_eq!(all, shown, "{action} emitWarning={emit_warning}");
        assert_eq!(
            &*shown[0].message,
            "validation error: label team is required. rule team-label failed at path /metadata/labels/"
        );
        assert_eq!(&*shown[1].message, "image nginx:latest uses latest");
    }
}
