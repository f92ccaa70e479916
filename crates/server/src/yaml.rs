//! Just enough of Go's `gopkg.in/yaml.v2` scalar emitter to reproduce Kyverno's denial messages byte for byte:
//! plain when possible, else single-quoted, double-quoted for strings that would read as another type,
//! literal blocks for multi-line text, and lines folded at spaces after column 80.

const BEST_WIDTH: usize = 80;
const INDENT: usize = 2;

/// How the line breaks of written YAML read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breaks {
    /// Line feeds.
    Raw,
    /// `\n` escapes: the YAML in the form of a JSON string's contents, for text with nothing else to escape
    /// (printable ASCII without `"` and `\`, see [`json_safe`]).
    Json,
}

impl Breaks {
    /// A line break.
    pub fn newline(self) -> &'static str {
        match self {
            Breaks::Raw => "\n",
            Breaks::Json => "\\n",
        }
    }
}

/// Appends `text` as the YAML scalar of a mapping entry that starts at `column`, on a line indented by
/// `key_indent` (continuation lines are indented one level deeper); returns whether it broke the line.
#[cfg(test)]
pub fn write_yaml_scalar(out: &mut String, text: &str, column: usize, key_indent: usize) -> bool {
    write_scalar(out, text, column, key_indent, Breaks::Raw).unwrap_or(false)
}

/// [`write_yaml_scalar`] with `breaks`; `None` (nothing written) for [`Breaks::Json`] when `text` is not
/// [`json_safe`].
pub fn write_scalar(out: &mut String, text: &str, column: usize, key_indent: usize, breaks: Breaks) -> Option<bool> {
    let indent = key_indent + INDENT;
    // Printable ASCII without quotes (the usual text) needs no look for controls, line feeds or quotes.
    let scan = Scan::of(text.as_bytes());
    if breaks == Breaks::Json && !scan.json_safe {
        return None;
    }
    // JSON-safe text has no control character and no line feed: the first two cases are raw only.
    Some(if !scan.simple && has_control(text) {
        write_double_quoted(out, text);
        false
    } else if !scan.simple && text.contains('\n') {
        write_literal(out, text, indent);
        true
    } else if resolves_to_non_string(text) {
        match breaks {
            Breaks::Raw => write_double_quoted(out, text),
            // Nothing inside to escape, and the quotes as JSON escapes.
            Breaks::Json => {
                for part in ["\\\"", text, "\\\""] {
                    out.push_str(part);
                }
            }
        }
        false
    } else if plain_allowed(text.as_bytes(), scan.may_hold_indicator) {
        write_folded(out, text, Fold { start_column: column, indent, quoted: false, breaks }, scan.simple)
    } else {
        out.push('\'');
        let broke =
            write_folded(out, text, Fold { start_column: column + 1, indent, quoted: true, breaks }, scan.simple);
        out.push('\'');
        broke
    })
}

/// The indentation of the last line of `out` (written with `breaks`): the key indentation
/// [`write_yaml_scalar`] takes.
pub fn last_line_indent(out: &str, breaks: Breaks) -> usize {
    out.rsplit(breaks.newline()).next().map(|line| line.len() - line.trim_start().len()).unwrap_or(0)
}

/// Whether `text` is printable ASCII without `"` and `\`: written as YAML with [`Breaks::Json`], it is a
/// JSON string's contents as is.
pub fn json_safe(text: &str) -> bool {
    !json_unsafe(text.as_bytes())
}

/// A byte outside printable ASCII, a double quote or a backslash (a fold without early exit, which the
/// compiler vectorizes).
fn json_unsafe(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |bad, &b| bad | (b.wrapping_sub(b' ') > b'~' - b' ') | (b == b'"') | (b == b'\\'))
}

/// What a first look at the bytes of a scalar tells.
#[derive(Clone, Copy)]
struct Scan {
    /// Every byte is printable ASCII (a space to a tilde) other than a single quote.
    simple: bool,
    /// The text may hold `": "` or `" #"`: it has a colon or a hash, or is too long to have been checked.
    may_hold_indicator: bool,
    /// Every byte is printable ASCII other than a double quote or a backslash ([`json_safe`]).
    json_safe: bool,
}

