//! Webhook self-registration: the MutatingWebhookConfiguration and ValidatingWebhookConfiguration that
//! follow the loaded policies.
//!
//! Rules of the computation:
//! - Only the kinds the policies name are registered (mapped to resources through a [`KindTable`]); a wildcard
//!   rule (`*/*`) appears only when a policy matches any kind (or a kind pattern such as `Pod*`).
//! - Kinds the table does not know are left out and listed in [`WebhookPlan::unresolved_kinds`] (as Kyverno skips
//!   kinds its discovery cannot resolve); extend the table with [`KindTable::insert`] from discovery.
//! - A webhook carries one `failurePolicy`, so each configuration has up to two webhooks: `fail.…` for the kinds
//!   where at least one policy says `Fail`, `ignore.…` for the kinds whose policies all say `Ignore`. Each kind
//!   is in exactly one of them, so a request reaches Palisade once per webhook type; the server still applies
//!   each policy's own failure policy to errors. When a wildcard is needed, a single webhook covers everything
//!   with the strictest failure policy of that type.
//! - The mutating configuration covers policies whose [`AdmissionPolicy::mutates`] is true; the validating one
//!   covers every policy (the engine trait does not say which policies validate).
//! - `sideEffects: None`, `admissionReviewVersions: [v1]`, `matchPolicy: Equivalent`, and a
//!   `namespaceSelector` that leaves out Palisade's own namespace and `kube-system` by their
//!   `kubernetes.io/metadata.name` label (set by the API server from 1.21 on; on older servers label those
//!   namespaces yourself) and any namespace labelled `palisade.dev/webhook: ignore`.

use crate::resources::KindTable;
use base64::Engine as _;
use palisade_engine::registry::AdmissionPolicy;
use palisade_engine::wildcard::has_wildcard;
use palisade_engine::{FailurePolicy, Operation, PolicySet};
use palisade_kyverno::matching::{ALL_OPERATIONS, KindOperations};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

mod detail;
#[cfg(test)]
mod operations_tests;
#[cfg(test)]
mod tests;

pub use detail::KyvernoDetail;

/// Label every namespace that the webhooks must never see can carry, with value [`IGNORE_LABEL_VALUE`].
pub const IGNORE_LABEL: &str = "palisade.dev/webhook";
/// Value of [`IGNORE_LABEL`] that excludes a namespace.
pub const IGNORE_LABEL_VALUE: &str = "ignore";
/// Label the API server puts on every namespace (1.21+), holding its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The largest `timeoutSeconds` the API server accepts.
pub const MAX_TIMEOUT_SECONDS: u32 = 30;

/// A problem with the inputs of the webhook computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The webhook URL is not usable by the API server.
    #[error("webhook URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `timeoutSeconds` outside 1..=30.
    #[error("webhook timeoutSeconds {0} is outside 1..=30")]
    BadTimeout(u32),
    /// The configuration name is empty.
    #[error("webhook configuration name is empty")]
    EmptyName,
}

/// Where the API server sends admission reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookTarget {
    /// Out of cluster: an `https://host:port` base URL; `/mutate` and `/validate` are appended.
    Url(String),
    /// In cluster: a Service in front of the Palisade pods.
    Service {
        /// Namespace of the Service.
        namespace: String,
        /// Name of the Service.
        name: String,
        /// Service port (443 by convention).
        port: u16,
    },
}

impl WebhookTarget {
    /// An out-of-cluster target, checked: `https://`, a host, no query or fragment.
    pub fn url(base: &str) -> Result<Self, WebhookError> {
        let bad = |reason| WebhookError::BadUrl { url: base.to_string(), reason };
        let Some(rest) = base.strip_prefix("https://") else { return Err(bad("must start with https://")) };
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with(':') {
            return Err(bad("has no host"));
        }
        if rest.contains(['?', '#']) {
            return Err(bad("must not have a query or fragment"));
        }
        if rest.contains('@') {
            return Err(bad("must not carry user information"));
        }
        Ok(Self::Url(base.trim_end_matches('/').to_string()))
    }

    /// The `clientConfig` for `path` (`/mutate` or `/validate`).
    fn client_config(&self, ca_bundle: &str, path: &str) -> Value {
        match self {
            Self::Url(base) => json!({"url": format!("{}{path}", base.trim_end_matches('/')), "caBundle": ca_bundle}),
            Self::Service { namespace, name, port } => json!({
                "service": {"namespace": namespace, "name": name, "path": path, "port": port},
                "caBundle": ca_bundle,
            }),
        }
    }
}

