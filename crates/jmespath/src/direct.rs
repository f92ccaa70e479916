//! A JMESPath interpreter that reads `serde_json::Value` in place.
//!
//! The `jmespath` crate interprets its own value type, so every search used to convert the input
//! (or the subtree a leading path reaches) into it: on the admission path that conversion, and
//! dropping it again, cost more than the expressions themselves. This interpreter walks the JSON
//! directly and borrows whatever it can; only function calls convert, and only their arguments
//! (the common cheap builtins, such as `length`, `contains` or `keys`, run natively when their
//! arguments have the expected types; any other case goes to the registered function, so errors
//! read the same). Semantics follow the crate's interpreter node for node, including its ordering
//! of object keys (sorted, as in Go), which `finish` applies to the result.

use std::borrow::Cow;

use jmespath::ast::{Ast, Comparator};
use jmespath::functions::Function;
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, RuntimeError, Variable};
use serde_json::{Map, Value};

use crate::prefix::to_variable;
use crate::util;

/// A compiled node over JSON values.
pub enum Node {
    /// `@`.
    Identity,
    /// A chain of field names (`a.b.c`), walked in one step.
    Path(Box<[String]>),
    /// `lhs.rhs` where `rhs` is not a plain field.
    Subexpr(Box<Node>, Box<Node>),
    /// `[i]`, negative from the end.
    Index(i32),
    /// `[start:stop:step]`.
    Slice { start: Option<i32>, stop: Option<i32>, step: i32, offset: usize },
    /// A literal value.
    Literal(Value),
    /// `lhs || rhs`.
    Or(Box<Node>, Box<Node>),
    /// `lhs && rhs`.
    And(Box<Node>, Box<Node>),
    /// `!node`.
    Not(Box<Node>),
    /// The crate's conditional node (`then` when `predicate` is truthy, else null).
    Condition(Box<Node>, Box<Node>),
    /// `lhs <op> rhs`.
    Comparison(Comparator, Box<Node>, Box<Node>),
    /// `node.*`: the values of an object, in key order.
    ObjectValues(Box<Node>),
    /// `lhs[*].rhs` and friends: `rhs` on each element, nulls dropped.
    Projection(Box<Node>, Box<Node>),
    /// `node[]`.
    Flatten(Box<Node>),
    /// `[a, b]`.
    MultiList(Vec<Node>),
    /// `{k: a, …}`.
    MultiHash(Vec<(String, Node)>),
    /// A function call.
    Function(Box<Call>),
}

/// A function call: the registered implementation and its arguments.
pub struct Call {
    name: String,
    offset: usize,
    function: Option<&'static dyn Function>,
    args: Vec<Arg>,
}

/// A function argument: an expression evaluated here, or an expression reference handed over as is.
enum Arg {
    Value(Node),
    Expref(Rcvar),
}

