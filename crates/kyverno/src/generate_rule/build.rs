//! Building generated objects: target metadata, Kyverno's generate labels, clone clean-up,
//! and the normalisation the Kyverno CLI applies before comparing generated resources.

use crate::vars::Vars;
use palisade_engine::selector::{LabelSelector, string_map};
use palisade_engine::{EvaluationContext, GroupVersionKind};
use serde_json::{Map, Value};

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const GENERATE_PREFIX: &str = "generate.kyverno.io/";

/// The resolved target of one generation: where the object goes.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// What every object generated for one request shares: policy, rule and trigger identity.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    policy_name: String,
    policy_namespace: String,
    rule: String,
    trigger: GroupVersionKind,
    trigger_namespace: String,
    trigger_uid: String,
    synchronize: bool,
}

fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or_default()
}

/// `value` as an object, replacing anything else with an empty one.
fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => {
            *other = Value::Object(Map::new());
            ensure_object(other)
        }
    }
}

fn metadata(object: &mut Value) -> &mut Map<String, Value> {
    ensure_object(ensure_object(object).entry("metadata").or_insert_with(|| Value::Object(Map::new())))
}

fn set_or_remove(meta: &mut Map<String, Value>, field: &str, value: &str) {
    if value.is_empty() {
        meta.remove(field);
    } else {
        meta.insert(field.to_string(), Value::String(value.to_string()));
    }
}

/// Sets `labels` on `object`, keeping its other labels.
fn add_labels(object: &mut Value, labels: &[(&str, &str)]) {
    let meta = metadata(object);
    let map = ensure_object(meta.entry("labels").or_insert_with(|| Value::Object(Map::new())));
    for (k, v) in labels {
        map.insert((*k).to_string(), Value::String((*v).to_string()));
    }
}

impl Scope {
    /// The scope of a request whose rule context is `data`; the trigger is `request.object`
    /// (or `request.oldObject` on DELETE).
    pub fn new(data: &Vars<'_>, policy: &str, rule: &str, synchronize: bool) -> Self {
        let mounted = |key: &'static str| data.mount_for(["request", key].into_iter()).map(|(v, _)| v);
        let object = mounted("object").filter(|o| !o.is_null());
        let trigger = object.or_else(|| mounted("oldObject")).unwrap_or(&Value::Null);
        let (policy_namespace, policy_name) = match policy.split_once('/') {
            Some((ns, name)) => (ns.to_string(), name.to_string()),
            None => (String::new(), policy.to_string()),
        };
        let api_version = trigger.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = trigger.get("kind").and_then(Value::as_str).unwrap_or_default();
        Self {
            policy_name,
            policy_namespace,
            rule: rule.to_string(),
            trigger: GroupVersionKind::from_api_version(api_version, kind),
            trigger_namespace: meta_str(trigger, "namespace").to_string(),
            trigger_uid: meta_str(trigger, "uid").to_string(),
            synchronize,
        }
    }

    /// A namespaced Policy may only generate into, and clone from, its own namespace.
    pub fn check_namespace(&self, namespace: &str, field: &str) -> Result<(), String> {
        if self.policy_namespace.is_empty() || namespace == self.policy_namespace {
            Ok(())
        } else {
            Err(format!("{field} {namespace:?} must equal policy namespace {:?}", self.policy_namespace))
        }
    }

