//! `patchStrategicMerge`: Kyverno anchor preprocessing followed by the strategic merge
//! (upstream `pkg/engine/mutate/patch/strategicMergePatch.go`).

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use palisade_engine::patch::Touched;
use serde_json::Value;

use super::MutateError;
use super::anchor::Anchor;
use super::condition::{BasicMatcher, ConditionMatcher};
use super::merge::{DIRECTIVE, merge_resource, root_shape};
use super::merge_check::{Verdict, check_merge};
use super::plan::Plan;
use super::preprocess::{PreError, delete_condition_elements, preprocess};
use super::schema::{ListMerge, Shape};
use palisade_engine::field::lookup;

/// A compiled `patchStrategicMerge` overlay (compile once when it holds no `{{ }}` variables).
#[derive(Debug, Clone)]
pub struct StrategicPatch {
    /// The overlay as written.
    overlay: Value,
    /// The overlay with empty maps stripped, when it holds no anchors (then it does not depend on the resource).
    static_patch: Option<Value>,
    /// What merges of this overlay can write, per root shape (shared by clones of the patch).
    touched: Arc<TouchedCache>,
    /// The overlay's anchors compiled, when they have the common forms (see [`Plan`]).
    plan: Option<Plan>,
}

/// The result of applying a [`StrategicPatch`].
#[derive(Debug, Clone, PartialEq)]
pub struct StrategicOutcome {
    /// The patched resource (unchanged when a condition failed).
    pub resource: Value,
    /// Why the patch was skipped, when a conditional or global anchor did not hold.
    pub skipped: Option<String>,
}

impl StrategicPatch {
    /// Validates `overlay` (a map; `$patch` values are `replace`, `delete` or `merge`) and precomputes what it can.
    pub fn compile(overlay: &Value) -> Result<Self, MutateError> {
        if !overlay.is_object() {
            return Err(MutateError::InvalidPatch(format!("the overlay must be a map, found {}", type_name(overlay))));
        }
        check_directives(overlay, "")?;
        let plan = if contains_anchor(overlay) { Plan::compile(overlay) } else { None };
        let static_patch = if contains_anchor(overlay) {
            None
        } else {
            let mut patch = overlay.clone();
            delete_condition_elements(&mut patch).map_err(MutateError::InvalidPatch)?;
            Some(patch)
        };
        Ok(StrategicPatch { overlay: overlay.clone(), static_patch, touched: Arc::default(), plan })
    }

    /// The overlay as written.
    pub fn overlay(&self) -> &Value {
        &self.overlay
    }

    /// Applies the patch to `resource` with the built-in condition matcher.
    pub fn apply(&self, resource: &Value) -> Result<Value, MutateError> {
        self.apply_with(resource, &BasicMatcher).map(|o| o.resource)
    }

    /// Applies the patch, checking conditional anchors with `matcher`, and reports whether a condition skipped it.
    pub fn apply_with(
        &self,
        resource: &Value,
        matcher: &dyn ConditionMatcher,
    ) -> Result<StrategicOutcome, MutateError> {
        let mut resource = resource.clone();
        let effect = self.apply_in_place(&mut resource, matcher)?;
        Ok(StrategicOutcome { resource, skipped: effect.skipped })
    }

    /// Applies the patch to `resource` in place; on error the resource is left as it was.
    ///
    /// Only what the patch touches is rebuilt: a read-only check finds the merge's errors first, so no copy of
    /// the resource is kept unless the check cannot follow the merge (keyed lists whose elements match several
    /// merge keys).
    pub fn apply_in_place(
        &self,
        resource: &mut Value,
        matcher: &dyn ConditionMatcher,
    ) -> Result<PatchEffect, MutateError> {
        match self.prepare(resource, matcher)? {
            Prepared::Skipped(reason) => Ok(PatchEffect { changed: false, skipped: Some(reason) }),
            Prepared::Nothing => Ok(PatchEffect { changed: false, skipped: None }),
            Prepared::Merge(merge) => merge.apply(resource),
        }
    }

