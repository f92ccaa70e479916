//! Which operations a rule needs registered, kind by kind, as Kyverno's webhook controller computes them
//! (`collectResourceDescriptions` in `pkg/controllers/webhook/utils.go`):
//!
//! - every `match` filter (flat `resources`, `any[]`, `all[]`) adds its kinds with its `operations`, or with the
//!   webhook type's defaults when it names none; a kind named by several filters gets the union;
//! - only `exclude.any[]` filters are subtracted, and only those that say nothing but `kinds` and `operations`
//!   (no user info, names, namespaces, annotations, selector or namespaceSelector): their operations (all four
//!   when they name none) are removed from their kinds (every matched kind when they name none). A filter that
//!   also looks at the object or the user can exclude only some requests, so the operation stays registered.
//! - Preconditions and deny conditions are never read: they are evaluated per request, with variables, so
//!   Kyverno registers the default operations (validate: all four) and lets the rule decide; a precondition on
//!   `request.operation` therefore sees DELETE and CONNECT requests on the validating webhook.
//!
//! Palisade's refinements, which only remove operations the rule can never match: kinds are the bare kind
//! names of [`MatchBlock::kinds`] (a kindless filter means any kind, `*`; when an `all` filter names kinds,
//! kindless `all` filters do not widen it), an `all` filter naming operations limits every kind of the block
//! (every `all` filter must hold), and an exclude kind with a group, version or subresource is subtracted only
//! from the very same selector text, never from the bare kind.

use super::{Filter, MatchBlock};
use palisade_engine::Operation;
use std::collections::{BTreeMap, BTreeSet};

/// Per bare kind (`*`: any kind), the operations to register.
pub type KindOperations = BTreeMap<String, BTreeSet<Operation>>;

/// Every admission operation (Kyverno's `allOperations`).
pub const ALL_OPERATIONS: [Operation; 4] =
    [Operation::Create, Operation::Update, Operation::Delete, Operation::Connect];

impl Filter {
    fn kind_names(&self) -> Vec<String> {
        if self.kinds.is_empty() {
            return vec!["*".to_string()];
        }
        self.kinds.iter().map(|k| k.kind_name.clone()).collect()
    }

    /// Says nothing but kinds and operations (Kyverno subtracts only such exclude filters).
    fn only_kinds_and_operations(&self) -> bool {
        self.names.is_empty()
            && self.namespaces.is_empty()
            && self.annotations.is_empty()
            && self.selector.is_none()
            && self.namespace_selector.is_none()
            && self.subjects.is_empty()
            && self.roles.is_empty()
            && self.cluster_roles.is_empty()
    }
}

impl MatchBlock {
    /// The operations a `match` block selects per kind, `defaults` for filters that name none.
    pub fn operations_by_kind(&self, defaults: &[Operation]) -> KindOperations {
        let all_name_kinds = self.all.iter().any(|f| !f.kinds.is_empty());
        let contributing: Vec<&Filter> = if all_name_kinds {
            self.all.iter().filter(|f| !f.kinds.is_empty()).collect()
        } else {
            self.any.iter().chain(&self.all).collect()
        };
        let mut out = KindOperations::new();
        for filter in contributing {
            let ops = if filter.operations.is_empty() { defaults } else { &filter.operations };
            for kind in filter.kind_names() {
                out.entry(kind).or_default().extend(ops.iter().copied());
            }
        }
        let limits: Vec<&Filter> = self.all.iter().filter(|f| !f.operations.is_empty()).collect();
        if !limits.is_empty() {
            let allowed: BTreeSet<Operation> = limits.iter().flat_map(|f| f.operations.iter().copied()).collect();
            for ops in out.values_mut() {
                ops.retain(|op| allowed.contains(op));
            }
        }
        out
    }

