//! The `RuntimeClassPolicy` manifest model and its validation into compiled [`Settings`].

use crate::names::{name_problem, pattern_problem};
use crate::triggers::{Triggers, TrustedRegistries};
use crate::workload::HostFeature;
use palisade_engine::wildcard::Wildcard;
use palisade_engine::{FailureAction, FailurePolicy};
use palisade_kyverno::matching::MatchBlock;
use palisade_kyverno::model::{MatchResources, ObjectMeta};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// API version of the kind.
pub const API_VERSION: &str = "palisade.dev/v1alpha1";
/// The kind.
pub const KIND: &str = "RuntimeClassPolicy";

/// Sandbox runtimes assumed when `sandboxRuntimes` is not set (the fallback is always added).
pub const DEFAULT_SANDBOX_RUNTIMES: [&str; 3] = ["kata*", "gvisor", "runsc"];

/// A whole `RuntimeClassPolicy` document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// `palisade.dev/v1alpha1`.
    pub api_version: String,
    /// `RuntimeClassPolicy`.
    pub kind: String,
    /// Object metadata (only `name` is used).
    pub metadata: ObjectMeta,
    /// The settings.
    #[serde(default)]
    pub spec: Spec,
    /// Status written by a controller; ignored.
    #[serde(default)]
    pub status: Option<Value>,
}

/// `spec` of a `RuntimeClassPolicy`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// `Audit` (default) or `Enforce`, as in Kyverno.
    #[serde(default)]
    pub validation_failure_action: Option<String>,
    /// Newer spelling of `validationFailureAction`.
    #[serde(default)]
    pub failure_action: Option<String>,
    /// `Fail` (default) or `Ignore`: what the webhook does when the policy errors.
    #[serde(default)]
    pub failure_policy: Option<String>,
    /// Return Audit failures to the API server as warnings.
    #[serde(default)]
    pub emit_warning: Option<bool>,
    /// RuntimeClass names workloads may not use.
    #[serde(default)]
    pub reserved_runtimes: Vec<String>,
    /// RuntimeClass that reserved or triggered workloads are moved to.
    #[serde(default)]
    pub fallback_runtime: Option<String>,
    /// Whether an unset `runtimeClassName` (the node's default runtime) is reserved; default true.
    #[serde(default)]
    pub default_runtime_reserved: Option<bool>,
    /// RuntimeClass names (wildcards allowed) that count as sandboxes.
    #[serde(default)]
    pub sandbox_runtimes: Option<Vec<String>>,
    /// Conditions that send a workload to a sandbox whatever it asked for.
    #[serde(default)]
    pub triggers: Option<Map<String, Value>>,
    /// Checks of pod features a sandbox cannot honour.
    #[serde(default)]
    pub sandbox_compatibility: Option<CompatibilitySpec>,
    /// Workloads the policy applies to (Kyverno resource-filter syntax); all when absent.
    #[serde(rename = "match", default)]
    pub match_resources: Option<MatchResources>,
    /// Workloads the policy never applies to.
    #[serde(default)]
    pub exclude: Option<MatchResources>,
}

/// `spec.sandboxCompatibility`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompatibilitySpec {
    /// Whether the check runs (default true).
    #[serde(default)]
    pub check: Option<bool>,
    /// Host features tolerated in a sandbox: `hostNetwork`, `hostPID`, `hostIPC`, `hostPath`.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// A settings problem: the dotted field path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SettingsError {
    /// Field path, e.g. `spec.fallbackRuntime`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> SettingsError {
    SettingsError { path: path.into(), message: message.into() }
}

/// RuntimeClass names that count as sandboxes: exact names and wildcard patterns.
#[derive(Debug, Clone)]
pub struct SandboxRuntimes {
    patterns: Vec<Wildcard>,
    /// The entries as written (fallback included), for messages.
    pub display: Vec<String>,
}

impl SandboxRuntimes {
    /// Whether `name` is a sandbox runtime.
    pub fn contains(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(name))
    }
}

/// Compiled sandbox-compatibility check.
#[derive(Debug, Clone)]
pub struct Compatibility {
    /// Whether the check runs.
    pub check: bool,
    /// Host features tolerated in a sandbox.
    pub allow: BTreeSet<HostFeature>,
}

