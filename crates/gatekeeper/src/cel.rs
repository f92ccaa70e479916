//! CEL evaluation of `K8sNativeValidation` templates with ValidatingAdmissionPolicy semantics,
//! using kube-cel's Kubernetes function libraries (through `kube_cel::cel`).
//!
//! Variables available to expressions: `object`, `oldObject`, `request` (the review without
//! its objects), `params` (the whole Constraint), `namespaceObject` (null) and `variables`,
//! which holds Gatekeeper's `params` (the constraint parameters) and `anyObject` (the object,
//! or the old object on DELETE) followed by the template's own variables.
//!
//! Variables are lazy in Kubernetes: one that fails only fails the expressions that use it.
//! Palisade evaluates them in order and leaves failed ones out of `variables`, remembering the
//! error; an expression that references a failed variable reports that variable's error.

use crate::error::TemplateError;
use crate::rego::Violation;
use crate::template::CelSource;
use kube_cel::KubeCelExt;
use kube_cel::cel::extractors::This;
use kube_cel::cel::objects::{Key, Map};
use kube_cel::cel::{Context, ExecutionError, Program, Value};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

/// Root context with the standard and Kubernetes function libraries, built once.
static ROOT: LazyLock<Context<'static>> = LazyLock::new(|| {
    let mut ctx = Context::default().with_all();
    ctx.add_function("dyn", dyn_value);
    ctx
});

/// CEL's `dyn(x)`: a type-checker hint, the identity at run time (missing from cel 0.13).
fn dyn_value(This(value): This<Value>) -> Result<Value, ExecutionError> {
    Ok(value)
}

struct Compiled {
    text: String,
    program: Program,
}

struct CompiledValidation {
    expression: Compiled,
    message: Option<String>,
    message_expression: Option<Compiled>,
}

/// A template's CEL source, compiled.
pub struct CelProgram {
    variables: Vec<(String, Compiled)>,
    match_conditions: Vec<(String, Compiled)>,
    validations: Vec<CompiledValidation>,
    ignore_errors: bool,
}

impl std::fmt::Debug for CelProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelProgram")
            .field("variables", &self.variables.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field("validations", &self.validations.len())
            .finish_non_exhaustive()
    }
}

fn compile_one(template: &str, text: &str) -> Result<Compiled, TemplateError> {
    let program = Program::compile(text).map_err(|e| TemplateError::Cel {
        template: template.to_string(),
        expression: text.to_string(),
        message: e.to_string().lines().next().unwrap_or_default().to_string(),
    })?;
    Ok(Compiled { text: text.to_string(), program })
}

/// The inputs of one CEL evaluation, converted once per review: `object`, `oldObject` and
/// `request` already sit in a context (child of the function libraries) that every
/// evaluation of the review opens its own scope in.
pub struct CelReview {
    base: Context<'static>,
    any_object: Value,
}

impl CelReview {
    /// Converts a Gatekeeper review (`input.review`) for CEL.
    pub fn new(review: &serde_json::Value) -> Self {
        let object = review.get("object").map(to_cel).unwrap_or(Value::Null);
        let old_object = review.get("oldObject").map(to_cel).unwrap_or(Value::Null);
        let is_delete = review.get("operation").and_then(serde_json::Value::as_str) == Some("DELETE");
        let any_object = if is_delete && matches!(object, Value::Null) { old_object.clone() } else { object.clone() };
        let mut request = review.clone();
        if let Some(map) = request.as_object_mut() {
            map.remove("object");
            map.remove("oldObject");
        }
        let mut base = ROOT.new_inner_scope();
        base.add_variable_from_value("object", object);
        base.add_variable_from_value("oldObject", old_object);
        base.add_variable_from_value("request", to_cel(&request));
        base.add_variable_from_value("namespaceObject", Value::Null);
        Self { base, any_object }
    }
}

impl CelProgram {
    /// Compiles every expression of `source`.
    pub fn compile(template: &str, source: &CelSource) -> Result<Self, TemplateError> {
        let named = |list: &[crate::template::CelVariable]| -> Result<Vec<(String, Compiled)>, TemplateError> {
            list.iter().map(|v| Ok((v.name.clone(), compile_one(template, &v.expression)?))).collect()
        };
        let mut validations = Vec::new();
        for v in &source.validations {
            validations.push(CompiledValidation {
                expression: compile_one(template, &v.expression)?,
                message: v.message.clone(),
                message_expression: v.message_expression.as_deref().map(|m| compile_one(template, m)).transpose()?,
            });
        }
        Ok(Self {
            variables: named(&source.variables)?,
            match_conditions: named(&source.match_conditions)?,
            validations,
            ignore_errors: source.ignore_errors,
        })
    }

