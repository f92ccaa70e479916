//! Pattern outcomes and the rule messages upstream builds from them
//! (`pkg/engine/handlers/validation/validate_resource.go`).

use super::Pattern;
use palisade_engine::RuleStatus;
use serde_json::Value;

/// The result of matching one pattern against a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternOutcome {
    /// The resource matches.
    Pass,
    /// The resource does not match; `path` is upstream's failure path (`/spec/containers/0/image/`).
    Fail {
        /// Where the first mismatch is.
        path: String,
        /// Upstream's error text (used in skip/anyPattern messages).
        error: String,
    },
    /// The match failed without a usable path (an anchor key missing from the resource, or a
    /// list length mismatch): upstream reports the rule as `error`.
    Error {
        /// Upstream's error text.
        error: String,
    },
    /// A conditional or global anchor did not match: the rule does not apply.
    Skip {
        /// Upstream's error text, used verbatim as the rule message.
        reason: String,
    },
}

impl PatternOutcome {
    /// The rule status upstream reports for this outcome of `validate.pattern`.
    pub fn status(&self) -> RuleStatus {
        match self {
            PatternOutcome::Pass => RuleStatus::Pass,
            PatternOutcome::Fail { .. } => RuleStatus::Fail,
            PatternOutcome::Error { .. } => RuleStatus::Error,
            PatternOutcome::Skip { .. } => RuleStatus::Skip,
        }
    }

    /// The rule message upstream reports; `message` is the rule's `validate.message` with
    /// variables already substituted (`None` or empty when the rule has none).
    pub fn message(&self, rule: &str, message: Option<&str>) -> String {
        match self {
            PatternOutcome::Pass => format!("validation rule '{rule}' passed."),
            PatternOutcome::Skip { reason } => reason.clone(),
            PatternOutcome::Fail { path, error } => error_message(rule, message, path, error),
            PatternOutcome::Error { error } => error_message(rule, message, "", error),
        }
    }
}

/// `buildErrorMessage`.
fn error_message(rule: &str, message: Option<&str>, path: &str, error: &str) -> String {
    match message.filter(|m| !m.is_empty()) {
        None if !path.is_empty() => format!("validation error: rule {rule} failed at path {path}"),
        None => format!("validation error: rule {rule} execution error: {error}"),
        Some(m) => {
            let dot = if m.ends_with('.') { "" } else { "." };
            if path.is_empty() {
                format!("validation error: {m}{dot} rule {rule} execution error: {error}")
            } else {
                format!("validation error: {m}{dot} rule {rule} failed at path {path}")
            }
        }
    }
}

/// The result of `validate.anyPattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyPatternOutcome {
    /// Pattern `index` matched (`None` when the list is empty, which upstream passes).
    Pass {
        /// The first matching pattern.
        index: Option<usize>,
    },
    /// No pattern matched and at least one failed: the failed ones, by index.
    Fail {
        /// `(index, outcome)` of each failed pattern (skipped ones are not listed, as upstream).
        failed: Vec<(usize, PatternOutcome)>,
    },
    /// Every pattern was skipped: `(index, reason)` of each.
    Skip {
        /// Why each pattern was skipped.
        skipped: Vec<(usize, String)>,
    },
}

/// Matches `resource` against each pattern in order, stopping at the first match.
pub fn validate_any(patterns: &[Pattern], resource: &Value) -> AnyPatternOutcome {
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for (index, pattern) in patterns.iter().enumerate() {
        match pattern.validate(resource) {
            PatternOutcome::Pass => return AnyPatternOutcome::Pass { index: Some(index) },
            PatternOutcome::Skip { reason } => skipped.push((index, reason)),
            other => failed.push((index, other)),
        }
    }
    if !failed.is_empty() {
        AnyPatternOutcome::Fail { failed }
    } else if !skipped.is_empty() {
        AnyPatternOutcome::Skip { skipped }
    } else {
        AnyPatternOutcome::Pass { index: None }
    }
}

impl AnyPatternOutcome {
    /// The rule status upstream reports (an `Error`-type pattern outcome counts as failed).
    pub fn status(&self) -> RuleStatus {
        match self {
            AnyPatternOutcome::Pass { .. } => RuleStatus::Pass,
            AnyPatternOutcome::Fail { .. } => RuleStatus::Fail,
            AnyPatternOutcome::Skip { .. } => RuleStatus::Skip,
        }
    }

    /// The rule message upstream reports. Note that upstream uses the rule's `validate.message`
    /// *without* variable substitution here; pass it as written.
    pub fn message(&self, rule: &str, message: Option<&str>) -> String {
        match self {
            AnyPatternOutcome::Pass { index: Some(i) } => format!("validation rule '{rule}' anyPattern[{i}] passed."),
            AnyPatternOutcome::Pass { index: None } => message.unwrap_or_default().to_string(),
            AnyPatternOutcome::Skip { skipped } => skipped
                .iter()
                .map(|(i, reason)| format!("rule {rule}[{i}] skipped: {reason}"))
                .collect::<Vec<_>>()
                .join(" "),
            AnyPatternOutcome::Fail { failed } => {
                let errors = failed
                    .iter()
                    .map(|(i, outcome)| match outcome {
                        PatternOutcome::Fail { path, .. } => format!("rule {rule}[{i}] failed at path {path}"),
                        PatternOutcome::Error { error } => format!("rule {rule}[{i}] failed: {error}"),
                        PatternOutcome::Pass | PatternOutcome::Skip { .. } => String::new(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                match message.filter(|m| !m.is_empty()) {
                    None => format!("validation error: {errors}"),
                    Some(m) if m.ends_with('.') => format!("validation error: {m} {errors}"),
                    Some(m) => format!("validation error: {m}. {errors}"),
                }
            }
        }
    }
}
