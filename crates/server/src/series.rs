//! A cache in front of the rule-result metric families. prometheus-client looks a series up by hashing
//! its whole label set with SipHash, after allocating every label string; a request with many rule
//! results paid that per result and per metric. Here a series is found by an FNV-1a hash of borrowed
//! fields, and the cached counter and histogram handles (which share their values with the registry) are
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
    fn fnv(&self) -> u64 {
        const PRIME: u64 = 0x100_0000_01b3;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(PRIME);
            }
            // A separator no label byte sequence ends with ambiguously.
            hash = (hash ^ 0xff).wrapping_mul(PRIME);
        };
        feed(self.policy.as_bytes());
        feed(self.rule.as_bytes());
        feed(self.status.as_str().as_bytes());
        feed(self.action.as_str().as_bytes());
        feed(self.kind.as_str().as_bytes());
        feed(self.resource_kind.unwrap_or("\u{0}").as_bytes());
        feed(self.namespace.unwrap_or("\u{0}").as_bytes());
        feed(self.operation.as_bytes());
        hash
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
        let hash = key.fnv();
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
