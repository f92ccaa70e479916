//! Compiled `match`/`exclude` blocks: which requests a rule applies to.

use crate::model::{MatchResources, ResourceDescription, ResourceFilter, Subject};
use palisade_engine::field::field;
use palisade_engine::selector::{LabelSelector, string_map};
use palisade_engine::wildcard::Wildcard;
use palisade_engine::{AdmissionRequest, EvaluationContext, Operation};
use serde_json::Value;

mod webhook_ops;
pub use webhook_ops::{ALL_OPERATIONS, KindOperations};

/// A parsed kind selector: `Kind`, `Kind/subresource`, `version/Kind`, `group/version/Kind[/sub]`.
#[derive(Debug, Clone)]
pub struct KindSelector {
    group: Option<Wildcard>,
    version: Option<Wildcard>,
    kind: Wildcard,
    /// The bare kind text, for indexing.
    pub kind_name: String,
    /// The selector as written (`Pod`, `apps/v1/Deployment`, `Pod/exec`).
    pub text: String,
    subresource: Option<Wildcard>,
}

impl KindSelector {
    /// Parses Kyverno's kind selector syntax.
    pub fn parse(text: &str) -> Self {
        let parts: Vec<&str> = text.split('/').collect();
        let starts_upper = |s: &str| s.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        let (group, version, kind, sub) = match parts.as_slice() {
            [kind] => (None, None, *kind, None),
            [a, b] if starts_upper(a) => (None, None, *a, Some(*b)),
            [version, kind] => (None, Some(*version), *kind, None),
            [group, version, kind] => (Some(*group), Some(*version), *kind, None),
            [group, version, kind, sub, ..] => (Some(*group), Some(*version), *kind, Some(*sub)),
            [] => (None, None, "", None),
        };
        // `Pod.status` is an older spelling of a subresource.
        let (kind, sub) = match (kind.split_once('.'), sub) {
            (Some((k, s)), None) if starts_upper(k) => (k, Some(s)),
            _ => (kind, sub),
        };
        Self {
            // Interned: every policy names the same few kinds, groups and versions.
            group: group.map(Wildcard::interned),
            version: version.map(Wildcard::interned),
            kind: Wildcard::interned(kind),
            kind_name: kind.to_string(),
            text: text.to_string(),
            subresource: sub.map(Wildcard::new),
        }
    }

    fn matches(&self, request: &AdmissionRequest) -> bool {
        let gvk = &request.kind;
        if !self.kind.matches(&gvk.kind) {
            return false;
        }
        if self.group.as_ref().is_some_and(|g| !g.matches(&gvk.group)) {
            return false;
        }
        if self.version.as_ref().is_some_and(|v| !v.matches(&gvk.version)) {
            return false;
        }
        match &self.subresource {
            None => request.sub_resource.is_empty() || self.kind_name == "*",
            Some(sub) => sub.matches(&request.sub_resource),
        }
    }
}

#[derive(Debug, Clone)]
enum CompiledSubject {
    User(Wildcard),
    Group(Wildcard),
    ServiceAccount { namespace: String, name: Wildcard },
}

impl CompiledSubject {
    fn compile(subject: &Subject) -> Result<Self, String> {
        Ok(match subject.kind.as_str() {
            "User" => CompiledSubject::User(Wildcard::new(&subject.name)),
            "Group" => CompiledSubject::Group(Wildcard::new(&subject.name)),
            "ServiceAccount" => CompiledSubject::ServiceAccount {
                namespace: subject.namespace.clone().unwrap_or_default(),
                name: Wildcard::new(&subject.name),
            },
            other => return Err(format!("unknown subject kind {other:?} (User, Group or ServiceAccount)")),
        })
    }