/// Compiles `ast` for direct evaluation; `None` when it holds a construct only the crate's
/// interpreter can represent (an expression reference outside a function argument).
pub fn compile(ast: &Ast, runtime: &'static Runtime) -> Option<Node> {
    let b = |a: &Ast| compile(a, runtime).map(Box::new);
    Some(match ast {
        Ast::Identity { .. } => Node::Identity,
        Ast::Field { name, .. } => Node::Path(Box::new([name.clone()])),
        Ast::Subexpr { lhs, rhs, .. } => {
            let lhs = compile(lhs, runtime)?;
            let rhs = compile(rhs, runtime)?;
            match (lhs, rhs) {
                (Node::Path(a), Node::Path(b)) => Node::Path(a.iter().chain(b.iter()).cloned().collect()),
                (Node::Identity, rhs) => rhs,
                (lhs, rhs) => Node::Subexpr(Box::new(lhs), Box::new(rhs)),
            }
        }
        Ast::Index { idx, .. } => Node::Index(*idx),
        Ast::Slice { start, stop, step, offset } => {
            Node::Slice { start: *start, stop: *stop, step: *step, offset: *offset }
        }
        Ast::Literal { value, .. } => match &**value {
            Variable::Expref(_) => return None,
            v => Node::Literal(util::to_json(v)),
        },
        Ast::Or { lhs, rhs, .. } => Node::Or(b(lhs)?, b(rhs)?),
        Ast::And { lhs, rhs, .. } => Node::And(b(lhs)?, b(rhs)?),
        Ast::Not { node, .. } => Node::Not(b(node)?),
        Ast::Condition { predicate, then, .. } => Node::Condition(b(predicate)?, b(then)?),
        Ast::Comparison { comparator, lhs, rhs, .. } => Node::Comparison(comparator.clone(), b(lhs)?, b(rhs)?),
        Ast::ObjectValues { node, .. } => Node::ObjectValues(b(node)?),
        Ast::Projection { lhs, rhs, .. } => Node::Projection(b(lhs)?, b(rhs)?),
        Ast::Flatten { node, .. } => Node::Flatten(b(node)?),
        Ast::MultiList { elements, .. } => {
            Node::MultiList(elements.iter().map(|e| compile(e, runtime)).collect::<Option<_>>()?)
        }
        Ast::MultiHash { elements, .. } => Node::MultiHash(
            elements.iter().map(|kv| Some((kv.key.clone(), compile(&kv.value, runtime)?))).collect::<Option<_>>()?,
        ),
        Ast::Function { name, args, offset } => {
            let args = args
                .iter()
                .map(|a| match a {
                    Ast::Expref { ast, .. } => Some(Arg::Expref(Rcvar::new(Variable::Expref((**ast).clone())))),
                    other => compile(other, runtime).map(Arg::Value),
                })
                .collect::<Option<_>>()?;
            Node::Function(Box::new(Call {
                name: name.clone(),
                offset: *offset,
                function: runtime.get_function(name),
                args,
            }))
        }
        Ast::Expref { .. } => return None,
    })
}

type Out<'a> = Result<Cow<'a, Value>, JmespathError>;

const NULL: Value = Value::Null;

