//! Kyverno variables: `{{ expression }}` templates inside strings, compiled once and
//! substituted per request against the rule context.
//!
//! A string that is exactly one variable takes the variable's JSON type; a string with
//! text around variables gets each value interpolated (strings as-is, other values as
//! JSON). `\{{` escapes a literal `{{`. Nested variables (`{{ a.{{b}} }}`) are resolved
//! innermost first, as Kyverno does.

use crate::vars::Vars;
use palisade_jmespath::Expression;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Why a variable could not be substituted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VariableError {
    /// The expression is not valid JMESPath.
    #[error("invalid variable {variable:?}: {message}")]
    Invalid {
        /// The variable text.
        variable: String,
        /// Parser message.
        message: String,
    },
    /// The expression failed or referenced a missing key.
    #[error("failed to resolve {variable} at path {path}: {message}")]
    Unresolved {
        /// The variable text.
        variable: String,
        /// JSON pointer of the string holding the variable.
        path: String,
        /// Why.
        message: String,
    },
}

/// How substitution treats variables that fail to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Failures are errors (patterns, deny conditions, patches).
    Strict,
    /// Failures become empty strings (preconditions).
    Lenient,
}

/// A piece of a template: literal text or a compiled variable.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// A variable: its source text and compiled expression.
    Var {
        /// Expression text between the braces.
        text: String,
        /// Compiled expression.
        expr: Expression,
        /// The expression as a plain field path, when it is one: resolved by walking the
        /// context directly, without converting it for the JMESPath interpreter.
        plain: Option<Vec<PathSegment>>,
    },
}

/// The expressions a nested template built at run time, by text (bounded: cleared when full, since
/// texts built from request data can be unbounded).
#[derive(Debug, Clone, Default)]
pub struct NestedExpressions(Arc<Mutex<NestedMap>>);

/// Compiled expressions by text. foldhash rather than SipHash: the map is small and bounded, so a
/// flood of colliding texts cannot grow it, and this lookup runs for every nested variable.
type NestedMap = HashMap<String, Arc<NestedExpression>, foldhash::fast::RandomState>;

/// One expression a nested template built, compiled.
#[derive(Debug)]
pub(crate) struct NestedExpression {
    expr: Expression,
    /// The expression as a plain field path, when it is one.
    plain: Option<Vec<PathSegment>>,
}

impl NestedExpression {
    /// The compiled expression.
    pub(crate) fn expression(&self) -> &Expression {
        &self.expr
    }
}

/// Distinct expression texts kept per nested template.
const NESTED_EXPRESSIONS_LIMIT: usize = 256;

impl NestedExpressions {
    /// The compiled expression for `text`, compiled on first use.
    pub(crate) fn get_or_compile(&self, text: &str) -> Result<Arc<NestedExpression>, VariableError> {
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(expr) = map.get(text) {
            return Ok(Arc::clone(expr));
        }
        let compiled = Arc::new(NestedExpression { expr: compile_expression(text)?, plain: split_plain_path(text) });
        if map.len() >= NESTED_EXPRESSIONS_LIMIT {
            map.clear();
        }
        map.insert(text.to_string(), Arc::clone(&compiled));
        Ok(compiled)
    }
}

