//! Go formatting of JSON values as Kyverno prints them (`%v`, `%T`, `strconv.FormatFloat`),
//! so that messages and string comparisons match upstream byte for byte.

use serde_json::Value;
use std::fmt::Write;

/// A JSON number the way Kubernetes' unstructured decoding types it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum GoNumber {
    /// A whole number that fits `int64`.
    Int(i64),
    /// Anything else (fractions, exponents, out-of-range integers).
    Float(f64),
}

/// Classifies a JSON number as `int64` or `float64`, as `unstructured` decoding does.
pub(crate) fn go_number(n: &serde_json::Number) -> GoNumber {
    match n.as_i64() {
        Some(i) => GoNumber::Int(i),
        None => GoNumber::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// Go's `%T` of a decoded JSON value.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) => match go_number(n) {
            GoNumber::Int(_) => "int64",
            GoNumber::Float(_) => "float64",
        },
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Appends Go's `%v` rendering of `value` to `out`.
pub(crate) fn write_v(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match go_number(n) {
            GoNumber::Int(i) => {
                let _ = write!(out, "{i}");
            }
            GoNumber::Float(f) => out.push_str(&format_g(f)),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => write_v_items(out, items),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_v(out, v);
                }
            }
            out.push(']');
        }
    }
}

/// Appends Go's `%v` rendering of a list (`[a b c]`) to `out`.
pub(crate) fn write_v_items(out: &mut String, items: &[Value]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(out, item);
    }
    out.push(']');
}

/// Go's `%v` rendering of `value`.
#[cfg(test)]
pub(crate) fn to_v(value: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, value);
    out
}

/// Shortest round-trip decimal digits of `f` (no sign), with the decimal exponent of the
/// first digit: `1234.5` gives `("12345", 3)`.
fn shortest_digits(f: f64) -> (String, i32) {
    let text = format!("{:e}", f.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f.is_infinite() {
        Some(if f > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        None
    }
}

fn push_exponent(out: &mut String, marker: char, exp: i32) {
    out.push(marker);
    out.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        out.push('0');
    }
    let _ = write!(out, "{abs}");
}

fn format_exp(f: f64, marker: char) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    let (digits, exp) = shortest_digits(f);
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    push_exponent(&mut out, marker, if f == 0.0 { 0 } else { exp });
    out
}

/// `strconv.FormatFloat(f, 'E', -1, 64)`: `1` gives `1E+00`.
pub(crate) fn format_upper_e(f: f64) -> String {
    format_exp(f, 'E')
}

/// Go's `%v` for a `float64` (`strconv.FormatFloat(f, 'g', -1, 64)`): `1e+06`, `0.5`, `8`.
pub(crate) fn format_g(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_string() } else { "0".to_string() };
    }
    let (digits, exp) = shortest_digits(f);
    if !(-4..6).contains(&exp) {
        return format_exp(f, 'e');
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Go's `fmt.Sprintf("%f", f)`.
pub(crate) fn format_f6(f: f64) -> String {
    match special(f) {
        Some(s) => s.to_string(),
        None => format!("{f:.6}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_formats() {
        let g: &[(f64, &str)] = &[
            (8.0, "8"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (7.9914, "7.9914"),
            (0.0, "0"),
        ];
        for (f, want) in g {
            assert_eq!(format_g(*f), *want, "format_g({f})");
        }
        let e: &[(f64, &str)] =
            &[(1.0, "1E+00"), (1234.5, "1.2345E+03"), (0.5, "5E-01"), (0.0, "0E+00"), (1e100, "1E+100")];
        for (f, want) in e {
            assert_eq!(format_upper_e(*f), *want, "format_upper_e({f})");
        }
        assert_eq!(format_f6(3.1), "3.100000");
        assert_eq!(format_f6(-3.1), "-3.100000");
    }

    #[test]
    fn values_and_types() {
        assert_eq!(to_v(&json!({"b": 1, "a": [true, null, "x", 2.5]})), "map[a:[true <nil> x 2.5] b:1]");
        assert_eq!(type_name(&json!(1)), "int64");
        assert_eq!(type_name(&json!(1.5)), "float64");
        assert_eq!(type_name(&json!({})), "map[string]interface {}");
        assert_eq!(type_name(&json!(null)), "<nil>");
    }
}
