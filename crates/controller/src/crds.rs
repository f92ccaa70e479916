//! The CustomResourceDefinitions Palisade serves, for `palisade crds | kubectl apply -f -`.
//!
//! - `kyverno.io` ClusterPolicy (cluster-scoped) and Policy (namespaced): the same group, names, versions
//!   (`v1` stored, `v2beta1` served), short names and printer columns as Kyverno, so existing manifests apply
//!   unchanged. The schema is **permissive**: `spec` and `status` are objects with
//!   `x-kubernetes-preserve-unknown-fields: true`, and Palisade's own compiler reports invalid policies in `status`.
//!   Do not install these over a running Kyverno: its CRDs carry the full schema and a conversion webhook.
//! - `palisade.dev/v1alpha1` RuntimeClassPolicy (cluster-scoped): a typed schema for the top-level settings;
//!   `triggers`, `match` and `exclude` keep unknown fields (their shapes are checked by the compiler).

use serde_json::{Value, json};

/// The CRD group of Kyverno policies.
pub const KYVERNO_GROUP: &str = "kyverno.io";
/// The CRD group of Palisade's own kinds.
pub const PALISADE_GROUP: &str = "palisade.dev";

/// All CRDs Palisade serves, in apply order.
pub fn crds() -> Vec<Value> {
    vec![kyverno_crd(true), kyverno_crd(false), runtime_class_policy_crd()]
}

/// All CRDs as one multi-document YAML stream (documents separated by `---`).
pub fn crds_yaml() -> String {
    crate::to_yaml(&crds())
}

fn preserve() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

