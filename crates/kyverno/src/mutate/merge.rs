//! Strategic merge of a (preprocessed) overlay into a resource, following kustomize's kyaml `merge2` walker
//! as Kyverno drives it (`ListIncreaseDirection: Prepend`, no inference of merge keys).
//!
//! * maps merge key by key; `null` in the patch removes a key; new keys are appended in sorted order;
//! * `$patch: delete` removes the map, `$patch: replace` replaces it with the patch, `$patch: merge` is the default;
//! * lists with a merge key in [`schema`](super::schema) are merged element by element, patch elements first,
//!   then the resource's other elements; elements that merge to an empty map are removed;
//! * every other list (and every list of a kind without a schema) is replaced by the patch's list;
//! * a patch value whose kind (map, list, scalar) differs from the resource's is an error.
//!
//! The merge consumes the resource and reports whether it changed anything. It can stop half-way on an error,
//! so callers run [`check_merge`](super::merge_check::check_merge) first: the merge cannot fail once the check
//! passed with [`Verdict::Clean`](super::merge_check::Verdict::Clean).

use std::borrow::Cow;

use palisade_engine::field::{field, lookup, lookup_mut};
use palisade_engine::json_eq::{json_eq, maps_eq};
use serde_json::{Map, Value};

use super::MutateError;
use super::schema::{self, ListMerge, Shape};

pub(super) const DIRECTIVE: &str = "$patch";

/// Where the merge is in the resource; rendered only for error messages.
#[derive(Clone, Copy)]
pub(super) enum Path<'a> {
    /// The resource itself.
    Root,
    /// A field of a map.
    Key(&'a Path<'a>, &'a str),
    /// The element of a keyed list with these merge-key values.
    Element(&'a Path<'a>, &'a KeyValues<'a>),
    /// The element of a list keyed by one field, with this value.
    Keyed(&'a Path<'a>, &'static str, &'a str),
}

impl Path<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Path::Element(parent, kv) => {
                parent.write(out);
                out.push('[');
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push('=');
                    out.push_str(v);
                }
                out.push(']');
            }
            Path::Keyed(parent, key, value) => {
                parent.write(out);
                out.push('[');
                out.push_str(key);
                out.push('=');
                out.push_str(value);
                out.push(']');
            }
        }
    }

    /// The dotted path (`.` for the resource itself).
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        if out.is_empty() { ".".to_string() } else { out }
    }
}

/// Merges `patch` into `resource` with the schema of the resource's kind, and tells whether the result differs
/// from the resource. The resource is consumed and reused: only the parts the patch touches are rebuilt.
pub(crate) fn merge_resource(resource: Value, patch: &Value) -> Result<(Value, bool), MutateError> {
    let shape = root_shape(&resource).or_else(|| root_shape(patch));
    let mut changed = false;
    let merged = merge_value(Some(resource), Some(patch), shape, &Path::Root, &mut changed)?;
    Ok((merged.ok_or(MutateError::ResourceDeleted)?, changed))
}

pub(super) fn root_shape(v: &Value) -> Option<&'static Shape> {
    let api_version = field(v, "apiVersion")?.as_str()?;
    let kind = field(v, "kind")?.as_str()?;
    schema::for_kind(api_version, kind)
}

/// The kind of a value as the merge sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The kind both values must share (from the first non-empty one), or the mismatch error.
#[inline]
pub(super) fn common_kind(
    dest: Option<&Value>,
    src: Option<&Value>,
    path: &Path<'_>,
) -> Result<Option<Kind>, MutateError> {
    let first = match dest {
        Some(d) if !is_empty(d) => d,
        _ => match src {
            Some(s) if !is_empty(s) => s,
            _ => return Ok(None),
        },
    };
    let kind = kind_of(first);
    for v in [dest, src].into_iter().flatten() {
        if !v.is_null() && kind_of(v) != kind {
            return Err(kind_mismatch(kind, v, path));
        }
    }
    Ok(Some(kind))
}

#[cold]
fn kind_mismatch(expected: Kind, found: &Value, path: &Path<'_>) -> MutateError {
    MutateError::WrongKind { path: path.render(), expected: kind_name(expected), found: kind_name(kind_of(found)) }
}

