//! Tests of the YAML scalar emitter, with the emitter it replaced kept as a reference.

use super::*;

fn value(text: &str) -> String {
    let mut out = String::from("  rule: ");
    write_yaml_scalar(&mut out, text, 8, 2);
    out.split_off(8)
}

#[test]
fn scalars_are_styled_like_yaml_v2() {
    let cases = [
        ("simple message", "simple message"),
        ("validation error: bad", "'validation error: bad'"),
        ("it's: here", "'it''s: here'"),
        ("- dash", "'- dash'"),
        ("-dash", "-dash"),
        ("true", "\"true\""),
        ("123", "\"123\""),
        ("0x1F", "\"0x1F\""),
        ("1.5", "\"1.5\""),
        ("", "''"),
        ("a #b", "'a #b'"),
        ("ends:", "'ends:'"),
        ("line1\nline2", "|-\n    line1\n    line2"),
    ];
    for (text, want) in cases {
        assert_eq!(value(text), want, "{text:?}");
    }
}

#[test]
fn long_lines_fold_after_column_80() {
    // As Kyverno prints it (from a real denial message).
    let message = "validation error: The label `app.kubernetes.io/name` is required. Rule autogen-check-for-labels failed at path /spec/template/metadata/labels/app.kubernetes.io/name/";
    let mut out = String::from("  autogen-check-for-labels: ");
    write_yaml_scalar(&mut out, message, 28, 2);
    assert_eq!(
        out,
        "  autogen-check-for-labels: 'validation error: The label `app.kubernetes.io/name`\n    is required. Rule autogen-check-for-labels failed at path /spec/template/metadata/labels/app.kubernetes.io/name/'"
    );
}
/// The character-by-character emitter `write_folded` replaced, kept as the reference it must match.
fn folded_reference(text: &str, start_column: usize, indent: usize, quoted: bool) -> String {
    let mut out = String::new();
    let mut column = start_column;
    let mut previous_space = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == ' ' {
            let next_is_space = chars.peek().is_some_and(|&(_, next)| next == ' ');
            let inner = !quoted || (i != 0 && i != text.len() - 1);
            if inner && !previous_space && column > BEST_WIDTH && !next_is_space {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', indent));
                column = indent;
            } else {
                out.push(' ');
                column += 1;
            }
            previous_space = true;
            continue;
        }
        previous_space = false;
        if quoted && c == '\'' {
            out.push_str("''");
            column += 2;
        } else {
            out.push(c);
            column += 1;
        }
    }
    out
}

#[test]
fn folding_word_by_word_matches_the_reference() {
    let all = ["a", "validation", "error:", "it's", "", "ünïcödé", "/spec/containers/0/securityContext/", "''"];
    // Half the texts are plain ASCII without quotes (the fast path), half use every word.
    let plain = ["a", "validation", "error:", "", "/spec/containers/0/securityContext/", "x"];
    // Deterministic pseudo-random texts: words joined by one or more spaces, with leading/trailing spaces.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..4000 {
        let words: &[&str] = if round % 2 == 0 { &plain } else { &all };
        let mut text = String::new();
        for _ in 0..next() % 60 {
            text.push_str(words[(next() % words.len() as u64) as usize]);
            text.push_str(&" ".repeat((next() % 3) as usize));
        }
        for quoted in [false, true] {
            let column = (next() % 90) as usize;
            let want = folded_reference(&text, column, 4, quoted);
            let mut out = String::new();
            let fold = Fold { start_column: column, indent: 4, quoted, breaks: Breaks::Raw };
            write_folded(&mut out, &text, fold, Scan::of(text.as_bytes()).simple);
            assert_eq!(out, want, "{text:?} column {column} quoted {quoted}");
            let mut out = String::new();
            write_folded_bytes(&mut out, &text, fold);
            assert_eq!(out, want, "bytes: {text:?} column {column} quoted {quoted}");
        }
    }
}
#[test]
fn control_check_on_bytes_agrees_with_the_char_check() {
    for c in (0u32..0x800).chain([0x2028, 0xfeff, 0x1f600]).filter_map(char::from_u32) {
        let text = format!("a{c}b");
        assert_eq!(has_control(&text), c.is_control() && c != '\n', "U+{:04X}", c as u32);
    }
}

