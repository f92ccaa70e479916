//! The common anchor overlays compiled at load, so preparing a patch builds it straight from the resource instead
//! of copying the overlay and rewriting it ([`preprocess`](super::preprocess)) on every request.
//!
//! A [`Plan`] covers overlays whose anchors are `+(key)` map keys and `(key): scalar` conditions at the top of
//! list elements (`(name): "*"` with the fields to set), everything else anchor-free: the shapes of
//! `add-default-securitycontext`, `always-pull-images`, `add-pod-proxies` and the Kata policies. Any other
//! overlay has no plan and goes through the general preprocessing. [`Plan::resolve`] returns exactly what the
//! general path returns for the same resource (`plan_tests.rs` compares the two over the upstream suite).

use palisade_engine::field::{field, lookup};
use serde_json::{Map, Value};

use super::anchor::{Anchor, AnchorKind};
use super::condition::ConditionMatcher;
use super::preprocess::{PreError, check_condition, delete_anchors, is_nil_or_empty, list_kind_error};
use super::strategic::contains_anchor;

/// An overlay compiled for [`Plan::resolve`].
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    root: Vec<Entry>,
}

/// A field of an overlay map.
#[derive(Debug, Clone)]
enum Entry {
    /// `key: value`.
    Field(String, Node),
    /// `+(key): value`: kept as `key` when the resource lacks `key`.
    AddIfAbsent(String, Node),
}

/// A value of the overlay.
#[derive(Debug, Clone)]
enum Node {
    /// An anchor-free value as the final anchor removal leaves it (`None`: removed), and the paths (through maps)
    /// to its lists of maps, where the resource must hold a list or nothing.
    Leaf(Option<Value>, Vec<Vec<String>>),
    /// A map holding anchors below.
    Map(Vec<Entry>),
    /// A list of maps with conditional elements.
    List {
        /// The anchor-free elements, as the final anchor removal leaves them.
        plain: Vec<Value>,
        /// The elements with conditions, each copied for every resource element it matches.
        conditional: Vec<Conditional>,
    },
}

/// A list element with `(key): scalar` conditions.
#[derive(Debug, Clone)]
struct Conditional {
    /// The conditions, in the element's key order.
    conditions: Vec<(String, Value)>,
    /// The element without its conditions (`None` when nothing else is left).
    template: Option<Map<String, Value>>,
    /// Paths (through maps) to the element's lists of maps, checked against each matching resource element.
    list_paths: Vec<Vec<String>>,
}

impl Plan {
    /// Compiles `overlay` when every anchor in it has one of the covered forms; `None` otherwise.
    pub(crate) fn compile(overlay: &Value) -> Option<Plan> {
        Some(Plan { root: compile_map(overlay.as_object()?)? })
    }

    /// The overlay resolved against `resource`: what [`preprocess`](super::preprocess::preprocess) makes of a
    /// copy of it.
    pub(crate) fn resolve(&self, resource: &Value, m: &dyn ConditionMatcher) -> Result<Value, PreError> {
        resolve_map(&self.root, Some(resource), m).map(Value::Object)
    }
}

fn compile_map(map: &Map<String, Value>) -> Option<Vec<Entry>> {
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        match Anchor::parse(key) {
            None => entries.push(Entry::Field(key.clone(), compile_node(value)?)),
            Some(a) if a.kind == AnchorKind::AddIfNotPresent && Anchor::parse(a.key).is_none() => {
                // `+(key)` beside a plain `key` is renamed one anchor at a time: left to the general path.
                if map.contains_key(a.key) {
                    return None;
                }
                entries.push(Entry::AddIfAbsent(a.key.to_string(), compile_node(value)?));
            }
            Some(_) => return None,
        }
    }
    Some(entries)
}

fn compile_node(value: &Value) -> Option<Node> {
    if !contains_anchor(value) {
        return Some(Node::Leaf(cleaned(value), list_paths(value)));
    }
    match value {
        Value::Object(map) => Some(Node::Map(compile_map(map)?)),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let (mut plain, mut conditional) = (Vec::new(), Vec::new());
            for item in items {
                if contains_anchor(item) {
                    conditional.push(compile_conditional(item)?);
                } else if let Some(clean) = cleaned(item) {
                    plain.push(clean);
                }
            }
            Some(Node::List { plain, conditional })
        }
        _ => None,
    }
}

