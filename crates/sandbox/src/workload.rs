//! Where a workload keeps its pod spec, and typed, malformed-input-safe reads of that spec.

use palisade_engine::GroupVersionKind;
use serde_json::{Map, Value};

/// A pod spec that cannot be read: the dotted path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed pod spec: {0}")]
pub struct Malformed(pub String);

/// The kinds a `RuntimeClassPolicy` evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// `v1/Pod`.
    Pod,
    /// `apps/v1/Deployment`.
    Deployment,
    /// `apps/v1/ReplicaSet`.
    ReplicaSet,
    /// `apps/v1/StatefulSet`.
    StatefulSet,
    /// `apps/v1/DaemonSet`.
    DaemonSet,
    /// `batch/v1/Job`.
    Job,
    /// `batch/v1/CronJob`.
    CronJob,
    /// `v1/ReplicationController`.
    ReplicationController,
}

/// Bare kind names of every [`WorkloadKind`].
pub const KINDS: [&str; 8] =
    ["Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"];

impl WorkloadKind {
    /// The workload kind of a request's kind, checking the API group; `None` for other kinds.
    pub fn of(gvk: &GroupVersionKind) -> Option<Self> {
        let (kind, group) = match gvk.kind.as_str() {
            "Pod" => (WorkloadKind::Pod, ""),
            "ReplicationController" => (WorkloadKind::ReplicationController, ""),
            "Deployment" => (WorkloadKind::Deployment, "apps"),
            "ReplicaSet" => (WorkloadKind::ReplicaSet, "apps"),
            "StatefulSet" => (WorkloadKind::StatefulSet, "apps"),
            "DaemonSet" => (WorkloadKind::DaemonSet, "apps"),
            "Job" => (WorkloadKind::Job, "batch"),
            "CronJob" => (WorkloadKind::CronJob, "batch"),
            _ => return None,
        };
        (gvk.group == group).then_some(kind)
    }

    /// The bare kind name.
    pub fn as_str(self) -> &'static str {
        KINDS[self as usize]
    }

    /// JSON pointer of the pod spec inside the object.
    pub fn spec_pointer(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "/spec",
            WorkloadKind::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }

    /// Dotted path of the pod spec, for messages.
    pub fn spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "spec",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    /// JSON pointer of the pod template's metadata (`None` for a Pod).
    pub fn template_metadata_pointer(self) -> Option<&'static str> {
        match self {
            WorkloadKind::Pod => None,
            WorkloadKind::CronJob => Some("/spec/jobTemplate/spec/template/metadata"),
            _ => Some("/spec/template/metadata"),
        }
    }

    /// Whether `runtimeClassName` cannot change once the object exists (Pod spec, Job template).
    pub fn runtime_immutable(self) -> bool {
        matches!(self, WorkloadKind::Pod | WorkloadKind::Job)
    }
}

/// A host feature that sandbox runtimes cannot honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostFeature {
    /// `spec.hostNetwork: true`.
    HostNetwork,
    /// `spec.hostPID: true`.
    HostPid,
    /// `spec.hostIPC: true`.
    HostIpc,
    /// A `hostPath` volume.
    HostPath,
}

impl HostFeature {
    /// Parses the settings spelling (`hostNetwork`, `hostPID`, `hostIPC`, `hostPath`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hostNetwork" => Some(HostFeature::HostNetwork),
            "hostPID" => Some(HostFeature::HostPid),
            "hostIPC" => Some(HostFeature::HostIpc),
            "hostPath" => Some(HostFeature::HostPath),
            _ => None,
        }
    }
}

/// One use of a host feature, described for messages (`hostNetwork`, `hostPath volume "data"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUse {
    /// The feature.
    pub feature: HostFeature,
    /// Description.
    pub text: String,
}

/// One container of a pod spec.
#[derive(Debug, Clone, Copy)]
pub struct Container<'a> {
    /// `container`, `init container` or `ephemeral container`.
    pub role: &'static str,
    /// Container name.
    pub name: &'a str,
    /// List field and index (`("initContainers", 0)`), for messages.
    pub index_path: (&'static str, usize),
    /// The container object.
    pub object: &'a Map<String, Value>,
}

impl Container<'_> {
    /// `container "app"`, `init container "setup"`.
    pub fn describe(&self) -> String {
        format!("{} {:?}", self.role, self.name)
    }
}

/// The pod spec of a workload, with the dotted path it was found at.
#[derive(Debug, Clone, Copy)]
pub struct PodSpec<'a> {
    /// The spec object.
    pub spec: &'a Map<String, Value>,
    /// Dotted path of the spec (`spec`, `spec.template.spec`).
    pub path: &'static str,
}