/// Settings of the computation that do not come from the policies.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Name of both configurations (default `palisade`).
    pub name: String,
    /// Palisade's own namespace, always excluded (default `palisade`).
    pub namespace: String,
    /// Other namespaces the webhooks never see (default `kube-system`).
    pub excluded_namespaces: Vec<String>,
    /// `timeoutSeconds` of every webhook, 1..=30 (default 10).
    pub timeout_seconds: u32,
    /// Operations registered on the mutating webhooks for Kyverno `match` filters that name none (default
    /// CREATE, UPDATE, as Kyverno); filters naming operations get exactly those.
    pub mutate_operations: Vec<Operation>,
    /// Operations registered on the validating webhooks for Kyverno `match` filters that name none (default
    /// CREATE, UPDATE, DELETE, CONNECT, as Kyverno: preconditions and deny conditions on `request.operation`
    /// must see every operation); filters naming operations get exactly those.
    pub validate_operations: Vec<Operation>,
    /// Operations for policies not known rule by rule (not in the [`KyvernoDetail`]: Gatekeeper constraints,
    /// RuntimeClassPolicies, Kyverno policies loaded without detail) that do not limit theirs (default CREATE,
    /// UPDATE: Gatekeeper's default without `enableDeleteOperations`).
    pub fallback_operations: Vec<Operation>,
    /// Kind → resource table (default: the built-in kinds).
    pub kinds: KindTable,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            name: "palisade".into(),
            namespace: "palisade".into(),
            excluded_namespaces: vec!["kube-system".into()],
            timeout_seconds: 10,
            mutate_operations: vec![Operation::Create, Operation::Update],
            validate_operations: ALL_OPERATIONS.to_vec(),
            fallback_operations: vec![Operation::Create, Operation::Update],
            kinds: KindTable::builtin(),
        }
    }
}

impl WebhookOptions {
    /// Checks the options the API server would reject.
    pub fn check(&self) -> Result<(), WebhookError> {
        if self.name.is_empty() {
            return Err(WebhookError::EmptyName);
        }
        if self.timeout_seconds == 0 || self.timeout_seconds > MAX_TIMEOUT_SECONDS {
            return Err(WebhookError::BadTimeout(self.timeout_seconds));
        }
        Ok(())
    }
}

/// The two configurations and what could not be registered.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPlan {
    /// The `admissionregistration.k8s.io/v1` MutatingWebhookConfiguration.
    pub mutating: Value,
    /// The `admissionregistration.k8s.io/v1` ValidatingWebhookConfiguration.
    pub validating: Value,
    /// Kinds named by policies that the kind table does not know (not registered), sorted.
    pub unresolved_kinds: Vec<String>,
}

/// Both configurations for `set`, with default [`WebhookOptions`]; `ca_bundle` is the PEM of the CA that signed
/// Palisade's serving certificate. Returns `(mutating, validating)`.
pub fn webhook_configurations(set: &PolicySet, ca_bundle: &[u8], target: WebhookTarget) -> (Value, Value) {
    let plan = build(set, &KyvernoDetail::default(), ca_bundle, &target, &WebhookOptions::default());
    (plan.mutating, plan.validating)
}

/// Both configurations for `set` with explicit options, plus the kinds that could not be registered (every
/// policy through the engine trait: per policy, not per kind; see [`plan_detailed`]).
pub fn plan(
    set: &PolicySet,
    ca_bundle: &[u8],
    target: &WebhookTarget,
    options: &WebhookOptions,
) -> Result<WebhookPlan, WebhookError> {
    plan_detailed(set, &KyvernoDetail::default(), ca_bundle, target, options)
}

/// [`plan`] with the compiled Kyverno policies of the set in `detail`: their operations are computed kind by
/// kind, `exclude.any` subtracted, as Kyverno's webhook controller does.
pub fn plan_detailed(
    set: &PolicySet,
    detail: &KyvernoDetail,
    ca_bundle: &[u8],
    target: &WebhookTarget,
    options: &WebhookOptions,
) -> Result<WebhookPlan, WebhookError> {
    options.check()?;
    Ok(build(set, detail, ca_bundle, target, options))
}