fn compile_conditional(item: &Value) -> Option<Conditional> {
    let map = item.as_object()?;
    let mut conditions = Vec::new();
    let mut list_paths_of = Vec::new();
    for (key, value) in map {
        match Anchor::parse(key) {
            Some(a) if a.kind == AnchorKind::Condition && Anchor::parse(a.key).is_none() => {
                if !matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                    return None;
                }
                conditions.push((a.key.to_string(), value.clone()));
            }
            Some(_) => return None,
            None if contains_anchor(value) => return None,
            None => {
                for mut path in list_paths(value) {
                    path.insert(0, key.clone());
                    list_paths_of.push(path);
                }
            }
        }
    }
    if conditions.is_empty() {
        return None;
    }
    let mut template = item.clone();
    let template = if delete_anchors(&mut template, true, false) {
        None
    } else {
        match template {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    Some(Conditional { conditions, template, list_paths: list_paths_of })
}

/// An anchor-free value as the final anchor removal leaves it: maps and lists emptied by it are removed.
fn cleaned(value: &Value) -> Option<Value> {
    let mut copy = value.clone();
    (!delete_anchors(&mut copy, false, false)).then_some(copy)
}

/// The paths, through maps, to the lists whose first element is a map (the preprocessing checks the resource
/// there).
fn list_paths(value: &Value) -> Vec<Vec<String>> {
    fn walk(value: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(key.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(items) if items.first().is_some_and(Value::is_object) => out.push(path.clone()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

/// Fails as the preprocessing does when the resource holds something other than a list (or null) where the
/// overlay has a list of maps.
fn check_lists(resource: Option<&Value>, paths: &[Vec<String>]) -> Result<(), PreError> {
    for path in paths {
        let mut at = resource;
        for key in path {
            at = at.and_then(Value::as_object).and_then(|m| lookup(m, key));
        }
        match at {
            None | Some(Value::Null | Value::Array(_)) => {}
            Some(other) => return Err(list_kind_error(other)),
        }
    }
    Ok(())
}

fn resolve_map(
    entries: &[Entry],
    resource: Option<&Value>,
    m: &dyn ConditionMatcher,
) -> Result<Map<String, Value>, PreError> {
    let resource_map = resource.and_then(Value::as_object);
    let mut out = Map::new();
    for entry in entries {
        let (key, node, below) = match entry {
            Entry::Field(key, node) => (key, node, resource_map.and_then(|r| lookup(r, key))),
            Entry::AddIfAbsent(key, node) => {
                if resource_map.is_some_and(|r| lookup(r, key).is_some()) {
                    continue;
                }
                (key, node, None)
            }
        };
        if let Some(value) = resolve_node(node, below, m)? {
            out.insert(key.clone(), value);
        }
    }
    Ok(out)
}

fn resolve_node(node: &Node, resource: Option<&Value>, m: &dyn ConditionMatcher) -> Result<Option<Value>, PreError> {
    match node {
        Node::Leaf(value, paths) => {
            check_lists(resource, paths)?;
            Ok(value.clone())
        }
        Node::Map(entries) => {
            let map = resolve_map(entries, resource, m)?;
            Ok((!map.is_empty()).then_some(Value::Object(map)))
        }
        Node::List { plain, conditional } => {
            let elements: &[Value] = match resource {
                None | Some(Value::Null) => &[],
                Some(Value::Array(items)) => items,
                Some(other) => return Err(list_kind_error(other)),
            };
            let mut out = plain.clone();
            for element in conditional {
                for resource_element in elements {
                    if !element.holds(resource_element, m) {
                        continue;
                    }
                    check_lists(Some(resource_element), &element.list_paths)?;
                    let Some(template) = &element.template else { continue };
                    let Some(name) = field(resource_element, "name").filter(|n| !is_nil_or_empty(n)) else { continue };
                    let mut copy = template.clone();
                    copy.insert("name".to_string(), name.clone());
                    out.push(Value::Object(copy));
                }
            }
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
    }
}

impl Conditional {
    /// Whether every condition holds on `resource_element` (a missing field fails it).
    fn holds(&self, resource_element: &Value, m: &dyn ConditionMatcher) -> bool {
        self.conditions.iter().all(|(key, pattern)| {
            field(resource_element, key).is_some_and(|value| check_condition(pattern, value, m).is_ok())
        })
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