/// Compiled, validated settings of one policy.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What a failed validation does.
    pub action: FailureAction,
    /// What the webhook does when the policy errors.
    pub failure_policy: FailurePolicy,
    /// Whether Audit failures are returned as warnings.
    pub emit_warning: bool,
    /// Reserved RuntimeClass names.
    pub reserved: BTreeSet<String>,
    /// The fallback RuntimeClass.
    pub fallback: Option<String>,
    /// Whether an unset runtime is reserved.
    pub default_reserved: bool,
    /// Sandbox runtimes (the fallback included).
    pub sandbox: SandboxRuntimes,
    /// Triggers.
    pub triggers: Triggers,
    /// Sandbox compatibility check.
    pub compatibility: Compatibility,
    /// Compiled `match` (none: every workload).
    pub match_block: Option<MatchBlock>,
    /// Compiled `exclude`.
    pub exclude_block: Option<MatchBlock>,
}

impl Settings {
    /// Validates and compiles `spec`; every error names the field.
    pub fn compile(spec: &Spec) -> Result<Self, SettingsError> {
        let action = failure_action(spec)?;
        let failure_policy = match spec.failure_policy.as_deref() {
            None | Some("Fail") => FailurePolicy::Fail,
            Some("Ignore") => FailurePolicy::Ignore,
            Some(other) => return Err(err("spec.failurePolicy", format!("unknown value {other:?} (Fail or Ignore)"))),
        };
        let mut reserved = BTreeSet::new();
        for (i, name) in spec.reserved_runtimes.iter().enumerate() {
            let path = format!("spec.reservedRuntimes[{i}]");
            if let Some(problem) = name_problem(name) {
                return Err(err(path, problem));
            }
            if !reserved.insert(name.clone()) {
                return Err(err(path, format!("{name:?} is listed twice")));
            }
        }
        if let Some(fallback) = &spec.fallback_runtime {
            if let Some(problem) = name_problem(fallback) {
                return Err(err("spec.fallbackRuntime", problem));
            }
            if reserved.contains(fallback) {
                return Err(err(
                    "spec.fallbackRuntime",
                    format!("{fallback:?} is also listed in reservedRuntimes: the fallback must be an allowed runtime"),
                ));
            }
        }
        let sandbox = sandbox_runtimes(spec, &reserved)?;
        let triggers = compile_triggers(spec.triggers.as_ref())?;
        let compatibility = compile_compatibility(spec.sandbox_compatibility.as_ref())?;
        let match_block = compile_block(spec.match_resources.as_ref(), "spec.match")?;
        let exclude_block = compile_block(spec.exclude.as_ref(), "spec.exclude")?;
        Ok(Settings {
            action,
            failure_policy,
            emit_warning: spec.emit_warning.unwrap_or(false),
            reserved,
            fallback: spec.fallback_runtime.clone(),
            default_reserved: spec.default_runtime_reserved.unwrap_or(true),
            sandbox,
            triggers,
            compatibility,
            match_block,
            exclude_block,
        })
    }
}

fn failure_action(spec: &Spec) -> Result<FailureAction, SettingsError> {
    let parse = |path: &str, text: &str| {
        FailureAction::parse(text).ok_or_else(|| err(path, format!("unknown value {text:?} (Audit or Enforce)")))
    };
    let old =
        spec.validation_failure_action.as_deref().map(|t| parse("spec.validationFailureAction", t)).transpose()?;
    let new = spec.failure_action.as_deref().map(|t| parse("spec.failureAction", t)).transpose()?;
    match (old, new) {
        (Some(a), Some(b)) if a != b => Err(err(
            "spec.failureAction",
            format!("{} conflicts with validationFailureAction {}: set only one", b.as_str(), a.as_str()),
        )),
        (a, b) => Ok(b.or(a).unwrap_or(FailureAction::Audit)),
    }
}

fn sandbox_runtimes(spec: &Spec, reserved: &BTreeSet<String>) -> Result<SandboxRuntimes, SettingsError> {
    let mut display: Vec<String> = match &spec.sandbox_runtimes {
        None => DEFAULT_SANDBOX_RUNTIMES.iter().map(|s| s.to_string()).collect(),
        Some(list) => {
            if list.is_empty() && spec.fallback_runtime.is_none() {
                return Err(err(
                    "spec.sandboxRuntimes",
                    "an empty list with no fallbackRuntime leaves no sandbox runtime: remove the field to use the \
                     default (kata*, gvisor, runsc)",
                ));
            }
            for (i, entry) in list.iter().enumerate() {
                let path = format!("spec.sandboxRuntimes[{i}]");
                if let Some(problem) = pattern_problem(entry) {
                    return Err(err(path, problem));
                }
                if reserved.contains(entry) {
                    return Err(err(path, format!("{entry:?} is also listed in reservedRuntimes")));
                }
            }
            list.clone()
        }
    };
    if let Some(fallback) = &spec.fallback_runtime
        && !display.iter().any(|d| Wildcard::new(d).matches(fallback))
    {
        display.insert(0, fallback.clone());
    }
    Ok(SandboxRuntimes { patterns: display.iter().map(|d| Wildcard::new(d)).collect(), display })
}

