//! Kyverno conditions (preconditions and `deny`): `any`/`all` blocks of
//! `{key, operator, value}` with all of Kyverno's operators.

use crate::compare;
use crate::variables::{CompiledValue, Resolution, VariableError};
use crate::vars::Vars;
use serde_json::Value;
use std::borrow::Cow;

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Equality (also the deprecated `Equal`).
    Equals,
    /// Inequality (also the deprecated `NotEqual`).
    NotEquals,
    /// Deprecated: key (or all of key) in value.
    In,
    /// Deprecated: negation of `In`.
    NotIn,
    /// Any key element in value.
    AnyIn,
    /// All key elements in value.
    AllIn,
    /// Any key element not in value.
    AnyNotIn,
    /// All key elements not in value.
    AllNotIn,
    /// key > value.
    GreaterThan,
    /// key >= value.
    GreaterThanOrEquals,
    /// key < value.
    LessThan,
    /// key <= value.
    LessThanOrEquals,
    /// Deprecated duration comparison.
    DurationGreaterThan,
    /// Deprecated duration comparison.
    DurationGreaterThanOrEquals,
    /// Deprecated duration comparison.
    DurationLessThan,
    /// Deprecated duration comparison.
    DurationLessThanOrEquals,
}

impl Operator {
    /// Parses an operator name as Kyverno spells it.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "Equals" | "Equal" => Operator::Equals,
            "NotEquals" | "NotEqual" => Operator::NotEquals,
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "AnyIn" => Operator::AnyIn,
            "AllIn" => Operator::AllIn,
            "AnyNotIn" => Operator::AnyNotIn,
            "AllNotIn" => Operator::AllNotIn,
            "GreaterThan" => Operator::GreaterThan,
            "GreaterThanOrEquals" => Operator::GreaterThanOrEquals,
            "LessThan" => Operator::LessThan,
            "LessThanOrEquals" => Operator::LessThanOrEquals,
            "DurationGreaterThan" => Operator::DurationGreaterThan,
            "DurationGreaterThanOrEquals" => Operator::DurationGreaterThanOrEquals,
            "DurationLessThan" => Operator::DurationLessThan,
            "DurationLessThanOrEquals" => Operator::DurationLessThanOrEquals,
            _ => return None,
        })
    }

    /// Evaluates the operator on substituted key and value.
    /// Whether this is one of the set operators (AnyIn, AllIn, AnyNotIn, AllNotIn).
    fn is_set(self) -> bool {
        matches!(self, Operator::AnyIn | Operator::AllIn | Operator::AnyNotIn | Operator::AllNotIn)
    }

    /// The outcome of a set operator from the membership of the key's elements.
    fn among(self, m: compare::Membership) -> bool {
        match self {
            Operator::AnyIn => m.any_in,
            Operator::AllIn => m.all_in,
            Operator::AnyNotIn => m.any_not_in,
            _ => m.all_not_in,
        }
    }

    pub fn evaluate(self, key: &Value, value: &Value) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Operator::Equals => compare::equals(key, value),
            Operator::NotEquals => !compare::equals(key, value),
            Operator::In => compare::legacy_in(key, value),
            Operator::NotIn => !compare::legacy_in(key, value),
            Operator::AnyIn => compare::membership(key, value).any_in,
            Operator::AllIn => compare::membership(key, value).all_in,
            Operator::AnyNotIn => compare::membership(key, value).any_not_in,
            Operator::AllNotIn => compare::membership(key, value).all_not_in,
            Operator::GreaterThan => compare::order(key, value) == Some(Greater),
            Operator::GreaterThanOrEquals => matches!(compare::order(key, value), Some(Greater | Equal)),
            Operator::LessThan => compare::order(key, value) == Some(Less),
            Operator::LessThanOrEquals => matches!(compare::order(key, value), Some(Less | Equal)),
            Operator::DurationGreaterThan => compare::duration_order(key, value) == Some(Greater),
            Operator::DurationGreaterThanOrEquals => {
                matches!(compare::duration_order(key, value), Some(Greater | Equal))
            }
            Operator::DurationLessThan => compare::duration_order(key, value) == Some(Less),
            Operator::DurationLessThanOrEquals => matches!(compare::duration_order(key, value), Some(Less | Equal)),
        }
    }
}