    fn matches(&self, request: &AdmissionRequest) -> bool {
        let user = &request.user_info;
        match self {
            CompiledSubject::User(name) => name.matches(&user.username),
            CompiledSubject::Group(name) => user.groups.iter().any(|g| name.matches(g)),
            CompiledSubject::ServiceAccount { namespace, name } => user
                .username
                .strip_prefix("system:serviceaccount:")
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(ns, sa)| ns == namespace && name.matches(sa)),
        }
    }
}

/// One compiled resource filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    kinds: Vec<KindSelector>,
    names: Vec<Wildcard>,
    namespaces: Vec<Wildcard>,
    annotations: Vec<(Wildcard, Wildcard)>,
    selector: Option<LabelSelector>,
    namespace_selector: Option<LabelSelector>,
    operations: Vec<Operation>,
    subjects: Vec<CompiledSubject>,
    roles: Vec<Wildcard>,
    cluster_roles: Vec<Wildcard>,
}

impl Filter {
    fn compile(
        resources: Option<&ResourceDescription>,
        subjects: &[Subject],
        roles: &[String],
        cluster_roles: &[String],
    ) -> Result<Self, String> {
        let mut filter = Filter::default();
        if let Some(res) = resources {
            filter.kinds = res.kinds.iter().map(|k| KindSelector::parse(k)).collect();
            filter.names = res.names.iter().chain(res.name.as_ref()).map(|n| Wildcard::new(n)).collect();
            filter.namespaces = res.namespaces.iter().map(|n| Wildcard::new(n)).collect();
            filter.annotations = res.annotations.iter().map(|(k, v)| (Wildcard::new(k), Wildcard::new(v))).collect();
            for (name, sel) in [("selector", &res.selector), ("namespaceSelector", &res.namespace_selector)] {
                if let Some(sel) = sel {
                    sel.validate().map_err(|e| format!("{name}: {e}"))?;
                }
            }
            filter.selector = res.selector.clone();
            filter.namespace_selector = res.namespace_selector.clone();
            filter.operations = res
                .operations
                .iter()
                .map(|op| Operation::parse(op).ok_or_else(|| format!("unknown operation {op:?}")))
                .collect::<Result<_, _>>()?;
        }
        filter.subjects = subjects.iter().map(CompiledSubject::compile).collect::<Result<_, _>>()?;
        filter.roles = roles.iter().map(|r| Wildcard::new(r)).collect();
        filter.cluster_roles = cluster_roles.iter().map(|r| Wildcard::new(r)).collect();
        Ok(filter)
    }

    fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.sets_nothing_but_kinds()
    }

    /// Whether nothing but `kinds` is set.
    fn sets_nothing_but_kinds(&self) -> bool {
        self.names.is_empty()
            && self.namespaces.is_empty()
            && self.annotations.is_empty()
            && self.selector.is_none()
            && self.namespace_selector.is_none()
            && self.operations.is_empty()
            && self.subjects.is_empty()
            && self.roles.is_empty()
            && self.cluster_roles.is_empty()
    }

    /// Whether the filter names plain kinds (no group, version, subresource or wildcard) and nothing else: it
    /// selects a request exactly when the request's kind is one of them and it has no subresource.
    fn kinds_only(&self) -> bool {
        let plain = |k: &KindSelector| {
            k.group.is_none()
                && k.version.is_none()
                && k.subresource.is_none()
                && matches!(&k.kind, Wildcard::Exact(name) if !name.is_empty())
        };
        !self.kinds.is_empty() && self.kinds.iter().all(plain) && self.sets_nothing_but_kinds()
    }

    fn matches(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> bool {
        if self.is_empty() {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.matches(request)) {
            return false;
        }
        // Read only by the filters that look at the object.
        let metadata = || field(request.subject(), "metadata");
        if !self.names.is_empty() {
            let name = metadata()
                .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
                .and_then(Value::as_str)
                .unwrap_or(&request.name);
            if !self.names.iter().any(|n| n.matches(name)) {
                return false;
            }
        }
        if !self.namespaces.is_empty() {
            let namespace = if request.kind.kind == "Namespace" {
                metadata().and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or(&request.name)
            } else {
                metadata().and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or(&request.namespace)
            };
            if !self.namespaces.iter().any(|n| n.matches(namespace)) {
                return false;
            }
        }
        if !self.annotations.is_empty() {
            let annotations = string_map(metadata().and_then(|m| m.get("annotations")));
            let all =
                self.annotations.iter().all(|(k, v)| annotations.iter().any(|(ak, av)| k.matches(ak) && v.matches(av)));
            if !all {
                return false;
            }
        }
        if let Some(sel) = &self.selector
            && !sel.matches(&string_map(metadata().and_then(|m| m.get("labels"))))
        {
            return false;
        }
        if let Some(sel) = &self.namespace_selector {
            match &ctx.namespace_labels {
                Some(labels) if sel.matches(labels) => {}
                _ => return false,
            }
        }
        if !self.operations.is_empty() && !self.operations.contains(&request.operation) {
            return false;
        }
        if !self.subjects.is_empty() && !self.subjects.iter().any(|s| s.matches(request)) {
            return false;
        }
        if !self.roles.is_empty() && !self.roles.iter().any(|r| ctx.roles.iter().any(|have| r.matches(have))) {
            return false;
        }
        if !self.cluster_roles.is_empty()
            && !self.cluster_roles.iter().any(|r| ctx.cluster_roles.iter().any(|have| r.matches(have)))
        {
            return false;
        }
        true
    }
}

