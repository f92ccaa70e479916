//! The policy registry: every policy language implements [`AdmissionPolicy`]; a
//! [`PolicySet`] indexes policies by the kinds they can match and runs an admission request
//! through them: mutations first, in order, then validations on the mutated object.

use crate::patch::Touched;
use crate::request::{AdmissionRequest, Operation};
use crate::result::{RuleKind, RuleResult, RuleStatus};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Read access to cluster state (namespaces, objects, API calls) for rules that need it.
///
/// The CLI fills it from files, the server from its watch caches. Lookups never block on I/O, except
/// [`ClusterData::api_call`], which a cluster-backed source may answer with a bounded wait.
pub trait ClusterData: Send + Sync {
    /// Labels of a namespace, or `None` when the namespace is unknown.
    fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>>;
    /// One object by kind, namespace (empty for cluster-scoped) and name.
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value>;
    /// All objects of a kind, optionally in one namespace.
    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value>;
    /// The JSON answer of a Kyverno `context.apiCall` (a `urlPath` on the API server or an HTTPS service):
    /// `None` when this source cannot make API calls (offline), `Some(Err)` when the call failed.
    /// Implementations answer from a cache or with a lookup bounded well below the webhook timeout.
    fn api_call(&self, request: &crate::ApiCallRequest) -> Option<Result<Value, String>> {
        let _ = request;
        None
    }
}

/// Cluster state held in memory: a list of objects (from files, or a snapshot of caches).
#[derive(Debug, Clone, Default)]
pub struct StaticCluster {
    objects: Vec<Value>,
}

impl StaticCluster {
    /// Holds `objects`.
    pub fn new(objects: Vec<Value>) -> Self {
        Self { objects }
    }

    /// Adds one object.
    pub fn push(&mut self, object: Value) {
        self.objects.push(object);
    }

    fn meta<'a>(object: &'a Value, field: &str) -> &'a str {
        object.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or_default()
    }
}

impl ClusterData for StaticCluster {
    fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.objects
            .iter()
            .find(|o| o.get("kind").and_then(Value::as_str) == Some("Namespace") && Self::meta(o, "name") == namespace)
            .map(|o| crate::selector::string_map(o.get("metadata").and_then(|m| m.get("labels"))))
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .iter()
            .find(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && Self::meta(o, "name") == name
                    && Self::meta(o, "namespace") == namespace
            })
            .cloned()
    }

    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && namespace.is_none_or(|ns| Self::meta(o, "namespace") == ns)
            })
            .cloned()
            .collect()
    }
}

/// A per-request memo: a policy language builds data derived from the request (for example
/// Kyverno's variable context, or Gatekeeper's review) once and shares it across all its
/// policies. Each value type has its own slot, so languages mixed in one set never evict
/// each other's data.
///
/// An [`EvaluationContext`] is made for one request, and the memo assumes the request it is
/// asked about does not change while the context lives: use it for validation and generation
/// of a fixed request, not across mutations that change the object in place. The key (the
/// request's address, uid, name, namespace and operation) only guards against a context
/// reused for a different request.
#[derive(Clone, Default)]
pub struct RequestMemo {
    slots: Arc<std::sync::Mutex<Vec<MemoEntry>>>,
}

/// A memoised value and the request it was built for.
type MemoEntry = (MemoKey, Arc<dyn std::any::Any + Send + Sync>);

#[derive(Clone, PartialEq, Eq)]
struct MemoKey {
    address: usize,
    uid: String,
    name: String,
    namespace: String,
    operation: crate::request::Operation,
}

impl MemoKey {
    fn of(request: &AdmissionRequest) -> Self {
        MemoKey {
            address: std::ptr::from_ref(request) as usize,
            uid: request.uid.clone(),
            name: request.name.clone(),
            namespace: request.namespace.clone(),
            operation: request.operation,
        }
    }

    /// Whether the key was made for `request` (without copying its fields).
    fn is_for(&self, request: &AdmissionRequest) -> bool {
        self.address == std::ptr::from_ref(request) as usize
            && self.uid == request.uid
            && self.name == request.name
            && self.namespace == request.namespace
            && self.operation == request.operation
    }
}

impl RequestMemo {
    /// The memoised value of type `T` for `request`, built by `build` on first use.
    pub fn get_or_build<T: std::any::Any + Send + Sync>(
        &self,
        request: &AdmissionRequest,
        build: impl FnOnce() -> T,
    ) -> Arc<T> {
        let mut slots = match self.slots.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let slot = slots.iter().position(|(_, value)| value.is::<T>());
        if let Some(i) = slot
            && slots[i].0.is_for(request)
            && let Ok(typed) = slots[i].1.clone().downcast::<T>()
        {
            return typed;
        }
        let value = Arc::new(build());
        let entry: MemoEntry = (MemoKey::of(request), value.clone());
        match slot {
            Some(i) => slots[i] = entry,
            None => slots.push(entry),
        }
        value
    }
}

