//! Just enough of Go's `gopkg.in/yaml.v2` scalar emitter to reproduce Kyverno's denial messages byte for byte:
//! plain when possible, else single-quoted, double-quoted for strings that would read as another type,
//! literal blocks for multi-line text, and lines folded at spaces after column 80.

const BEST_WIDTH: usize = 80;
const INDENT: usize = 2;

/// Appends `text` as a YAML scalar of a mapping entry that starts at `column`, nested at `column`'s
/// indentation (continuation lines are indented one level deeper than the key).
pub fn write_yaml_scalar(out: &mut String, text: &str, column: usize) {
    let key_indent = out.rsplit('\n').next().map(|line| line.len() - line.trim_start().len()).unwrap_or(0);
    let indent = key_indent + INDENT;
    if has_control(text) {
        write_double_quoted(out, text);
    } else if text.contains('\n') {
        write_literal(out, text, indent);
    } else if resolves_to_non_string(text) {
        write_double_quoted(out, text);
    } else if plain_allowed(text) {
        write_folded(out, text, column, indent, false);
    } else {
        out.push('\'');
        write_folded(out, text, column + 1, indent, true);
        out.push('\'');
    }
}

/// Whether `text` holds a control character other than a line feed. Checked on bytes first: C0
/// controls and DEL are single bytes, and C1 controls (U+0080–U+009F) start with 0xC2.
fn has_control(text: &str) -> bool {
    // A fold without early exit, which the compiler vectorizes.
    let suspect = text.bytes().fold(false, |seen, b| seen | ((b < 0x20) & (b != b'\n')) | (b == 0x7f) | (b == 0xc2));
    suspect && text.chars().any(|c| c.is_control() && c != '\n')
}

fn plain_allowed(text: &str) -> bool {
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

fn write_folded(out: &mut String, text: &str, start_column: usize, indent: usize, quoted: bool) {
    if text.is_ascii() && !(quoted && text.contains('\'')) {
        write_folded_ascii(out, text, start_column, indent, quoted);
    } else {
        write_folded_bytes(out, text, start_column, indent, quoted);
    }
}

/// [`write_folded`] for ASCII text with nothing to escape, where a column is a byte: only the
/// spaces past the best width are looked at.
fn write_folded_ascii(out: &mut String, text: &str, start_column: usize, indent: usize, quoted: bool) {
    let bytes = text.as_bytes();
    let mut column = start_column;
    let mut run = 0;
    // A space at index `i` is at column `column + (i - run)`; it may break only past the best width.
    let mut from = run + (BEST_WIDTH + 1).saturating_sub(column);
    while from < bytes.len() {
        let Some(offset) = text[from..].find(' ') else { break };
        let i = from + offset;
        let previous_space = i > 0 && bytes[i - 1] == b' ';
        let next_is_space = bytes.get(i + 1) == Some(&b' ');
        let inner = !quoted || (i != 0 && i != bytes.len() - 1);
        if inner && !previous_space && !next_is_space {
            out.push_str(&text[run..i]);
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            column = indent;
            run = i + 1;
            from = run + (BEST_WIDTH + 1).saturating_sub(column);
        } else {
            from = i + 1;
        }
    }
    out.push_str(&text[run..]);
}

fn write_folded_bytes(out: &mut String, text: &str, start_column: usize, indent: usize, quoted: bool) {
    // One pass over the bytes, copying runs: a space may become a line break when the line is past
    // the best width, it is not the first or last character of a quoted scalar, and neither
    // neighbour is a space. Columns count characters (bytes that do not continue a UTF-8 sequence).
    out.reserve(text.len() + text.len() / BEST_WIDTH * (indent + 1) + 2);
    let bytes = text.as_bytes();
    let mut column = start_column;
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b' ' => {
                let previous_space = i > 0 && bytes[i - 1] == b' ';
                let next_is_space = bytes.get(i + 1) == Some(&b' ');
                let inner = !quoted || (i != 0 && i != bytes.len() - 1);
                if inner && !previous_space && column > BEST_WIDTH && !next_is_space {
                    out.push_str(&text[run..i]);
                    out.push('\n');
                    out.extend(std::iter::repeat_n(' ', indent));
                    column = indent;
                    run = i + 1;
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
}

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