/// A compiled `match` or `exclude` block.
#[derive(Debug, Clone, Default)]
pub struct MatchBlock {
    any: Vec<Filter>,
    all: Vec<Filter>,
}

impl MatchBlock {
    /// Compiles a block; `any`/`all` and the legacy flat form are mutually exclusive.
    pub fn compile(block: &MatchResources) -> Result<Self, String> {
        let legacy = block.resources.is_some()
            || !block.subjects.is_empty()
            || !block.roles.is_empty()
            || !block.cluster_roles.is_empty();
        if legacy && (!block.any.is_empty() || !block.all.is_empty()) {
            return Err("use either any/all or the flat form (resources, subjects, roles), not both".into());
        }
        let compile_list = |list: &[ResourceFilter], name: &str| -> Result<Vec<Filter>, String> {
            list.iter()
                .enumerate()
                .map(|(i, f)| {
                    Filter::compile(f.resources.as_ref(), &f.subjects, &f.roles, &f.cluster_roles)
                        .map_err(|e| format!("{name}[{i}]: {e}"))
                })
                .collect()
        };
        let mut out = MatchBlock { any: compile_list(&block.any, "any")?, all: compile_list(&block.all, "all")? };
        if legacy {
            out.all.push(Filter::compile(
                block.resources.as_ref(),
                &block.subjects,
                &block.roles,
                &block.cluster_roles,
            )?);
        }
        Ok(out)
    }

    /// Whether the block is empty (matches nothing).
    pub fn is_empty(&self) -> bool {
        self.any.is_empty() && self.all.is_empty()
    }

    /// Whether the block selects a request exactly when its kind is one of [`MatchBlock::kinds`] and it has no
    /// subresource (`any` filters, or one `all` filter, that name plain kinds and nothing else).
    pub fn by_kind_only(&self) -> bool {
        match (self.any.as_slice(), self.all.as_slice()) {
            (any, []) => !any.is_empty() && any.iter().all(Filter::kinds_only),
            ([], [only]) => only.kinds_only(),
            _ => false,
        }
    }