/// Evaluates `node` against `data`.
pub fn eval<'a>(node: &'a Node, data: &'a Value, ctx: &mut Context<'_>) -> Out<'a> {
    match node {
        Node::Identity => Ok(Cow::Borrowed(data)),
        Node::Path(keys) => {
            let mut current = data;
            for key in keys.iter() {
                current = match current {
                    Value::Object(map) => map.get(key).unwrap_or(&NULL),
                    _ => return Ok(Cow::Borrowed(&NULL)),
                };
            }
            Ok(Cow::Borrowed(current))
        }
        Node::Subexpr(lhs, rhs) => match eval(lhs, data, ctx)? {
            Cow::Borrowed(v) => eval(rhs, v, ctx),
            Cow::Owned(v) => Ok(Cow::Owned(eval(rhs, &v, ctx)?.into_owned())),
        },
        Node::Index(idx) => Ok(Cow::Borrowed(index(data, *idx))),
        Node::Slice { start, stop, step, offset } => {
            if *step == 0 {
                ctx.offset = *offset;
                return Err(JmespathError::from_ctx(ctx, ErrorReason::Runtime(RuntimeError::InvalidSlice)));
            }
            Ok(match data {
                Value::Array(items) => Cow::Owned(Value::Array(slice(items, *start, *stop, *step))),
                _ => Cow::Borrowed(&NULL),
            })
        }
        Node::Literal(v) => Ok(Cow::Borrowed(v)),
        Node::Or(lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            if truthy(&left) { Ok(left) } else { eval(rhs, data, ctx) }
        }
        Node::And(lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            if !truthy(&left) { Ok(left) } else { eval(rhs, data, ctx) }
        }
        Node::Not(node) => Ok(Cow::Owned(Value::Bool(!truthy(&*eval(node, data, ctx)?)))),
        Node::Condition(predicate, then) => {
            if truthy(&*eval(predicate, data, ctx)?) {
                eval(then, data, ctx)
            } else {
                Ok(Cow::Borrowed(&NULL))
            }
        }
        Node::Comparison(cmp, lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            let right = eval(rhs, data, ctx)?;
            Ok(Cow::Owned(compare(cmp, &left, &right).map_or(Value::Null, Value::Bool)))
        }
        Node::ObjectValues(node) => {
            let subject = eval(node, data, ctx)?;
            Ok(Cow::Owned(match &*subject {
                Value::Object(map) => Value::Array(sorted_entries(map).into_iter().map(|(_, v)| v.clone()).collect()),
                _ => Value::Null,
            }))
        }
        Node::Projection(lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            let Value::Array(items) = &*left else { return Ok(Cow::Borrowed(&NULL)) };
            let mut collected = Vec::with_capacity(items.len());
            for item in items {
                let current = eval(rhs, item, ctx)?;
                if !current.is_null() {
                    collected.push(current.into_owned());
                }
            }
            Ok(Cow::Owned(Value::Array(collected)))
        }
        Node::Flatten(node) => {
            let subject = eval(node, data, ctx)?;
            let Value::Array(items) = &*subject else { return Ok(Cow::Borrowed(&NULL)) };
            let mut collected = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Array(inner) => collected.extend(inner.iter().cloned()),
                    other => collected.push(other.clone()),
                }
            }
            Ok(Cow::Owned(Value::Array(collected)))
        }
        Node::MultiList(elements) => {
            if data.is_null() {
                return Ok(Cow::Borrowed(&NULL));
            }
            let mut collected = Vec::with_capacity(elements.len());
            for e in elements {
                collected.push(eval(e, data, ctx)?.into_owned());
            }
            Ok(Cow::Owned(Value::Array(collected)))
        }
        Node::MultiHash(elements) => {
            if data.is_null() {
                return Ok(Cow::Borrowed(&NULL));
            }
            let mut collected = Map::with_capacity(elements.len());
            for (key, e) in elements {
                let value = eval(e, data, ctx)?.into_owned();
                collected.insert(key.clone(), value);
            }
            Ok(Cow::Owned(Value::Object(collected)))
        }
        Node::Function(call) => call_function(call, data, ctx).map(Cow::Owned),
    }
}

fn call_function<'a>(call: &'a Call, data: &'a Value, ctx: &mut Context<'_>) -> Result<Value, JmespathError> {
    let mut values: Vec<Cow<'a, Value>> = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        if let Arg::Value(node) = arg {
            values.push(eval(node, data, ctx)?);
        }
    }
    let all_values = values.len() == call.args.len();
    if all_values && let Some(result) = native(&call.name, &values) {
        return Ok(result);
    }
    let mut values = values.into_iter();
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Value(_) => to_variable(&values.next().unwrap_or(Cow::Borrowed(&NULL))),
            Arg::Expref(r) => r.clone(),
        });
    }
    ctx.offset = call.offset;
    match call.function {
        Some(f) => Ok(util::to_json(&*f.evaluate(&args, ctx)?)),
        None => {
            Err(JmespathError::from_ctx(ctx, ErrorReason::Runtime(RuntimeError::UnknownFunction(call.name.clone()))))
        }
    }
}

