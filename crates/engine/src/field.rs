//! Field lookup in JSON objects that scans small objects instead of hashing the key.
//!
//! `serde_json` keeps objects in insertion order in an `IndexMap` with SipHash; hashing a key costs
//! more than comparing it with the handful of keys a Kubernetes object level usually has.

use serde_json::{Map, Value};

/// Objects up to this many entries are scanned.
const SCAN_LIMIT: usize = 16;

/// `map[key]`, scanning small maps.
#[inline]
pub fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if map.len() > SCAN_LIMIT {
        return map.get(key);
    }
    let (len, first) = (key.len(), key.as_bytes().first());
    map.iter().find_map(|(k, v)| (k.len() == len && k.as_bytes().first() == first && k == key).then_some(v))
}

/// `map[key]` for changing in place, scanning small maps.
#[inline]
pub fn lookup_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    if map.len() > SCAN_LIMIT {
        return map.get_mut(key);
    }
    let (len, first) = (key.len(), key.as_bytes().first());
    map.iter_mut().find_map(|(k, v)| (k.len() == len && k.as_bytes().first() == first && k == key).then_some(v))
}

/// `value[key]` when `value` is an object holding `key`.
#[inline]
pub fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => lookup(map, key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_same_entries_as_the_map_in_small_and_large_objects() {
        let small = json!({"a": 1, "ab": 2, "b": 3, "": 4});
        let large: Map<String, Value> = (0..40).map(|i| (format!("k{i}"), json!(i))).collect();
        let large = Value::Object(large);
        for (value, keys) in [(&small, vec!["a", "ab", "b", "", "c", "abc"]), (&large, vec!["k0", "k39", "k40", "k"])] {
            for key in keys {
                assert_eq!(field(value, key), value.get(key), "{key}");
                let mut copy = value.clone();
                let expected = copy.get(key).cloned();
                assert_eq!(lookup_mut(copy.as_object_mut().unwrap(), key).map(|v| v.clone()), expected, "{key}");
            }
        }
        assert_eq!(field(&json!([1]), "a"), None);
    }
}
