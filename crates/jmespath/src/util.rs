//! Conversions between JSON values and JMESPath variables, argument helpers and Kyverno-style errors.

use std::collections::BTreeMap;

use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Variable};
use serde_json::{Map, Number, Value};

/// Marker that tags a custom function's error message inside a `JmespathError`.
const FUNCTION_ERROR_MARKER: &str = "\u{1}kyverno:";

/// Result of a custom function.
pub type FnResult = Result<Rcvar, JmespathError>;

/// Builds the error a custom function returns; [`crate::JmesError::Function`] carries `message`.
pub fn fail(ctx: &Context<'_>, message: impl Into<String>) -> JmespathError {
    JmespathError::from_ctx(ctx, ErrorReason::Parse(format!("{FUNCTION_ERROR_MARKER}{}", message.into())))
}

/// The message of a custom function error, if `text` is one.
pub fn function_error_message(text: &str) -> Option<&str> {
    text.strip_prefix(FUNCTION_ERROR_MARKER)
}

/// `JMESPath function '<name>': <message>`.
pub fn generic(ctx: &Context<'_>, name: &str, message: impl std::fmt::Display) -> JmespathError {
    fail(ctx, format!("JMESPath function '{name}': {message}"))
}

/// `JMESPath function '<name>': argument #<n> is not of type <ty>` (n is 1-based).
pub fn bad_type(ctx: &Context<'_>, name: &str, n: usize, ty: &str) -> JmespathError {
    fail(ctx, format!("JMESPath function '{name}': argument #{n} is not of type {ty}"))
}

/// The string argument at `index`, or a Kyverno type error.
pub fn str_arg<'a>(ctx: &Context<'_>, name: &str, args: &'a [Rcvar], index: usize) -> Result<&'a str, JmespathError> {
    match args.get(index).map(|v| &**v) {
        Some(Variable::String(s)) => Ok(s),
        _ => Err(bad_type(ctx, name, index + 1, "string")),
    }
}

/// The number argument at `index`, or a Kyverno type error.
pub fn num_arg(ctx: &Context<'_>, name: &str, args: &[Rcvar], index: usize) -> Result<f64, JmespathError> {
    match args.get(index).and_then(|v| v.as_number()) {
        Some(n) => Ok(n),
        None => Err(bad_type(ctx, name, index + 1, "float64")),
    }
}

/// A JMESPath string.
pub fn string(s: impl Into<String>) -> FnResult {
    Ok(Rcvar::new(Variable::String(s.into())))
}

/// A JMESPath boolean.
pub fn boolean(b: bool) -> FnResult {
    Ok(Rcvar::new(Variable::Bool(b)))
}

/// A JMESPath number; integral values become integers so they print as `1`, not `1.0`.
pub fn number(f: f64) -> Variable {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        return Variable::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map_or(Variable::Null, Variable::Number)
}

/// [`number`] wrapped as a function result.
pub fn num(f: f64) -> FnResult {
    Ok(Rcvar::new(number(f)))
}

/// Converts a JSON value into a JMESPath variable (object keys end up sorted, as in Go).
pub fn from_json(value: &Value) -> Variable {
    match value {
        Value::Null => Variable::Null,
        Value::Bool(b) => Variable::Bool(*b),
        Value::Number(n) => Variable::Number(n.clone()),
        Value::String(s) => Variable::String(s.clone()),
        Value::Array(items) => Variable::Array(items.iter().map(|v| Rcvar::new(from_json(v))).collect()),
        Value::Object(map) => {
            Variable::Object(map.iter().map(|(k, v)| (k.clone(), Rcvar::new(from_json(v)))).collect::<BTreeMap<_, _>>())
        }
    }
}

/// Converts a JMESPath variable back into JSON (expression references become `null`).
pub fn to_json(var: &Variable) -> Value {
    match var {
        Variable::Null | Variable::Expref(_) => Value::Null,
        Variable::Bool(b) => Value::Bool(*b),
        Variable::Number(n) => Value::Number(n.clone()),
        Variable::String(s) => Value::String(s.clone()),
        Variable::Array(items) => Value::Array(items.iter().map(|v| to_json(v)).collect()),
        Variable::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>()),
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 32)`: shortest decimal that round-trips as a float32.
pub fn go_float32_string(f: f64) -> String {
    let s = format!("{}", f as f32);
    if s == "-0" { "0".to_string() } else { s }
}

/// Kyverno's `ifaceToString`: strings, numbers and booleans as text.
pub fn iface_to_string(v: &Variable) -> Option<String> {
    match v {
        Variable::String(s) => Some(s.clone()),
        Variable::Number(n) => n.as_f64().map(go_float32_string),
        Variable::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
