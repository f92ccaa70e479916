use super::*;
use palisade_engine::{AdmissionRequest, EvaluationContext, RuleResult, parse_documents};
use std::sync::Arc;

struct Fake {
    name: &'static str,
    kinds: &'static [&'static str],
    fp: FailurePolicy,
    mutates: bool,
}

impl AdmissionPolicy for Fake {
    fn name(&self) -> &str {
        self.name
    }
    fn kinds(&self) -> Vec<String> {
        self.kinds.iter().map(|k| k.to_string()).collect()
    }
    fn failure_policy(&self) -> FailurePolicy {
        self.fp
    }
    fn mutates(&self) -> bool {
        self.mutates
    }
    fn validate(&self, _: &AdmissionRequest, _: &EvaluationContext) -> Vec<RuleResult> {
        Vec::new()
    }
}

const FAIL: FailurePolicy = FailurePolicy::Fail;
const IGNORE: FailurePolicy = FailurePolicy::Ignore;

fn set(fakes: Vec<Fake>) -> PolicySet {
    let mut set = PolicySet::new();
    for f in fakes {
        set.add(Arc::new(f));
    }
    set
}

fn fake(name: &'static str, kinds: &'static [&'static str], fp: FailurePolicy, mutates: bool) -> Fake {
    Fake { name, kinds, fp, mutates }
}

fn url() -> WebhookTarget {
    WebhookTarget::url("https://127.0.0.1:8443/").unwrap()
}

/// `(webhook name, failurePolicy, [(group, resources)])` of one webhook.
type Hook = (String, String, Vec<(String, Vec<String>)>);

/// Summary of each webhook in a configuration.
fn summary(config: &Value) -> Vec<Hook> {
    let strings =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
    config["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let rules = w["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (strings(&r["apiGroups"]).join(","), strings(&r["resources"])))
                .collect();
            (w["name"].as_str().unwrap().to_string(), w["failurePolicy"].as_str().unwrap().to_string(), rules)
        })
        .collect()
}

type Summary = Vec<(&'static str, &'static str, Vec<(&'static str, Vec<&'static str>)>)>;

fn owned(s: Summary) -> Vec<Hook> {
    s.into_iter()
        .map(|(n, f, rules)| {
            let rules = rules.into_iter().map(|(g, r)| (g.to_string(), r.iter().map(|x| x.to_string()).collect()));
            (n.to_string(), f.to_string(), rules.collect())
        })
        .collect()
}

#[test]
fn rules_follow_policies() {
    struct Case {
        name: &'static str,
        policies: Vec<Fake>,
        mutating: Summary,
        validating: Summary,
    }
    let cases = vec![
        Case { name: "empty set registers nothing", policies: vec![], mutating: vec![], validating: vec![] },
        Case {
            name: "validate-only pods",
            policies: vec![fake("a", &["Pod"], FAIL, false)],
            mutating: vec![],
            validating: vec![("fail.validate.palisade.dev", "Fail", vec![("", vec!["pods"])])],
        },
        Case {
            name: "kinds grouped by API group, sorted and deduplicated",
            policies: vec![
                fake("a", &["Pod", "Deployment"], FAIL, false),
                fake("b", &["StatefulSet", "Deployment", "Service"], FAIL, true),
            ],
            mutating: vec![(
                "fail.mutate.palisade.dev",
                "Fail",
                vec![("", vec!["services"]), ("apps", vec!["deployments", "statefulsets"])],
            )],
            validating: vec![(
                "fail.validate.palisade.dev",
                "Fail",
                vec![("", vec!["pods", "services"]), ("apps", vec!["deployments", "statefulsets"])],
            )],
        },
        Case {
            name: "failure policies split by kind, strictest wins",
            policies: vec![
                fake("a", &["Pod", "ConfigMap"], IGNORE, false),
                fake("b", &["Pod"], FAIL, false),
                fake("c", &["Job"], IGNORE, false),
            ],
            mutating: vec![],
            validating: vec![
                ("fail.validate.palisade.dev", "Fail", vec![("", vec!["pods"])]),
                ("ignore.validate.palisade.dev", "Ignore", vec![("", vec!["configmaps"]), ("batch", vec!["jobs"])]),
            ],
        },
        Case {
            name: "wildcard only when a policy needs it, with the strictest failure policy",
            policies: vec![fake("a", &["*"], IGNORE, false), fake("b", &["Pod"], FAIL, true)],
            mutating: vec![("fail.mutate.palisade.dev", "Fail", vec![("", vec!["pods"])])],
            validating: vec![("fail.validate.palisade.dev", "Fail", vec![("*", vec!["*"])])],
        },
        Case {
            name: "kind pattern counts as a wildcard",
            policies: vec![fake("a", &["Pod*"], IGNORE, false)],
            mutating: vec![],
            validating: vec![("ignore.validate.palisade.dev", "Ignore", vec![("*", vec!["*"])])],
        },
        Case {
            name: "unknown kinds are left out",
            policies: vec![fake("a", &["Widget"], FAIL, false)],
            mutating: vec![],
            validating: vec![],
        },
    ];
    for case in cases {
        let (m, v) = webhook_configurations(&set(case.policies), b"CA", url());
        assert_eq!(summary(&m), owned(case.mutating), "{}: mutating", case.name);
        assert_eq!(summary(&v), owned(case.validating), "{}: validating", case.name);
    }
}

