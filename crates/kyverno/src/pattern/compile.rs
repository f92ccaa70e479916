//! Compiles a pattern (a `serde_json::Value`) into a tree with anchors parsed, scalar
//! operators pre-parsed and upstream's evaluation order fixed ahead of time.

use super::PatternError;
use super::anchor::{self, AnchorKind};
use super::value::Scalar;
use palisade_engine::wildcard::{Wildcard, has_wildcard};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A compiled pattern node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// An object pattern.
    Map(MapNode),
    /// A list pattern.
    Array(ArrayNode),
    /// A scalar pattern.
    Scalar(Scalar),
}

impl Node {
    /// Go's `%T` of the pattern element, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Map(_) => "map[string]interface {}",
            Node::Array(_) => "[]interface {}",
            Node::Scalar(s) => s.type_name(),
        }
    }

    /// `hasNestedAnchors`: whether any map at or below this node has a validation anchor key.
    fn has_anchors(&self) -> bool {
        match self {
            Node::Map(m) => m.entries.iter().any(|e| e.kind != EntryKind::Plain || e.value.has_anchors()),
            Node::Array(a) => a.items.iter().any(Node::has_anchors),
            Node::Scalar(_) => false,
        }
    }
}

/// How a map entry is handled (`anchor.CreateElementHandler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A plain key.
    Plain,
    /// An anchored key.
    Anchor(AnchorKind),
}

/// One key of an object pattern.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key as written in the pattern.
    pub(crate) raw: String,
    /// The resource key: the anchor's key, or `raw` for plain keys.
    pub(crate) key: String,
    /// Plain or anchored.
    pub(crate) kind: EntryKind,
    /// The value pattern.
    pub(crate) value: Node,
    /// Slot in the "anchor key present in resource" table (conditional, existence, negation).
    pub(crate) track: Option<usize>,
    /// Plain key whose pattern is exactly `"*"` (present and not null).
    pub(crate) star: bool,
    /// The key as a wildcard, when it has `*`/`?` (used by `metadata` key expansion).
    pub(crate) key_wildcard: Option<Wildcard>,
}

/// An object pattern with upstream's evaluation order.
#[derive(Debug, Clone)]
pub(crate) struct MapNode {
    /// Entries in the pattern's order.
    pub(crate) entries: Vec<Entry>,
    /// Evaluation order: conditional, existence, equality and negation anchors sorted by raw
    /// key, then global anchors and keys with nested anchors (reverse sorted), then the rest
    /// sorted (`getSortedNestedAnchorResource`).
    pub(crate) order: Vec<usize>,
    /// How many of `order` are anchors (evaluated in the anchor phase).
    pub(crate) anchor_count: usize,
    /// Whether some entry is tracked for `KeysAreMissing`.
    pub(crate) has_tracked: bool,
    /// `metadata.labels`/`metadata.annotations` with wildcard keys, expanded against the
    /// resource (`wildcards.ExpandInMetadata`).
    pub(crate) expand_keys: bool,
}

/// A list pattern.
#[derive(Debug, Clone)]
pub(crate) struct ArrayNode {
    /// All elements; matching mostly looks at the first one, as upstream does.
    pub(crate) items: Vec<Node>,
}

/// Whether an entry of `kind` is evaluated in the anchor phase (`GetAnchorsResourcesFromMap`).
pub(crate) fn is_anchor_phase(kind: EntryKind) -> bool {
    matches!(
        kind,
        EntryKind::Anchor(
            AnchorKind::Conditional | AnchorKind::Existence | AnchorKind::Equality | AnchorKind::Negation
        )
    )
}