    /// Everything before the merge, reading `resource` only: anchors resolved against it, then the merge's
    /// errors checked. Callers that hold a borrowed resource copy it only for [`Prepared::Merge`].
    pub fn prepare<'p>(
        &'p self,
        resource: &Value,
        matcher: &dyn ConditionMatcher,
    ) -> Result<Prepared<'p>, MutateError> {
        self.prepare_checked(resource, matcher, true)
    }

    /// [`StrategicPatch::prepare`] without the merge check: for a merge into a copy of `resource` that the caller
    /// drops when [`PreparedMerge::apply`] fails (the failed merge leaves its target empty).
    pub fn prepare_unchecked<'p>(
        &'p self,
        resource: &Value,
        matcher: &dyn ConditionMatcher,
    ) -> Result<Prepared<'p>, MutateError> {
        self.prepare_checked(resource, matcher, false)
    }

    fn prepare_checked<'p>(
        &'p self,
        resource: &Value,
        matcher: &dyn ConditionMatcher,
        check: bool,
    ) -> Result<Prepared<'p>, MutateError> {
        let patch = match &self.static_patch {
            Some(patch) => Cow::Borrowed(patch),
            None => {
                let resolved = match &self.plan {
                    Some(plan) => plan.resolve(resource, matcher),
                    None => {
                        let mut patch = self.overlay.clone();
                        preprocess(&mut patch, resource, matcher).map(|()| patch)
                    }
                };
                match resolved {
                    Ok(patch) => Cow::Owned(patch),
                    Err(PreError::Condition(reason)) => {
                        return Ok(Prepared::Skipped(format!("condition failed: {reason}")));
                    }
                    Err(PreError::Global(reason)) => {
                        return Ok(Prepared::Skipped(format!("global condition failed: {reason}")));
                    }
                    Err(PreError::Invalid(reason)) => return Err(MutateError::Preprocess(reason)),
                }
            }
        };
        // An empty overlay (every `+(key)` already present) merges to the same resource.
        if patch.as_object().is_some_and(serde_json::Map::is_empty) {
            return Ok(Prepared::Nothing);
        }
        let shape = root_shape(resource).or_else(|| root_shape(&patch));
        if !check {
            return Ok(Prepared::Merge(PreparedMerge {
                patch,
                keep_backup: false,
                checked: false,
                shape,
                source: self,
            }));
        }
        let keep_backup = match check_merge(resource, &patch)? {
            Verdict::Clean => false,
            Verdict::Unsure => true,
        };
        Ok(Prepared::Merge(PreparedMerge { patch, keep_backup, checked: true, shape, source: self }))
    }
}

/// What [`StrategicPatch::prepare`] found.
#[derive(Debug)]
pub enum Prepared<'p> {
    /// A conditional or global anchor did not hold: the patch is skipped, for this reason.
    Skipped(String),
    /// Nothing is left to merge: the resource stays as it is.
    Nothing,
    /// A merge to apply with [`PreparedMerge::apply`].
    Merge(PreparedMerge<'p>),
}

/// A patch resolved against a resource and checked; apply it to that same resource.
#[derive(Debug)]
pub struct PreparedMerge<'p> {
    patch: Cow<'p, Value>,
    keep_backup: bool,
    /// Whether the merge's errors were checked before (see [`StrategicPatch::prepare_unchecked`]).
    checked: bool,
    /// The schema the merge follows (from the resource's kind).
    shape: Option<&'static Shape>,
    /// The patch this merge was prepared from.
    source: &'p StrategicPatch,
}

impl PreparedMerge<'_> {
    /// What the merge can write (a superset: see `touched_by`), shared by every merge of the same patch into
    /// resources of the same kind.
    pub fn touched(&self) -> Touched {
        self.source.touched.get(&self.source.overlay, self.shape)
    }

    /// Merges into `resource` (the one it was prepared against); on error the resource is left as it was, or
    /// left `null` when the merge was prepared unchecked.
    pub fn apply(self, resource: &mut Value) -> Result<PatchEffect, MutateError> {
        let backup = self.keep_backup.then(|| resource.clone());
        match merge_resource(std::mem::take(resource), &self.patch) {
            Ok((merged, changed)) => {
                *resource = merged;
                Ok(PatchEffect { changed, skipped: None })
            }
            Err(e) => {
                // With a clean check the merge cannot fail (`merge_check` tests hold the two to the same errors).
                debug_assert!(backup.is_some() || !self.checked, "strategic merge failed after a clean check: {e}");
                *resource = backup.unwrap_or_default();
                Err(e)
            }
        }
    }
}

