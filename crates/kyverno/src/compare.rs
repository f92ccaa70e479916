//! Value comparisons shared by condition operators and patterns: Kyverno's typed
//! equality, set membership with wildcards and ranges, and ordering of numbers,
//! quantities, durations and semantic versions.

use palisade_engine::units::{Quantity, parse_duration};
use palisade_engine::wildcard::{self, Wildcard};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

/// Formats a value as Go's `fmt.Sprint` would for JSON-decoded data.
pub fn go_sprint(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => format_float(f),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}

/// Go's `%v` of a float64: integral values print without a fraction.
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 { format!("{}", f as i64) } else { format!("{f}") }
}

fn as_number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// Parses a Go duration from a non-zero duration string; numbers are seconds only when
/// the other side is a duration string (Kyverno's `parseDuration`).
fn durations(key: &Value, value: &Value) -> Option<(i64, i64)> {
    let strict = |v: &Value| v.as_str().and_then(parse_duration).filter(|d| *d != 0);
    let (k, v) = (strict(key), strict(value));
    if k.is_none() && v.is_none() {
        return None;
    }
    let loose = |v: &Value, parsed: Option<i64>| -> Option<i64> {
        if parsed.is_some() {
            return parsed;
        }
        match v {
            Value::Number(n) => n.as_f64().map(|s| (s * 1e9) as i64),
            Value::String(s) => parse_duration(s),
            _ => None,
        }
    };
    Some((loose(key, k)?, loose(value, v)?))
}

fn quantities(key: &Value, value: &Value) -> Option<(Quantity, Quantity)> {
    let q = |v: &Value| match v {
        Value::String(s) => Quantity::parse(s),
        Value::Number(_) => Quantity::parse(&go_sprint(v)),
        _ => None,
    };
    Some((q(key)?, q(value)?))
}

/// Kyverno's `Equals`.
pub fn equals(key: &Value, value: &Value) -> bool {
    match key {
        Value::Bool(k) => value.as_bool() == Some(*k),
        Value::Number(_) => {
            let k = as_number(key).unwrap_or(f64::NAN);
            match value {
                Value::Number(_) => as_number(value) == Some(k),
                Value::String(s) => match s.trim().parse::<f64>() {
                    Ok(f) => f == k,
                    Err(_) => {
                        if let Some((a, b)) = durations(key, value) {
                            a == b
                        } else {
                            false
                        }
                    }
                },
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = durations(key, value) {
                return a == b;
            }
            if value.is_string()
                && let Some((a, b)) = quantities(key, value)
            {
                return a == b;
            }
            value.as_str().is_some_and(|pattern| wildcard::matches(pattern, k))
        }
        Value::Object(_) | Value::Array(_) => key == value,
        Value::Null => value.is_null(),
    }
}

/// [`equals`] against a value known at load: what the value parses as (a duration, a quantity, a
/// wildcard pattern) is worked out once instead of on every comparison.
#[derive(Debug, Clone)]
pub struct Equality {
    value: Value,
    /// The value as a non-zero duration string (`strict` in [`durations`]).
    strict: Option<i64>,
    /// The value as a duration when the key is one (`loose` in [`durations`]).
    loose: Option<i64>,
    /// The value as a quantity, when it is a string.
    quantity: Option<Quantity>,
    /// The value as a wildcard pattern, when it is a string.
    pattern: Option<Wildcard>,
}

impl Equality {
    /// Prepares comparisons with `value`.
    pub fn new(value: &Value) -> Self {
        let strict = value.as_str().and_then(parse_duration).filter(|d| *d != 0);
        let loose = strict.or_else(|| match value {
            Value::Number(n) => n.as_f64().map(|s| (s * 1e9) as i64),
            Value::String(s) => parse_duration(s),
            _ => None,
        });
        let quantity = value.as_str().and_then(Quantity::parse);
        let pattern = value.as_str().map(Wildcard::new);
        Equality { value: value.clone(), strict, loose, quantity, pattern }
    }

    /// `equals(key, value)`.
    pub fn equals(&self, key: &Value) -> bool {
        let Value::String(k) = key else { return equals(key, &self.value) };
        let strict_key = parse_duration(k).filter(|d| *d != 0);
        if (strict_key.is_some() || self.strict.is_some())
            && let (Some(a), Some(b)) = (strict_key.or_else(|| parse_duration(k)), self.loose)
        {
            return a == b;
        }
        if let Some(q) = &self.quantity
            && let Some(key_quantity) = Quantity::parse(k)
        {
            return key_quantity == *q;
        }
        self.pattern.as_ref().is_some_and(|p| p.matches(k))
    }
}

/// Elements of a key for membership tests; `None` when the key's type cannot be a set member.
fn key_elements(key: &Value) -> Option<Vec<Cow<'_, str>>> {
    match key {
        Value::Array(items) => Some(items.iter().map(sprint).collect()),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(vec![sprint(key)]),
        _ => None,
    }
}