/// Merges `src` into `dest`; sets `changed` when the value returned (other than a removal, which the caller
/// sees) differs from `dest`.
fn merge_value(
    dest: Option<Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
    changed: &mut bool,
) -> Result<Option<Value>, MutateError> {
    match common_kind(dest.as_ref(), src, path)? {
        None | Some(Kind::Map) => merge_map(dest, src, shape, path, changed),
        Some(Kind::List) => merge_list(dest, src, shape, path, changed),
        Some(Kind::Scalar) => Ok(replace(dest, src, changed)),
    }
}

/// `src` replaces `dest` (`null` removes it; no `src` keeps `dest`).
fn replace(dest: Option<Value>, src: Option<&Value>, changed: &mut bool) -> Option<Value> {
    match src {
        Some(Value::Null) => None,
        Some(v) => match dest {
            // Equal JSON scalars, lists and maps are the same value: keep the resource's, without a copy.
            Some(d) if json_eq(&d, v) => Some(d),
            _ => {
                *changed = true;
                Some(v.clone())
            }
        },
        None => dest,
    }
}

/// A `$patch` directive.
#[derive(PartialEq, Eq)]
pub(super) enum Directive {
    Merge,
    Replace,
    Delete,
}

/// The `$patch` directive of a patch map (the walk skips the key itself).
pub(super) fn directive(map: &Map<String, Value>, path: &Path<'_>) -> Result<Directive, MutateError> {
    let Some(value) = lookup(map, DIRECTIVE) else { return Ok(Directive::Merge) };
    match value.as_str() {
        Some("merge") => Ok(Directive::Merge),
        Some("replace") => Ok(Directive::Replace),
        Some("delete") => Ok(Directive::Delete),
        _ => Err(MutateError::UnknownDirective { path: path.render(), value: value.to_string() }),
    }
}

fn merge_map(
    dest: Option<Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
    changed: &mut bool,
) -> Result<Option<Value>, MutateError> {
    let dest_missing = dest.as_ref().is_none_or(Value::is_null);
    let origin = match src {
        Some(Value::Object(m)) => Some((directive(m, path)?, m)),
        _ => None,
    };
    if dest_missing {
        let Some((directive, origin)) = origin else {
            // Nothing to merge into: keep what is there (including an explicit null), or take a non-map value.
            return Ok(replace(dest, src, changed));
        };
        if directive == Directive::Delete {
            return Ok(None);
        }
        *changed = true;
        return walk_fields(Map::new(), origin, shape, path, true, changed).map(|m| Some(Value::Object(m)));
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
        Directive::Replace => {
            let replaced = walk_fields(Map::new(), origin, shape, path, true, &mut false)?;
            if !maps_eq(&replaced, &dest_map) {
                *changed = true;
            }
            Ok(Some(Value::Object(replaced)))
        }
        Directive::Merge => walk_fields(dest_map, origin, shape, path, false, changed).map(|m| Some(Value::Object(m))),
    }
}

/// Visits the fields of a patch map other than the directive, in the sorted order the merge uses (without
/// collecting them when they are in order already, as single-field maps always are).
pub(super) fn for_sorted_fields<'p, E>(
    origin: &'p Map<String, Value>,
    mut visit: impl FnMut(&'p String, &'p Value) -> Result<(), E>,
) -> Result<(), E> {
    let fields = origin.iter().filter(|(k, _)| *k != DIRECTIVE);
    if origin.keys().is_sorted() {
        return fields.into_iter().try_for_each(|(k, v)| visit(k, v));
    }
    let mut sorted: Vec<(&String, &Value)> = fields.collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    sorted.into_iter().try_for_each(|(k, v)| visit(k, v))
}

