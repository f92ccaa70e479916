//! Strategic merge of a (preprocessed) overlay into a resource, following kustomize's kyaml `merge2` walker
//! as Kyverno drives it (`ListIncreaseDirection: Prepend`, no inference of merge keys).
//!
//! * maps merge key by key; `null` in the patch removes a key; new keys are appended in sorted order;
//! * `$patch: delete` removes the map, `$patch: replace` replaces it with the patch, `$patch: merge` is the default;
//! * lists with a merge key in [`schema`](super::schema) are merged element by element, patch elements first,
//!   then the resource's other elements; elements that merge to an empty map are removed;
//! * every other list (and every list of a kind without a schema) is replaced by the patch's list;
//! * a patch value whose kind (map, list, scalar) differs from the resource's is an error.

use serde_json::{Map, Value};

use super::MutateError;
use super::schema::{self, ListMerge, Shape};

const DIRECTIVE: &str = "$patch";

/// Merges `patch` into `resource` with the schema of the resource's kind.
pub(crate) fn merge_resource(resource: &Value, patch: &Value) -> Result<Value, MutateError> {
    let shape = root_shape(resource).or_else(|| root_shape(patch));
    merge_value(Some(resource), Some(patch), shape, "")?.ok_or(MutateError::ResourceDeleted)
}

fn root_shape(v: &Value) -> Option<&'static Shape> {
    let api_version = v.get("apiVersion")?.as_str()?;
    let kind = v.get("kind")?.as_str()?;
    schema::for_kind(api_version, kind)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    List,
    Scalar,
}

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Object(_) => Kind::Map,
        Value::Array(_) => Kind::List,
        _ => Kind::Scalar,
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Map => "map",
        Kind::List => "list",
        Kind::Scalar => "scalar",
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

fn merge_value(
    dest: Option<&Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let kind = [dest, src].into_iter().flatten().find(|v| !is_empty(Some(v))).map(kind_of);
    if let Some(kind) = kind {
        for v in [dest, src].into_iter().flatten().filter(|v| !v.is_null()) {
            if kind_of(v) != kind {
                return Err(MutateError::WrongKind {
                    path: display_path(path).to_string(),
                    expected: kind_name(kind),
                    found: kind_name(kind_of(v)),
                });
            }
        }
    }
    match kind {
        None | Some(Kind::Map) => merge_map(dest, src, shape, path),
        Some(Kind::List) => merge_list(dest, src, shape, path),
        Some(Kind::Scalar) => Ok(match src {
            Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
            None => dest.cloned(),
        }),
    }
}

#[derive(PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

