//! A cache in front of the rule-result metric families. prometheus-client looks a series up by hashing
//! its whole label set with SipHash, after allocating every label string; a request with many rule
//! results paid that per result and per metric. Here the cached counter and histogram handles (which
//! share their values with the registry) are found in two steps and updated directly: the request's
//! part of the key (resource kind, namespace, operation) is hashed and looked up once per request,
//! giving a table of that request's series by rule; in it each rule result is found by a short hash of
//! its names and a comparison that is a pointer check when the names are the cached ones.

use palisade_engine::{FailureAction, RuleKind, RuleStatus, Text};
use std::sync::RwLock;

/// The fields that select one rule-result series, borrowed from the request and the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesKey<'a> {
    /// Policy name as the engine reports it (`name` or `namespace/name`).
    pub policy: &'a str,
    /// Rule name.
    pub rule: &'a str,
    /// Rule status.
    pub status: RuleStatus,
    /// Failure action.
    pub action: FailureAction,
    /// Rule type.
    pub kind: RuleKind,
    /// Resource kind, unless dropped.
    pub resource_kind: Option<&'a str>,
    /// Resource namespace, unless dropped.
    pub namespace: Option<&'a str>,
    /// Lowercase operation.
    pub operation: &'static str,
}

/// The part of a series key that every rule result of one request shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKey<'a> {
    /// Resource kind, unless dropped.
    pub resource_kind: Option<&'a str>,
    /// Resource namespace, unless dropped.
    pub namespace: Option<&'a str>,
    /// Lowercase operation.
    pub operation: &'static str,
}

impl RequestKey<'_> {
    fn hash(&self) -> u64 {
        let mut h = WordHasher(0);
        // The operation is one of four static strings, told apart by length and first byte.
        h.word(self.operation.len() as u64 | u64::from(self.operation.as_bytes().first().copied().unwrap_or(0)) << 8);
        h.bytes(self.resource_kind.unwrap_or("\u{0}").as_bytes());
        h.bytes(self.namespace.unwrap_or("\u{0}").as_bytes());
        h.0
    }
}

/// A name as a rule result carries it: the text, and the shared string it may be borrowed from.
#[derive(Debug, Clone, Copy)]
pub struct Name<'a> {
    /// The name.
    pub text: &'a str,
    /// A shared string that, when `text` is exactly its contents (same address), the cache keeps and
    /// later compares by address; any other string is copied and compared by contents.
    pub shared: Option<&'a Text>,
}

impl<'a> From<&'a Text> for Name<'a> {
    fn from(shared: &'a Text) -> Self {
        Self { text: shared, shared: Some(shared) }
    }
}

impl<'a> From<&'a str> for Name<'a> {
    fn from(text: &'a str) -> Self {
        Self { text, shared: None }
    }
}

/// The part of a series key that is particular to one rule result.
#[derive(Debug, Clone, Copy)]
pub struct RuleKey<'a> {
    /// Policy name as the engine reports it (`name` or `namespace/name`).
    pub policy: Name<'a>,
    /// Rule name.
    pub rule: Name<'a>,
    /// Rule status.
    pub status: RuleStatus,
    /// Failure action.
    pub action: FailureAction,
    /// Rule type.
    pub kind: RuleKind,
}

impl RuleKey<'_> {
    /// A short hash: the length and first and last eight bytes of each name, and the enums. Names that
    /// share all of these only share a bucket; they are still compared in full.
    #[inline]
    fn hash(&self) -> u64 {
        let mut h = WordHasher(0);
        h.sketch(self.policy.text.as_bytes());
        h.sketch(self.rule.text.as_bytes());
        h.word((self.status as u64) | (self.action as u64) << 8 | (self.kind as u64) << 16);
        h.0
    }

    fn series<'a>(&'a self, request: &RequestKey<'a>) -> SeriesKey<'a> {
        SeriesKey {
            policy: self.policy.text,
            rule: self.rule.text,
            status: self.status,
            action: self.action,
            kind: self.kind,
            resource_kind: request.resource_kind,
            namespace: request.namespace,
            operation: request.operation,
        }
    }
}

