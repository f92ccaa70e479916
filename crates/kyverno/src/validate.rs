//! Compiled `validate` rules: pattern, anyPattern, deny and foreach, evaluated against
//! the rule context, with Kyverno's result messages.

use crate::conditions::Conditions;
use crate::context::{ContextFailure, ContextLoader};
use crate::foreach::{self, ForeachCommon};
use crate::pattern::{self, Pattern, PatternOutcome};
use crate::pod_security::{self, PodSecurity, PodSecurityOutcome};
use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
use palisade_engine::{EvaluationContext, RuleStatus};
use serde_json::Value;
use std::borrow::Cow;

/// A pattern, compiled now when it has no variables, or after substitution otherwise.
#[derive(Debug, Clone)]
pub enum PatternSource {
    /// Compiled at load.
    Static(Pattern),
    /// Has variables; compiled per evaluation after substitution.
    Dynamic(CompiledValue),
}

impl PatternSource {
    /// Compiles a pattern value.
    pub fn compile(value: &Value) -> Result<Self, String> {
        let compiled = CompiledValue::compile(value).map_err(|e| e.to_string())?;
        match compiled.as_static() {
            Some(v) => Ok(PatternSource::Static(pattern::compile(v).map_err(|e| e.to_string())?)),
            None => {
                // Check the anchors now with variables left in place.
                pattern::compile(value).map_err(|e| e.to_string())?;
                Ok(PatternSource::Dynamic(compiled))
            }
        }
    }

    /// Matches `resource`; `quiet`: failures carry no text (see [`Pattern::validate_with`]).
    fn check(&self, data: &Vars<'_>, resource: &Value, quiet: bool) -> Result<PatternOutcome, String> {
        match self {
            PatternSource::Static(p) => Ok(p.validate_with(resource, quiet)),
            PatternSource::Dynamic(cv) => {
                let rendered = cv.render(data, Resolution::Strict).map_err(|e| e.to_string())?;
                let p = pattern::compile(&rendered).map_err(|e| e.to_string())?;
                Ok(p.validate_with(resource, quiet))
            }
        }
    }
}

/// What a validate rule checks.
#[derive(Debug, Clone)]
pub enum Check {
    /// `pattern`.
    Pattern(PatternSource),
    /// `anyPattern`.
    AnyPattern(Vec<PatternSource>),
    /// `deny.conditions`.
    Deny(Conditions),
    /// `foreach`.
    Foreach(Vec<ForeachValidation>),
    /// `podSecurity`: Pod Security Standards checks.
    PodSecurity(std::sync::Arc<PodSecurity>),
    /// A validation type not supported yet: results are `skip` (CEL) or `error` with this reason.
    Unsupported {
        /// Status reported.
        status: RuleStatus,
        /// Reason.
        reason: String,
    },
}

/// One `foreach` entry of a validate rule.
#[derive(Debug, Clone)]
pub struct ForeachValidation {
    list: Template,
    context: Vec<ContextLoader>,
    preconditions: Conditions,
    element_scope: Option<bool>,
    check: Box<Check>,
}

/// Outcome of a check: status and the detail for the message.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome<'p> {
    /// Status.
    pub status: RuleStatus,
    /// Failure path(s) or reason; empty on pass.
    pub detail: Detail<'p>,
}

impl CheckOutcome<'_> {
    fn new(status: RuleStatus, detail: impl Into<String>) -> Self {
        Self { status, detail: Detail::Text(detail.into()) }
    }
}

/// The detail of a [`CheckOutcome`]: text, or a context entry that did not load, written only when shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail<'p> {
    /// Failure path(s) or reason.
    Text(String),
    /// A `foreach` context entry that did not load.
    Context(ContextFailure<'p>),
}

impl Detail<'_> {
    /// The text of a [`Detail::Text`] (failure paths); empty for the others.
    pub fn text(&self) -> &str {
        match self {
            Detail::Text(text) => text,
            Detail::Context(_) => "",
        }
    }

    /// The detail as text.
    pub fn into_text(self) -> String {
        match self {
            Detail::Text(text) => text,
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Text(text) => f.write_str(text),
            Detail::Context(e) => e.fmt(f),
        }
    }
}

