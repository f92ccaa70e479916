//! Settings validated at load, with errors naming the file, line, policy and field.

use super::*;

#[test]
fn bad_settings_are_rejected_with_the_policy_and_field_named() {
    let prefix = "policy.yaml";
    let cases = [
        (
            "reservedRuntimes: [runc]\nfallbackRuntime: runc",
            "at spec.fallbackRuntime: RuntimeClassPolicy \"sandbox\": \"runc\" is also listed in reservedRuntimes: the fallback must be an allowed runtime",
        ),
        (
            "reservedRuntimes: [runC]",
            "at spec.reservedRuntimes[0]: RuntimeClassPolicy \"sandbox\": \"runC\" is not a valid RuntimeClass name: names are lowercase; did you mean \"runc\"?",
        ),
        (
            "fallbackRuntime: kata_qemu",
            "at spec.fallbackRuntime: RuntimeClassPolicy \"sandbox\": \"kata_qemu\" is not a valid RuntimeClass name: it must be a lowercase DNS-1123 subdomain (a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most 253 characters)",
        ),
        (
            "reservedRuntimes: [runc, runc]",
            "at spec.reservedRuntimes[1]: RuntimeClassPolicy \"sandbox\": \"runc\" is listed twice",
        ),
        (
            "triggers:\n  privilegd: true",
            "at spec.triggers.privilegd: RuntimeClassPolicy \"sandbox\": unknown trigger \"privilegd\" (known: privileged, runAsRoot, untrustedImage)",
        ),
        (
            "triggers:\n  runasroot: true",
            "at spec.triggers.runasroot: RuntimeClassPolicy \"sandbox\": unknown trigger \"runasroot\" (known: privileged, runAsRoot, untrustedImage); did you mean \"runAsRoot\"?",
        ),
        (
            "triggers:\n  privileged: yes please",
            "at spec.triggers.privileged: RuntimeClassPolicy \"sandbox\": expected true or false, got \"yes please\"",
        ),
        (
            "triggers:\n  untrustedImage:\n    trustedRegistries: [\"https://ghcr.io\"]",
            "at spec.triggers.untrustedImage.trustedRegistries[0]: RuntimeClassPolicy \"sandbox\": \"https://ghcr.io\": registries are written without a scheme, e.g. \"ghcr.io\"",
        ),
        (
            "triggers:\n  untrustedImage:\n    registries: [ghcr.io]",
            "at spec.triggers.untrustedImage.registries: RuntimeClassPolicy \"sandbox\": unknown field (the only field is trustedRegistries)",
        ),
        (
            "validationFailureAction: Block",
            "at spec.validationFailureAction: RuntimeClassPolicy \"sandbox\": unknown value \"Block\" (Audit or Enforce)",
        ),
        (
            "validationFailureAction: Audit\nfailureAction: Enforce",
            "at spec.failureAction: RuntimeClassPolicy \"sandbox\": Enforce conflicts with validationFailureAction Audit: set only one",
        ),
        (
            "failurePolicy: Maybe",
            "at spec.failurePolicy: RuntimeClassPolicy \"sandbox\": unknown value \"Maybe\" (Fail or Ignore)",
        ),
        (
            "sandboxRuntimes: [Kata]",
            "at spec.sandboxRuntimes[0]: RuntimeClassPolicy \"sandbox\": \"Kata\" is not a valid RuntimeClass name: names are lowercase; did you mean \"kata\"?",
        ),
        (
            "reservedRuntimes: [runc]\nsandboxRuntimes: [runc]",
            "at spec.sandboxRuntimes[0]: RuntimeClassPolicy \"sandbox\": \"runc\" is also listed in reservedRuntimes",
        ),
        (
            "sandboxRuntimes: []",
            "at spec.sandboxRuntimes: RuntimeClassPolicy \"sandbox\": an empty list with no fallbackRuntime leaves no sandbox runtime: remove the field to use the default (kata*, gvisor, runsc)",
        ),
        (
            "sandboxCompatibility:\n  allow: [hostUsers]",
            "at spec.sandboxCompatibility.allow[0]: RuntimeClassPolicy \"sandbox\": unknown host feature \"hostUsers\" (hostNetwork, hostPID, hostIPC or hostPath)",
        ),
        (
            "match:\n  any:\n  - resources:\n      kinds: [Deployment]",
            "at spec.match.any[0].resources.kinds: RuntimeClassPolicy \"sandbox\": \"Deployment\": a RuntimeClassPolicy is matched against the pod a workload describes; list only Pod or leave kinds out (controllers are covered through their pod templates)",
        ),
        (
            "match: {}",
            "at spec.match: RuntimeClassPolicy \"sandbox\": selects nothing: remove it to select every workload, or add any/all filters",
        ),
        (
            "exclude:\n  any:\n  - subjects:\n    - kind: Robot\n      name: r2",
            "at spec.exclude: RuntimeClassPolicy \"sandbox\": any[0]: unknown subject kind \"Robot\" (User, Group or ServiceAccount)",
        ),
    ];
    for (spec, message) in cases {
        let error = load_error(spec);
        assert!(error.starts_with(prefix), "{error}");
        let (_, rest) = error.split_once(": document 1: ").unwrap();
        assert_eq!(rest, message, "{spec}");
    }
}

