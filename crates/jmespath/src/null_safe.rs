//! Null-propagating sub-expressions, as in the JMESPath reference implementation and in
//! Kyverno: `a.b.keys(@)` is `null` when `a.b` is `null`, instead of a type error from
//! `keys(null)`. The `jmespath` crate calls the right-hand side with `null`; we rewrite
//! each `lhs.f(...)` into `lhs.(@ != null ? f(...))` with the crate's own `Condition` node.

use jmespath::ast::{Ast, Comparator, KeyValuePair};
use jmespath::{Rcvar, Variable};

fn not_null(offset: usize) -> Ast {
    Ast::Comparison {
        offset,
        comparator: Comparator::NotEqual,
        lhs: Box::new(Ast::Identity { offset }),
        rhs: Box::new(Ast::Literal { offset, value: Rcvar::new(Variable::Null) }),
    }
}

/// Rewrites `ast` so that function calls on the right of a `.` see a non-null value or are skipped.
pub fn rewrite(ast: Ast) -> Ast {
    let b = |a: Box<Ast>| Box::new(rewrite(*a));
    match ast {
        Ast::Subexpr { offset, lhs, rhs } => {
            let rhs = rewrite(*rhs);
            let rhs = match rhs {
                f @ Ast::Function { .. } => {
                    let off = match &f {
                        Ast::Function { offset, .. } => *offset,
                        _ => offset,
                    };
                    Ast::Condition { offset: off, predicate: Box::new(not_null(off)), then: Box::new(f) }
                }
                other => other,
            };
            Ast::Subexpr { offset, lhs: b(lhs), rhs: Box::new(rhs) }
        }
        Ast::Comparison { offset, comparator, lhs, rhs } => {
            Ast::Comparison { offset, comparator, lhs: b(lhs), rhs: b(rhs) }
        }
        Ast::Condition { offset, predicate, then } => Ast::Condition { offset, predicate: b(predicate), then: b(then) },
        Ast::Expref { offset, ast } => Ast::Expref { offset, ast: b(ast) },
        Ast::Flatten { offset, node } => Ast::Flatten { offset, node: b(node) },
        Ast::Function { offset, name, args } => {
            Ast::Function { offset, name, args: args.into_iter().map(rewrite).collect() }
        }
        Ast::MultiList { offset, elements } => {
            Ast::MultiList { offset, elements: elements.into_iter().map(rewrite).collect() }
        }
        Ast::MultiHash { offset, elements } => Ast::MultiHash {
            offset,
            elements: elements.into_iter().map(|kv| KeyValuePair { key: kv.key, value: rewrite(kv.value) }).collect(),
        },
        Ast::Not { offset, node } => Ast::Not { offset, node: b(node) },
        Ast::Projection { offset, lhs, rhs } => Ast::Projection { offset, lhs: b(lhs), rhs: b(rhs) },
        Ast::ObjectValues { offset, node } => Ast::ObjectValues { offset, node: b(node) },
        Ast::And { offset, lhs, rhs } => Ast::And { offset, lhs: b(lhs), rhs: b(rhs) },
        Ast::Or { offset, lhs, rhs } => Ast::Or { offset, lhs: b(lhs), rhs: b(rhs) },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn functions_after_a_null_field_yield_null() {
        let data = json!({"a": {"x": null}, "items": [{"r": {"k": 1}}, {"n": 1}]});
        assert_eq!(crate::search("a.b.keys(@)", &data).unwrap(), json!(null));
        assert_eq!(crate::search("items[].r.keys(@)[]", &data).unwrap(), json!(["k"]));
        // A direct call on null is still a type error, as in every JMESPath.
        assert!(crate::search("keys(a.b)", &data).is_err());
    }
}
