//! Kyverno-style wildcards: `*` matches any run of characters, `?` any one character.

use crate::Text;
use wildmatch::WildMatch;

/// A compiled wildcard pattern; a pattern without `*`/`?` compares by equality.
#[derive(Debug, Clone)]
pub enum Wildcard {
    /// A literal string.
    Exact(Text),
    /// A pattern containing `*` or `?`.
    Pattern(WildMatch),
}

impl Wildcard {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Self {
        if has_wildcard(pattern) {
            Wildcard::Pattern(WildMatch::new(pattern))
        } else {
            Wildcard::Exact(Text::from(pattern))
        }
    }

    /// Like [`Wildcard::new`], with a literal interned ([`Text::interned`]): for the few texts every policy
    /// repeats (kinds), so that matching many policies compares against one copy in memory instead of
    /// one per policy, each elsewhere on the heap.
    pub fn interned(pattern: &str) -> Self {
        if has_wildcard(pattern) {
            Wildcard::Pattern(WildMatch::new(pattern))
        } else {
            Wildcard::Exact(Text::interned(pattern))
        }
    }

    /// Whether `text` matches the pattern.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Wildcard::Exact(s) => s.as_str() == text,
            Wildcard::Pattern(p) => p.matches(text),
        }
    }
}

/// Whether `text` contains a wildcard character.
pub fn has_wildcard(text: &str) -> bool {
    // A byte scan: `*` and `?` are ASCII, so they never occur inside a multi-byte UTF-8 sequence.
    text.bytes().any(|b| b == b'*' || b == b'?')
}

/// One-shot wildcard match (compiles the pattern; prefer [`Wildcard`] on hot paths).
pub fn matches(pattern: &str, text: &str) -> bool {
    if has_wildcard(pattern) { WildMatch::new(pattern).matches(text) } else { pattern == text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark() {
        assert!(matches("kube-*", "kube-system"));
        assert!(matches("*", ""));
        assert!(matches("ng?nx", "nginx"));
        assert!(!matches("ng?nx", "ngiinx"));
        assert!(matches("prod", "prod"));
        assert!(!matches("prod", "production"));
    }
}
