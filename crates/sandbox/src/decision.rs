//! The decision table: why a workload must move to the fallback (or be denied), if at all.

use crate::settings::Settings;
use crate::triggers::{TriggerHit, TriggerKind};
use crate::workload::{Malformed, PodSpec};

/// One reason a workload may not keep its runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `runtimeClassName` is unset and `defaultRuntimeReserved` is true.
    DefaultReserved,
    /// `runtimeClassName` names a reserved runtime.
    Reserved(String),
    /// A trigger fired and the workload is not on an allowed sandbox runtime.
    Trigger(TriggerHit),
}

/// What the policy concludes about one pod spec.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The requested runtime (`None`: the node's default).
    pub runtime: Option<String>,
    /// Why the runtime may not be kept; empty when it may.
    pub reasons: Vec<Reason>,
    /// Whether any trigger fired (even if the runtime already satisfies it).
    pub triggered: bool,
}

impl Assessment {
    /// Whether the workload must move (to the fallback) or be denied.
    pub fn must_move(&self) -> bool {
        !self.reasons.is_empty()
    }

    /// Whether a trigger is among the reasons (the workload needs a sandbox, not just any runtime).
    pub fn needs_sandbox(&self) -> bool {
        self.reasons.iter().any(|r| matches!(r, Reason::Trigger(_)))
    }
}

/// Applies the decision table to a pod spec.
pub fn assess(settings: &Settings, pod: &PodSpec<'_>) -> Result<Assessment, Malformed> {
    let runtime = pod.runtime()?.map(str::to_string);
    // Read the containers even when no trigger needs them: a malformed spec is an error, never an allow.
    pod.containers()?;
    let hits = settings.triggers.evaluate(pod)?;
    let reserved = match &runtime {
        None => settings.default_reserved.then_some(Reason::DefaultReserved),
        Some(name) => settings.reserved.contains(name).then(|| Reason::Reserved(name.clone())),
    };
    let on_allowed_sandbox = reserved.is_none() && runtime.as_deref().is_some_and(|r| settings.sandbox.contains(r));
    let triggered = !hits.is_empty();
    let mut reasons: Vec<Reason> = reserved.into_iter().collect();
    if !on_allowed_sandbox {
        reasons.extend(hits.into_iter().map(Reason::Trigger));
    }
    Ok(Assessment { runtime, reasons, triggered })
}

/// The reasons as one phrase: `the default runtime is reserved`, `runtime "runc" is reserved`,
/// `sandbox required (privileged: container "app" is privileged; runAsRoot: ...)`, joined by `; `.
pub fn describe(reasons: &[Reason]) -> String {
    let mut parts = Vec::new();
    for reason in reasons {
        match reason {
            Reason::DefaultReserved => parts.push("the default runtime is reserved".to_string()),
            Reason::Reserved(name) => parts.push(format!("runtime {name:?} is reserved")),
            Reason::Trigger(_) => {}
        }
    }
    let mut groups: Vec<(TriggerKind, Vec<&str>)> = Vec::new();
    for reason in reasons {
        if let Reason::Trigger(hit) = reason {
            match groups.iter_mut().find(|(k, _)| *k == hit.trigger) {
                Some((_, details)) => details.push(&hit.detail),
                None => groups.push((hit.trigger, vec![&hit.detail])),
            }
        }
    }
    if !groups.is_empty() {
        let inner: Vec<String> =
            groups.iter().map(|(k, details)| format!("{}: {}", k.as_str(), details.join(", "))).collect();
        parts.push(format!("sandbox required ({})", inner.join("; ")));
    }
    parts.join("; ")
}
