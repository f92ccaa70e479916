//! Kyverno mutations: strategic merge patches with anchors, JSON6902 patches, JSON Patch diffs.
//!
//! These are the pure primitives the rule evaluator calls after substituting `{{ }}` variables:
//! * [`StrategicPatch`] / [`strategic_merge`]: `patchStrategicMerge` with Kyverno anchor preprocessing and
//!   Kubernetes strategic-merge list semantics (kustomize's kyaml merge as Kyverno uses it);
//! * [`Json6902Patch`] / [`apply_json6902`]: `patchesJson6902` given as a YAML string;
//! * [`diff`] / [`diff_json`] (from `palisade_engine::patch`): the RFC 6902 patch between two objects, as the
//!   webhook returns it.

pub mod anchor;
pub mod condition;
mod json6902;
mod merge;
mod merge_check;
mod plan;
mod preprocess;
pub mod schema;
mod strategic;

#[cfg(test)]
mod conformance_tests;

pub use condition::{BasicMatcher, ConditionMatcher};
pub use json6902::{Json6902Patch, apply_json6902};
pub use palisade_engine::patch::{PatchOp, PatchOperation, diff, diff_json, is_ignored_patch_path, webhook_patch};
pub use strategic::{PatchEffect, Prepared, PreparedMerge, StrategicOutcome, StrategicPatch, strategic_merge};

/// Errors from mutation primitives.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MutateError {
    /// The `patchStrategicMerge` overlay is malformed.
    #[error("invalid patchStrategicMerge: {0}")]
    InvalidPatch(String),
    /// Anchor preprocessing failed for a reason other than an unmet condition.
    #[error("failed to preProcess rule: {0}")]
    Preprocess(String),
    /// The patch has a map, list or scalar where the resource has another kind of value.
    #[error("wrong node kind at {path}: expected {expected}, found {found}")]
    WrongKind {
        /// Dotted path of the field.
        path: String,
        /// Kind found first (the resource's, unless it is empty).
        expected: &'static str,
        /// The conflicting kind.
        found: &'static str,
    },
    /// A `$patch` directive other than `replace`, `delete` or `merge`.
    #[error("unknown patch strategy {value} at {path}")]
    UnknownDirective {
        /// Dotted path of the map holding the directive.
        path: String,
        /// The directive's value.
        value: String,
    },
    /// The patch deletes the whole resource (`$patch: delete` at the top level).
    #[error("the patch deletes the whole resource")]
    ResourceDeleted,
    /// `patchesJson6902` is not a YAML/JSON list of operations.
    #[error("failed to decode patches: {0}")]
    Json6902Decode(String),
    /// One operation of a `patchesJson6902` failed.
    #[error("patchesJson6902 operation {index} ({op} {path}): {reason}")]
    Json6902Operation {
        /// Zero-based index of the operation.
        index: usize,
        /// The operation name.
        op: String,
        /// The operation's `path`.
        path: String,
        /// Why it failed.
        reason: String,
    },
}
