//! Compiled `mutate` rules: patchStrategicMerge, patchesJson6902 and foreach, applied
//! in order to the object, each seeing the output of the previous one.

use crate::conditions::Conditions;
use crate::context::ContextLoader;
use crate::foreach::{self, ForeachCommon};
use crate::mutate;
use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
use palisade_engine::patch::Touched;
use palisade_engine::{EvaluationContext, RuleStatus};
use serde_json::Value;

/// A patch with its variables compiled.
#[derive(Debug, Clone)]
enum Patch {
    /// The overlay, and its compiled form when it holds no variables (compiled once at load).
    Strategic(CompiledValue, Option<mutate::StrategicPatch>),
    /// The patch text, and its parsed form when it holds no variables.
    Json6902(Template, Option<mutate::Json6902Patch>),
}

/// One `foreach` entry of a mutate rule.
#[derive(Debug, Clone)]
struct ForeachMutation {
    list: Template,
    context: Vec<ContextLoader>,
    preconditions: Conditions,
    descending: Option<bool>,
    patch: Option<Patch>,
    nested: Vec<ForeachMutation>,
}

/// A compiled mutate rule.
#[derive(Debug, Clone)]
pub struct MutateRule {
    patch: Option<Patch>,
    foreach: Vec<ForeachMutation>,
}

type ContextCompiler<'a> = &'a dyn Fn(&Value) -> Result<Vec<ContextLoader>, String>;

fn compile_patch(block: &serde_json::Map<String, Value>) -> Result<Option<Patch>, String> {
    if let Some(p) = block.get("patchStrategicMerge").filter(|v| !v.is_null()) {
        let compiled = CompiledValue::compile(p).map_err(|e| format!("patchStrategicMerge: {e}"))?;
        let precompiled = match compiled.as_static() {
            Some(static_patch) => {
                Some(mutate::StrategicPatch::compile(static_patch).map_err(|e| format!("patchStrategicMerge: {e}"))?)
            }
            None => None,
        };
        return Ok(Some(Patch::Strategic(compiled, precompiled)));
    }
    if let Some(p) = block.get("patchesJson6902").filter(|v| !v.is_null()) {
        let text = p.as_str().ok_or("patchesJson6902: must be a YAML string")?;
        let template = Template::compile(text).map_err(|e| format!("patchesJson6902: {e}"))?;
        let parsed = match &template {
            Template::Literal(t) => Some(mutate::Json6902Patch::parse(t).map_err(|e| format!("patchesJson6902: {e}"))?),
            _ => None,
        };
        return Ok(Some(Patch::Json6902(template, parsed)));
    }
    Ok(None)
}

const FOREACH_FIELDS: [&str; 7] =
    ["list", "context", "preconditions", "order", "patchStrategicMerge", "patchesJson6902", "foreach"];

fn compile_foreach(item: &Value, compile_context: ContextCompiler<'_>) -> Result<ForeachMutation, String> {
    let (ForeachCommon { list, context, preconditions }, map) =
        foreach::compile_common(item, &FOREACH_FIELDS, compile_context)?;
    let descending = match map.get("order").and_then(Value::as_str) {
        None => None,
        Some("Ascending") => Some(false),
        Some("Descending") => Some(true),
        Some(other) => return Err(format!("order: must be Ascending or Descending, not {other:?}")),
    };
    let patch = compile_patch(&map)?;
    let nested = compile_foreach_list(&map, compile_context)?;
    if patch.is_none() && nested.is_empty() {
        return Err("needs patchStrategicMerge, patchesJson6902 or a nested foreach".into());
    }
    Ok(ForeachMutation { list, context, preconditions, descending, patch, nested })
}

/// Compiles the `foreach` list of a block (empty when absent).
fn compile_foreach_list(
    block: &serde_json::Map<String, Value>,
    compile_context: ContextCompiler<'_>,
) -> Result<Vec<ForeachMutation>, String> {
    match block.get("foreach").and_then(Value::as_array) {
        Some(items) => items
            .iter()
            .enumerate()
            .map(|(i, f)| compile_foreach(f, compile_context).map_err(|e| format!("foreach[{i}].{e}")))
            .collect(),
        None => Ok(Vec::new()),
    }
}

impl MutateRule {
    /// Compiles a `mutate` block.
    pub fn compile(
        block: &serde_json::Map<String, Value>,
        compile_context: ContextCompiler<'_>,
    ) -> Result<Self, String> {
        let patch = compile_patch(block)?;
        let foreach = compile_foreach_list(block, compile_context)?;
        if block.get("targets").is_some_and(|t| !t.is_null()) {
            return Err("targets: mutate-existing rules are not supported yet".into());
        }
        if patch.is_none() && foreach.is_empty() {
            return Err("needs patchStrategicMerge, patchesJson6902 or foreach".into());
        }
        Ok(Self { patch, foreach })
    }

    /// Whether the rule reads no variables: a patch without `{{ }}` and no foreach.
    pub fn is_static(&self) -> bool {
        self.foreach.is_empty()
            && match &self.patch {
                Some(Patch::Strategic(cv, _)) => !cv.is_dynamic(),
                Some(Patch::Json6902(t, _)) => !t.is_dynamic(),
                None => false,
            }
    }