#[test]
fn byte_checks_see_every_position() {
    // Every length to past two blocks, with one byte of interest at every position (the checks read
    // whole blocks, overlapping ones and the first and last bytes of short texts).
    for len in 0..80 {
        let plain = vec![b'x'; len];
        assert!(Scan::of(&plain).simple, "{len}");
        assert!(!has_indicator(&plain), "{len}");
        for at in 0..len {
            for odd in [b'\'', b'\n', 0x7f, 0x80, 0xff, 0x00, 0x1f] {
                let mut bytes = plain.clone();
                bytes[at] = odd;
                assert!(!Scan::of(&bytes).simple, "{odd:#x} at {at} of {len}");
            }
            for ok in [b' ', b'~', b':', b'#'] {
                let mut bytes = plain.clone();
                bytes[at] = ok;
                assert!(Scan::of(&bytes).simple, "{ok:#x} at {at} of {len}");
                assert_eq!(
                    Scan::of(&bytes).may_hold_indicator,
                    len >= 32 || matches!(ok, b':' | b'#'),
                    "{ok:#x} at {at}"
                );
            }
            for (pair, found) in [(*b": ", true), (*b" #", true), (*b"# ", false), (*b" :", false), (*b"::", false)] {
                let mut bytes = plain.clone();
                bytes[at] = pair[0];
                if let Some(next) = bytes.get_mut(at + 1) {
                    *next = pair[1];
                }
                let want = found && at + 1 < len;
                assert_eq!(has_indicator(&bytes), want, "{:?} at {at} of {len}", String::from_utf8_lossy(&pair));
                assert!(
                    !want || Scan::of(&bytes).may_hold_indicator,
                    "{:?} at {at} of {len}",
                    String::from_utf8_lossy(&pair)
                );
            }
        }
    }
}

/// The scalar emitter as it was before the single-pass classification, kept as the reference the
/// current one must match byte for byte (folding by [`folded_reference`]).
pub(crate) fn write_yaml_scalar_reference(out: &mut String, text: &str, column: usize) {
    let key_indent = out.rsplit('\n').next().map(|line| line.len() - line.trim_start().len()).unwrap_or(0);
    let indent = key_indent + INDENT;
    if text.chars().any(|c| c.is_control() && c != '\n') {
        write_double_quoted(out, text);
    } else if text.contains('\n') {
        write_literal(out, text, indent);
    } else if resolves_to_non_string(text) {
        write_double_quoted(out, text);
    } else if plain_allowed_reference(text) {
        out.push_str(&folded_reference(text, column, indent, false));
    } else {
        out.push('\'');
        out.push_str(&folded_reference(text, column + 1, indent, true));
        out.push('\'');
    }
}

fn plain_allowed_reference(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if first == b' ' || last == b' ' || last == b':' {
        return false;
    }
    let followed_by_blank = |i: usize| bytes.get(i + 1).is_none_or(|&c| c == b' ');
    if b"#,[]{}&*!|>'\"%@`".contains(&first) || (b"?:-".contains(&first) && followed_by_blank(0)) {
        return false;
    }
    !(text.contains(": ") || text.contains(" #"))
}

