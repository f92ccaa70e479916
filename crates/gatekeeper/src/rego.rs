//! Rego evaluation with regorus. Each template is compiled once: to regorus' bytecode (RVM,
//! see [`crate::bytecode`]) when its compiler takes the policy, and as a warmed tree-walking
//! interpreter engine (the fallback and the reference).
//! Evaluations borrow a machine from a small pool so concurrent requests never share mutable
//! state.

use crate::bytecode::{self, is_resource_limit, new_vm};
use crate::error::{EvalError, TemplateError};
use crate::prepass;
use crate::template::RegoSource;
use regorus::rvm::program::Program;
use regorus::rvm::vm::{RegoVM, VmError};
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// Wall-clock budget of one template evaluation (Gatekeeper's webhook timeout is 3 s).
pub const EVAL_TIME_LIMIT: Duration = Duration::from_secs(2);

/// Most idle machines kept per template.
const POOL_SIZE: usize = 8;

/// The time limit as regorus takes it (checked every 64 steps).
pub(crate) const TIMER: ExecutionTimerConfig =
    ExecutionTimerConfig { limit: EVAL_TIME_LIMIT, check_interval: NonZeroU32::MIN.saturating_add(63) };

/// How Rego templates are evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RegoEngine {
    /// regorus bytecode (RVM) where its compiler takes the template, the interpreter otherwise: fast, but
    /// evaluation errors OPA raises (conflicting outputs, arithmetic on a string) become undefined.
    #[default]
    Bytecode,
    /// regorus' tree-walking interpreter only: OPA's error semantics, slower.
    Interpreter,
}

impl std::str::FromStr for RegoEngine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bytecode" => Ok(Self::Bytecode),
            "interpreter" => Ok(Self::Interpreter),
            other => Err(format!("unknown Rego engine {other:?}: expected bytecode or interpreter")),
        }
    }
}

/// One violation produced by a template.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The message (`msg`).
    pub msg: String,
    /// The `details` object (`{}` when absent).
    pub details: serde_json::Value,
}

/// A template's Rego, compiled and warmed: bytecode for regorus' virtual machine when its
/// compiler takes the policy, and the interpreter engine (the fallback and the reference).
pub struct RegoProgram {
    rule: String,
    engine: Engine,
    /// The program and the index of its `violation` entry point.
    bytecode: Option<(Arc<Program>, usize)>,
    vms: Pool<RegoVM>,
    engines: Pool<Engine>,
}

impl std::fmt::Debug for RegoProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegoProgram")
            .field("rule", &self.rule)
            .field("bytecode", &self.bytecode.is_some())
            .finish_non_exhaustive()
    }
}

impl RegoProgram {
    /// Parses the template module and its libs (after the [`prepass`]), warms the engine and
    /// compiles the `violation` rule to bytecode where regorus can.
    pub fn compile(template: &str, source: &RegoSource) -> Result<Self, TemplateError> {
        let mut program = Self::compile_interpreted(template, source)?;
        program.bytecode = bytecode::compile(&mut program.engine, &program.rule, source.v1);
        Ok(program)
    }

    /// [`Self::compile`] or [`Self::compile_interpreted`], as `engine` says.
    pub fn compile_for(template: &str, source: &RegoSource, engine: RegoEngine) -> Result<Self, TemplateError> {
        match engine {
            RegoEngine::Bytecode => Self::compile(template, source),
            RegoEngine::Interpreter => Self::compile_interpreted(template, source),
        }
    }

    /// Like [`Self::compile`], without bytecode: every evaluation runs on the interpreter.
    pub fn compile_interpreted(template: &str, source: &RegoSource) -> Result<Self, TemplateError> {
        let err = |message: String| TemplateError::Rego { template: template.to_string(), message };
        let mut engine = Engine::new();
        engine.set_rego_v0(!source.v1);
        engine.set_strict_builtin_errors(false);
        engine.set_execution_timer_config(TIMER);
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
        Ok(Self { rule, engine, bytecode: None, vms: Pool::default(), engines: Pool::default() })
    }

    /// Whether evaluations run as bytecode (else on the interpreter).
    pub fn is_bytecode(&self) -> bool {
        self.bytecode.is_some()
    }

    /// Evaluates `violation` with `input = {review, parameters, inventory}`. A virtual-machine
    /// error other than a resource limit is retried on the interpreter, whose answer stands.
    pub fn evaluate(&self, review: &Value, parameters: &Value, inventory: &Value) -> Result<Vec<Violation>, EvalError> {
        let keys = &*KEYS;
        let mut input = std::collections::BTreeMap::new();
        input.insert(keys.review.clone(), review.clone());
        input.insert(keys.parameters.clone(), parameters.clone());
        input.insert(keys.inventory.clone(), inventory.clone());
        let input = Value::from(input);
        let value = match &self.bytecode {
            Some((program, entry)) => match self.run_vm(program, *entry, input.clone()) {
                Err(e) if !is_resource_limit(&e) => self.interpret(input),
                other => other.map_err(|e| EvalError::Rego(e.to_string())),
            },
            None => self.interpret(input),
        }?;
        Ok(violations(&value))
    }

    fn run_vm(&self, program: &Arc<Program>, entry: usize, input: Value) -> Result<Value, VmError> {
        let mut vm = self.vms.take().unwrap_or_else(|| new_vm(program));
        vm.set_input(input);
        let result = vm.execute_entry_point_by_index(entry);
        self.vms.give_back(vm);
        result
    }

