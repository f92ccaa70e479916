//! RFC 6902 patch generation between the original and the mutated object, in the shape the webhook returns
//! (gomodules.xyz/jsonpatch `CreatePatch`, which Kyverno uses, with map keys visited in sorted order so the
//! output is deterministic). The webhook sends [`webhook_patch`] for every mutating policy engine.
//!
//! Maps: changed keys recurse, new keys are `add`ed, missing keys are `remove`d (after the adds and changes).
//! Lists: surplus tail elements are removed from the highest index down, new tail elements are added in order,
//! then the common prefix is compared element by element. A change of type is a `replace`.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::field::lookup;
use crate::json_eq::json_eq;
use crate::wildcard::Wildcard;
use serde::Serialize;
use serde_json::Value;

/// The operation of a generated patch entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchOp {
    /// Add a value.
    Add,
    /// Remove a value.
    Remove,
    /// Replace a value.
    Replace,
}

/// One entry of a generated JSON Patch: `{"op", "path", "value"}` (no `value` for `remove`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOperation {
    /// The operation.
    pub op: PatchOp,
    /// RFC 6901 pointer.
    pub path: String,
    /// The new value (`None` for `remove`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// The JSON Patch that turns `original` into `mutated`.
pub fn diff(original: &Value, mutated: &Value) -> Vec<PatchOperation> {
    let mut out = Vec::new();
    let mut path = String::new();
    handle_values(original, mutated, &mut path, &mut out);
    out
}

/// [`diff`] as a JSON array.
pub fn diff_json(original: &Value, mutated: &Value) -> Value {
    Value::Array(diff(original, mutated).iter().map(to_json).collect())
}

/// [`diff`] without the entries Kyverno drops from mutation responses (see [`is_ignored_patch_path`]).
pub fn webhook_patch(original: &Value, mutated: &Value) -> Vec<PatchOperation> {
    webhook_patch_within(original, mutated, &Touched::Everything)
}

/// [`webhook_patch`] when mutations wrote only the `touched` parts of `original`: the same operations, found
/// without comparing the parts nothing wrote.
pub fn webhook_patch_within(original: &Value, mutated: &Value, touched: &Touched) -> Vec<PatchOperation> {
    let mut out = Vec::new();
    let mut path = String::new();
    diff_within(original, mutated, touched, &mut path, &mut out);
    out.retain(|p| !is_ignored_patch_path(&p.path));
    out
}

/// The parts of an object that mutations may have written. Anything outside them must be unchanged: the
/// patch is computed within them only ([`webhook_patch_within`]). Clones share the tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Touched {
    /// Nothing was written.
    #[default]
    Nothing,
    /// Anything may have changed: the whole value is compared.
    Everything,
    /// Only these fields of a map, sorted by name and unique, each with what was written below it.
    Fields(Arc<[(Arc<str>, Touched)]>),
    /// A list merged by these keys (a strategic-merge keyed list): when every element kept its position (the
    /// same key values at the same index, in lists of the same length), only the inner part of each element
    /// was written; otherwise the list is compared whole.
    Keyed(&'static [&'static str], Arc<Touched>),
}

impl Touched {
    /// The fields of a map, in any order (a field given twice covers the union of both).
    pub fn fields(mut fields: Vec<(Arc<str>, Touched)>) -> Touched {
        if !fields.is_sorted_by(|a, b| a.0 <= b.0) {
            fields.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        let mut out: Vec<(Arc<str>, Touched)> = Vec::with_capacity(fields.len());
        for (key, child) in fields {
            match out.last_mut() {
                Some((last, mine)) if *last == key => mine.add(&child),
                _ => out.push((key, child)),
            }
        }
        Touched::Fields(out.into())
    }

    /// Adds what `other` covers.
    pub fn add(&mut self, other: &Touched) {
        match (&*self, other) {
            (Touched::Everything, _) | (_, Touched::Nothing) => {}
            (Touched::Nothing, other) | (_, other @ Touched::Everything) => *self = other.clone(),
            (Touched::Fields(mine), Touched::Fields(theirs)) => {
                if !Arc::ptr_eq(mine, theirs) {
                    *self = Touched::Fields(union_sorted(mine, theirs).into());
                }
            }
            (Touched::Keyed(keys, mine), Touched::Keyed(other_keys, theirs)) if keys == other_keys => {
                if !Arc::ptr_eq(mine, theirs) {
                    let mut inner = Touched::clone(mine);
                    inner.add(theirs);
                    *self = Touched::Keyed(keys, Arc::new(inner));
                }
            }
            // A map and a list at the same place, or lists keyed differently: compared whole.
            _ => *self = Touched::Everything,
        }
    }
}

/// The union of two sorted, unique field lists.
fn union_sorted(a: &[(Arc<str>, Touched)], b: &[(Arc<str>, Touched)]) -> Vec<(Arc<str>, Touched)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let mut child = a[i].1.clone();
                child.add(&b[j].1);
                out.push((a[i].0.clone(), child));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// The strategic-merge directive key, which a merge also removes from the resource's maps it walks.
const DIRECTIVE: &str = "$patch";

/// Whether every element of `b` is at the index of the element of `a` it was merged from: the same length, and
/// at each index two maps with some merge key and equal values for all of `keys`.
fn same_positions(a: &[Value], b: &[Value], keys: &[&str]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Value::Object(x), Value::Object(y)) => {
                keys.iter().any(|k| lookup(x, k).is_some()) && keys.iter().all(|k| lookup(x, k) == lookup(y, k))
            }
            _ => false,
        })
}