/// A string compiled for substitution.
#[derive(Debug, Clone)]
pub enum Template {
    /// No variables; the (unescaped) text.
    Literal(String),
    /// Text and variables.
    Parts(Vec<Segment>),
    /// Nested variables, resolved by repeated substitution at run time; the expressions they
    /// produce are compiled once per distinct text.
    Nested(String, NestedExpressions),
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Template::Literal(s) | Template::Nested(s, _) => f.write_str(s),
            Template::Parts(parts) => {
                for p in parts {
                    match p {
                        Segment::Text(t) => f.write_str(t)?,
                        Segment::Var { text, .. } => write!(f, "{{{{{text}}}}}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// Whether `text` contains an unescaped `{{`.
pub fn has_variables(text: &str) -> bool {
    find_variables(text).next().is_some()
}

/// Byte ranges `(start, end)` of the outermost `{{ ... }}` variables in `text`
/// (`start` at the first `{`, `end` after the last `}`), skipping escaped `\{{`.
fn find_variables(text: &str) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i + 1 < bytes.len() {
            if bytes[i] == b'{' && bytes[i + 1] == b'{' && (i == 0 || bytes[i - 1] != b'\\') {
                let start = i;
                let mut depth = 0usize;
                let mut nested = false;
                let mut j = i;
                while j + 1 < bytes.len() {
                    if bytes[j] == b'{' && bytes[j + 1] == b'{' {
                        depth += 1;
                        if depth > 1 {
                            nested = true;
                        }
                        j += 2;
                        continue;
                    }
                    if bytes[j] == b'}' && bytes[j + 1] == b'}' {
                        // `}}}` closes an inline object then the variable: take the last pair.
                        let mut k = j;
                        while k + 2 < bytes.len() && bytes[k + 2] == b'}' {
                            k += 1;
                        }
                        depth -= 1;
                        j = k + 2;
                        if depth == 0 {
                            i = j;
                            return Some((start, j, nested));
                        }
                        continue;
                    }
                    j += 1;
                }
                i = bytes.len();
                return None;
            }
            i += 1;
        }
        None
    })
}

fn unescape(text: &str) -> String {
    text.replace("\\{{", "{{")
}

impl Template {
    /// Compiles `text`; JMESPath expressions are parsed now, so errors surface at load.
    pub fn compile(text: &str) -> Result<Self, VariableError> {
        let vars: Vec<_> = find_variables(text).collect();
        if vars.is_empty() {
            return Ok(Template::Literal(unescape(text)));
        }
        if vars.iter().any(|v| v.2) {
            return Ok(Template::Nested(text.to_string(), NestedExpressions::default()));
        }
        let mut parts = Vec::new();
        let mut last = 0;
        for (start, end, _) in vars {
            if start > last {
                parts.push(Segment::Text(unescape(&text[last..start])));
            }
            let inner = text[start + 2..end - 2].trim().to_string();
            let expr = compile_expression(&inner)?;
            let plain = split_plain_path(&inner);
            parts.push(Segment::Var { text: inner, expr, plain });
            last = end;
        }
        if last < text.len() {
            parts.push(Segment::Text(unescape(&text[last..])));
        }
        Ok(Template::Parts(parts))
    }

    /// Whether the template has variables.
    pub fn is_dynamic(&self) -> bool {
        !matches!(self, Template::Literal(_))
    }

    /// Like [`Template::render`], but a lone plain-path variable borrows the value it finds in `data`.
    pub fn render_borrowed<'a>(
        &self,
        data: &'a Vars<'_>,
        path: &str,
        mode: Resolution,
    ) -> Result<Cow<'a, Value>, VariableError> {
        match self {
            Template::Parts(parts) => match parts.as_slice() {
                [Segment::Var { text, expr, plain }] => {
                    resolve_borrowed(text, expr, plain.as_deref(), data, path, mode)
                }
                _ => self.render(data, path, mode).map(Cow::Owned),
            },
            _ => self.render(data, path, mode).map(Cow::Owned),
        }
    }

    /// The items of a list this template gives (a `foreach` list): `None` for null, the elements of an
    /// array, or the single value otherwise; what the expression selects in `data` is borrowed, not copied.
    pub fn render_items<'a>(
        &'a self,
        data: &'a Vars<'_>,
        path: &str,
        mode: Resolution,
    ) -> Result<Option<Vec<Cow<'a, Value>>>, VariableError> {
        if let Template::Parts(parts) = self
            && let [Segment::Var { text, expr, plain: None }] = parts.as_slice()
        {
            return match (data.search_items(expr), mode) {
                (Ok(items), _) => Ok(items),
                (Err(_), Resolution::Lenient) => Ok(Some(vec![Cow::Owned(Value::String(String::new()))])),
                (Err(e), Resolution::Strict) => Err(VariableError::Unresolved {
                    variable: text.to_string(),
                    path: path.to_string(),
                    message: format!("JMESPath query failed: {e}"),
                }),
            };
        }
        Ok(match self.render_borrowed(data, path, mode)? {
            Cow::Borrowed(Value::Array(items)) => Some(items.iter().map(Cow::Borrowed).collect()),
            Cow::Owned(Value::Array(items)) => Some(items.into_iter().map(Cow::Owned).collect()),
            Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null) => None,
            single => Some(vec![single]),
        })
    }

    /// Substitutes against `data`; `path` names the location for error messages.
    pub fn render(&self, data: &Vars<'_>, path: &str, mode: Resolution) -> Result<Value, VariableError> {
        match self {
            Template::Literal(s) => Ok(Value::String(s.clone())),
            Template::Parts(parts) => {
                if let [Segment::Var { text, expr, plain }] = parts.as_slice() {
                    return resolve(text, expr, plain.as_deref(), data, path, mode);
                }
                let mut out = String::new();
                for part in parts {
                    match part {
                        Segment::Text(t) => out.push_str(t),
                        Segment::Var { text, expr, plain } => {
                            let value = resolve(text, expr, plain.as_deref(), data, path, mode)?;
                            push_value(&mut out, &value);
                        }
                    }
                }
                Ok(Value::String(out))
            }
            Template::Nested(text, cache) => render_nested(text, cache, data, path, mode),
        }
    }
}

fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        other => out.push_str(&other.to_string()),
    }
}

fn compile_expression(text: &str) -> Result<Expression, VariableError> {
    // `@` alone refers to the current value; Kyverno also accepts a leading `@.`.
    palisade_jmespath::compile(text)
        .map_err(|e| VariableError::Invalid { variable: text.to_string(), message: e.to_string() })
}

/// Repeatedly substitutes the innermost variables until none remain.
fn render_nested(
    text: &str,
    cache: &NestedExpressions,
    data: &Vars<'_>,
    path: &str,
    mode: Resolution,
) -> Result<Value, VariableError> {
    let mut current = text.to_string();
    for _ in 0..16 {
        let Some((start, end)) = innermost(&current) else { break };
        let inner = current[start + 2..end - 2].trim();
        let compiled = cache.get_or_compile(inner)?;
        // A plain field path is walked, so a missing key is Kyverno's "Unknown key" error.
        let value = resolve(inner, &compiled.expr, compiled.plain.as_deref(), data, path, mode)?;
        if start == 0 && end == current.len() {
            return Ok(value);
        }
        let mut replaced = String::with_capacity(current.len());
        replaced.push_str(&current[..start]);
        push_value(&mut replaced, &value);
        replaced.push_str(&current[end..]);
        current = replaced;
    }
    Ok(Value::String(unescape(&current)))
}

fn innermost(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut open = None;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' && (i == 0 || bytes[i - 1] != b'\\') {
            open = Some(i);
            i += 2;
            continue;
        }
        if bytes[i] == b'}'
            && bytes[i + 1] == b'}'
            && let Some(s) = open
        {
            return Some((s, i + 2));
        }
        i += 1;
    }
    None
}

fn resolve(
    text: &str,
    expr: &Expression,
    plain: Option<&[PathSegment]>,
    data: &Vars<'_>,
    path: &str,
    mode: Resolution,
) -> Result<Value, VariableError> {
    resolve_borrowed(text, expr, plain, data, path, mode).map(Cow::into_owned)
}

/// [`resolve`], borrowing the value from `data` when a plain path finds it there.
fn resolve_borrowed<'a>(
    text: &str,
    expr: &Expression,
    plain: Option<&[PathSegment]>,
    data: &'a Vars<'_>,
    path: &str,
    mode: Resolution,
) -> Result<Cow<'a, Value>, VariableError> {
    let result = match plain {
        Some(segments) => match walk(segments, data) {
            Walk::Found(v) => Ok(v),
            Walk::Null => Ok(Cow::Owned(Value::Null)),
            Walk::MissingKey(key) => Err(format!("JMESPath query failed: Unknown key \"{key}\" in path")),
        },
        None => match path_or_literal(expr, data) {
            Some(value) => Ok(value),
            // Not a plain field path (those are walked above), so a null result is just null.
            None => data.search(expr).map(Cow::Owned).map_err(|e| format!("JMESPath query failed: {e}")),
        },
    };
    match (result, mode) {
        (Ok(v), _) => Ok(v),
        (Err(_), Resolution::Lenient) => Ok(Cow::Owned(Value::String(String::new()))),
        (Err(message), Resolution::Strict) => {
            Err(VariableError::Unresolved { variable: text.to_string(), path: path.to_string(), message })
        }
    }
}