/// Turns every webhook of a configuration to `failurePolicy: Ignore`, so that it cannot block the cluster while
/// Palisade is not serving (uninstall, last replica stopping, repair of a stale configuration at start).
pub fn relax(configuration: &mut Value) {
    if let Some(webhooks) = configuration.get_mut("webhooks").and_then(Value::as_array_mut) {
        for webhook in webhooks {
            if let Some(map) = webhook.as_object_mut() {
                map.insert("failurePolicy".into(), Value::from("Ignore"));
            }
        }
    }
}

/// Which configuration a webhook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebhookType {
    Mutate,
    Validate,
}

impl WebhookType {
    fn path(self) -> &'static str {
        match self {
            Self::Mutate => "/mutate",
            Self::Validate => "/validate",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::Mutate => "MutatingWebhookConfiguration",
            Self::Validate => "ValidatingWebhookConfiguration",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Self::Mutate => "mutate",
            Self::Validate => "validate",
        }
    }
}

/// The operations of one webhook rule, sorted.
type Ops = BTreeSet<Operation>;

/// What the policies of one webhook type need: per kind the strictest failure policy and the
/// operations, and the same for "any kind".
#[derive(Debug, Default)]
struct Needs {
    kinds: BTreeMap<String, (FailurePolicy, Ops)>,
    any_kind: Option<(FailurePolicy, Ops)>,
    strictest: Option<FailurePolicy>,
}

fn stricter(a: Option<FailurePolicy>, b: FailurePolicy) -> FailurePolicy {
    match (a, b) {
        (Some(FailurePolicy::Fail), _) | (_, FailurePolicy::Fail) => FailurePolicy::Fail,
        _ => FailurePolicy::Ignore,
    }
}

/// Folds one policy's failure policy and operations into what a kind (or any kind) needs.
fn merge_need(slot: Option<(FailurePolicy, Ops)>, fp: FailurePolicy, ops: &Ops) -> (FailurePolicy, Ops) {
    match slot {
        Some((current, mut have)) => {
            have.extend(ops.iter().copied());
            (stricter(Some(current), fp), have)
        }
        None => (fp, ops.clone()),
    }
}

/// The webhook type's operations per kind for one policy: kind by kind for Kyverno policies in `detail`,
/// otherwise the policy's kinds with its limited operations (or the fallback ones).
fn policy_operations(
    policy: &dyn AdmissionPolicy,
    ty: WebhookType,
    detail: &KyvernoDetail,
    o: &WebhookOptions,
) -> KindOperations {
    let mutating = ty == WebhookType::Mutate;
    if let Some(kyverno) = detail.get(policy) {
        let defaults = if mutating { &o.mutate_operations } else { &o.validate_operations };
        return kyverno.webhook_operations(mutating, defaults);
    }
    let limited = if mutating { policy.mutate_operations() } else { policy.validate_operations() };
    let ops: Ops = limited.unwrap_or_else(|| o.fallback_operations.clone()).into_iter().collect();
    policy.kinds().into_iter().map(|kind| (kind, ops.clone())).collect()
}

fn needs(ty: WebhookType, set: &PolicySet, detail: &KyvernoDetail, options: &WebhookOptions) -> Needs {
    let mut out = Needs::default();
    let selected = set.policies().iter().map(|p| p.as_ref()).filter(|p| match ty {
        WebhookType::Mutate => p.mutates(),
        WebhookType::Validate => p.validates(),
    });
    for policy in selected {
        let fp = policy.failure_policy();
        for (kind, ops) in policy_operations(policy, ty, detail, options) {
            if ops.is_empty() {
                continue;
            }
            out.strictest = Some(stricter(out.strictest, fp));
            if kind.is_empty() || has_wildcard(&kind) {
                out.any_kind = Some(merge_need(out.any_kind.take(), fp, &ops));
            } else {
                let current = out.kinds.remove(&kind);
                out.kinds.insert(kind, merge_need(current, fp, &ops));
            }
        }
    }
    out
}

fn build(
    set: &PolicySet,
    detail: &KyvernoDetail,
    ca_bundle: &[u8],
    target: &WebhookTarget,
    options: &WebhookOptions,
) -> WebhookPlan {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_bundle);
    let mutate = needs(WebhookType::Mutate, set, detail, options);
    let validate = needs(WebhookType::Validate, set, detail, options);
    let mut unresolved = BTreeSet::new();
    let mutating = configuration(WebhookType::Mutate, &mutate, &ca, target, options, &mut unresolved);
    let validating = configuration(WebhookType::Validate, &validate, &ca, target, options, &mut unresolved);
    WebhookPlan { mutating, validating, unresolved_kinds: unresolved.into_iter().collect() }
}

