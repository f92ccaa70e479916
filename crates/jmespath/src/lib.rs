//! JMESPath with all of Kyverno's custom functions.
//!
//! Expressions are compiled once against a shared runtime holding the standard JMESPath functions and
//! Kyverno's extensions (`add`, `regex_match`, `time_add`, `x509_decode`, …); compiled [`Expression`]s
//! are `Send + Sync` and cheap to clone. Values go in and out as [`serde_json::Value`]; integers stay
//! integers.

mod arithmetic;
mod data;
mod direct;
mod golayout;
mod image;
mod null_safe;
mod regen;
mod registry;
mod semver_range;
mod strings;
mod time;
mod util;
mod x509;

use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

use jmespath::{ErrorReason, Rcvar, Runtime};
use serde_json::Value;

pub use registry::{FunctionInfo, functions};

/// Errors from compiling or evaluating an expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JmesError {
    /// The expression does not parse.
    #[error("invalid JMESPath expression {expression:?} at line {line}, column {column}: {message}")]
    Parse {
        /// The expression text.
        expression: String,
        /// Zero-based line of the error.
        line: usize,
        /// Zero-based column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Evaluation failed inside the JMESPath interpreter (bad argument types, unknown function, …).
    #[error("JMESPath expression {expression:?} failed at column {column}: {message}")]
    Runtime {
        /// The expression text.
        expression: String,
        /// Zero-based column where evaluation failed.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// A Kyverno custom function returned an error (message as Kyverno words it).
    #[error("{0}")]
    Function(String),
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut runtime = Runtime::new();
    runtime.register_builtin_functions();
    registry::register(&mut runtime);
    runtime
});

/// A compiled JMESPath expression (compile once, evaluate many times).
#[derive(Clone)]
pub struct Expression {
    /// The expression for the `jmespath` crate's interpreter.
    whole: Arc<jmespath::Expression<'static>>,
    /// The expression compiled for the in-place interpreter (see `direct`), when it can be.
    direct: Option<Arc<direct::Node>>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expression").field(&self.as_str()).finish()
    }
}

/// Compiles `expr` with Kyverno's function set.
pub fn compile(expr: &str) -> Result<Expression, JmesError> {
    let ast = null_safe::rewrite(jmespath::parse(expr).map_err(|e| convert_error(&e))?);
    let direct = direct::compile(&ast, &RUNTIME).map(Arc::new);
    let whole = jmespath::Expression::new(expr, ast, &RUNTIME);
    Ok(Expression { whole: Arc::new(whole), direct })
}

impl Expression {
    /// Whether everything the expression reads of its document lies under one of the field paths
    /// in `prefixes` (false when it reads the document as a whole, or a path above a prefix).
    pub fn reads_only_under(&self, prefixes: &[&[&str]]) -> bool {
        let Some(node) = &self.direct else { return false };
        let mut reads = Vec::new();
        node.root_reads(&mut reads);
        reads.iter().all(|read| {
            read.is_some_and(|keys| {
                prefixes.iter().any(|p| keys.len() >= p.len() && keys.iter().zip(p.iter()).all(|(k, p)| k == p))
            })
        })
    }

    /// Whether the expression calls a function (true when it cannot be inspected): its value may then depend
    /// on more than the document (`time_now_utc()`, `random()`, a lookup).
    pub fn calls_functions(&self) -> bool {
        self.direct.as_deref().is_none_or(direct::Node::calls_functions)
    }

