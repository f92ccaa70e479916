//! A cache in front of the rule-result metric families. prometheus-client looks a series up by hashing
//! its whole label set with SipHash, after allocating every label string; a request with many rule
//! results paid that per result and per metric. Here a series is found by a word-at-a-time hash of
//! borrowed fields, and the cached counter and histogram handles (which share their values with the registry) are
//! updated directly.

use palisade_engine::{FailureAction, RuleKind, RuleStatus};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
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

impl SeriesKey<'_> {
    fn hash(&self) -> u64 {
        let mut h = WordHasher(0);
        h.bytes(self.policy.as_bytes());
        h.bytes(self.rule.as_bytes());
        // The enums by discriminant; the operation is one of four static strings, told apart by length and
        // first byte.
        h.word((self.status as u64) | (self.action as u64) << 8 | (self.kind as u64) << 16);
        h.word(self.operation.len() as u64 | u64::from(self.operation.as_bytes().first().copied().unwrap_or(0)) << 8);
        h.bytes(self.resource_kind.unwrap_or("\u{0}").as_bytes());
        h.bytes(self.namespace.unwrap_or("\u{0}").as_bytes());
        h.0
    }

    fn owned(self) -> OwnedKey {
        OwnedKey {
            policy: self.policy.to_string(),
            rule: self.rule.to_string(),
            status: self.status,
            action: self.action,
            kind: self.kind,
            resource_kind: self.resource_kind.map(str::to_string),
            namespace: self.namespace.map(str::to_string),
            operation: self.operation,
        }
    }
}

#[derive(Debug)]
struct OwnedKey {
    policy: String,
    rule: String,
    status: RuleStatus,
    action: FailureAction,
    kind: RuleKind,
    resource_kind: Option<String>,
    namespace: Option<String>,
    operation: &'static str,
}

impl OwnedKey {
    fn matches(&self, key: &SeriesKey<'_>) -> bool {
        self.policy == key.policy
            && self.rule == key.rule
            && self.status == key.status
            && self.action == key.action
            && self.kind == key.kind
            && self.resource_kind.as_deref() == key.resource_kind
            && self.namespace.as_deref() == key.namespace
            && self.operation == key.operation
    }
}

/// A multiply-rotate hash over 8-byte words (the scheme of rustc's FxHasher): a few instructions
/// per word where FNV-1a spends several per byte. Not DoS-resistant, which label values from
/// policies and requests need not be: every key is compared in full after the hash matches.
struct WordHasher(u64);

impl WordHasher {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;

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
        // The tail: 4-, 2- and 1-byte reads (a variable-length copy would call memcpy).
        let mut tail = chunks.remainder();
        let mut last = 0u64;
        if let Some((four, rest)) = tail.split_first_chunk::<4>() {
            last = u64::from(u32::from_le_bytes(*four));
            tail = rest;
        }
        if let Some((two, rest)) = tail.split_first_chunk::<2>() {
            last = (last << 16) | u64::from(u16::from_le_bytes(*two));
            tail = rest;
        }
        if let Some(&one) = tail.first() {
            last = (last << 8) | u64::from(one);
        }
        self.word(last);
        self.word(bytes.len() as u64);
    }
}

/// Passes a precomputed `u64` hash through.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Buckets<T> = HashMap<u64, Vec<(OwnedKey, T)>, BuildHasherDefault<IdentityHasher>>;

/// Series handles by key; grows with the number of distinct series, like the metric families themselves.
pub struct SeriesCache<T> {
    map: RwLock<Buckets<T>>,
}

impl<T> Default for SeriesCache<T> {
    fn default() -> Self {
        Self { map: RwLock::new(HashMap::default()) }
    }
}

