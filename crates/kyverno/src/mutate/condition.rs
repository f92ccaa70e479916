//! Condition checks for conditional anchors in mutate patches.
//!
//! Kyverno evaluates `(key): pattern` in a `patchStrategicMerge` with the same matcher as validate patterns
//! (`validate.MatchPattern`). The rule evaluator can supply that full matcher through [`ConditionMatcher`];
//! [`BasicMatcher`] is a self-contained default covering what mutate conditions use in practice:
//! wildcards, `|` and `&`, `!`, numeric comparisons, nested maps and lists, and nested anchors.

use serde_json::Value;

use super::anchor::{Anchor, AnchorKind};

/// Checks whether a resource value matches a Kyverno pattern; `Err` carries the mismatch reason.
pub trait ConditionMatcher: Send + Sync {
    /// `Ok(())` when `resource` matches `pattern`.
    fn check(&self, resource: &Value, pattern: &Value) -> Result<(), String>;
}

/// Built-in pattern matcher used when the caller supplies none.
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicMatcher;

impl ConditionMatcher for BasicMatcher {
    fn check(&self, resource: &Value, pattern: &Value) -> Result<(), String> {
        match match_element(resource, pattern, "/") {
            Ok(()) | Err(Mismatch::Skip) => Ok(()),
            Err(Mismatch::Fail(msg)) => Err(msg),
        }
    }
}

enum Mismatch {
    /// A nested conditional anchor did not hold: the pattern does not apply (Kyverno treats it as a pass).
    Skip,
    /// The value does not match.
    Fail(String),
}

fn fail<T>(path: &str, what: impl std::fmt::Display) -> Result<T, Mismatch> {
    Err(Mismatch::Fail(format!("validation failed at {path}: {what}")))
}

fn match_element(resource: &Value, pattern: &Value, path: &str) -> Result<(), Mismatch> {
    match pattern {
        Value::Object(pmap) => {
            let Value::Object(rmap) = resource else {
                return fail(path, format_args!("expected a map, found {}", kind_name(resource)));
            };
            // Conditions first: a failed condition skips the whole map.
            for (key, pv) in pmap {
                if let Some(a) = Anchor::parse(key)
                    && a.is_condition_like()
                {
                    let sub = format!("{path}{}/", a.key);
                    match rmap.get(a.key) {
                        Some(rv) => match match_element(rv, pv, &sub) {
                            Ok(()) => {}
                            Err(_) => return Err(Mismatch::Skip),
                        },
                        None => return Err(Mismatch::Skip),
                    }
                }
            }
            for (key, pv) in pmap {
                let anchor = Anchor::parse(key);
                match anchor {
                    Some(a) if a.is_condition_like() || a.kind == AnchorKind::AddIfNotPresent => {}
                    Some(a) => {
                        let sub = format!("{path}{}/", a.key);
                        let rv = rmap.get(a.key);
                        match a.kind {
                            AnchorKind::Negation if rv.is_some() => {
                                return fail(&sub, format_args!("field {} is disallowed", a.key));
                            }
                            AnchorKind::Equality => {
                                if let Some(rv) = rv {
                                    match_element(rv, pv, &sub)?;
                                }
                            }
                            AnchorKind::Existence => {
                                if let Some(rv) = rv {
                                    existence(rv, pv, &sub)?;
                                }
                            }
                            _ => {}
                        }
                    }
                    None => {
                        let sub = format!("{path}{key}/");
                        let rv = rmap.get(key.as_str());
                        if pv.as_str() == Some("*") {
                            if rv.is_none_or(Value::is_null) {
                                return fail(&sub, format_args!("field {key} is not present"));
                            }
                            continue;
                        }
                        match_element(rv.unwrap_or(&Value::Null), pv, &sub)?;
                    }
                }
            }
            Ok(())
        }
        Value::Array(parr) => {
            let Value::Array(rarr) = resource else {
                return fail(path, format_args!("expected a list, found {}", kind_name(resource)));
            };
            let Some(first) = parr.first() else {
                return fail(path, "pattern list is empty");
            };
            if first.is_object() {
                for (i, rv) in rarr.iter().enumerate() {
                    match_element(rv, first, &format!("{path}{i}/"))?;
                }
                return Ok(());
            }
            if rarr.len() < parr.len() {
                return fail(path, "resource list is shorter than the pattern list");
            }
            for (i, pv) in parr.iter().enumerate() {
                match_element(&rarr[i], pv, &format!("{path}{i}/"))?;
            }
            Ok(())
        }
        _ => {
            if scalar_matches(resource, pattern) {
                Ok(())
            } else {
                fail(path, format_args!("value {resource} does not match pattern {pattern}"))
            }
        }
    }
}

fn existence(resource: &Value, pattern: &Value, path: &str) -> Result<(), Mismatch> {
    let (Value::Array(rarr), Some(first)) = (resource, pattern.as_array().and_then(|p| p.first())) else {
        return fail(path, "existence anchor needs a list in both pattern and resource");
    };
    if rarr.iter().any(|rv| match_element(rv, first, path).is_ok()) {
        Ok(())
    } else {
        fail(path, "no element satisfies the existence anchor")
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scalar_matches(resource: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Null => resource.is_null(),
        Value::Bool(b) => resource.as_bool() == Some(*b),
        Value::Number(n) => as_number(resource).is_some_and(|r| n.as_f64() == Some(r)),
        Value::String(p) => {
            p.split('|').any(|alt| alt.split('&').all(|part| string_part_matches(resource, part.trim())))
        }
        _ => false,
    }
}

fn string_part_matches(resource: &Value, part: &str) -> bool {
    if part == "*" {
        return !resource.is_null();
    }
    for (op, cmp) in [(">=", 0u8), ("<=", 1), (">", 2), ("<", 3)] {
        if let Some(rest) = part.strip_prefix(op)
            && let Ok(limit) = rest.trim().parse::<f64>()
        {
            return as_number(resource).is_some_and(|r| match cmp {
                0 => r >= limit,
                1 => r <= limit,
                2 => r > limit,
                _ => r < limit,
            });
        }
    }
    if let Some(rest) = part.strip_prefix('!') {
        return !equal_or_wildcard(resource, rest);
    }
    equal_or_wildcard(resource, part)
}

fn equal_or_wildcard(resource: &Value, pattern: &str) -> bool {
    let Some(text) = scalar_text(resource) else { return false };
    palisade_engine::wildcard::matches(pattern, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table() {
        let cases = [
            (json!("nginx:latest"), json!("*:latest"), true),
            (json!("nginx:1.0"), json!("*:latest"), false),
            (json!("a"), json!("b | a"), true),
            (json!(5), json!(">3"), true),
            (json!(5), json!("<3"), false),
            (json!("x"), json!("!y"), true),
            (json!("y"), json!("!y"), false),
            (json!({"path": "/data"}), json!({"path": "*"}), true),
            (json!({"other": 1}), json!({"path": "*"}), false),
            (json!([{"a": 1}, {"a": 1}]), json!([{"a": 1}]), true),
            (json!([{"a": 1}, {"a": 2}]), json!([{"a": 1}]), false),
            (json!({"a": 1}), json!({"X(b)": "*"}), true),
            (json!({"a": 1, "b": 2}), json!({"X(b)": "*"}), false),
            (json!({"a": 1, "b": 2}), json!({"(a)": 2, "b": 3}), true),
            (json!(true), json!(true), true),
            (json!("5"), json!(5), true),
        ];
        for (resource, pattern, want) in cases {
            assert_eq!(BasicMatcher.check(&resource, &pattern).is_ok(), want, "{resource} vs {pattern}");
        }
    }
}