#[test]
fn webhook_fields() {
    let s = set(vec![fake("a", &["Pod"], IGNORE, true)]);
    let (m, v) = webhook_configurations(&s, b"-----BEGIN CERTIFICATE-----\n", url());
    assert_eq!(m["apiVersion"], "admissionregistration.k8s.io/v1");
    assert_eq!(m["kind"], "MutatingWebhookConfiguration");
    assert_eq!(v["kind"], "ValidatingWebhookConfiguration");
    assert_eq!(m["metadata"]["name"], "palisade");
    let w = &m["webhooks"][0];
    assert_eq!(w["sideEffects"], "None");
    assert_eq!(w["admissionReviewVersions"], json!(["v1"]));
    assert_eq!(w["timeoutSeconds"], 10);
    assert_eq!(w["reinvocationPolicy"], "Never");
    assert_eq!(w["clientConfig"]["url"], "https://127.0.0.1:8443/mutate");
    assert_eq!(w["clientConfig"]["caBundle"], "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==");
    assert_eq!(w["rules"][0]["operations"], json!(["CREATE", "UPDATE"]));
    assert_eq!(w["rules"][0]["apiVersions"], json!(["*"]));
    assert_eq!(
        w["namespaceSelector"]["matchExpressions"][0],
        json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "palisade"]})
    );
    assert_eq!(v["webhooks"][0]["clientConfig"]["url"], "https://127.0.0.1:8443/validate");
    assert!(v["webhooks"][0].get("reinvocationPolicy").is_none());
}

#[test]
fn service_target_and_options() {
    let s = set(vec![fake("a", &["Pod", "Widget"], FAIL, false)]);
    let target = WebhookTarget::Service { namespace: "sec".into(), name: "palisade".into(), port: 443 };
    let mut options = WebhookOptions {
        name: "palisade-sec".into(),
        namespace: "sec".into(),
        timeout_seconds: 5,
        fallback_operations: vec![Operation::Create, Operation::Update, Operation::Delete],
        ..WebhookOptions::default()
    };
    let p = plan(&s, b"CA", &target, &options).unwrap();
    assert_eq!(p.unresolved_kinds, vec!["Widget".to_string()]);
    let w = &p.validating["webhooks"][0];
    assert_eq!(
        w["clientConfig"]["service"],
        json!({"namespace": "sec", "name": "palisade", "path": "/validate", "port": 443})
    );
    assert!(w["clientConfig"].get("url").is_none());
    assert_eq!(w["timeoutSeconds"], 5);
    assert_eq!(w["rules"][0]["operations"], json!(["CREATE", "UPDATE", "DELETE"]));
    assert_eq!(p.validating["metadata"]["name"], "palisade-sec");
    assert_eq!(w["namespaceSelector"]["matchExpressions"][0]["values"], json!(["kube-system", "sec"]));

    options.kinds.insert("Widget", "example.com", "widgets");
    let p = plan(&s, b"CA", &target, &options).unwrap();
    assert!(p.unresolved_kinds.is_empty());
    assert_eq!(summary(&p.validating)[0].2[1], ("example.com".to_string(), vec!["widgets".to_string()]));
}

#[test]
fn bad_options_and_urls() {
    let s = PolicySet::new();
    for (timeout, ok) in [(0, false), (1, true), (30, true), (31, false)] {
        let options = WebhookOptions { timeout_seconds: timeout, ..WebhookOptions::default() };
        assert_eq!(plan(&s, b"", &url(), &options).is_ok(), ok, "timeout {timeout}");
    }
    let options = WebhookOptions { name: String::new(), ..WebhookOptions::default() };
    assert_eq!(plan(&s, b"", &url(), &options), Err(WebhookError::EmptyName));
    let cases = [
        ("https://127.0.0.1:8443", true),
        ("https://palisade.example:443/base", true),
        ("http://127.0.0.1:8443", false),
        ("https://", false),
        ("https://:8443", false),
        ("https://h/x?y=1", false),
        ("https://user@h", false),
    ];
    for (u, ok) in cases {
        assert_eq!(WebhookTarget::url(u).is_ok(), ok, "{u}");
    }
}

