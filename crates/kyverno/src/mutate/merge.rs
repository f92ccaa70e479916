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

/// Merges `patch` into `resource` with the schema of the resource's kind. The resource is
/// consumed and reused: only the parts the patch touches are rebuilt.
pub(crate) fn merge_resource(resource: Value, patch: &Value) -> Result<Value, MutateError> {
    let shape = root_shape(&resource).or_else(|| root_shape(patch));
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
    dest: Option<Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let kind = [dest.as_ref(), src].into_iter().flatten().find(|v| !is_empty(Some(v))).map(kind_of);
    if let Some(kind) = kind {
        for v in [dest.as_ref(), src].into_iter().flatten().filter(|v| !v.is_null()) {
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
            None => dest,
        }),
    }
}

#[derive(PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
}

/// The `$patch` directive of a patch map (the walk skips the key itself).
fn directive(map: &Map<String, Value>, path: &str) -> Result<Directive, MutateError> {
    let Some(value) = map.get(DIRECTIVE) else { return Ok(Directive::Merge) };
    match value.as_str() {
        Some("merge") => Ok(Directive::Merge),
        Some("replace") => Ok(Directive::Replace),
        Some("delete") => Ok(Directive::Delete),
        _ => Err(MutateError::UnknownDirective { path: display_path(path).to_string(), value: value.to_string() }),
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn merge_map(
    dest: Option<Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let dest_missing = dest.as_ref().is_none_or(Value::is_null);
    let origin = match src {
        Some(Value::Object(m)) => Some((directive(m, path)?, m)),
        _ => None,
    };
    if dest_missing {
        let Some((directive, origin)) = origin else {
            // Nothing to merge into: keep what is there (including an explicit null), or take a non-map value.
            return Ok(match src {
                None => dest,
                Some(Value::Null) => None,
                Some(v) => Some(v.clone()),
            });
        };
        if directive == Directive::Delete {
            return Ok(None);
        }
        return walk_fields(Map::new(), origin, shape, path, true).map(|m| Some(Value::Object(m)));
    }
    if matches!(src, Some(Value::Null)) {
        return Ok(None);
    }
    let dest_map = match dest {
        Some(Value::Object(m)) => m,
        other => return Ok(other),
    };
    let Some((directive, origin)) = origin else { return Ok(Some(Value::Object(dest_map))) };
    match directive {
        Directive::Delete => Ok(None),
        Directive::Replace => walk_fields(Map::new(), origin, shape, path, true).map(|m| Some(Value::Object(m))),
        Directive::Merge => walk_fields(dest_map, origin, shape, path, false).map(|m| Some(Value::Object(m))),
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
    let mut keys: Vec<&String> = origin.keys().filter(|k| *k != DIRECTIVE).collect();
    keys.sort();
    for key in keys {
        let src = origin.get(key);
        // The resource's value is moved out (a null stays behind until the merged value replaces it).
        let dest = if self_merge { src.cloned() } else { base.get_mut(key).map(std::mem::take) };
        let child_shape = shape.and_then(|s| s.field(key));
        match merge_value(dest, src, child_shape, &child_path(path, key))? {
            Some(v) if !v.is_null() => match base.get_mut(key) {
                Some(slot) => *slot = v,
                None => {
                    base.insert(key.clone(), v);
                }
            },
            _ => {
                base.shift_remove(key);
            }
        }
    }
    Ok(base)
}

fn merge_list(
    dest: Option<Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let Some((strategy, element_shape)) = shape.and_then(Shape::list) else {
        return Ok(match src {
            Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
            None => dest,
        });
    };
    let origin: &[Value] = src.and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let base = if dest.as_ref().is_none_or(Value::is_null) {
        origin.to_vec()
    } else {
        if matches!(src, Some(Value::Null)) {
            return Ok(None);
        }
        match dest {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        }
    };
    let merged = match strategy {
        ListMerge::Set => merge_set(base, origin),
        ListMerge::Keys(keys) => merge_keyed(base, origin, keys, element_shape, path)?,
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

fn merge_set(base: Vec<Value>, origin: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for v in origin {
        if seen.insert(scalar_text(v).unwrap_or_else(|| v.to_string())) {
            out.push(v.clone());
        }
    }
    for v in base {
        if seen.insert(scalar_text(&v).unwrap_or_else(|| v.to_string())) {
            out.push(v);
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
    kv.iter().all(|(k, v)| map.get(*k).is_some_and(|field| scalar_eq(field, v)))
}

/// Whether a scalar reads as `text` (without formatting it).
fn scalar_eq(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s == text,
        Value::Number(_) | Value::Bool(_) => scalar_text(v).as_deref() == Some(text),
        _ => false,
    }
}

/// An element of a merged keyed list: still in the resource's list (at an index), or built here.
enum Item {
    Base(usize),
    Own(Value),
}

impl Item {
    fn value<'a>(&'a self, base: &'a [Value]) -> &'a Value {
        match self {
            Item::Base(i) => &base[*i],
            Item::Own(v) => v,
        }
    }
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
    for element in &mut base {
        let kv = key_values(element, keys);
        if kv.is_empty() {
            // A keyless element never matches a key: move it out (a null never matches either).
            keyless_dest.push(std::mem::take(element));
        } else if !values.contains(&kv) {
            values.push(kv);
        }
    }
    // Resource elements are merged in place in `base`; a removed one becomes null (it no longer matches).
    let mut items: Vec<Item> = Vec::new();
    for kv in &values {
        let dest_index = base.iter().position(|e| matches_keys(e, kv));
        let src = origin.iter().find(|e| matches_keys(e, kv));
        // Which merged elements match, read before this element is moved out of `base`.
        let item_matches: Vec<bool> = items.iter().map(|it| matches_keys(it.value(&base), kv)).collect();
        let existing = item_matches.iter().position(|m| *m);
        let label = || kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let merged = match (dest_index, src) {
            // Nothing in the patch for this element: it stays as it is.
            (Some(i), None) => Some(std::mem::take(&mut base[i])),
            _ => {
                let dest = dest_index.map(|i| std::mem::take(&mut base[i]));
                merge_value(dest, src, Some(element_shape), &format!("{path}[{}]", label()))?
            }
        };
        let mut merged = match merged {
            Some(Value::Object(m)) if !m.is_empty() => m,
            Some(other) if !other.is_null() && !other.is_object() => {
                return Err(MutateError::WrongKind {
                    path: format!("{path}[{}]", label()),
                    expected: "map",
                    found: kind_name(kind_of(&other)),
                });
            }
            _ => {
                let mut flags = item_matches.into_iter();
                items.retain(|_| !flags.next().unwrap_or(false));
                for e in base.iter_mut().filter(|e| matches_keys(e, kv)) {
                    *e = Value::Null;
                }
                continue;
            }
        };
        for (k, v) in kv {
            if !merged.contains_key(*k) {
                merged.insert((*k).to_string(), Value::String(v.clone()));
            }
        }
        let item = match dest_index {
            Some(i) => {
                base[i] = Value::Object(merged);
                Item::Base(i)
            }
            None => Item::Own(Value::Object(merged)),
        };
        match existing {
            Some(p) => items[p] = item,
            None => items.push(item),
        }
    }
    let mut out: Vec<Value> = Vec::with_capacity(items.len() + keyless_origin.len() + keyless_dest.len());
    let mut taken = vec![false; base.len()];
    for item in items {
        out.push(match item {
            Item::Own(v) => v,
            Item::Base(i) if !taken[i] => {
                taken[i] = true;
                std::mem::take(&mut base[i])
            }
            Item::Base(i) => base[i].clone(),
        });
    }
    out.extend(keyless_origin);
    out.extend(keyless_dest);
    Ok(out)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