fn configuration(
    ty: WebhookType,
    needs: &Needs,
    ca: &str,
    target: &WebhookTarget,
    options: &WebhookOptions,
    unresolved: &mut BTreeSet<String>,
) -> Value {
    let mut webhooks = Vec::new();
    if let (Some((_, any_ops)), Some(strictest)) = (&needs.any_kind, needs.strictest) {
        // Any kind: one webhook for everything, as strict as the strictest policy of this type,
        // for every operation some policy takes.
        let mut ops = any_ops.clone();
        ops.extend(needs.kinds.values().flat_map(|(_, o)| o.iter().copied()));
        let rules = vec![rule(&["*"], &["*"], &ops)];
        webhooks.push(webhook(ty, strictest, rules, ca, target, options));
    } else {
        for fp in [FailurePolicy::Fail, FailurePolicy::Ignore] {
            // One rule per (operations, API group), listing the group's resources.
            let mut by_ops: BTreeMap<&Ops, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
            for (kind, (_, ops)) in needs.kinds.iter().filter(|(_, (f, _))| *f == fp) {
                match options.kinds.lookup(kind) {
                    Some(gr) => {
                        by_ops
                            .entry(ops)
                            .or_default()
                            .entry(gr.group.as_str())
                            .or_default()
                            .insert(gr.resource.as_str());
                    }
                    None => {
                        unresolved.insert(kind.clone());
                    }
                }
            }
            if by_ops.is_empty() {
                continue;
            }
            let rules = by_ops
                .into_iter()
                .flat_map(|(ops, groups)| {
                    groups
                        .into_iter()
                        .map(move |(group, resources)| rule(&[group], &resources.into_iter().collect::<Vec<_>>(), ops))
                })
                .collect();
            webhooks.push(webhook(ty, fp, rules, ca, target, options));
        }
    }
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": ty.kind(),
        "metadata": {
            "name": options.name,
            "labels": {
                "app.kubernetes.io/name": "palisade",
                "app.kubernetes.io/managed-by": "palisade",
            },
        },
        "webhooks": webhooks,
    })
}

fn rule(groups: &[&str], resources: &[&str], operations: &Ops) -> Value {
    let ops: Vec<&str> = operations.iter().map(|o| o.as_str()).collect();
    json!({
        "apiGroups": groups,
        "apiVersions": ["*"],
        "resources": resources,
        "operations": ops,
        "scope": "*",
    })
}

fn failure_policy_name(fp: FailurePolicy) -> &'static str {
    match fp {
        FailurePolicy::Fail => "Fail",
        FailurePolicy::Ignore => "Ignore",
    }
}

fn webhook(
    ty: WebhookType,
    fp: FailurePolicy,
    rules: Vec<Value>,
    ca: &str,
    target: &WebhookTarget,
    options: &WebhookOptions,
) -> Value {
    let fp_name = failure_policy_name(fp);
    let mut excluded: Vec<&str> = std::iter::once(options.namespace.as_str())
        .chain(options.excluded_namespaces.iter().map(String::as_str))
        .collect();
    excluded.sort_unstable();
    excluded.dedup();
    let mut map = Map::new();
    map.insert("name".into(), format!("{}.{}.palisade.dev", fp_name.to_ascii_lowercase(), ty.short()).into());
    map.insert("admissionReviewVersions".into(), json!(["v1"]));
    map.insert("clientConfig".into(), target.client_config(ca, ty.path()));
    map.insert("failurePolicy".into(), fp_name.into());
    map.insert("matchPolicy".into(), "Equivalent".into());
    map.insert(
        "namespaceSelector".into(),
        json!({"matchExpressions": [
            {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": excluded},
            {"key": IGNORE_LABEL, "operator": "NotIn", "values": [IGNORE_LABEL_VALUE]},
        ]}),
    );
    map.insert("rules".into(), Value::Array(rules));
    map.insert("sideEffects".into(), "None".into());
    map.insert("timeoutSeconds".into(), options.timeout_seconds.into());
    if ty == WebhookType::Mutate {
        map.insert("reinvocationPolicy".into(), "Never".into());
    }
    Value::Object(map)
}
