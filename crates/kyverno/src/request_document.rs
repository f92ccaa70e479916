//! The parts of Kyverno's variable document that come from the request itself: `request.*` (but the
//! objects, which [`Vars`](crate::vars::Vars) mounts), `serviceAccountName`/`serviceAccountNamespace`, and
//! `images`. Every request that reads them builds them once, so their fixed maps are cloned from prototypes
//! and filled in key order: cloning a map copies its hash table, where inserting hashes each key again.

use palisade_engine::field::field as field_of;
use palisade_engine::{AdmissionRequest, EvaluationContext};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The request context's shape, with and without `request.dryRun`; [`request_context`] fills the values
/// in this order.
static REQUEST_PROTOTYPES: LazyLock<[Value; 2]> = LazyLock::new(|| {
    let gvk = || json!({"group": "", "version": "", "kind": ""});
    let gvr = || json!({"group": "", "version": "", "resource": ""});
    let request = |dry_run: bool| {
        let mut request = json!({
            "operation": "", "userInfo": {}, "namespace": "", "name": "", "kind": gvk(), "resource": gvr(),
            "subResource": "", "roles": [], "clusterRoles": []
        });
        if dry_run {
            request["dryRun"] = Value::Bool(false);
        }
        json!({"request": request, "serviceAccountName": "", "serviceAccountNamespace": ""})
    };
    [request(false), request(true)]
});

/// Builds the base context for a request: everything but `request.object`, `request.oldObject`
/// and `images`, which [`Vars`](crate::vars::Vars) mounts instead of copying.
pub fn request_context(request: &AdmissionRequest, ctx: &EvaluationContext) -> Value {
    let mut root = REQUEST_PROTOTYPES[usize::from(request.dry_run.is_some())].clone();
    let Value::Object(map) = &mut root else { return root };
    let (sa_name, sa_namespace) = service_account(&request.user_info.username);
    let strings = |items: &[String]| Value::Array(items.iter().cloned().map(Value::String).collect());
    let (kind, resource) = (&request.kind, &request.resource);
    let mut values = map.values_mut();
    if let Some(Value::Object(req)) = values.next() {
        let mut fields = req.values_mut();
        let mut next = || fields.next().map_or(Slot::Missing, Slot::Found);
        next().set(Value::String(request.operation.as_str().into()));
        next().set(user_info(&request.user_info));
        next().set(Value::String(request.namespace.clone()));
        next().set(Value::String(request.name.clone()));
        next().fill([&kind.group, &kind.version, &kind.kind]);
        next().fill([&resource.group, &resource.version, &resource.resource]);
        next().set(Value::String(request.sub_resource.clone()));
        next().set(strings(&ctx.roles));
        next().set(strings(&ctx.cluster_roles));
        if let Some(dry) = request.dry_run {
            next().set(Value::Bool(dry));
        }
    }
    for (slot, value) in values.zip([sa_name, sa_namespace]) {
        *slot = Value::String(value);
    }
    root
}

/// `request.userInfo` as the API server sends it (empty fields left out).
fn user_info(info: &palisade_engine::UserInfo) -> Value {
    let mut out = Map::new();
    if !info.username.is_empty() {
        out.insert("username".into(), Value::String(info.username.clone()));
    }
    if !info.uid.is_empty() {
        out.insert("uid".into(), Value::String(info.uid.clone()));
    }
    if !info.groups.is_empty() {
        out.insert("groups".into(), info.groups.iter().cloned().map(Value::String).collect());
    }
    if !info.extra.is_empty() {
        let extra = info.extra.iter().map(|(k, v)| (k.clone(), v.iter().cloned().map(Value::String).collect()));
        out.insert("extra".into(), Value::Object(extra.collect()));
    }
    Value::Object(out)
}

/// A value of a prototype being filled in key order.
enum Slot<'a> {
    Found(&'a mut Value),
    /// The prototype has fewer keys (never, for the prototypes above).
    Missing,
}

