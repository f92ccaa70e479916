//! Kubernetes label selectors (`matchLabels` and `matchExpressions`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A `metav1.LabelSelector`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must be present with these values (values may use Kyverno wildcards).
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In`/`NotIn`.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Checks the operators; returns a message naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        for req in &self.match_expressions {
            match req.operator.as_str() {
                "In" | "NotIn" if req.values.is_empty() => {
                    return Err(format!("matchExpressions key {:?}: operator {} needs values", req.key, req.operator));
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => return Err(format!("matchExpressions key {:?}: unknown operator {other:?}", req.key)),
            }
        }
        Ok(())
    }

    /// Whether `labels` satisfy the selector. Kyverno allows wildcards in `matchLabels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        for (key, want) in &self.match_labels {
            let key_ok = if crate::wildcard::has_wildcard(key) {
                labels.iter().any(|(k, v)| crate::wildcard::matches(key, k) && crate::wildcard::matches(want, v))
            } else {
                labels.get(key).is_some_and(|v| crate::wildcard::matches(want, v))
            };
            if !key_ok {
                return false;
            }
        }
        self.match_expressions.iter().all(|req| {
            let value = labels.get(&req.key);
            match req.operator.as_str() {
                "In" => value.is_some_and(|v| req.values.contains(v)),
                "NotIn" => value.is_none_or(|v| !req.values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
    }
}

/// Reads `metadata.labels` (or another string map) of an object into a sorted map.
pub fn string_map(value: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    value
        .and_then(|v| v.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn match_labels_and_expressions() {
        let sel: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "legacy", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("legacy", "y")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }
}
