//! Scalar pattern values (upstream `pkg/engine/pattern` and `pkg/engine/operator`): literals,
//! `|` / `&` combinations, `!`, `>`, `>=`, `<`, `<=`, ranges `a-b` / `a!-b`, wildcards,
//! Go durations and Kubernetes quantities. Everything is parsed once, at compile time.

use super::gofmt::{GoNumber, format_f6, format_upper_e, go_number};
use palisade_engine::units::{Quantity, parse_duration};
use palisade_engine::wildcard::Wildcard;
use regex::Regex;
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::LazyLock;

/// `operator.InRangeRegex`.
static IN_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([-|+]?[0-9]+(?:\.[0-9]+)?[A-Za-z]*)-([-|+]?[0-9]+(?:\.[0-9]+)?[A-Za-z]*)$").expect("static regex")
});

/// `operator.NotInRangeRegex`.
static NOT_IN_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([-|+]?[0-9]+(?:\.[0-9]+)?[A-Za-z]*)!-([-|+]?[0-9]+(?:\.[0-9]+)?[A-Za-z]*)$").expect("static regex")
});

/// A comparison operator at the start of a string pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// No operator: wildcard equality.
    Equal,
    /// `!`
    NotEqual,
    /// `>`
    More,
    /// `>=`
    MoreEqual,
    /// `<`
    Less,
    /// `<=`
    LessEqual,
}

impl Op {
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            Op::Equal => ord == Ordering::Equal,
            Op::NotEqual => ord != Ordering::Equal,
            Op::More => ord == Ordering::Greater,
            Op::MoreEqual => ord != Ordering::Less,
            Op::Less => ord == Ordering::Less,
            Op::LessEqual => ord != Ordering::Greater,
        }
    }
}

/// One operator and operand, with the operand pre-parsed as duration, quantity and wildcard.
#[derive(Debug, Clone)]
struct Simple {
    op: Op,
    duration: Option<i64>,
    quantity: Option<Quantity>,
    wildcard: Wildcard,
}

impl Simple {
    fn new(op: Op, operand: &str) -> Simple {
        Simple {
            op,
            duration: parse_duration(operand),
            quantity: Quantity::parse(operand),
            wildcard: Wildcard::new(operand),
        }
    }

    /// `validateString`: duration comparison, else quantity comparison, else string comparison.
    fn matches(&self, value: &Value) -> bool {
        if self.duration.is_some() || self.quantity.is_some() {
            let text = number_to_string(value);
            let text = text.as_ref().map(Text::as_str);
            if let (Some(pattern), Some(text)) = (self.duration, text)
                && let Some(actual) = parse_duration(text)
            {
                return self.op.accepts(actual.cmp(&pattern));
            }
            if let (Some(pattern), Some(text)) = (&self.quantity, text)
                && let Some(actual) = Quantity::parse(text)
            {
                return self.op.accepts(actual.cmp(pattern));
            }
        }
        self.compare_string(value)
    }

    /// `compareString`: only `Equal` and `NotEqual` apply, through wildcard matching.
    fn compare_string(&self, value: &Value) -> bool {
        if !matches!(self.op, Op::Equal | Op::NotEqual) {
            return false;
        }
        let text = match value {
            Value::String(s) => Text::Borrowed(s.as_str()),
            Value::Bool(b) => Text::Borrowed(if *b { "true" } else { "false" }),
            Value::Number(n) => match go_number(n) {
                GoNumber::Int(i) => Text::int(i),
                GoNumber::Float(f) => Text::Owned(format_upper_e(f)),
            },
            _ => return false,
        };
        let matched = self.wildcard.matches(text.as_str());
        if self.op == Op::NotEqual { !matched } else { matched }
    }
}

/// A value's text: borrowed, an integer printed on the stack, or (floats) owned.
enum Text<'a> {
    Borrowed(&'a str),
    Int { digits: [u8; 21], start: usize },
    Owned(String),
}

/// The decimal digits of `n`, right-aligned in a buffer with room for a sign: `(buffer, start)`.
pub(crate) fn decimal_digits(mut n: u64) -> ([u8; 21], usize) {
    let mut digits = [0u8; 21];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    (digits, start)
}

impl Text<'_> {
    /// Prints `i` in decimal without allocating.
    fn int(i: i64) -> Text<'static> {
        let (mut digits, mut start) = decimal_digits(i.unsigned_abs());
        if i < 0 {
            start -= 1;
            digits[start] = b'-';
        }
        Text::Int { digits, start }
    }

    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Int { digits, start } => std::str::from_utf8(&digits[*start..]).unwrap_or_default(),
            Text::Owned(s) => s,
        }
    }
}

/// `convertNumberToString`: `nil` is `"0"`, floats print with `%f`; other types do not convert.
fn number_to_string(value: &Value) -> Option<Text<'_>> {
    match value {
        Value::Null => Some(Text::Borrowed("0")),
        Value::String(s) => Some(Text::Borrowed(s.as_str())),
        Value::Number(n) => Some(match go_number(n) {
            GoNumber::Int(i) => Text::int(i),
            GoNumber::Float(f) => Text::Owned(format_f6(f)),
        }),
        _ => None,
    }
}