    /// Finishes `object` for `target` and adds it to `out`, unless the target already exists
    /// and the rule does not synchronize (Kyverno then leaves it alone).
    pub fn emit(&self, mut object: Value, target: &Target, ctx: &EvaluationContext, out: &mut Vec<Value>) {
        let exists =
            ctx.cluster.as_ref().is_some_and(|c| c.get(&target.kind, &target.namespace, &target.name).is_some());
        if exists && !self.synchronize {
            return;
        }
        let meta = metadata(&mut object);
        set_or_remove(meta, "name", &target.name);
        set_or_remove(meta, "namespace", &target.namespace);
        let body = ensure_object(&mut object);
        let kind = match body.remove("kind") {
            Some(Value::String(k)) if !k.is_empty() => k,
            _ => target.kind.clone(),
        };
        let api_version = match body.remove("apiVersion") {
            _ if !target.api_version.is_empty() => Value::String(target.api_version.clone()),
            Some(v) => v,
            None => Value::String(String::new()),
        };
        // apiVersion, kind and metadata first, as Kubernetes prints objects.
        let mut ordered = Map::with_capacity(body.len() + 2);
        ordered.insert("apiVersion".into(), api_version);
        ordered.insert("kind".into(), Value::String(kind));
        if let Some(meta) = body.remove("metadata") {
            ordered.insert("metadata".into(), meta);
        }
        ordered.append(body);
        let mut object = Value::Object(ordered);
        add_labels(
            &mut object,
            &[
                (MANAGED_BY, "kyverno"),
                ("generate.kyverno.io/policy-name", &self.policy_name),
                ("generate.kyverno.io/policy-namespace", &self.policy_namespace),
                ("generate.kyverno.io/rule-name", &self.rule),
                ("generate.kyverno.io/trigger-version", &self.trigger.version),
                ("generate.kyverno.io/trigger-group", &self.trigger.group),
                ("generate.kyverno.io/trigger-kind", &self.trigger.kind),
                ("generate.kyverno.io/trigger-namespace", &self.trigger_namespace),
                ("generate.kyverno.io/trigger-uid", &self.trigger_uid),
            ],
        );
        out.push(object);
    }
}

/// A copy of `source` ready to become a clone in `target_namespace`: source labels added,
/// server-set metadata removed, owner references dropped across namespaces.
fn clone_object(source: &Value, target_namespace: &str) -> Value {
    let mut object = source.clone();
    let gvk = GroupVersionKind::from_api_version(
        source.get("apiVersion").and_then(Value::as_str).unwrap_or_default(),
        source.get("kind").and_then(Value::as_str).unwrap_or_default(),
    );
    let (source_ns, source_name) = (meta_str(source, "namespace"), meta_str(source, "name"));
    add_labels(
        &mut object,
        &[
            // Kyverno tags the source before copying it, so clones carry the tag too.
            ("generate.kyverno.io/clone-source", ""),
            ("generate.kyverno.io/source-group", &gvk.group),
            ("generate.kyverno.io/source-version", &gvk.version),
            ("generate.kyverno.io/source-kind", &gvk.kind),
            ("generate.kyverno.io/source-namespace", source_ns),
            ("generate.kyverno.io/source-name", source_name),
        ],
    );
    let cross_namespace = source_ns != target_namespace;
    let meta = metadata(&mut object);
    if cross_namespace {
        meta.remove("ownerReferences");
    }
    for field in ["uid", "selfLink", "creationTimestamp", "managedFields", "resourceVersion"] {
        meta.remove(field);
    }
    object
}

/// `clone`: copies the object `source_ns/source_name` of the target's kind into the target.
pub(super) fn clone_one(
    target: &Target,
    source_ns: &str,
    source_name: &str,
    ctx: &EvaluationContext,
    scope: &Scope,
    out: &mut Vec<Value>,
) -> Result<(), String> {
    if source_ns == target.namespace && source_name == target.name {
        return Ok(()); // Kyverno skips a resource cloning itself.
    }
    let what = qualified(source_ns, source_name);
    let source = ctx
        .cluster
        .as_ref()
        .ok_or_else(|| format!("source {} {what} not found (no cluster data to clone from)", target.kind))?
        .get(&target.kind, source_ns, source_name)
        .ok_or_else(|| format!("source {} {what} not found", target.kind))?;
    scope.emit(clone_object(&source, &target.namespace), target, ctx, out);
    Ok(())
}

