//! Evaluation of compiled nodes, node for node as the `jmespath` crate's interpreter does it.

use jmespath::{Context, ErrorReason, JmespathError, RuntimeError};

use super::Mount;
use serde_json::Value;

use super::val::{NULL, Val, compare, equal, slice, sorted_entries};
use super::{Arg, Call, Node};
use crate::util;

type Out<'a> = Result<Val<'a>, JmespathError>;

/// What an evaluation carries along: the interpreter context for function calls, and the root
/// document with the values mounted into it.
pub struct Env<'c, 'm, 'a> {
    /// The `jmespath` crate's context, for registered functions.
    pub ctx: Context<'c>,
    /// The root document.
    pub root: &'a Value,
    /// Values that read as if they were inside the root at their paths (the list may live shorter
    /// than the values, which results borrow).
    pub mounts: &'m [Mount<'a>],
}

impl<'a> Env<'_, '_, 'a> {
    /// Whether `data` is the root document of an evaluation with mounts.
    fn at_root(&self, data: &Val<'a>) -> bool {
        !self.mounts.is_empty() && matches!(data, Val::Ref(v) if std::ptr::eq(*v, self.root))
    }

    /// The value at `keys` of the root, looking through mounts.
    fn walk_root(&self, keys: &[String]) -> Val<'a> {
        for m in self.mounts {
            if keys.len() >= m.path.len() && keys.iter().zip(m.path).all(|(k, p)| k == p) {
                return Val::Ref(walk(m.value, &keys[m.path.len()..]));
            }
        }
        if self.mounts.iter().any(|m| m.path.len() > keys.len() && keys.iter().zip(m.path).all(|(k, p)| k == p)) {
            // The path stops above a mount: copy that part of the document with the mounts inside.
            return Val::Owned(super::materialize(self.root, self.mounts, keys));
        }
        Val::Ref(walk(self.root, keys))
    }
}

fn walk<'a>(mut current: &'a Value, keys: &[String]) -> &'a Value {
    for key in keys {
        current = match current {
            Value::Object(map) => palisade_engine::field::lookup(map, key).unwrap_or(&NULL),
            _ => return &NULL,
        };
    }
    current
}

/// Evaluates `node` against `data`; results borrow from the input and the expression's literals.
pub fn eval<'a>(node: &'a Node, data: &Val<'a>, env: &mut Env<'_, '_, 'a>) -> Out<'a> {
    if let Val::Owned(owned) = data {
        // A computed value (a function result): evaluate against it and keep what comes out.
        let mut inner = Env { ctx: Context { ..env.ctx }, root: owned, mounts: &[] };
        return Ok(Val::Owned(eval(node, &Val::Ref(owned), &mut inner)?.into_value()));
    }
    match node {
        Node::Identity if env.at_root(data) => Ok(Val::Owned(super::materialize(env.root, env.mounts, &[]))),
        Node::Identity => Ok(data.clone()),
        Node::Path(keys) if env.at_root(data) => Ok(env.walk_root(keys)),
        Node::Path(keys) => match *data {
            Val::Ref(v) => Ok(Val::Ref(walk(v, keys))),
            _ => Ok(Val::null()),
        },
        Node::Subexpr(lhs, rhs) => {
            let left = eval(lhs, data, env)?;
            eval(rhs, &left, env)
        }
        Node::Index(idx) => Ok(index(data, *idx)),
        Node::Slice { start, stop, step, offset } => {
            if *step == 0 {
                env.ctx.offset = *offset;
                return Err(JmespathError::from_ctx(&env.ctx, ErrorReason::Runtime(RuntimeError::InvalidSlice)));
            }
            Ok(match data.clone().into_items() {
                Some(items) => Val::List(slice(&items, *start, *stop, *step)),
                None => Val::null(),
            })
        }
        Node::Literal(v) => Ok(Val::Ref(v)),
        Node::Or(lhs, rhs) => {
            let left = eval(lhs, data, env)?;
            if left.truthy() { Ok(left) } else { eval(rhs, data, env) }
        }
        Node::And(lhs, rhs) => {
            let left = eval(lhs, data, env)?;
            if !left.truthy() { Ok(left) } else { eval(rhs, data, env) }
        }
        Node::Not(node) => Ok(Val::Owned(Value::Bool(!eval(node, data, env)?.truthy()))),
        Node::Condition(predicate, then) => {
            if eval(predicate, data, env)?.truthy() {
                eval(then, data, env)
            } else {
                Ok(Val::null())
            }
        }
        Node::Comparison(cmp, lhs, rhs) => {
            let left = eval(lhs, data, env)?;
            let right = eval(rhs, data, env)?;
            Ok(compare(cmp, &left, &right).map_or(Val::null(), |b| Val::Owned(Value::Bool(b))))
        }
        Node::ObjectValues(node) => Ok(match eval(node, data, env)? {
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
            let Some(items) = eval(lhs, data, env)?.into_items() else { return Ok(Val::null()) };
            let mut collected = Vec::with_capacity(items.len());
            for item in &items {
                let current = eval(rhs, item, env)?;
                if !current.is_null() {
                    collected.push(current);
                }
            }
            Ok(Val::List(collected))
        }
        Node::Flatten(node) => {
            let Some(items) = eval(node, data, env)?.into_items() else { return Ok(Val::null()) };
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
                collected.push(eval(e, data, env)?);
            }
            Ok(Val::List(collected))
        }
        Node::MultiHash(elements) => {
            if data.is_null() {
                return Ok(Val::null());
            }
            let mut collected = serde_json::Map::with_capacity(elements.len());
            for (key, e) in elements {
                collected.insert(key.clone(), eval(e, data, env)?.into_value());
            }
            Ok(Val::Owned(Value::Object(collected)))
        }
        Node::Function(call) => call_function(call, data, env),
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

fn call_function<'a>(call: &'a Call, data: &Val<'a>, env: &mut Env<'_, '_, 'a>) -> Out<'a> {
    let mut values: Vec<Val<'a>> = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        if let Arg::Value(node) = arg {
            values.push(eval(node, data, env)?);
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
    env.ctx.offset = call.offset;
    match call.function {
        Some(f) => Ok(Val::Owned(util::to_json(&*f.evaluate(&args, &mut env.ctx)?))),
        None => Err(JmespathError::from_ctx(
            &env.ctx,
            ErrorReason::Runtime(RuntimeError::UnknownFunction(call.name.clone())),
        )),
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