/// `<field path> || <literal>` (`request.operation || 'BACKGROUND'`, the most common Kyverno variable
/// after plain paths) without the interpreter: the field, borrowed, when it is truthy, else the literal.
/// `None` for any other expression, and for a path that stops above the mounted objects.
fn path_or_literal<'a>(expr: &Expression, data: &'a Vars<'_>) -> Option<Cow<'a, Value>> {
    let (keys, literal) = expr.path_or_literal()?;
    let names = keys.iter().map(String::as_str);
    let (start, rest) = match data.mount_for(names.clone()) {
        Some((mounted, consumed)) => (mounted, &keys[consumed..]),
        None if data.above_mount(names) => return None,
        None => (data.doc(), keys),
    };
    let found = rest.iter().try_fold(start, |current, key| palisade_engine::field::field(current, key));
    Some(match found {
        Some(value) if palisade_jmespath::truthy(value) => Cow::Borrowed(value),
        _ => Cow::Owned(literal.clone()),
    })
}

/// Result of walking a plain path.
enum Walk<'a> {
    /// The value at the path.
    Found(Cow<'a, Value>),
    /// JMESPath gives null (an index out of range, or a field of a non-object).
    Null,
    /// A key is missing from an object: Kyverno's "Unknown key" error.
    MissingKey(String),
}

fn walk<'a>(segments: &[PathSegment], data: &'a Vars<'_>) -> Walk<'a> {
    let keys = segments.iter().map_while(|s| match s {
        PathSegment::Key(k) => Some(k.as_str()),
        PathSegment::Index(_) => None,
    });
    let (start, rest) = match data.mount_for(keys.clone()) {
        Some((mounted, consumed)) => (mounted, &segments[consumed..]),
        None if data.above_mount(keys) => {
            // A path that stops above the request's objects (`request`): walk a copy.
            return match walk_json(segments, &data.materialized()) {
                Walk::Found(v) => Walk::Found(Cow::Owned(v.into_owned())),
                Walk::Null => Walk::Null,
                Walk::MissingKey(k) => Walk::MissingKey(k),
            };
        }
        None => (data.doc(), segments),
    };
    walk_json(rest, start)
}

fn walk_json<'a>(segments: &[PathSegment], data: &'a Value) -> Walk<'a> {
    let mut current = data;
    for segment in segments {
        match segment {
            PathSegment::Key(key) => match current {
                Value::Object(map) => match palisade_engine::field::lookup(map, key) {
                    Some(v) => current = v,
                    None => return Walk::MissingKey(key.clone()),
                },
                _ => return Walk::Null,
            },
            PathSegment::Index(i) => match current {
                Value::Array(items) => {
                    let idx = if *i < 0 { items.len() as i64 + i } else { *i };
                    match usize::try_from(idx).ok().and_then(|i| items.get(i)) {
                        Some(v) => current = v,
                        None => return Walk::Null,
                    }
                }
                _ => return Walk::Null,
            },
        }
    }
    Walk::Found(Cow::Borrowed(current))
}

/// One step of a plain field path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSegment {
    /// An object key.
    Key(String),
    /// An array index (negative counts from the end).
    Index(i64),
}