    /// Applies the rule to `request.object` held by `data`; returns status, message and the object when it was
    /// copied to be patched (unchanged on error; `None` when the original was never written).
    ///
    /// What the patches may have written is added to `touched`.
    pub fn apply(
        &self,
        mut data: Vars<'_>,
        ctx: &EvaluationContext,
        rule: &str,
        touched: &mut Touched,
    ) -> (RuleStatus, String, Option<Value>) {
        let result = match &self.patch {
            // A single patch leaves the object as it was when it fails.
            Some(p) => apply_patch(p, &mut data, touched),
            None => {
                // Foreach patches run one after another: keep the object to restore it when one fails.
                let before = data.object_snapshot();
                let mut applied = 0;
                match self.foreach.iter().try_for_each(|f| f.apply(&mut data, ctx, 0, &mut applied, touched)) {
                    Ok(()) => Ok(!palisade_engine::json_eq::json_eq(data.object(), &before)),
                    Err(e) => {
                        data.restore_object(before);
                        Err(e)
                    }
                }
            }
        };
        let object = data.into_copied_object();
        match result {
            Err(e) => (RuleStatus::Error, format!("failed to apply mutate rule {rule}: {e}"), object),
            Ok(false) => (RuleStatus::Skip, format!("rule {rule} made no changes"), object),
            Ok(true) => (RuleStatus::Pass, format!("mutated by rule {rule}"), object),
        }
    }
}

/// Applies a patch to the object held by `data` in place; tells whether it changed the object, which is left
/// as it was on error. A change is recorded in `touched` (JSON6902 patches as everything).
fn apply_patch(patch: &Patch, data: &mut Vars<'_>, touched: &mut Touched) -> Result<bool, String> {
    let changed = match patch {
        Patch::Strategic(_, Some(compiled)) => return merge_into(compiled, data, touched),
        Patch::Strategic(cv, None) => {
            let rendered = cv.render(data, Resolution::Strict).map_err(|e| e.to_string())?;
            let compiled = mutate::StrategicPatch::compile(&rendered).map_err(|e| e.to_string())?;
            return merge_into(&compiled, data, touched);
        }
        Patch::Json6902(_, Some(parsed)) => {
            let patched = parsed.apply(data.object()).map_err(|e| e.to_string())?;
            replace_if_changed(data, patched)
        }
        Patch::Json6902(t, None) => {
            let text = match t.render(data, "/mutate/patchesJson6902", Resolution::Strict).map_err(|e| e.to_string())? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let patched = mutate::apply_json6902(data.object(), &text).map_err(|e| e.to_string())?;
            replace_if_changed(data, patched)
        }
    };
    if changed {
        touched.add(&Touched::Everything);
    }
    Ok(changed)
}

/// Puts `patched` in place of the object of `data` when they differ; tells whether they did.
fn replace_if_changed(data: &mut Vars<'_>, patched: Value) -> bool {
    let changed = !palisade_engine::json_eq::json_eq(data.object(), &patched);
    if changed {
        data.set_object(patched);
    }
    changed
}

/// Merges `patch` into the object of `data`, which is copied (when borrowed) only if there is something to merge.
///
/// The first merge into a borrowed object skips the merge check: it works on a fresh copy, which is dropped
/// (and the original borrowed again) when the merge fails.
fn merge_into(patch: &mutate::StrategicPatch, data: &mut Vars<'_>, touched: &mut Touched) -> Result<bool, String> {
    let original = data.object_if_borrowed();
    let prepared = match original {
        Some(_) => patch.prepare_unchecked(data.object(), &mutate::BasicMatcher),
        None => patch.prepare(data.object(), &mutate::BasicMatcher),
    };
    let merge = match prepared.map_err(|e| e.to_string())? {
        mutate::Prepared::Merge(merge) => merge,
        mutate::Prepared::Skipped(_) | mutate::Prepared::Nothing => return Ok(false),
    };
    let writes = merge.touched();
    match merge.apply(data.object_mut()) {
        Ok(effect) => {
            if effect.changed {
                touched.add(&writes);
            }
            Ok(effect.changed)
        }
        Err(e) => {
            if let Some(original) = original {
                data.restore_object(std::borrow::Cow::Borrowed(original));
            }
            Err(e.to_string())
        }
    }
}

impl ForeachMutation {
    /// Applies the entry to the object held by `data`: the list, and each element's patch, read the
    /// current (already patched) object.
    fn apply(
        &self,
        data: &mut Vars<'_>,
        ctx: &EvaluationContext,
        depth: usize,
        applied: &mut usize,
        touched: &mut Touched,
    ) -> Result<(), String> {
        let elements = match self.list.render(data, "/foreach/list", Resolution::Strict) {
            Ok(Value::Array(items)) => items,
            Ok(Value::Null) | Err(_) => return Ok(()),
            Ok(other) => vec![other],
        };
        // Kyverno processes strategic-merge foreach in descending order unless told otherwise;
        // `elementIndex` keeps each element's position in the list either way.
        let descending = self.descending.unwrap_or(matches!(self.patch, Some(Patch::Strategic(..))));
        let mut indexed: Vec<(usize, Value)> = elements.into_iter().enumerate().collect();
        if descending {
            indexed.reverse();
        }
        for (index, element) in indexed {
            data.set_element(std::borrow::Cow::Owned(element), index, depth);
            for loader in &self.context {
                loader.load(data, ctx, false).map_err(|e| format!("failed to load context: {e}"))?;
            }
            match self.preconditions.evaluate(data, Resolution::Lenient) {
                Ok((true, _)) => {}
                Ok((false, _)) => continue,
                Err(e) => return Err(e.to_string()),
            }
            if let Some(p) = &self.patch {
                apply_patch(p, data, touched)?;
                *applied += 1;
            }
            for nested in &self.nested {
                nested.apply(data, ctx, depth + 1, applied, touched)?;
            }
        }
        Ok(())
    }
}
