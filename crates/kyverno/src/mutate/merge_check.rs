//! A read-only pass over a strategic merge: finds the error the merge would stop with before the merge
//! consumes anything, so a failed patch leaves the resource as it was without a copy of it.
//!
//! It walks the same fields in the same order as [`merge`](super::merge) and reports the same first error.
//! It stops at keyed lists whose elements match more than one merge-key value (where the merge folds several
//! elements together): the verdict is then [`Verdict::Unsure`] and the caller keeps a copy.

use palisade_engine::field::lookup;
use std::borrow::Cow;

use serde_json::{Map, Value};

use super::MutateError;
use super::merge::{
    Directive, KeyValues, Kind, Path, common_kind, directive, for_sorted_fields, key_text, matches_keys,
    merge_key_values, root_shape,
};
use super::schema::{ListMerge, Shape};

/// What the check found when the merge has no error to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The merge cannot fail.
    Clean,
    /// Part of the merge was not followed; it may still fail.
    Unsure,
}

/// Why the check stopped early.
enum Stop {
    /// The merge fails with this error.
    Error(MutateError),
    /// A keyed list the check does not follow.
    Unsure,
}

impl From<MutateError> for Stop {
    fn from(e: MutateError) -> Self {
        Stop::Error(e)
    }
}

/// Checks that merging `patch` into `resource` succeeds; returns the merge's own error otherwise.
pub(crate) fn check_merge(resource: &Value, patch: &Value) -> Result<Verdict, MutateError> {
    let shape = root_shape(resource).or_else(|| root_shape(patch));
    match check_value(Some(resource), Some(patch), shape, &Path::Root) {
        Ok(()) => {}
        Err(Stop::Unsure) => return Ok(Verdict::Unsure),
        Err(Stop::Error(e)) => return Err(e),
    }
    if let Value::Object(map) = patch
        && directive(map, &Path::Root)? == Directive::Delete
    {
        return Err(MutateError::ResourceDeleted);
    }
    Ok(Verdict::Clean)
}

fn check_value(
    dest: Option<&Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
) -> Result<(), Stop> {
    match common_kind(dest, src, path)? {
        None | Some(Kind::Map) => check_map(dest, src, shape, path),
        Some(Kind::List) => check_list(dest, src, shape, path),
        Some(Kind::Scalar) => Ok(()),
    }
}

fn check_map(
    dest: Option<&Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
) -> Result<(), Stop> {
    let origin = match src {
        Some(Value::Object(m)) => Some((directive(m, path)?, m)),
        _ => None,
    };
    let Some((directive, origin)) = origin else { return Ok(()) };
    match dest {
        None | Some(Value::Null) if directive != Directive::Delete => check_fields(None, origin, shape, path),
        Some(Value::Object(dest_map)) if directive == Directive::Merge => {
            check_fields(Some(dest_map), origin, shape, path)
        }
        Some(Value::Object(_)) if directive == Directive::Replace => check_fields(None, origin, shape, path),
        _ => Ok(()),
    }
}

/// `base` is `None` when every field merges with itself (a map added or replaced).
fn check_fields(
    base: Option<&Map<String, Value>>,
    origin: &Map<String, Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
) -> Result<(), Stop> {
    for_sorted_fields(origin, |key, src| {
        let dest = match base {
            Some(base) => lookup(base, key),
            None => Some(src),
        };
        check_value(dest, Some(src), shape.and_then(|s| s.field(key)), &Path::Key(path, key))
    })
}

fn check_list(
    dest: Option<&Value>,
    src: Option<&Value>,
    shape: Option<&'static Shape>,
    path: &Path<'_>,
) -> Result<(), Stop> {
    let Some((ListMerge::Keys(keys), element_shape)) = shape.and_then(Shape::list) else { return Ok(()) };
    let origin: &[Value] = src.and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let base: &[Value] = match dest {
        None | Some(Value::Null) => origin,
        Some(Value::Array(items)) => items,
        Some(_) => &[],
    };
    check_keyed(base, origin, keys, element_shape, path)
}

fn check_keyed(
    base: &[Value],
    origin: &[Value],
    keys: &'static [&'static str],
    element_shape: &'static Shape,
    path: &Path<'_>,
) -> Result<(), Stop> {
    if let [key] = keys {
        return check_single_keyed(base, origin, key, element_shape, path);
    }
    let values = merge_key_values(base.iter(), origin, keys);
    // Followed only when pairing is one to one: each element matches one merge-key value, and each value
    // matches at most one element on each side (then the merge pairs exactly these elements).
    let matched = |e: &Value| values.iter().filter(|kv| matches_keys(e, kv)).count();
    if base.iter().chain(origin).any(|e| matched(e) > 1) {
        return Err(Stop::Unsure);
    }
    let single = |list: &'_ [Value], kv: &KeyValues<'_>| list.iter().filter(|e| matches_keys(e, kv)).count() <= 1;
    if !values.iter().all(|kv| single(base, kv) && single(origin, kv)) {
        return Err(Stop::Unsure);
    }
    for kv in &values {
        let Some(src) = origin.iter().find(|e| matches_keys(e, kv)) else { continue };
        let dest = base.iter().find(|e| matches_keys(e, kv));
        check_value(dest, Some(src), Some(element_shape), &Path::Element(path, kv))?;
    }
    Ok(())
}

/// The value of merge key `key` of a list element, as text.
fn key_value<'v>(element: &'v Value, key: &str) -> Option<Cow<'v, str>> {
    element.as_object().and_then(|m| lookup(m, key)).and_then(key_text)
}

/// [`check_keyed`] for a list keyed by one field (most are), comparing the key values without collecting them.
fn check_single_keyed(
    base: &[Value],
    origin: &[Value],
    key: &'static str,
    element_shape: &'static Shape,
    path: &Path<'_>,
) -> Result<(), Stop> {
    for list in [base, origin] {
        for (i, element) in list.iter().enumerate() {
            if let Some(t) = key_value(element, key)
                && list[i + 1..].iter().any(|other| key_value(other, key).as_deref() == Some(&*t))
            {
                return Err(Stop::Unsure);
            }
        }
    }
    for src in origin {
        let Some(t) = key_value(src, key) else { continue };
        let dest = base.iter().find(|e| key_value(e, key).as_deref() == Some(&*t));
        check_value(dest, Some(src), Some(element_shape), &Path::Keyed(path, key, &t))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "merge_check_tests.rs"]
mod tests;
