//! Evaluation of compiled nodes, node for node as the `jmespath` crate's interpreter does it.

use jmespath::{Context, ErrorReason, JmespathError, RuntimeError};
use serde_json::Value;

use super::val::{NULL, Val, compare, equal, slice, sorted_entries};
use super::{Arg, Call, Node};
use crate::util;

type Out<'a> = Result<Val<'a>, JmespathError>;

/// Evaluates `node` against `data`; results borrow from the input and the expression's literals.
pub fn eval<'a>(node: &'a Node, data: &Val<'a>, ctx: &mut Context<'_>) -> Out<'a> {
    if let Val::Owned(owned) = data {
        // A computed value (a function result): evaluate against it and keep what comes out.
        return Ok(Val::Owned(eval(node, &Val::Ref(owned), ctx)?.into_value()));
    }
    match node {
        Node::Identity => Ok(data.clone()),
        Node::Path(keys) => {
            let Val::Ref(mut current) = *data else { return Ok(Val::null()) };
            for key in keys.iter() {
                current = match current {
                    Value::Object(map) => map.get(key).unwrap_or(&NULL),
                    _ => return Ok(Val::null()),
                };
            }
            Ok(Val::Ref(current))
        }
        Node::Subexpr(lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            eval(rhs, &left, ctx)
        }
        Node::Index(idx) => Ok(index(data, *idx)),
        Node::Slice { start, stop, step, offset } => {
            if *step == 0 {
                ctx.offset = *offset;
                return Err(JmespathError::from_ctx(ctx, ErrorReason::Runtime(RuntimeError::InvalidSlice)));
            }
            Ok(match data.clone().into_items() {
                Some(items) => Val::List(slice(&items, *start, *stop, *step)),
                None => Val::null(),
            })
        }
        Node::Literal(v) => Ok(Val::Ref(v)),
        Node::Or(lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            if left.truthy() { Ok(left) } else { eval(rhs, data, ctx) }
        }
        Node::And(lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            if !left.truthy() { Ok(left) } else { eval(rhs, data, ctx) }
        }
        Node::Not(node) => Ok(Val::Owned(Value::Bool(!eval(node, data, ctx)?.truthy()))),
        Node::Condition(predicate, then) => {
            if eval(predicate, data, ctx)?.truthy() {
                eval(then, data, ctx)
            } else {
                Ok(Val::null())
            }
        }
        Node::Comparison(cmp, lhs, rhs) => {
            let left = eval(lhs, data, ctx)?;
            let right = eval(rhs, data, ctx)?;
            Ok(compare(cmp, &left, &right).map_or(Val::null(), |b| Val::Owned(Value::Bool(b))))
        }
        Node::ObjectValues(node) => Ok(match eval(node, data, ctx)? {
            Val::Ref(Value::Object(map)) => {
                Val::List(sorted_entries(map).into_iter().map(|(_, v)| Val::Ref(v)).collect())
            }
            Val::Owned(Value::Object(map)) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Val::List(entries.into_iter().map(|(_, v)| Val::Owned(v)).collect())
            }
            _ => Val::null(),
        }),
        Node::Projection(lhs, rhs) => {
            let Some(items) = eval(lhs, data, ctx)?.into_items() else { return Ok(Val::null()) };
            let mut collected = Vec::with_capacity(items.len());
            for item in &items {
                let current = eval(rhs, item, ctx)?;
                if !current.is_null() {
                    collected.push(current);
                }
            }
            Ok(Val::List(collected))
        }
        Node::Flatten(node) => {
            let Some(items) = eval(node, data, ctx)?.into_items() else { return Ok(Val::null()) };
            let mut collected = Vec::with_capacity(items.len());
            for item in items {
                if item.is_array() {
                    collected.extend(item.into_items().unwrap_or_default());
                } else {
                    collected.push(item);
                }
            }
            Ok(Val::List(collected))
        }
        Node::MultiList(elements) => {
            if data.is_null() {
                return Ok(Val::null());
            }
            let mut collected = Vec::with_capacity(elements.len());
            for e in elements {
                collected.push(eval(e, data, ctx)?);
            }
            Ok(Val::List(collected))
        }
        Node::MultiHash(elements) => {
            if data.is_null() {
                return Ok(Val::null());
            }
            let mut collected = serde_json::Map::with_capacity(elements.len());
            for (key, e) in elements {
                collected.insert(key.clone(), eval(e, data, ctx)?.into_value());
            }
            Ok(Val::Owned(Value::Object(collected)))
        }
        Node::Function(call) => call_function(call, data, ctx),
    }
}