/// What a policy may read besides the request itself.
#[derive(Clone, Default)]
pub struct EvaluationContext {
    /// Roles bound to the requesting user (namespaced `namespace:role`).
    pub roles: Vec<String>,
    /// Cluster roles bound to the requesting user.
    pub cluster_roles: Vec<String>,
    /// Labels of the request's namespace; `None` when unknown.
    pub namespace_labels: Option<BTreeMap<String, String>>,
    /// Cluster state, when available.
    pub cluster: Option<Arc<dyn ClusterData>>,
    /// Data derived from the request, shared by the policies evaluating it.
    pub memo: RequestMemo,
    /// Which results get their message rendered.
    pub messages: Messages,
}

/// Which rule results an evaluation writes messages for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Messages {
    /// Every result (the CLI, reports, tests).
    #[default]
    All,
    /// Only what an admission response can show: results that block (Enforce) and results of policies
    /// with `emitWarning`. Other non-passing results carry an empty message: the webhook counts them in
    /// metrics and never reads their text, so it is not built.
    Shown,
}

impl std::fmt::Debug for EvaluationContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvaluationContext")
            .field("roles", &self.roles)
            .field("cluster_roles", &self.cluster_roles)
            .field("namespace_labels", &self.namespace_labels)
            .field("cluster", &self.cluster.is_some())
            .field("messages", &self.messages)
            .finish()
    }
}

/// What the API server should do when a policy cannot be evaluated in time or errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Deny the request.
    #[default]
    Fail,
    /// Allow the request.
    Ignore,
}

/// The result of one policy's mutation step.
#[derive(Debug, Clone, Default)]
pub struct MutationOutcome {
    /// One result per mutate rule that applied (pass), failed to apply (error) or was skipped.
    pub results: Vec<RuleResult>,
    /// Objects generated by generate rules.
    pub generated: Vec<Value>,
    /// What the mutations may have written to `request.object` (the webhook's patch compares only that);
    /// `None` when the policy does not say, which counts as everything.
    pub touched: Option<Touched>,
}

/// One policy, compiled, in any policy language.
pub trait AdmissionPolicy: Send + Sync {
    /// Policy name as it appears in results (`name`, or `namespace/name` for namespaced ones).
    fn name(&self) -> &str;
    /// Bare kinds (`Pod`, `Deployment`) this policy can match; `*` for any kind.
    fn kinds(&self) -> Vec<String>;
    /// Failure policy for errors and timeouts.
    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Fail
    }
    /// Whether this policy has mutate rules (the server registers it on `/mutate`).
    fn mutates(&self) -> bool {
        false
    }
    /// Whether this policy has anything to do on `/validate` (validate or generate rules).
    fn validates(&self) -> bool {
        true
    }
    /// The operations the policy's mutate rules are limited to (`match` filters naming
    /// `operations`); `None` when some rule takes any operation.
    fn mutate_operations(&self) -> Option<Vec<Operation>> {
        None
    }
    /// The operations the policy's validate and generate rules are limited to; `None` when some
    /// rule takes any operation.
    fn validate_operations(&self) -> Option<Vec<Operation>> {
        None
    }
    /// Applies this policy's mutations to `request.object` (the caller's working request: earlier
    /// policies' changes are already in it). It stays borrowed from the original until a policy
    /// changes something: call `request.to_mut()` only to write, so requests no rule changes are
    /// never copied.
    fn mutate(&self, _request: &mut Cow<'_, AdmissionRequest>, _ctx: &EvaluationContext) -> MutationOutcome {
        MutationOutcome::default()
    }
    /// Evaluates this policy's validations against the request.
    fn validate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> Vec<RuleResult>;
    /// Evaluates generate rules (offline engine: returns the objects, creates nothing).
    fn generate(&self, _request: &AdmissionRequest, _ctx: &EvaluationContext) -> MutationOutcome {
        MutationOutcome::default()
    }
}

/// Everything a policy set said about one request.
#[derive(Debug, Clone, Default)]
pub struct SetEvaluation {
    /// Mutation results, in order of application.
    pub mutation_results: Vec<RuleResult>,
    /// Validation results (on the mutated object).
    pub validation_results: Vec<RuleResult>,
    /// Generate results.
    pub generation_results: Vec<RuleResult>,
    /// The mutated object, when any mutation changed it.
    pub patched: Option<Value>,
    /// Generated objects.
    pub generated: Vec<Value>,
    /// What the mutations may have written: `patched` differs from the request's object only there.
    pub touched: Touched,
}

