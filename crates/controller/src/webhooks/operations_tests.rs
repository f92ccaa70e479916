//! Operations computed kind by kind for Kyverno policies (a [`KyvernoDetail`]), as Kyverno's webhook controller
//! does (`pkg/controllers/webhook`: `mergeWebhook`, `collectResourceDescriptions`, `defaultOperations`).

use super::*;
use crate::catalog::Catalog;
use palisade_engine::parse_documents;

/// The set and detail a catalog holding these policy documents serves.
fn catalog(text: &str) -> (PolicySet, KyvernoDetail) {
    let mut catalog = Catalog::new();
    for doc in parse_documents("policies.yaml", text).unwrap() {
        catalog.upsert(&doc.value).unwrap();
    }
    (catalog.policy_set(), catalog.kyverno_detail())
}

fn url() -> WebhookTarget {
    WebhookTarget::url("https://127.0.0.1:8443").unwrap()
}

/// `resource -> operations` over every rule of every webhook of a configuration.
fn operations(config: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for webhook in config["webhooks"].as_array().unwrap() {
        for rule in webhook["rules"].as_array().unwrap() {
            let ops: Vec<String> =
                rule["operations"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect();
            for resource in rule["resources"].as_array().unwrap() {
                out.insert(resource.as_str().unwrap().to_string(), ops.clone());
            }
        }
    }
    out
}

fn planned(text: &str) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
    let (set, detail) = catalog(text);
    let p = plan_detailed(&set, &detail, b"CA", &url(), &WebhookOptions::default()).unwrap();
    (operations(&p.mutating), operations(&p.validating))
}

fn list(ops: &[&str]) -> Vec<String> {
    ops.iter().map(|o| o.to_string()).collect()
}

const ALL: &[&str] = &["CREATE", "UPDATE", "DELETE", "CONNECT"];

const DELETE_PRECONDITION: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: protect-configmaps
spec:
  validationFailureAction: Enforce
  rules:
    - name: no-delete
      match:
        any:
          - resources:
              kinds: [ConfigMap]
      preconditions:
        all:
          - key: "{{ request.operation }}"
            operator: Equals
            value: DELETE
      validate:
        message: protected
        deny: {}
    - name: label
      match:
        any:
          - resources:
              kinds: [ConfigMap]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              seen: "yes"
"#;

/// `defaultOperations`: validate rules naming no operation get all four (so a precondition or deny condition
/// on `request.operation == DELETE` sees deletes); mutate rules get CREATE and UPDATE. Preconditions are not read.
#[test]
fn upstream_default_operations_cover_preconditions() {
    let (mutating, validating) = planned(DELETE_PRECONDITION);
    assert_eq!(validating["configmaps"], list(ALL));
    assert_eq!(mutating["configmaps"], list(&["CREATE", "UPDATE"]));
}

/// `collectResourceDescriptions`: operations per kind (not per policy); autogen rules keep the Pod rule's.
#[test]
fn upstream_operations_per_kind() {
    let (_, validating) = planned(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: mixed
spec:
  rules:
    - name: pods
      match:
        any:
          - resources:
              kinds: [Pod]
              operations: [CREATE]
      validate:
        message: m
        pattern:
          metadata:
            labels:
              team: "?*"
    - name: services
      match:
        any:
          - resources:
              kinds: [Service]
      validate:
        message: m
        deny: {}
"#,
    );
    assert_eq!(validating["pods"], list(&["CREATE"]));
    assert_eq!(validating["deployments"], list(&["CREATE"]), "autogen rules keep the Pod filter's operations");
    assert_eq!(validating["services"], list(ALL));
}

/// `collectResourceDescriptions`: `exclude.any` filters with only kinds and operations remove those operations;
/// an exclude that also names namespaces removes nothing (it excludes only some requests).
#[test]
fn upstream_exclude_any_subtracts_operations() {
    let (_, validating) = planned(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-connect
spec:
  rules:
    - name: r
      match:
        any:
          - resources:
              kinds: [Secret, ConfigMap]
      exclude:
        any:
          - resources:
              kinds: [Secret]
              operations: [DELETE, CONNECT]
          - resources:
              kinds: [ConfigMap]
              namespaces: [kube-public]
      validate:
        message: m
        deny: {}
"#,
    );
    assert_eq!(validating["secrets"], list(&["CREATE", "UPDATE"]));
    assert_eq!(validating["configmaps"], list(ALL));
}

/// `mergeWebhook`: generate rules register their match kinds with all four operations on the validating webhook.
/// Palisade's `/mutate` does not run generate rules, so they are not added to the mutating webhook (Kyverno adds
/// them to both), and the generated kinds are not registered (Palisade does not synchronize generated objects).
#[test]
fn upstream_generate_registers_every_operation() {
    let (mutating, validating) = planned(
        r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: default-quota
spec:
  rules:
    - name: quota
      match:
        any:
          - resources:
              kinds: [Namespace]
      generate:
        apiVersion: v1
        kind: ResourceQuota
        name: default
        namespace: "{{ request.object.metadata.name }}"
        data:
          spec:
            hard:
              pods: "10"
"#,
    );
    assert_eq!(validating["namespaces"], list(ALL));
    assert!(!validating.contains_key("resourcequotas"));
    assert!(mutating.is_empty(), "{mutating:?}");
}

/// A policy not in the detail (or a detail built for another object of the same name) goes through the engine
/// trait with the fallback operations.
#[test]
fn policies_without_detail_use_the_fallback_operations() {
    let (set, _) = catalog(DELETE_PRECONDITION);
    let (_, other_detail) = catalog(DELETE_PRECONDITION);
    assert_eq!(other_detail.len(), 1);
    for detail in [KyvernoDetail::default(), other_detail] {
        let p = plan_detailed(&set, &detail, b"CA", &url(), &WebhookOptions::default()).unwrap();
        assert_eq!(operations(&p.validating)["configmaps"], list(&["CREATE", "UPDATE"]));
    }
}