fn index<'a>(data: &Val<'a>, idx: i32) -> Val<'a> {
    let pick = |len: usize| -> Option<usize> {
        if idx >= 0 {
            let i = idx as usize;
            (i < len).then_some(i)
        } else {
            let back = (idx.unsigned_abs() as usize).max(1);
            (len >= back).then(|| len - back)
        }
    };
    match data {
        Val::Ref(Value::Array(items)) => pick(items.len()).map_or(Val::null(), |i| Val::Ref(&items[i])),
        Val::List(items) => pick(items.len()).map_or(Val::null(), |i| items[i].clone()),
        _ => Val::null(),
    }
}

fn call_function<'a>(call: &'a Call, data: &Val<'a>, ctx: &mut Context<'_>) -> Out<'a> {
    let mut values: Vec<Val<'a>> = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        if let Arg::Value(node) = arg {
            values.push(eval(node, data, ctx)?);
        }
    }
    if values.len() == call.args.len()
        && let Some(result) = native(&call.name, &values)
    {
        return Ok(result);
    }
    let mut values = values.iter();
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        args.push(match arg {
            Arg::Value(_) => values.next().map_or_else(|| Val::null().to_variable(), Val::to_variable),
            Arg::Expref(r) => r.clone(),
        });
    }
    ctx.offset = call.offset;
    match call.function {
        Some(f) => Ok(Val::Owned(util::to_json(&*f.evaluate(&args, ctx)?))),
        None => {
            Err(JmespathError::from_ctx(ctx, ErrorReason::Runtime(RuntimeError::UnknownFunction(call.name.clone()))))
        }
    }
}

/// Builtins computed in place when their arguments have the types they accept; `None` sends the
/// call to the registered function (which also produces the type errors).
fn native<'a>(name: &str, args: &[Val<'a>]) -> Option<Val<'a>> {
    let json = |i: usize| args.get(i).and_then(Val::json);
    let boolean = |b: bool| Some(Val::Owned(Value::Bool(b)));
    match (name, args.len()) {
        ("length", 1) => match (&args[0], json(0)) {
            (_, Some(Value::String(s))) => Some(Val::Owned(Value::from(s.chars().count()))),
            (_, Some(Value::Object(o))) => Some(Val::Owned(Value::from(o.len()))),
            (v, _) => v.array_len().map(|n| Val::Owned(Value::from(n))),
        },
        ("contains", 2) => match (json(0), json(1)) {
            (Some(Value::String(h)), Some(Value::String(n))) => boolean(h.contains(n.as_str())),
            _ if args[0].is_array() => {
                let items = args[0].clone().into_items()?;
                boolean(items.iter().any(|i| equal(i, &args[1])))
            }
            _ => None,
        },
        ("starts_with", 2) => match (json(0), json(1)) {
            (Some(Value::String(s)), Some(Value::String(p))) => boolean(s.starts_with(p.as_str())),
            _ => None,
        },
        ("ends_with", 2) => match (json(0), json(1)) {
            (Some(Value::String(s)), Some(Value::String(p))) => boolean(s.ends_with(p.as_str())),
            _ => None,
        },
        ("keys", 1) => match json(0) {
            Some(Value::Object(map)) => Some(Val::Owned(Value::Array(
                sorted_entries(map).into_iter().map(|(k, _)| Value::String(k.clone())).collect(),
            ))),
            _ => None,
        },
        ("not_null", n) if n > 0 => Some(args.iter().find(|a| !a.is_null()).cloned().unwrap_or_else(Val::null)),
        _ => None,
    }
}
