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
mod prefix;
mod regen;
mod registry;
mod semver_range;
mod strings;
mod time;
mod util;
mod x509;

use std::sync::{Arc, LazyLock};

use jmespath::{ErrorReason, Runtime, ToJmespath};
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
    /// The expression with its leading field path split off (see `prefix`).
    inner: Arc<jmespath::Expression<'static>>,
    /// The leading field path, walked directly in the input.
    path: Arc<[String]>,
    /// The whole expression, for callers that need the unsplit form.
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
    let whole = jmespath::Expression::new(expr, ast.clone(), &RUNTIME);
    let (path, rest) = prefix::split(ast);
    let inner = jmespath::Expression::new(expr, rest, &RUNTIME);
    Ok(Expression { inner: Arc::new(inner), path: path.into(), whole: Arc::new(whole), direct })
}

impl Expression {
    /// Evaluates the expression against `data`.
    pub fn search(&self, data: &Value) -> Result<Value, JmesError> {
        if let Some(node) = &self.direct {
            let mut ctx = jmespath::Context::new(self.inner.as_str(), &RUNTIME);
            let result = direct::eval(node, &direct::Val::Ref(data), &mut ctx).map_err(|e| convert_error(&e))?;
            return Ok(direct::finish(result));
        }
        let start = match prefix::prepared_subtree(data, &self.path) {
            Some(subtree) => subtree,
            None => prefix::to_variable(prefix::walk(&self.path, data).unwrap_or(&Value::Null)),
        };
        // Interpret directly: `jmespath::Expression::search` would re-serialize the input.
        let mut ctx = jmespath::Context::new(self.inner.as_str(), &RUNTIME);
        let result = jmespath::interpret(&start, self.inner.as_ast(), &mut ctx).map_err(|e| convert_error(&e))?;
        Ok(util::to_json(&result))
    }

    /// Evaluates the unsplit expression against the whole converted input (reference path).
    pub fn search_whole(&self, data: &Value) -> Result<Value, JmesError> {
        let input = data.to_jmespath().map_err(|e| convert_error(&e))?;
        let result = self.whole.search(input).map_err(|e| convert_error(&e))?;
        Ok(util::to_json(&result))
    }

    /// The source text of the expression.
    pub fn as_str(&self) -> &str {
        self.inner.as_str()
    }
}

pub use prefix::prepare;

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
