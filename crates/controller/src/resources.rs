//! Kind → (API group, resource) mapping for webhook rules.
//!
//! Webhook rules name resources (`pods`), not kinds (`Pod`). Policies name bare kinds, so the controller
//! needs a mapping: a static table of the built-in kinds (plus Palisade's and Kyverno's own), which the caller
//! can extend with kinds found through discovery (custom resources).

use std::collections::BTreeMap;

/// Built-in kinds: (kind, API group, plural resource). Group `""` is the core group.
const BUILTIN: &[(&str, &str, &str)] = &[
    // core/v1
    ("Binding", "", "bindings"),
    ("ConfigMap", "", "configmaps"),
    ("Endpoints", "", "endpoints"),
    ("Event", "", "events"),
    ("LimitRange", "", "limitranges"),
    ("Namespace", "", "namespaces"),
    ("Node", "", "nodes"),
    ("PersistentVolume", "", "persistentvolumes"),
    ("PersistentVolumeClaim", "", "persistentvolumeclaims"),
    ("Pod", "", "pods"),
    ("PodTemplate", "", "podtemplates"),
    ("ReplicationController", "", "replicationcontrollers"),
    ("ResourceQuota", "", "resourcequotas"),
    ("Secret", "", "secrets"),
    ("Service", "", "services"),
    ("ServiceAccount", "", "serviceaccounts"),
    // apps
    ("ControllerRevision", "apps", "controllerrevisions"),
    ("DaemonSet", "apps", "daemonsets"),
    ("Deployment", "apps", "deployments"),
    ("ReplicaSet", "apps", "replicasets"),
    ("StatefulSet", "apps", "statefulsets"),
    // batch
    ("CronJob", "batch", "cronjobs"),
    ("Job", "batch", "jobs"),
    // autoscaling
    ("HorizontalPodAutoscaler", "autoscaling", "horizontalpodautoscalers"),
    // networking
    ("Ingress", "networking.k8s.io", "ingresses"),
    ("IngressClass", "networking.k8s.io", "ingressclasses"),
    ("NetworkPolicy", "networking.k8s.io", "networkpolicies"),
    ("EndpointSlice", "discovery.k8s.io", "endpointslices"),
    // policy
    ("PodDisruptionBudget", "policy", "poddisruptionbudgets"),
    ("PodSecurityPolicy", "policy", "podsecuritypolicies"),
    // rbac
    ("ClusterRole", "rbac.authorization.k8s.io", "clusterroles"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io", "clusterrolebindings"),
    ("Role", "rbac.authorization.k8s.io", "roles"),
    ("RoleBinding", "rbac.authorization.k8s.io", "rolebindings"),
    // storage
    ("CSIDriver", "storage.k8s.io", "csidrivers"),
    ("CSINode", "storage.k8s.io", "csinodes"),
    ("StorageClass", "storage.k8s.io", "storageclasses"),
    ("VolumeAttachment", "storage.k8s.io", "volumeattachments"),
    // scheduling, node, coordination, certificates
    ("PriorityClass", "scheduling.k8s.io", "priorityclasses"),
    ("RuntimeClass", "node.k8s.io", "runtimeclasses"),
    ("Lease", "coordination.k8s.io", "leases"),
    ("CertificateSigningRequest", "certificates.k8s.io", "certificatesigningrequests"),
    // extension APIs
    ("CustomResourceDefinition", "apiextensions.k8s.io", "customresourcedefinitions"),
    ("APIService", "apiregistration.k8s.io", "apiservices"),
    ("MutatingWebhookConfiguration", "admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    // policy engines
    ("ClusterPolicy", "kyverno.io", "clusterpolicies"),
    ("Policy", "kyverno.io", "policies"),
    ("RuntimeClassPolicy", "palisade.dev", "runtimeclasspolicies"),
];

/// Where a kind is served: its API group (`""` for core) and plural resource name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    /// API group, `""` for the core group.
    pub group: String,
    /// Plural resource name, e.g. `pods`.
    pub resource: String,
}

/// A kind → [`GroupResource`] table: the built-in kinds, extensible with discovered ones.
#[derive(Debug, Clone)]
pub struct KindTable {
    kinds: BTreeMap<String, GroupResource>,
}

impl Default for KindTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl KindTable {
    /// The built-in kinds (core, apps, batch, networking, RBAC, …, kyverno.io, palisade.dev).
    pub fn builtin() -> Self {
        let kinds = BUILTIN
            .iter()
            .map(|(kind, group, resource)| {
                (kind.to_string(), GroupResource { group: group.to_string(), resource: resource.to_string() })
            })
            .collect();
        Self { kinds }
    }

    /// Adds or replaces a kind (e.g. a custom resource found through discovery).
    pub fn insert(&mut self, kind: &str, group: &str, resource: &str) {
        self.kinds.insert(kind.to_string(), GroupResource { group: group.to_string(), resource: resource.to_string() });
    }

    /// Where `kind` is served, when known.
    pub fn lookup(&self, kind: &str) -> Option<&GroupResource> {
        self.kinds.get(kind)
    }

    /// Number of known kinds.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn lookups() {
        let table = KindTable::builtin();
        let cases = [
            ("Pod", Some(("", "pods"))),
            ("Deployment", Some(("apps", "deployments"))),
            ("CronJob", Some(("batch", "cronjobs"))),
            ("Ingress", Some(("networking.k8s.io", "ingresses"))),
            ("RuntimeClass", Some(("node.k8s.io", "runtimeclasses"))),
            ("ClusterPolicy", Some(("kyverno.io", "clusterpolicies"))),
            ("Widget", None),
            ("pod", None),
        ];
        for (kind, want) in cases {
            let got = table.lookup(kind).map(|gr| (gr.group.as_str(), gr.resource.as_str()));
            assert_eq!(got, want, "{kind}");
        }
    }

    #[test]
    fn insert_extends_and_replaces() {
        let mut table = KindTable::builtin();
        let before = table.len();
        table.insert("Widget", "example.com", "widgets");
        assert_eq!(table.len(), before + 1);
        assert_eq!(table.lookup("Widget").map(|g| g.resource.as_str()), Some("widgets"));
        table.insert("Widget", "example.org", "widgets");
        assert_eq!(table.len(), before + 1);
        assert_eq!(table.lookup("Widget").map(|g| g.group.as_str()), Some("example.org"));
    }

    #[test]
    fn table_has_no_duplicate_kinds_or_resources() {
        let kinds: BTreeSet<_> = BUILTIN.iter().map(|(k, _, _)| k).collect();
        assert_eq!(kinds.len(), BUILTIN.len());
        let resources: BTreeSet<_> = BUILTIN.iter().map(|(_, g, r)| (g, r)).collect();
        assert_eq!(resources.len(), BUILTIN.len());
        for (kind, _, resource) in BUILTIN {
            assert!(resource.chars().all(|c| c.is_ascii_lowercase()), "{kind}: {resource}");
            assert!(kind.starts_with(|c: char| c.is_ascii_uppercase()), "{kind}");
        }
    }
}
