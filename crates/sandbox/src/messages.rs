//! Every message a `RuntimeClassPolicy` result carries; `docs/sandboxing.md` lists them.

/// Mutation applied: `<reasons>: set <field> to "<fallback>"`.
pub fn moved(reasons: &str, field: &str, fallback: &str) -> String {
    format!("{reasons}: set {field} to {fallback:?}")
}

/// Audit finding for a workload Enforce would move: `<reasons>: Enforce would set <field> to "<fallback>"`.
pub fn would_move(reasons: &str, field: &str, fallback: &str) -> String {
    format!("{reasons}: Enforce would set {field} to {fallback:?}")
}

/// Enforce validation of a workload the mutation did not move (e.g. validated without mutation).
pub fn not_moved(reasons: &str, field: &str, fallback: &str) -> String {
    format!("{reasons}: {field} must be {fallback:?} (the mutation was not applied)")
}

/// Denial without a fallback: suggests an allowed runtime, or a sandbox runtime when a trigger fired.
pub fn denied(reasons: &str, field: &str, sandboxes: Option<&str>) -> String {
    match sandboxes {
        Some(list) => format!("{reasons}: no fallbackRuntime is configured; set {field} to a sandbox runtime ({list})"),
        None => format!("{reasons}: no fallbackRuntime is configured; set {field} to an allowed runtime"),
    }
}

/// Pass: unset runtime, not reserved.
pub fn default_allowed() -> String {
    "the default runtime is allowed".to_string()
}

/// Pass: an explicit, non-reserved runtime.
pub fn allowed(name: &str) -> String {
    format!("runtime {name:?} is allowed")
}

/// Pass: a triggered workload already on an allowed sandbox runtime.
pub fn allowed_sandbox(name: &str) -> String {
    format!("runtime {name:?} is an allowed sandbox runtime")
}

/// UPDATE of a Pod or Job that introduces a reason to move it: it cannot be moved in place.
pub fn update_denied(reasons: &str, field: &str, kind: &str, target: Option<&str>) -> String {
    match target {
        Some(fallback) => format!(
            "{reasons}: {field} of an existing {kind} cannot be changed; delete the {kind} and create it again to \
             move it to {fallback:?}"
        ),
        None => format!(
            "{reasons}: {field} of an existing {kind} cannot be changed; delete the {kind} and create it again with \
             an allowed runtime"
        ),
    }
}

/// UPDATE of a Pod or Job whose reasons all predate the update: let through with a warning.
pub fn update_kept(reasons: &str, field: &str, kind: &str) -> String {
    format!("{reasons}: existing {kind} left unchanged because {field} cannot be changed on update")
}

/// Mutation skipped: nothing to change.
pub fn nothing_to_change() -> String {
    "no change needed".to_string()
}

/// Mutation skipped on UPDATE of a Pod or Job: the field is immutable.
pub fn immutable(field: &str, kind: &str) -> String {
    format!("{field} of an existing {kind} cannot be changed: validated instead")
}

/// Controller managed by another controller: neither mutated nor validated.
pub fn owned(kind: &str, owner_kind: &str, owner_name: &str) -> String {
    format!("{kind} is managed by {owner_kind} {owner_name:?}: checked at its owner and at its Pods")
}

/// `runtime-class-exists` skip: nothing to look up.
pub fn no_runtime_to_check() -> String {
    "runtimeClassName is unset: no RuntimeClass to check".to_string()
}

/// `runtime-class-exists` skip on UPDATE of an existing Pod or Job.
pub fn existing_not_rechecked(kind: &str) -> String {
    format!("existing {kind}: RuntimeClass not checked again on update")
}

/// `runtime-class-exists` pass.
pub fn class_exists(name: &str) -> String {
    format!("RuntimeClass {name:?} exists")
}

/// `runtime-class-exists` warn: no cluster data was given.
pub fn class_unchecked(name: &str) -> String {
    format!("no cluster data: existence of RuntimeClass {name:?} not checked")
}

/// `runtime-class-exists` fail: the class is missing.
pub fn class_missing(name: &str) -> String {
    format!(
        "RuntimeClass {name:?} does not exist: create it first (apiVersion: node.k8s.io/v1, kind: RuntimeClass, \
         metadata.name: {name}, handler: the runtime handler configured on your nodes)"
    )
}

/// `runtime-class-exists` fail: the pod's nodeSelector contradicts the class's scheduling.
pub fn selector_conflict(name: &str, key: &str, want: &str, field: &str, have: &str) -> String {
    format!(
        "RuntimeClass {name:?} schedules onto nodes with {key}={want:?}, but {field} sets {key}={have:?}: the API \
         server would reject the pod; remove the key from {field}"
    )
}

/// `sandbox-compatibility` skip: the runtime is not a sandbox.
pub fn not_a_sandbox(runtime: Option<&str>) -> String {
    match runtime {
        Some(name) => format!("runtime {name:?} is not a sandbox runtime"),
        None => "the default runtime is not a sandbox runtime".to_string(),
    }
}

/// `sandbox-compatibility` skip on UPDATE of an existing Pod or Job.
pub fn existing_compatibility(kind: &str) -> String {
    format!("existing {kind}: sandbox compatibility not checked again on update")
}

/// `sandbox-compatibility` pass.
pub fn compatible(name: &str) -> String {
    format!("runtime {name:?} is a sandbox runtime and the workload uses no host feature it cannot honour")
}

/// `sandbox-compatibility` fail.
pub fn incompatible(name: &str, uses: &str, policy: &str) -> String {
    format!(
        "runtime {name:?} is a sandbox runtime and cannot honour {uses}: remove them, or exclude this workload from \
         RuntimeClassPolicy {policy:?}"
    )
}
