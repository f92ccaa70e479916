//! `context.apiCall` with a `urlPath` reads through `ClusterData::api_call`: variables in the path, `jmesPath`
//! on the answer, `default` when the call fails, and the offline error when the source cannot make calls.

use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, ApiCallRequest, ClusterData, EvaluationContext, Operation, RuleStatus,
    parse_documents,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const POLICY: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: quota}
spec:
  validationFailureAction: Enforce
  rules:
    - name: max-pods
      match: {any: [{resources: {kinds: [Pod]}}]}
      context:
        - name: podCount
          apiCall:
            urlPath: "/api/v1/namespaces/{{request.namespace}}/pods"
            jmesPath: "items | length(@)"
        - name: limit
          apiCall:
            urlPath: "/api/v1/namespaces/{{request.namespace}}/configmaps/limits"
            jmesPath: "data.max"
            default: "2"
      validate:
        message: "{{podCount}} pods, limit {{limit}}"
        deny:
          conditions:
            any:
              - key: "{{podCount}}"
                operator: GreaterThanOrEquals
                value: "{{limit}}"
"#;

/// Answers from a fixed table and records the paths asked for.
struct FakeApi {
    answers: BTreeMap<String, Result<Value, String>>,
    asked: Mutex<Vec<String>>,
    online: bool,
}

impl ClusterData for FakeApi {
    fn namespace_labels(&self, _: &str) -> Option<BTreeMap<String, String>> {
        None
    }
    fn get(&self, _: &str, _: &str, _: &str) -> Option<Value> {
        None
    }
    fn list(&self, _: &str, _: Option<&str>) -> Vec<Value> {
        Vec::new()
    }
    fn api_call(&self, request: &ApiCallRequest) -> Option<Result<Value, String>> {
        let url_path = request.url_path.as_deref().unwrap_or_default();
        self.asked.lock().unwrap().push(url_path.to_string());
        if !self.online {
            return None;
        }
        Some(self.answers.get(url_path).cloned().unwrap_or_else(|| Err("404 not found".into())))
    }
}

fn run(api: Arc<FakeApi>) -> (RuleStatus, String) {
    let docs = parse_documents("quota.yaml", POLICY).unwrap();
    let policy = palisade_kyverno::load_policies(&docs).unwrap().remove(0);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let request = AdmissionRequest::for_object(pod, Operation::Create);
    let ctx = EvaluationContext { cluster: Some(api as Arc<dyn ClusterData>), ..Default::default() };
    let results = policy.validate(&request, &ctx);
    assert_eq!(results.len(), 1, "{results:?}");
    (results[0].status, results[0].message.to_string())
}

fn api(answers: &[(&str, Result<Value, String>)], online: bool) -> Arc<FakeApi> {
    Arc::new(FakeApi {
        answers: answers.iter().map(|(p, a)| (p.to_string(), a.clone())).collect(),
        asked: Mutex::new(Vec::new()),
        online,
    })
}

#[test]
fn api_call_reads_the_answer_through_jmes_path() {
    let pods = json!({"items": [{}, {}, {}]});
    let limits = json!({"data": {"max": "5"}});
    let fake = api(
        &[
            ("/api/v1/namespaces/team-a/pods", Ok(pods.clone())),
            ("/api/v1/namespaces/team-a/configmaps/limits", Ok(limits)),
        ],
        true,
    );
    let (status, _) = run(Arc::clone(&fake));
    assert_eq!(status, RuleStatus::Pass, "3 pods under a limit of 5");
    assert_eq!(
        *fake.asked.lock().unwrap(),
        ["/api/v1/namespaces/team-a/pods", "/api/v1/namespaces/team-a/configmaps/limits"],
        "variables in urlPath are substituted"
    );

    // The limits ConfigMap is missing: the default (2) applies and the rule denies.
    let fake = api(&[("/api/v1/namespaces/team-a/pods", Ok(pods))], true);
    let (status, message) = run(fake);
    assert_eq!(status, RuleStatus::Fail);
    assert!(message.contains("3 pods, limit 2"), "{message}");
}

#[test]
fn a_failed_call_without_default_is_an_error_naming_the_path() {
    let (status, message) = run(api(&[], true));
    assert_eq!(status, RuleStatus::Error);
    assert!(message.contains("apiCall /api/v1/namespaces/team-a/pods: 404 not found"), "{message}");
}

#[test]
fn offline_sources_still_ask_for_a_values_file() {
    let (status, message) = run(api(&[], false));
    assert_eq!(status, RuleStatus::Error);
    assert!(message.contains("offline: provide `podCount` in a values file"), "{message}");
}
