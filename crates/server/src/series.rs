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
        h.bytes(self.status.as_str().as_bytes());
        h.bytes(self.action.as_str().as_bytes());
        h.bytes(self.kind.as_str().as_bytes());
        h.bytes(self.resource_kind.unwrap_or("\u{0}").as_bytes());
        h.bytes(self.namespace.unwrap_or("\u{0}").as_bytes());
        h.bytes(self.operation.as_bytes());
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
        // The tail assembled by shifts (a variable-length copy would call memcpy).
        let last = chunks.remainder().iter().rev().fold(0u64, |word, &b| (word << 8) | u64::from(b));
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

impl<T: Clone> SeriesCache<T> {
    /// The handles of `key`, created by `make` the first time.
    pub fn get_or_insert_with(&self, key: &SeriesKey<'_>, make: impl FnOnce() -> T) -> T {
        let hash = key.hash();
        {
            let map = self.map.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((_, handles)) = map.get(&hash).and_then(|bucket| bucket.iter().find(|(k, _)| k.matches(key))) {
                return handles.clone();
            }
        }
        let mut map = self.map.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = map.entry(hash).or_default();
        if let Some((_, handles)) = bucket.iter().find(|(k, _)| k.matches(key)) {
            return handles.clone();
        }
        let handles = make();
        bucket.push((key.owned(), handles.clone()));
        handles
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
        let mut next = 0;
        let mut get = |k: SeriesKey<'_>| {
            cache.get_or_insert_with(&k, || {
                next += 1;
                next
            })
        };
        assert_eq!(get(key("p", "r", Some("a"))), 1);
        assert_eq!(get(key("p", "r", Some("a"))), 1);
        assert_eq!(get(key("p", "r", Some("b"))), 2);
        assert_eq!(get(key("p", "r", None)), 3);
        // Field boundaries matter: ("pr", "") is not ("p", "r").
        assert_eq!(get(key("pr", "", Some("a"))), 4);
        assert_eq!(get(key("p", "r", Some("a"))), 1);
        assert_eq!(cache.len(), 4);
    }
}
