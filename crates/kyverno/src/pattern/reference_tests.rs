//! Test-only reference: the pattern walker as it was before the speed work (commit beaf257),
//! kept as it was (only reading `MapNode`'s order vector) so `equivalence_tests` can check the
//! optimised walker against it.

use super::anchor::{self, AnchorKind};
use super::compile::{ArrayNode, Entry, EntryKind, MapNode, Node, evaluation_order};
use super::gofmt::{type_name, write_v, write_v_items};
use super::value::Scalar;
use palisade_engine::field::lookup;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::Write;

static NULL: Value = Value::Null;

/// A position in the resource, as a chain of stack frames; rendered only when failing.
#[derive(Clone, Copy)]
enum Path<'a> {
    /// `/`
    Root,
    /// `<parent><key>/`
    Key(&'a Path<'a>, &'a str),
    /// `<parent><index>/`
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Path::Root => out.push('/'),
            Path::Key(parent, key) => {
                parent.write(out);
                out.push_str(key);
                out.push('/');
            }
            Path::Index(parent, i) => {
                parent.write(out);
                let (digits, start) = super::value::decimal_digits(*i as u64);
                out.extend(digits[start..].iter().map(|&d| char::from(d)));
                out.push('/');
            }
        }
    }

    /// Upstream's path string: `/spec/containers/0/image/`.
    fn render(&self) -> String {
        let mut out = String::with_capacity(64);
        self.write(&mut out);
        out
    }
}

/// What kind of error a failure is (upstream distinguishes them with `errors.As`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An ordinary mismatch.
    Plain,
    /// A conditional anchor did not match (skip).
    Conditional,
    /// A global anchor did not match (skip).
    Global,
    /// A negation anchor's key is present (fail).
    Negation,
    /// Every element/anchor at a level was skipped (`PatternError{Skip: true}`).
    Skipped,
}

/// A failure: its kind, the path upstream returns with it, and its error text.
#[derive(Debug, Clone)]
struct Failure {
    kind: Kind,
    path: String,
    message: String,
}

impl Failure {
    fn plain(path: String, message: String) -> Failure {
        Failure { kind: Kind::Plain, path, message }
    }

    /// `skip(err)`: conditional or global anchor errors, possibly wrapped.
    fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global | Kind::Skipped)
    }

    /// A direct conditional/global anchor error rather than a wrapped `PatternError`.
    fn is_direct_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global)
    }
}

/// `multierr.Combine` of skip errors into a `PatternError{Skip: true}`.
fn combined_skip(path: &Path<'_>, errors: &[Failure]) -> Failure {
    let mut message = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&e.message);
    }
    Failure { kind: Kind::Skipped, path: path.render(), message }
}

/// Per-call state: which tracked anchor keys were seen, and which were present in the resource.
struct State {
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

/// The keys of a map pattern after `metadata` wildcard expansion.
struct Expanded {
    raw: Vec<String>,
    key: Vec<String>,
    anchors: Vec<usize>,
    resources: Vec<usize>,
}

impl State {
    /// Fresh state for a pattern with `tracked` tracked anchor keys.
    fn new(tracked: usize) -> State {
        State { seen: Bits::new(tracked), present: Bits::new(tracked) }
    }

    /// `KeysAreMissing`: some tracked anchor key was never found in the resource.
    fn keys_are_missing(&self) -> bool {
        self.seen.words().iter().zip(self.present.words()).any(|(s, p)| s & !p != 0)
    }

    /// `validateResourceElement`.
    fn element(&mut self, resource: &Value, node: &Node, path: &Path<'_>) -> Result<(), Failure> {
        match node {
            Node::Map(map) => self.map_element(resource, map, path),
            Node::Array(array) => match resource {
                Value::Array(items) => self.array(items, array, path),
                _ => {
                    let p = path.render();
                    let message = format!(
                        "validation rule failed at path {p}, resource does not satisfy the expected overlay pattern"
                    );
                    Err(Failure::plain(p, message))
                }
            },
            Node::Scalar(scalar) => {
                let ok = match resource {
                    Value::Array(items) => items.iter().all(|item| scalar.matches(item)),
                    other => scalar.matches(other),
                };
                if ok { Ok(()) } else { Err(mismatch(resource, scalar, path)) }
            }
        }
    }