/// Compiles the check of a `validate` block (or of a foreach entry).
pub fn compile_check(
    block: &serde_json::Map<String, Value>,
    rule_name: &str,
    compile_context: &dyn Fn(&Value) -> Result<Vec<ContextLoader>, String>,
) -> Result<Check, String> {
    if let Some(p) = block.get("pattern").filter(|v| !v.is_null()) {
        return PatternSource::compile(p).map(Check::Pattern).map_err(|e| format!("pattern: {e}"));
    }
    if let Some(list) = block.get("anyPattern").filter(|v| !v.is_null()) {
        let items = list.as_array().ok_or("anyPattern: must be a list")?;
        return items
            .iter()
            .enumerate()
            .map(|(i, p)| PatternSource::compile(p).map_err(|e| format!("anyPattern[{i}]: {e}")))
            .collect::<Result<_, _>>()
            .map(Check::AnyPattern);
    }
    if let Some(deny) = block.get("deny").filter(|v| !v.is_null()) {
        let conditions = deny.get("conditions").unwrap_or(&Value::Null);
        if let Some(other) = deny.as_object().and_then(|m| m.keys().find(|k| *k != "conditions")) {
            return Err(format!("deny.{other}: unknown field"));
        }
        return Conditions::compile(conditions).map(Check::Deny).map_err(|e| format!("deny.conditions.{e}"));
    }
    if let Some(list) = block.get("foreach").filter(|v| !v.is_null()) {
        let items = list.as_array().ok_or("foreach: must be a list")?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            out.push(compile_foreach(item, compile_context).map_err(|e| format!("foreach[{i}].{e}"))?);
        }
        return Ok(Check::Foreach(out));
    }
    if block.get("cel").is_some_and(|v| !v.is_null()) {
        return Ok(Check::Unsupported { status: RuleStatus::Skip, reason: "CEL not supported yet".into() });
    }
    if let Some(ps) = block.get("podSecurity").filter(|v| !v.is_null()) {
        let compiled = pod_security::compile(ps).map_err(|e| format!("podSecurity: {e}"))?;
        return Ok(Check::PodSecurity(std::sync::Arc::new(compiled.with_rule_name(rule_name))));
    }
    if block.get("manifests").is_some_and(|v| !v.is_null()) {
        return Ok(Check::Unsupported {
            status: RuleStatus::Error,
            reason: "manifest signature validation is not supported".into(),
        });
    }
    if block.get("assert").is_some_and(|v| !v.is_null()) {
        return Ok(Check::Unsupported {
            status: RuleStatus::Error,
            reason: "assertion trees are not supported yet".into(),
        });
    }
    Err("validate needs one of pattern, anyPattern, deny, foreach, podSecurity or cel".into())
}

const FOREACH_FIELDS: [&str; 8] =
    ["list", "context", "preconditions", "elementScope", "pattern", "anyPattern", "deny", "foreach"];

fn compile_foreach(
    item: &Value,
    compile_context: &dyn Fn(&Value) -> Result<Vec<ContextLoader>, String>,
) -> Result<ForeachValidation, String> {
    let (ForeachCommon { list, context, preconditions }, map) =
        foreach::compile_common(item, &FOREACH_FIELDS, compile_context)?;
    let element_scope = map.get("elementScope").and_then(Value::as_bool);
    let check = Box::new(compile_check(&map, "", compile_context)?);
    Ok(ForeachValidation { list, context, preconditions, element_scope, check })
}

