//! Every row of the decision table, in Enforce and in Audit mode, with exact messages.

use super::*;
use crate::{RULE_COMPATIBILITY, RULE_EXISTS, RULE_MUTATE, RULE_RUNTIME};
use RuleStatus::{Fail, Pass, Skip};
use palisade_engine::FailureAction;

const RESERVED_FALLBACK: &str = "validationFailureAction: Enforce\nreservedRuntimes: [runc]\nfallbackRuntime: kata";
const RESERVED_ONLY: &str = "validationFailureAction: Enforce\nreservedRuntimes: [runc]";
const PTR: &str = "/spec/runtimeClassName";

#[test]
fn unset_default_reserved_with_fallback_is_moved() {
    let eval = create(&policy_set(RESERVED_FALLBACK), pod(json!({})));
    expect(&eval, RULE_MUTATE, Pass, "the default runtime is reserved: set spec.runtimeClassName to \"kata\"");
    expect(&eval, RULE_RUNTIME, Pass, "runtime \"kata\" is allowed");
    expect(&eval, RULE_EXISTS, Pass, "RuntimeClass \"kata\" exists");
    expect(
        &eval,
        RULE_COMPATIBILITY,
        Pass,
        "runtime \"kata\" is a sandbox runtime and the workload uses no host feature it cannot honour",
    );
    assert_eq!(patched_runtime(&eval, PTR).as_deref(), Some("kata"));
    assert!(!denied(&eval));
}

#[test]
fn unset_default_reserved_without_fallback_is_denied() {
    let eval = create(&policy_set(RESERVED_ONLY), pod(json!({})));
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "the default runtime is reserved: no fallbackRuntime is configured; set spec.runtimeClassName to an allowed runtime",
    );
    expect(&eval, RULE_EXISTS, Skip, "runtimeClassName is unset: no RuntimeClass to check");
    expect(&eval, RULE_COMPATIBILITY, Skip, "the default runtime is not a sandbox runtime");
    assert!(eval.mutation_results.is_empty(), "no mutation without a fallback");
    assert!(eval.patched.is_none());
    assert!(denied(&eval));
}

#[test]
fn unset_default_not_reserved_is_allowed_unchanged_with_or_without_fallback() {
    for spec in [
        "validationFailureAction: Enforce\ndefaultRuntimeReserved: false\nreservedRuntimes: [runc]\nfallbackRuntime: kata",
        "validationFailureAction: Enforce\ndefaultRuntimeReserved: false\nreservedRuntimes: [runc]",
    ] {
        let eval = create(&policy_set(spec), pod(json!({})));
        expect(&eval, RULE_RUNTIME, Pass, "the default runtime is allowed");
        assert!(eval.patched.is_none(), "{spec}");
        assert!(!denied(&eval), "{spec}");
        if spec.contains("fallback") {
            expect(&eval, RULE_MUTATE, Skip, "no change needed");
        }
    }
}

#[test]
fn reserved_runtime_with_fallback_is_moved() {
    let eval = create(&policy_set(RESERVED_FALLBACK), pod(json!({"runtimeClassName": "runc"})));
    expect(&eval, RULE_MUTATE, Pass, "runtime \"runc\" is reserved: set spec.runtimeClassName to \"kata\"");
    assert_eq!(patched_runtime(&eval, PTR).as_deref(), Some("kata"));
    assert!(!denied(&eval));
}

#[test]
fn reserved_runtime_without_fallback_is_denied() {
    let eval = create(&policy_set(RESERVED_ONLY), pod(json!({"runtimeClassName": "runc"})));
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "runtime \"runc\" is reserved: no fallbackRuntime is configured; set spec.runtimeClassName to an allowed runtime",
    );
    expect(&eval, RULE_EXISTS, Pass, "RuntimeClass \"runc\" exists");
    assert!(denied(&eval));
}

#[test]
fn an_explicit_allowed_runtime_is_respected_whatever_the_fallback() {
    // Kubewarden rewrites gvisor to the fallback and, with defaultRuntimeReserved, rejects it.
    for spec in [RESERVED_FALLBACK, RESERVED_ONLY] {
        let eval = create(&policy_set(spec), pod(json!({"runtimeClassName": "gvisor"})));
        expect(&eval, RULE_RUNTIME, Pass, "runtime \"gvisor\" is allowed");
        expect(&eval, RULE_EXISTS, Pass, "RuntimeClass \"gvisor\" exists");
        assert!(eval.patched.is_none(), "{spec}");
        assert!(!denied(&eval), "{spec}");
    }
}

