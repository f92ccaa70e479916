//! Kyverno's `validate.podSecurity` subrule: the Kubernetes Pod Security Standards checks
//! (`k8s.io/pod-security-admission/policy`) applied to a Pod or to the pod template of a
//! controller, with Kyverno's `exclude` semantics and failure message.
//!
//! ```text
//! let ps = pod_security::compile(&rule["validate"]["podSecurity"])?.with_rule_name("baseline");
//! match ps.check(&resource) { Pass => .., Fail { message } => .., Error { message } => .. }
//! ```
//!
//! Behaviour follows upstream Kyverno (`pkg/pss`, `validate_pss.go`):
//! - `baseline` runs the baseline checks, `restricted` runs all checks (the capabilities and
//!   seccomp checks of both levels run side by side, as Kyverno does not apply Kubernetes'
//!   check overrides). `privileged` allows everything (Kubernetes' definition of the level;
//!   upstream Kyverno only filters for `baseline` and so would run every check).
//! - `latest` (or no version) runs the newest revision of every check; `v1.N` runs every
//!   revision introduced at or before 1.N, each failing revision being reported (Kyverno's
//!   `evaluatePSS`), so one control can appear more than once in a message.
//! - Pods are read from `spec`/`metadata`; DaemonSet, Deployment, Job, StatefulSet,
//!   ReplicaSet and ReplicationController from `spec.template`; CronJob from
//!   `spec.jobTemplate.spec.template.spec` with the job template's metadata (as upstream).
//!   Other kinds give [`PodSecurityOutcome::Error`].
//! - Field paths in messages are rewritten like Kyverno's `convertChecks` (`spec` becomes
//!   `spec.template.spec` for controllers, `metadata` becomes `spec.template.metadata`).
//! - Checks are the Kubernetes definitions up to v1.35 (seccomp from 1.19, restricted
//!   capabilities from 1.22, runAsUser from 1.23, Windows exemptions from 1.25, sysctls
//!   widened in 1.27/1.29/1.32, `container_engine_t` in 1.31, probe/lifecycle hosts from 1.34,
//!   user-namespace relaxations from 1.35).
//!
//! Evaluating a passing pod allocates nothing.

mod checks;
mod exclude;
mod result;
mod spec;
mod view;

#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_controls;
#[cfg(test)]
mod tests_controls_restricted;
#[cfg(test)]
mod tests_exclude;

pub use spec::{CompileError, Level, Version};

use checks::{CHECKS, CheckFn};
use spec::Exclusion;

/// A compiled `podSecurity` block.
#[derive(Debug)]
pub struct PodSecurity {
    level: Level,
    level_text: String,
    version: Version,
    version_text: String,
    plan: Vec<(usize, CheckFn)>,
    excludes: Vec<Exclusion>,
    rule_name: String,
}

/// The result of checking one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodSecurityOutcome {
    /// The pod meets the level.
    Pass,
    /// The pod violates the level; `message` is Kyverno's full rule message.
    Fail {
        /// `Validation rule '<rule>' failed. It violates PodSecurity "<level>:<version>": ...`.
        message: String,
    },
    /// The resource holds no pod Kyverno knows how to read (Kyverno reports a rule error).
    Error {
        /// `Error while getting new resource: could not find correct resource type`.
        message: String,
    },
}

/// Compiles a `podSecurity` block; errors name the offending field (`level: ...`,
/// `exclude[1].controlName: ...`).
pub fn compile(block: &serde_json::Value) -> Result<PodSecurity, String> {
    let parsed = spec::parse(block).map_err(|e| e.to_string())?;
    let mut plan = Vec::new();
    if parsed.level != Level::Privileged {
        for (index, check) in CHECKS.iter().enumerate() {
            if parsed.level == Level::Baseline && check.restricted {
                continue;
            }
            match parsed.version {
                Version::Latest => {
                    if let Some((_, run)) = check.versions.last() {
                        plan.push((index, *run));
                    }
                }
                Version::Pinned(minor) => {
                    plan.extend(check.versions.iter().filter(|(min, _)| *min <= minor).map(|(_, run)| (index, *run)));
                }
            }
        }
    }
    Ok(PodSecurity {
        level: parsed.level,
        level_text: parsed.level_text,
        version: parsed.version,
        version_text: parsed.version_text,
        plan,
        excludes: parsed.excludes,
        rule_name: String::new(),
    })
}

impl PodSecurity {
    /// Sets the rule name used in failure messages (empty until set).
    pub fn with_rule_name(mut self, name: impl Into<String>) -> Self {
        self.rule_name = name.into();
        self
    }

    /// The rule name used in failure messages.
    pub fn rule_name(&self) -> &str {
        &self.rule_name
    }

    /// The level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Checks `resource` (a Pod, a pod controller or a CronJob).
    pub fn check(&self, resource: &serde_json::Value) -> PodSecurityOutcome {
        let Some((pod, holder)) = view::extract(resource) else {
            return PodSecurityOutcome::Error {
                message: "Error while getting new resource: could not find correct resource type".into(),
            };
        };
        let mut failures = exclude::evaluate(&self.plan, &pod);
        if failures.is_empty() {
            return PodSecurityOutcome::Pass;
        }
        if !self.excludes.is_empty() {
            failures = exclude::apply(&self.plan, &self.excludes, &pod, failures);
            if failures.is_empty() {
                return PodSecurityOutcome::Pass;
            }
        }
        PodSecurityOutcome::Fail {
            message: format!(
                "Validation rule '{}' failed. It violates PodSecurity \"{}:{}\": {}",
                self.rule_name,
                self.level_text,
                self.version_text,
                result::format_checks(&failures, holder)
            ),
        }
    }
}
