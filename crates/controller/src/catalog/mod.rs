//! The policies a cluster holds, as the controller sees them: each watched object is compiled on every change,
//! a policy that fails to compile keeps serving its previous good version, and every object gets a `status` with a
//! `Ready` condition saying which version serves and why.
//!
//! Pure: the watch loop feeds objects in ([`Catalog::upsert`], [`Catalog::remove`]) and takes out the
//! [`PolicySet`] to swap in and the status patches to write.

use crate::webhooks::KyvernoDetail;
use palisade_engine::{AdmissionPolicy, Document, PolicySet};
use palisade_kyverno::KyvernoPolicy;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kinds the catalog compiles: (apiVersion prefix, kind).
pub const WATCHED_KINDS: &[(&str, &str)] =
    &[("kyverno.io/", "ClusterPolicy"), ("kyverno.io/", "Policy"), ("palisade.dev/", "RuntimeClassPolicy")];

/// An object the catalog cannot hold at all (as opposed to a policy that does not compile).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Not one of [`WATCHED_KINDS`].
    #[error("{api_version} {kind} is not a policy kind Palisade serves")]
    NotAPolicy {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// No `metadata.name`.
    #[error("{kind} without metadata.name")]
    NoName {
        /// The object's kind.
        kind: String,
    },
}

/// Identity of a policy object: kind, namespace (namespaced `Policy` only) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKey {
    /// `ClusterPolicy`, `Policy` or `RuntimeClassPolicy`.
    pub kind: String,
    /// Namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl PolicyKey {
    /// The key of an object, when it is a watched policy kind with a name.
    pub fn of(object: &Value) -> Result<Self, CatalogError> {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !WATCHED_KINDS.iter().any(|(prefix, k)| api_version.starts_with(prefix) && *k == kind) {
            return Err(CatalogError::NotAPolicy { api_version: api_version.into(), kind: kind.into() });
        }
        let meta = object.get("metadata");
        let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            return Err(CatalogError::NoName { kind: kind.into() });
        }
        let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).map(str::to_string);
        Ok(Self { kind: kind.into(), namespace, name: name.into() })
    }
}

impl std::fmt::Display for PolicyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[derive(Clone)]
struct Entry {
    /// `metadata.generation` of the latest object seen.
    generation: Option<i64>,
    /// The version that serves: the latest one that compiled, and its generation.
    good: Option<(Compiled, Option<i64>)>,
    /// Why the latest object did not compile.
    error: Option<String>,
}

/// What [`Catalog::upsert`] did with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The object compiled and now serves.
    Ready,
    /// The object did not compile; `previous_serves` says whether an earlier version keeps serving.
    Failed {
        /// The compile error.
        error: String,
        /// Whether an earlier good version keeps serving.
        previous_serves: bool,
    },
}

/// The compiled policies of a cluster, by object.
#[derive(Clone, Default)]
pub struct Catalog {
    entries: BTreeMap<PolicyKey, Entry>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys().map(ToString::to_string)).finish()
    }
}

/// A compiled policy object: what serves, and the Kyverno policy behind it (for the webhook computation).
#[derive(Clone)]
pub struct Compiled {
    /// The policy as it serves in a set.
    pub policy: Arc<dyn AdmissionPolicy>,
    /// The same policy as a Kyverno policy, for ClusterPolicy and Policy objects.
    pub kyverno: Option<Arc<KyvernoPolicy>>,
}

/// Compiles one policy object as received from the API server (server-populated metadata is ignored).
pub fn compile(object: &Value) -> Result<Arc<dyn AdmissionPolicy>, String> {
    compile_detailed(object).map(|c| c.policy)
}

/// [`compile`], keeping the Kyverno policy behind a ClusterPolicy or Policy.
pub fn compile_detailed(object: &Value) -> Result<Compiled, String> {
    let key = PolicyKey::of(object).map_err(|e| e.to_string())?;
    let value = cleaned(object);
    let doc = Document {
        source: key.to_string(),
        index: 0,
        first_line: 1,
        text: serde_json::to_string_pretty(&value).unwrap_or_default(),
        value,
    };
    if key.kind == palisade_sandbox::KIND {
        let policy = palisade_sandbox::load_policy(&doc).map_err(|e| e.to_string())?;
        Ok(Compiled { policy: Arc::new(policy), kyverno: None })
    } else {
        let kyverno = Arc::new(palisade_kyverno::load::load_policy(&doc).map_err(|e| e.to_string())?);
        Ok(Compiled { policy: Arc::clone(&kyverno) as Arc<dyn AdmissionPolicy>, kyverno: Some(kyverno) })
    }
}