impl SetEvaluation {
    /// All results, mutation then validation then generation.
    pub fn all_results(&self) -> impl Iterator<Item = &RuleResult> {
        self.mutation_results.iter().chain(&self.validation_results).chain(&self.generation_results)
    }

    /// Results that deny the request.
    pub fn blocking(&self) -> impl Iterator<Item = &RuleResult> {
        self.validation_results.iter().filter(|r| r.blocks())
    }
}

/// A compiled set of policies, indexed by kind.
#[derive(Default, Clone)]
pub struct PolicySet {
    policies: Vec<Arc<dyn AdmissionPolicy>>,
    /// Per policy, [`AdmissionPolicy::validates`] and [`AdmissionPolicy::mutates`], asked once at
    /// [`PolicySet::add`]: selecting a webhook's policies then reads no policy's own data.
    roles: Vec<(bool, bool)>,
    by_kind: HashMap<String, Vec<usize>>,
    any_kind: Vec<usize>,
}

/// Which webhook's policies to select: those with something to do on `/validate` or on `/mutate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRole {
    /// Policies whose [`AdmissionPolicy::validates`] is true.
    Validating,
    /// Policies whose [`AdmissionPolicy::mutates`] is true.
    Mutating,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.policies.iter().map(|p| p.name())).finish()
    }
}

impl PolicySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a policy; order of addition is order of evaluation.
    pub fn add(&mut self, policy: Arc<dyn AdmissionPolicy>) {
        let index = self.policies.len();
        let mut kinds = policy.kinds();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            if crate::wildcard::has_wildcard(&kind) {
                self.any_kind.push(index);
            } else {
                self.by_kind.entry(kind).or_default().push(index);
            }
        }
        self.roles.push((policy.validates(), policy.mutates()));
        self.policies.push(policy);
    }

    /// Number of policies.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// All policies, in order.
    pub fn policies(&self) -> &[Arc<dyn AdmissionPolicy>] {
        &self.policies
    }

    /// Policies that may apply to `kind` and have something to do in `role`, in order of addition.
    pub fn candidates_for(&self, kind: &str, role: PolicyRole) -> Vec<&Arc<dyn AdmissionPolicy>> {
        let keep = |i: usize| self.plays(i, role);
        let listed = self.by_kind.get(kind).map(Vec::as_slice).unwrap_or_default();
        if self.any_kind.is_empty() {
            let mut out = Vec::with_capacity(listed.len());
            out.extend(listed.iter().copied().filter(|&i| keep(i)).map(|i| &self.policies[i]));
            return out;
        }
        let mut indexes: Vec<usize> = listed.iter().chain(&self.any_kind).copied().filter(|&i| keep(i)).collect();
        indexes.sort_unstable();
        indexes.dedup();
        indexes.into_iter().map(|i| &self.policies[i]).collect()
    }

    /// Whether the policy at `index` has something to do in `role`.
    fn plays(&self, index: usize, role: PolicyRole) -> bool {
        match role {
            PolicyRole::Validating => self.roles[index].0,
            PolicyRole::Mutating => self.roles[index].1,
        }
    }

    /// Whether [`PolicySet::candidates_for`] would select any policy (without collecting them).
    pub fn has_candidates_for(&self, kind: &str, role: PolicyRole) -> bool {
        let keep = |i: &usize| self.plays(*i, role);
        self.by_kind.get(kind).is_some_and(|listed| listed.iter().any(keep)) || self.any_kind.iter().any(keep)
    }

    /// Policies that may apply to `kind`, in order of addition.
    pub fn candidates(&self, kind: &str) -> Vec<&Arc<dyn AdmissionPolicy>> {
        let mut indexes: Vec<usize> = self.by_kind.get(kind).map(|v| v.as_slice()).unwrap_or_default().to_vec();
        if !self.any_kind.is_empty() {
            indexes.extend(&self.any_kind);
            indexes.sort_unstable();
            indexes.dedup();
        }
        indexes.into_iter().map(|i| &self.policies[i]).collect()
    }

    /// Runs mutations in order, then validations on the mutated object, then generations.
    pub fn evaluate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> SetEvaluation {
        let candidates = self.candidates(&request.kind.kind);
        let mut out = SetEvaluation::default();
        // The request mutations see: copied only when a policy first changes it.
        let mut working = Cow::Borrowed(request);
        for policy in candidates.iter().filter(|p| p.mutates()) {
            let outcome = policy.mutate(&mut working, ctx);
            out.mutation_results.extend(outcome.results);
            out.touched.add(outcome.touched.as_ref().unwrap_or(&Touched::Everything));
        }
        let patched = match working {
            Cow::Owned(w) if !crate::json_eq::json_eq(&w.object, &request.object) => Some(w),
            _ => None,
        };
        let validation_request = patched.as_ref().unwrap_or(request);
        for policy in &candidates {
            out.validation_results.extend(policy.validate(validation_request, ctx));
            let generated = policy.generate(validation_request, ctx);
            out.generation_results.extend(generated.results);
            out.generated.extend(generated.generated);
        }
        out.patched = patched.map(|w| w.object);
        out
    }
}