/// Merges each field of `origin` into `base` in sorted key order. With `self_merge`, `base` starts empty and
/// every origin field is merged with itself (kyaml's "add" path, which still applies nested directives).
fn walk_fields(
    mut base: Map<String, Value>,
    origin: &Map<String, Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
    self_merge: bool,
    changed: &mut bool,
) -> Result<Map<String, Value>, MutateError> {
    // (Looked for by scanning first: `shift_remove` hashes the key even when it is absent, as it usually is.)
    if lookup(&base, DIRECTIVE).is_some() && base.shift_remove(DIRECTIVE).is_some() {
        *changed = true;
    }
    for_sorted_fields(origin, |key, src| {
        let child_shape = shape.and_then(|s| s.field(key));
        let child_path = Path::Key(path, key);
        let slot = if self_merge { None } else { lookup_mut(&mut base, key) };
        match slot {
            Some(slot) => {
                // The resource's value is moved out and the merged value put back in its place.
                match merge_value(Some(std::mem::take(slot)), Some(src), child_shape, &child_path, changed)? {
                    Some(v) if !v.is_null() => *slot = v,
                    _ => {
                        base.shift_remove(key);
                        *changed = true;
                    }
                }
            }
            None => {
                let merged = if self_merge && !matches!(src, Value::Object(_) | Value::Array(_)) {
                    // A scalar merged with itself is itself.
                    Some(src.clone())
                } else {
                    let dest = if self_merge { Some(src.clone()) } else { None };
                    merge_value(dest, Some(src), child_shape, &child_path, changed)?
                };
                match merged {
                    Some(v) if !v.is_null() => {
                        *changed = true;
                        base.insert(key.clone(), v);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })?;
    Ok(base)
}

fn merge_list(
    dest: Option<Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
    changed: &mut bool,
) -> Result<Option<Value>, MutateError> {
    let Some((strategy, element_shape)) = shape.and_then(Shape::list) else {
        return Ok(replace(dest, src, changed));
    };
    let origin: &[Value] = src.and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let base = if dest.as_ref().is_none_or(Value::is_null) {
        *changed = true;
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
        ListMerge::Set => merge_set(base, origin, changed),
        ListMerge::Keys(keys) => merge_keyed(base, origin, keys, element_shape, path, changed)?,
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

fn merge_set(base: Vec<Value>, origin: &[Value], changed: &mut bool) -> Vec<Value> {
    let before = base.clone();
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
    if out != before {
        *changed = true;
    }
    out
}

/// One merge-key field and its value as text.
type KeyValue<'a> = (&'static str, Cow<'a, str>);

/// The merge-key values of a list element, as text (upstream compares them as YAML scalars). The first is held
/// inline: most schema keys have one field (`name`), so no allocation is needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeyValues<'a> {
    first: Option<KeyValue<'a>>,
    rest: Vec<KeyValue<'a>>,
}

impl<'a> KeyValues<'a> {
    /// Whether the element has none of the keys.
    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The fields and values, in the schema's key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &KeyValue<'a>> {
        self.first.iter().chain(&self.rest)
    }

    fn push(&mut self, kv: KeyValue<'a>) {
        if self.first.is_none() { self.first = Some(kv) } else { self.rest.push(kv) }
    }

    /// The same values, owned.
    fn into_owned(self) -> KeyValues<'static> {
        let own = |(k, v): KeyValue<'a>| (k, Cow::Owned(v.into_owned()));
        KeyValues { first: self.first.map(own), rest: self.rest.into_iter().map(own).collect() }
    }
}

impl<'a> FromIterator<KeyValue<'a>> for KeyValues<'a> {
    fn from_iter<I: IntoIterator<Item = KeyValue<'a>>>(iter: I) -> Self {
        let mut out = KeyValues::default();
        iter.into_iter().for_each(|kv| out.push(kv));
        out
    }
}

/// A merge-key value as text, borrowed when it is a string.
pub(super) fn key_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// The merge-key values an element has; empty when it has none of the keys.
pub(super) fn key_values<'v>(element: &'v Value, keys: &'static [&'static str]) -> KeyValues<'v> {
    let Some(map) = element.as_object() else { return KeyValues::default() };
    keys.iter().filter_map(|k| lookup(map, k).and_then(key_text).map(|v| (*k, v))).collect()
}

/// Whether `element` has a value for one of the merge keys (one that [`key_values`] would return).
fn has_merge_key(element: &Value, keys: &'static [&'static str]) -> bool {
    element.as_object().is_some_and(|map| keys.iter().any(|k| lookup(map, k).and_then(key_text).is_some()))
}

/// Whether `element` has every merge-key value of `kv`.
pub(super) fn matches_keys(element: &Value, kv: &KeyValues<'_>) -> bool {
    let Some(map) = element.as_object() else { return false };
    let matches = |(k, v): &KeyValue<'_>| lookup(map, k).is_some_and(|field| scalar_eq(field, v));
    match &kv.first {
        // One-field keys (most): no iterator chain.
        Some(first) if kv.rest.is_empty() => matches(first),
        _ => kv.iter().all(matches),
    }
}

