//! Turning documents into the policies every command evaluates.

use anyhow::{Result, anyhow};
use palisade_engine::{Document, PolicySet};
use palisade_kyverno::KyvernoPolicy;
use std::sync::Arc;

/// Policies loaded for a command: Kyverno policies kept typed (the CLI passes values to them).
#[derive(Debug, Default)]
pub struct LoadedPolicies {
    /// Kyverno policies, in file order.
    pub kyverno: Vec<Arc<KyvernoPolicy>>,
    /// Documents of policy kinds this build does not evaluate, as `(kind, name, reason)`.
    pub unsupported: Vec<(String, String, String)>,
}

/// Kinds of the Kyverno CEL policy family (`policies.kyverno.io`).
pub fn is_cel_policy_kind(api_version: &str) -> bool {
    api_version.starts_with("policies.kyverno.io/")
}

impl LoadedPolicies {
    /// Compiles all policies among `docs`; any error fails the whole load.
    pub fn load(docs: &[Document]) -> Result<Self> {
        let mut out = LoadedPolicies::default();
        match palisade_kyverno::load_policies(docs) {
            Ok(policies) => out.kyverno = policies.into_iter().map(Arc::new).collect(),
            Err(errors) => {
                let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return Err(anyhow!(text.join("\n")));
            }
        }
        for doc in docs {
            let api = doc.value.get("apiVersion").and_then(|v| v.as_str()).unwrap_or_default();
            if is_cel_policy_kind(api) {
                let kind = doc.value.get("kind").and_then(|v| v.as_str()).unwrap_or_default().to_string();
                let name = doc.value.pointer("/metadata/name").and_then(|v| v.as_str()).unwrap_or_default().to_string();
                out.unsupported.push((kind, name, "CEL not supported yet".to_string()));
            }
        }
        Ok(out)
    }

    /// The registry the webhook and `apply` evaluate.
    pub fn policy_set(&self) -> PolicySet {
        let mut set = PolicySet::new();
        for p in &self.kyverno {
            set.add(p.clone());
        }
        set
    }

    /// Number of policies that will be evaluated.
    pub fn len(&self) -> usize {
        self.kyverno.len()
    }
}