    /// Evaluates the validations; each false validation (and, under failurePolicy Fail, each
    /// evaluation error) is a violation.
    pub fn evaluate(&self, review: &CelReview, constraint: &Value, parameters: &Value) -> Vec<Violation> {
        let mut ctx = review.base.new_inner_scope();
        ctx.add_variable_from_value("params", constraint.clone());
        let mut vars: HashMap<Key, Value> = HashMap::new();
        vars.insert(Key::from("params"), parameters.clone());
        vars.insert(Key::from("anyObject"), review.any_object.clone());
        let mut failed: Vec<(String, String)> = Vec::new();
        for (name, var) in &self.variables {
            ctx.add_variable_from_value("variables", Value::Map(Map { map: Arc::new(vars.clone()) }));
            match var.program.execute(&ctx) {
                Ok(v) => {
                    vars.insert(Key::from(name.as_str()), v);
                }
                Err(e) => failed.push((name.clone(), e.to_string())),
            }
        }
        ctx.add_variable_from_value("variables", Value::Map(Map { map: Arc::new(vars) }));
        let error_text = |c: &Compiled, e: String| {
            let cause = failed
                .iter()
                .find(|(n, _)| references_variable(&c.text, n))
                .map(|(n, err)| format!("variable {n}: {err}"))
                .unwrap_or(e);
            format!("expression '{}' resulted in error: {cause}", c.text)
        };
        let mut out = Vec::new();
        for (_, cond) in &self.match_conditions {
            match cond.program.execute(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => return out,
                Ok(other) => return self.error(out, error_text(cond, format!("expected bool, got {other:?}"))),
                Err(e) => return self.error(out, error_text(cond, e.to_string())),
            }
        }
        for v in &self.validations {
            match v.expression.program.execute(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => out.push(Violation { msg: self.message(v, &ctx), details: empty() }),
                Ok(other) => {
                    out = self.error(out, error_text(&v.expression, format!("expected bool, got {other:?}")));
                }
                Err(e) => out = self.error(out, error_text(&v.expression, e.to_string())),
            }
        }
        out
    }

    fn error(&self, mut out: Vec<Violation>, msg: String) -> Vec<Violation> {
        if !self.ignore_errors {
            out.push(Violation { msg, details: empty() });
        }
        out
    }

    fn message(&self, v: &CompiledValidation, ctx: &Context) -> String {
        if let Some(m) = &v.message_expression
            && let Ok(Value::String(s)) = m.program.execute(ctx)
            && !s.trim().is_empty()
        {
            return s.to_string();
        }
        match &v.message {
            Some(m) => m.clone(),
            None => format!("failed expression: {}", v.expression.text),
        }
    }
}

fn empty() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Whether `expr` mentions `variables.<name>` as a whole identifier.
fn references_variable(expr: &str, name: &str) -> bool {
    let needle = format!("variables.{name}");
    expr.match_indices(&needle).any(|(pos, _)| {
        let end = pos + needle.len();
        !expr[end..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    })
}

/// Converts JSON to a CEL value (integers become `int`, as in Kubernetes' unstructured values).
pub fn to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(to_cel).collect())),
        serde_json::Value::Object(o) => {
            let map: HashMap<Key, Value> = o.iter().map(|(k, v)| (Key::from(k.as_str()), to_cel(v))).collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{CelValidation, CelVariable};
    use serde_json::json;

    fn source(vars: &[(&str, &str)], validations: &[(&str, Option<&str>, Option<&str>)]) -> CelSource {
        CelSource {
            variables: vars
                .iter()
                .map(|(n, e)| CelVariable { name: n.to_string(), expression: e.to_string() })
                .collect(),
            validations: validations
                .iter()
                .map(|(e, m, me)| CelValidation {
                    expression: e.to_string(),
                    message: m.map(String::from),
                    message_expression: me.map(String::from),
                })
                .collect(),
            ..CelSource::default()
        }
    }

    fn run(src: &CelSource, object: serde_json::Value, params: serde_json::Value) -> Vec<String> {
        let program = CelProgram::compile("t", src).unwrap();
        let review = CelReview::new(&json!({"operation": "CREATE", "object": object}));
        let constraint = to_cel(&json!({"spec": {"parameters": params.clone()}}));
        program.evaluate(&review, &constraint, &to_cel(&params)).into_iter().map(|v| v.msg).collect()
    }

    #[test]
    fn validations_and_messages() {
        let src = source(
            &[("name", "variables.anyObject.metadata.name")],
            &[
                ("variables.name.startsWith(variables.params.prefix)", None, Some("'bad name ' + variables.name")),
                ("size(variables.name) < 5", Some("too long"), None),
                ("variables.name.lowerAscii() == variables.name", None, None),
            ],
        );
        let cases = [
            (json!({"metadata": {"name": "ab"}}), vec![]),
            (
                json!({"metadata": {"name": "xY"}}),
                vec!["bad name xY", "failed expression: variables.name.lowerAscii() == variables.name"],
            ),
            (json!({"metadata": {"name": "abcdef"}}), vec!["too long"]),
        ];
        for (object, want) in cases {
            assert_eq!(run(&src, object.clone(), json!({"prefix": "a"})), want, "{object}");
        }
    }

    #[test]
    fn failed_variables_only_fail_their_users() {
        let src = source(
            &[("ctx", "variables.anyObject.spec.securityContext"), ("n", "1")],
            &[("variables.n == 1", None, None), ("variables.ctx.privileged == false", None, None)],
        );
        let got = run(&src, json!({"spec": {}}), json!({}));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("variable ctx"), "{got:?}");
    }

    #[test]
    fn kubernetes_libraries_are_available() {
        let src = source(
            &[],
            &[("quantity('1Gi').isGreaterThan(quantity('1Mi')) && ['a', 'b'].join(',') == 'a,b'", None, None)],
        );
        assert!(run(&src, json!({}), json!({})).is_empty());
    }
}
