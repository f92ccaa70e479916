//! Turning documents into the policies every command evaluates.

use anyhow::{Result, anyhow};
use palisade_engine::{AdmissionPolicy, Document, PolicySet};
use palisade_gatekeeper::RegoEngine;
use palisade_kyverno::KyvernoPolicy;
use std::sync::Arc;

/// Policies loaded for a command: Kyverno policies kept typed (the CLI passes values to them).
#[derive(Default)]
pub struct LoadedPolicies {
    /// Kyverno policies, in file order.
    pub kyverno: Vec<Arc<KyvernoPolicy>>,
    /// Policies of other languages (Gatekeeper constraints), evaluated through the shared trait.
    pub others: Vec<Arc<dyn AdmissionPolicy>>,
    /// Documents of policy kinds this build does not evaluate, as `(kind, name, reason)`.
    pub unsupported: Vec<(String, String, String)>,
}

/// Kinds of the Kyverno CEL policy family (`policies.kyverno.io`).
pub fn is_cel_policy_kind(api_version: &str) -> bool {
    api_version.starts_with("policies.kyverno.io/")
}

impl std::fmt::Debug for LoadedPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPolicies")
            .field("kyverno", &self.kyverno.iter().map(|p| p.name().to_string()).collect::<Vec<_>>())
            .field("others", &self.others.iter().map(|p| p.name().to_string()).collect::<Vec<_>>())
            .finish()
    }
}

impl LoadedPolicies {
    /// Compiles all policies among `docs`; any error fails the whole load.
    pub fn load(docs: &[Document]) -> Result<Self> {
        Self::load_with(docs, RegoEngine::default())
    }

    /// [`Self::load`], evaluating Gatekeeper's Rego with `rego`.
    pub fn load_with(docs: &[Document], rego: RegoEngine) -> Result<Self> {
        let mut out = LoadedPolicies::default();
        let mut errors: Vec<String> = Vec::new();
        match palisade_kyverno::load_policies(docs) {
            Ok(policies) => out.kyverno = policies.into_iter().map(Arc::new).collect(),
            Err(e) => errors.extend(e.iter().map(ToString::to_string)),
        }
        let options = palisade_gatekeeper::CompileOptions { rego, ..Default::default() };
        match palisade_gatekeeper::compile_with(docs, options) {
            Ok(policies) => out.others.extend(policies.into_iter().map(|c| c as Arc<dyn AdmissionPolicy>)),
            Err(e) => errors.extend(e.iter().map(ToString::to_string)),
        }
        match palisade_sandbox::load(docs) {
            Ok(policies) => out.others.extend(policies),
            Err(e) => errors.extend(e.iter().map(ToString::to_string)),
        }
        if !errors.is_empty() {
            return Err(anyhow!(errors.join("\n")));
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
        for p in &self.others {
            set.add(p.clone());
        }
        set
    }

    /// Number of policies that will be evaluated.
    pub fn len(&self) -> usize {
        self.kyverno.len() + self.others.len()
    }

    /// Parses `(source, text)` pairs and compiles them: the server's policy loader.
    pub fn load_sources(sources: &[(String, String)], rego: RegoEngine) -> Result<PolicySet, Vec<String>> {
        let mut docs = Vec::new();
        let mut errors = Vec::new();
        for (name, text) in sources {
            match palisade_engine::parse_documents(name, text) {
                Ok(d) => docs.extend(d),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Self::load_with(&docs, rego)
            .map(|p| p.policy_set())
            .map_err(|e| e.to_string().lines().map(str::to_string).collect())
    }
}