/// A cached name: the request's shared string when the name was borrowed from one, else a copy.
#[derive(Debug)]
struct StoredName(Text);

impl StoredName {
    fn new(name: Name<'_>) -> Self {
        match name.shared {
            Some(shared) if std::ptr::eq(&**shared, name.text) => Self(shared.clone()),
            _ => Self(Text::from(name.text)),
        }
    }

    /// Whether `text` is this name: the same address and length (the string is kept alive and never
    /// changes, so that is the same text), or else the same contents.
    #[inline]
    fn matches(&self, text: &str) -> bool {
        std::ptr::eq(&*self.0, text) || *self.0 == *text
    }
}

/// One cached rule-result series of a request group.
struct RuleEntry<T> {
    policy: StoredName,
    rule: StoredName,
    status: RuleStatus,
    action: FailureAction,
    kind: RuleKind,
    handles: T,
}

impl<T> RuleEntry<T> {
    #[inline]
    fn matches(&self, key: &RuleKey<'_>) -> bool {
        self.status == key.status
            && self.action == key.action
            && self.kind == key.kind
            && self.rule.matches(key.rule.text)
            && self.policy.matches(key.policy.text)
    }
}

/// The series of one request key (resource kind, namespace, operation), by rule.
struct Group<T> {
    resource_kind: Option<Box<str>>,
    namespace: Option<Box<str>>,
    operation: &'static str,
    rules: Table<RuleEntry<T>>,
}

impl<T> Group<T> {
    fn new(key: &RequestKey<'_>) -> Self {
        Self {
            resource_kind: key.resource_kind.map(Box::from),
            namespace: key.namespace.map(Box::from),
            operation: key.operation,
            rules: Table::default(),
        }
    }

    fn matches(&self, key: &RequestKey<'_>) -> bool {
        self.operation == key.operation
            && self.resource_kind.as_deref() == key.resource_kind
            && self.namespace.as_deref() == key.namespace
    }
}

/// Entries by a precomputed hash, in an open-addressing index with linear probing; entries are never
/// removed, and the index is kept at most half full.
struct Table<E> {
    /// Per slot, the index of its entry plus one, or 0 when empty; a power of two in length (or empty).
    slots: Vec<usize>,
    /// Entries with their hashes, in insertion order.
    entries: Vec<(u64, E)>,
}

impl<E> Default for Table<E> {
    fn default() -> Self {
        Self { slots: Vec::new(), entries: Vec::new() }
    }
}

