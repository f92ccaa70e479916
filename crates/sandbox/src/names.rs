//! RuntimeClass name checks: Kubernetes DNS-1123 subdomains, with a hint for case mistakes.

/// Longest DNS-1123 subdomain Kubernetes accepts.
pub const MAX_NAME_LENGTH: usize = 253;

/// Whether `name` is a DNS-1123 subdomain, as Kubernetes requires of RuntimeClass names.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LENGTH
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            !bytes.is_empty()
                && bytes.first().is_some_and(alnum)
                && bytes.last().is_some_and(alnum)
                && bytes.iter().all(|b| alnum(b) || *b == b'-')
        })
}

/// Why `name` is not a valid RuntimeClass name (with a hint), or `None` when it is valid.
pub fn name_problem(name: &str) -> Option<String> {
    if is_dns1123_subdomain(name) {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    if lower != name && is_dns1123_subdomain(&lower) {
        return Some(format!(
            "{name:?} is not a valid RuntimeClass name: names are lowercase; did you mean {lower:?}?"
        ));
    }
    Some(format!(
        "{name:?} is not a valid RuntimeClass name: it must be a lowercase DNS-1123 subdomain \
         (a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most {MAX_NAME_LENGTH} characters)"
    ))
}

/// Why a `sandboxRuntimes` entry (a name that may contain `*` or `?`) is invalid, if it is.
pub fn pattern_problem(pattern: &str) -> Option<String> {
    if !palisade_engine::wildcard::has_wildcard(pattern) {
        return name_problem(pattern);
    }
    let ok = pattern.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.*?".contains(&b));
    if ok && pattern.len() <= MAX_NAME_LENGTH {
        return None;
    }
    if pattern.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!(
            "{pattern:?} cannot match any RuntimeClass name: names are lowercase; did you mean {:?}?",
            pattern.to_ascii_lowercase()
        ));
    }
    Some(format!(
        "{pattern:?} cannot match any RuntimeClass name: use lowercase letters, digits, '-', '.' and the wildcards '*' and '?'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_subdomains() {
        for good in ["kata", "kata-qemu", "gvisor", "a.b-c.d", "0runc9"] {
            assert!(is_dns1123_subdomain(good), "{good}");
        }
        for bad in ["", "runC", "-kata", "kata-", "kata_qemu", "a..b", ".a", "kata qemu"] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn problems_carry_hints() {
        assert_eq!(
            name_problem("runC").unwrap(),
            "\"runC\" is not a valid RuntimeClass name: names are lowercase; did you mean \"runc\"?"
        );
        assert!(name_problem("kata_qemu").unwrap().contains("DNS-1123"));
        assert!(name_problem("kata").is_none());
        assert!(pattern_problem("kata*").is_none());
        assert!(pattern_problem("Kata*").unwrap().contains("did you mean \"kata*\""));
        assert!(pattern_problem("kata_*").unwrap().contains("cannot match"));
    }
}
