//! Compact static schema of Kubernetes strategic-merge list semantics, keyed by field path.
//!
//! Only fields on the way to a list with `x-kubernetes-patch-strategy: merge` are listed (from the
//! `patchStrategy`/`patchMergeKey`/`listMapKey` struct tags of core/v1, apps/v1, batch/v1 and meta/v1 types).
//! Every other list of a known kind is replaced by the patch, as are all lists of kinds without a schema (CRDs).

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMerge {
    /// Elements are paired by these keys (the first is the `patchMergeKey`, the rest extra `listMapKey`s).
    Keys(&'static [&'static str]),
    /// A list of scalars merged as a set (e.g. `metadata.finalizers`).
    Set,
}

/// The schema node of one field.
#[derive(Debug)]
pub enum Shape {
    /// An object whose listed fields have known shapes; unlisted fields have none.
    Object(&'static [(&'static str, &'static Shape)]),
    /// A list that merges, with the shape of its elements.
    List(ListMerge, &'static Shape),
    /// A field with no list-merge semantics below it.
    Opaque,
}

impl Shape {
    /// Shape of field `key` of an object shape.
    pub fn field(&self, key: &str) -> Option<&'static Shape> {
        match self {
            Shape::Object(fields) => fields.iter().find(|(name, _)| *name == key).map(|(_, shape)| *shape),
            _ => None,
        }
    }

    /// Merge strategy and element shape when this is a merging list.
    pub fn list(&self) -> Option<(ListMerge, &'static Shape)> {
        match self {
            Shape::List(merge, elements) => Some((*merge, *elements)),
            _ => None,
        }
    }
}

static OPAQUE: Shape = Shape::Opaque;

static OWNER_REFERENCES: Shape = Shape::List(ListMerge::Keys(&["uid"]), &OPAQUE);
static FINALIZERS: Shape = Shape::List(ListMerge::Set, &OPAQUE);
static OBJECT_META: Shape = Shape::Object(&[("finalizers", &FINALIZERS), ("ownerReferences", &OWNER_REFERENCES)]);

static CONTAINER_PORTS: Shape = Shape::List(ListMerge::Keys(&["containerPort", "protocol"]), &OPAQUE);
static ENV: Shape = Shape::List(ListMerge::Keys(&["name"]), &OPAQUE);
static VOLUME_MOUNTS: Shape = Shape::List(ListMerge::Keys(&["mountPath"]), &OPAQUE);
static VOLUME_DEVICES: Shape = Shape::List(ListMerge::Keys(&["devicePath"]), &OPAQUE);
static CONTAINER: Shape = Shape::Object(&[
    ("ports", &CONTAINER_PORTS),
    ("env", &ENV),
    ("volumeMounts", &VOLUME_MOUNTS),
    ("volumeDevices", &VOLUME_DEVICES),
]);
static CONTAINERS: Shape = Shape::List(ListMerge::Keys(&["name"]), &CONTAINER);
static BY_NAME: Shape = Shape::List(ListMerge::Keys(&["name"]), &OPAQUE);
static HOST_ALIASES: Shape = Shape::List(ListMerge::Keys(&["ip"]), &OPAQUE);
static TOPOLOGY_SPREAD: Shape = Shape::List(ListMerge::Keys(&["topologyKey", "whenUnsatisfiable"]), &OPAQUE);
static POD_SPEC: Shape = Shape::Object(&[
    ("volumes", &BY_NAME),
    ("initContainers", &CONTAINERS),
    ("containers", &CONTAINERS),
    ("ephemeralContainers", &CONTAINERS),
    ("imagePullSecrets", &BY_NAME),
    ("hostAliases", &HOST_ALIASES),
    ("topologySpreadConstraints", &TOPOLOGY_SPREAD),
    ("resourceClaims", &BY_NAME),
    ("schedulingGates", &BY_NAME),
]);
static POD_TEMPLATE_SPEC: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("spec", &POD_SPEC)]);
static WITH_POD_TEMPLATE: Shape = Shape::Object(&[("template", &POD_TEMPLATE_SPEC)]);

static POD: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("spec", &POD_SPEC)]);
static POD_TEMPLATE: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("template", &POD_TEMPLATE_SPEC)]);
static WORKLOAD: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("spec", &WITH_POD_TEMPLATE)]);
static JOB_TEMPLATE: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("spec", &WITH_POD_TEMPLATE)]);
static CRON_JOB_SPEC: Shape = Shape::Object(&[("jobTemplate", &JOB_TEMPLATE)]);
static CRON_JOB: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("spec", &CRON_JOB_SPEC)]);
static SERVICE_PORTS: Shape = Shape::List(ListMerge::Keys(&["port", "protocol"]), &OPAQUE);
static SERVICE_SPEC: Shape = Shape::Object(&[("ports", &SERVICE_PORTS)]);
static SERVICE: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("spec", &SERVICE_SPEC)]);
static SERVICE_ACCOUNT: Shape = Shape::Object(&[("metadata", &OBJECT_META), ("secrets", &BY_NAME)]);
static METADATA_ONLY: Shape = Shape::Object(&[("metadata", &OBJECT_META)]);

/// Built-in kinds whose only merging lists are in `metadata`.
const METADATA_ONLY_KINDS: &[(&str, &str)] = &[
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Namespace"),
    ("v1", "Node"),
    ("v1", "PersistentVolume"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Endpoints"),
    ("v1", "Event"),
    ("v1", "LimitRange"),
    ("v1", "ResourceQuota"),
    ("apps/v1", "ControllerRevision"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "IngressClass"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("storage.k8s.io/v1", "StorageClass"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
    ("autoscaling/v1", "HorizontalPodAutoscaler"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("coordination.k8s.io/v1", "Lease"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
];

/// The root schema for a resource of `api_version`/`kind`, or `None` for kinds without one (CRDs).
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Shape> {
    let shape = match (api_version, kind) {
        ("v1", "Pod") => &POD,
        ("v1", "PodTemplate") => &POD_TEMPLATE,
        ("v1", "ReplicationController") => &WORKLOAD,
        ("apps/v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => &WORKLOAD,
        ("batch/v1", "Job") => &WORKLOAD,
        ("batch/v1" | "batch/v1beta1", "CronJob") => &CRON_JOB,
        ("v1", "Service") => &SERVICE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        (v, k) if METADATA_ONLY_KINDS.contains(&(v, k)) => &METADATA_ONLY,
        _ => return None,
    };
    Some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve() {
        let deploy = for_kind("apps/v1", "Deployment").unwrap();
        let containers = deploy.field("spec").and_then(|s| s.field("template")).and_then(|t| t.field("spec"));
        let (merge, container) = containers.and_then(|s| s.field("containers")).and_then(Shape::list).unwrap();
        assert_eq!(merge, ListMerge::Keys(&["name"]));
        assert_eq!(container.field("volumeMounts").and_then(Shape::list).unwrap().0, ListMerge::Keys(&["mountPath"]));
        assert!(container.field("args").is_none());
        let spec = for_kind("v1", "Pod").and_then(|p| p.field("spec")).unwrap();
        assert!(spec.field("tolerations").is_none());
        assert!(for_kind("example.com/v1", "Widget").is_none());
        let meta = for_kind("v1", "ConfigMap").and_then(|c| c.field("metadata")).unwrap();
        assert_eq!(meta.field("finalizers").and_then(Shape::list).unwrap().0, ListMerge::Set);
    }
}