/// Whether a scalar reads as `text` (without formatting it).
fn scalar_eq(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s == text,
        Value::Number(_) | Value::Bool(_) => key_text(v).as_deref() == Some(text),
        _ => false,
    }
}

/// The distinct merge-key values of a keyed list merge, patch elements first (the order elements are merged in).
pub(super) fn merge_key_values<'v>(
    base: impl Iterator<Item = &'v Value>,
    origin: &'v [Value],
    keys: &'static [&'static str],
) -> Vec<KeyValues<'v>> {
    let mut values: Vec<KeyValues<'v>> = Vec::new();
    for element in origin.iter().chain(base) {
        let kv = key_values(element, keys);
        if !kv.is_empty() && !values.contains(&kv) {
            values.push(kv);
        }
    }
    values
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
    path: &Path<'_>,
    changed: &mut bool,
) -> Result<Vec<Value>, MutateError> {
    // The patch's values borrow from it; the resource's are copied, as its elements change below.
    let mut values: Vec<KeyValues<'_>> = Vec::new();
    for element in origin {
        let kv = key_values(element, keys);
        if !kv.is_empty() && !values.contains(&kv) {
            values.push(kv);
        }
    }
    for element in &base {
        let kv = key_values(element, keys);
        if !kv.is_empty() && !values.contains(&kv) {
            values.push(kv.into_owned());
        }
    }
    let keyless_origin: Vec<Value> = origin.iter().filter(|e| !has_merge_key(e, keys)).cloned().collect();
    // A keyless resource element never matches a key: move it out (a null never matches either).
    let mut keyless_dest = Vec::new();
    for (index, element) in base.iter_mut().enumerate() {
        if !has_merge_key(element, keys) {
            keyless_dest.push((index, std::mem::take(element)));
        }
    }
    // Resource elements are merged in place in `base`; a removed one becomes null (it no longer matches).
    let mut items: Vec<Item> = Vec::new();
    for kv in &values {
        let dest_index = base.iter().position(|e| matches_keys(e, kv));
        let src = origin.iter().find(|e| matches_keys(e, kv));
        // Which merged elements match, read before this element is moved out of `base`.
        let existing = items.iter().position(|it| matches_keys(it.value(&base), kv));
        let element_path = Path::Element(path, kv);
        let merged = match (dest_index, src) {
            // Nothing in the patch for this element: it stays as it is.
            (Some(i), None) => Some(std::mem::take(&mut base[i])),
            _ => {
                let dest = dest_index.map(|i| std::mem::take(&mut base[i]));
                merge_value(dest, src, Some(element_shape), &element_path, changed)?
            }
        };
        let mut merged = match merged {
            Some(Value::Object(m)) if !m.is_empty() => m,
            Some(other) if !other.is_null() && !other.is_object() => {
                return Err(MutateError::WrongKind {
                    path: element_path.render(),
                    expected: "map",
                    found: kind_name(kind_of(&other)),
                });
            }
            _ => {
                // The merged items that matched before this element left `base`: the element's own slot
                // (taken now) and any other that matches.
                items.retain(|it| {
                    !(matches!(it, Item::Base(i) if Some(*i) == dest_index) || matches_keys(it.value(&base), kv))
                });
                for e in base.iter_mut().filter(|e| matches_keys(e, kv)) {
                    *e = Value::Null;
                }
                continue;
            }
        };
        for (k, v) in kv.iter() {
            if lookup(&merged, k).is_none() {
                merged.insert((*k).to_string(), Value::String(v.to_string()));
                *changed = true;
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
    let original_len = base.len();
    let mut out: Vec<Value> = Vec::with_capacity(items.len() + keyless_origin.len() + keyless_dest.len());
    // The list is unchanged when every resource element comes back, once, at its own position.
    let mut in_place = keyless_origin.is_empty();
    let mut taken = vec![false; base.len()];
    for item in items {
        match item {
            Item::Own(v) => {
                in_place = false;
                out.push(v);
            }
            Item::Base(i) if !taken[i] => {
                taken[i] = true;
                in_place &= i == out.len();
                out.push(std::mem::take(&mut base[i]));
            }
            Item::Base(i) => {
                in_place = false;
                out.push(base[i].clone());
            }
        }
    }
    out.extend(keyless_origin);
    for (index, element) in keyless_dest {
        in_place &= index == out.len();
        out.push(element);
    }
    if !in_place || out.len() != original_len {
        *changed = true;
    }
    Ok(out)
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
