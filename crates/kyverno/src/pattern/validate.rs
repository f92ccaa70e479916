//! Matching a resource against a compiled pattern, as upstream's `validate.MatchPattern`:
//! anchors first (sorted), then the other keys; conditional and global anchor mismatches
//! become "skip" errors that bubble up until something applies.

use super::anchor::{self, AnchorKind};
use super::compile::{ArrayNode, Entry, EntryKind, MapNode, Node, evaluation_order};
use super::failure::{self as fail, Fail, Path};
use super::gofmt::type_name;
use super::value::Scalar;
use palisade_engine::field::lookup;
use serde_json::{Map, Value};
use std::borrow::Cow;

static NULL: Value = Value::Null;

/// Per-call state: which tracked anchor keys were seen, and which were present in the resource.
pub(crate) struct State {
    seen: Bits,
    present: Bits,
}

/// A bit set that only allocates beyond 64 bits.
struct Bits {
    small: u64,
    large: Vec<u64>,
}

impl Bits {
    fn new(len: usize) -> Bits {
        let large = if len > 64 { vec![0; len.div_ceil(64)] } else { Vec::new() };
        Bits { small: 0, large }
    }

    fn set(&mut self, i: usize) {
        if self.large.is_empty() {
            self.small |= 1 << i;
        } else if let Some(word) = self.large.get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }

    fn words(&self) -> &[u64] {
        if self.large.is_empty() { std::slice::from_ref(&self.small) } else { &self.large }
    }
}

/// Where `entries` stopped at the first skipped anchor.
struct Rest<'a, 'p> {
    resource: &'a Map<String, Value>,
    map: &'a MapNode,
    path: &'a Path<'p>,
    order: &'a [usize],
    anchors: usize,
    next: usize,
}

/// The keys of a map pattern after `metadata` wildcard expansion.
struct Expanded {
    raw: Vec<String>,
    key: Vec<String>,
    order: Vec<usize>,
    anchor_count: usize,
}

impl State {
    /// Fresh state for a pattern with `tracked` tracked anchor keys.
    pub(crate) fn new(tracked: usize) -> State {
        State { seen: Bits::new(tracked), present: Bits::new(tracked) }
    }

    /// `KeysAreMissing`: some tracked anchor key was never found in the resource.
    pub(crate) fn keys_are_missing(&self) -> bool {
        self.seen.words().iter().zip(self.present.words()).any(|(s, p)| s & !p != 0)
    }

    /// `validateResourceElement`.
    pub(crate) fn element(&mut self, resource: &Value, node: &Node, path: &Path<'_>) -> Result<(), Fail> {
        match node {
            Node::Map(map) => self.map_element(resource, map, path),
            Node::Array(array) => self.list(resource, array, path),
            Node::Scalar(scalar) => scalar_element(resource, scalar, path),
        }
    }

    /// `element` for the value under `key`: scalar leaves and maps without the extra call.
    #[inline(always)]
    fn child(&mut self, value: &Value, node: &Node, path: &Path<'_>, key: &str) -> Result<(), Fail> {
        match node {
            Node::Scalar(scalar) => scalar_element(value, scalar, &Path::Key(path, key)),
            Node::Map(map) => self.map_element(value, map, &Path::Key(path, key)),
            Node::Array(array) => self.list(value, array, &Path::Key(path, key)),
        }
    }

    fn map_element(&mut self, resource: &Value, map: &MapNode, path: &Path<'_>) -> Result<(), Fail> {
        let Value::Object(resource) = resource else {
            return Err(fail::not_a_map(resource, path));
        };
        if map.expand_keys {
            return self.expanded(resource, map, path);
        }
        self.entries(resource, map, path, &map.order, map.anchor_count, compiled_names(map))
    }

    /// `map_element` for `metadata.labels`/`annotations` patterns with wildcard keys.
    #[cold]
    #[inline(never)]
    fn expanded(&mut self, resource: &Map<String, Value>, map: &MapNode, path: &Path<'_>) -> Result<(), Fail> {
        let Some(x) = expand(map, resource) else {
            return self.entries(resource, map, path, &map.order, map.anchor_count, compiled_names(map));
        };
        let names = |i: usize| (x.raw[i].as_str(), x.key[i].as_str());
        self.entries(resource, map, path, &x.order, x.anchor_count, names)
    }

