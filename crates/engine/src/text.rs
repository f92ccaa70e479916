//! [`Text`]: the names and messages a [`RuleResult`](crate::RuleResult) carries. Every admission request
//! copies the policy name, the rule name and (for passing rules) a fixed message into each result; as
//! `Arc<str>` that was an atomic increment and decrement per copy on counters both worker threads share,
//! which kept the cache lines around the policies' data moving between cores. Names a compiled policy
//! holds are interned instead (kept for the life of the process, once per distinct text), so copying
//! them is copying a pointer; messages built per request are shared as before.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// An immutable string: interned (copied as a pointer) or shared (reference-counted).
#[derive(Clone)]
pub enum Text {
    /// Interned with [`Text::interned`], or a literal.
    Static(&'static str),
    /// Built at run time.
    Shared(Arc<str>),
}

/// Every text interned so far. Policy, rule and message texts repeat across reloads, so this grows with
/// the distinct texts of the policies ever loaded, not with reloads or requests.
static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

impl Text {
    /// The process-wide copy of `text`, made on first use (for names compiled policies hand out on
    /// every request; not for per-request text, which would never be freed).
    pub fn interned(text: &str) -> Text {
        Text::Static(interned_str(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Text::Static(s) => s,
            Text::Shared(s) => s,
        }
    }
}

/// The process-wide copy of `text` (see [`Text::interned`]). Each thread remembers the copies it has asked
/// for, so a name asked for again (a context entry's, on the admission path) takes no lock.
pub fn interned_str(text: &str) -> &'static str {
    thread_local! {
        static SEEN: std::cell::RefCell<HashSet<&'static str>> = std::cell::RefCell::new(HashSet::new());
    }
    if let Some(seen) = SEEN.with_borrow(|seen| seen.get(text).copied()) {
        return seen;
    }
    let copy = {
        let mut set = INTERNED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let set = set.get_or_insert_with(HashSet::new);
        match set.get(text) {
            Some(&existing) => existing,
            None => {
                let leaked: &'static str = Box::leak(Box::from(text));
                set.insert(leaked);
                leaked
            }
        }
    };
    SEEN.with_borrow_mut(|seen| seen.insert(copy));
    copy
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::Shared(Arc::from(text))
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text::Shared(Arc::from(text))
    }
}

impl From<&String> for Text {
    fn from(text: &String) -> Self {
        Text::Shared(Arc::from(text.as_str()))
    }
}

impl From<Arc<str>> for Text {
    fn from(text: Arc<str>) -> Self {
        Text::Shared(text)
    }
}

impl From<&Text> for Text {
    fn from(text: &Text) -> Self {
        text.clone()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_texts_are_one_copy_per_distinct_text() {
        let a = Text::interned("require-run-as-non-root");
        let b = Text::interned(&String::from("require-run-as-non-root"));
        let (Text::Static(x), Text::Static(y)) = (&a, &b) else { panic!("interned texts are static") };
        assert!(std::ptr::eq(*x, *y), "the same text is interned once");
        assert_eq!(a, b);
        assert_eq!(a, Text::from("require-run-as-non-root"), "equality is by contents, whatever the storage");
        assert_ne!(a, Text::interned("other"));
        assert_eq!(&*a, "require-run-as-non-root");
        assert_eq!(a.to_string(), "require-run-as-non-root");
        assert_eq!(format!("{a:?}"), "\"require-run-as-non-root\"");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"require-run-as-non-root\"");
        let back: Text = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(back, "x");
    }

    #[test]
    fn threads_share_one_copy_of_each_interned_text() {
        let here = interned_str("team-label");
        assert!(std::ptr::eq(here, interned_str(&String::from("team-label"))));
        let there = std::thread::spawn(|| interned_str("team-label")).join().unwrap();
        assert!(std::ptr::eq(here, there));
        let elsewhere = std::thread::spawn(|| interned_str("named-first-on-another-thread")).join().unwrap();
        assert!(std::ptr::eq(elsewhere, interned_str("named-first-on-another-thread")));
    }
}
