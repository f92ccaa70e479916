//! Kyverno anchor keys as they appear in mutate patches: `(key)`, `<(key)`, `+(key)`, `=(key)`, `X(key)`, `^(key)`.

/// The kind of an anchor, from its modifier character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    /// `(key)`: conditional anchor.
    Condition,
    /// `<(key)`: global conditional anchor.
    Global,
    /// `X(key)`: negation anchor.
    Negation,
    /// `+(key)`: add-if-not-present anchor.
    AddIfNotPresent,
    /// `=(key)`: equality anchor.
    Equality,
    /// `^(key)`: existence anchor.
    Existence,
}

/// A parsed anchor key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor<'a> {
    /// The anchor kind.
    pub kind: AnchorKind,
    /// The key inside the parentheses.
    pub key: &'a str,
}

impl<'a> Anchor<'a> {
    /// Parses `text` the way Kyverno's `anchor.Parse` does; `None` if it is not an anchor.
    pub fn parse(text: &'a str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() < 2 || bytes[bytes.len() - 1] != b')' {
            return None;
        }
        let (kind, key) = match bytes[0] {
            b'(' => (AnchorKind::Condition, &text[1..text.len() - 1]),
            b'+' | b'=' | b'X' | b'^' | b'<' => {
                // Upstream slices `str[2:len-1]` without checking that the second byte is `(`.
                if bytes.len() < 3 || !text.is_char_boundary(2) {
                    return None;
                }
                let kind = match bytes[0] {
                    b'+' => AnchorKind::AddIfNotPresent,
                    b'=' => AnchorKind::Equality,
                    b'X' => AnchorKind::Negation,
                    b'^' => AnchorKind::Existence,
                    _ => AnchorKind::Global,
                };
                (kind, &text[2..text.len() - 1])
            }
            _ => return None,
        };
        if key.is_empty() { None } else { Some(Anchor { kind, key }) }
    }

    /// Conditional or global conditional anchor (Kyverno's `ContainsCondition`).
    pub fn is_condition_like(&self) -> bool {
        matches!(self.kind, AnchorKind::Condition | AnchorKind::Global)
    }
}

/// Whether `key` is a conditional, global or add-if-not-present anchor (Kyverno's mutate `hasAnchor`).
pub(crate) fn is_mutate_anchor(key: &str) -> bool {
    Anchor::parse(key).is_some_and(|a| a.is_condition_like() || a.kind == AnchorKind::AddIfNotPresent)
}

/// Whether `key` is a conditional or global anchor.
pub(crate) fn is_condition_key(key: &str) -> bool {
    Anchor::parse(key).is_some_and(|a| a.is_condition_like())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_modifiers() {
        let cases = [
            ("(image)", Some((AnchorKind::Condition, "image"))),
            ("<(hostPath)", Some((AnchorKind::Global, "hostPath"))),
            ("+(runtimeClassName)", Some((AnchorKind::AddIfNotPresent, "runtimeClassName"))),
            ("=(a)", Some((AnchorKind::Equality, "a"))),
            ("X(a)", Some((AnchorKind::Negation, "a"))),
            ("^(a)", Some((AnchorKind::Existence, "a"))),
            ("(a(b))", Some((AnchorKind::Condition, "a(b)"))),
            ("()", None),
            ("+()", None),
            ("name", None),
            ("(name", None),
            ("Y(a)", None),
            (")", None),
        ];
        for (text, want) in cases {
            let got = Anchor::parse(text).map(|a| (a.kind, a.key));
            assert_eq!(got, want, "{text}");
        }
    }
}