fn kyverno_crd(cluster: bool) -> Value {
    let (kind, plural, singular, short, scope) = if cluster {
        ("ClusterPolicy", "clusterpolicies", "clusterpolicy", "cpol", "Cluster")
    } else {
        ("Policy", "policies", "policy", "pol", "Namespaced")
    };
    let schema = json!({
        "openAPIV3Schema": {
            "type": "object",
            "description": format!("{kind} declares validation, mutation and generation rules (Kyverno-compatible; \
                                    served by Palisade)."),
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": preserve(),
                "status": preserve(),
            },
            "required": ["spec"],
        }
    });
    let columns = json!([
        {"name": "ADMISSION", "type": "boolean", "jsonPath": ".spec.admission"},
        {"name": "BACKGROUND", "type": "boolean", "jsonPath": ".spec.background"},
        {"name": "READY", "type": "string", "jsonPath": ".status.conditions[?(@.type == \"Ready\")].status"},
        {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "MESSAGE", "type": "string", "priority": 1,
         "jsonPath": ".status.conditions[?(@.type == \"Ready\")].message"},
    ]);
    let version = |name: &str, storage: bool| {
        json!({
            "name": name,
            "served": true,
            "storage": storage,
            "schema": schema,
            "subresources": {"status": {}},
            "additionalPrinterColumns": columns,
        })
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.{KYVERNO_GROUP}"),
            "labels": {"app.kubernetes.io/name": "palisade", "app.kubernetes.io/part-of": "palisade"},
        },
        "spec": {
            "group": KYVERNO_GROUP,
            "names": {
                "kind": kind,
                "listKind": format!("{kind}List"),
                "plural": plural,
                "singular": singular,
                "shortNames": [short],
                "categories": ["kyverno", "palisade"],
            },
            "scope": scope,
            "versions": [version("v1", true), version("v2beta1", false)],
        }
    })
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn enumeration(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn runtime_class_policy_crd() -> Value {
    let spec = json!({
        "type": "object",
        "properties": {
            "validationFailureAction": enumeration(&["Audit", "Enforce", "audit", "enforce"]),
            "failureAction": enumeration(&["Audit", "Enforce", "audit", "enforce"]),
            "failurePolicy": enumeration(&["Fail", "Ignore"]),
            "emitWarning": {"type": "boolean"},
            "reservedRuntimes": strings(),
            "fallbackRuntime": {"type": "string"},
            "defaultRuntimeReserved": {"type": "boolean"},
            "sandboxRuntimes": strings(),
            "triggers": preserve(),
            "sandboxCompatibility": {
                "type": "object",
                "properties": {"check": {"type": "boolean"}, "allow": strings()},
            },
            "match": preserve(),
            "exclude": preserve(),
        },
    });
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("runtimeclasspolicies.{PALISADE_GROUP}"),
            "labels": {"app.kubernetes.io/name": "palisade", "app.kubernetes.io/part-of": "palisade"},
        },
        "spec": {
            "group": PALISADE_GROUP,
            "names": {
                "kind": "RuntimeClassPolicy",
                "listKind": "RuntimeClassPolicyList",
                "plural": "runtimeclasspolicies",
                "singular": "runtimeclasspolicy",
                "shortNames": ["rcp"],
                "categories": ["palisade"],
            },
            "scope": "Cluster",
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "RuntimeClassPolicy steers untrusted workloads to sandboxed RuntimeClasses.",
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                        "status": preserve(),
                    },
                }},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "FALLBACK", "type": "string", "jsonPath": ".spec.fallbackRuntime"},
                    {"name": "READY", "type": "string",
                     "jsonPath": ".status.conditions[?(@.type == \"Ready\")].status"},
                    {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_scopes_and_versions() {
        let all = crds();
        let got: Vec<(String, String, String, Vec<String>)> = all
            .iter()
            .map(|c| {
                let versions = c["spec"]["versions"].as_array().unwrap();
                (
                    c["metadata"]["name"].as_str().unwrap().to_string(),
                    c["spec"]["names"]["kind"].as_str().unwrap().to_string(),
                    c["spec"]["scope"].as_str().unwrap().to_string(),
                    versions.iter().map(|v| v["name"].as_str().unwrap().to_string()).collect(),
                )
            })
            .collect();
        let want = [
            ("clusterpolicies.kyverno.io", "ClusterPolicy", "Cluster", vec!["v1", "v2beta1"]),
            ("policies.kyverno.io", "Policy", "Namespaced", vec!["v1", "v2beta1"]),
            ("runtimeclasspolicies.palisade.dev", "RuntimeClassPolicy", "Cluster", vec!["v1alpha1"]),
        ];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.0.as_str(), g.1.as_str(), g.2.as_str()), (w.0, w.1, w.2));
            assert_eq!(g.3, w.3);
        }
    }

    #[test]
    fn structural_rules_hold() {
        for crd in crds() {
            let name = crd["metadata"]["name"].as_str().unwrap();
            let spec = &crd["spec"];
            assert_eq!(
                name,
                format!("{}.{}", spec["names"]["plural"].as_str().unwrap(), spec["group"].as_str().unwrap())
            );
            let versions = spec["versions"].as_array().unwrap();
            assert_eq!(versions.iter().filter(|v| v["storage"] == true).count(), 1, "{name}: one storage version");
            for v in versions {
                let schema = &v["schema"]["openAPIV3Schema"];
                assert_eq!(schema["type"], "object", "{name}");
                assert_eq!(v["subresources"]["status"], json!({}), "{name}: status subresource");
                check_structural(schema, name);
            }
        }
    }

    /// Every schema node has a type (or preserves unknown fields), as apiextensions/v1 requires.
    fn check_structural(node: &Value, at: &str) {
        let preserves = node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        assert!(node.get("type").is_some() || preserves, "{at}: node without type");
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                check_structural(v, &format!("{at}.{k}"));
            }
        }
        if let Some(items) = node.get("items") {
            check_structural(items, &format!("{at}[]"));
        }
    }

    #[test]
    fn yaml_round_trips() {
        let yaml = crds_yaml();
        assert!(yaml.starts_with("---\n"));
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&yaml).unwrap();
        assert_eq!(docs, crds());
    }
}
