//! Kyverno CLI values files (`cli.kyverno.io/v1alpha1` `Values`) and user info files.

use anyhow::{Context, Result};
use palisade_kyverno::StaticValues;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// A values file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuesFile {
    /// Values for every policy, rule and resource.
    #[serde(default)]
    pub global_values: Map<String, Value>,
    /// Per-policy values.
    #[serde(default)]
    pub policies: Vec<PolicyValues>,
    /// Namespace labels for `namespaceSelector`.
    #[serde(default)]
    pub namespace_selector: Vec<NamespaceLabels>,
    /// Namespace objects (newer format).
    #[serde(default)]
    pub namespaces: Vec<Value>,
}

/// Values of one policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyValues {
    /// Policy name.
    pub name: String,
    /// Per-rule values.
    #[serde(default)]
    pub rules: Vec<NamedValues>,
    /// Per-resource values.
    #[serde(default)]
    pub resources: Vec<NamedValues>,
}

/// Values attached to a rule or a resource name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValues {
    /// Rule or resource name.
    pub name: String,
    /// Dotted keys to values.
    #[serde(default)]
    pub values: Map<String, Value>,
}

/// Labels of a namespace.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamespaceLabels {
    /// Namespace name.
    pub name: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ValuesFile {
    /// Reads a values file.
    pub fn read(path: &Path) -> Result<Self> {
        let docs = crate::files::read_documents(path)?;
        let doc = docs.first().with_context(|| format!("{}: empty values file", path.display()))?;
        doc.deserialize().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Adds `key=value` pairs given on the command line as global values.
    pub fn set(&mut self, pairs: &[String]) -> Result<()> {
        for pair in pairs {
            let (k, v) = pair.split_once('=').with_context(|| format!("--set {pair}: expected key=value"))?;
            self.global_values.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
        }
        Ok(())
    }

    /// Values that apply to one resource, in precedence order (later wins).
    pub fn for_resource(&self, resource_name: &str) -> StaticValues {
        let mut entries = Vec::new();
        for (k, v) in &self.global_values {
            entries.push(("*".to_string(), "*".to_string(), k.clone(), v.clone()));
        }
        for p in &self.policies {
            for r in p.resources.iter().filter(|r| r.name == resource_name) {
                for (k, v) in &r.values {
                    entries.push((p.name.clone(), "*".to_string(), k.clone(), v.clone()));
                }
            }
            for r in &p.rules {
                for (k, v) in &r.values {
                    entries.push((p.name.clone(), r.name.clone(), k.clone(), v.clone()));
                }
            }
        }
        StaticValues { entries }
    }

    /// Labels of a namespace, from `namespaceSelector` or `namespaces` entries.
    pub fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        if let Some(ns) = self.namespace_selector.iter().find(|n| n.name == namespace) {
            return Some(ns.labels.clone());
        }
        self.namespaces
            .iter()
            .find(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(namespace))
            .map(|n| palisade_engine::selector::string_map(n.pointer("/metadata/labels")))
    }
}

/// A Kyverno CLI user info file (`RequestInfo`: roles, clusterRoles, userInfo).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoFile {
    /// Roles bound to the user.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Cluster roles bound to the user.
    #[serde(default)]
    pub cluster_roles: Vec<String>,
    /// The user.
    #[serde(default)]
    pub user_info: palisade_engine::UserInfo,
}

impl UserInfoFile {
    /// Reads a user info file.
    pub fn read(path: &Path) -> Result<Self> {
        let docs = crate::files::read_documents(path)?;
        match docs.first() {
            Some(doc) => doc.deserialize().map_err(|e| anyhow::anyhow!("{e}")),
            None => Ok(Self::default()),
        }
    }
}
