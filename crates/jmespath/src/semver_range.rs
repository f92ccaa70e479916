//! blang/semver range expressions, as Kyverno's `semver_compare` uses them: space-separated
//! comparators are ANDed, `||` ORs groups, `x` wildcards expand to bounds.

use std::cmp::Ordering;

use semver::Version;

const OPERATORS: [&str; 8] = ["<=", ">=", "!=", "==", "<", ">", "=", "!"];

fn split_operator(token: &str) -> (&str, &str) {
    for op in OPERATORS {
        if let Some(rest) = token.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", token)
}

/// Expands `x` wildcards in one comparator into plain comparators (possibly with `||`).
fn expand_wildcard(token: &str) -> Result<String, String> {
    let (op, version) = split_operator(token);
    if !version.contains('x') {
        return Ok(token.to_string());
    }
    let parts: Vec<&str> = version.split('.').collect();
    let num = |s: &str| s.parse::<u64>().map_err(|_| format!("Could not parse version {version:?} in {token:?}"));
    let (lower, upper) = match parts.as_slice() {
        [major, "x"] | [major, "x", "x"] => {
            let m = num(major)?;
            (format!("{m}.0.0"), format!("{}.0.0", m + 1))
        }
        [major, minor, "x"] => {
            let (m, n) = (num(major)?, num(minor)?);
            (format!("{m}.{n}.0"), format!("{m}.{}.0", n + 1))
        }
        _ => return Err(format!("Could not parse version {version:?} in {token:?}")),
    };
    Ok(match op {
        ">" => format!(">={upper}"),
        ">=" => format!(">={lower}"),
        "<" => format!("<{lower}"),
        "<=" => format!("<{upper}"),
        "!=" | "!" => format!("<{lower} || >={upper}"),
        _ => format!(">={lower} <{upper}"),
    })
}

fn comparator(token: &str, version: &Version) -> Result<bool, String> {
    let (op, text) = split_operator(token);
    let bound = Version::parse(text).map_err(|e| format!("Could not parse Range {token:?}: {e}"))?;
    let ord = version.cmp_precedence(&bound);
    Ok(match op {
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        "!=" | "!" => ord != Ordering::Equal,
        _ => ord == Ordering::Equal,
    })
}

/// Whether `version` satisfies the blang/semver `range`.
pub fn matches(range: &str, version: &Version) -> Result<bool, String> {
    let mut expanded = Vec::new();
    for group in range.split("||") {
        let tokens = group.split_whitespace().map(expand_wildcard).collect::<Result<Vec<_>, _>>()?;
        if tokens.is_empty() {
            return Err(format!("Could not get version from string: {range:?}"));
        }
        expanded.push(tokens.join(" "));
    }
    let expanded = expanded.join(" || ");
    let mut any = false;
    for group in expanded.split("||") {
        let mut all = true;
        for token in group.split_whitespace() {
            all &= comparator(token, version)?;
        }
        any |= all;
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let v = |s: &str| Version::parse(s).unwrap();
        let cases = [
            ("4.1.3", ">=4.1.x", true),
            ("4.1.3", "!4.x.x", false),
            ("1.8.6", ">1.0.0 <2.0.0", true),
            ("2.1.5", "<2.0.0 || >=3.0.0", false),
            ("3.0.0", "<2.0.0 || >=3.0.0", true),
            ("1.2.3", "1.2.3", true),
            ("1.2.4", "=1.2.3", false),
            ("1.2.4", "1.x", true),
            ("2.0.0", "<=1.x", false),
            ("1.9.9", "<=1.x", true),
            ("1.0.0-alpha", "<1.0.0", true),
        ];
        for (version, range, want) in cases {
            assert_eq!(matches(range, &v(version)), Ok(want), "{version} {range}");
        }
        assert!(matches(">=abc", &v("1.0.0")).is_err());
    }
}
