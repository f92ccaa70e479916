//! Equality of JSON values that avoids hashing when maps keep the same key order.
//!
//! `serde_json::Value`'s `==` looks every key of one map up in the other (a hash per key).
//! Objects that went through a mutation usually keep their keys in the same order, so
//! comparing entries position by position answers without any lookup; maps whose order
//! differs fall back to the lookup comparison, so the result is always `==`'s.

use serde_json::{Map, Value};

/// Whether `a == b` (JSON equality: object key order does not matter).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // The same value (e.g. an unmutated object diffed against itself) is equal without a walk.
        (Value::Object(x), Value::Object(y)) => std::ptr::eq(x, y) || maps_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            std::ptr::eq(x, y) || (x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)))
        }
        _ => a == b,
    }
}

/// Whether two maps hold the same entries, comparing in place while the key orders agree.
pub fn maps_eq(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    if a.len() != b.len() {
        return false;
    }
    for (i, ((ka, va), (kb, vb))) in a.iter().zip(b.iter()).enumerate() {
        if ka != kb {
            // The orders differ from here on: look the remaining keys up.
            return a.iter().skip(i).all(|(k, v)| b.get(k).is_some_and(|w| json_eq(v, w)));
        }
        if !json_eq(va, vb) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_value_equality() {
        let cases = [
            (json!({"a": 1, "b": [1, {"c": 2}]}), json!({"a": 1, "b": [1, {"c": 2}]})),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1})),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 3})),
            (json!({"a": 1, "b": 2, "c": 3}), json!({"a": 1, "c": 3, "b": 2})),
            (json!({"a": 1, "b": 2}), json!({"a": 1, "c": 2})),
            (json!({"a": 1}), json!({"a": 1, "b": null})),
            (json!([1, 2]), json!([2, 1])),
            (json!(1), json!(1.0)),
            (json!("x"), json!("x")),
            (json!(null), json!({})),
        ];
        for (a, b) in cases {
            assert_eq!(json_eq(&a, &b), a == b, "{a} vs {b}");
            assert_eq!(json_eq(&b, &a), b == a, "{b} vs {a}");
        }
    }
}
