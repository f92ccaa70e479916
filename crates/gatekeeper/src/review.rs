//! The review Gatekeeper hands to templates (`input.review`, an AdmissionRequest) and the
//! referential inventory (`data.inventory`), each converted once per request for both engines.

use crate::cel::{CelReview, to_cel};
use crate::rego::to_rego;
use palisade_engine::{AdmissionRequest, GroupVersionKind};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One review (`input.review`), with engine conversions made on first use.
pub struct Review {
    json: Value,
    gvk: GroupVersionKind,
    rego: OnceLock<regorus::Value>,
    cel: OnceLock<CelReview>,
}

impl std::fmt::Debug for Review {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Review").field("json", &self.json).finish_non_exhaustive()
    }
}

impl Review {
    /// The review for an admission request; on DELETE `object` is set to `oldObject`, as
    /// Gatekeeper's webhook does.
    pub fn from_request(request: &AdmissionRequest) -> Self {
        let mut json = serde_json::to_value(request).unwrap_or_else(|_| json!({}));
        if let Some(map) = json.as_object_mut() {
            if map.get("object").is_none_or(Value::is_null)
                && let Some(old) = map.get("oldObject").filter(|o| !o.is_null()).cloned()
            {
                map.insert("object".into(), old);
            }
            map.entry("oldObject").or_insert(Value::Null);
        }
        Self::new(json, request.kind.clone())
    }

    /// The review `gator` builds for a bare object: only kind, name, namespace and object are
    /// set; operation, uid and userInfo are empty.
    pub fn from_object(object: &Value) -> Self {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let gvk = GroupVersionKind::from_api_version(api_version, kind);
        let meta = |f: &str| object.pointer(&format!("/metadata/{f}")).and_then(Value::as_str).unwrap_or_default();
        let mut map = Map::new();
        map.insert("uid".into(), json!(""));
        map.insert("kind".into(), json!({"group": gvk.group, "version": gvk.version, "kind": gvk.kind}));
        map.insert("resource".into(), json!({"group": "", "version": "", "resource": ""}));
        if !meta("name").is_empty() {
            map.insert("name".into(), json!(meta("name")));
        }
        if !meta("namespace").is_empty() {
            map.insert("namespace".into(), json!(meta("namespace")));
        }
        map.insert("operation".into(), json!(""));
        map.insert("userInfo".into(), json!({}));
        map.insert("object".into(), object.clone());
        map.insert("oldObject".into(), Value::Null);
        Self::new(Value::Object(map), gvk)
    }

    /// A review from an `AdmissionReview`'s `request` (gator accepts whole AdmissionReviews).
    /// Absent fields take Go's zero values; matching uses the object's kind when the request
    /// names none.
    pub fn from_admission_review(review: &Value) -> Result<Self, String> {
        let request = review.get("request").filter(|r| r.is_object()).ok_or("AdmissionReview has no request")?;
        let no_object = |k: &str| request.get(k).is_none_or(Value::is_null);
        if no_object("object") && no_object("oldObject") {
            return Err("AdmissionRequest does not contain an \"object\" or \"oldObject\" to review".into());
        }
        let mut json = request.clone();
        let Some(map) = json.as_object_mut() else { return Err("request must be an object".into()) };
        if no_object("object")
            && let Some(old) = request.get("oldObject").cloned()
        {
            map.insert("object".into(), old);
        }
        map.entry("uid").or_insert(json!(""));
        map.entry("kind").or_insert(json!({"group": "", "version": "", "kind": ""}));
        map.entry("resource").or_insert(json!({"group": "", "version": "", "resource": ""}));
        map.entry("operation").or_insert(json!(""));
        map.entry("userInfo").or_insert(json!({}));
        map.entry("oldObject").or_insert(Value::Null);
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let kind = &map["kind"];
        let mut gvk =
            GroupVersionKind { group: text(kind, "group"), version: text(kind, "version"), kind: text(kind, "kind") };
        if gvk.kind.is_empty() {
            let obj = &map["object"];
            gvk = GroupVersionKind::from_api_version(&text(obj, "apiVersion"), &text(obj, "kind"));
        }
        Ok(Self::new(json, gvk))
    }

    fn new(json: Value, gvk: GroupVersionKind) -> Self {
        Self { json, gvk, rego: OnceLock::new(), cel: OnceLock::new() }
    }

    /// The review as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Group, version and kind under review.
    pub fn gvk(&self) -> &GroupVersionKind {
        &self.gvk
    }

