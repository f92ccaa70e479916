//! The admission request model: the `request` of an `admission.k8s.io/v1` AdmissionReview.
//!
//! Field names follow the Kubernetes wire format so the webhook server can deserialize an
//! AdmissionReview straight into these types, and the CLI can build the same request from
//! a resource file.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Group, version and kind of an object, as in `request.kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    /// API version, e.g. `v1`.
    #[serde(default)]
    pub version: String,
    /// Kind, e.g. `Pod`.
    #[serde(default)]
    pub kind: String,
}

impl GroupVersionKind {
    /// Splits an object's `apiVersion` (`apps/v1` or `v1`) and pairs it with `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Self { group, version, kind: kind.to_string() }
    }

    /// The `apiVersion` form: `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// Group, version and resource (plural name), as in `request.resource`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupVersionResource {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    /// API version.
    #[serde(default)]
    pub version: String,
    /// Plural resource name, e.g. `pods`.
    #[serde(default)]
    pub resource: String,
}

/// The operation being admitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// Object creation (also the operation the CLI assumes).
    #[default]
    Create,
    /// Object update.
    Update,
    /// Object deletion; the object is in `oldObject`.
    Delete,
    /// Connect to a subresource (exec, attach, port-forward, proxy).
    Connect,
}

impl Operation {
    /// The wire spelling: `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }

    /// Parses the wire spelling, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "CREATE" => Some(Operation::Create),
            "UPDATE" => Some(Operation::Update),
            "DELETE" => Some(Operation::Delete),
            "CONNECT" => Some(Operation::Connect),
            _ => None,
        }
    }
}

/// The authenticated user who sent the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// User name, e.g. `system:serviceaccount:ns:name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// User UID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Groups the user belongs to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Extra authenticator attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// An admission request (`AdmissionReview.request`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Request identifier, echoed in the response.
    #[serde(default)]
    pub uid: String,
    /// Kind of the object.
    #[serde(default)]
    pub kind: GroupVersionKind,
    /// Resource being requested.
    #[serde(default)]
    pub resource: GroupVersionResource,
    /// Subresource, e.g. `status` or `exec`; empty for the main resource.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_resource: String,
    /// Kind of the original request, if the API server converted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    /// Resource of the original request, if the API server converted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<GroupVersionResource>,
    /// Subresource of the original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sub_resource: Option<String>,
    /// Object name (may be empty on CREATE with generateName).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace; empty for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Operation being performed.
    #[serde(default)]
    pub operation: Operation,
    /// Who sent the request.
    #[serde(default)]
    pub user_info: UserInfo,
    /// The new object (null on DELETE).
    #[serde(default)]
    pub object: Value,
    /// The existing object (UPDATE and DELETE).
    #[serde(default)]
    pub old_object: Value,
    /// Whether the request is a dry run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Operation options (CreateOptions, UpdateOptions, ...).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub options: Value,
}

impl AdmissionRequest {
    /// A copy of this request holding `object` in place of its own (which is not copied).
    pub fn with_object(&self, object: Value) -> Self {
        let Self {
            uid,
            kind,
            resource,
            sub_resource,
            request_kind,
            request_resource,
            request_sub_resource,
            name,
            namespace,
            operation,
            user_info,
            object: _,
            old_object,
            dry_run,
            options,
        } = self;
        Self {
            uid: uid.clone(),
            kind: kind.clone(),
            resource: resource.clone(),
            sub_resource: sub_resource.clone(),
            request_kind: request_kind.clone(),
            request_resource: request_resource.clone(),
            request_sub_resource: request_sub_resource.clone(),
            name: name.clone(),
            namespace: namespace.clone(),
            operation: *operation,
            user_info: user_info.clone(),
            object,
            old_object: old_object.clone(),
            dry_run: *dry_run,
            options: options.clone(),
        }
    }

    /// Puts `object` into a working request; a borrowed one becomes an owned copy of the rest.
    pub fn set_object(working: &mut Cow<'_, Self>, object: Value) {
        match working {
            Cow::Owned(request) => request.object = object,
            Cow::Borrowed(request) => *working = Cow::Owned(request.with_object(object)),
        }
    }

    /// Builds the request the API server would send to create `object`, as the CLI does.
    pub fn for_object(object: Value, operation: Operation) -> Self {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let gvk = GroupVersionKind::from_api_version(api_version, kind);
        let metadata = object.get("metadata");
        let field =
            |name: &str| metadata.and_then(|m| m.get(name)).and_then(Value::as_str).unwrap_or_default().to_string();
        let (object, old_object) = match operation {
            Operation::Delete => (Value::Null, object.clone()),
            _ => (object.clone(), Value::Null),
        };
        Self {
            uid: String::new(),
            resource: GroupVersionResource {
                group: gvk.group.clone(),
                version: gvk.version.clone(),
                resource: plural_of(&gvk.kind),
            },
            kind: gvk,
            name: field("name"),
            namespace: field("namespace"),
            operation,
            object,
            old_object,
            ..Self::default()
        }
    }

    /// The object the policies look at: `object`, or `oldObject` on DELETE.
    pub fn subject(&self) -> &Value {
        if self.object.is_null() { &self.old_object } else { &self.object }
    }
}

/// A best-effort plural resource name for a kind (`Pod` → `pods`, `Ingress` → `ingresses`).
pub fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() {
        return lower;
    }
    if lower.ends_with('s') || lower.ends_with("sh") || lower.ends_with("ch") || lower.ends_with('x') {
        format!("{lower}es")
    } else if lower.ends_with('y') && !matches!(lower.chars().rev().nth(1), Some('a' | 'e' | 'i' | 'o' | 'u')) {
        format!("{}ies", &lower[..lower.len() - 1])
    } else {
        format!("{lower}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_names_follow_kubernetes_rules() {
        assert_eq!(plural_of("Pod"), "pods");
        assert_eq!(plural_of("Ingress"), "ingresses");
        assert_eq!(plural_of("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural_of("Gateway"), "gateways");
    }

    #[test]
    fn delete_requests_carry_the_object_in_old_object() {
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}});
        let req = AdmissionRequest::for_object(pod.clone(), Operation::Delete);
        assert!(req.object.is_null());
        assert_eq!(req.subject(), &pod);
        assert_eq!(req.namespace, "ns");
        assert_eq!(req.kind.kind, "Pod");
    }
}