impl<E> Table<E> {
    /// The first slot to probe for `hash`: high bits, which the multiply of [`WordHasher`] mixes best.
    fn home(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.slots.len().wrapping_sub(1))
    }

    /// The index of the entry with `hash` for which `eq` holds.
    #[inline]
    fn position(&self, hash: u64, eq: impl Fn(&E) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.home(hash);
        loop {
            let index = self.slots[slot].checked_sub(1)?;
            let (entry_hash, entry) = &self.entries[index];
            if *entry_hash == hash && eq(entry) {
                return Some(index);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The entry with `hash` for which `eq` holds.
    fn find(&self, hash: u64, eq: impl Fn(&E) -> bool) -> Option<&E> {
        self.position(hash, eq).map(|index| self.get(index))
    }

    /// Like [`Table::position`], but tries the entry at index `guess` first, and hashes only when that is
    /// not the one.
    #[inline]
    fn position_guessing(&self, guess: usize, hash: impl FnOnce() -> u64, eq: impl Fn(&E) -> bool) -> Option<usize> {
        match self.entries.get(guess) {
            Some((_, entry)) if eq(entry) => Some(guess),
            _ => self.position(hash(), eq),
        }
    }

    /// The entry at `index` (from [`Table::position`] or [`Table::insert`]).
    fn get(&self, index: usize) -> &E {
        &self.entries[index].1
    }

    /// The entry at `index`, mutably.
    fn get_mut(&mut self, index: usize) -> &mut E {
        &mut self.entries[index].1
    }

    /// Adds an entry (which must not be present yet) and returns its index.
    fn insert(&mut self, hash: u64, entry: E) -> usize {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.slots = vec![0; (self.slots.len() * 2).max(16)];
            for index in 0..self.entries.len() {
                self.place(self.entries[index].0, index);
            }
        }
        let index = self.entries.len();
        self.entries.push((hash, entry));
        self.place(hash, index);
        index
    }

    /// Points the first free slot from `hash`'s home at entry `index`.
    fn place(&mut self, hash: u64, index: usize) {
        let mask = self.slots.len() - 1;
        let mut slot = self.home(hash);
        while self.slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = index + 1;
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn values(&self) -> impl Iterator<Item = &E> {
        self.entries.iter().map(|(_, entry)| entry)
    }
}

/// A multiply-rotate hash over 8-byte words (the scheme of rustc's FxHasher): a few instructions
/// per word where FNV-1a spends several per byte. Not DoS-resistant, which label values from
/// policies and requests need not be: every key is compared in full after the hash matches.
struct WordHasher(u64);

impl WordHasher {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;

    #[inline]
    fn word(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }

    /// Feeds `bytes` and their length, so field boundaries change the hash.
    fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        self.word(short_word(chunks.remainder()));
        self.word(bytes.len() as u64);
    }

    /// Feeds the length and the first and last eight bytes of `bytes` (all of them when shorter).
    #[inline]
    fn sketch(&mut self, bytes: &[u8]) {
        match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(first), Some(last)) => {
                self.word(u64::from_le_bytes(*first));
                self.word(u64::from_le_bytes(*last) ^ bytes.len() as u64);
            }
            _ => self.word(short_word(bytes) ^ (bytes.len() as u64) << 56),
        }
    }
}

/// Up to 7 bytes as one word, by 4-, 2- and 1-byte reads (a variable-length copy would call memcpy).
#[inline]
fn short_word(mut bytes: &[u8]) -> u64 {
    let mut word = 0u64;
    if let Some((four, rest)) = bytes.split_first_chunk::<4>() {
        word = u64::from(u32::from_le_bytes(*four));
        bytes = rest;
    }
    if let Some((two, rest)) = bytes.split_first_chunk::<2>() {
        word = (word << 16) | u64::from(u16::from_le_bytes(*two));
        bytes = rest;
    }
    if let Some(&one) = bytes.first() {
        word = (word << 8) | u64::from(one);
    }
    word
}

/// Series handles by key; grows with the number of distinct series, like the metric families themselves.
pub struct SeriesCache<T> {
    groups: RwLock<Table<Group<T>>>,
}

impl<T> Default for SeriesCache<T> {
    fn default() -> Self {
        Self { groups: RwLock::new(Table::default()) }
    }
}