    /// Whether the request is selected: any of `any` (when present) and all of `all`.
    pub fn matches(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> bool {
        if self.is_empty() {
            return false;
        }
        (self.any.is_empty() || self.any.iter().any(|f| f.matches(request, ctx)))
            && self.all.iter().all(|f| f.matches(request, ctx))
    }

    /// The operations the block can select (`None`: any). A superset is returned where the
    /// block's logic is finer than a set (several `all` filters naming different operations).
    pub fn operations(&self) -> Option<std::collections::BTreeSet<Operation>> {
        let named = |filters: &[Filter]| -> Option<std::collections::BTreeSet<Operation>> {
            if filters.is_empty() || filters.iter().any(|f| f.operations.is_empty()) {
                return None;
            }
            Some(filters.iter().flat_map(|f| f.operations.iter().copied()).collect())
        };
        // `any` needs one filter to hold, so any filter without operations opens every operation.
        let any = named(&self.any);
        // `all` needs every filter to hold, so one filter naming operations limits the block.
        let all = {
            let limiting: Vec<&Filter> = self.all.iter().filter(|f| !f.operations.is_empty()).collect();
            if limiting.is_empty() {
                None
            } else {
                Some(limiting.iter().flat_map(|f| f.operations.iter().copied()).collect())
            }
        };
        match (any, all) {
            (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
            (a, b) => a.or(b),
        }
    }

    /// Bare kinds named by the block (`*` when a filter names no kind or a wildcard). Every `all`
    /// filter must hold, so when some of them name kinds the others (kindless) do not widen it.
    pub fn kinds(&self) -> Vec<String> {
        let named = |f: &Filter| f.kinds.iter().map(|k| k.kind_name.clone()).collect::<Vec<_>>();
        let all_kinds: Vec<String> = self.all.iter().filter(|f| !f.kinds.is_empty()).flat_map(named).collect();
        if !all_kinds.is_empty() {
            return all_kinds;
        }
        let mut kinds = Vec::new();
        for f in self.any.iter().chain(&self.all) {
            if f.kinds.is_empty() {
                kinds.push("*".to_string());
            }
            kinds.extend(named(f));
        }
        kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(v: Value) -> MatchBlock {
        MatchBlock::compile(&serde_json::from_value(v).unwrap()).unwrap()
    }

    fn pod(ns: &str, labels: Value) -> AdmissionRequest {
        AdmissionRequest::for_object(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": ns, "labels": labels}}),
            Operation::Create,
        )
    }

    #[test]
    fn any_all_and_legacy_forms() {
        let ctx = EvaluationContext::default();
        let any = block(json!({"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["test"]}},
                                       {"resources": {"kinds": ["Pod"], "names": ["db-*"]}}]}));
        assert!(any.matches(&pod("test", json!({})), &ctx));
        assert!(!any.matches(&pod("prod", json!({})), &ctx));
        let all = block(json!({"all": [{"resources": {"kinds": ["Pod"]}},
                                       {"resources": {"selector": {"matchLabels": {"app": "w*"}}}}]}));
        assert!(all.matches(&pod("x", json!({"app": "web"})), &ctx));
        assert!(!all.matches(&pod("x", json!({"app": "db"})), &ctx));
        let legacy = block(json!({"resources": {"kinds": ["v1/Pod"], "operations": ["CREATE"]}}));
        assert!(legacy.matches(&pod("x", json!({})), &ctx));
    }

    #[test]
    fn blocks_decided_by_kind_alone_match_as_their_kinds_say() {
        let ctx = EvaluationContext::default();
        let kinds = |v: Value| json!({"any": [{"resources": {"kinds": v}}]});
        let cases = [
            (kinds(json!(["Pod"])), true),
            (kinds(json!(["Pod", "Deployment"])), true),
            (json!({"any": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"kinds": ["Service"]}}]}), true),
            (json!({"resources": {"kinds": ["Pod"]}}), true),
            (json!({"all": [{"resources": {"kinds": ["Pod"]}}]}), true),
            (json!({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"kinds": ["Pod"]}}]}), false),
            (json!({"any": [{"resources": {"kinds": ["Pod"]}}], "all": [{"resources": {"kinds": ["Pod"]}}]}), false),
            (kinds(json!(["v1/Pod"])), false),
            (kinds(json!(["apps/v1/Deployment"])), false),
            (kinds(json!(["Pod/exec"])), false),
            (kinds(json!(["Pod.status"])), false),
            (kinds(json!(["*"])), false),
            (kinds(json!(["Po?"])), false),
            (json!({"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["x"]}}]}), false),
            (json!({"any": [{"resources": {"kinds": ["Pod"], "operations": ["CREATE"]}}]}), false),
            (json!({"any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "User", "name": "a"}]}]}), false),
            (json!({"any": [{"resources": {"kinds": ["Pod"]}, "clusterRoles": ["admin"]}]}), false),
            (json!({"any": [{"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}}}]}), false),
            (json!({"any": [{"resources": {}}]}), false),
            (json!({}), false),
        ];
        let mut requests = Vec::new();
        for (kind, group) in [("Pod", ""), ("Deployment", "apps"), ("Service", ""), ("Po", "")] {
            for sub in ["", "exec", "status"] {
                let mut req = pod("x", json!({}));
                req.kind.kind = kind.into();
                req.kind.group = group.into();
                req.sub_resource = sub.into();
                requests.push(req);
            }
        }
        for (v, want) in cases {
            let b = block(v.clone());
            assert_eq!(b.by_kind_only(), want, "{v}");
            if !want {
                continue;
            }
            for req in &requests {
                let by_kind = b.kinds().contains(&req.kind.kind) && req.sub_resource.is_empty();
                assert_eq!(b.matches(req, &ctx), by_kind, "{v} {:?}/{}", req.kind, req.sub_resource);
            }
        }
    }

    #[test]
    fn kind_selectors() {
        let mut req = pod("x", json!({}));
        assert!(KindSelector::parse("Pod").matches(&req));
        assert!(KindSelector::parse("*").matches(&req));
        assert!(!KindSelector::parse("apps/v1/Deployment").matches(&req));
        req.sub_resource = "exec".into();
        assert!(!KindSelector::parse("Pod").matches(&req));
        assert!(KindSelector::parse("Pod/exec").matches(&req));
    }

    #[test]
    fn subjects_match_service_accounts() {
        let b = block(json!({"any": [{"subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": "build"}]}]}));
        let mut req = pod("x", json!({}));
        req.user_info.username = "system:serviceaccount:build:ci".into();
        assert!(b.matches(&req, &EvaluationContext::default()));
        req.user_info.username = "system:serviceaccount:other:ci".into();
        assert!(!b.matches(&req, &EvaluationContext::default()));
    }

    #[test]
    fn operations_of_a_block() {
        let ops = |v: Value| block(v).operations().map(|s| s.into_iter().collect::<Vec<_>>());
        assert_eq!(ops(json!({"any": [{"resources": {"kinds": ["Pod"]}}]})), None);
        assert_eq!(
            ops(json!({"any": [{"resources": {"kinds": ["Pod"], "operations": ["DELETE"]}},
                                {"resources": {"kinds": ["Service"], "operations": ["CREATE"]}}]})),
            Some(vec![Operation::Create, Operation::Delete])
        );
        // One `any` filter without operations opens every operation.
        assert_eq!(
            ops(json!({"any": [{"resources": {"kinds": ["Pod"], "operations": ["DELETE"]}},
                                {"resources": {"kinds": ["Service"]}}]})),
            None
        );
        // An `all` filter naming operations limits the block; `any` and `all` intersect.
        assert_eq!(
            ops(json!({"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"operations": ["UPDATE"]}}]})),
            Some(vec![Operation::Update])
        );
        assert_eq!(
            ops(json!({"any": [{"resources": {"kinds": ["Pod"], "operations": ["CREATE", "UPDATE"]}}],
                       "all": [{"resources": {"operations": ["UPDATE", "DELETE"]}}]})),
            Some(vec![Operation::Update])
        );
        assert_eq!(
            ops(json!({"resources": {"kinds": ["Pod"], "operations": ["CONNECT"]}})),
            Some(vec![Operation::Connect])
        );
    }
}