/// Names of the known triggers, for messages.
pub const TRIGGER_NAMES: [&str; 3] = ["privileged", "runAsRoot", "untrustedImage"];

fn compile_triggers(raw: Option<&Map<String, Value>>) -> Result<Triggers, SettingsError> {
    let mut triggers = Triggers::default();
    let Some(raw) = raw else { return Ok(triggers) };
    for (key, value) in raw {
        let path = format!("spec.triggers.{key}");
        match key.as_str() {
            "privileged" | "runAsRoot" => {
                let on = value.as_bool().ok_or_else(|| err(&path, format!("expected true or false, got {value}")))?;
                if key == "privileged" {
                    triggers.privileged = on;
                } else {
                    triggers.run_as_root = on;
                }
            }
            "untrustedImage" => triggers.untrusted_image = compile_untrusted_image(value, &path)?,
            other => {
                let hint = TRIGGER_NAMES
                    .iter()
                    .find(|t| t.eq_ignore_ascii_case(other))
                    .map(|t| format!("; did you mean {t:?}?"))
                    .unwrap_or_default();
                return Err(err(
                    path,
                    format!("unknown trigger {other:?} (known: {}){hint}", TRIGGER_NAMES.join(", ")),
                ));
            }
        }
    }
    Ok(triggers)
}

fn compile_untrusted_image(value: &Value, path: &str) -> Result<Option<TrustedRegistries>, SettingsError> {
    let map = match value {
        Value::Null | Value::Bool(false) => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(err(path, format!("expected an object with trustedRegistries, got {other}")));
        }
    };
    if let Some(key) = map.keys().find(|k| *k != "trustedRegistries") {
        return Err(err(format!("{path}.{key}"), "unknown field (the only field is trustedRegistries)"));
    }
    let list_path = format!("{path}.trustedRegistries");
    let entries = match map.get("trustedRegistries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| err(format!("{list_path}[{i}]"), "expected a string"))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(err(list_path, format!("expected a list of registries, got {other}"))),
    };
    TrustedRegistries::compile(&entries).map(Some).map_err(|(i, message)| err(format!("{list_path}[{i}]"), message))
}

fn compile_compatibility(raw: Option<&CompatibilitySpec>) -> Result<Compatibility, SettingsError> {
    let mut out = Compatibility { check: true, allow: BTreeSet::new() };
    let Some(raw) = raw else { return Ok(out) };
    out.check = raw.check.unwrap_or(true);
    for (i, name) in raw.allow.iter().enumerate() {
        let feature = HostFeature::parse(name).ok_or_else(|| {
            err(
                format!("spec.sandboxCompatibility.allow[{i}]"),
                format!("unknown host feature {name:?} (hostNetwork, hostPID, hostIPC or hostPath)"),
            )
        })?;
        out.allow.insert(feature);
    }
    Ok(out)
}

fn compile_block(block: Option<&MatchResources>, path: &str) -> Result<Option<MatchBlock>, SettingsError> {
    let Some(block) = block else { return Ok(None) };
    let filters = block
        .any
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("{path}.any[{i}].resources.kinds"), f.resources.as_ref()))
        .chain(
            block
                .all
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("{path}.all[{i}].resources.kinds"), f.resources.as_ref())),
        )
        .chain(std::iter::once((format!("{path}.resources.kinds"), block.resources.as_ref())));
    for (kinds_path, resources) in filters {
        for kind in resources.map(|r| r.kinds.as_slice()).unwrap_or_default() {
            if !matches!(kind.as_str(), "Pod" | "v1/Pod" | "*") {
                return Err(err(
                    kinds_path,
                    format!(
                        "{kind:?}: a RuntimeClassPolicy is matched against the pod a workload describes; list only \
                         Pod or leave kinds out (controllers are covered through their pod templates)"
                    ),
                ));
            }
        }
    }
    let compiled = MatchBlock::compile(block).map_err(|e| err(path, e))?;
    if compiled.is_empty() {
        return Err(err(path, "selects nothing: remove it to select every workload, or add any/all filters"));
    }
    Ok(Some(compiled))
}