/// One compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    key: CompiledValue,
    operator: Operator,
    value: CompiledValue,
    /// The candidate set of a set operator whose value has no variables (computed at load).
    candidates: Option<Option<compare::Candidates>>,
    /// `Equals`/`NotEquals` against a value without variables, prepared at load.
    equality: Option<compare::Equality>,
    /// The block's slot for the key's rendered value, when another key or value of the block is the
    /// same text (`{{ element.keys(@)[] }}` three times): rendered once per evaluation of the block.
    key_slot: Option<usize>,
    /// Likewise for the value.
    value_slot: Option<usize>,
    /// The outcome for each operation, when the key and the value read nothing but `request.operation`
    /// (Kyverno's `{{ request.operation || 'BACKGROUND' }}` preconditions): decided at load.
    by_operation: Option<ByOperation>,
    /// Optional message shown when the condition decides the outcome.
    pub message: Option<String>,
}

/// The operations `request.operation` holds on the admission path, in [`ByOperation`]'s order.
const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

/// A condition's outcome for each of [`OPERATIONS`], in each resolution mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByOperation {
    lenient: [bool; 4],
    strict: [bool; 4],
}

impl ByOperation {
    /// Evaluates `cond` for each operation; `None` if any evaluation fails (it is then left to run time,
    /// which reports the error as usual).
    fn decide(cond: &Condition) -> Option<Self> {
        let mut out = ByOperation { lenient: [false; 4], strict: [false; 4] };
        for (i, operation) in OPERATIONS.iter().enumerate() {
            let vars = Vars::from_value(serde_json::json!({"request": {"operation": operation}}));
            out.lenient[i] = cond.evaluate(&vars, Resolution::Lenient).ok()?;
            out.strict[i] = cond.evaluate(&vars, Resolution::Strict).ok()?;
        }
        Some(out)
    }

    /// The outcome when the variables' `request.operation` is one of [`OPERATIONS`].
    fn outcome(&self, data: &Vars<'_>, mode: Resolution) -> Option<bool> {
        let operation = palisade_engine::field::field(data.get("request")?, "operation")?.as_str()?;
        let i = OPERATIONS.iter().position(|op| *op == operation)?;
        Some(match mode {
            Resolution::Lenient => self.lenient[i],
            Resolution::Strict => self.strict[i],
        })
    }
}

/// A compiled `any`/`all` block (a legacy list is an `all` block).
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    any: Option<Vec<Condition>>,
    all: Vec<Condition>,
    /// How many rendered values the block's conditions share (see [`Condition::key_slot`]).
    shared: usize,
}