    /// Removes what this `exclude` block excludes for every request of a kind and operation from `matched`.
    pub fn subtract_excluded(&self, matched: &mut KindOperations) {
        for filter in self.any.iter().filter(|f| f.only_kinds_and_operations()) {
            let ops: &[Operation] = if filter.operations.is_empty() { &ALL_OPERATIONS } else { &filter.operations };
            let kinds: Vec<String> = if filter.kinds.is_empty() {
                matched.keys().cloned().collect()
            } else {
                // `apps/v1/Deployment` or `Pod/exec` excludes less than the bare kind: leave it registered.
                filter.kinds.iter().filter(|k| k.text == k.kind_name).map(|k| k.kind_name.clone()).collect()
            };
            for kind in kinds {
                if let Some(have) = matched.get_mut(&kind) {
                    have.retain(|op| !ops.contains(op));
                }
            }
        }
        matched.retain(|_, ops| !ops.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn block(v: Value) -> MatchBlock {
        MatchBlock::compile(&serde_json::from_value(v).unwrap()).unwrap()
    }

    const VALIDATE_DEFAULTS: [Operation; 4] = ALL_OPERATIONS;
    const MUTATE_DEFAULTS: [Operation; 2] = [Operation::Create, Operation::Update];

    fn ops(list: &[Operation]) -> BTreeSet<Operation> {
        list.iter().copied().collect()
    }

    fn kinds(pairs: &[(&str, &[Operation])]) -> KindOperations {
        pairs.iter().map(|(k, o)| (k.to_string(), ops(o))).collect()
    }

    /// collectResourceDescriptions: a filter without operations gets the webhook type's defaults.
    #[test]
    fn upstream_defaults_per_filter() {
        let b = block(json!({"any": [{"resources": {"kinds": ["Pod"]}}]}));
        assert_eq!(b.operations_by_kind(&VALIDATE_DEFAULTS), kinds(&[("Pod", &ALL_OPERATIONS)]));
        assert_eq!(b.operations_by_kind(&MUTATE_DEFAULTS), kinds(&[("Pod", &MUTATE_DEFAULTS)]));
    }

    /// collectResourceDescriptions: operations are per kind, not per rule; the same kind in two filters unions.
    #[test]
    fn upstream_operations_are_per_kind_and_union() {
        let b = block(json!({"any": [
            {"resources": {"kinds": ["Pod"], "operations": ["DELETE"]}},
            {"resources": {"kinds": ["Service"]}},
            {"resources": {"kinds": ["Pod"], "operations": ["CREATE"]}},
        ]}));
        assert_eq!(
            b.operations_by_kind(&MUTATE_DEFAULTS),
            kinds(&[("Pod", &[Operation::Create, Operation::Delete]), ("Service", &MUTATE_DEFAULTS)])
        );
        let legacy = block(json!({"resources": {"kinds": ["ConfigMap", "Secret"], "operations": ["CONNECT"]}}));
        assert_eq!(
            legacy.operations_by_kind(&VALIDATE_DEFAULTS),
            kinds(&[("ConfigMap", &[Operation::Connect]), ("Secret", &[Operation::Connect])])
        );
    }

    /// Palisade's refinement: an `all` filter naming operations limits the block's kinds.
    #[test]
    fn all_filters_naming_operations_limit() {
        let b = block(json!({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"operations": ["DELETE"]}}]}));
        assert_eq!(b.operations_by_kind(&VALIDATE_DEFAULTS), kinds(&[("Pod", &[Operation::Delete])]));
        let any_kind = block(json!({"any": [{"resources": {"names": ["x"]}}]}));
        assert_eq!(any_kind.operations_by_kind(&MUTATE_DEFAULTS), kinds(&[("*", &MUTATE_DEFAULTS)]));
    }

    /// collectResourceDescriptions: exclude.any with only kinds/operations removes those operations.
    #[test]
    fn upstream_exclude_any_removes_operations() {
        let mut m = block(json!({"any": [{"resources": {"kinds": ["Pod", "Service"]}}]}))
            .operations_by_kind(&VALIDATE_DEFAULTS);
        block(json!({"any": [{"resources": {"kinds": ["Pod"], "operations": ["DELETE", "CONNECT"]}}]}))
            .subtract_excluded(&mut m);
        assert_eq!(m, kinds(&[("Pod", &[Operation::Create, Operation::Update]), ("Service", &VALIDATE_DEFAULTS)]));
        // No kinds: every matched kind; no operations: every operation (the kind disappears).
        block(json!({"any": [{"resources": {"operations": ["UPDATE"]}}, {"resources": {"kinds": ["Service"]}}]}))
            .subtract_excluded(&mut m);
        assert_eq!(m, kinds(&[("Pod", &[Operation::Create])]));
    }

    /// collectResourceDescriptions: exclude filters with user info or object filters, and exclude.all (and the
    /// flat form), remove nothing.
    #[test]
    fn upstream_exclude_ignores_partial_filters() {
        let matched = block(json!({"any": [{"resources": {"kinds": ["Pod"]}}]})).operations_by_kind(&MUTATE_DEFAULTS);
        for exclude in [
            json!({"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["kube-system"]}}]}),
            json!({"any": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}}}]}),
            json!({"any": [{"resources": {"kinds": ["Pod"], "names": ["x"]}}]}),
            json!({"any": [{"resources": {"kinds": ["Pod"]}, "clusterRoles": ["cluster-admin"]}]}),
            json!({"any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "User", "name": "u"}]}]}),
            json!({"all": [{"resources": {"kinds": ["Pod"]}}]}),
            json!({"resources": {"kinds": ["Pod"]}}),
            json!({"any": [{"resources": {"kinds": ["v1/Pod"], "operations": ["CREATE"]}}]}),
        ] {
            let mut m = matched.clone();
            block(exclude.clone()).subtract_excluded(&mut m);
            assert_eq!(m, matched, "{exclude}");
        }
    }
}