/// What merging `overlay` (before its anchors are resolved) can write into a resource of root `shape`: its fields,
/// map by map, with each anchor key read both as its own key and as the key inside; within the elements of the
/// lists the schema merges by key, the fields of the overlay's elements and the merge keys. Conditions add
/// fields they only read, so this covers every resolution of the anchors.
fn touched_by(overlay: &Value, shape: Option<&'static Shape>) -> Touched {
    match overlay {
        Value::Object(map) if lookup(map, DIRECTIVE).is_none() => {
            let mut fields = Vec::with_capacity(map.len());
            for (k, v) in map {
                let inner = Anchor::parse(k).map(|a| a.key);
                for key in std::iter::once(k.as_str()).chain(inner) {
                    fields.push((Arc::from(key), touched_by(v, shape.and_then(|s| s.field(key)))));
                }
            }
            Touched::fields(fields)
        }
        Value::Array(items) => match shape.and_then(Shape::list) {
            Some((ListMerge::Keys(keys), element_shape)) => {
                let mut inner = Touched::fields(keys.iter().map(|k| (Arc::from(*k), Touched::Everything)).collect());
                for item in items {
                    inner.add(&touched_by(item, Some(element_shape)));
                }
                Touched::Keyed(keys, Arc::new(inner))
            }
            _ => Touched::Everything,
        },
        _ => Touched::Everything,
    }
}

/// [`touched_by`] per root shape, computed once per overlay and shape.
#[derive(Debug, Default)]
struct TouchedCache(RwLock<Vec<(usize, Touched)>>);

impl TouchedCache {
    fn get(&self, overlay: &Value, shape: Option<&'static Shape>) -> Touched {
        let id = shape.map_or(0, |s| std::ptr::from_ref(s) as usize);
        if let Ok(cached) = self.0.read()
            && let Some((_, touched)) = cached.iter().find(|(k, _)| *k == id)
        {
            return touched.clone();
        }
        let touched = touched_by(overlay, shape);
        if let Ok(mut cached) = self.0.write()
            && !cached.iter().any(|(k, _)| *k == id)
        {
            cached.push((id, touched.clone()));
        }
        touched
    }
}

/// What [`StrategicPatch::apply_in_place`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchEffect {
    /// Whether the resource differs from what it was.
    pub changed: bool,
    /// Why the patch was skipped, when a conditional or global anchor did not hold.
    pub skipped: Option<String>,
}

/// Applies a `patchStrategicMerge` overlay to `resource` (compiles it first; prefer [`StrategicPatch`] when reused).
pub fn strategic_merge(resource: &Value, patch: &Value) -> Result<Value, MutateError> {
    StrategicPatch::compile(patch)?.apply(resource)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn check_directives(v: &Value, path: &str) -> Result<(), MutateError> {
    match v {
        Value::Object(map) => {
            if let Some(d) = map.get("$patch")
                && !matches!(d.as_str(), Some("replace" | "delete" | "merge"))
            {
                return Err(MutateError::UnknownDirective {
                    path: if path.is_empty() { ".".to_string() } else { path.to_string() },
                    value: d.to_string(),
                });
            }
            for (k, child) in map {
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                check_directives(child, &sub)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, child)| check_directives(child, &format!("{path}[{i}]")))
        }
        _ => Ok(()),
    }
}

/// Whether any key (or string value, as upstream checks) of `v` is an anchor (of any kind).
pub(super) fn contains_anchor(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, child)| Anchor::parse(k).is_some() || contains_anchor(child)),
        Value::Array(items) => items.iter().any(contains_anchor),
        Value::String(s) => Anchor::parse(s).is_some(),
        _ => false,
    }
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