/// A condition that could not be compiled, with its path inside the block.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConditionError {
    /// Path such as `any[0].operator`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Conditions {
    /// Compiles a preconditions or deny-conditions value: a list, or `{any, all}`.
    pub fn compile(value: &Value) -> Result<Self, ConditionError> {
        match value {
            Value::Null => Ok(Self::default()),
            Value::Array(items) => Ok(Self { any: None, all: compile_list(items, "")?, shared: 0 }.with_shared_slots()),
            Value::Object(map) => {
                if let Some(other) = map.keys().find(|k| *k != "any" && *k != "all") {
                    return Err(ConditionError {
                        path: other.clone(),
                        message: "unknown field: conditions take only `any` and `all`".into(),
                    });
                }
                let list = |name: &str| -> Result<Option<Vec<Condition>>, ConditionError> {
                    match map.get(name) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::Array(items)) => compile_list(items, name).map(Some),
                        Some(_) => Err(ConditionError { path: name.into(), message: "must be a list".into() }),
                    }
                };
                Ok(Self { any: list("any")?, all: list("all")?.unwrap_or_default(), shared: 0 }.with_shared_slots())
            }
            _ => Err(ConditionError { path: String::new(), message: "conditions must be a list or {any, all}".into() }),
        }
    }

    /// Gives each dynamic text that occurs more than once among the block's keys and values a slot, so it
    /// is rendered once per evaluation: conditions do not change the variables, so the same text gives
    /// the same value (or the same error, which ends the evaluation) every time in one evaluation.
    fn with_shared_slots(mut self) -> Self {
        let conditions = self.all.iter_mut().chain(self.any.iter_mut().flatten());
        let mut texts: Vec<(String, Vec<&mut Option<usize>>)> = Vec::new();
        for cond in conditions {
            let Condition { key, value, candidates, key_slot, value_slot, .. } = cond;
            let fields = [(&*key, key_slot, true), (&*value, value_slot, candidates.is_none())];
            for (compiled, slot, rendered) in fields {
                let CompiledValue::String(template) = compiled else { continue };
                if !rendered {
                    continue;
                }
                let text = template.to_string();
                match texts.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, slots)) => slots.push(slot),
                    None => texts.push((text, vec![slot])),
                }
            }
        }
        for (_, slots) in texts.into_iter().filter(|(_, slots)| slots.len() > 1) {
            for slot in slots {
                *slot = Some(self.shared);
            }
            self.shared += 1;
        }
        self
    }

    /// Whether there are no conditions.
    pub fn is_empty(&self) -> bool {
        self.any.as_ref().is_none_or(Vec::is_empty) && self.all.is_empty()
    }

    /// Evaluates against the context `data`. Returns whether the block holds and, when it
    /// does not, the message of the deciding condition (if any).
    pub fn evaluate<'a>(
        &'a self,
        data: &'a Vars<'_>,
        mode: Resolution,
    ) -> Result<(bool, Option<String>), VariableError> {
        // Most blocks repeat no text: they keep the plain path, which measured a few hundred instructions
        // per block cheaper than the shared one with no slots.
        if self.shared == 0 {
            return self.evaluate_with(|cond| cond.evaluate(data, mode));
        }
        // Shared values live on the stack unless the block has many.
        let mut inline: [Option<Cow<'_, Value>>; 4] = Default::default();
        let mut spilled = Vec::new();
        let shared: &mut [Option<Cow<'_, Value>>] = match inline.get_mut(..self.shared) {
            Some(slots) => slots,
            None => {
                spilled.resize_with(self.shared, || None);
                &mut spilled
            }
        };
        self.evaluate_with(|cond| cond.evaluate_sharing(data, mode, shared))
    }

    /// The `all` block, then the `any` block, each condition decided by `holds`.
    fn evaluate_with<'a>(
        &'a self,
        mut holds: impl FnMut(&'a Condition) -> Result<bool, VariableError>,
    ) -> Result<(bool, Option<String>), VariableError> {
        for cond in &self.all {
            if !holds(cond)? {
                return Ok((false, cond.message.clone()));
            }
        }
        if let Some(any) = &self.any
            && !any.is_empty()
        {
            let mut message = None;
            for cond in any {
                if holds(cond)? {
                    return Ok((true, None));
                }
                if message.is_none() {
                    message = cond.message.clone();
                }
            }
            return Ok((false, message));
        }
        Ok((true, None))
    }
}

fn compile_list(items: &[Value], prefix: &str) -> Result<Vec<Condition>, ConditionError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = if prefix.is_empty() { format!("[{i}]") } else { format!("{prefix}[{i}]") };
            let err = |field: &str, message: String| ConditionError { path: format!("{path}.{field}"), message };
            let map = item.as_object().ok_or_else(|| err("", "condition must be an object".into()))?;
            if let Some(other) = map.keys().find(|k| !matches!(k.as_str(), "key" | "operator" | "value" | "message")) {
                return Err(err(other, "unknown field in condition".into()));
            }
            let op_name =
                map.get("operator").and_then(Value::as_str).ok_or_else(|| err("operator", "missing".into()))?;
            let operator =
                Operator::parse(op_name).ok_or_else(|| err("operator", format!("unknown operator {op_name:?}")))?;
            let key = CompiledValue::compile(map.get("key").unwrap_or(&Value::Null))
                .map_err(|e| err("key", e.to_string()))?;
            let value = CompiledValue::compile(map.get("value").unwrap_or(&Value::Null))
                .map_err(|e| err("value", e.to_string()))?;
            let message = map.get("message").and_then(Value::as_str).map(str::to_string);
            let candidates = match (operator.is_set(), value.as_static()) {
                (true, Some(v)) => Some(compare::candidates(v)),
                _ => None,
            };
            let equality = match (operator, value.as_static()) {
                (Operator::Equals | Operator::NotEquals, Some(v)) => Some(compare::Equality::new(v)),
                _ => None,
            };
            let mut condition = Condition {
                key,
                operator,
                value,
                candidates,
                equality,
                key_slot: None,
                value_slot: None,
                by_operation: None,
                message,
            };
            let reads_operation_only = |raw: Option<&Value>| {
                raw.is_none_or(|raw| crate::variables::variables_pure_under(raw, &[&["request", "operation"]]))
            };
            if (condition.key.as_static().is_none() || condition.value.as_static().is_none())
                && reads_operation_only(map.get("key"))
                && reads_operation_only(map.get("value"))
            {
                condition.by_operation = ByOperation::decide(&condition);
            }
            Ok(condition)
        })
        .collect()
}

