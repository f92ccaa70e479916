//! Loading `RuntimeClassPolicy` documents, with errors that name the file, line, policy and field.

use crate::policy::RuntimeClassPolicy;
use crate::settings::{API_VERSION, KIND, Manifest, Settings};
use palisade_engine::{AdmissionPolicy, Document, DocumentError};
use serde_json::Value;
use std::sync::Arc;

/// Whether a document is a `RuntimeClassPolicy` (any `palisade.dev` version; unsupported
/// versions are then reported by [`load`]).
pub fn is_sandbox_policy(value: &Value) -> bool {
    let api = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    value.get("kind").and_then(Value::as_str) == Some(KIND) && api.starts_with("palisade.dev/")
}

/// Compiles one `RuntimeClassPolicy` document.
pub fn load_policy(doc: &Document) -> Result<RuntimeClassPolicy, DocumentError> {
    let name = doc.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let label = if name.is_empty() { format!("{KIND} (unnamed)") } else { format!("{KIND} {name:?}") };
    let at = |path: &str, message: String| doc.error_at(path, format!("{label}: {message}"));
    let api = doc.value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if api != API_VERSION {
        return Err(at("apiVersion", format!("unsupported apiVersion {api:?} (use {API_VERSION})")));
    }
    let manifest: Manifest = doc.deserialize().map_err(|mut e| {
        e.message = match e.message.strip_prefix("at ").and_then(|rest| rest.split_once(": ")) {
            Some((path, message)) => format!("at {path}: {label}: {message}"),
            None => format!("{label}: {}", e.message),
        };
        e
    })?;
    if let Some(problem) = crate::names::name_problem(&manifest.metadata.name) {
        let problem = problem.replace("RuntimeClass name", "policy name");
        return Err(at("metadata.name", problem));
    }
    if manifest.metadata.namespace.is_some() {
        return Err(at("metadata.namespace", "the kind is cluster-scoped: remove metadata.namespace".into()));
    }
    let settings = Settings::compile(&manifest.spec).map_err(|e| at(&e.path, e.message))?;
    Ok(RuntimeClassPolicy::new(manifest.metadata.name, settings))
}

/// Compiles every `RuntimeClassPolicy` among `docs`, ignoring other documents. All errors are
/// returned; no policy is returned when any document fails.
pub fn load(docs: &[Document]) -> Result<Vec<Arc<dyn AdmissionPolicy>>, Vec<DocumentError>> {
    let mut policies: Vec<Arc<dyn AdmissionPolicy>> = Vec::new();
    let mut errors = Vec::new();
    for doc in docs.iter().filter(|d| is_sandbox_policy(&d.value)) {
        match load_policy(doc) {
            Ok(p) => policies.push(Arc::new(p)),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(policies) } else { Err(errors) }
}
