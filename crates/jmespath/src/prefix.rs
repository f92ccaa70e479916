//! Evaluating only the part of the input an expression reads.
//!
//! Kyverno expressions usually start with a plain field path (`request.object.spec...`).
//! Converting the whole variable context into the interpreter's value type for every
//! expression is the dominant cost on the admission path, so at compile time we split the
//! leading field path off the expression: at search time we walk that path in the
//! `serde_json::Value` directly and convert only the subtree it reaches. JMESPath has no
//! reference to the root document other than through this leftmost position, so the
//! result is the same.

use jmespath::ast::Ast;
use jmespath::{Rcvar, Variable};
use serde_json::Value;
use std::collections::BTreeMap;

/// Splits the leading field path off `ast`: returns the keys and the rewritten expression,
/// which reads `@` where the path was.
pub fn split(ast: Ast) -> (Vec<String>, Ast) {
    let mut path = Vec::new();
    let rest = strip(ast, &mut path);
    (path, rest)
}

fn strip(ast: Ast, path: &mut Vec<String>) -> Ast {
    match ast {
        Ast::Field { offset, name } => {
            path.push(name);
            Ast::Identity { offset }
        }
        Ast::Subexpr { offset, lhs, rhs } => {
            let lhs = strip(*lhs, path);
            match (lhs, *rhs) {
                // `@.name` continues the plain path.
                (Ast::Identity { .. }, Ast::Field { offset, name }) => {
                    path.push(name);
                    Ast::Identity { offset }
                }
                (lhs, rhs) => Ast::Subexpr { offset, lhs: Box::new(lhs), rhs: Box::new(rhs) },
            }
        }
        Ast::Projection { offset, lhs, rhs } => Ast::Projection { offset, lhs: Box::new(strip(*lhs, path)), rhs },
        Ast::Flatten { offset, node } => Ast::Flatten { offset, node: Box::new(strip(*node, path)) },
        Ast::ObjectValues { offset, node } => Ast::ObjectValues { offset, node: Box::new(strip(*node, path)) },
        other => other,
    }
}

/// Walks `path` in `data`; JMESPath yields null for a missing key or a field of a non-object.
pub fn walk<'a>(path: &[String], data: &'a Value) -> Option<&'a Value> {
    let mut current = data;
    for key in path {
        current = current.as_object()?.get(key)?;
    }
    Some(current)
}

/// The document prepared on this thread (kept alive, so its address identifies it) and the
/// subtrees already converted for the interpreter, by leading field path.
type Prepared = (std::sync::Arc<Value>, Vec<(Vec<String>, Rcvar)>);

thread_local! {
    static PREPARED: std::cell::RefCell<Option<Prepared>> = const { std::cell::RefCell::new(None) };
}

/// Marks `root` as this thread's current document: expressions searched against exactly this
/// document (same address) reuse the conversions of the subtrees they start from, instead of
/// converting again for every expression. The document is immutable behind its `Arc`, and the
/// cache holds a clone of the `Arc`, so the address cannot be reused for other content while cached.
pub fn prepare(root: &std::sync::Arc<Value>) {
    PREPARED.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|(doc, _)| std::sync::Arc::ptr_eq(doc, root)) {
            return;
        }
        *slot = Some((root.clone(), Vec::new()));
    });
}

/// The converted subtree at `path` of `data`, when `data` is this thread's prepared document.
pub fn prepared_subtree(data: &Value, path: &[String]) -> Option<Rcvar> {
    PREPARED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (doc, subtrees) = slot.as_mut().filter(|(doc, _)| std::ptr::eq(std::sync::Arc::as_ptr(doc), data))?;
        if let Some((_, var)) = subtrees.iter().find(|(p, _)| p.as_slice() == path) {
            return Some(var.clone());
        }
        // A converted ancestor serves its descendants: walk the rest inside it.
        if let Some((p, var)) = subtrees.iter().filter(|(p, _)| path.starts_with(p)).max_by_key(|(p, _)| p.len()) {
            return Some(walk_variable(&path[p.len()..], var.clone()));
        }
        let var = to_variable(walk(path, doc).unwrap_or(&Value::Null));
        subtrees.push((path.to_vec(), var.clone()));
        Some(var)
    })
}

/// Walks `path` inside a converted value; null where a key is missing.
fn walk_variable(path: &[String], root: Rcvar) -> Rcvar {
    let mut current = root;
    for key in path {
        let next = match &*current {
            Variable::Object(map) => map.get(key).cloned(),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return Rcvar::new(Variable::Null),
        }
    }
    current
}

/// Converts a JSON value to the interpreter's value type without going through serde.
pub fn to_variable(value: &Value) -> Rcvar {
    Rcvar::new(match value {
        Value::Null => Variable::Null,
        Value::Bool(b) => Variable::Bool(*b),
        Value::Number(n) => Variable::Number(n.clone()),
        Value::String(s) => Variable::String(s.clone()),
        Value::Array(items) => Variable::Array(items.iter().map(to_variable).collect()),
        Value::Object(map) => {
            Variable::Object(map.iter().map(|(k, v)| (k.clone(), to_variable(v))).collect::<BTreeMap<_, _>>())
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn prefixed_and_full_evaluation_agree() {
        let data = json!({
            "request": {"object": {"spec": {"containers": [{"name": "a", "ports": [{"hostPort": 80}]},
                                                          {"name": "b"}],
                                            "initContainers": [{"name": "i", "ports": [{"hostPort": 8}]}]}},
                        "operation": "CREATE"}
        });
        let cases = [
            "request.operation",
            "request.object.spec.containers[].name",
            "request.object.spec.[initContainers, containers][].ports[].hostPort",
            "request.object.spec.containers[?name == 'b'] | length(@)",
            "request.object.spec.missing.deeper",
            "request.object.spec.containers[0].name",
            "length(request.object.spec.containers)",
            "request.object.spec.containers[*].name || `[]`",
            "request.object.spec.*",
            "request",
        ];
        for expr in cases {
            let compiled = crate::compile(expr).unwrap();
            let fast = compiled.search(&data).unwrap();
            let slow = compiled.search_whole(&data).unwrap();
            assert_eq!(fast, slow, "{expr}");
            let shared = std::sync::Arc::new(data.clone());
            crate::prepare(&shared);
            assert_eq!(compiled.search(&shared).unwrap(), slow, "{expr} (prepared)");
        }
    }
}
