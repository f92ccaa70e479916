//! Kyverno's exclusion semantics (`ApplyPodSecurityExclusion` / `exemptExclusions`).
//!
//! Each exclusion re-runs the checks on a reduced pod: without `images`, the pod with its
//! containers replaced by one empty `fake` container (so only pod-level fields and generic
//! container requirements report); with `images`, a pod holding only the matching containers
//! and no metadata or pod-level fields. Every field error of that run that belongs to the
//! excluded control, matches `restrictedField` (indexes written `[*]`) and whose offending
//! values all match `values`, removes the first equal error of the real run; for
//! container-level exclusions the container names must agree too. A check whose errors are
//! all removed no longer fails.

use super::checks::{CHECKS, CheckFn};
use super::result::{FailureSet, FieldError};
use super::spec::Exclusion;
use super::view::{ContainerKind, PodView, container_name};
use std::collections::BTreeMap;

/// Runs `plan` over `pod`.
pub(super) fn evaluate(plan: &[(usize, CheckFn)], pod: &PodView<'_>) -> FailureSet {
    let mut failures = Vec::new();
    for (check, run) in plan {
        if let Some(violation) = run(pod) {
            failures.push(super::result::Failure { check: *check, violation });
        }
    }
    failures
}

/// Replaces every run of ASCII digits with `*` (Kyverno's `regexIndex.ReplaceAllString`).
fn star_indexes(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut in_digits = false;
    for ch in field.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('*');
            }
            in_digits = true;
        } else {
            out.push(ch);
            in_digits = false;
        }
    }
    out
}

/// Kyverno's `parseField`: the starred field and, when the field lies in a container list,
/// that list and the container's index (the first number in the path).
fn parse_field(field: &str) -> (String, Option<(ContainerKind, usize)>) {
    let starred = star_indexes(field);
    let second_word = field
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .nth(1)
        .and_then(ContainerKind::from_field);
    let first_index =
        field.split(|c: char| !c.is_ascii_digit()).find(|w| !w.is_empty()).and_then(|n| n.parse::<usize>().ok());
    let location = match (second_word, first_index) {
        (Some(kind), Some(index)) => Some((kind, index)),
        _ => None,
    };
    (starred, location)
}

/// A field error as the exclusion compares it: starred field and owning container name.
fn key<'a>(error: &FieldError, container_level: bool, pod: &PodView<'a>) -> (String, Option<&'a str>) {
    if !container_level {
        return (star_indexes(&error.field), None);
    }
    let (field, location) = parse_field(&error.field);
    let name = location.map(|(kind, index)| pod.container(kind, index).map(container_name).unwrap_or(""));
    (field, name)
}

/// Applies `excludes` to the failures of the full run; returns what still fails, in check order.
pub(super) fn apply(
    plan: &[(usize, CheckFn)],
    excludes: &[Exclusion],
    pod: &PodView<'_>,
    failures: FailureSet,
) -> FailureSet {
    // Upstream keys results by check ID (a later duplicate from a pinned version wins).
    let mut remaining: BTreeMap<usize, super::result::Failure> = BTreeMap::new();
    for failure in failures {
        remaining.insert(failure.check, failure);
    }
    for exclusion in excludes {
        let container_level = !exclusion.images.is_empty();
        let reduced = if container_level { pod.matching(&exclusion.images) } else { pod.pod_level() };
        for excluded in evaluate(plan, &reduced) {
            if !exclusion.control.checks.contains(&CHECKS[excluded.check].id) {
                continue;
            }
            for error in &excluded.violation.errors {
                let (field, container) = key(error, container_level, &reduced);
                if !exclusion.restricted_field.is_empty() && field != exclusion.restricted_field {
                    continue;
                }
                let allowed = exclusion.values.is_empty()
                    || error.bad_values().iter().all(|v| exclusion.values.iter().any(|w| w.matches(v)));
                if !allowed {
                    continue;
                }
                let Some(target) = remaining.get_mut(&excluded.check) else { continue };
                let errors = &mut target.violation.errors;
                let found = errors.iter().position(|e| {
                    let (other_field, other_container) = key(e, container_level, pod);
                    match other_container {
                        Some(name) => other_field == field && container.unwrap_or("") == name,
                        None => other_field == field,
                    }
                });
                if let Some(index) = found {
                    errors.swap_remove(index);
                }
                if errors.is_empty() {
                    remaining.remove(&excluded.check);
                }
            }
        }
    }
    remaining.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_every_number() {
        assert_eq!(star_indexes("spec.containers[10].ports[2].hostPort"), "spec.containers[*].ports[*].hostPort");
        assert_eq!(star_indexes("spec.hostIPC"), "spec.hostIPC");
    }

    #[test]
    fn parses_container_fields() {
        assert_eq!(
            parse_field("spec.initContainers[3].securityContext.privileged"),
            ("spec.initContainers[*].securityContext.privileged".to_string(), Some((ContainerKind::Init, 3)))
        );
        assert_eq!(parse_field("spec.securityContext.sysctls[1].name").1, None);
        assert_eq!(parse_field("metadata.annotations[container.apparmor.security.beta.kubernetes.io/c1]").1, None);
    }
}