impl Condition {
    fn evaluate(&self, data: &Vars<'_>, mode: Resolution) -> Result<bool, VariableError> {
        if let Some(outcome) = self.by_operation.and_then(|by| by.outcome(data, mode)) {
            return Ok(outcome);
        }
        let key = self.key.render_borrowed(data, mode)?;
        if let Some(candidates) = &self.candidates {
            let Some(candidates) = candidates else { return Ok(false) };
            return Ok(self.operator.among(compare::membership_among(&key, candidates)));
        }
        if let Some(equality) = &self.equality {
            return Ok(equality.equals(&key) == (self.operator == Operator::Equals));
        }
        let value = self.value.render_borrowed(data, mode)?;
        Ok(self.operator.evaluate(&key, &value))
    }

    /// [`Condition::evaluate`] in a block with shared values: `shared` holds the block's values rendered
    /// once (see [`Condition::key_slot`]).
    fn evaluate_sharing<'a>(
        &'a self,
        data: &'a Vars<'_>,
        mode: Resolution,
        shared: &mut [Option<Cow<'a, Value>>],
    ) -> Result<bool, VariableError> {
        if let Some(outcome) = self.by_operation.and_then(|by| by.outcome(data, mode)) {
            return Ok(outcome);
        }
        // Key first, then value, as without sharing: the first error is the one reported.
        let key = render_once(&self.key, self.key_slot, data, mode, shared)?;
        if let Some(candidates) = &self.candidates {
            let Some(candidates) = candidates else { return Ok(false) };
            return Ok(self
                .operator
                .among(compare::membership_among(rendered(&key, self.key_slot, shared), candidates)));
        }
        let value = render_once(&self.value, self.value_slot, data, mode, shared)?;
        Ok(self.operator.evaluate(rendered(&key, self.key_slot, shared), rendered(&value, self.value_slot, shared)))
    }
}

static NULL: Value = Value::Null;

/// A value [`render_once`] returned, or the one it left in its slot.
fn rendered<'v>(
    own: &'v Option<Cow<'_, Value>>,
    slot: Option<usize>,
    shared: &'v [Option<Cow<'_, Value>>],
) -> &'v Value {
    own.as_deref().or_else(|| slot.and_then(|i| shared.get(i)?.as_deref())).unwrap_or(&NULL)
}