/// [`go_sprint`], borrowing strings.
fn sprint(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(go_sprint(other)),
    }
}

/// Candidate set of a value: a list, or a string (a pattern, a range or a JSON list).
/// `None` for other types, which Kyverno treats as invalid (the operator is false).
fn value_elements(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => Some(items.iter().map(go_sprint).collect()),
        Value::String(s) => match serde_json::from_str::<Vec<Value>>(s) {
            Ok(items) => Some(items.iter().map(go_sprint).collect()),
            Err(_) => Some(vec![s.clone()]),
        },
        _ => None,
    }
}

/// The bounds of a range candidate `lo-hi` (or `lo!-hi`, negated): `(lo, hi, negated)`.
fn range_of(pattern: &str) -> Option<(f64, f64, bool)> {
    if !pattern.as_bytes().get(1..).is_some_and(|rest| rest.contains(&b'-')) {
        return None;
    }
    let (lo, hi, negate) = if let Some((lo, hi)) = pattern.split_once("!-") {
        (lo, hi, true)
    } else {
        let idx = pattern.get(1..)?.find('-')? + 1;
        (&pattern[..idx], &pattern[idx + 1..], false)
    };
    Some((lo.trim().parse::<f64>().ok()?, hi.trim().parse::<f64>().ok()?, negate))
}

/// A value's candidate set for the set operators, with wildcards and ranges compiled once.
#[derive(Debug, Clone)]
pub struct Candidates(Vec<Candidate>);

#[derive(Debug, Clone)]
struct Candidate {
    text: String,
    /// The candidate as a wildcard pattern, when it has `*` or `?`.
    pattern: Option<Wildcard>,
    /// The candidate as a numeric range.
    range: Option<(f64, f64, bool)>,
}

impl Candidates {
    fn new(texts: Vec<String>) -> Self {
        Candidates(
            texts
                .into_iter()
                .map(|text| Candidate {
                    pattern: wildcard::has_wildcard(&text).then(|| Wildcard::new(&text)),
                    range: range_of(&text),
                    text,
                })
                .collect(),
        )
    }

    /// Kyverno's membership of one key element: equal, matched by a candidate's wildcard or a key's
    /// wildcard, or inside a candidate's range.
    fn contain(&self, key: &str) -> bool {
        let key_is_pattern = wildcard::has_wildcard(key);
        let number = || key.trim().parse::<f64>().ok();
        self.0.iter().any(|c| {
            c.text == key
                || c.pattern.as_ref().is_some_and(|p| p.matches(key))
                || (key_is_pattern && wildcard::matches(key, &c.text))
                || c.range.is_some_and(|(lo, hi, negated)| number().is_some_and(|k| (lo <= k && k <= hi) != negated))
        })
    }
}