    fn interpret(&self, input: Value) -> Result<Value, EvalError> {
        let mut engine = self.engines.take().unwrap_or_else(|| self.engine.clone());
        engine.set_input(input);
        let result = engine.eval_rule(self.rule.clone());
        self.engines.give_back(engine);
        result.map_err(|e| EvalError::Rego(e.to_string()))
    }
}

/// Idle machines of one template, at most [`POOL_SIZE`].
struct Pool<T>(Mutex<Vec<T>>);

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Self(Mutex::new(Vec::new()))
    }
}

impl<T> Pool<T> {
    fn take(&self) -> Option<T> {
        self.0.lock().ok().and_then(|mut p| p.pop())
    }

    fn give_back(&self, item: T) {
        if let Ok(mut pool) = self.0.lock()
            && pool.len() < POOL_SIZE
        {
            pool.push(item);
        }
    }
}

/// Object keys the wrapper reads or writes, allocated once.
struct Keys {
    review: Value,
    parameters: Value,
    inventory: Value,
    msg: Value,
    details: Value,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    review: Value::from("review"),
    parameters: Value::from("parameters"),
    inventory: Value::from("inventory"),
    msg: Value::from("msg"),
    details: Value::from("details"),
});

/// Reads the `violation` set: each element with a `msg` becomes a [`Violation`], as
/// Gatekeeper's hook module does (`details` defaults to `{}`).
fn violations(value: &Value) -> Vec<Violation> {
    let items: Vec<&Value> = match value {
        Value::Set(s) => s.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    };
    let keys = &*KEYS;
    let mut out = Vec::new();
    for item in items {
        let Value::Object(obj) = item else { continue };
        let Some(msg) = obj.get(&keys.msg) else { continue };
        let msg = match msg {
            Value::String(s) => s.to_string(),
            other => other.to_json_str().unwrap_or_default(),
        };
        let details =
            obj.get(&keys.details).and_then(|d| serde_json::to_value(d).ok()).unwrap_or_else(|| serde_json::json!({}));
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
            (
                "package t\nviolation[{\"msg\": \"f\"}] {\n  f(input.review.r, 1)\n}\nf(\"any\", _)\n",
                json!({"r": "any"}),
                vec!["f"],
            ),
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
    fn bytecode_and_interpreter_agree() {
        let rego = "package t\nviolation[{\"msg\": m, \"details\": {\"n\": n}}] {\n  n := input.review.n[_]\n  n > input.parameters.max\n  m := sprintf(\"%v\", [n])\n}\n";
        let source = RegoSource { rego: rego.to_string(), libs: vec![], v1: false };
        let vm = RegoProgram::compile("t", &source).unwrap();
        let interpreted = RegoProgram::compile_interpreted("t", &source).unwrap();
        assert!(vm.is_bytecode() && !interpreted.is_bytecode());
        let (review, params) = (to_rego(&json!({"n": [1, 5, 7]})), to_rego(&json!({"max": 3})));
        let got = vm.evaluate(&review, &params, &Value::new_object()).unwrap();
        assert_eq!(got, interpreted.evaluate(&review, &params, &Value::new_object()).unwrap());
        assert_eq!(got.len(), 2);
    }

    /// A known difference, pinned so that a regorus upgrade changing it is noticed: where the
    /// interpreter (like OPA) raises an evaluation error — a function or complete rule with
    /// conflicting outputs, arithmetic on a string — regorus' VM makes the value undefined.
    #[test]
    fn evaluation_errors_are_undefined_in_bytecode() {
        let bodies = [
            "m := f(input.review.x)\n}\nf(x) = 1 { x }\nf(x) = 2 { x }\n",
            "n := input.review.s - 1\n  m := sprintf(\"%v\", [n])\n}\n",
        ];
        let review = to_rego(&json!({"x": true, "s": "a"}));
        let empty = Value::new_object();
        for body in bodies {
            let rego = format!("package t\nviolation[{{\"msg\": m}}] {{\n  {body}");
            let source = RegoSource { rego, libs: vec![], v1: false };
            let vm = RegoProgram::compile("t", &source).unwrap();
            assert_eq!(vm.evaluate(&review, &empty, &empty).unwrap(), vec![], "{body}");
            let interpreted = RegoProgram::compile_interpreted("t", &source).unwrap();
            assert!(interpreted.evaluate(&review, &empty, &empty).is_err(), "{body}");
        }
    }

    #[test]
    fn the_interpreter_engine_keeps_opa_error_semantics() {
        let rego =
            "package t\nviolation[{\"msg\": m}] {\n  m := f(input.review.x)\n}\nf(x) = 1 { x }\nf(x) = 2 { x }\n";
        let source = RegoSource { rego: rego.to_string(), libs: vec![], v1: false };
        let engine: RegoEngine = "interpreter".parse().unwrap();
        let program = RegoProgram::compile_for("t", &source, engine).unwrap();
        assert!(!program.is_bytecode());
        let review = to_rego(&json!({"x": true}));
        assert!(program.evaluate(&review, &Value::new_object(), &Value::new_object()).is_err());
        assert!(RegoProgram::compile_for("t", &source, "bytecode".parse().unwrap()).unwrap().is_bytecode());
        assert!("vm".parse::<RegoEngine>().unwrap_err().contains("expected bytecode or interpreter"));
    }

    #[test]
    fn compile_errors_are_reported() {
        assert!(program("package t\nviolation[{\"msg\": m}] {").is_err());
        assert!(program("package t\nallow { true }").is_err());
    }
}