#[test]
fn relax_turns_every_webhook_to_ignore() {
    let s = set(vec![fake("a", &["Pod"], FAIL, false), fake("b", &["Job"], IGNORE, false)]);
    let (_, mut v) = webhook_configurations(&s, b"CA", url());
    relax(&mut v);
    let policies: Vec<&Value> = v["webhooks"].as_array().unwrap().iter().map(|w| &w["failurePolicy"]).collect();
    assert_eq!(policies, vec!["Ignore", "Ignore"]);
}

#[test]
fn real_kyverno_and_sandbox_policies() {
    let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-labels
spec:
  failurePolicy: Ignore
  rules:
    - name: add-team
      match:
        any:
          - resources:
              kinds: [Pod, Service]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              team: platform
"#;
    let docs = parse_documents("policy.yaml", text).unwrap();
    let kyverno = palisade_kyverno::load::load_policy(&docs[0]).unwrap();
    let sandbox_text = "apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata:\n  name: sandbox\nspec:\n  fallbackRuntime: kata\n  failureAction: Enforce\n";
    let docs = parse_documents("sandbox.yaml", sandbox_text).unwrap();
    let sandbox = palisade_sandbox::load_policy(&docs[0]).unwrap();
    let mut s = PolicySet::new();
    s.add(Arc::new(kyverno));
    s.add(Arc::new(sandbox));
    let (m, _) = webhook_configurations(&s, b"CA", url());
    let got = summary(&m);
    // The Kyverno policy says Ignore, the sandbox policy Fail: Pod (both) is in the Fail webhook.
    let ignore = got.iter().find(|w| w.1 == "Ignore").unwrap();
    assert_eq!(ignore.2, vec![("".to_string(), vec!["services".to_string()])]);
    let fail = got.iter().find(|w| w.1 == "Fail").unwrap();
    assert!(fail.2.iter().any(|(g, r)| g.is_empty() && r.contains(&"pods".to_string())), "{fail:?}");
    assert!(fail.2.iter().any(|(g, r)| g == "apps" && r.contains(&"deployments".to_string())), "{fail:?}");
}

#[test]
fn operations_follow_the_rules_match_blocks() {
    let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: block-deletion
spec:
  validationFailureAction: Enforce
  rules:
    - name: protected
      match:
        any:
          - resources:
              kinds: [ConfigMap]
              operations: [DELETE]
      validate:
        message: protected
        deny: {}
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  validationFailureAction: Enforce
  rules:
    - name: team
      match:
        any:
          - resources:
              kinds: [Secret]
      validate:
        message: team label
        pattern:
          metadata:
            labels:
              team: "?*"
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: label-services
spec:
  rules:
    - name: add-team
      match:
        all:
          - resources:
              kinds: [Service]
          - resources:
              operations: [CREATE]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              team: platform
"#;
    let mut s = PolicySet::new();
    for doc in parse_documents("policies.yaml", text).unwrap() {
        s.add(Arc::new(palisade_kyverno::load::load_policy(&doc).unwrap()));
    }
    let (m, v) = webhook_configurations(&s, b"CA", url());
    // Without a KyvernoDetail (per policy, through the engine trait): DELETE only for configmaps (the policy
    // names it), the fallback operations for secrets; the mutate-only policy is not registered there.
    let rules = v["webhooks"][0]["rules"].as_array().unwrap();
    let ops_of = |resource: &str| -> Value {
        rules.iter().find(|r| r["resources"].as_array().unwrap().contains(&json!(resource))).unwrap()["operations"]
            .clone()
    };
    assert_eq!(ops_of("configmaps"), json!(["DELETE"]));
    assert_eq!(ops_of("secrets"), json!(["CREATE", "UPDATE"]));
    assert!(!rules.iter().any(|r| r["resources"].as_array().unwrap().contains(&json!("services"))), "{rules:?}");
    // Mutating: an `all` filter naming CREATE limits the rule to CREATE.
    let mrules = m["webhooks"][0]["rules"].as_array().unwrap();
    assert_eq!(mrules.len(), 1, "{mrules:?}");
    assert_eq!(mrules[0]["resources"], json!(["services"]));
    assert_eq!(mrules[0]["operations"], json!(["CREATE"]));
}