/// Reads an optional boolean field; `null` counts as absent.
pub fn opt_bool(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, Malformed> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(Malformed(format!("{path}.{key} must be true or false, got {other}"))),
    }
}

/// Reads an optional object field; `null` counts as absent.
pub fn opt_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, Malformed> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(Malformed(format!("{path}.{key} must be an object, got {}", type_name(other)))),
    }
}

/// Reads an optional list field; `null` counts as empty.
pub fn opt_list<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a [Value], Malformed> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(Malformed(format!("{path}.{key} must be a list, got {}", type_name(other)))),
    }
}

/// Reads an optional integer field; `null` counts as absent.
pub fn opt_int(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, Malformed> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(other) => Err(Malformed(format!("{path}.{key} must be an integer, got {other}"))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl<'a> PodSpec<'a> {
    /// Finds the pod spec of `object` for its kind.
    pub fn locate(kind: WorkloadKind, object: &'a Value) -> Result<Self, Malformed> {
        let path = kind.spec_path();
        match object.pointer(kind.spec_pointer()) {
            Some(Value::Object(spec)) => Ok(PodSpec { spec, path }),
            None | Some(Value::Null) => Err(Malformed(format!("{path} is missing"))),
            Some(other) => Err(Malformed(format!("{path} must be an object, got {}", type_name(other)))),
        }
    }

    /// Dotted path of `runtimeClassName`.
    pub fn runtime_field(&self) -> String {
        format!("{}.runtimeClassName", self.path)
    }

    /// The requested RuntimeClass; `None` when unset, null or empty (the node's default runtime).
    pub fn runtime(&self) -> Result<Option<&'a str>, Malformed> {
        match self.spec.get("runtimeClassName") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Malformed(format!("{} must be a string, got {other}", self.runtime_field()))),
        }
    }

    /// The pod-level `securityContext`.
    pub fn security_context(&self) -> Result<Option<&'a Map<String, Value>>, Malformed> {
        opt_object(self.spec, "securityContext", self.path)
    }

    /// Whether the pod declares `os.name: windows`.
    pub fn is_windows(&self) -> bool {
        self.spec.get("os").and_then(|o| o.get("name")).and_then(Value::as_str) == Some("windows")
    }

    /// Containers, init containers and ephemeral containers, in that order.
    pub fn containers(&self) -> Result<Vec<Container<'a>>, Malformed> {
        let mut out = Vec::new();
        for (key, role) in [
            ("containers", "container"),
            ("initContainers", "init container"),
            ("ephemeralContainers", "ephemeral container"),
        ] {
            for (i, item) in opt_list(self.spec, key, self.path)?.iter().enumerate() {
                let object =
                    item.as_object().ok_or_else(|| Malformed(format!("{}.{key}[{i}] must be an object", self.path)))?;
                let name = match object.get("name") {
                    Some(Value::String(s)) => s.as_str(),
                    None | Some(Value::Null) => "",
                    Some(other) => {
                        return Err(Malformed(format!("{}.{key}[{i}].name must be a string, got {other}", self.path)));
                    }
                };
                out.push(Container { role, name, index_path: (key, i), object });
            }
        }
        Ok(out)
    }

    /// Dotted path of a container, for messages.
    pub fn container_path(&self, c: &Container<'_>) -> String {
        format!("{}.{}[{}]", self.path, c.index_path.0, c.index_path.1)
    }

    /// Host namespaces and hostPath volumes the pod uses.
    pub fn host_uses(&self) -> Result<Vec<HostUse>, Malformed> {
        let mut out = Vec::new();
        for (key, feature) in [
            ("hostNetwork", HostFeature::HostNetwork),
            ("hostPID", HostFeature::HostPid),
            ("hostIPC", HostFeature::HostIpc),
        ] {
            if opt_bool(self.spec, key, self.path)? == Some(true) {
                out.push(HostUse { feature, text: key.to_string() });
            }
        }
        for (i, volume) in opt_list(self.spec, "volumes", self.path)?.iter().enumerate() {
            let volume =
                volume.as_object().ok_or_else(|| Malformed(format!("{}.volumes[{i}] must be an object", self.path)))?;
            if volume.get("hostPath").is_some_and(|h| !h.is_null()) {
                let name = volume.get("name").and_then(Value::as_str).unwrap_or_default();
                out.push(HostUse { feature: HostFeature::HostPath, text: format!("hostPath volume {name:?}") });
            }
        }
        Ok(out)
    }
}