const TRIGGERS_FALLBACK: &str = "validationFailureAction: Enforce
defaultRuntimeReserved: false
fallbackRuntime: kata
triggers:
  privileged: true
  runAsRoot: true
  untrustedImage:
    trustedRegistries: [registry.example.com]";

fn privileged_pod() -> Value {
    pod(json!({"containers": [{"name": "app", "image": "registry.example.com/app:1",
        "securityContext": {"privileged": true, "runAsNonRoot": true}}]}))
}

#[test]
fn triggered_workload_with_fallback_is_moved_even_from_an_explicit_allowed_runtime() {
    let set = policy_set(TRIGGERS_FALLBACK);
    let message =
        "sandbox required (privileged: container \"app\" is privileged): set spec.runtimeClassName to \"kata\"";
    let eval = create(&set, privileged_pod());
    expect(&eval, RULE_MUTATE, Pass, message);
    expect(&eval, RULE_RUNTIME, Pass, "runtime \"kata\" is an allowed sandbox runtime");
    assert_eq!(patched_runtime(&eval, PTR).as_deref(), Some("kata"));
    let mut on_runc = privileged_pod();
    on_runc["spec"]["runtimeClassName"] = json!("runc");
    let eval = create(&set, on_runc);
    expect(&eval, RULE_MUTATE, Pass, message);
    assert!(!denied(&eval));
}

#[test]
fn triggered_workload_already_on_an_allowed_sandbox_is_left_alone() {
    let mut on_gvisor = privileged_pod();
    on_gvisor["spec"]["runtimeClassName"] = json!("gvisor");
    let eval = create(&policy_set(TRIGGERS_FALLBACK), on_gvisor);
    expect(&eval, RULE_MUTATE, Skip, "no change needed");
    expect(&eval, RULE_RUNTIME, Pass, "runtime \"gvisor\" is an allowed sandbox runtime");
    assert!(eval.patched.is_none());
}

#[test]
fn every_trigger_is_named() {
    let set = policy_set(TRIGGERS_FALLBACK);
    let cases = [
        (
            json!({"securityContext": {"allowPrivilegeEscalation": true, "runAsNonRoot": true}}),
            "privileged: container \"app\" allows privilege escalation",
        ),
        (
            json!({"securityContext": {"capabilities": {"add": ["CAP_SYS_ADMIN"]}, "runAsNonRoot": true}}),
            "privileged: container \"app\" adds capability CAP_SYS_ADMIN",
        ),
        (json!({"securityContext": {"runAsUser": 0}}), "runAsRoot: container \"app\" runs as root (runAsUser 0)"),
        (json!({}), "runAsRoot: container \"app\" may run as root (runAsNonRoot is not true)"),
        (
            json!({"image": "docker.io/evil/miner", "securityContext": {"runAsNonRoot": true}}),
            "untrustedImage: container \"app\" image \"docker.io/evil/miner\" is not from a trusted registry",
        ),
    ];
    for (container, trigger) in cases {
        let mut c = json!({"name": "app", "image": "registry.example.com/app:1"});
        merge(&mut c, container);
        let eval = create(&set, pod(json!({"containers": [c]})));
        expect(
            &eval,
            RULE_MUTATE,
            Pass,
            &format!("sandbox required ({trigger}): set spec.runtimeClassName to \"kata\""),
        );
    }
    // Non-root by UID, by pod-level runAsNonRoot, and a trusted image: nothing fires.
    for spec in [json!({"securityContext": {"runAsUser": 1000}}), json!({"securityContext": {"runAsNonRoot": true}})] {
        let eval = create(&set, pod(spec));
        expect(&eval, RULE_RUNTIME, Pass, "the default runtime is allowed");
    }
}

