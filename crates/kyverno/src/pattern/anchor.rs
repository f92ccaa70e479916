//! Kyverno anchor keys: `(key)`, `=(key)`, `X(key)`, `^(key)`, `<(key)` and `+(key)`.

/// The kind of an anchor, from its modifier character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnchorKind {
    /// `(key)`: if the key is present its value must match, otherwise the rule does not apply.
    Conditional,
    /// `<(key)`: like a conditional anchor, but a mismatch skips the whole pattern.
    Global,
    /// `X(key)`: the key must be absent.
    Negation,
    /// `+(key)`: add if not present (mutation only).
    AddIfNotPresent,
    /// `=(key)`: if the key is present its value must match.
    Equality,
    /// `^(key)`: at least one element of the list must match.
    Existence,
}

/// A parsed anchor: its kind and the bare key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor<'a> {
    /// What the anchor does.
    pub kind: AnchorKind,
    /// The key without modifier and parentheses.
    pub key: &'a str,
}

impl AnchorKind {
    /// The modifier prefix written before the opening parenthesis.
    pub fn modifier(self) -> &'static str {
        match self {
            AnchorKind::Conditional => "",
            AnchorKind::Global => "<",
            AnchorKind::Negation => "X",
            AnchorKind::AddIfNotPresent => "+",
            AnchorKind::Equality => "=",
            AnchorKind::Existence => "^",
        }
    }
}

/// Parses `text` as an anchor (`^([+<=X^])?\((.+)\)$`); `None` when it is a plain key.
pub fn parse(text: &str) -> Option<Anchor<'_>> {
    let inner = text.strip_suffix(')')?;
    let (kind, rest) = match inner.as_bytes().first()? {
        b'(' => (AnchorKind::Conditional, &inner[1..]),
        b'<' => (AnchorKind::Global, inner[1..].strip_prefix('(')?),
        b'X' => (AnchorKind::Negation, inner[1..].strip_prefix('(')?),
        b'+' => (AnchorKind::AddIfNotPresent, inner[1..].strip_prefix('(')?),
        b'=' => (AnchorKind::Equality, inner[1..].strip_prefix('(')?),
        b'^' => (AnchorKind::Existence, inner[1..].strip_prefix('(')?),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    Some(Anchor { kind, key: rest })
}

/// Formats an anchor of `kind` around `key` (the inverse of [`parse`]).
pub fn format(kind: AnchorKind, key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 3);
    out.push_str(kind.modifier());
    out.push('(');
    out.push_str(key);
    out.push(')');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_vectors() {
        // Ported from upstream anchor_test.go.
        let cases: &[(&str, Option<(AnchorKind, &str)>)] = &[
            ("(something)", Some((AnchorKind::Conditional, "something"))),
            ("()", None),
            ("something", None),
            ("(something", None),
            ("something)", None),
            ("so)m(et(hin)g", None),
            ("", None),
            ("^(abc)", Some((AnchorKind::Existence, "abc"))),
            ("^(abc", None),
            ("^abc", None),
            ("=(abc)", Some((AnchorKind::Equality, "abc"))),
            ("=(abc", None),
            ("=abc", None),
            ("+(abc)", Some((AnchorKind::AddIfNotPresent, "abc"))),
            ("+(abc", None),
            ("+abc", None),
            ("X(abc)", Some((AnchorKind::Negation, "abc"))),
            ("X(abc", None),
            ("Xabc", None),
            ("Xabc)", None),
            ("<(abc)", Some((AnchorKind::Global, "abc"))),
            ("<(abc", None),
            ("<abc", None),
            ("X()", None),
            ("(a)(b)", Some((AnchorKind::Conditional, "a)(b"))),
            ("=(kubernetes.io/*)", Some((AnchorKind::Equality, "kubernetes.io/*"))),
            ("Y(abc)", None),
        ];
        for (text, want) in cases {
            let got = parse(text).map(|a| (a.kind, a.key));
            assert_eq!(got, *want, "parse({text:?})");
        }
    }

    #[test]
    fn format_round_trips() {
        for kind in [
            AnchorKind::Conditional,
            AnchorKind::Global,
            AnchorKind::Negation,
            AnchorKind::AddIfNotPresent,
            AnchorKind::Equality,
            AnchorKind::Existence,
        ] {
            let text = format(kind, "name");
            assert_eq!(parse(&text), Some(Anchor { kind, key: "name" }));
        }
    }
}