impl Scan {
    // Not inlined: inlined, the folds are not vectorized.
    #[inline(never)]
    fn of(bytes: &[u8]) -> Self {
        /// Bytes looked at together by the vectorized folds.
        const BLOCK: usize = 32;
        // Folds without early exit, which the compiler vectorizes.
        let odd = |bytes: &[u8]| {
            bytes.iter().fold(false, |odd, &b| odd | (b.wrapping_sub(b' ') > b'~' - b' ') | (b == b'\''))
        };
        let colon_or_hash = |bytes: &[u8]| bytes.iter().fold(false, |seen, &b| seen | (b == b':') | (b == b'#'));
        // Whole blocks, then the rest within the last block (overlapping); a short text (a name,
        // usually) as its first and last 16 or 8 bytes, overlapping, also looked at for a colon or a hash.
        let whole = bytes.len() / BLOCK * BLOCK;
        let (rest_odd, may_hold_indicator) = if let Some(last) = bytes.last_chunk::<BLOCK>() {
            (odd(last), true)
        } else if let (Some(first), Some(last)) = (bytes.first_chunk::<16>(), bytes.last_chunk::<16>()) {
            (odd(first) | odd(last), colon_or_hash(first) | colon_or_hash(last))
        } else if let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (odd(first) | odd(last), colon_or_hash(first) | colon_or_hash(last))
        } else {
            (odd(bytes), colon_or_hash(bytes))
        };
        let simple = !(odd(&bytes[..whole]) | rest_odd);
        // Simple text is JSON-safe without a double quote or a backslash, which `memchr2` looks for.
        let json_safe = if simple { memchr::memchr2(b'"', b'\\', bytes).is_none() } else { !json_unsafe(bytes) };
        Self { simple, may_hold_indicator, json_safe }
    }
}