#[test]
fn init_and_several_triggers_are_grouped_in_one_message() {
    let set = policy_set(&TRIGGERS_FALLBACK.replace("fallbackRuntime: kata\n", ""));
    let eval = create(
        &set,
        pod(json!({"securityContext": {"runAsNonRoot": true},
            "initContainers": [{"name": "setup", "image": "busybox", "securityContext": {"privileged": true}}]})),
    );
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "sandbox required (privileged: init container \"setup\" is privileged; untrustedImage: init container \
         \"setup\" image \"busybox\" is not from a trusted registry): no fallbackRuntime is configured; set \
         spec.runtimeClassName to a sandbox runtime (kata*, gvisor, runsc)",
    );
    assert!(denied(&eval));
}

#[test]
fn triggered_workload_without_fallback_is_denied_with_the_trigger_named() {
    let set = policy_set(&TRIGGERS_FALLBACK.replace("fallbackRuntime: kata\n", ""));
    let eval = create(&set, privileged_pod());
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "sandbox required (privileged: container \"app\" is privileged): no fallbackRuntime is configured; set \
         spec.runtimeClassName to a sandbox runtime (kata*, gvisor, runsc)",
    );
    assert!(denied(&eval));
}

#[test]
fn reserved_and_triggered_reasons_are_both_reported() {
    let set = policy_set(
        &format!("{TRIGGERS_FALLBACK}\nreservedRuntimes: [runc]").replace("defaultRuntimeReserved: false\n", ""),
    );
    let eval = create(&set, privileged_pod());
    expect(
        &eval,
        RULE_MUTATE,
        Pass,
        "the default runtime is reserved; sandbox required (privileged: container \"app\" is privileged): set \
         spec.runtimeClassName to \"kata\"",
    );
}

#[test]
fn audit_mode_reports_what_enforce_would_change_and_changes_nothing() {
    let set = policy_set(&RESERVED_FALLBACK.replace("Enforce", "Audit"));
    assert!(!set.policies()[0].mutates());
    let eval = create(&set, pod(json!({"runtimeClassName": "runc"})));
    assert!(eval.mutation_results.is_empty());
    assert!(eval.patched.is_none());
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "runtime \"runc\" is reserved: Enforce would set spec.runtimeClassName to \"kata\"",
    );
    // The checks look at the runtime Enforce would set.
    expect(&eval, RULE_EXISTS, Pass, "RuntimeClass \"kata\" exists");
    assert!(eval.all_results().all(|r| r.kind == RuleKind::Mutation || r.action == FailureAction::Audit));
    assert!(!denied(&eval), "Audit never blocks");
    // Audit is the default, as in Kyverno.
    let set = policy_set("reservedRuntimes: [runc]\nfallbackRuntime: kata");
    assert!(!set.policies()[0].mutates());
    let eval = create(&set, pod(json!({})));
    expect(
        &eval,
        RULE_RUNTIME,
        Fail,
        "the default runtime is reserved: Enforce would set spec.runtimeClassName to \"kata\"",
    );
}

#[test]
fn audit_denials_are_reported_not_enforced_and_can_warn() {
    let set = policy_set("failureAction: Audit\nemitWarning: true\nreservedRuntimes: [runc]");
    let eval = create(&set, pod(json!({})));
    let r = result(&eval, RULE_RUNTIME);
    assert_eq!((r.status, r.action, r.emit_warning), (Fail, FailureAction::Audit, true));
    assert!(!denied(&eval));
}

#[test]
fn validation_without_mutation_still_denies_in_enforce() {
    // E.g. a validating webhook called without the mutating one: never an unintended allow.
    let set = policy_set(RESERVED_FALLBACK);
    let req = AdmissionRequest::for_object(pod(json!({})), Operation::Create);
    let results = set.policies()[0].validate(&req, &cluster_with(&["kata"]));
    assert_eq!(results[0].status, Fail);
    assert_eq!(
        &*results[0].message,
        "the default runtime is reserved: spec.runtimeClassName must be \"kata\" (the mutation was not applied)"
    );
    assert!(results[0].blocks());
}

#[test]
fn the_patch_is_idempotent() {
    let set = policy_set(RESERVED_FALLBACK);
    let first = create(&set, pod(json!({})));
    let again = create(&set, first.patched.clone().unwrap());
    assert!(again.patched.is_none());
    expect(&again, RULE_MUTATE, Skip, "no change needed");
}