/// Deterministic xorshift, so that a failure names a text that can be replayed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A text for the scalar emitter: whole scalars that YAML reads as other types or indicators, or
/// words (plain, with indicators, quotes, controls, line feeds, non-ASCII) joined by zero to three
/// spaces, with leading and trailing spaces now and then, long enough to fold half the time.
pub(crate) fn random_text(rng: &mut Rng) -> String {
    const WHOLE: [&str; 40] = [
        "",
        " ",
        "  ",
        "true",
        "False",
        "NULL",
        "~",
        "y",
        "N",
        "on",
        "OFF",
        ".inf",
        "-.inf",
        ".NaN",
        "0x1F",
        "0x",
        "0o17",
        "0b101",
        "0b102",
        "-0x1f",
        "1.5",
        "1e3",
        "-1_000",
        "+12",
        ".5",
        "1.2.3",
        "12abc",
        "-",
        "- x",
        "? x",
        "?x",
        ":x",
        ": x",
        "#x",
        "'",
        "a'",
        "x:",
        "it's",
        "\u{a0}x",
        "\u{3000}rule",
    ];
    const WORDS: [&str; 39] = [
        "validation",
        "error:",
        "a",
        "x",
        "it's",
        "''",
        "'",
        ":",
        ": ",
        "#",
        " #",
        "a#b",
        "a:b",
        "-",
        "?",
        ",",
        "[*]",
        "{",
        "&",
        "*",
        "!",
        "|",
        ">",
        "%",
        "@",
        "`false`",
        "\"",
        "\\",
        "true",
        "0x1F",
        "1.5",
        "ünïcödé",
        "é",
        "\u{a0}",
        "\u{3000}",
        "\u{2028}",
        "/spec/containers/0/securityContext/privileged/",
        "spec.initContainers[*].securityContext.runAsNonRoot,",
        "\u{1f600}",
    ];
    const BREAKS: [&str; 9] = ["\n", "\n\n", "\t", "\r", "\u{7f}", "\u{85}", "\u{9f}", "\u{1}", "\u{1b}"];
    if rng.below(5) == 0 {
        return rng.pick(&WHOLE).to_string();
    }
    // Mostly the common words, so that many texts take the fast paths.
    let words: &[&str] = if rng.below(2) == 0 { &WORDS[..4] } else { &WORDS };
    let mut text = " ".repeat(if rng.below(6) == 0 { 1 + rng.below(2) } else { 0 });
    let count = if rng.below(2) == 0 { rng.below(8) } else { 10 + rng.below(60) };
    // A line feed (literal block) or a control character (double quotes) in one text of six.
    let odd_word = if rng.below(6) == 0 { Some(rng.below(count + 1)) } else { None };
    let odd = &BREAKS[..rng.below(2) * 7 + 2];
    for i in 0..=count {
        if odd_word == Some(i) {
            text.push_str(rng.pick(odd));
        }
        if i == count {
            break;
        }
        if i > 0 {
            text.push_str(&" ".repeat([1, 1, 1, 1, 0, 2, 3][rng.below(7)]));
        }
        text.push_str(rng.pick(words));
    }
    if rng.below(6) == 0 {
        text.push_str(&" ".repeat(1 + rng.below(2)));
    }
    text
}

#[test]
fn scalars_match_the_reference_emitter() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    // Key indentations of 0 to 40 (deeper than the spaces `push_line_break` has at hand).
    let deepest = format!("p:\n{}deepest: ", " ".repeat(40));
    let prefixes =
        ["", "  ", "  rule: ", "policy:\n  rule: ", "a\n    deep: ", "\u{3000}odd: ", "x:\n\t tab: ", &deepest];
    let mut styles = [0usize; 5];
    for _ in 0..20_000 {
        let text = random_text(&mut rng);
        let prefix = rng.pick(&prefixes);
        let column = rng.below(100);
        let mut want = String::from(prefix);
        write_yaml_scalar_reference(&mut want, &text, column);
        let mut got = String::from(prefix);
        let broke = write_yaml_scalar(&mut got, &text, column, last_line_indent(prefix, Breaks::Raw));
        assert_eq!(got, want, "{text:?} after {prefix:?} at column {column}");
        let written = &want[prefix.len()..];
        assert_eq!(broke, written.contains('\n'), "line break reported for {text:?} at column {column}");
        let style = match written.as_bytes().first() {
            Some(b'"') => 0,
            Some(b'|') => 1,
            Some(b'\'') => 2,
            _ => 3,
        };
        styles[style] += 1;
        styles[4] += usize::from(written.contains('\n') && style != 1);
    }
    // Every style, and folded lines, are exercised.
    assert!(styles.iter().all(|&n| n > 200), "double-quoted, literal, single-quoted, plain, folded: {styles:?}");
}

#[test]
fn json_breaks_write_the_json_string_of_the_raw_yaml() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut safe, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let text = random_text(&mut rng);
        let column = rng.below(100);
        let key_indent = [0, 2, 4, 6, 9][rng.below(5)];
        let mut raw = String::from("x");
        let broke = write_yaml_scalar(&mut raw, &text, column, key_indent);
        let mut json = String::from("x");
        match write_scalar(&mut json, &text, column, key_indent, Breaks::Json) {
            Some(json_broke) => {
                safe += 1;
                assert_eq!(json_broke, broke, "{text:?}");
                let escaped = serde_json::to_string(&raw).unwrap();
                assert_eq!(json, escaped[1..escaped.len() - 1], "{text:?} at column {column}");
                assert_eq!(last_line_indent(&json, Breaks::Json), last_line_indent(&raw, Breaks::Raw), "{text:?}");
            }
            None => {
                refused += 1;
                assert!(!json_safe(&text), "{text:?}");
                assert_eq!(json, "x", "nothing written for {text:?}");
            }
        }
        assert_eq!(json_safe(&text), !text.bytes().any(|b| !(b' '..=b'~').contains(&b) || b == b'"' || b == b'\\'));
    }
    assert!(safe > 2000 && refused > 2000, "safe {safe}, refused {refused}");
}
