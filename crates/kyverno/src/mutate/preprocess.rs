//! Kyverno's anchor preprocessing of a `patchStrategicMerge` overlay (upstream `strategicPreprocessing.go`).
//!
//! The overlay is rewritten against the resource before the strategic merge: `+(key)` is kept (unwrapped) only
//! when the resource lacks the key, conditions `(key)`/`<(key)` are checked, list elements carrying conditions
//! are expanded into one element per matching resource element (identified by `name`), and finally all anchors
//! and every map left empty are removed from the patch.

use std::borrow::Cow;

use palisade_engine::field::{field, lookup};
use serde_json::{Map, Value};

use super::anchor::{Anchor, AnchorKind, is_condition_key, is_mutate_anchor};
use super::condition::ConditionMatcher;

/// Why preprocessing stopped.
#[derive(Debug)]
pub(crate) enum PreError {
    /// A conditional anchor did not match: the whole patch is skipped.
    Condition(String),
    /// A global anchor did not match: the whole patch is skipped.
    Global(String),
    /// The patch cannot be processed against this resource.
    Invalid(String),
}

/// Rewrites `pattern` against `resource`, then removes anchors and empty maps.
pub(crate) fn preprocess(
    pattern: &mut Value,
    resource: &Value,
    matcher: &dyn ConditionMatcher,
) -> Result<(), PreError> {
    pre_recursive(pattern, Some(resource), matcher)?;
    delete_condition_elements(pattern).map_err(PreError::Invalid)
}

/// Removes anchors and empty maps from the top-level map `pattern` (upstream `deleteConditionElements`).
pub(crate) fn delete_condition_elements(pattern: &mut Value) -> Result<(), String> {
    let Value::Object(map) = pattern else {
        return Err(format!("patch must be a map, found {}", short_kind(pattern)));
    };
    map.retain(|key, v| !delete_anchors(v, is_condition_key(key), false));
    Ok(())
}

/// The error for a patch list of maps where the resource holds `other` (not a list, not null).
pub(crate) fn list_kind_error(other: &Value) -> PreError {
    PreError::Invalid(format!("wrong node kind: the patch has a list where the resource has a {}", short_kind(other)))
}

fn short_kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "map",
        Value::Array(_) => "list",
        Value::Null => "null",
        _ => "scalar",
    }
}