/// Counts results per status (for summaries).
pub fn count_by_status<'a>(results: impl Iterator<Item = &'a RuleResult>) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for r in results {
        *counts.entry(r.status.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Shorthand for an error result of a rule.
pub fn rule_error(policy: &str, rule: &str, kind: RuleKind, message: impl Into<crate::Text>) -> RuleResult {
    RuleResult::new(policy, rule, kind, RuleStatus::Error, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Operation;

    struct DenyKind(&'static str, &'static str);

    impl AdmissionPolicy for DenyKind {
        fn name(&self) -> &str {
            self.0
        }
        fn kinds(&self) -> Vec<String> {
            vec![self.1.to_string()]
        }
        fn validate(&self, _r: &AdmissionRequest, _c: &EvaluationContext) -> Vec<RuleResult> {
            vec![RuleResult::new(self.0, "r", RuleKind::Validation, RuleStatus::Fail, "no")]
        }
    }

    /// A policy with fixed kinds and roles.
    struct Roles(&'static str, &'static str, bool, bool);

    impl AdmissionPolicy for Roles {
        fn name(&self) -> &str {
            self.0
        }
        fn kinds(&self) -> Vec<String> {
            vec![self.1.to_string()]
        }
        fn validates(&self) -> bool {
            self.2
        }
        fn mutates(&self) -> bool {
            self.3
        }
        fn validate(&self, _r: &AdmissionRequest, _c: &EvaluationContext) -> Vec<RuleResult> {
            vec![]
        }
    }

    #[test]
    fn candidates_by_kind_and_role_keep_the_order_of_addition() {
        let mut set = PolicySet::new();
        for p in [
            Roles("validate-pod", "Pod", true, false),
            Roles("mutate-any", "*", false, true),
            Roles("both-pod", "Pod", true, true),
            Roles("validate-any", "*", true, false),
            Roles("validate-deploy", "Deployment", true, false),
        ] {
            set.add(Arc::new(p));
        }
        let names = |role| set.candidates_for("Pod", role).iter().map(|p| p.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(PolicyRole::Validating), ["validate-pod", "both-pod", "validate-any"]);
        assert_eq!(names(PolicyRole::Mutating), ["mutate-any", "both-pod"]);
        assert!(set.has_candidates_for("Service", PolicyRole::Validating));
        let mut pods_only = PolicySet::new();
        pods_only.add(Arc::new(Roles("validate-pod", "Pod", true, false)));
        assert!(pods_only.has_candidates_for("Pod", PolicyRole::Validating));
        assert!(!pods_only.has_candidates_for("Pod", PolicyRole::Mutating));
        assert!(!pods_only.has_candidates_for("Service", PolicyRole::Validating));
        assert!(pods_only.candidates_for("Pod", PolicyRole::Mutating).is_empty());
    }

    #[test]
    fn memo_keeps_one_value_per_type_and_request() {
        let memo = RequestMemo::default();
        let req = AdmissionRequest::for_object(
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}),
            Operation::Create,
        );
        let builds = std::cell::Cell::new(0);
        let count = |v: u32| {
            builds.set(builds.get() + 1);
            v
        };
        assert_eq!(*memo.get_or_build(&req, || count(1u32)), 1);
        assert_eq!(*memo.get_or_build(&req, || (count(0), "s").1), "s");
        assert_eq!(*memo.get_or_build(&req, || count(2u32)), 1);
        assert_eq!(builds.get(), 2);
        let other = req.clone();
        assert_eq!(*memo.get_or_build(&other, || count(3u32)), 3);
    }

    #[test]
    fn only_policies_for_the_kind_run() {
        let mut set = PolicySet::new();
        set.add(Arc::new(DenyKind("pods", "Pod")));
        set.add(Arc::new(DenyKind("services", "Service")));
        set.add(Arc::new(DenyKind("everything", "*")));
        let req = AdmissionRequest::for_object(
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}),
            Operation::Create,
        );
        let eval = set.evaluate(&req, &EvaluationContext::default());
        let names: Vec<_> = eval.validation_results.iter().map(|r| &*r.policy).collect();
        assert_eq!(names, ["pods", "everything"]);
    }
}
