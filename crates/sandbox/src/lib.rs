//! `RuntimeClassPolicy` (`palisade.dev/v1alpha1`): a native policy kind that steers untrusted or
//! privileged workloads onto sandboxed runtimes (Kata Containers, gVisor) through Kubernetes
//! RuntimeClasses, with the semantics of Kubewarden's runtime-class settings done right:
//! explicit allowed choices are respected, Pods are never patched on UPDATE, the target
//! RuntimeClass must exist, and workloads a sandbox cannot run are denied, not steered.
//!
//! See `docs/sandboxing.md` for the settings, the decision table and every message.

#![warn(missing_docs)]

pub mod decision;
pub mod load;
pub mod messages;
pub mod names;
pub mod policy;
pub mod settings;
pub mod triggers;
pub mod workload;

#[cfg(test)]
mod tests;

pub use load::{is_sandbox_policy, load, load_policy};
pub use policy::RuntimeClassPolicy;
pub use settings::{API_VERSION, KIND, Settings, SettingsError};

/// Mutation rule: sets `runtimeClassName` to the fallback (Enforce mode only).
pub const RULE_MUTATE: &str = "mutate-runtime-class";
/// Validation rule: the decision table (reserved, default, triggers).
pub const RULE_RUNTIME: &str = "runtime-class";
/// Validation rule: the RuntimeClass the workload will use exists.
pub const RULE_EXISTS: &str = "runtime-class-exists";
/// Validation rule: a sandboxed workload uses no host feature the sandbox cannot honour.
pub const RULE_COMPATIBILITY: &str = "sandbox-compatibility";