fn pre_recursive(pattern: &mut Value, resource: Option<&Value>, m: &dyn ConditionMatcher) -> Result<(), PreError> {
    match pattern {
        Value::Object(map) => walk_map(map, resource, m),
        Value::Array(list) => {
            if list.first().is_some_and(Value::is_object) {
                process_list_of_maps(list, resource, m)
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn walk_map(
    pattern: &mut Map<String, Value>,
    resource: Option<&Value>,
    m: &dyn ConditionMatcher,
) -> Result<(), PreError> {
    handle_add_if_not_present(pattern, resource);
    validate_conditions(pattern, resource, m)?;
    let resource_map = resource.and_then(Value::as_object);
    for (key, value) in pattern.iter_mut().filter(|(k, _)| !is_mutate_anchor(k)) {
        pre_recursive(value, resource_map.and_then(|r| lookup(r, key)), m)?;
    }
    Ok(())
}

fn process_list_of_maps(
    pattern: &mut Vec<Value>,
    resource: Option<&Value>,
    m: &dyn ConditionMatcher,
) -> Result<(), PreError> {
    let resource_elements: &[Value] = match resource {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(other) => return Err(list_kind_error(other)),
    };
    let original_len = pattern.len();
    for index in 0..original_len {
        if !has_anchors(&pattern[index], &|a: &Anchor| a.is_condition_like() || a.kind == AnchorKind::AddIfNotPresent) {
            continue;
        }
        // The element itself is always removed at the end (`delete_anchors_in_list` drops elements with
        // anchors), so it is moved out and a marker that is removed the same way keeps its place.
        let element = std::mem::replace(&mut pattern[index], Value::String(TAKEN_MARKER.to_string()));
        let has_global = has_anchors(&element, &|a: &Anchor| a.kind == AnchorKind::Global);
        let mut any_global_passed = false;
        let mut last_global_error = None;
        // Upstream reuses one copy for every resource element, so `+(key)` unwrapping sticks after the first.
        let mut copy = element;
        for (position, resource_element) in resource_elements.iter().enumerate() {
            match pre_recursive(&mut copy, Some(resource_element), m) {
                Err(PreError::Condition(_)) => continue,
                Err(PreError::Global(e)) => {
                    last_global_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            if has_global {
                any_global_passed = true;
            } else if position + 1 == resource_elements.len() {
                // The copy's last use (the resource is a list, so the `None` case below does not run): moved.
                handle_pattern_name(pattern, std::mem::take(&mut copy), resource_element);
            } else {
                handle_pattern_name(pattern, copy.clone(), resource_element);
            }
        }
        if matches!(resource, None | Some(Value::Null)) {
            match pre_recursive(&mut copy, None, m) {
                Err(PreError::Condition(_)) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    if has_global {
                        any_global_passed = true;
                    }
                }
            }
        }
        if !any_global_passed && let Some(e) = last_global_error {
            return Err(PreError::Global(e));
        }
    }
    Ok(())
}

/// Stands in for a list element moved out by [`process_list_of_maps`]: a string that reads as a conditional
/// anchor, so the final anchor removal deletes it exactly as it deletes the element it replaces.
const TAKEN_MARKER: &str = "(palisade-moved-element)";

/// Appends the matched pattern element (a copy), without anchors and named after the resource element.
fn handle_pattern_name(pattern: &mut Vec<Value>, mut new: Value, resource_element: &Value) {
    let Some(name) = field(resource_element, "name") else { return };
    if is_nil_or_empty(name) {
        return;
    }
    if delete_anchors(&mut new, true, false) {
        return;
    }
    if let Value::Object(map) = &mut new {
        map.insert("name".to_string(), name.clone());
        pattern.push(new);
    }
}

pub(crate) fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_string()),
        _ => None,
    }
}

fn has_anchors(v: &Value, pred: &dyn Fn(&Anchor) -> bool) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, child)| {
            Anchor::parse(k).is_some_and(|a| pred(&a)) || (!is_nil_or_empty(child) && has_anchors(child, pred))
        }),
        Value::Array(items) => items.iter().any(|e| has_anchors(e, pred)),
        Value::String(s) => Anchor::parse(s).is_some_and(|a| a.is_condition_like()),
        _ => false,
    }
}

fn validate_conditions(
    pattern: &mut Map<String, Value>,
    resource: Option<&Value>,
    m: &dyn ConditionMatcher,
) -> Result<(), PreError> {
    validate_conditions_of(pattern, resource, m, AnchorKind::Global).map_err(PreError::Global)?;
    validate_conditions_of(pattern, resource, m, AnchorKind::Condition).map_err(PreError::Condition)
}

fn validate_conditions_of(
    pattern: &mut Map<String, Value>,
    resource: Option<&Value>,
    m: &dyn ConditionMatcher,
    kind: AnchorKind,
) -> Result<(), String> {
    let modifier = if kind == AnchorKind::Global { '<' } else { '(' };
    for (anchor_key, pattern_value) in pattern.iter_mut().filter(|(k, _)| k.starts_with(modifier)) {
        let Some(Anchor { key, .. }) = Anchor::parse(anchor_key).filter(|a| a.kind == kind) else { continue };
        let Some(resource_value) = resource.and_then(|r| field(r, key)) else {
            return Err(format!("could not found \"{key}\" key in the resource"));
        };
        if handle_add_if_not_present_value(pattern_value, Some(resource_value)) > 0 {
            continue;
        }
        check_condition(pattern_value, resource_value, m)?;
    }
    Ok(())
}

/// Upstream converts scalar nodes to their YAML text before matching, so scalars compare as strings.
pub(crate) fn check_condition(pattern: &Value, resource: &Value, m: &dyn ConditionMatcher) -> Result<(), String> {
    fn as_text(v: &Value) -> Cow<'_, Value> {
        match v {
            Value::Object(_) | Value::Array(_) | Value::String(_) => Cow::Borrowed(v),
            _ => Cow::Owned(scalar_text(v).map(Value::String).unwrap_or(Value::Null)),
        }
    }
    m.check(&as_text(resource), &as_text(pattern))
}

fn handle_add_if_not_present_value(pattern: &mut Value, resource: Option<&Value>) -> usize {
    match pattern {
        Value::Object(map) => handle_add_if_not_present(map, resource),
        _ => 0,
    }
}