impl<T> SeriesCache<T> {
    /// Calls `visit` with the handles of each key (and its item), creating missing handles with `make`;
    /// the cache is locked once for all keys (and once more to insert, only when a key is new).
    pub fn visit_each<'k, I: Copy>(
        &self,
        keys: impl IntoIterator<Item = (SeriesKey<'k>, I)>,
        make: impl Fn(&SeriesKey<'_>) -> T,
        mut visit: impl FnMut(&T, I),
    ) {
        let mut missing = Vec::new();
        {
            let map = self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (key, item) in keys {
                let hash = key.hash();
                match map.get(&hash).and_then(|bucket| bucket.iter().find(|(k, _)| k.matches(&key))) {
                    Some((_, handles)) => visit(handles, item),
                    None => missing.push((hash, key, item)),
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (hash, key, item) in missing {
            let bucket = map.entry(hash).or_default();
            match bucket.iter().position(|(k, _)| k.matches(&key)) {
                Some(i) => visit(&bucket[i].1, item),
                None => {
                    let handles = make(&key);
                    visit(&handles, item);
                    bucket.push((key.owned(), handles));
                }
            }
        }
    }

    /// Number of cached series.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner()).values().map(Vec::len).sum()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(policy: &'a str, rule: &'a str, namespace: Option<&'a str>) -> SeriesKey<'a> {
        SeriesKey {
            policy,
            rule,
            status: RuleStatus::Fail,
            action: FailureAction::Enforce,
            kind: RuleKind::Validation,
            resource_kind: Some("Pod"),
            namespace,
            operation: "create",
        }
    }

    #[test]
    fn distinct_keys_get_distinct_handles() {
        let cache: SeriesCache<u32> = SeriesCache::default();
        let made = std::cell::Cell::new(0);
        let get = |k: SeriesKey<'_>| {
            let mut got = 0;
            let make = |_: &SeriesKey<'_>| {
                made.set(made.get() + 1);
                made.get()
            };
            cache.visit_each([(k, ())], make, |handles, ()| got = *handles);
            got
        };
        assert_eq!(get(key("p", "r", Some("a"))), 1);
        assert_eq!(get(key("p", "r", Some("a"))), 1);
        assert_eq!(get(key("p", "r", Some("b"))), 2);
        assert_eq!(get(key("p", "r", None)), 3);
        // Field boundaries matter: ("pr", "") is not ("p", "r").
        assert_eq!(get(key("pr", "", Some("a"))), 4);
        assert_eq!(get(key("p", "r", Some("a"))), 1);
        assert_eq!(cache.len(), 4);
        // Several keys at once, one of them new and twice in the batch: made once, visited twice.
        let mut seen = Vec::new();
        let batch = [(key("p", "r", Some("a")), 1), (key("q", "r", Some("a")), 2), (key("q", "r", Some("a")), 3)];
        cache.visit_each(batch, |_| 9, |handles, item| seen.push((*handles, item)));
        assert_eq!(seen, [(1, 1), (9, 2), (9, 3)]);
        assert_eq!(cache.len(), 5);
    }

    #[test]
    fn every_operation_and_status_is_its_own_series() {
        let cache: SeriesCache<usize> = SeriesCache::default();
        let mut keys = Vec::new();
        for operation in ["create", "update", "delete", "connect"] {
            for status in [RuleStatus::Pass, RuleStatus::Fail, RuleStatus::Warn, RuleStatus::Error, RuleStatus::Skip] {
                for action in [FailureAction::Audit, FailureAction::Enforce] {
                    keys.push(SeriesKey {
                        operation,
                        status,
                        action,
                        ..key("p", "rule-with-a-longer-name", Some("ns"))
                    });
                }
            }
        }
        let made = std::cell::Cell::new(0);
        let make = |_: &SeriesKey<'_>| {
            made.set(made.get() + 1);
            made.get()
        };
        cache.visit_each(keys.iter().map(|k| (*k, ())), make, |_, ()| {});
        assert_eq!(made.get(), keys.len());
        let hashes: std::collections::HashSet<u64> = keys.iter().map(SeriesKey::hash).collect();
        assert_eq!(hashes.len(), keys.len(), "distinct keys should rarely share a hash, and these do not");
    }

    #[test]
    fn tails_of_every_length_hash_differently() {
        let text = "abcdefghijklmnopq";
        let hashes: std::collections::HashSet<u64> =
            (0..=text.len()).map(|n| key(&text[..n], "r", Some("a")).hash()).collect();
        assert_eq!(hashes.len(), text.len() + 1);
    }
}