/// [`handle_values`] restricted to `touched`; the operations come out in the same order.
fn diff_within(a: &Value, b: &Value, touched: &Touched, path: &mut String, out: &mut Vec<PatchOperation>) {
    match (touched, a, b) {
        (Touched::Nothing, ..) => {}
        (Touched::Keyed(keys, inner), Value::Array(aa), Value::Array(ba)) if same_positions(aa, ba, keys) => {
            let len = path.len();
            for (i, (av, bv)) in aa.iter().zip(ba).enumerate() {
                push_index(path, i);
                diff_within(av, bv, inner, path, out);
                path.truncate(len);
            }
        }
        // A resource map with a `$patch` key (which merges remove) is compared whole.
        (Touched::Fields(fields), Value::Object(am), Value::Object(bm)) if lookup(am, DIRECTIVE).is_none() => {
            let len = path.len();
            // Changed and added fields in sorted order, then removed ones: fields outside `touched` are equal.
            for (key, child) in fields.iter() {
                match (lookup(am, key), lookup(bm, key)) {
                    (None, Some(bv)) => {
                        push_token(path, key);
                        op(out, PatchOp::Add, path, Some(bv));
                        path.truncate(len);
                    }
                    (Some(av), Some(bv)) => {
                        push_token(path, key);
                        diff_within(av, bv, child, path, out);
                        path.truncate(len);
                    }
                    _ => {}
                }
            }
            for (key, _) in fields.iter() {
                if lookup(am, key).is_some() && lookup(bm, key).is_none() {
                    push_token(path, key);
                    op(out, PatchOp::Remove, path, None);
                    path.truncate(len);
                }
            }
        }
        _ => {
            if !json_eq(a, b) {
                handle_values(a, b, path, out);
            }
        }
    }
}

/// Whether Kyverno filters out a generated patch at `path` (upstream `ignorePatch`): metadata fields other than
/// name, namespace, labels, annotations, ownerReferences, generateName and finalizers.
pub fn is_ignored_patch_path(path: &str) -> bool {
    static TRIGGER_METADATA: std::sync::LazyLock<Wildcard> =
        std::sync::LazyLock::new(|| Wildcard::new("/spec/triggers/*/metadata/*"));
    if !path.contains("/metadata") {
        return false;
    }
    if TRIGGER_METADATA.matches(path) || path.ends_with("/metadata") {
        return false;
    }
    const KEPT: [&str; 7] = [
        "/metadata/name",
        "/metadata/namespace",
        "/metadata/annotations",
        "/metadata/labels",
        "/metadata/ownerReferences",
        "/metadata/generateName",
        "/metadata/finalizers",
    ];
    !KEPT.iter().any(|k| path.contains(k))
}

fn to_json(p: &PatchOperation) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

fn push_token(path: &mut String, token: &str) {
    path.push('/');
    if !token.contains(['~', '/']) {
        path.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn push_index(path: &mut String, i: usize) {
    path.push('/');
    if i < 10 {
        path.push(char::from(b'0' + i as u8));
    } else {
        let _ = write!(path, "{i}");
    }
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn scalar_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn op(out: &mut Vec<PatchOperation>, op: PatchOp, path: &str, value: Option<&Value>) {
    out.push(PatchOperation { op, path: path.to_string(), value: value.cloned() });
}

fn handle_values(a: &Value, b: &Value, path: &mut String, out: &mut Vec<PatchOperation>) {
    if a.is_null() && b.is_null() {
        return;
    }
    if !same_type(a, b) {
        op(out, PatchOp::Replace, path, Some(b));
        return;
    }
    match (a, b) {
        (Value::Object(am), Value::Object(bm)) => {
            let len = path.len();
            let mut visit = |key: &String, bv: &Value| match lookup(am, key) {
                None => {
                    push_token(path, key);
                    op(out, PatchOp::Add, path, Some(bv));
                    path.truncate(len);
                }
                // Unchanged subtrees (most of an object) are skipped without building paths.
                Some(av) if json_eq(av, bv) => {}
                Some(av) => {
                    push_token(path, key);
                    handle_values(av, bv, path, out);
                    path.truncate(len);
                }
            };
            // Keys in sorted order, without collecting them when the map keeps them sorted already.
            if bm.keys().is_sorted() {
                bm.iter().for_each(|(k, v)| visit(k, v));
            } else {
                let mut entries: Vec<(&String, &Value)> = bm.iter().collect();
                entries.sort_unstable_by_key(|(k, _)| *k);
                entries.into_iter().for_each(|(k, v)| visit(k, v));
            }
            // Every key of `am` found in `bm` (the usual case: mutations add) means nothing was removed.
            if am.len() > bm.len() || am.keys().any(|k| lookup(bm, k).is_none()) {
                let mut removed: Vec<&String> = am.keys().filter(|k| lookup(bm, k).is_none()).collect();
                removed.sort_unstable();
                for key in removed {
                    push_token(path, key);
                    op(out, PatchOp::Remove, path, None);
                    path.truncate(len);
                }
            }
        }
        (Value::Array(aa), Value::Array(ba)) => {
            let len = path.len();
            let common = aa.len().min(ba.len());
            for i in (common..aa.len()).rev() {
                push_index(path, i);
                op(out, PatchOp::Remove, path, None);
                path.truncate(len);
            }
            for (i, item) in ba.iter().enumerate().skip(common) {
                push_index(path, i);
                op(out, PatchOp::Add, path, Some(item));
                path.truncate(len);
            }
            for i in (0..common).filter(|i| !json_eq(&aa[*i], &ba[*i])) {
                push_index(path, i);
                handle_values(&aa[i], &ba[i], path, out);
                path.truncate(len);
            }
        }
        _ => {
            if !scalar_equal(a, b) {
                op(out, PatchOp::Replace, path, Some(b));
            }
        }
    }
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod tests;
