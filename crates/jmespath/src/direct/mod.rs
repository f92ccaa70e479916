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

use jmespath::ast::{Ast, Comparator};
use jmespath::functions::Function;
use jmespath::{Rcvar, Runtime, Variable};
use serde_json::Value;

use crate::util;

mod eval;
mod val;

pub use eval::{Env, eval};
pub use val::{Val, finish};

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

impl Node {
    /// Adds to `out` what this node reads of the document it is evaluated against: a field path
    /// from the top, or `None` for the document as a whole.
    pub fn root_reads<'n>(&'n self, out: &mut Vec<Option<&'n [String]>>) {
        match self {
            Node::Identity | Node::Index(_) | Node::Slice { .. } => out.push(None),
            Node::Path(keys) => out.push(Some(keys)),
            Node::Literal(_) => {}
            // The right-hand sides run on what the left-hand side produced.
            Node::Subexpr(lhs, _) | Node::Projection(lhs, _) => lhs.root_reads(out),
            Node::Or(a, b) | Node::And(a, b) | Node::Condition(a, b) | Node::Comparison(_, a, b) => {
                a.root_reads(out);
                b.root_reads(out);
            }
            Node::Not(node) | Node::ObjectValues(node) | Node::Flatten(node) => node.root_reads(out),
            Node::MultiList(elements) => elements.iter().for_each(|e| e.root_reads(out)),
            Node::MultiHash(elements) => elements.iter().for_each(|(_, e)| e.root_reads(out)),
            // Expression references run on the function's arguments, not on the document.
            Node::Function(call) => call.args.iter().for_each(|arg| {
                if let Arg::Value(node) = arg {
                    node.root_reads(out);
                }
            }),
        }
    }
}

impl Node {
    /// Whether this node or one under it calls a function.
    pub fn calls_functions(&self) -> bool {
        match self {
            Node::Identity | Node::Path(_) | Node::Index(_) | Node::Slice { .. } | Node::Literal(_) => false,
            Node::Subexpr(a, b)
            | Node::Projection(a, b)
            | Node::Or(a, b)
            | Node::And(a, b)
            | Node::Condition(a, b)
            | Node::Comparison(_, a, b) => a.calls_functions() || b.calls_functions(),
            Node::Not(node) | Node::ObjectValues(node) | Node::Flatten(node) => node.calls_functions(),
            Node::MultiList(elements) => elements.iter().any(Node::calls_functions),
            Node::MultiHash(elements) => elements.iter().any(|(_, e)| e.calls_functions()),
            Node::Function(_) => true,
        }
    }
}

/// A function call: the registered implementation and its arguments.
pub struct Call {
    pub(crate) name: String,
    pub(crate) offset: usize,
    pub(crate) function: Option<&'static dyn Function>,
    pub(crate) args: Vec<Arg>,
}

/// A function argument: an expression evaluated here, or an expression reference handed over as is.
pub(crate) enum Arg {
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

#[cfg(test)]
mod tests;

/// A value that reads as if it were inside the root document at `path` (the document itself need
/// not hold it): evaluation borrows it where it is instead of copying it into the document.
#[derive(Debug, Clone, Copy)]
pub struct Mount<'a> {
    /// Field names from the root.
    pub path: &'a [&'a str],
    /// The value at that path.
    pub value: &'a Value,
}

/// A copy of the part of `root` at `keys`, with the mounts below it in place.
pub fn materialize(root: &Value, mounts: &[Mount<'_>], keys: &[String]) -> Value {
    let mut current = root;
    for key in keys {
        current = current.get(key.as_str()).unwrap_or(&Value::Null);
    }
    let mut out = current.clone();
    for m in mounts {
        if m.path.len() < keys.len() || !keys.iter().zip(m.path).all(|(k, p)| k == p) {
            continue;
        }
        let rest = &m.path[keys.len()..];
        let mut slot = &mut out;
        for key in rest {
            if !slot.is_object() {
                *slot = Value::Object(serde_json::Map::new());
            }
            let Value::Object(map) = slot else { break };
            slot = map.entry(key.to_string()).or_insert(Value::Null);
        }
        *slot = m.value.clone();
    }
    out
}