impl Slot<'_> {
    fn set(self, value: Value) {
        if let Slot::Found(slot) = self {
            *slot = value;
        }
    }

    /// Replaces the values of an object slot, in key order.
    fn fill<const N: usize>(self, values: [&String; N]) {
        if let Slot::Found(Value::Object(map)) = self {
            for (slot, value) in map.values_mut().zip(values) {
                *slot = Value::String(value.clone());
            }
        }
    }
}

fn service_account(username: &str) -> (String, String) {
    match username.strip_prefix("system:serviceaccount:").and_then(|r| r.split_once(':')) {
        Some((ns, name)) => (name.to_string(), ns.to_string()),
        None => (String::new(), String::new()),
    }
}

/// An `images` entry's shape, without and with `digest`; [`image_info`] fills the values in this order.
static IMAGE_PROTOTYPES: LazyLock<[Value; 2]> = LazyLock::new(|| {
    let info = json!({"registry": "", "path": "", "name": "", "tag": "", "reference": ""});
    let mut with_digest = info.clone();
    with_digest["digest"] = Value::String(String::new());
    [info, with_digest]
});

/// Parsed image reference, as Kyverno's `images` variable exposes it.
pub fn image_info(image: &str) -> Value {
    let (rest, digest) = image.split_once('@').unwrap_or((image, ""));
    let (registry, remainder) = match rest.split_once('/') {
        Some((first, tail)) if first.contains(['.', ':']) || first == "localhost" => (first, tail),
        _ => ("docker.io", rest),
    };
    let (path, tag) = match remainder.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t),
        _ => (remainder, ""),
    };
    let tag = if tag.is_empty() && digest.is_empty() { "latest" } else { tag };
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut reference = String::with_capacity(registry.len() + path.len() + tag.len() + digest.len() + 3);
    for part in [registry, "/", path] {
        reference.push_str(part);
    }
    if !tag.is_empty() {
        reference.push(':');
        reference.push_str(tag);
    }
    if !digest.is_empty() {
        reference.push('@');
        reference.push_str(digest);
    }
    let mut info = IMAGE_PROTOTYPES[usize::from(!digest.is_empty())].clone();
    if let Value::Object(map) = &mut info {
        let values = [registry, path, name, tag].map(str::to_string).into_iter().chain([reference, digest.to_string()]);
        for (slot, value) in map.values_mut().zip(values) {
            *slot = Value::String(value);
        }
    }
    info
}

/// The `images` variable: containers, initContainers and ephemeralContainers by name,
/// for Pods and for pod templates of controllers.
pub fn images(object: &Value) -> Value {
    let spec = pod_spec(object);
    let mut out = Map::new();
    if let Some(spec) = spec {
        for field in ["containers", "initContainers", "ephemeralContainers"] {
            let Some(list) = field_of(spec, field).and_then(Value::as_array) else { continue };
            let mut by_name = Map::with_capacity(list.len());
            for c in list {
                if let (Some(name), Some(image)) =
                    (field_of(c, "name").and_then(Value::as_str), field_of(c, "image").and_then(Value::as_str))
                {
                    by_name.insert(name.to_string(), image_info(image));
                }
            }
            if !by_name.is_empty() {
                out.insert(field.to_string(), Value::Object(by_name));
            }
        }
    }
    Value::Object(out)
}