/// The object with only the metadata a policy author writes (name, namespace, labels, annotations) and no status.
fn cleaned(object: &Value) -> Value {
    let mut out = object.as_object().cloned().unwrap_or_default();
    out.remove("status");
    if let Some(meta) = object.get("metadata").and_then(Value::as_object) {
        let kept: Map<String, Value> = ["name", "namespace", "labels", "annotations"]
            .into_iter()
            .filter_map(|k| meta.get(k).map(|v| (k.to_string(), v.clone())))
            .collect();
        out.insert("metadata".into(), Value::Object(kept));
    }
    Value::Object(out)
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles an added or changed object; on failure the previous good version (if any) keeps serving.
    pub fn upsert(&mut self, object: &Value) -> Result<Outcome, CatalogError> {
        let key = PolicyKey::of(object)?;
        let generation = object.pointer("/metadata/generation").and_then(Value::as_i64);
        let entry = self.entries.entry(key).or_insert(Entry { generation, good: None, error: None });
        entry.generation = generation;
        Ok(match compile_detailed(object) {
            Ok(compiled) => {
                entry.good = Some((compiled, generation));
                entry.error = None;
                Outcome::Ready
            }
            Err(error) => {
                entry.error = Some(error.clone());
                Outcome::Failed { error, previous_serves: entry.good.is_some() }
            }
        })
    }

    /// Forgets a deleted object; returns whether it was known.
    pub fn remove(&mut self, key: &PolicyKey) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Replaces the whole catalog with a fresh listing (after a watch restart), keeping good versions of objects
    /// that still exist but no longer compile. Returns the outcome per object.
    pub fn replace_all(&mut self, objects: &[Value]) -> Vec<(PolicyKey, Result<Outcome, CatalogError>)> {
        let mut keep = Catalog::new();
        let mut outcomes = Vec::new();
        for object in objects {
            let key = match PolicyKey::of(object) {
                Ok(key) => key,
                Err(e) => {
                    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
                    outcomes.push((PolicyKey { kind, namespace: None, name: String::new() }, Err(e)));
                    continue;
                }
            };
            if let Some(previous) = self.entries.get(&key) {
                keep.entries.insert(key.clone(), previous.clone());
            }
            outcomes.push((key, keep.upsert(object)));
        }
        *self = keep;
        outcomes
    }

    /// Number of objects held (compiled or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no object is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The policies that serve, in a stable order (by kind, namespace, name).
    pub fn policy_set(&self) -> PolicySet {
        let mut set = PolicySet::new();
        for entry in self.entries.values() {
            if let Some((compiled, _)) = &entry.good {
                set.add(Arc::clone(&compiled.policy));
            }
        }
        set
    }

    /// The Kyverno policies of [`Catalog::policy_set`], for [`webhooks::plan_detailed`](crate::webhooks::plan_detailed).
    pub fn kyverno_detail(&self) -> KyvernoDetail {
        let mut detail = KyvernoDetail::default();
        for (compiled, _) in self.entries.values().filter_map(|e| e.good.as_ref()) {
            if let Some(kyverno) = &compiled.kyverno {
                detail.insert(&compiled.policy, Arc::clone(kyverno));
            }
        }
        detail
    }

    /// The `status` patch for an object (`{"status": {...}}`, for a merge patch of the status subresource):
    /// `ready` (as Kyverno writes it) and a `Ready` condition; `now` is the RFC 3339 transition time. Compare
    /// `status`/`reason`/`message` with the live condition first, so an unchanged condition keeps its time.
    pub fn status_patch(&self, key: &PolicyKey, now: &str) -> Option<Value> {
        let entry = self.entries.get(key)?;
        let (status, reason, message) = match (&entry.error, &entry.good) {
            (None, _) => ("True", "Succeeded", "policy compiled and serving".to_string()),
            (Some(error), Some((_, generation))) => {
                let which = generation.map(|g| format!(" (generation {g})")).unwrap_or_default();
                ("False", "CompileFailed", format!("{error}; the previous version{which} keeps serving"))
            }
            (Some(error), None) => ("False", "CompileFailed", format!("{error}; not serving")),
        };
        let mut condition = json!({
            "type": "Ready",
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now,
        });
        if let Some(generation) = entry.generation {
            condition["observedGeneration"] = json!(generation);
        }
        Some(json!({"status": {"ready": status == "True", "conditions": [condition]}}))
    }
}

#[cfg(test)]
mod tests;