impl Check {
    /// Evaluates the check; `resource` is what patterns are matched against. `quiet`: nobody reads the
    /// outcome's detail (an Audit rule on the webhook), so pattern failures are not described.
    pub fn evaluate(
        &self,
        data: &mut Vars<'_>,
        resource: &Value,
        ctx: &EvaluationContext,
        depth: usize,
        quiet: bool,
    ) -> CheckOutcome<'_> {
        match self {
            Check::Pattern(p) => match p.check(data, resource, quiet) {
                Ok(PatternOutcome::Pass) => CheckOutcome::new(RuleStatus::Pass, ""),
                Ok(PatternOutcome::Fail { path, .. }) => CheckOutcome::new(RuleStatus::Fail, path),
                Ok(PatternOutcome::Skip { reason }) => CheckOutcome::new(RuleStatus::Skip, reason),
                Ok(PatternOutcome::Error { error }) => CheckOutcome::new(RuleStatus::Error, error),
                Err(e) => CheckOutcome::new(RuleStatus::Error, e),
            },
            Check::AnyPattern(patterns) => {
                let mut failures = Vec::new();
                let mut skipped = 0;
                for (i, p) in patterns.iter().enumerate() {
                    match p.check(data, resource, quiet) {
                        Ok(PatternOutcome::Pass) => {
                            return CheckOutcome::new(RuleStatus::Pass, String::new());
                        }
                        Ok(PatternOutcome::Fail { path, .. }) => failures.push((i, path)),
                        Ok(PatternOutcome::Skip { .. }) => skipped += 1,
                        Ok(PatternOutcome::Error { error }) => failures.push((i, error)),
                        Err(e) => return CheckOutcome::new(RuleStatus::Error, e),
                    }
                }
                if skipped == patterns.len() {
                    return CheckOutcome::new(RuleStatus::Skip, "all patterns skipped");
                }
                // `[index]\0path` per failure, joined by `\1` (split again by the failure message).
                let mut detail = String::with_capacity(failures.iter().map(|(_, p)| p.len() + 6).sum());
                for (n, (i, path)) in failures.iter().enumerate() {
                    if n > 0 {
                        detail.push('\u{1}');
                    }
                    detail.push('[');
                    detail.push_str(&i.to_string());
                    detail.push_str("]\u{0}");
                    detail.push_str(path);
                }
                CheckOutcome::new(RuleStatus::Fail, detail)
            }
            Check::Deny(conditions) => match conditions.evaluate(data, Resolution::Strict) {
                Ok((true, _)) => CheckOutcome::new(RuleStatus::Fail, ""),
                Ok((false, _)) => CheckOutcome::new(RuleStatus::Pass, ""),
                Err(e) => CheckOutcome::new(
                    RuleStatus::Error,
                    format!("failed to substitute variables in deny conditions: {e}"),
                ),
            },
            Check::Foreach(entries) => {
                let mut applied = 0;
                for entry in entries {
                    let outcome = entry.evaluate(data, resource, ctx, depth, &mut applied, quiet);
                    if matches!(outcome.status, RuleStatus::Fail | RuleStatus::Error) {
                        return outcome;
                    }
                }
                if applied == 0 {
                    CheckOutcome::new(RuleStatus::Skip, "rule skipped")
                } else {
                    CheckOutcome::new(RuleStatus::Pass, "")
                }
            }
            Check::PodSecurity(ps) => match ps.check(resource) {
                PodSecurityOutcome::Pass => CheckOutcome::new(RuleStatus::Pass, ""),
                PodSecurityOutcome::Fail { message } => CheckOutcome::new(RuleStatus::Fail, message),
                PodSecurityOutcome::Error { message } => CheckOutcome::new(RuleStatus::Error, message),
            },
            Check::Unsupported { status, reason } => CheckOutcome::new(*status, reason.clone()),
        }
    }
}

impl ForeachValidation {
    fn evaluate(
        &self,
        data: &mut Vars<'_>,
        resource: &Value,
        ctx: &EvaluationContext,
        depth: usize,
        applied: &mut usize,
        quiet: bool,
    ) -> CheckOutcome<'_> {
        // The elements the list selects in `data` are borrowed (`request.object.spec.containers[]`).
        let data = &*data;
        let elements = match self.list.render_items(data, "/foreach/list", Resolution::Strict) {
            Ok(Some(elements)) => elements,
            Ok(None) | Err(_) => return CheckOutcome::new(RuleStatus::Skip, ""),
        };
        // Each element is evaluated in a scope over `data`: the element is mounted, not copied, and context
        // entries the loop loads do not outlive it.
        for (index, element) in elements.iter().enumerate() {
            let element: &Value = element;
            let mut scope = data.reborrow();
            scope.set_element(Cow::Borrowed(element), index, depth);
            for loader in &self.context {
                if let Err(e) = loader.load(&mut scope, ctx, false) {
                    return CheckOutcome { status: RuleStatus::Error, detail: Detail::Context(ContextFailure(e)) };
                }
            }
            match self.preconditions.evaluate(&scope, Resolution::Lenient) {
                Ok((true, _)) => {}
                Ok((false, _)) => continue,
                Err(e) => return CheckOutcome::new(RuleStatus::Error, e.to_string()),
            }
            let scoped = match &*self.check {
                Check::Pattern(_) | Check::AnyPattern(_) => self.element_scope.unwrap_or(true),
                _ => self.element_scope.unwrap_or(false),
            };
            let target = if scoped { element } else { resource };
            let outcome = self.check.evaluate(&mut scope, target, ctx, depth + 1, quiet);
            match outcome.status {
                RuleStatus::Fail | RuleStatus::Error => return outcome,
                RuleStatus::Pass => *applied += 1,
                _ => {}
            }
        }
        CheckOutcome::new(RuleStatus::Pass, "")
    }
}