/// Renders `value`; into its shared slot when it has one (once: a filled slot is kept), else returned.
fn render_once<'a>(
    value: &'a CompiledValue,
    slot: Option<usize>,
    data: &'a Vars<'_>,
    mode: Resolution,
    shared: &mut [Option<Cow<'a, Value>>],
) -> Result<Option<Cow<'a, Value>>, VariableError> {
    match slot.and_then(|i| shared.get_mut(i)) {
        Some(cell) => {
            if cell.is_none() {
                *cell = Some(value.render_borrowed(data, mode)?);
            }
            Ok(None)
        }
        None => value.render_borrowed(data, mode).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(cond: Value, data: Value) -> bool {
        Conditions::compile(&cond).unwrap().evaluate(&Vars::from_value(data), Resolution::Strict).unwrap().0
    }

    #[test]
    fn operator_table() {
        let cases = [
            (json!("CREATE"), "Equals", json!("CREATE"), true),
            (json!("nginx:latest"), "Equals", json!("*:latest"), true),
            (json!(1), "Equals", json!(1.0), true),
            (json!("1Gi"), "Equals", json!("1024Mi"), true),
            (json!("1h"), "Equals", json!("60m"), true),
            (json!(true), "Equals", json!("true"), false),
            (json!({"a": 1}), "Equals", json!({"a": 1}), true),
            (json!("a"), "NotEquals", json!("b"), true),
            (json!("a"), "AnyIn", json!(["a", "b"]), true),
            (json!(["a", "c"]), "AnyIn", json!(["a", "b"]), true),
            (json!(["a", "c"]), "AllIn", json!(["a", "b"]), false),
            (json!(["a", "b"]), "AllIn", json!(["a*"]), false),
            (json!(["ab", "ac"]), "AllIn", json!(["a*"]), true),
            (json!(["a", "c"]), "AnyNotIn", json!(["a", "b"]), true),
            (json!(["a", "c"]), "AllNotIn", json!(["a", "b"]), false),
            (json!(5), "AnyIn", json!(["1-10"]), true),
            (json!(5), "AnyIn", json!(["1!-10"]), false),
            (json!(3), "GreaterThan", json!(2), true),
            (json!("3"), "GreaterThan", json!(2), true),
            (json!("2Gi"), "GreaterThan", json!("1500Mi"), true),
            (json!("1.21.0"), "GreaterThanOrEquals", json!("1.20.5"), true),
            (json!("30m"), "LessThan", json!("1h"), true),
            (json!(2), "LessThanOrEquals", json!(2), true),
            (json!("2h"), "DurationGreaterThan", json!("1h"), true),
            (json!(7200), "DurationGreaterThan", json!("1h"), true),
            (json!("a"), "In", json!(["a", "b"]), true),
            (json!(["a", "b"]), "In", json!(["a", "b", "c"]), true),
            (json!("x"), "NotIn", json!(["a", "b"]), true),
            (json!([]), "AnyNotIn", json!(["a"]), false),
            (json!([]), "AllNotIn", json!(["a"]), true),
            (json!("team1"), "AnyNotIn", json!(null), false),
            (json!([5100, 0]), "AnyNotIn", json!("5000-6000"), true),
            (json!([5100]), "AnyNotIn", json!("5000-6000"), false),
        ];
        for (key, op, value, want) in cases {
            let got = Operator::parse(op).unwrap().evaluate(&key, &value);
            assert_eq!(got, want, "{key} {op} {value}");
        }
    }

    #[test]
    fn any_and_all_blocks() {
        let data = json!({"request": {"operation": "CREATE"}});
        assert!(holds(
            json!({"any": [{"key": "{{request.operation}}", "operator": "Equals", "value": "CREATE"},
                                     {"key": "a", "operator": "Equals", "value": "b"}]}),
            data.clone()
        ));
        assert!(!holds(
            json!({"all": [{"key": "{{request.operation}}", "operator": "Equals", "value": "CREATE"},
                                      {"key": "a", "operator": "Equals", "value": "b"}]}),
            data.clone()
        ));
        assert!(holds(json!([{"key": "{{request.operation}}", "operator": "NotEquals", "value": "DELETE"}]), data));
    }

    /// The block without shared slots: every condition renders its own key and value.
    fn unshared(mut block: Conditions) -> Conditions {
        for cond in block.all.iter_mut().chain(block.any.iter_mut().flatten()) {
            (cond.key_slot, cond.value_slot) = (None, None);
        }
        block.shared = 0;
        block
    }

    #[test]
    fn repeated_texts_are_rendered_once_with_the_same_outcome() {
        let keys = "{{ element.keys(@)[] }}";
        let block = json!({
            "all": [
                {"key": "livenessProbe", "operator": "AllNotIn", "value": keys},
                {"key": "startupProbe", "operator": "AllNotIn", "value": keys},
                {"key": "{{ element.name }}", "operator": "NotEquals", "value": "{{ element.missing.field }}"}
            ],
            "any": [
                {"key": keys, "operator": "AnyIn", "value": ["readinessProbe"]},
                {"key": "{{ element.name }}", "operator": "Equals", "value": "app"}
            ]
        });
        let shared = Conditions::compile(&block).unwrap();
        assert_eq!(shared.shared, 2, "the keys list and the name are shared");
        let plain = unshared(shared.clone());
        let elements = [
            json!({"name": "app", "image": "nginx"}),
            json!({"name": "app", "readinessProbe": {}}),
            json!({"name": "db", "livenessProbe": {}, "missing": {"field": "db"}}),
            json!({"name": "db", "missing": {"field": "x"}}),
            json!({"name": "web"}),
        ];
        for element in elements {
            let data = Vars::from_value(json!({"element": element}));
            for mode in [Resolution::Strict, Resolution::Lenient] {
                let (a, b) = (shared.evaluate(&data, mode), plain.evaluate(&data, mode));
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{element} {mode:?}");
            }
        }
    }

    /// The block without outcomes decided at load: every condition renders its key and value.
    fn undecided(mut block: Conditions) -> Conditions {
        for cond in block.all.iter_mut().chain(block.any.iter_mut().flatten()) {
            cond.by_operation = None;
        }
        block
    }

    #[test]
    fn conditions_on_the_operation_alone_are_decided_at_load_with_the_same_outcome() {
        let block = json!({
            "all": [
                {"key": "{{request.operation || 'BACKGROUND'}}", "operator": "NotEquals", "value": "DELETE"},
                {"key": "{{ request.operation }}", "operator": "AnyIn", "value": ["CREATE", "UPDATE", "CONNECT"]},
                {"key": "CREATE", "operator": "Equals", "value": "{{ request.operation }}"},
                {"key": "{{ request.operation.missing }}", "operator": "Equals", "value": ""}
            ],
            "any": [
                {"key": "{{ request.operation }}", "operator": "Equals", "value": "CREATE"},
                {"key": "x-{{ request.operation }}", "operator": "Equals", "value": "x-UPDATE"}
            ]
        });
        let decided = Conditions::compile(&block).unwrap();
        let count =
            |b: &Conditions| b.all.iter().chain(b.any.iter().flatten()).filter(|c| c.by_operation.is_some()).count();
        // Every one (a field of the operation string is null, as JMESPath has it).
        assert_eq!(count(&decided), 6);
        let plain = undecided(decided.clone());
        let operations =
            [json!("CREATE"), json!("UPDATE"), json!("DELETE"), json!("CONNECT"), json!("BACKGROUND"), json!("")];
        let mut docs: Vec<Value> = operations.iter().map(|op| json!({"request": {"operation": op}})).collect();
        docs.extend([json!({"request": {}}), json!({}), json!({"request": {"operation": 3}})]);
        for doc in docs {
            let data = Vars::from_value(doc.clone());
            for mode in [Resolution::Strict, Resolution::Lenient] {
                let (a, b) = (decided.evaluate(&data, mode), plain.evaluate(&data, mode));
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "{doc} {mode:?}");
            }
        }
    }

    #[test]
    fn conditions_with_functions_or_other_variables_are_not_decided_at_load() {
        for key in [
            "{{ time_now_utc() }}",
            "{{ to_string(request.operation) }}",
            "{{ request.namespace }}",
            "{{ request.object.metadata.name }}",
            "{{ request.\"{{request.operation}}\" }}",
        ] {
            let block =
                Conditions::compile(&json!([{"key": key, "operator": "NotEquals", "value": "DELETE"}])).unwrap();
            assert!(block.all[0].by_operation.is_none(), "{key}");
        }
        let static_only = Conditions::compile(&json!([{"key": "a", "operator": "Equals", "value": "a"}])).unwrap();
        assert!(static_only.all[0].by_operation.is_none(), "nothing to decide");
    }

    #[test]
    fn unknown_operator_is_a_compile_error() {
        let err = Conditions::compile(&json!({"any": [{"key": "a", "operator": "Equalz", "value": "a"}]})).unwrap_err();
        assert_eq!(err.path, "any[0].operator");
        assert!(err.message.contains("Equalz"));
    }
}