/// `cloneList`: copies every object of `kind_spec` (`Kind` or `apiVersion/Kind`) in
/// `source_ns` that matches `selector` into `target_ns`, under the same name.
pub(super) fn clone_list(
    kind_spec: &str,
    source_ns: &str,
    selector: Option<&LabelSelector>,
    target_ns: &str,
    ctx: &EvaluationContext,
    scope: &Scope,
    out: &mut Vec<Value>,
) -> Result<(), String> {
    let (api_version, kind) = kind_spec.rsplit_once('/').unwrap_or(("", kind_spec));
    if kind.is_empty() {
        return Err(format!("kinds: {kind_spec:?} names no kind"));
    }
    let Some(cluster) = ctx.cluster.as_ref() else { return Ok(()) };
    let mut sources: Vec<Value> = cluster
        .list(kind, if source_ns.is_empty() { None } else { Some(source_ns) })
        .into_iter()
        .filter(|s| api_version.is_empty() || s.get("apiVersion").and_then(Value::as_str) == Some(api_version))
        .filter(|s| selector.is_none_or(|sel| sel.matches(&string_map(s.pointer("/metadata/labels")))))
        .collect();
    sources.sort_by(|a, b| {
        (meta_str(a, "namespace"), meta_str(a, "name")).cmp(&(meta_str(b, "namespace"), meta_str(b, "name")))
    });
    for source in sources {
        if meta_str(&source, "namespace") == target_ns {
            continue; // Kyverno skips cloning into the source namespace.
        }
        let target = Target {
            api_version: source.get("apiVersion").and_then(Value::as_str).unwrap_or(api_version).to_string(),
            kind: kind.to_string(),
            name: meta_str(&source, "name").to_string(),
            namespace: target_ns.to_string(),
        };
        scope.emit(clone_object(&source, target_ns), &target, ctx, out);
    }
    Ok(())
}

/// `object` as the Kyverno CLI compares generated resources (`kyverno test`): labels under
/// `generate.kyverno.io/` dropped and `app.kubernetes.io/managed-by: kyverno` defaulted,
/// then nulls, empty maps and empty lists removed. Compare two such values for equality.
pub fn comparable(object: &Value) -> Value {
    let mut object = object.clone();
    let mut labels = Map::new();
    labels.insert(MANAGED_BY.into(), Value::String("kyverno".into()));
    for (k, v) in string_map(object.pointer("/metadata/labels")) {
        if !k.starts_with(GENERATE_PREFIX) {
            labels.insert(k, Value::String(v));
        }
    }
    metadata(&mut object).insert("labels".into(), Value::Object(labels));
    tidy(&object).unwrap_or(Value::Null)
}

/// Checks generated objects against the documents of a `generatedResource` file as
/// `kyverno test` does: every generated object must equal, after [`comparable`], the expected
/// document with the same namespace and name. Errors name the first object that differs.
pub fn check_generated(generated: &[Value], expected: &[Value]) -> Result<(), String> {
    for object in generated {
        let (ns, name) = (meta_str(object, "namespace"), meta_str(object, "name"));
        let id = format!("{} {}", object.get("kind").and_then(Value::as_str).unwrap_or_default(), qualified(ns, name));
        let Some(want) = expected.iter().find(|e| meta_str(e, "namespace") == ns && meta_str(e, "name") == name) else {
            return Err(format!("generated {id} is not in the expected resources"));
        };
        if comparable(object) != comparable(want) {
            return Err(format!("generated {id} differs from the expected resource: got {object}, want {want}"));
        }
    }
    Ok(())
}

fn qualified(namespace: &str, name: &str) -> String {
    if namespace.is_empty() { name.to_string() } else { format!("{namespace}/{name}") }
}

fn tidy(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let out: Map<String, Value> = map.iter().filter_map(|(k, v)| Some((k.clone(), tidy(v)?))).collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let out: Vec<Value> = items.iter().filter_map(tidy).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}
