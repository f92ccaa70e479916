//! A small structural OpenAPI v3 checker for constraint parameters: `type`, `properties`,
//! `required`, `enum`, `items`, `additionalProperties`, `x-kubernetes-int-or-string` and
//! `x-kubernetes-preserve-unknown-fields`. Unknown fields are accepted (the API server prunes them).

use serde_json::Value;

/// Checks `value` against `schema`; returns the first violation as `path: message`.
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at(schema, value, "parameters", 0)
}

const MAX_DEPTH: usize = 64;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_at(schema: &Value, value: &Value, path: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{path}: nesting deeper than {MAX_DEPTH} levels"));
    }
    let flag = |k: &str| schema.get(k).and_then(Value::as_bool).unwrap_or(false);
    if value.is_null() && flag("nullable") {
        return Ok(());
    }
    let actual = type_name(value);
    if flag("x-kubernetes-int-or-string") {
        if actual != "integer" && actual != "string" {
            return Err(format!("{path}: must be an integer or a string, got {actual}"));
        }
    } else if let Some(want) = schema.get("type").and_then(Value::as_str) {
        let ok = match want {
            "number" => actual == "number" || actual == "integer",
            other => other == actual,
        };
        if !ok {
            return Err(format!("{path}: must be of type {want}, got {actual}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let listed: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(format!("{path}: must be one of [{}], got {value}", listed.join(", ")));
    }
    match value {
        Value::Object(map) => {
            for req in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if !map.contains_key(req) {
                    return Err(format!("{path}.{req}: is required"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, item) in map {
                let sub = props.and_then(|p| p.get(key)).or(additional);
                if let Some(sub) = sub {
                    check_at(sub, item, &format!("{path}.{key}"), depth + 1)?;
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items").filter(|s| s.is_object()) {
                for (i, item) in items.iter().enumerate() {
                    check_at(sub, item, &format!("{path}[{i}]"), depth + 1)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structural_checks() {
        let schema = json!({"type": "object", "required": ["labels"], "properties": {
            "labels": {"type": "array", "items": {"type": "object", "properties": {
                "key": {"type": "string"}, "mode": {"type": "string", "enum": ["a", "b"]}}}},
            "max": {"type": "integer"}, "ratio": {"type": "number"},
            "port": {"x-kubernetes-int-or-string": true},
            "extra": {"type": "object", "additionalProperties": {"type": "boolean"}}}});
        let cases = [
            (json!({"labels": []}), true),
            (json!({"labels": [{"key": "a", "mode": "a"}], "max": 3, "ratio": 1, "port": "80"}), true),
            (json!({"labels": [], "unknown": 1}), true),
            (json!({}), false),
            (json!({"labels": [{"key": 1}]}), false),
            (json!({"labels": [{"mode": "c"}]}), false),
            (json!({"labels": [], "max": 1.5}), false),
            (json!({"labels": [], "port": true}), false),
            (json!({"labels": [], "extra": {"x": "no"}}), false),
            (json!({"labels": "x"}), false),
        ];
        for (value, ok) in cases {
            assert_eq!(check(&schema, &value).is_ok(), ok, "{value}: {:?}", check(&schema, &value));
        }
    }
}