impl<T> SeriesCache<T> {
    /// Calls `visit` with the handles of each rule key of one request (and its item), creating missing
    /// handles with `make`; the cache is locked once for all keys (and once more to insert, only when a
    /// key is new).
    pub fn visit_each<'k, I: Copy>(
        &self,
        request: RequestKey<'_>,
        rules: impl IntoIterator<Item = (RuleKey<'k>, I)>,
        make: impl Fn(&SeriesKey<'_>) -> T,
        mut visit: impl FnMut(&T, I),
    ) {
        let request_hash = request.hash();
        let mut missing = Vec::new();
        {
            let groups = self.groups.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            match groups.find(request_hash, |group| group.matches(&request)) {
                Some(group) => {
                    let series = &group.rules;
                    // A group's entries are in the order their results first came, and requests of one kind
                    // tend to repeat that order: the entry after the last one found is tried before hashing.
                    let mut guess = 0;
                    for (rule, item) in rules {
                        match series.position_guessing(guess, || rule.hash(), |entry| entry.matches(&rule)) {
                            Some(index) => {
                                visit(&series.get(index).handles, item);
                                guess = index + 1;
                            }
                            None => missing.push((rule, item)),
                        }
                    }
                }
                None => missing.extend(rules),
            }
        }
        if missing.is_empty() {
            return;
        }
        let mut groups = self.groups.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let group = match groups.position(request_hash, |group| group.matches(&request)) {
            Some(index) => index,
            None => groups.insert(request_hash, Group::new(&request)),
        };
        let rules = &mut groups.get_mut(group).rules;
        for (rule, item) in missing {
            let hash = rule.hash();
            let index = match rules.position(hash, |entry| entry.matches(&rule)) {
                Some(index) => index,
                None => {
                    let entry = RuleEntry {
                        policy: StoredName::new(rule.policy),
                        rule: StoredName::new(rule.rule),
                        status: rule.status,
                        action: rule.action,
                        kind: rule.kind,
                        handles: make(&rule.series(&request)),
                    };
                    rules.insert(hash, entry)
                }
            };
            visit(&rules.get(index).handles, item);
        }
    }

    /// Number of cached series.
    pub fn len(&self) -> usize {
        let groups = self.groups.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        groups.values().map(|group| group.rules.len()).sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(namespace: Option<&str>) -> RequestKey<'_> {
        RequestKey { resource_kind: Some("Pod"), namespace, operation: "create" }
    }

    fn rule<'a>(policy: &'a str, rule: &'a str) -> RuleKey<'a> {
        RuleKey {
            policy: policy.into(),
            rule: rule.into(),
            status: RuleStatus::Fail,
            action: FailureAction::Enforce,
            kind: RuleKind::Validation,
        }
    }

    /// Counts `make` calls and returns the handle (the count when made) of one key.
    fn getter(cache: &SeriesCache<u32>) -> impl Fn(RequestKey<'_>, RuleKey<'_>) -> u32 + '_ {
        let made = std::cell::Cell::new(0);
        move |request, rule| {
            let mut got = 0;
            let make = |_: &SeriesKey<'_>| {
                made.set(made.get() + 1);
                made.get()
            };
            cache.visit_each(request, [(rule, ())], make, |handles, ()| got = *handles);
            got
        }
    }

    #[test]
    fn distinct_keys_get_distinct_handles() {
        let cache: SeriesCache<u32> = SeriesCache::default();
        let get = getter(&cache);
        assert_eq!(get(request(Some("a")), rule("p", "r")), 1);
        assert_eq!(get(request(Some("a")), rule("p", "r")), 1);
        assert_eq!(get(request(Some("b")), rule("p", "r")), 2);
        assert_eq!(get(request(None), rule("p", "r")), 3);
        // Field boundaries matter: ("pr", "") is not ("p", "r").
        assert_eq!(get(request(Some("a")), rule("pr", "")), 4);
        assert_eq!(get(request(Some("a")), rule("p", "r")), 1);
        assert_eq!(cache.len(), 4);
        // Several keys at once, one of them new and twice in the batch: made once, visited twice.
        let mut seen = Vec::new();
        let batch = [(rule("p", "r"), 1), (rule("q", "r"), 2), (rule("q", "r"), 3)];
        cache.visit_each(request(Some("a")), batch, |_| 9, |handles, item| seen.push((*handles, item)));
        assert_eq!(seen, [(1, 1), (9, 2), (9, 3)]);
        assert_eq!(cache.len(), 5);
        // Known keys against the order they were made in (each tried entry the wrong one), then in it.
        let mut seen = Vec::new();
        let batch =
            [(rule("q", "r"), 1), (rule("pr", ""), 2), (rule("p", "r"), 3), (rule("pr", ""), 4), (rule("q", "r"), 5)];
        cache.visit_each(request(Some("a")), batch, |_| 0, |handles, item| seen.push((*handles, item)));
        assert_eq!(seen, [(9, 1), (4, 2), (1, 3), (4, 4), (9, 5)]);
    }

    #[test]
    fn names_match_by_contents_whatever_string_holds_them() {
        let cache: SeriesCache<u32> = SeriesCache::default();
        let get = getter(&cache);
        let policy = Text::interned("require-run-as-non-root");
        let rule_name = Text::from("run-as-non-root");
        let shared = |policy, rule_name| RuleKey { policy, rule: rule_name, ..rule("", "") };
        assert_eq!(get(request(Some("a")), shared(Name::from(&policy), Name::from(&rule_name))), 1);
        // The cached name is the shared string itself.
        assert_eq!(get(request(Some("a")), shared(Name::from(&policy), Name::from(&rule_name))), 1);
        // Fresh copies (an engine that builds names per request, or a reload) find the same series.
        let (policy_copy, rule_copy): (Text, String) = (Text::from(&*policy), rule_name.to_string());
        assert_eq!(get(request(Some("a")), shared(Name::from(&policy_copy), Name::from(rule_copy.as_str()))), 1);
        // A shared string the text is not borrowed from is not kept; the text is copied.
        let other = Text::from("x");
        let unrelated = Name { text: "another-rule", shared: Some(&other) };
        assert_eq!(get(request(Some("a")), shared(Name::from(&policy), unrelated)), 2);
        assert_eq!(get(request(Some("a")), rule("require-run-as-non-root", "another-rule")), 2);
        // A prefix of a cached name at the same address is another name.
        let prefix = Name { text: &rule_name[..3], shared: Some(&rule_name) };
        assert_eq!(get(request(Some("a")), shared(Name::from(&policy), prefix)), 3);
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn every_request_and_rule_field_is_its_own_series() {
        let cache: SeriesCache<usize> = SeriesCache::default();
        let statuses = [RuleStatus::Pass, RuleStatus::Fail, RuleStatus::Warn, RuleStatus::Error, RuleStatus::Skip];
        let made = std::cell::Cell::new(0);
        let mut seen = std::collections::HashSet::new();
        for pass in 0..2 {
            for operation in ["create", "update", "delete", "connect"] {
                for resource_kind in [Some("Pod"), Some("Deployment"), None] {
                    let request = RequestKey { resource_kind, namespace: Some("ns"), operation };
                    let mut rules = Vec::new();
                    for status in statuses {
                        for action in [FailureAction::Audit, FailureAction::Enforce] {
                            for kind in [RuleKind::Validation, RuleKind::Mutation] {
                                rules.push((
                                    RuleKey { status, action, kind, ..rule("p", "rule-with-a-longer-name") },
                                    (),
                                ));
                            }
                        }
                    }
                    let make = |_: &SeriesKey<'_>| {
                        made.set(made.get() + 1);
                        made.get()
                    };
                    cache.visit_each(request, rules, make, |handles, ()| {
                        // Each handle is seen once per pass.
                        assert!(seen.insert((pass, *handles)));
                    });
                }
            }
        }
        assert_eq!(made.get(), 4 * 3 * 5 * 2 * 2);
        assert_eq!(cache.len(), made.get());
        assert_eq!(seen.len(), 2 * made.get());
    }

    #[test]
    fn tables_grow_and_keep_every_entry() {
        let mut table: Table<u32> = Table::default();
        // Seven distinct hashes: long probe runs that wrap around, and entries told apart only by `eq`.
        for value in 0..1000u32 {
            let hash = u64::from(value % 7) << 32;
            assert_eq!(table.position(hash, |v| *v == value), None);
            assert_eq!(table.insert(hash, value), value as usize);
        }
        for value in 0..1000u32 {
            let hash = u64::from(value % 7) << 32;
            assert_eq!(table.position(hash, |v| *v == value), Some(value as usize));
        }
        assert_eq!(table.len(), 1000);
    }

    #[test]
    fn hashes_see_every_tail_length_and_both_ends_of_names() {
        let text = "abcdefghijklmnopqrstuvwxyz";
        let hashes: std::collections::HashSet<u64> = (0..=text.len()).map(|n| rule(&text[..n], "r").hash()).collect();
        assert_eq!(hashes.len(), text.len() + 1);
        let hashes: std::collections::HashSet<u64> = (0..=text.len()).map(|n| rule("p", &text[n..]).hash()).collect();
        assert_eq!(hashes.len(), text.len() + 1);
        let namespaces: std::collections::HashSet<u64> =
            (0..=text.len()).map(|n| request(Some(&text[..n])).hash()).collect();
        assert_eq!(namespaces.len(), text.len() + 1);
    }
}