/// The `key` of a `+(key)` anchor.
fn add_key(k: &str) -> Option<&str> {
    Anchor::parse(k).filter(|a| a.kind == AnchorKind::AddIfNotPresent).map(|a| a.key)
}

/// Drops `+(key)` when the resource has `key`, otherwise unwraps it to `key`; returns how many there were.
fn handle_add_if_not_present(pattern: &mut Map<String, Value>, resource: Option<&Value>) -> usize {
    if !pattern.keys().any(|k| k.starts_with('+')) {
        return 0;
    }
    let resource_map = resource.and_then(Value::as_object);
    // Without a `+(key)` whose `key` is also in the map, the anchors are dropped or renamed in one rebuild
    // of the map; otherwise one at a time, as upstream does (a rename then replaces the plain key).
    if !pattern.keys().filter_map(|k| add_key(k)).any(|key| lookup(pattern, key).is_some()) {
        let mut count = 0;
        for (k, v) in std::mem::take(pattern) {
            match add_key(&k) {
                Some(key) => {
                    count += 1;
                    if resource_map.is_none_or(|r| lookup(r, key).is_none()) {
                        pattern.insert(key.to_string(), v);
                    }
                }
                None => {
                    pattern.insert(k, v);
                }
            }
        }
        return count;
    }
    let anchors: Vec<(String, String)> = pattern
        .keys()
        .filter_map(|k| {
            Anchor::parse(k).filter(|a| a.kind == AnchorKind::AddIfNotPresent).map(|a| (k.clone(), a.key.to_string()))
        })
        .collect();
    for (anchor_key, key) in &anchors {
        if resource_map.is_some_and(|r| lookup(r, key).is_some()) {
            pattern.shift_remove(anchor_key);
        } else {
            rename_key(pattern, anchor_key, key);
        }
    }
    anchors.len()
}

/// Renames `from` to `to` keeping the entry's position.
pub(crate) fn rename_key(map: &mut Map<String, Value>, from: &str, to: &str) {
    if !map.contains_key(from) {
        return;
    }
    let old = std::mem::take(map);
    for (k, v) in old {
        if k == from {
            map.insert(to.to_string(), v);
        } else if k != to || !map.contains_key(to) {
            map.insert(k, v);
        }
    }
}

/// Removes anchors; returns true when the node held nothing else and must be removed (upstream `deleteAnchors`).
pub(crate) fn delete_anchors(node: &mut Value, delete_scalar: bool, traverse_maps: bool) -> bool {
    match node {
        Value::Object(map) => delete_anchors_in_map(map, traverse_maps),
        Value::Array(list) => delete_anchors_in_list(list, traverse_maps),
        _ => delete_scalar,
    }
}

fn delete_anchors_in_map(map: &mut Map<String, Value>, traverse_maps: bool) -> bool {
    let mut anchors_exist = false;
    map.retain(|key, v| {
        if !is_condition_key(key) {
            return true;
        }
        let keep = !delete_anchors(v, true, traverse_maps);
        anchors_exist |= keep;
        keep
    });
    if anchors_exist {
        let remaining: Vec<(String, String)> = map
            .keys()
            .filter_map(|k| Anchor::parse(k).filter(Anchor::is_condition_like).map(|a| (k.clone(), a.key.to_string())))
            .collect();
        for (from, to) in remaining {
            rename_key(map, &from, &to);
        }
    }
    let mut need_to_delete = true;
    map.retain(|_, v| {
        let keep = !delete_anchors(v, false, traverse_maps);
        need_to_delete &= !keep;
        keep
    });
    need_to_delete
}

fn delete_anchors_in_list(list: &mut Vec<Value>, traverse_maps: bool) -> bool {
    let was_empty = list.is_empty();
    let mut keep = Vec::with_capacity(list.len());
    for element in list.iter_mut() {
        let delete =
            if has_anchors(element, &|a: &Anchor| a.is_condition_like() || a.kind == AnchorKind::AddIfNotPresent) {
                if traverse_maps && element.is_object() { delete_anchors(element, true, traverse_maps) } else { true }
            } else {
                delete_anchors(element, false, traverse_maps)
            };
        keep.push(!delete);
    }
    let mut flags = keep.into_iter();
    list.retain(|_| flags.next().unwrap_or(true));
    list.is_empty() && !was_empty
}

#[cfg(test)]
#[path = "preprocess_tests.rs"]
mod tests;