    fn map_element(&mut self, resource: &Value, map: &MapNode, path: &Path<'_>) -> Result<(), Failure> {
        let Value::Object(resource) = resource else {
            let p = path.render();
            let message = format!(
                "pattern and resource have different structures. Path: {p}. Expected map[string]interface {{}}, found {}",
                type_name(resource)
            );
            return Err(Failure::plain(p, message));
        };
        if map.expand_keys
            && let Some(x) = expand(map, resource)
        {
            let names = |i: usize| (x.raw[i].as_str(), x.key[i].as_str());
            return self.entries(resource, map, path, &x.anchors, &x.resources, names);
        }
        let names = |i: usize| (map.entries[i].raw.as_str(), map.entries[i].key.as_str());
        let (anchors, resources) = map.order.split_at(map.anchor_count);
        self.entries(resource, map, path, anchors, resources, names)
    }

    /// `CheckAnchorInResource` then `validateMap` over the entries, named by `names(i)` as
    /// `(raw key, resource key)`.
    fn entries<'n>(
        &mut self,
        resource: &Map<String, Value>,
        map: &MapNode,
        path: &Path<'_>,
        anchors: &[usize],
        resources: &[usize],
        names: impl Fn(usize) -> (&'n str, &'n str),
    ) -> Result<(), Failure> {
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
        let mut skipped: Vec<Failure> = Vec::new();
        let mut applied = 0usize;
        for &i in anchors {
            let (raw, key) = names(i);
            match self.handle(&map.entries[i], raw, key, resource, path) {
                Ok(()) => applied += 1,
                Err(e) if e.is_skip() => skipped.push(e),
                Err(e) => {
                    if !skipped.iter().any(Failure::is_direct_skip) {
                        return Err(e);
                    }
                }
            }
        }
        if !skipped.is_empty() && (applied == 0 || skipped.iter().any(Failure::is_direct_skip)) {
            return Err(combined_skip(path, &skipped));
        }
        for &i in resources {
            let (raw, key) = names(i);
            self.handle(&map.entries[i], raw, key, resource, path)?;
        }
        Ok(())
    }