#[test]
fn errors_carry_the_line_of_the_field() {
    let error = load_error("reservedRuntimes: [runc]\nfallbackRuntime: runc");
    assert!(error.starts_with("policy.yaml:7: document 1: at spec.fallbackRuntime:"), "{error}");
    let error = load_error("reservedRuntimes: [runC]");
    assert!(error.starts_with("policy.yaml:6: document 1: at spec.reservedRuntimes[0]:"), "{error}");
}

#[test]
fn unknown_fields_are_errors_with_a_line() {
    let error = load_error("reservedRuntimes: [runc]\nfallbackRuntme: kata");
    assert!(error.starts_with("policy.yaml:7: document 1: at spec.fallbackRuntme: RuntimeClassPolicy \"sandbox\": unknown field `fallbackRuntme`"), "{error}");
}

#[test]
fn bad_metadata_and_versions_are_rejected() {
    let docs = parse_documents(
        "p.yaml",
        "apiVersion: palisade.dev/v1\nkind: RuntimeClassPolicy\nmetadata: {name: a}\nspec: {}\n---\n\
         apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata: {name: Bad_Name}\nspec: {}\n---\n\
         apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata: {name: b, namespace: x}\nspec: {}\n",
    )
    .unwrap();
    let errors: Vec<String> = crate::load(&docs).err().unwrap().iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        errors,
        [
            "at apiVersion: RuntimeClassPolicy \"a\": unsupported apiVersion \"palisade.dev/v1\" (use palisade.dev/v1alpha1)",
            "at metadata.name: RuntimeClassPolicy \"Bad_Name\": \"Bad_Name\" is not a valid policy name: it must be a lowercase DNS-1123 subdomain (a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most 253 characters)",
            "at metadata.namespace: RuntimeClassPolicy \"b\": the kind is cluster-scoped: remove metadata.namespace",
        ]
    );
}

#[test]
fn other_documents_are_ignored_and_defaults_apply() {
    let docs = parse_documents(
        "p.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: k}\nspec: {rules: []}\n---\n\
         apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata: {name: minimal}\n",
    )
    .unwrap();
    assert!(!crate::is_sandbox_policy(&docs[0].value));
    assert!(crate::is_sandbox_policy(&docs[1].value));
    let policies = crate::load(&docs).unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].name(), "minimal");
    let policy = crate::load_policy(&docs[1]).unwrap();
    let s = policy.settings();
    assert!(s.default_reserved, "defaultRuntimeReserved defaults to true");
    assert_eq!(s.action, palisade_engine::FailureAction::Audit);
    assert_eq!(s.sandbox.display, ["kata*", "gvisor", "runsc"]);
    assert!(s.sandbox.contains("kata-qemu") && !s.sandbox.contains("runc"));
    assert!(s.compatibility.check && !s.triggers.any());
}

#[test]
fn the_fallback_always_counts_as_a_sandbox() {
    let docs = parse_documents(
        "p.yaml",
        "apiVersion: palisade.dev/v1alpha1\nkind: RuntimeClassPolicy\nmetadata: {name: m}\nspec: {fallbackRuntime: secure-runc, sandboxRuntimes: [gvisor]}\n",
    )
    .unwrap();
    assert_eq!(crate::load_policy(&docs[0]).unwrap().settings().sandbox.display, ["secure-runc", "gvisor"]);
}
