//! A read-only view of a pod (metadata annotations, pod-level spec fields and the three
//! container lists) over the admitted JSON, plus the two reduced pods Kyverno evaluates for
//! exclusions: the pod-level pod (one fake container) and the pod of the matching containers.

use palisade_engine::wildcard::Wildcard;
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// Which container list a container comes from, in the order Kubernetes visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContainerKind {
    /// `spec.initContainers`.
    Init,
    /// `spec.containers`.
    Regular,
    /// `spec.ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The field name of the list.
    pub(super) fn field(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }

    /// Parses a list field name.
    pub(super) fn from_field(name: &str) -> Option<Self> {
        match name {
            "initContainers" => Some(ContainerKind::Init),
            "containers" => Some(ContainerKind::Regular),
            "ephemeralContainers" => Some(ContainerKind::Ephemeral),
            _ => None,
        }
    }

    const ALL: [ContainerKind; 3] = [ContainerKind::Init, ContainerKind::Regular, ContainerKind::Ephemeral];
}

/// The containers of one list: borrowed as is, or a picked subset.
#[derive(Debug, Clone)]
enum Containers<'a> {
    All(&'a [Value]),
    Picked(Vec<&'a Value>),
}

impl<'a> Containers<'a> {
    fn get(&self, index: usize) -> Option<&'a Value> {
        match self {
            Containers::All(items) => items.get(index),
            Containers::Picked(items) => items.get(index).copied(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Containers::All(items) => items.len(),
            Containers::Picked(items) => items.len(),
        }
    }
}

/// How the resource holds its pod, which decides how error paths are rewritten in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// A Pod.
    Pod,
    /// A controller with `spec.template`.
    Template,
    /// A CronJob (`spec.jobTemplate.spec.template`).
    CronJob,
}

/// Kinds whose pod template sits at `spec.template` (Kyverno's `getSpec`).
const TEMPLATE_KINDS: [&str; 6] =
    ["DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController"];

/// The pod Kyverno checks: metadata annotations, pod-level spec and containers.
#[derive(Debug, Clone)]
pub(super) struct PodView<'a> {
    annotations: Option<&'a Map<String, Value>>,
    spec: Option<&'a Map<String, Value>>,
    lists: [Containers<'a>; 3],
}

static FAKE_CONTAINER: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let mut c = Map::new();
    c.insert("name".into(), Value::String("fake".into()));
    vec![Value::Object(c)]
});

/// The non-null object at `key`.
pub(super) fn object<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Map<String, Value>> {
    map?.get(key)?.as_object()
}

/// The non-null value at `key`.
pub(super) fn field<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    map?.get(key).filter(|v| !v.is_null())
}

/// The boolean at `key`.
pub(super) fn boolean(map: Option<&Map<String, Value>>, key: &str) -> Option<bool> {
    field(map, key)?.as_bool()
}

/// The string at `key`.
pub(super) fn string<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a str> {
    field(map, key)?.as_str()
}

/// The integer at `key`.
pub(super) fn integer(map: Option<&Map<String, Value>>, key: &str) -> Option<i64> {
    field(map, key)?.as_i64()
}

/// The array at `key`, empty when absent.
pub(super) fn array<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> &'a [Value] {
    field(map, key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// A container's `securityContext`.
pub(super) fn security_context(container: &Value) -> Option<&Map<String, Value>> {
    container.get("securityContext")?.as_object()
}

/// A container's name (empty when absent).
pub(super) fn container_name(container: &Value) -> &str {
    container.get("name").and_then(Value::as_str).unwrap_or("")
}

/// Finds the pod inside `resource` the way Kyverno's `getSpec` does; `None` for other kinds.
pub(super) fn extract(resource: &Value) -> Option<(PodView<'_>, Holder)> {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let root = resource.as_object();
    let (metadata, spec, holder) = if kind == "Pod" {
        (object(root, "metadata"), object(root, "spec"), Holder::Pod)
    } else if TEMPLATE_KINDS.contains(&kind) {
        let template = object(object(root, "spec"), "template");
        (object(template, "metadata"), object(template, "spec"), Holder::Template)
    } else if kind == "CronJob" {
        // Upstream reads the job template's metadata, not the pod template's.
        let job = object(object(root, "spec"), "jobTemplate");
        let template = object(object(job, "spec"), "template");
        (object(job, "metadata"), object(template, "spec"), Holder::CronJob)
    } else {
        return None;
    };
    Some((PodView::new(metadata, spec), holder))
}

impl<'a> PodView<'a> {
    /// A view over `metadata` and `spec` objects.
    pub(super) fn new(metadata: Option<&'a Map<String, Value>>, spec: Option<&'a Map<String, Value>>) -> Self {
        let lists = ContainerKind::ALL.map(|k| Containers::All(array(spec, k.field())));
        PodView { annotations: object(metadata, "annotations"), spec, lists }
    }

    /// The pod Kyverno evaluates for a pod-level exclusion: same metadata and pod-level
    /// fields, one container named `fake`, no init or ephemeral containers.
    pub(super) fn pod_level(&self) -> PodView<'a> {
        PodView {
            annotations: self.annotations,
            spec: self.spec,
            lists: [Containers::All(&[]), Containers::All(FAKE_CONTAINER.as_slice()), Containers::All(&[])],
        }
    }

    /// The pod Kyverno evaluates for a container-level exclusion: no annotations, no pod-level
    /// fields, only the containers whose image matches one of `images`.
    pub(super) fn matching(&self, images: &[Wildcard]) -> PodView<'a> {
        let pick = |list: &Containers<'a>| {
            let picked = (0..list.len())
                .filter_map(|i| list.get(i))
                .filter(|c| {
                    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                    images.iter().any(|w| w.matches(image))
                })
                .collect();
            Containers::Picked(picked)
        };
        PodView {
            annotations: None,
            spec: None,
            lists: [pick(&self.lists[0]), pick(&self.lists[1]), pick(&self.lists[2])],
        }
    }

    /// Visits every container (init, regular, ephemeral) with its list and index.
    pub(super) fn visit(&self, mut visitor: impl FnMut(ContainerKind, usize, &'a Value)) {
        for (kind, list) in ContainerKind::ALL.into_iter().zip(&self.lists) {
            for i in 0..list.len() {
                if let Some(c) = list.get(i) {
                    visitor(kind, i, c);
                }
            }
        }
    }

    /// The container at `index` of list `kind`.
    pub(super) fn container(&self, kind: ContainerKind, index: usize) -> Option<&'a Value> {
        let slot = ContainerKind::ALL.iter().position(|k| *k == kind)?;
        self.lists[slot].get(index)
    }

    /// Metadata annotations.
    pub(super) fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.annotations
    }

    /// The pod spec's own fields.
    pub(super) fn spec(&self) -> Option<&'a Map<String, Value>> {
        self.spec
    }

    /// The pod-level `securityContext`.
    pub(super) fn pod_security_context(&self) -> Option<&'a Map<String, Value>> {
        object(self.spec, "securityContext")
    }

    /// Whether `spec.os.name` is `windows`.
    pub(super) fn is_windows(&self) -> bool {
        string(object(self.spec, "os"), "name") == Some("windows")
    }

    /// Whether the pod runs in a user namespace (`spec.hostUsers: false`).
    pub(super) fn in_user_namespace(&self) -> bool {
        boolean(self.spec, "hostUsers") == Some(false)
    }
}