fn split_plain_path(text: &str) -> Option<Vec<PathSegment>> {
    let mut segments = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        match chars[i] {
            '"' => {
                let end = chars[i + 1..].iter().position(|&c| c == '"')? + i + 1;
                segments.push(PathSegment::Key(chars[i + 1..end].iter().collect()));
                i = end + 1;
            }
            '[' => {
                let end = chars[i + 1..].iter().position(|&c| c == ']')? + i + 1;
                let inner: String = chars[i + 1..end].iter().collect();
                segments.push(PathSegment::Index(inner.trim().parse().ok()?));
                i = end + 1;
            }
            '.' if i > 0 => i += 1,
            c if ident(c) && !c.is_ascii_digit() || c == '_' => {
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                segments.push(PathSegment::Key(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    (!segments.is_empty()).then_some(segments)
}

/// A JSON value with every string containing variables compiled.
#[derive(Debug, Clone)]
pub enum CompiledValue {
    /// A value without variables, used as-is.
    Static(Value),
    /// An object with dynamic parts: keys may be templates too.
    Object(Vec<(Template, CompiledValue)>),
    /// An array with dynamic parts.
    Array(Vec<CompiledValue>),
    /// A string with variables.
    String(Template),
}

impl CompiledValue {
    /// Compiles every string (and object key) of `value`.
    pub fn compile(value: &Value) -> Result<Self, VariableError> {
        if !value_has_variables(value) {
            return Ok(CompiledValue::Static(value.clone()));
        }
        Ok(match value {
            Value::String(s) => CompiledValue::String(Template::compile(s)?),
            Value::Array(items) => {
                CompiledValue::Array(items.iter().map(CompiledValue::compile).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => CompiledValue::Object(
                map.iter()
                    .map(|(k, v)| Ok((Template::compile(k)?, CompiledValue::compile(v)?)))
                    .collect::<Result<_, VariableError>>()?,
            ),
            other => CompiledValue::Static(other.clone()),
        })
    }

    /// Whether substitution is needed.
    pub fn is_dynamic(&self) -> bool {
        !matches!(self, CompiledValue::Static(_))
    }

    /// The value when it has no variables.
    pub fn as_static(&self) -> Option<&Value> {
        match self {
            CompiledValue::Static(v) => Some(v),
            _ => None,
        }
    }

    /// Substitutes all variables.
    pub fn render(&self, data: &Vars<'_>, mode: Resolution) -> Result<Value, VariableError> {
        self.render_at(data, mode, &mut String::new())
    }

    /// Like [`CompiledValue::render`], but borrows a static value, or the value a lone plain-path variable
    /// (`{{ request.object.spec }}`) finds in `data`, instead of copying it.
    pub fn render_borrowed<'a>(
        &'a self,
        data: &'a Vars<'_>,
        mode: Resolution,
    ) -> Result<Cow<'a, Value>, VariableError> {
        match self {
            CompiledValue::Static(v) => Ok(Cow::Borrowed(v)),
            CompiledValue::String(template) => template.render_borrowed(data, "/", mode),
            _ => self.render(data, mode).map(Cow::Owned),
        }
    }

    fn render_at(&self, data: &Vars<'_>, mode: Resolution, path: &mut String) -> Result<Value, VariableError> {
        match self {
            CompiledValue::Static(v) => Ok(v.clone()),
            CompiledValue::String(t) => t.render(data, if path.is_empty() { "/" } else { path }, mode),
            CompiledValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    out.push(item.render_at(data, mode, path)?);
                    path.truncate(len);
                }
                Ok(Value::Array(out))
            }
            CompiledValue::Object(entries) => {
                let mut out = serde_json::Map::with_capacity(entries.len());
                for (key, value) in entries {
                    let key = match key {
                        Template::Literal(k) => k.clone(),
                        other => match other.render(data, path, mode)? {
                            Value::String(s) => s,
                            v => v.to_string(),
                        },
                    };
                    let len = path.len();
                    path.push('/');
                    path.push_str(&key);
                    let rendered = value.render_at(data, mode, path)?;
                    path.truncate(len);
                    out.insert(key, rendered);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

/// Whether every variable in the strings and keys of `value` reads only paths under `prefixes`
/// (false for nested variables, which are built at run time, and for any that does not compile).
pub fn variables_read_only_under(value: &Value, prefixes: &[&[&str]]) -> bool {
    strings_all(value, &|text| every_variable(text, &|e| e.reads_only_under(prefixes)))
}

/// Like [`variables_read_only_under`], and no variable calls a function: every variable's value is then a
/// function of the paths under `prefixes` alone (no clock, no random numbers, no lookups), and so is
/// `value` rendered.
pub fn variables_pure_under(value: &Value, prefixes: &[&[&str]]) -> bool {
    strings_all(value, &|text| {
        !text.contains("$(") && every_variable(text, &|e| e.reads_only_under(prefixes) && !e.calls_functions())
    })
}

/// Whether `ok` holds for every string and key in `value`.
fn strings_all(value: &Value, ok: &impl Fn(&str) -> bool) -> bool {
    match value {
        Value::String(s) => ok(s),
        Value::Array(a) => a.iter().all(|v| strings_all(v, ok)),
        Value::Object(m) => m.iter().all(|(k, v)| ok(k) && strings_all(v, ok)),
        _ => true,
    }
}

/// Whether every variable of `text` is plain (not nested), compiles, and satisfies `ok`.
fn every_variable(text: &str, ok: &impl Fn(&Expression) -> bool) -> bool {
    find_variables(text).all(|(start, end, nested)| {
        !nested && compile_expression(text[start + 2..end - 2].trim()).is_ok_and(|e| ok(&e))
    })
}

/// Whether any string or key in `value` holds a variable.
pub fn value_has_variables(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(value_has_variables),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains("{{") || value_has_variables(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(text: &str, data: &Value) -> Result<Value, VariableError> {
        Template::compile(text)?.render(&Vars::from_value(data.clone()), "/", Resolution::Strict)
    }

    #[test]
    fn whole_string_variable_keeps_type() {
        let data = json!({"request": {"object": {"spec": {"replicas": 3}}}});
        assert_eq!(render("{{ request.object.spec.replicas }}", &data).unwrap(), json!(3));
        assert_eq!(render("n={{request.object.spec.replicas}}", &data).unwrap(), json!("n=3"));
    }

    #[test]
    fn escaped_braces_are_literal() {
        assert_eq!(render("\\{{ not a var }}", &json!({})).unwrap(), json!("{{ not a var }}"));
    }

    #[test]
    fn missing_plain_key_is_an_error_but_defaults_work() {
        let data = json!({"request": {"object": {"metadata": {}}}});
        let err = render("{{ request.object.metadata.labels.app }}", &data).unwrap_err();
        assert!(err.to_string().contains("Unknown key \"labels\""), "{err}");
        assert_eq!(render("{{ request.object.metadata.labels.app || 'x' }}", &data).unwrap(), json!("x"));
        let lenient = Template::compile("{{ request.object.metadata.labels.app }}").unwrap();
        assert_eq!(lenient.render(&Vars::from_value(data), "/", Resolution::Lenient).unwrap(), json!(""));
    }

    #[test]
    fn path_or_literal_agrees_with_the_interpreter() {
        let data = json!({"request": {"operation": "CREATE", "empty": "", "list": [], "zero": 0, "no": false,
            "object": {"metadata": {"labels": {"z": "1", "app": "web"}, "name": "n"}, "spec": {"replicas": 3}}}});
        let vars = Vars::from_value(data);
        let cases = [
            "request.operation || 'BACKGROUND'",
            "request.missing || 'BACKGROUND'",
            "request.empty || 'BACKGROUND'",
            "request.list || `[1]`",
            "request.zero || 'x'",
            "request.no || `true`",
            "request.operation.deeper || 'x'",
            "request.object.metadata.labels.app || 'none'",
            "request.object.metadata.labels.other || 'none'",
            "request.object.spec.replicas || `1`",
            "request.object.metadata.labels || `{}`",
            "request.object || 'x'",
            "request || 'x'",
        ];
        for text in cases {
            let expr = compile_expression(text).unwrap();
            assert!(expr.path_or_literal().is_some(), "{text} takes the fast path");
            let interpreted = vars.search(&expr).unwrap();
            let fast = path_or_literal(&expr, &vars).map(Cow::into_owned);
            // A path above the mounted objects (`request`) is left to the interpreter.
            assert_eq!(fast.unwrap_or_else(|| interpreted.clone()), interpreted, "{text}");
        }
        assert!(path_or_literal(&compile_expression("request.operation || request.name").unwrap(), &vars).is_none());
    }

    #[test]
    fn nested_variables_resolve_innermost_first() {
        let data = json!({"key": "b", "a": {"b": "found"}});
        assert_eq!(render("{{ a.{{key}} }}", &data).unwrap(), json!("found"));
    }

    #[test]
    fn inline_objects_inside_variables() {
        let data = json!({"labels": {"a": "1"}});
        let v = render("{{ merge(labels, `{\"t\": \"\"}`) }}", &data).unwrap();
        assert_eq!(v, json!({"a": "1", "t": ""}));
    }

    #[test]
    fn compiled_values_render_keys_and_values() {
        let cv = CompiledValue::compile(&json!({"x": ["{{a}}", 1], "{{k}}": "v"})).unwrap();
        let out = cv.render(&Vars::from_value(json!({"a": "A", "k": "K"})), Resolution::Strict).unwrap();
        assert_eq!(out, json!({"x": ["A", 1], "K": "v"}));
    }
}
