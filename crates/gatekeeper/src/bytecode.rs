//! regorus bytecode (RVM) for a template, built from the interpreter engine's parsed modules.
//!
//! The RVM compiler binds `x := expr` even when `expr` is undefined, where OPA (and regorus'
//! interpreter) make the statement, hence the query, fail: `spec := input.review.object.spec`
//! followed by `not f(spec)` would then hold for an object without `spec`. So the modules are
//! recompiled for the VM with a `; x == x` guard after every `:=` statement (rule bodies,
//! comprehensions, `every` bodies), for each variable it binds; `x == x` fails exactly when `x`
//! is undefined (a comparison, so it binds nothing and reorders nothing; `_ = x` is a
//! unification the scheduler may place first). The interpreter keeps the unguarded source.

use crate::rego::TIMER;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::{RegoVM, VmError};
use regorus::unstable::{AssignOp, Expr, Literal, LiteralStmt, Module, Query, Ref, Rule, RuleHead};
use regorus::{Engine, Value};
use std::sync::Arc;

/// Compiles `rule` of the engine's modules to bytecode, with the index of its entry point, or
/// `None` when regorus' compiler does not support the policy (e.g. the `with` keyword).
pub fn compile(engine: &mut Engine, rule: &str, v1: bool) -> Option<(Arc<Program>, usize)> {
    let mut guarded = Engine::new();
    guarded.set_rego_v0(!v1);
    guarded.set_strict_builtin_errors(false);
    for module in engine.get_modules() {
        let source = &module.package.span.source;
        guarded.add_policy(source.file().clone(), guard_assignments(module)).ok()?;
    }
    let policy = guarded.compile_with_entrypoint(&rule.into()).ok()?;
    let program = Compiler::compile_from_policy(&policy, &[rule]).ok()?;
    let entry = program.entry_points.get_index_of(rule)?;
    Some((program, entry))
}

/// A virtual machine loaded with `program`, with the interpreter's settings: lenient builtin
/// errors and the wall-clock limit (no instruction cap beyond it).
pub fn new_vm(program: &Arc<Program>) -> RegoVM {
    let mut vm = RegoVM::new();
    vm.load_program(program.clone());
    vm.set_strict_builtin_errors(false);
    vm.set_execution_timer_config(Some(TIMER));
    vm.set_max_instructions(usize::MAX);
    // An empty data document, as the interpreter has (it cannot conflict with any rule).
    let _ = vm.set_data(Value::new_object());
    vm
}

/// Whether the error is a resource limit, which the interpreter would only hit again.
pub fn is_resource_limit(e: &VmError) -> bool {
    matches!(
        e,
        VmError::TimeLimitExceeded { .. }
            | VmError::InstructionLimitExceeded { .. }
            | VmError::MemoryLimitExceeded { .. }
            | VmError::MemoryBudgetExceeded { .. }
            | VmError::RegexSizeLimitExceeded { .. }
    )
}

/// The module's source with `; x == x` after each `:=` statement, for each variable it binds.
fn guard_assignments(module: &Module) -> String {
    let mut inserts = Vec::new();
    for rule in &module.policy {
        match rule.as_ref() {
            Rule::Spec { head, bodies, .. } => {
                match head {
                    RuleHead::Compr { assign, .. } | RuleHead::Func { assign, .. } => {
                        if let Some(a) = assign {
                            expr(&a.value, &mut inserts);
                        }
                    }
                    RuleHead::Set { key, .. } => key.iter().for_each(|k| expr(k, &mut inserts)),
                }
                for body in bodies {
                    query(&body.query, &mut inserts);
                    if let Some(a) = &body.assign {
                        expr(&a.value, &mut inserts);
                    }
                }
            }
            Rule::Default { value, .. } => expr(value, &mut inserts),
        }
    }
    let mut text = module.package.span.source.contents().clone();
    let strings = string_literals(&text);
    let mut inserts: Vec<(usize, String)> =
        inserts.into_iter().map(|(at, guard)| (past_string(&strings, at), guard)).collect();
    inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, guard) in inserts {
        if text.is_char_boundary(at) {
            text.insert_str(at, &guard);
        }
    }
    text
}

/// Byte ranges of the string literals (`"…"`, `` `…` ``), delimiters included, outside comments.
fn string_literals(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |n| i + n),
            quote @ (b'"' | b'`') => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if quote == b'"' && bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.push((start, i));
            }
            _ => i += 1,
        }
    }
    out
}