/// Builtins computed in place when their arguments have the types they accept; `None` sends the
/// call to the registered function (which also produces the type errors).
fn native(name: &str, args: &[Cow<'_, Value>]) -> Option<Value> {
    match (name, args) {
        ("length", [v]) => match &**v {
            Value::String(s) => Some(Value::from(s.chars().count())),
            Value::Array(a) => Some(Value::from(a.len())),
            Value::Object(o) => Some(Value::from(o.len())),
            _ => None,
        },
        ("contains", [haystack, needle]) => match (&**haystack, &**needle) {
            (Value::String(h), Value::String(n)) => Some(Value::Bool(h.contains(n.as_str()))),
            (Value::Array(items), n) => Some(Value::Bool(items.iter().any(|i| equal(i, n)))),
            _ => None,
        },
        ("starts_with", [s, p]) => match (&**s, &**p) {
            (Value::String(s), Value::String(p)) => Some(Value::Bool(s.starts_with(p.as_str()))),
            _ => None,
        },
        ("ends_with", [s, p]) => match (&**s, &**p) {
            (Value::String(s), Value::String(p)) => Some(Value::Bool(s.ends_with(p.as_str()))),
            _ => None,
        },
        ("keys", [v]) => match &**v {
            Value::Object(map) => {
                Some(Value::Array(sorted_entries(map).into_iter().map(|(k, _)| Value::String(k.clone())).collect()))
            }
            _ => None,
        },
        ("not_null", args) if !args.is_empty() => {
            Some(args.iter().find(|a| !a.is_null()).map(|a| (**a).clone()).unwrap_or(Value::Null))
        }
        _ => None,
    }
}

/// The entries of an object in key order, as the crate's (and Go's) maps iterate.
fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Copies a result out, with object keys in order, as converting back from the crate's maps does.
pub fn finish(value: Cow<'_, Value>) -> Value {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            Value::Object(map) => {
                Value::Object(sorted_entries(map).into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
            }
            other => other.clone(),
        }
    }
    fn is_sorted(v: &Value) -> bool {
        match v {
            Value::Array(items) => items.iter().all(is_sorted),
            Value::Object(map) => map.keys().is_sorted() && map.values().all(is_sorted),
            _ => true,
        }
    }
    if is_sorted(&value) { value.into_owned() } else { sorted(&value) }
}

fn index(data: &Value, idx: i32) -> &Value {
    let Value::Array(items) = data else { return &NULL };
    if idx >= 0 {
        items.get(idx as usize).unwrap_or(&NULL)
    } else {
        let back = (idx.unsigned_abs() as usize).max(1);
        if items.len() >= back { &items[items.len() - back] } else { &NULL }
    }
}

fn slice(items: &[Value], start: Option<i32>, stop: Option<i32>, step: i32) -> Vec<Value> {
    let mut result = vec![];
    let len = items.len() as i32;
    if len == 0 {
        return result;
    }
    let adjust = |mut endpoint: i32| {
        if endpoint < 0 {
            endpoint += len;
            if endpoint >= 0 {
                endpoint
            } else if step < 0 {
                -1
            } else {
                0
            }
        } else if endpoint >= len {
            if step < 0 { len - 1 } else { len }
        } else {
            endpoint
        }
    };
    let a = match start {
        Some(s) => adjust(s),
        None if step < 0 => len - 1,
        None => 0,
    };
    let b = match stop {
        Some(s) => adjust(s),
        None if step < 0 => -1,
        None => len,
    };
    let mut i = a;
    if step > 0 {
        while i < b {
            result.push(items[i as usize].clone());
            i += step;
        }
    } else {
        while i > b {
            result.push(items[i as usize].clone());
            i += step;
        }
    }
    result
}

/// JMESPath truthiness.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
        Value::Null => false,
    }
}

/// The crate's comparison: equality on any values, ordering on numbers only (else null).
fn compare(cmp: &Comparator, left: &Value, right: &Value) -> Option<bool> {
    match cmp {
        Comparator::Equal => Some(equal(left, right)),
        Comparator::NotEqual => Some(!equal(left, right)),
        ordering => {
            let (Value::Number(a), Value::Number(b)) = (left, right) else { return None };
            let (a, b) = (a.as_f64()?, b.as_f64()?);
            let ord = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less);
            Some(match ordering {
                Comparator::LessThan => ord.is_lt(),
                Comparator::LessThanEqual => ord.is_le(),
                Comparator::GreaterThan => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
    }
}

/// The crate's equality: same type, numbers within float tolerance, containers element-wise.
fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => float_eq(a, b),
            _ => false,
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => false,
    }
}