    /// The element handlers of `anchor.CreateElementHandler`.
    fn handle(
        &mut self,
        entry: &Entry,
        raw: &str,
        key: &str,
        resource: &Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<(), Failure> {
        let kind = match entry.kind {
            EntryKind::Plain => {
                let value = lookup(resource, raw).unwrap_or(&NULL);
                if entry.star {
                    if value.is_null() {
                        let p = path.render();
                        let message = format!("{p}/{raw} not found");
                        return Err(Failure::plain(p, message));
                    }
                    return Ok(());
                }
                return self.element(value, &entry.value, &Path::Key(path, raw));
            }
            EntryKind::Anchor(kind) => kind,
        };
        let child = Path::Key(path, key);
        let Some(value) = lookup(resource, key) else {
            return match kind {
                AnchorKind::Conditional => Err(Failure {
                    kind: Kind::Conditional,
                    path: child.render(),
                    message: "conditional anchor mismatch: conditional anchor key doesn't exist in the resource".into(),
                }),
                _ => Ok(()),
            };
        };
        match kind {
            AnchorKind::Conditional | AnchorKind::Global => self.element(value, &entry.value, &child).map_err(|e| {
                let (kind, prefix) = if kind == AnchorKind::Global {
                    (Kind::Global, "global anchor mismatch")
                } else {
                    (Kind::Conditional, "conditional anchor mismatch")
                };
                Failure { kind, path: e.path, message: format!("{prefix}: {}", e.message) }
            }),
            AnchorKind::Negation => {
                let p = child.render();
                let message = format!("negation anchor matched in resource: {p} is not allowed");
                Err(Failure { kind: Kind::Negation, path: p, message })
            }
            AnchorKind::Equality | AnchorKind::AddIfNotPresent => self.element(value, &entry.value, &child),
            AnchorKind::Existence => self.existence(value, &entry.value, &child),
        }
    }

    /// `existenceHandler`: each pattern map must match at least one element of the list.
    fn existence(&mut self, value: &Value, pattern: &Node, path: &Path<'_>) -> Result<(), Failure> {
        let Value::Array(items) = value else {
            let message = format!(
                "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                type_name(value)
            );
            return Err(Failure::plain(path.render(), message));
        };
        let Node::Array(pattern) = pattern else {
            let message = format!(
                "invalid pattern type {}: Pattern has to be of list to compare against resource",
                pattern.type_name()
            );
            return Err(Failure::plain(path.render(), message));
        };
        for item_pattern in &pattern.items {
            let Node::Map(map) = item_pattern else {
                let message = "invalid pattern type []interface {}: Pattern has to be of type map to compare against items in resource";
                return Err(Failure::plain(path.render(), message.to_string()));
            };
            let found =
                items.iter().enumerate().any(|(i, item)| self.map_element(item, map, &Path::Index(path, i)).is_ok());
            if !found {
                let p = path.render();
                let message = format!("existence anchor validation failed at path {p}");
                return Err(Failure::plain(p, message));
            }
        }
        Ok(())
    }

    /// `validateArray`.
    fn array(&mut self, items: &[Value], pattern: &ArrayNode, path: &Path<'_>) -> Result<(), Failure> {
        match pattern.items.first() {
            None => Err(Failure::plain(path.render(), "pattern Array empty".into())),
            Some(Node::Map(map)) => {
                let mut skipped = Vec::new();
                let mut applied = 0usize;
                for (i, item) in items.iter().enumerate() {
                    match self.map_element(item, map, &Path::Index(path, i)) {
                        Ok(()) => applied += 1,
                        Err(e) if e.is_skip() => skipped.push(e),
                        Err(e) => return Err(e),
                    }
                }
                if applied == 0 && !skipped.is_empty() { Err(combined_skip(path, &skipped)) } else { Ok(()) }
            }
            Some(Node::Scalar(scalar)) => {
                if items.iter().all(|item| scalar.matches(item)) {
                    Ok(())
                } else {
                    Err(mismatch_items(items, scalar, path))
                }
            }
            Some(Node::Array(_)) => {
                if items.len() < pattern.items.len() {
                    let message = format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        items.len(),
                        pattern.items.len()
                    );
                    return Err(Failure::plain(String::new(), message));
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
                if applied == 0 && !skipped.is_empty() { Err(combined_skip(path, &skipped)) } else { Ok(()) }
            }
        }
    }
}

fn mismatch(resource: &Value, pattern: &Scalar, path: &Path<'_>) -> Failure {
    let p = path.render();
    let mut message = String::from("resource value '");
    write_v(&mut message, resource);
    message.push_str("' does not match '");
    pattern.write_v(&mut message);
    let _ = write!(message, "' at path {p}");
    Failure::plain(p, message)
}

fn mismatch_items(items: &[Value], pattern: &Scalar, path: &Path<'_>) -> Failure {
    let p = path.render();
    let mut message = String::from("resource value '");
    write_v_items(&mut message, items);
    message.push_str("' does not match '");
    pattern.write_v(&mut message);
    let _ = write!(message, "' at path {p}");
    Failure::plain(p, message)
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
    Some(Expanded { raw, key, anchors, resources })
}

/// `Pattern::validate` as it was, on the reference walker.
pub(super) fn validate(pattern: &super::Pattern, resource: &Value) -> super::PatternOutcome {
    use super::PatternOutcome;
    let mut state = State::new(pattern.tracked);
    let Err(failure) = state.element(resource, &pattern.root, &Path::Root) else {
        return PatternOutcome::Pass;
    };
    if failure.is_skip() {
        return PatternOutcome::Skip { reason: failure.message };
    }
    let negation = failure.kind == Kind::Negation;
    if (!negation && state.keys_are_missing()) || failure.path.is_empty() {
        return PatternOutcome::Error { error: failure.message };
    }
    PatternOutcome::Fail { path: failure.path, error: failure.message }
}