    /// When the expression is `<field path> || <literal>` (Kyverno's `request.operation || 'BACKGROUND'`):
    /// the path's field names and the literal, so callers can look the field up themselves.
    pub fn path_or_literal(&self) -> Option<(&[String], &Value)> {
        match self.direct.as_deref()? {
            direct::Node::Or(lhs, rhs) => match (&**lhs, &**rhs) {
                (direct::Node::Path(keys), direct::Node::Literal(literal)) => Some((keys, literal)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Evaluates the expression against `data`.
    pub fn search(&self, data: &Value) -> Result<Value, JmesError> {
        self.search_mounted(data, &[])
    }

    /// Evaluates the expression against `data` with `mounts` read as if they were inside it.
    pub fn search_mounted(&self, data: &Value, mounts: &[Mount<'_>]) -> Result<Value, JmesError> {
        match &self.direct {
            Some(node) => {
                let ctx = jmespath::Context::new(self.whole.as_str(), &RUNTIME);
                let mut env = direct::Env { ctx, root: data, mounts };
                let result = direct::eval(node, &direct::Val::Ref(data), &mut env).map_err(|e| convert_error(&e))?;
                Ok(direct::finish(result))
            }
            // Expression references outside function arguments: the crate's interpreter, on a copy.
            None if mounts.is_empty() => self.search_whole(data),
            None => self.search_whole(&direct::materialize(data, mounts, &[])),
        }
    }

    /// Evaluates the expression for a list of items (a `foreach` list): `None` for null, the elements of an
    /// array, or the single value otherwise. Items the expression selects in place are borrowed as they
    /// are in `data` (object keys in their document order, as a plain field path gives them); computed
    /// items come back as [`Expression::search_mounted`] gives them.
    pub fn search_items<'a>(
        &'a self,
        data: &'a Value,
        mounts: &[Mount<'a>],
    ) -> Result<Option<Vec<Cow<'a, Value>>>, JmesError> {
        let Some(node) = &self.direct else {
            return Ok(owned_items(self.search_mounted(data, mounts)?));
        };
        let ctx = jmespath::Context::new(self.whole.as_str(), &RUNTIME);
        let mut env = direct::Env { ctx, root: data, mounts };
        let result = direct::eval(node, &direct::Val::Ref(data), &mut env).map_err(|e| convert_error(&e))?;
        let item = |v: direct::Val<'a>| match v {
            direct::Val::Ref(v) => Cow::Borrowed(v),
            computed => Cow::Owned(direct::finish(computed)),
        };
        Ok(match result {
            direct::Val::Ref(Value::Null) => None,
            direct::Val::Ref(Value::Array(items)) => Some(items.iter().map(Cow::Borrowed).collect()),
            direct::Val::List(items) => Some(items.into_iter().map(item).collect()),
            direct::Val::Ref(single) => Some(vec![Cow::Borrowed(single)]),
            computed => owned_items(direct::finish(computed)),
        })
    }

    /// Evaluates the expression with the `jmespath` crate's interpreter on a converted copy of
    /// `data` (the reference the in-place interpreter is tested against).
    pub fn search_whole(&self, data: &Value) -> Result<Value, JmesError> {
        let input = Rcvar::new(util::from_json(data));
        let mut ctx = jmespath::Context::new(self.whole.as_str(), &RUNTIME);
        let result = jmespath::interpret(&input, self.whole.as_ast(), &mut ctx).map_err(|e| convert_error(&e))?;
        Ok(util::to_json(&result))
    }

    /// The source text of the expression.
    pub fn as_str(&self) -> &str {
        self.whole.as_str()
    }
}

pub use direct::{Mount, materialize};

/// JMESPath truthiness: false, null and empty strings, arrays and objects are false.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
        Value::Null => false,
    }
}

/// [`Expression::search_items`] of a computed value.
fn owned_items<'a>(value: Value) -> Option<Vec<Cow<'a, Value>>> {
    match value {
        Value::Null => None,
        Value::Array(items) => Some(items.into_iter().map(Cow::Owned).collect()),
        single => Some(vec![Cow::Owned(single)]),
    }
}

/// Compiles and evaluates `expr` against `data` in one step.
pub fn search(expr: &str, data: &Value) -> Result<Value, JmesError> {
    compile(expr)?.search(data)
}

fn convert_error(e: &jmespath::JmespathError) -> JmesError {
    match &e.reason {
        ErrorReason::Parse(msg) => match util::function_error_message(msg) {
            Some(m) => JmesError::Function(m.to_string()),
            None => JmesError::Parse {
                expression: e.expression.clone(),
                line: e.line,
                column: e.column,
                message: msg.clone(),
            },
        },
        ErrorReason::Runtime(r) => {
            JmesError::Runtime { expression: e.expression.clone(), column: e.column, message: r.to_string() }
        }
    }
}