/// `at`, or the end of the string literal `at` falls inside (a string's span can end before its
/// closing quote).
fn past_string(strings: &[(usize, usize)], at: usize) -> usize {
    strings.iter().find(|&&(start, end)| start < at && at < end).map_or(at, |&(_, end)| end)
}

fn query(q: &Query, inserts: &mut Vec<(usize, String)>) {
    for stmt in &q.stmts {
        match &stmt.literal {
            Literal::Expr { expr: e, .. } => {
                if let Expr::AssignExpr { op: AssignOp::ColEq, lhs, rhs, .. } = e.as_ref() {
                    let mut vars = Vec::new();
                    bound_vars(lhs, &mut vars);
                    let guard: String = vars.iter().map(|v| format!("; {v} == {v}")).collect();
                    if !guard.is_empty() {
                        inserts.push((statement_end(stmt, e), guard));
                    }
                    expr(rhs, inserts);
                } else {
                    expr(e, inserts);
                }
            }
            Literal::NotExpr { expr: e, .. } => expr(e, inserts),
            Literal::SomeIn { key, value, collection, .. } => {
                key.iter().chain([value, collection]).for_each(|e| expr(e, inserts));
            }
            Literal::Every { domain, query: q, .. } => {
                expr(domain, inserts);
                query(q, inserts);
            }
            Literal::SomeVars { .. } => {}
        }
    }
}

/// Byte offset just past the statement (its expression and any `with` modifiers).
fn statement_end(stmt: &LiteralStmt, e: &Expr) -> usize {
    let ends = [stmt.span.end, e.span().end].into_iter().chain(stmt.with_mods.iter().map(|w| w.span.end));
    ends.max().map_or(0, |end| end as usize)
}

/// Variables bound by an assignment's left side (`x`, `[x, y]`, `{"k": x}`), `_` excepted.
fn bound_vars(lhs: &Expr, out: &mut Vec<String>) {
    match lhs {
        Expr::Var { span, .. } if span.text() != "_" => out.push(span.text().to_string()),
        Expr::Array { items, .. } => items.iter().for_each(|i| bound_vars(i, out)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| bound_vars(v, out)),
        _ => {}
    }
}

/// Visits the queries nested in an expression (comprehensions).
fn expr(e: &Ref<Expr>, inserts: &mut Vec<(usize, String)>) {
    match e.as_ref() {
        Expr::ArrayCompr { term, query: q, .. } | Expr::SetCompr { term, query: q, .. } => {
            expr(term, inserts);
            query(q, inserts);
        }
        Expr::ObjectCompr { key, value, query: q, .. } => {
            expr(key, inserts);
            expr(value, inserts);
            query(q, inserts);
        }
        Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().for_each(|i| expr(i, inserts)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, k, v)| {
            expr(k, inserts);
            expr(v, inserts);
        }),
        Expr::Call { fcn, params, .. } => std::iter::once(fcn).chain(params).for_each(|p| expr(p, inserts)),
        Expr::UnaryExpr { expr: inner, .. } | Expr::RefDot { refr: inner, .. } => expr(inner, inserts),
        Expr::RefBrack { refr, index, .. } => {
            expr(refr, inserts);
            expr(index, inserts);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            expr(lhs, inserts);
            expr(rhs, inserts);
        }
        Expr::Membership { key, value, collection, .. } => {
            key.iter().chain([value, collection]).for_each(|e| expr(e, inserts));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded(rego: &str) -> String {
        let mut engine = Engine::new();
        engine.set_rego_v0(true);
        engine.add_policy("t.rego".into(), rego.into()).unwrap();
        guard_assignments(&engine.get_modules()[0])
    }

    #[test]
    fn assignments_get_guards() {
        let src = "package t\np[m] {\n  x := input.a\n  [a, _] := input.b with input as {}\n  m := [v | v := x[_]]\n  y = 1\n}\n";
        let want = "package t\np[m] {\n  x := input.a; x == x\n  [a, _] := input.b with input as {}; a == a\n  m := [v | v := x[_]; v == v]; m == m\n  y = 1\n}\n";
        assert_eq!(guarded(src), want);
        let src = "package t\nf(x) = y { y := x }\np { m := \"a # \\\"b\"; n := `c` # d\n}\n";
        let want = "package t\nf(x) = y { y := x; y == y }\np { m := \"a # \\\"b\"; m == m; n := `c`; n == n # d\n}\n";
        assert_eq!(guarded(src), want);
    }
}