    /// `CheckAnchorInResource` then `validateMap`: the entries in `order`, the first
    /// `anchors` of them anchors, named by `names(i)` as `(raw key, resource key)`.
    fn entries<'n>(
        &mut self,
        resource: &Map<String, Value>,
        map: &MapNode,
        path: &Path<'_>,
        order: &[usize],
        anchors: usize,
        names: impl Fn(usize) -> (&'n str, &'n str),
    ) -> Result<(), Fail> {
        if map.has_tracked {
            for (i, entry) in map.entries.iter().enumerate() {
                if let Some(slot) = entry.track {
                    self.seen.set(slot);
                    if lookup(resource, names(i).1).is_some() {
                        self.present.set(slot);
                    }
                }
            }
        }
        for (n, &i) in order.iter().enumerate() {
            let (raw, key) = names(i);
            if let Err(e) = self.handle(&map.entries[i], raw, key, resource, path) {
                // Until an anchor skips, the first error is the result.
                if n < anchors && e.is_skip() {
                    let rest = Rest { resource, map, path, order, anchors, next: n + 1 };
                    return self.after_skip(&rest, e, &names);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// `entries` from the first skipped anchor on: the other anchors' skips are collected and
    /// combined unless an anchor applied and none of them skipped directly.
    #[cold]
    #[inline(never)]
    fn after_skip<'n>(
        &mut self,
        rest: &Rest<'_, '_>,
        first: Fail,
        names: &impl Fn(usize) -> (&'n str, &'n str),
    ) -> Result<(), Fail> {
        let Rest { resource, map, path, order, anchors, next } = *rest;
        let mut applied = next - 1;
        let mut skipped = vec![first];
        for &i in &order[next..anchors] {
            let (raw, key) = names(i);
            match self.handle_outlined(&map.entries[i], raw, key, resource, path) {
                Ok(()) => applied += 1,
                Err(e) if e.is_skip() => skipped.push(e),
                Err(e) => {
                    if !skipped.iter().any(|s| s.is_direct_skip()) {
                        return Err(e);
                    }
                }
            }
        }
        if applied == 0 || skipped.iter().any(|s| s.is_direct_skip()) {
            return Err(fail::combined_skip(path, &skipped));
        }
        for &i in &order[anchors..] {
            let (raw, key) = names(i);
            self.handle_outlined(&map.entries[i], raw, key, resource, path)?;
        }
        Ok(())
    }

    /// `handle` as a call, for the cold paths.
    #[inline(never)]
    fn handle_outlined(
        &mut self,
        entry: &Entry,
        raw: &str,
        key: &str,
        resource: &Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<(), Fail> {
        self.handle(entry, raw, key, resource, path)
    }

    /// The element handlers of `anchor.CreateElementHandler`.
    #[inline(always)]
    fn handle(
        &mut self,
        entry: &Entry,
        raw: &str,
        key: &str,
        resource: &Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<(), Fail> {
        let EntryKind::Anchor(kind) = entry.kind else {
            let value = lookup(resource, raw).unwrap_or(&NULL);
            if entry.star {
                return if value.is_null() { Err(fail::not_found(path, raw)) } else { Ok(()) };
            }
            return self.child(value, &entry.value, path, raw);
        };
        let Some(value) = lookup(resource, key) else {
            return match kind {
                AnchorKind::Conditional => Err(fail::conditional_missing(&Path::Key(path, key))),
                _ => Ok(()),
            };
        };
        match kind {
            AnchorKind::Equality | AnchorKind::AddIfNotPresent => self.child(value, &entry.value, path, key),
            AnchorKind::Conditional | AnchorKind::Global => self
                .child(value, &entry.value, path, key)
                .map_err(|e| fail::anchor_mismatch(kind == AnchorKind::Global, e)),
            AnchorKind::Negation => Err(fail::negation(&Path::Key(path, key))),
            AnchorKind::Existence => self.existence(value, &entry.value, &Path::Key(path, key)),
        }
    }

    /// `existenceHandler`: each pattern map must match at least one element of the list.
    #[inline(never)]
    fn existence(&mut self, value: &Value, pattern: &Node, path: &Path<'_>) -> Result<(), Fail> {
        let Value::Array(items) = value else {
            let message = format!(
                "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                type_name(value)
            );
            return Err(fail::other(path.render(), message));
        };
        let Node::Array(pattern) = pattern else {
            let message = format!(
                "invalid pattern type {}: Pattern has to be of list to compare against resource",
                pattern.type_name()
            );
            return Err(fail::other(path.render(), message));
        };
        for item_pattern in &pattern.items {
            let Node::Map(map) = item_pattern else {
                let message = "invalid pattern type []interface {}: Pattern has to be of type map to compare against items in resource";
                return Err(fail::fixed(path, message));
            };
            let found =
                items.iter().enumerate().any(|(i, item)| self.map_element(item, map, &Path::Index(path, i)).is_ok());
            if !found {
                return Err(fail::existence_failed(path));
            }
        }
        Ok(())
    }

    /// `validateArray`, once the resource is known to be a list.
    fn list(&mut self, resource: &Value, pattern: &ArrayNode, path: &Path<'_>) -> Result<(), Fail> {
        let Value::Array(items) = resource else {
            return Err(fail::not_an_array(path));
        };
        match pattern.items.first() {
            None => Err(fail::fixed(path, "pattern Array empty")),
            Some(Node::Map(map)) => {
                for (i, item) in items.iter().enumerate() {
                    if let Err(e) = self.map_element(item, map, &Path::Index(path, i)) {
                        // Until an element skips, the first error is the result.
                        if e.is_skip() {
                            return self.items_after_skip(items, map, path, i, e);
                        }
                        return Err(e);
                    }
                }
                Ok(())
            }
            Some(Node::Scalar(scalar)) => {
                if items.iter().all(|item| scalar.matches(item)) {
                    Ok(())
                } else {
                    Err(fail::mismatch_items(items, scalar, path))
                }
            }
            Some(Node::Array(_)) => self.nested_arrays(items, pattern, path),
        }
    }

    /// `list` from the first skipped element on: skips are combined unless an element applied.
    #[cold]
    #[inline(never)]
    fn items_after_skip(
        &mut self,
        items: &[Value],
        map: &MapNode,
        path: &Path<'_>,
        at: usize,
        first: Fail,
    ) -> Result<(), Fail> {
        let mut applied = at;
        let mut skipped = vec![first];
        for (i, item) in items.iter().enumerate().skip(at + 1) {
            match self.map_element(item, map, &Path::Index(path, i)) {
                Ok(()) => applied += 1,
                Err(e) if e.is_skip() => skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        if applied == 0 { Err(fail::combined_skip(path, &skipped)) } else { Ok(()) }
    }

    /// `validateArray` for a list of lists: element by element.
    #[inline(never)]
    fn nested_arrays(&mut self, items: &[Value], pattern: &ArrayNode, path: &Path<'_>) -> Result<(), Fail> {
        if items.len() < pattern.items.len() {
            let message = format!(
                "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                items.len(),
                pattern.items.len()
            );
            return Err(fail::other(String::new(), message));
        }
        let mut skipped = Vec::new();
        let mut applied = 0usize;
        for (i, item_pattern) in pattern.items.iter().enumerate() {
            match self.element(&items[i], item_pattern, &Path::Index(path, i)) {
                Ok(()) => applied += 1,
                Err(e) if e.is_skip() => skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        if applied == 0 && !skipped.is_empty() { Err(fail::combined_skip(path, &skipped)) } else { Ok(()) }
    }
}

/// The compiled `(raw key, resource key)` of each entry.
fn compiled_names<'m>(map: &'m MapNode) -> impl Fn(usize) -> (&'m str, &'m str) {
    |i| (map.entries[i].raw.as_str(), map.entries[i].key.as_str())
}

/// A scalar pattern against a value (every element, for a list).
#[inline(always)]
fn scalar_element(resource: &Value, scalar: &Scalar, path: &Path<'_>) -> Result<(), Fail> {
    let ok = match resource {
        Value::Array(items) => items.iter().all(|item| scalar.matches(item)),
        other => scalar.matches(other),
    };
    if ok { Ok(()) } else { Err(fail::mismatch(resource, scalar, path)) }
}

/// `wildcards.ExpandInMetadata` for one `labels`/`annotations` map: wildcard keys take the
/// first matching resource key (anchors are kept around the expanded key).
fn expand(map: &MapNode, resource: &Map<String, Value>) -> Option<Expanded> {
    if !resource.values().all(Value::is_string) {
        return None;
    }
    let matches_any =
        |entry: &Entry| entry.key_wildcard.as_ref().is_some_and(|w| resource.keys().any(|k| w.matches(k)));
    if !map.entries.iter().any(matches_any) {
        // Nothing expands: the compiled keys and order stand.
        return None;
    }
    let mut raw = Vec::with_capacity(map.entries.len());
    let mut key = Vec::with_capacity(map.entries.len());
    for entry in &map.entries {
        let Some(matcher) = &entry.key_wildcard else {
            raw.push(entry.raw.clone());
            key.push(entry.key.clone());
            continue;
        };
        let parsed = anchor::parse(&entry.raw);
        let pattern_key = parsed.map_or(entry.raw.as_str(), |a| a.key);
        let found: Cow<'_, str> = match resource.keys().find(|k| matcher.matches(k)) {
            Some(k) => Cow::Borrowed(k.as_str()),
            None => Cow::Borrowed(pattern_key),
        };
        raw.push(match parsed {
            Some(a) => anchor::format(a.kind, &found),
            None => found.to_string(),
        });
        key.push(found.into_owned());
    }
    let (anchors, resources) = evaluation_order(&map.entries, |i| raw[i].as_str());
    let anchor_count = anchors.len();
    let order = anchors.into_iter().chain(resources).collect();
    Some(Expanded { raw, key, order, anchor_count })
}
