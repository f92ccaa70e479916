//! Compiles every variable-free `pattern` / `anyPattern` of the upstream JMESPath-family
//! Kyverno policies (`../shared/conformance/kyverno-policies`, beside the repository).

use super::{compile, compile_any};
use crate::test_suite::{conformance_root, upstream_yaml_files};
use serde_json::Value;

/// Collects `(where, pattern, is_any)` from a rule's `validate` and nested `foreach` blocks.
pub(super) fn collect(block: &Value, at: String, out: &mut Vec<(String, Value, bool)>) {
    if let Some(p) = block.get("pattern") {
        out.push((format!("{at}.pattern"), p.clone(), false));
    }
    if let Some(p) = block.get("anyPattern") {
        out.push((format!("{at}.anyPattern"), p.clone(), true));
    }
    if let Some(Value::Array(items)) = block.get("foreach") {
        for (i, item) in items.iter().enumerate() {
            collect(item, format!("{at}.foreach[{i}]"), out);
        }
    }
}

#[test]
fn upstream_patterns_compile() {
    let Some(files) = upstream_yaml_files() else { return };
    let mut compiled = 0usize;
    let mut failures = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        if !text.contains("attern:") || text.contains("validate.cel") || text.contains("cel:") {
            continue;
        }
        let Ok(docs) = palisade_engine::parse_documents(&file.display().to_string(), &text) else { continue };
        for doc in docs {
            let kind = doc.value.get("kind").and_then(Value::as_str);
            if !matches!(kind, Some("ClusterPolicy" | "Policy")) {
                continue;
            }
            let Some(Value::Array(rules)) = doc.value.pointer("/spec/rules") else { continue };
            for (r, rule) in rules.iter().enumerate() {
                let Some(validate) = rule.get("validate") else { continue };
                let mut patterns = Vec::new();
                collect(validate, format!("{}: rules[{r}].validate", file.display()), &mut patterns);
                for (at, pattern, is_any) in patterns {
                    if pattern.to_string().contains("{{") {
                        continue;
                    }
                    let result = if is_any { compile_any(&pattern).map(|_| ()) } else { compile(&pattern).map(|_| ()) };
                    match result {
                        Ok(()) => compiled += 1,
                        Err(e) => failures.push(format!("{at}: {e}")),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "patterns that do not compile:\n{}", failures.join("\n"));
    assert!(compiled >= 50, "only {compiled} patterns found under {}", conformance_root().display());
    eprintln!("compiled {compiled} upstream patterns");
}