/// The crate's float equality (relative tolerance).
fn float_eq(a: f64, b: f64) -> bool {
    let diff = (a - b).abs();
    if a == b {
        true
    } else if !a.is_normal() || !b.is_normal() {
        diff < (f64::EPSILON * f64::MIN_POSITIVE)
    } else {
        diff / (a.abs() + b.abs()) < f64::EPSILON
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// The in-place interpreter and the crate's interpreter agree, results and errors alike.
    #[test]
    fn agrees_with_the_crate_interpreter() {
        let data = json!({
            "request": {"operation": "CREATE", "object": {
                "metadata": {"name": "web", "labels": {"z": "1", "app": "web", "b": ""}},
                "spec": {"containers": [
                    {"name": "a", "image": "nginx:1", "ports": [{"hostPort": 80}, {"containerPort": 8}]},
                    {"name": "b", "image": "ghcr.io/x/y@sha256:ab", "securityContext": {"privileged": true}}],
                    "initContainers": [{"name": "i", "ports": [{"hostPort": 8}]}],
                    "volumes": [{"name": "v", "hostPath": {"path": "/"}}, {"name": "w", "emptyDir": {}}]}}},
            "nums": [3, 1.0, 2.5, -4, 1], "words": ["b", "a", "ünï"], "empty": [], "obj": {"y": 2, "x": 1},
            "nested": [[1, 2], [3, [4]], 5]
        });
        let cases = [
            "request.operation || 'BACKGROUND'",
            "request.missing || 'BACKGROUND'",
            "request.operation && `false`",
            "!request.object.spec.hostNetwork",
            "request.object.spec.[ephemeralContainers, initContainers, containers][].ports[].hostPort",
            "request.object.spec.volumes[].keys(@)[] || ''",
            "request.object.spec.containers[?securityContext.privileged == `true`].name",
            "request.object.spec.containers[?name != 'a'] | length(@)",
            "request.object.metadata.labels",
            "request.object.metadata.labels.*",
            "request.object.metadata.labels | keys(@)",
            "request.object.metadata.labels | values(@)",
            "request.object.metadata.{n: name, l: labels}",
            "request.object.spec.containers[*].[name, image]",
            "request.object.spec.containers[0].ports[-1]",
            "request.object.spec.containers[-5]",
            "nums[1:3]",
            "nums[::-1]",
            "nums[-2:]",
            "nums[5:1:-2]",
            "empty[:]",
            "obj[1:]",
            "nums[?@ > `1`]",
            "nums[?@ == `1`]",
            "nums[0] < nums[1]",
            "words[0] < words[1]",
            "obj == {x: `1`, y: `2`}",
            "sort_by(request.object.spec.containers, &name)[].name",
            "map(&length(@), words)",
            "max_by(request.object.spec.containers, &length(name)).name",
            "length(words[2])",
            "length(obj)",
            "contains(nums, `2.5`)",
            "contains(words, 'a')",
            "contains('abc', 'b')",
            "starts_with(request.object.spec.containers[1].image, 'ghcr')",
            "ends_with(words[0], 'b')",
            "not_null(request.x, request.operation)",
            "not_null(request.x)",
            "to_string(obj)",
            "type(nums)",
            "nested[]",
            "nested[][]",
            "nested[*][0]",
            "obj.*",
            "`{\"b\": 1, \"a\": 2}`",
            "[obj, `null`]",
            "request.object.spec.containers[].ports[?hostPort].hostPort",
            "request.object | keys(@)",
            "length(`null`)",
            "keys(words)",
            "contains(`1`, 'a')",
            "unknown_function(@)",
            "nums[::0]",
            "request.object.spec.containers[].name | join(',', @)",
            "sum(nums)",
            "split('a,b', ',')",
            "request.object.spec.volumes[?hostPath].name | [0]",
            "@",
            "obj.y.keys(@)",
            "@.request.operation",
        ];
        for expr in cases {
            let compiled = crate::compile(expr).unwrap();
            let direct = compiled.search(&data);
            let whole = compiled.search_whole(&data);
            match (&direct, &whole) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{expr}");
                    assert_eq!(a.to_string(), b.to_string(), "{expr}: key order");
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{expr}"),
                _ => panic!("{expr}: direct {direct:?}, crate {whole:?}"),
            }
        }
    }
}
