//! Kyverno validate patterns: anchors, string operators and comparisons.
//!
//! This is upstream's `validate.MatchPattern` (`pkg/engine/validate`, `pkg/engine/anchor`,
//! `pkg/engine/pattern`, `pkg/engine/operator`, `pkg/engine/wildcards`), with the pattern
//! compiled once: anchors parsed, evaluation order fixed, operators, wildcards, durations and
//! quantities pre-parsed. Variables (`{{ }}`) must already be substituted.
//!
//! ```
//! use palisade_kyverno::pattern::{compile, PatternOutcome};
//! use serde_json::json;
//!
//! let pattern = compile(&json!({"spec": {"containers": [{"image": "!*:latest"}]}})).unwrap();
//! let pod = json!({"spec": {"containers": [{"name": "a", "image": "nginx:latest"}]}});
//! assert_eq!(
//!     pattern.validate(&pod),
//!     PatternOutcome::Fail {
//!         path: "/spec/containers/0/image/".into(),
//!         error: "resource value 'nginx:latest' does not match '!*:latest' at path /spec/containers/0/image/".into(),
//!     }
//! );
//! ```

mod anchor;
mod compile;
mod failure;
mod gofmt;
mod outcome;
mod validate;
mod value;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod equivalence_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod validate_tests;

pub use anchor::{Anchor, AnchorKind, parse as parse_anchor};
pub use outcome::{AnyPatternOutcome, PatternOutcome, validate_any};

use compile::{Compiler, Node};
use failure::{Kind, Path};
use serde_json::Value;
use validate::State;

/// A pattern that cannot be used in a validate rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// An add-if-not-present anchor `+(key)`, which only mutate rules accept.
    #[error("unsupported anchor at {path}: add-if-not-present anchors +(key) are only valid in mutate rules")]
    AddIfNotPresent {
        /// Pattern path of the offending key, e.g. `/spec/+(hostNetwork)`.
        path: String,
    },
    /// An existence anchor `^(key)` whose value is not a list.
    #[error("invalid existence anchor at {path}: existence anchor should have value of type list")]
    ExistenceNotList {
        /// Pattern path of the anchor key.
        path: String,
    },
    /// An existence anchor `^(key)` with an empty list.
    #[error("invalid existence anchor at {path}: existence anchor should have at least one value")]
    ExistenceEmpty {
        /// Pattern path of the anchor key.
        path: String,
    },
    /// `anyPattern` is not a list.
    #[error("anyPattern must be a list of patterns")]
    AnyPatternNotList,
    /// One element of an `anyPattern` list is invalid.
    #[error("anyPattern[{index}]: {source}")]
    AnyPattern {
        /// Index of the invalid pattern.
        index: usize,
        /// What is wrong with it.
        source: Box<PatternError>,
    },
}

/// A compiled `validate.pattern` (or one element of `validate.anyPattern`).
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
    tracked: usize,
}

/// Compiles a pattern; rejects `+()` anchors and malformed existence anchors, naming the path.
pub fn compile(pattern: &Value) -> Result<Pattern, PatternError> {
    let mut compiler = Compiler::default();
    let root = compiler.node(pattern, "")?;
    Ok(Pattern { root, tracked: compiler.tracked_count() })
}

/// Compiles a `validate.anyPattern` list.
pub fn compile_any(patterns: &Value) -> Result<Vec<Pattern>, PatternError> {
    let Value::Array(items) = patterns else {
        return Err(PatternError::AnyPatternNotList);
    };
    items
        .iter()
        .enumerate()
        .map(|(index, p)| compile(p).map_err(|e| PatternError::AnyPattern { index, source: Box::new(e) }))
        .collect()
}

impl Pattern {
    /// Matches `resource` against the pattern (`validate.MatchPattern`).
    pub fn validate(&self, resource: &Value) -> PatternOutcome {
        self.validate_with(resource, false)
    }

    /// [`Pattern::validate`]; when `quiet`, failures, skips and errors come with the path `/` and no text
    /// (for results whose message nobody reads; their status is the same).
    pub fn validate_with(&self, resource: &Value, quiet: bool) -> PatternOutcome {
        let mut state = State::new(self.tracked);
        let root = if quiet { Path::Quiet } else { Path::Root };
        let Err(failure) = state.element(resource, &self.root, &root) else {
            return PatternOutcome::Pass;
        };
        let failure = *failure;
        if failure.is_skip() {
            return PatternOutcome::Skip { reason: failure.message };
        }
        let negation = failure.kind == Kind::Negation;
        if (!negation && state.keys_are_missing()) || failure.path.is_empty() {
            return PatternOutcome::Error { error: failure.message };
        }
        PatternOutcome::Fail { path: failure.path, error: failure.message }
    }
}