/// One `&`-separated condition.
#[derive(Debug, Clone)]
enum Condition {
    /// `a-b`: `>= a` and `<= b`.
    InRange(Simple, Simple),
    /// `a!-b`: `< a` or `> b`.
    NotInRange(Simple, Simple),
    /// An operator and operand.
    Simple(Simple),
}

impl Condition {
    /// `validateStringPattern` on an already trimmed condition.
    fn parse(condition: &str) -> Condition {
        let bytes = condition.as_bytes();
        let op_len = |op: Op| match op {
            Op::Equal => 0,
            Op::MoreEqual | Op::LessEqual => 2,
            _ => 1,
        };
        let op = if bytes.len() < 2 {
            Op::Equal
        } else if bytes.starts_with(b">=") {
            Op::MoreEqual
        } else if bytes.starts_with(b"<=") {
            Op::LessEqual
        } else if bytes[0] == b'>' {
            Op::More
        } else if bytes[0] == b'<' {
            Op::Less
        } else if bytes[0] == b'!' {
            Op::NotEqual
        } else if let Some(caps) = NOT_IN_RANGE.captures(condition) {
            let (left, right) = (&caps[1], &caps[2]);
            return Condition::NotInRange(Simple::new(Op::Less, left), Simple::new(Op::More, right));
        } else if let Some(caps) = IN_RANGE.captures(condition) {
            let (left, right) = (&caps[1], &caps[2]);
            return Condition::InRange(Simple::new(Op::MoreEqual, left), Simple::new(Op::LessEqual, right));
        } else {
            Op::Equal
        };
        Condition::Simple(Simple::new(op, condition[op_len(op)..].trim()))
    }

    fn matches(&self, value: &Value) -> bool {
        match self {
            Condition::InRange(low, high) => low.matches(value) && high.matches(value),
            Condition::NotInRange(low, high) => low.matches(value) || high.matches(value),
            Condition::Simple(simple) => simple.matches(value),
        }
    }
}

/// A compiled string pattern: alternatives (`|`) of conjunctions (`&`).
#[derive(Debug, Clone)]
pub(crate) struct StringPattern {
    raw: String,
    any_of: Vec<Vec<Condition>>,
}

impl StringPattern {
    /// Compiles `raw` (`validateStringPatterns`).
    pub(crate) fn new(raw: &str) -> StringPattern {
        let any_of = raw
            .split('|')
            .map(|alt| alt.trim_matches(' ').split('&').map(|c| Condition::parse(c.trim_matches(' '))).collect())
            .collect();
        StringPattern { raw: raw.to_string(), any_of }
    }

    /// Whether `value` satisfies the pattern.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        if let Value::String(s) = value
            && *s == self.raw
        {
            return true;
        }
        self.any_of.iter().any(|all| all.iter().all(|c| c.matches(value)))
    }
}

/// A compiled scalar pattern (`pattern.Validate`). Pattern numbers are `float64`, as upstream
/// decodes policies with `encoding/json`.
#[derive(Debug, Clone)]
pub(crate) enum Scalar {
    /// `null`: matches `nil`, `0`, `""` and `false`.
    Null,
    /// A boolean: matches the same boolean only.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string pattern.
    String(StringPattern),
}

impl Scalar {
    /// Compiles a JSON scalar; `None` for arrays and objects.
    pub(crate) fn compile(value: &Value) -> Option<Scalar> {
        Some(match value {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Scalar::String(StringPattern::new(s)),
            Value::Array(_) | Value::Object(_) => return None,
        })
    }

    /// Whether this is exactly the string `*` (which the default handler treats as "present").
    pub(crate) fn is_star(&self) -> bool {
        matches!(self, Scalar::String(s) if s.raw == "*")
    }

    /// Whether `value` satisfies the pattern.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        match self {
            Scalar::Null => match value {
                Value::Null => true,
                Value::Bool(b) => !b,
                Value::String(s) => s.is_empty(),
                Value::Number(n) => match go_number(n) {
                    GoNumber::Int(i) => i == 0,
                    GoNumber::Float(f) => f == 0.0,
                },
                Value::Array(_) | Value::Object(_) => false,
            },
            Scalar::Bool(b) => value.as_bool() == Some(*b),
            Scalar::Number(pattern) => match value {
                Value::Number(n) => match go_number(n) {
                    GoNumber::Int(i) => pattern.fract() == 0.0 && (*pattern as i64) == i,
                    GoNumber::Float(f) => f == *pattern,
                },
                Value::String(s) => go_parse_float(s) == Some(*pattern),
                _ => false,
            },
            Scalar::String(pattern) => pattern.matches(value),
        }
    }

    /// Go's `%v` of the pattern value, for messages.
    pub(crate) fn write_v(&self, out: &mut String) {
        match self {
            Scalar::Null => out.push_str("<nil>"),
            Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Scalar::Number(f) => out.push_str(&super::gofmt::format_g(*f)),
            Scalar::String(s) => out.push_str(&s.raw),
        }
    }

    /// Go's `%T` of the pattern value, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "<nil>",
            Scalar::Bool(_) => "bool",
            Scalar::Number(_) => "float64",
            Scalar::String(_) => "string",
        }
    }
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms Kubernetes values use.
fn go_parse_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.is_empty() || body.contains('_') || body.starts_with("0x") {
        return None;
    }
    match body {
        "inf" | "infinity" | "nan" => text.parse().ok(),
        _ if body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-')) => text.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