/// Computes upstream's evaluation order for entries, given each entry's (possibly expanded) raw key.
pub(crate) fn evaluation_order<'a>(entries: &[Entry], raw: impl Fn(usize) -> &'a str) -> (Vec<usize>, Vec<usize>) {
    let mut sorted: Vec<usize> = (0..entries.len()).collect();
    sorted.sort_by(|&a, &b| raw(a).cmp(raw(b)));
    let mut anchors = Vec::new();
    let mut front = Vec::new();
    let mut back = Vec::new();
    for i in sorted {
        let entry = &entries[i];
        if is_anchor_phase(entry.kind) {
            anchors.push(i);
        } else if entry.kind == EntryKind::Anchor(AnchorKind::Global) || entry.value.has_anchors() {
            front.push(i);
        } else {
            back.push(i);
        }
    }
    front.reverse();
    front.extend(back);
    (anchors, front)
}

/// Compilation state: the table of tracked anchor keys, deduplicated by raw key like upstream's map.
#[derive(Default)]
pub(crate) struct Compiler {
    tracked: HashMap<String, usize>,
}

impl Compiler {
    /// Number of distinct tracked anchor keys seen.
    pub(crate) fn tracked_count(&self) -> usize {
        self.tracked.len()
    }

    /// Compiles `value` found at `path` (a `/`-separated pattern path, for errors).
    pub(crate) fn node(&mut self, value: &Value, path: &str) -> Result<Node, PatternError> {
        match value {
            Value::Object(map) => Ok(Node::Map(self.map(map, path, false)?)),
            Value::Array(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.node(item, &format!("{path}/{i}")))
                    .collect::<Result<_, _>>()?;
                Ok(Node::Array(ArrayNode { items }))
            }
            scalar => Ok(Node::Scalar(Scalar::compile(scalar).unwrap_or(Scalar::Null))),
        }
    }

    fn map(&mut self, map: &Map<String, Value>, path: &str, is_metadata: bool) -> Result<MapNode, PatternError> {
        let mut entries = Vec::with_capacity(map.len());
        for (raw, value) in map {
            let child_path = format!("{path}/{raw}");
            let parsed = anchor::parse(raw);
            let kind = match parsed {
                Some(a) if a.kind == AnchorKind::AddIfNotPresent => {
                    return Err(PatternError::AddIfNotPresent { path: child_path });
                }
                Some(a) => EntryKind::Anchor(a.kind),
                None => EntryKind::Plain,
            };
            if kind == EntryKind::Anchor(AnchorKind::Existence) {
                match value {
                    Value::Array(items) if items.is_empty() => {
                        return Err(PatternError::ExistenceEmpty { path: child_path });
                    }
                    Value::Array(_) => {}
                    _ => return Err(PatternError::ExistenceNotList { path: child_path }),
                }
            }
            let key = parsed.map_or(raw.as_str(), |a| a.key);
            let node = match value {
                Value::Object(child) => {
                    let child_is_metadata = key == "metadata";
                    let mut node = self.map(child, &child_path, child_is_metadata)?;
                    node.expand_keys = is_metadata
                        && (key == "labels" || key == "annotations")
                        && child.values().all(Value::is_string)
                        && child.keys().any(|k| has_wildcard(k));
                    Node::Map(node)
                }
                other => self.node(other, &child_path)?,
            };
            let track = match kind {
                EntryKind::Anchor(AnchorKind::Conditional | AnchorKind::Existence | AnchorKind::Negation) => {
                    let next = self.tracked.len();
                    Some(*self.tracked.entry(raw.clone()).or_insert(next))
                }
                _ => None,
            };
            let star = kind == EntryKind::Plain && matches!(&node, Node::Scalar(s) if s.is_star());
            let key_wildcard = has_wildcard(raw).then(|| Wildcard::new(key));
            entries.push(Entry {
                raw: raw.clone(),
                key: key.to_string(),
                kind,
                value: node,
                track,
                star,
                key_wildcard,
            });
        }
        let (anchors, resources) = evaluation_order(&entries, |i| entries[i].raw.as_str());
        let has_tracked = entries.iter().any(|e| e.track.is_some());
        let anchor_count = anchors.len();
        let order = anchors.into_iter().chain(resources).collect();
        Ok(MapNode { entries, order, anchor_count, has_tracked, expand_keys: false })
    }
}