/// [`Candidates::contain`] for one candidate that was not compiled: a value known only at run time,
/// tested once, so its wildcard and range are looked at only when the cheaper tests fail.
fn candidate_contains(text: &str, key: &str, key_is_pattern: bool) -> bool {
    text == key
        || (wildcard::has_wildcard(text) && wildcard::matches(text, key))
        || (key_is_pattern && wildcard::matches(key, text))
        || range_of(text)
            .is_some_and(|(lo, hi, negated)| key.trim().parse::<f64>().is_ok_and(|k| (lo <= k && k <= hi) != negated))
}

/// Set operators: which of AnyIn, AllIn, AnyNotIn, AllNotIn hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Membership {
    /// Some key element is in the value.
    pub any_in: bool,
    /// Every key element is in the value (true for an empty key).
    pub all_in: bool,
    /// Some key element is not in the value.
    pub any_not_in: bool,
    /// No key element is in the value (true for an empty key).
    pub all_not_in: bool,
}

/// Evaluates the set operators as Kyverno does; invalid key or value types make all false.
pub fn membership(key: &Value, value: &Value) -> Membership {
    match value {
        // A list known only now (`{{ element.keys(@)[] }}`): its elements are tested in place.
        Value::Array(items) => {
            let Some(keys) = key_elements(key) else {
                return Membership::default();
            };
            membership_by(&keys, |key| {
                let key_is_pattern = wildcard::has_wildcard(key);
                items.iter().any(|item| candidate_contains(&sprint(item), key, key_is_pattern))
            })
        }
        _ => match candidates(value) {
            Some(candidates) => membership_among(key, &candidates),
            None => Membership::default(),
        },
    }
}

