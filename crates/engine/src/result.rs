//! The result model shared by every policy language: one [`RuleResult`] per policy, rule
//! and resource, with Kyverno's five statuses.

use crate::text::Text;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Outcome of one rule on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// The resource satisfies the rule (or the mutation applied).
    Pass,
    /// The resource violates the rule.
    Fail,
    /// The resource violates a rule that only warns (`scored: false`, Gatekeeper `warn`).
    Warn,
    /// The rule could not be evaluated (bad variable, failed patch, engine error).
    Error,
    /// The rule did not apply (preconditions false, nothing to do).
    Skip,
}

impl RuleStatus {
    /// The lowercase spelling used in reports and test files.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Warn => "warn",
            RuleStatus::Error => "error",
            RuleStatus::Skip => "skip",
        }
    }

    /// Parses `pass`, `fail`, `warn`, `error` or `skip` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "pass" => Some(RuleStatus::Pass),
            "fail" => Some(RuleStatus::Fail),
            "warn" => Some(RuleStatus::Warn),
            "error" => Some(RuleStatus::Error),
            "skip" => Some(RuleStatus::Skip),
            _ => None,
        }
    }
}

impl fmt::Display for RuleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of rule produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// A validation rule (Kyverno validate, Gatekeeper constraint, sandbox check).
    Validation,
    /// A mutation rule.
    Mutation,
    /// A generate rule.
    Generation,
}

impl RuleKind {
    /// Kyverno's metric label spelling: `validate`, `mutate`, `generate`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Validation => "validate",
            RuleKind::Mutation => "mutate",
            RuleKind::Generation => "generate",
        }
    }
}

/// Whether a failing validation blocks the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureAction {
    /// Report only; the request is allowed.
    #[default]
    Audit,
    /// Deny the request.
    Enforce,
}

impl FailureAction {
    /// Parses Kyverno's spellings, including the old lowercase `audit`/`enforce`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "audit" => Some(FailureAction::Audit),
            "enforce" => Some(FailureAction::Enforce),
            _ => None,
        }
    }

    /// The canonical spelling, `Audit` or `Enforce`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureAction::Audit => "Audit",
            FailureAction::Enforce => "Enforce",
        }
    }
}

/// One rule's outcome on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    /// Policy name (for namespaced policies, `namespace/name`); shared with the compiled policy.
    pub policy: Text,
    /// Rule name (autogen rules carry their `autogen-` prefix); shared with the compiled rule.
    pub rule: Text,
    /// Kind of rule.
    pub kind: RuleKind,
    /// Outcome.
    pub status: RuleStatus,
    /// Human-readable message, as the policy language formats it.
    pub message: Text,
    /// Failure action in force for this rule on this resource.
    pub action: FailureAction,
    /// Whether an audit failure should be returned to the API server as a warning.
    #[serde(default)]
    pub emit_warning: bool,
}

impl RuleResult {
    /// A result with the default (Audit) action. Names and messages held in a [`Text`] are shared, not copied.
    pub fn new(
        policy: impl Into<Text>,
        rule: impl Into<Text>,
        kind: RuleKind,
        status: RuleStatus,
        message: impl Into<Text>,
    ) -> Self {
        Self {
            policy: policy.into(),
            rule: rule.into(),
            kind,
            status,
            message: message.into(),
            action: FailureAction::Audit,
            emit_warning: false,
        }
    }

    /// True when this result denies the request: a failed rule under Enforce.
    ///
    /// Rule errors are not included; the server decides them by the policy's failure policy.
    pub fn blocks(&self) -> bool {
        self.action == FailureAction::Enforce && self.status == RuleStatus::Fail
    }
}
