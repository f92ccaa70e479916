//! Evaluating policies against resources offline, the way the webhook would.

use crate::policies::LoadedPolicies;
use crate::values::{UserInfoFile, ValuesFile};
use palisade_engine::{AdmissionRequest, EvaluationContext, Operation, RuleResult, StaticCluster};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// Everything evaluated for one resource.
#[derive(Debug, Clone)]
pub struct ResourceOutcome {
    /// Mutation results, then validation results.
    pub results: Vec<RuleResult>,
    /// The resource after mutation.
    pub patched: Value,
    /// Objects generated, per `(policy, rule)`.
    pub generated: Vec<(String, String, Vec<Value>)>,
}

/// Inputs beside policies and resources.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Values file (plus `--set`).
    pub values: ValuesFile,
    /// User info.
    pub user: UserInfoFile,
    /// Cluster resources (namespaces, ConfigMaps, RuntimeClasses).
    pub cluster: Option<Arc<StaticCluster>>,
}

/// Resource display name: `namespace/name` or `name`.
pub fn resource_name(resource: &Value) -> (String, String) {
    let name = resource.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let ns = resource.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    (ns, name)
}

/// Kinds that are not namespaced (the Kyverno CLI puts every other resource without a
/// namespace into `default`).
const CLUSTER_SCOPED: [&str; 22] = [
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "CustomResourceDefinition",
    "RuntimeClass",
    "PriorityClass",
    "IngressClass",
    "ClusterPolicy",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "PodSecurityPolicy",
    "ClusterIssuer",
    "ClusterPolicyReport",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
];

/// Gives a namespaced resource without a namespace the `default` namespace, as the Kyverno CLI does.
pub fn with_default_namespace(resource: &Value) -> Value {
    let mut out = resource.clone();
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or_default();
    let has_ns = resource.pointer("/metadata/namespace").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !has_ns
        && !CLUSTER_SCOPED.contains(&kind)
        && let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut)
    {
        meta.insert("namespace".into(), Value::String("default".into()));
    }
    out
}

/// Runs mutations (all policies, in order) then validations on the mutated resource.
pub fn evaluate(policies: &LoadedPolicies, resource: &Value, options: &RunOptions) -> ResourceOutcome {
    let (namespace, name) = resource_name(resource);
    let values = options.values.for_resource(&name);
    let operation = values
        .entries
        .iter()
        .rev()
        .find(|(_, _, k, _)| k == "request.operation")
        .and_then(|(_, _, _, v)| v.as_str())
        .and_then(Operation::parse)
        .unwrap_or(Operation::Create);
    let mut request = AdmissionRequest::for_object(resource.clone(), operation);
    if operation == Operation::Update {
        request.old_object = resource.clone();
    }
    request.user_info = options.user.user_info.clone();
    let namespace_labels = options.values.namespace_labels(&namespace).or_else(|| {
        use palisade_engine::ClusterData;
        options.cluster.as_ref().and_then(|c| c.namespace_labels(&namespace))
    });
    let ctx = EvaluationContext {
        roles: options.user.roles.clone(),
        cluster_roles: options.user.cluster_roles.clone(),
        namespace_labels,
        cluster: options.cluster.clone().map(|c| c as Arc<dyn palisade_engine::ClusterData>),
        ..EvaluationContext::default()
    };
    let mut results = Vec::new();
    let mut working = Cow::Borrowed(&request);
    for policy in &policies.kyverno {
        let outcome = policy.mutate_with(&mut working, &ctx, Some(&values));
        results.extend(outcome.results);
    }
    let mut patched = match working {
        Cow::Owned(working) => working.object,
        Cow::Borrowed(request) => request.object.clone(),
    };
    if patched != request.object && operation != Operation::Delete {
        request.object = patched.clone();
    }
    let mut generated = Vec::new();
    for policy in &policies.kyverno {
        results.extend(policy.validate_with(&request, &ctx, Some(&values)));
        for (result, objects) in policy.generate_with(&request, &ctx, Some(&values)) {
            generated.push((result.policy.to_string(), result.rule.to_string(), objects));
            results.push(result);
        }
    }
    for policy in &policies.others {
        if policy.mutates() {
            // The policy sees the Kyverno policies' changes, as the webhook would show them.
            let mut working = Cow::Owned(request.with_object(patched));
            let outcome = policy.mutate(&mut working, &ctx);
            results.extend(outcome.results);
            patched = working.into_owned().object;
            request.object = patched.clone();
        }
        results.extend(policy.validate(&request, &ctx));
    }
    ResourceOutcome { results, patched, generated }
}
