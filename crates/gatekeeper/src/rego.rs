//! Rego evaluation with regorus: one compiled, warmed engine per template; evaluations take a
//! clone from a small pool so concurrent requests never share mutable engine state.

use crate::error::{EvalError, TemplateError};
use crate::prepass;
use crate::template::RegoSource;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// Wall-clock budget of one template evaluation (Gatekeeper's webhook timeout is 3 s).
pub const EVAL_TIME_LIMIT: Duration = Duration::from_secs(2);

/// Most idle engines kept per template.
const POOL_SIZE: usize = 8;

/// One violation produced by a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The message (`msg`).
    pub msg: String,
    /// The `details` object (`{}` when absent).
    pub details: serde_json::Value,
}

/// A template's Rego, compiled and warmed.
pub struct RegoProgram {
    rule: String,
    prototype: Engine,
    pool: Mutex<Vec<Engine>>,
}

impl std::fmt::Debug for RegoProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoProgram").field("rule", &self.rule).finish_non_exhaustive()
    }
}

impl RegoProgram {
    /// Parses the template module and its libs (after the [`prepass`]) and warms the engine.
    pub fn compile(template: &str, source: &RegoSource) -> Result<Self, TemplateError> {
        let err = |message: String| TemplateError::Rego { template: template.to_string(), message };
        let mut engine = Engine::new();
        engine.set_rego_v0(!source.v1);
        engine.set_strict_builtin_errors(false);
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVAL_TIME_LIMIT,
            check_interval: NonZeroU32::MIN.saturating_add(63),
        });
        let package = engine
            .add_policy(format!("{template}.rego"), prepass::rewrite(&source.rego, !source.v1))
            .map_err(|e| err(e.to_string()))?;
        for (i, lib) in source.libs.iter().enumerate() {
            engine
                .add_policy(format!("{template}.lib{i}.rego"), prepass::rewrite(lib, !source.v1))
                .map_err(|e| err(format!("lib {i}: {e}")))?;
        }
        let rule = format!("{package}.violation");
        engine.set_input(Value::new_object());
        engine.eval_rule(rule.clone()).map_err(|e| err(format!("{rule}: {e}")))?;
        Ok(Self { rule, prototype: engine, pool: Mutex::new(Vec::new()) })
    }

    /// Evaluates `violation` with `input = {review, parameters, inventory}`.
    pub fn evaluate(&self, review: &Value, parameters: &Value, inventory: &Value) -> Result<Vec<Violation>, EvalError> {
        let mut engine = self.take();
        let mut input = std::collections::BTreeMap::new();
        input.insert(Value::from("review"), review.clone());
        input.insert(Value::from("parameters"), parameters.clone());
        input.insert(Value::from("inventory"), inventory.clone());
        engine.set_input(Value::from(input));
        let result = engine.eval_rule(self.rule.clone());
        self.give_back(engine);
        let value = result.map_err(|e| EvalError::Rego(e.to_string()))?;
        Ok(violations(&value))
    }

    fn take(&self) -> Engine {
        let pooled = self.pool.lock().ok().and_then(|mut p| p.pop());
        pooled.unwrap_or_else(|| self.prototype.clone())
    }

    fn give_back(&self, engine: Engine) {
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOL_SIZE
        {
            pool.push(engine);
        }
    }
}

/// Reads the `violation` set: each element with a `msg` becomes a [`Violation`], as
/// Gatekeeper's hook module does (`details` defaults to `{}`).
fn violations(value: &Value) -> Vec<Violation> {
    let items: Vec<&Value> = match value {
        Value::Set(s) => s.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(obj) = item else { continue };
        let Some(msg) = obj.get(&Value::from("msg")) else { continue };
        let msg = match msg {
            Value::String(s) => s.to_string(),
            other => other.to_json_str().unwrap_or_default(),
        };
        let details = obj
            .get(&Value::from("details"))
            .and_then(|d| serde_json::to_value(d).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        out.push(Violation { msg, details });
    }
    out
}

/// Converts a JSON value for the Rego engine.
pub fn to_rego(value: &serde_json::Value) -> Value {
    Value::from(value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn program(rego: &str) -> Result<RegoProgram, TemplateError> {
        RegoProgram::compile("t", &RegoSource { rego: rego.to_string(), libs: vec![], v1: false })
    }

    fn run(rego: &str, review: serde_json::Value, params: serde_json::Value) -> Vec<String> {
        let p = program(rego).unwrap();
        let mut v: Vec<String> = p
            .evaluate(&to_rego(&review), &to_rego(&params), &Value::new_object())
            .unwrap()
            .into_iter()
            .map(|v| v.msg)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn evaluates_violations_with_parameters() {
        let rego = "package t\nviolation[{\"msg\": msg}] {\n  input.review.object.x > input.parameters.max\n  msg := sprintf(\"too big: %v\", [input.review.object.x])\n}\n";
        assert_eq!(run(rego, json!({"object": {"x": 5}}), json!({"max": 3})), vec!["too big: 5"]);
        assert!(run(rego, json!({"object": {"x": 1}}), json!({"max": 3})).is_empty());
    }

    #[test]
    fn known_regorus_gaps_are_worked_around() {
        let cases = [
            (
                "package t\nviolation[{\"msg\": \"a\"}] {\n  input.review.a\n} {\n  input.review.b\n}\n",
                json!({"b": true}),
                vec!["a"],
            ),
            (
                "package t\nviolation[{\"msg\": \"p\"}] {\n  input.review.n\n  (input.review.n - 1) > 0\n}\n",
                json!({"n": 3}),
                vec!["p"],
            ),
            (
                "package t\nviolation[{\"msg\": m}] {\n  m := sprintf(\"%v %v\", [1])\n}\n",
                json!({}),
                vec!["1 %!v(MISSING)"],
            ),
            ("package t\nviolation[{\"msg\": \"i\"}] {\n  data.inventory.cluster.v1.Node\n}\n", json!({}), vec![]),
        ];
        for (rego, review, want) in cases {
            assert_eq!(run(rego, review, json!({})), want, "{rego}");
        }
    }

    #[test]
    fn inventory_is_read_from_the_input() {
        let rego = "package t\nviolation[{\"msg\": name}] {\n  data.inventory.cluster[\"v1\"].Node[name]\n}\n";
        let p = program(rego).unwrap();
        let inv = to_rego(&json!({"cluster": {"v1": {"Node": {"n1": {}}}}}));
        let got = p.evaluate(&Value::new_object(), &Value::new_object(), &inv).unwrap();
        assert_eq!(got[0].msg, "n1");
    }

    #[test]
    fn compile_errors_are_reported() {
        assert!(program("package t\nviolation[{\"msg\": m}] {").is_err());
        assert!(program("package t\nallow { true }").is_err());
    }
}