/// Splits the `$patch` directive off a patch map.
fn take_directive(map: &Map<String, Value>, path: &str) -> Result<(Directive, Map<String, Value>), MutateError> {
    let Some(value) = map.get(DIRECTIVE) else { return Ok((Directive::Merge, map.clone())) };
    let directive = match value.as_str() {
        Some("merge") => Directive::Merge,
        Some("replace") => Directive::Replace,
        Some("delete") => Directive::Delete,
        _ => {
            return Err(MutateError::UnknownDirective {
                path: display_path(path).to_string(),
                value: value.to_string(),
            });
        }
    };
    let mut rest = map.clone();
    rest.shift_remove(DIRECTIVE);
    Ok((directive, rest))
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn merge_map(
    dest: Option<&Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let dest_missing = dest.is_none_or(Value::is_null);
    let origin = match src {
        Some(Value::Object(m)) => Some(take_directive(m, path)?),
        _ => None,
    };
    if dest_missing {
        let Some((directive, origin)) = origin else {
            // Nothing to merge into: keep what is there (including an explicit null), or take a non-map value.
            return Ok(match src {
                None => dest.cloned(),
                Some(Value::Null) => None,
                Some(v) => Some(v.clone()),
            });
        };
        if directive == Directive::Delete {
            return Ok(None);
        }
        return walk_fields(Map::new(), &origin, shape, path, true).map(|m| Some(Value::Object(m)));
    }
    if matches!(src, Some(Value::Null)) {
        return Ok(None);
    }
    let Some(Value::Object(dest_map)) = dest else { return Ok(dest.cloned()) };
    let Some((directive, origin)) = origin else { return Ok(dest.cloned()) };
    match directive {
        Directive::Delete => Ok(None),
        Directive::Replace => walk_fields(Map::new(), &origin, shape, path, true).map(|m| Some(Value::Object(m))),
        Directive::Merge => walk_fields(dest_map.clone(), &origin, shape, path, false).map(|m| Some(Value::Object(m))),
    }
}

/// Merges each field of `origin` into `base` in sorted key order. With `self_merge`, `base` starts empty and
/// every origin field is merged with itself (kyaml's "add" path, which still applies nested directives).
fn walk_fields(
    mut base: Map<String, Value>,
    origin: &Map<String, Value>,
    shape: Option<&'static Shape>,
    path: &str,
    self_merge: bool,
) -> Result<Map<String, Value>, MutateError> {
    base.shift_remove(DIRECTIVE);
    let mut keys: Vec<&String> = origin.keys().collect();
    keys.sort();
    for key in keys {
        let src = origin.get(key);
        let dest = if self_merge { src } else { base.get(key) };
        let child_shape = shape.and_then(|s| s.field(key));
        let merged = merge_value(dest, src, child_shape, &child_path(path, key))?;
        match merged {
            Some(v) if !v.is_null() => {
                base.insert(key.clone(), v);
            }
            _ => {
                base.shift_remove(key);
            }
        }
    }
    Ok(base)
}

fn merge_list(
    dest: Option<&Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let Some((strategy, element_shape)) = shape.and_then(Shape::list) else {
        return Ok(match src {
            Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
            None => dest.cloned(),
        });
    };
    let empty = Vec::new();
    let as_list = |v: Option<&Value>| -> Vec<Value> { v.and_then(Value::as_array).unwrap_or(&empty).clone() };
    let (base, origin) = if dest.is_none_or(Value::is_null) {
        (as_list(src), as_list(src))
    } else {
        if matches!(src, Some(Value::Null)) {
            return Ok(None);
        }
        (as_list(dest), as_list(src))
    };
    let merged = match strategy {
        ListMerge::Set => merge_set(&base, &origin),
        ListMerge::Keys(keys) => merge_keyed(base, &origin, keys, element_shape, path)?,
    };
    Ok(Some(Value::Array(merged)))
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn merge_set(base: &[Value], origin: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for v in origin.iter().chain(base.iter()) {
        let text = scalar_text(v).unwrap_or_else(|| v.to_string());
        if seen.insert(text) {
            out.push(v.clone());
        }
    }
    out
}

type KeyValues = Vec<(&'static str, String)>;

/// The merge-key values an element has; empty when it has none of the keys.
fn key_values(element: &Value, keys: &'static [&'static str]) -> KeyValues {
    let Some(map) = element.as_object() else { return Vec::new() };
    keys.iter().filter_map(|k| map.get(*k).and_then(scalar_text).map(|v| (*k, v))).collect()
}

fn matches_keys(element: &Value, kv: &KeyValues) -> bool {
    let Some(map) = element.as_object() else { return false };
    kv.iter().all(|(k, v)| map.get(*k).and_then(scalar_text).as_deref() == Some(v.as_str()))
}

fn merge_keyed(
    mut base: Vec<Value>,
    origin: &[Value],
    keys: &'static [&'static str],
    element_shape: &'static Shape,
    path: &str,
) -> Result<Vec<Value>, MutateError> {
    let mut values: Vec<KeyValues> = Vec::new();
    let mut keyless_origin = Vec::new();
    for element in origin {
        let kv = key_values(element, keys);
        if kv.is_empty() {
            keyless_origin.push(element.clone());
        } else if !values.contains(&kv) {
            values.push(kv);
        }
    }
    let mut keyless_dest = Vec::new();
    for element in &base {
        let kv = key_values(element, keys);
        if kv.is_empty() {
            keyless_dest.push(element.clone());
        } else if !values.contains(&kv) {
            values.push(kv);
        }
    }
    let mut items: Vec<Value> = Vec::new();
    for kv in &values {
        let dest_index = base.iter().position(|e| matches_keys(e, kv));
        let src = origin.iter().find(|e| matches_keys(e, kv));
        let label = kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let merged = merge_value(dest_index.map(|i| &base[i]), src, Some(element_shape), &format!("{path}[{label}]"))?;
        let merged = match merged {
            Some(Value::Object(m)) if !m.is_empty() => m,
            Some(other) if !other.is_null() && !other.is_object() => {
                return Err(MutateError::WrongKind {
                    path: format!("{path}[{label}]"),
                    expected: "map",
                    found: kind_name(kind_of(&other)),
                });
            }
            _ => {
                base.retain(|e| !matches_keys(e, kv));
                items.retain(|e| !matches_keys(e, kv));
                continue;
            }
        };
        let mut merged = merged;
        for (k, v) in kv {
            if !merged.contains_key(*k) {
                merged.insert((*k).to_string(), Value::String(v.clone()));
            }
        }
        let merged = Value::Object(merged);
        if let Some(i) = dest_index {
            base[i] = merged.clone();
        }
        match items.iter().position(|e| matches_keys(e, kv)) {
            Some(i) => items[i] = merged,
            None => items.push(merged),
        }
    }
    items.extend(keyless_origin);
    items.extend(keyless_dest);
    Ok(items)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
