//! Loading Kyverno policies from parsed documents, with autogen expansion and errors that
//! name the file, document, policy, rule, field path and line.

use crate::autogen;
use crate::model::{PolicyManifest, Rule};
use crate::policy::KyvernoPolicy;
use palisade_engine::{Document, DocumentError};
use serde_json::Value;

/// A policy that failed to load.
pub type LoadError = DocumentError;

/// Whether a document is a Kyverno ClusterPolicy or Policy.
pub fn is_kyverno_policy(value: &Value) -> bool {
    let api = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
    api.starts_with("kyverno.io/") && matches!(kind, "ClusterPolicy" | "Policy")
}

/// Compiles one policy document.
pub fn load_policy(doc: &Document) -> Result<KyvernoPolicy, LoadError> {
    let api = doc.value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    if !matches!(api, "kyverno.io/v1" | "kyverno.io/v2beta1" | "kyverno.io/v2") {
        return Err(doc.error_at("apiVersion", format!("unsupported apiVersion {api:?} (kyverno.io/v1 or v2beta1)")));
    }
    let manifest: PolicyManifest = doc.deserialize()?;
    let name = manifest.metadata.name.clone();
    if name.is_empty() {
        return Err(doc.error_at("metadata.name", "policy has no name"));
    }
    let raw_rules: Vec<Value> = doc.value.pointer("/spec/rules").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut all_raw = raw_rules.clone();
    if autogen::can_autogen(&raw_rules) {
        let controllers =
            autogen::controllers(manifest.metadata.annotations.get(autogen::AUTOGEN_ANNOTATION).map(String::as_str));
        for raw in &raw_rules {
            all_raw.extend(autogen::generate(raw, &controllers));
        }
    }
    let mut rules = Vec::with_capacity(all_raw.len());
    for (i, raw) in all_raw.into_iter().enumerate() {
        let rule: Rule = serde_json::from_value(raw.clone())
            .map_err(|e| doc.error_at(&format!("spec.rules[{i}]"), format!("policy {name}: rule {i}: {e}")))?;
        rules.push((rule, raw));
    }
    KyvernoPolicy::compile(&manifest, rules).map_err(|(path, message)| {
        let line_path = path.split(" (").next().unwrap_or(&path).to_string();
        let mut err = doc.error_at(&line_path, format!("policy {name}: {message}"));
        err.message = format!("at {path}: policy {name}: {message}");
        err
    })
}

/// Compiles every Kyverno policy among `docs`; other documents are ignored. All errors are
/// returned, and no policy of a failing document is returned half-compiled.
pub fn load_policies(docs: &[Document]) -> Result<Vec<KyvernoPolicy>, Vec<LoadError>> {
    let mut policies = Vec::new();
    let mut errors = Vec::new();
    for doc in docs.iter().filter(|d| is_kyverno_policy(&d.value)) {
        match load_policy(doc) {
            Ok(p) => policies.push(p),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(policies) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::parse_documents;

    #[test]
    fn misspelt_fields_name_file_path_and_line() {
        let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    mtch:\n      any: []\n";
        let docs = parse_documents("p.yaml", text).unwrap();
        let err = load_policies(&docs).unwrap_err().remove(0);
        let msg = err.to_string();
        assert!(msg.starts_with("p.yaml:8: document 1:"), "{msg}");
        assert!(msg.contains("mtch"), "{msg}");
    }

    #[test]
    fn invalid_jmespath_is_a_load_error_naming_the_rule() {
        let text = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: p}
spec:
  rules:
  - name: bad-expr
    match: {any: [{resources: {kinds: [Pod]}}]}
    validate:
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.[ }}"
            operator: Equals
            value: x
"#;
        let docs = parse_documents("p.yaml", text).unwrap();
        let err = load_policies(&docs).unwrap_err().remove(0).to_string();
        assert!(err.contains("bad-expr") && err.contains("deny.conditions.any[0].key"), "{err}");
    }
}