    /// Namespace of the request.
    pub fn namespace(&self) -> &str {
        let ns = self.json.get("namespace").and_then(Value::as_str).unwrap_or_default();
        if ns.is_empty() {
            self.object().pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("")
        } else {
            ns
        }
    }

    /// The object under review (`object`, which holds `oldObject` on DELETE).
    pub fn object(&self) -> &Value {
        self.json.get("object").unwrap_or(&Value::Null)
    }

    /// The previous object, if any.
    pub fn old_object(&self) -> &Value {
        self.json.get("oldObject").unwrap_or(&Value::Null)
    }

    /// The review for Rego.
    pub fn rego(&self) -> &regorus::Value {
        self.rego.get_or_init(|| to_rego(&self.json))
    }

    /// The review for CEL.
    pub fn cel(&self) -> &CelReview {
        self.cel.get_or_init(|| CelReview::new(&self.json))
    }
}

/// Synced cluster objects (`data.inventory`).
pub struct Inventory {
    json: Value,
    rego: OnceLock<regorus::Value>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory").field("json", &self.json).finish_non_exhaustive()
    }
}

impl Default for Inventory {
    fn default() -> Self {
        Self::from_objects(std::iter::empty())
    }
}

impl Inventory {
    /// Indexes objects as Gatekeeper does: `cluster[<apiVersion>][<Kind>][<name>]` and
    /// `namespace[<ns>][<apiVersion>][<Kind>][<name>]`.
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut cluster = Map::new();
        let mut namespaced = Map::new();
        let mut namespaces = BTreeMap::new();
        for obj in objects {
            let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
            let (api_version, kind, name, ns) =
                (s("/apiVersion"), s("/kind"), s("/metadata/name"), s("/metadata/namespace"));
            if kind.is_empty() || api_version.is_empty() {
                continue;
            }
            if kind == "Namespace" && api_version == "v1" {
                namespaces.insert(name.clone(), palisade_engine::selector::string_map(obj.pointer("/metadata/labels")));
            }
            let root = if ns.is_empty() {
                &mut cluster
            } else {
                match namespaced.entry(ns).or_insert_with(|| json!({})) {
                    Value::Object(m) => m,
                    _ => continue,
                }
            };
            let by_kind = root.entry(api_version).or_insert_with(|| json!({}));
            if let Some(by_kind) = by_kind.as_object_mut()
                && let Some(by_name) = by_kind.entry(kind).or_insert_with(|| json!({})).as_object_mut()
            {
                by_name.insert(name, obj.clone());
            }
        }
        let json = json!({"cluster": cluster, "namespace": namespaced});
        Self { json, rego: OnceLock::new(), namespaces }
    }

    /// The inventory as JSON.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Labels of a Namespace held in the inventory.
    pub fn namespace_labels(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces.get(name)
    }

    /// The inventory for Rego.
    pub fn rego(&self) -> &regorus::Value {
        self.rego.get_or_init(|| to_rego(&self.json))
    }
}

/// Converts a constraint (or its parameters) for CEL; kept here so callers need not know cel.
pub fn cel_value(value: &Value) -> kube_cel::cel::Value {
    to_cel(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gator_review_from_object() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}});
        let r = Review::from_object(&pod);
        assert_eq!(r.json()["kind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
        assert_eq!(r.json()["operation"], "");
        assert_eq!(r.namespace(), "ns");
        assert_eq!(r.object(), &pod);
    }

    #[test]
    fn delete_reviews_carry_the_old_object() {
        let ar = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "DELETE",
            "oldObject": {"metadata": {"name": "p"}}}});
        let r = Review::from_admission_review(&ar).unwrap();
        assert_eq!(r.object()["metadata"]["name"], "p");
        assert!(Review::from_admission_review(&json!({"request": {"kind": {"kind": "Pod"}}})).is_err());
    }

    #[test]
    fn inventory_layout() {
        let objs = [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "y"}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "a"}}),
        ];
        let inv = Inventory::from_objects(objs.iter());
        assert_eq!(inv.json()["cluster"]["v1"]["Namespace"]["a"]["metadata"]["name"], "a");
        assert_eq!(inv.json()["namespace"]["a"]["apps/v1"]["Deployment"]["d"]["kind"], "Deployment");
        assert_eq!(inv.namespace_labels("a").unwrap()["x"], "y");
    }
}