/// The pod spec of a Pod or of a controller's template.
pub fn pod_spec(object: &Value) -> Option<&Value> {
    let spec = field_of(object, "spec")?;
    match field_of(object, "kind").and_then(Value::as_str) {
        Some("Pod") => Some(spec),
        Some("CronJob") => spec.pointer("/jobTemplate/spec/template/spec"),
        _ => spec.pointer("/template/spec").or(Some(spec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::{Operation, UserInfo};

    /// The context as a map insert at a time would build it, for comparison.
    fn reference(request: &AdmissionRequest, ctx: &EvaluationContext) -> Value {
        let (sa_name, sa_namespace) = service_account(&request.user_info.username);
        let (k, r) = (&request.kind, &request.resource);
        let mut req = json!({
            "operation": request.operation.as_str(), "userInfo": user_info(&request.user_info),
            "namespace": request.namespace, "name": request.name,
            "kind": {"group": k.group, "version": k.version, "kind": k.kind},
            "resource": {"group": r.group, "version": r.version, "resource": r.resource},
            "subResource": request.sub_resource, "roles": ctx.roles, "clusterRoles": ctx.cluster_roles
        });
        if let Some(dry) = request.dry_run {
            req["dryRun"] = json!(dry);
        }
        json!({"request": req, "serviceAccountName": sa_name, "serviceAccountNamespace": sa_namespace})
    }

    #[test]
    fn request_fields_read_as_their_serialized_form() {
        let mut request = AdmissionRequest::for_object(json!({"apiVersion": "v1", "kind": "Pod"}), Default::default());
        request.resource.resource = "pods".into();
        request.resource.version = "v1".into();
        for info in [
            palisade_engine::UserInfo::default(),
            serde_json::from_value(json!({"username": "system:serviceaccount:ns:sa", "uid": "42",
                "groups": ["a", "b"], "extra": {"scopes": ["x"]}}))
            .unwrap(),
        ] {
            request.user_info = info;
            let doc = request_context(&request, &EvaluationContext::default());
            assert_eq!(doc["request"]["userInfo"], serde_json::to_value(&request.user_info).unwrap());
            assert_eq!(doc["request"]["kind"], serde_json::to_value(&request.kind).unwrap());
            assert_eq!(doc["request"]["resource"], serde_json::to_value(&request.resource).unwrap());
        }
    }

    #[test]
    fn image_references_are_normalised() {
        let i = image_info("nginx");
        assert_eq!(i["registry"], "docker.io");
        assert_eq!(i["tag"], "latest");
        assert_eq!(i["reference"], "docker.io/nginx:latest");
        let i = image_info("ghcr.io/org/app:1.2@sha256:abc");
        assert_eq!(i["registry"], "ghcr.io");
        assert_eq!(i["path"], "org/app");
        assert_eq!(i["name"], "app");
        assert_eq!(i["digest"], "sha256:abc");
        let i = image_info("localhost:5000/app");
        assert_eq!(i["registry"], "localhost:5000");
    }

    #[test]
    fn prototypes_are_filled_in_key_order() {
        let mut request = AdmissionRequest::for_object(json!({"kind": "Pod"}), Operation::Update);
        request.namespace = "shop".into();
        request.name = "web".into();
        request.sub_resource = "status".into();
        request.kind.group = "apps".into();
        request.resource.resource = "pods".into();
        request.user_info = UserInfo {
            username: "system:serviceaccount:shop:deployer".into(),
            groups: vec!["g".into()],
            ..UserInfo::default()
        };
        let ctx = EvaluationContext {
            roles: vec!["shop:edit".into()],
            cluster_roles: vec!["view".into()],
            ..EvaluationContext::default()
        };
        for dry_run in [None, Some(true), Some(false)] {
            request.dry_run = dry_run;
            let built = request_context(&request, &ctx);
            let want = reference(&request, &ctx);
            // Same values and the same key order at every level.
            assert_eq!(serde_json::to_string(&built).unwrap(), serde_json::to_string(&want).unwrap());
        }
    }

    #[test]
    fn image_entries_keep_their_key_order() {
        let info = image_info("ghcr.io/org/app:1.2@sha256:abc");
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"registry":"ghcr.io","path":"org/app","name":"app","tag":"1.2","reference":"ghcr.io/org/app:1.2@sha256:abc","digest":"sha256:abc"}"#
        );
        let info = image_info("nginx");
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"registry":"docker.io","path":"nginx","name":"nginx","tag":"latest","reference":"docker.io/nginx:latest"}"#
        );
    }
}