/// One in every byte lane of a word.
pub(crate) const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// The high bit of every byte lane of a word.
pub(crate) const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bits of the bytes of `word` equal to `byte`: exact for the lowest one (a borrow only
/// sets bits above a matching byte), so at least one whenever a byte matches.
pub(crate) fn matching_bytes(word: u64, byte: u8) -> u64 {
    let x = word ^ u64::from_ne_bytes([byte; 8]);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Whether `bytes` holds `": "` or `" #"`, which a plain scalar cannot: only the eight-byte words
/// with a colon or a hash are looked at byte by byte.
fn has_indicator(bytes: &[u8]) -> bool {
    let pair_at = |j: usize| match bytes[j] {
        b':' => bytes.get(j + 1) == Some(&b' '),
        b'#' => j > 0 && bytes[j - 1] == b' ',
        _ => false,
    };
    let candidates = |word: &[u8; 8]| {
        let word = u64::from_le_bytes(*word);
        (matching_bytes(word, b':') | matching_bytes(word, b'#')) != 0
    };
    let (words, rest) = bytes.as_chunks::<8>();
    for (k, word) in words.iter().enumerate() {
        if candidates(word) && (k * 8..k * 8 + 8).any(pair_at) {
            return true;
        }
    }
    // The rest: within the last word (overlapping), or byte by byte in a short text.
    match bytes.last_chunk::<8>() {
        Some(last) => !rest.is_empty() && candidates(last) && (bytes.len() - 8..bytes.len()).any(pair_at),
        None => (0..bytes.len()).any(pair_at),
    }
}

/// Whether `text` holds a control character other than a line feed. Checked on bytes first: C0
/// controls and DEL are single bytes, and C1 controls (U+0080–U+009F) start with 0xC2.
#[cold]
fn has_control(text: &str) -> bool {
    // A fold without early exit, which the compiler vectorizes.
    let suspect = text.bytes().fold(false, |seen, b| seen | ((b < 0x20) & (b != b'\n')) | (b == 0x7f) | (b == 0xc2));
    suspect && text.chars().any(|c| c.is_control() && c != '\n')
}

/// Whether `bytes` may be a plain scalar (`may_hold_indicator`: whether to look for `": "` and `" #"`).
fn plain_allowed(bytes: &[u8], may_hold_indicator: bool) -> bool {
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if first == b' ' || last == b' ' || last == b':' {
        return false;
    }
    let indicator_first = matches!(first, b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>')
        || matches!(first, b'\'' | b'"' | b'%' | b'@' | b'`');
    let followed_by_blank = bytes.get(1).is_none_or(|&c| c == b' ');
    let blank_after_indicator = matches!(first, b'?' | b':' | b'-') && followed_by_blank;
    !(indicator_first || blank_after_indicator || (may_hold_indicator && has_indicator(bytes)))
}

fn resolves_to_non_string(text: &str) -> bool {
    const WORDS: [&str; 28] = [
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
        "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", ".inf", ".nan",
    ];
    if (text.len() <= 5 && WORDS.contains(&text))
        || matches!(text, "-.inf" | "+.inf" | ".Inf" | ".INF" | ".NaN" | ".NAN")
    {
        return true;
    }
    // Only numbers remain, and they start with a digit, a sign or a dot.
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return false;
    }
    let cleaned = text.replace('_', "");
    let digits = cleaned.trim_start_matches(['+', '-']);
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .iter()
        .find_map(|(prefix, radix)| digits.strip_prefix(prefix).map(|rest| (rest, *radix)));
    if let Some((rest, radix)) = radix {
        return !rest.is_empty() && i64::from_str_radix(rest, radix).is_ok();
    }
    text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) && cleaned.parse::<f64>().is_ok()
}

/// How a scalar folds: the column it starts at, the indentation of continuation lines, whether it is
/// single-quoted, and how its line breaks read.
#[derive(Debug, Clone, Copy)]
struct Fold {
    start_column: usize,
    indent: usize,
    quoted: bool,
    breaks: Breaks,
}

/// Appends `text` folded at spaces past the best width; returns whether it broke a line. `simple`:
/// whether `text` is printable ASCII without quotes.
#[inline(always)]
fn write_folded(out: &mut String, text: &str, fold: Fold, simple: bool) -> bool {
    if simple && fold.start_column + text.len() <= BEST_WIDTH + 1 {
        // No space is past the best width (a name, usually).
        out.push_str(text);
        false
    } else if simple || (text.is_ascii() && !(fold.quoted && text.contains('\''))) {
        write_folded_ascii(out, text, fold)
    } else {
        write_folded_bytes(out, text, fold)
    }
}

/// [`write_folded`] for ASCII text with nothing to escape, where a column is a byte: only the
/// spaces past the best width are looked at. Returns whether it broke a line.
#[inline(never)]
fn write_folded_ascii(out: &mut String, text: &str, fold: Fold) -> bool {
    let Fold { start_column, indent, quoted, breaks } = fold;
    let bytes = text.as_bytes();
    let mut run = 0;
    // A space at index `i` is at column `start + (i - run)`, where the line started at `start` (the
    // start column, then the indentation); it may break only past the best width.
    let mut from = (BEST_WIDTH + 1).saturating_sub(start_column);
    while from < bytes.len() {
        let Some(i) = find_space(bytes, from) else { break };
        let previous_space = i > 0 && bytes[i - 1] == b' ';
        let next_is_space = bytes.get(i + 1) == Some(&b' ');
        let inner = !quoted || (i != 0 && i != bytes.len() - 1);
        if inner && !previous_space && !next_is_space {
            out.push_str(&text[run..i]);
            push_line_break(out, indent, breaks);
            run = i + 1;
            from = run + (BEST_WIDTH + 1).saturating_sub(indent);
        } else {
            from = i + 1;
        }
    }
    out.push_str(&text[run..]);
    run > 0
}

/// The index of the first space of `bytes` at or after `from`, looked for eight bytes at a time (words
/// are short: a call to memchr costs more).
fn find_space(bytes: &[u8], from: usize) -> Option<usize> {
    let (words, rest) = bytes.get(from..)?.as_chunks::<8>();
    for (k, word) in words.iter().enumerate() {
        let spaces = matching_bytes(u64::from_le_bytes(*word), b' ');
        if spaces != 0 {
            return Some(from + k * 8 + spaces.trailing_zeros() as usize / 8);
        }
    }
    let done = from + words.len() * 8;
    rest.iter().position(|&b| b == b' ').map(|i| done + i)
}

/// [`write_folded`] for any text, byte by byte. Returns whether it broke a line.
#[inline(never)]
fn write_folded_bytes(out: &mut String, text: &str, fold: Fold) -> bool {
    let Fold { start_column, indent, quoted, breaks } = fold;
    // One pass over the bytes, copying runs: a space may become a line break when the line is past
    // the best width, it is not the first or last character of a quoted scalar, and neither
    // neighbour is a space. Columns count characters (bytes that do not continue a UTF-8 sequence).
    out.reserve(text.len() + text.len() / BEST_WIDTH * (indent + 1) + 2);
    let bytes = text.as_bytes();
    let mut column = start_column;
    let mut run = 0;
    let mut broke = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b' ' => {
                let previous_space = i > 0 && bytes[i - 1] == b' ';
                let next_is_space = bytes.get(i + 1) == Some(&b' ');
                let inner = !quoted || (i != 0 && i != bytes.len() - 1);
                if inner && !previous_space && column > BEST_WIDTH && !next_is_space {
                    out.push_str(&text[run..i]);
                    push_line_break(out, indent, breaks);
                    column = indent;
                    run = i + 1;
                    broke = true;
                } else {
                    column += 1;
                }
            }
            b'\'' if quoted => {
                out.push_str(&text[run..=i]);
                out.push('\'');
                column += 2;
                run = i + 1;
            }
            _ => column += usize::from(b & 0xc0 != 0x80),
        }
    }
    out.push_str(&text[run..]);
    broke
}

/// Appends a line break and `indent` spaces (the usual indentations as constants, which need no call
/// to memcpy).
#[inline(always)]
fn push_line_break(out: &mut String, indent: usize, breaks: Breaks) {
    match (breaks, indent) {
        (Breaks::Raw, 2) => out.push_str("\n  "),
        (Breaks::Raw, 4) => out.push_str("\n    "),
        (Breaks::Raw, 6) => out.push_str("\n      "),
        (Breaks::Json, 2) => out.push_str("\\n  "),
        (Breaks::Json, 4) => out.push_str("\\n    "),
        _ => {
            out.push_str(breaks.newline());
            out.extend(std::iter::repeat_n(' ', indent));
        }
    }
}

#[cold]
fn write_literal(out: &mut String, text: &str, indent: usize) {
    let chomp = if !text.ends_with('\n') {
        "-"
    } else if text.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    out.push('|');
    out.push_str(chomp);
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
        }
    }
}

#[cold]
fn write_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "yaml_tests.rs"]
pub(crate) mod tests;