/// The set operators over key elements, given whether one element is in the value.
fn membership_by(keys: &[Cow<'_, str>], mut contains: impl FnMut(&str) -> bool) -> Membership {
    let (mut any_in, mut any_not_in) = (false, false);
    for key in keys {
        if contains(key) {
            any_in = true;
        } else {
            any_not_in = true;
        }
    }
    Membership { any_in, all_in: !any_not_in, any_not_in, all_not_in: !any_in }
}

/// The candidate set of a set operator's value (`None` when the value type is invalid), for
/// values known at load time.
pub fn candidates(value: &Value) -> Option<Candidates> {
    value_elements(value).map(Candidates::new)
}

/// [`membership`] against a candidate set computed once by [`candidates`].
pub fn membership_among(key: &Value, candidates: &Candidates) -> Membership {
    let Some(keys) = key_elements(key) else {
        return Membership::default();
    };
    membership_by(&keys, |key| candidates.contain(key))
}

/// The deprecated `In`: a scalar key in the value list, or every element of a list key.
pub fn legacy_in(key: &Value, value: &Value) -> bool {
    let (Some(keys), Some(candidates)) = (key_elements(key), value_elements(value)) else { return false };
    !keys.is_empty() && keys.iter().all(|k| candidates.iter().any(|c| c == k || wildcard::matches(c, k)))
}

/// Ordering for GreaterThan/LessThan: durations, quantities (numbers too), then versions.
pub fn order(key: &Value, value: &Value) -> Option<Ordering> {
    if let Some((a, b)) = durations(key, value) {
        return Some(a.cmp(&b));
    }
    if let Some((a, b)) = quantities(key, value) {
        return Some(a.cmp(&b));
    }
    let (Some(k), Some(v)) = (key.as_str(), value.as_str()) else { return None };
    let (a, b) = (parse_version(k)?, parse_version(v)?);
    Some(a.cmp(&b))
}

fn parse_version(text: &str) -> Option<semver::Version> {
    let t = text.trim().trim_start_matches('v');
    semver::Version::parse(t).ok().or_else(|| {
        // Kyverno accepts `1.20` as `1.20.0`.
        let parts: Vec<&str> = t.split('.').collect();
        match parts.as_slice() {
            [maj, min] => semver::Version::parse(&format!("{maj}.{min}.0")).ok(),
            _ => None,
        }
    })
}

/// Ordering for the deprecated Duration* operators: numbers are seconds.
pub fn duration_order(key: &Value, value: &Value) -> Option<Ordering> {
    let d = |v: &Value| match v {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => n.as_f64().map(|s| (s * 1e9) as i64),
        _ => None,
    };
    Some(d(key)?.cmp(&d(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_formatting_of_numbers() {
        assert_eq!(go_sprint(&json!(5.0)), "5");
        assert_eq!(go_sprint(&json!(5.5)), "5.5");
        assert_eq!(go_sprint(&json!(true)), "true");
    }

    #[test]
    fn ranges() {
        assert_eq!(range_of("1-10"), Some((1.0, 10.0, false)));
        assert_eq!(range_of("1!-10"), Some((1.0, 10.0, true)));
        assert_eq!(range_of("-5-5"), Some((-5.0, 5.0, false)));
        assert_eq!(range_of("abc"), None);
        let among = |key: Value, value: Value| membership(&key, &value);
        assert!(among(json!("5"), json!(["1-10"])).any_in);
        assert!(!among(json!("5"), json!(["1!-10"])).any_in);
        assert!(among(json!(11), json!(["1!-10"])).any_in);
        assert!(among(json!("abc"), json!(["1-10"])).all_not_in);
    }

    /// [`Equality`] decides as [`equals`] does for every key and value.
    #[test]
    fn prepared_equality_agrees_with_equals() {
        let texts = [
            "", "0", "0s", "1h", "60m", "3600s", "1h0m", "5", "5.0", "1Gi", "1024Mi", "500m", "0.5", "abc", "a*",
            "?bc", "CREATE", "DELETE", "1e3", "1000", "-1h", "true", " 5 ", "2Gi",
        ];
        let mut values: Vec<Value> = texts.iter().map(|t| json!(t)).collect();
        values.extend([
            json!(5),
            json!(5.0),
            json!(0),
            json!(3600),
            json!(1000),
            json!(true),
            json!(null),
            json!([1]),
            json!({"a": 1}),
        ]);
        for value in &values {
            let prepared = Equality::new(value);
            for key in &values {
                assert_eq!(prepared.equals(key), equals(key, value), "key {key} value {value}");
            }
        }
    }

    /// A value known only at run time is tested element by element without compiling a candidate set; the
    /// outcome must be the compiled set's for every key and value.
    #[test]
    fn run_time_lists_agree_with_compiled_candidates() {
        let mut rng = crate::test_suite::Rng(0x5eed_1234);
        let texts =
            ["a", "ab", "a*", "?b", "*", "", "5", "5.0", "1-10", "1!-10", "-5-5", "x-y", "10", "true", "nginx:*"];
        let scalar = |rng: &mut crate::test_suite::Rng| match rng.below(4) {
            0 => json!(rng.below(12)),
            1 => json!(rng.chance(50)),
            2 => json!(rng.below(20) as f64 / 2.0),
            _ => json!(texts[rng.below(texts.len())]),
        };
        for _ in 0..20_000 {
            let items: Vec<Value> = (0..rng.below(5)).map(|_| scalar(&mut rng)).collect();
            let key = match rng.below(3) {
                0 => Value::Array((0..rng.below(4)).map(|_| scalar(&mut rng)).collect()),
                1 => Value::Null,
                _ => scalar(&mut rng),
            };
            let value = Value::Array(items);
            let compiled = candidates(&value).map_or_else(Membership::default, |c| membership_among(&key, &c));
            assert_eq!(membership(&key, &value), compiled, "key {key} value {value}");
        }
    }

    #[test]
    fn set_operators_with_wildcards_on_either_side() {
        let m = membership(&json!(["nginx:1.0", "redis:7"]), &json!(["nginx:*", "busybox"]));
        assert_eq!(m, Membership { any_in: true, all_in: false, any_not_in: true, all_not_in: false });
        let m = membership(&json!("ngin?:*"), &json!(["nginx:latest"]));
        assert!(m.all_in, "a key with wildcards matches candidates too");
        let m = membership(&json!([]), &json!(["a"]));
        assert_eq!(m, Membership { any_in: false, all_in: true, any_not_in: false, all_not_in: true });
    }
}
