//! The `kyverno.io/v1` and `v2beta1` ClusterPolicy/Policy manifest model.
//!
//! Every struct denies unknown fields so a misspelt field is an error at load, never a
//! silently ignored rule. Parts that are evaluated from raw JSON (patterns, patches,
//! conditions with variables) stay as [`Value`] here and are compiled by [`crate::compile`].

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A whole ClusterPolicy or Policy document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyManifest {
    /// `kyverno.io/v1` or `kyverno.io/v2beta1`.
    pub api_version: String,
    /// `ClusterPolicy` or `Policy`.
    pub kind: String,
    /// Object metadata.
    pub metadata: ObjectMeta,
    /// Policy spec.
    pub spec: PolicySpec,
    /// Status written by a controller; ignored.
    #[serde(default)]
    pub status: Option<Value>,
}

/// The subset of ObjectMeta a policy uses; other metadata fields are accepted and ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Policy name.
    #[serde(default)]
    pub name: String,
    /// Namespace (Policy only).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Annotations (severity, category, scored, autogen-controllers).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `spec` of a policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicySpec {
    /// Rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `All` (default) or `One`.
    #[serde(default)]
    pub apply_rules: Option<String>,
    /// `Fail` (default) or `Ignore`.
    #[serde(default)]
    pub failure_policy: Option<String>,
    /// Deprecated spec-level failure action.
    #[serde(default)]
    pub validation_failure_action: Option<String>,
    /// Deprecated spec-level overrides per namespace.
    #[serde(default)]
    pub validation_failure_action_overrides: Vec<FailureActionOverride>,
    /// Whether the policy applies in admission.
    #[serde(default)]
    pub admission: Option<bool>,
    /// Whether the policy applies in background scans.
    #[serde(default)]
    pub background: Option<bool>,
    /// Schema validation switch (accepted, no effect offline).
    #[serde(default)]
    pub schema_validation: Option<bool>,
    /// Webhook timeout.
    #[serde(default)]
    pub webhook_timeout_seconds: Option<u32>,
    /// Mutate existing resources when the policy changes (controller behaviour).
    #[serde(default)]
    pub mutate_existing_on_policy_update: Option<bool>,
    /// Generate for existing resources (controller behaviour).
    #[serde(default)]
    pub generate_existing: Option<bool>,
    /// Deprecated spelling of `generateExisting`.
    #[serde(default)]
    pub generate_existing_on_policy_update: Option<bool>,
    /// Server-side apply for mutate-existing (controller behaviour).
    #[serde(default)]
    pub use_server_side_apply: Option<bool>,
    /// Webhook configuration hints (match conditions, timeouts).
    #[serde(default)]
    pub webhook_configuration: Option<Value>,
    /// Return audit failures as admission warnings.
    #[serde(default)]
    pub emit_warning: Option<bool>,
}

/// A namespace-scoped failure action override.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailureActionOverride {
    /// `Audit` or `Enforce`.
    pub action: String,
    /// Namespaces (wildcards allowed).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Namespace selector.
    #[serde(default)]
    pub namespace_selector: Option<palisade_engine::selector::LabelSelector>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// Rule name.
    pub name: String,
    /// Context entries.
    #[serde(default)]
    pub context: Vec<ContextEntry>,
    /// Which resources the rule applies to.
    #[serde(rename = "match", default)]
    pub match_resources: Option<MatchResources>,
    /// Which resources are excluded.
    #[serde(default)]
    pub exclude: Option<MatchResources>,
    /// Custom image extractors.
    #[serde(default)]
    pub image_extractors: Option<Value>,
    /// Preconditions (`any`/`all`, or a legacy list).
    #[serde(default)]
    pub preconditions: Option<Value>,
    /// CEL preconditions (not supported).
    #[serde(default)]
    pub cel_preconditions: Option<Value>,
    /// Mutation.
    #[serde(default)]
    pub mutate: Option<Mutation>,
    /// Validation.
    #[serde(default)]
    pub validate: Option<Validation>,
    /// Generation.
    #[serde(default)]
    pub generate: Option<Generation>,
    /// Image verification (not supported offline).
    #[serde(default)]
    pub verify_images: Option<Value>,
    /// Skip background requests.
    #[serde(default)]
    pub skip_background_requests: Option<bool>,
    /// Extra report properties.
    #[serde(default)]
    pub report_properties: Option<BTreeMap<String, String>>,
}

/// `match` or `exclude`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchResources {
    /// Any of these filters.
    #[serde(default)]
    pub any: Vec<ResourceFilter>,
    /// All of these filters.
    #[serde(default)]
    pub all: Vec<ResourceFilter>,
    /// Legacy form: resources.
    #[serde(default)]
    pub resources: Option<ResourceDescription>,
    /// Legacy form: subjects.
    #[serde(default)]
    pub subjects: Vec<Subject>,
    /// Legacy form: roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Legacy form: cluster roles.
    #[serde(default)]
    pub cluster_roles: Vec<String>,
}

/// One resource filter of `any`/`all`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceFilter {
    /// Resource description.
    #[serde(default)]
    pub resources: Option<ResourceDescription>,
    /// Subjects.
    #[serde(default)]
    pub subjects: Vec<Subject>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Cluster roles.
    #[serde(default)]
    pub cluster_roles: Vec<String>,
}

/// `resources` of a filter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceDescription {
    /// Kinds (`Pod`, `apps/v1/Deployment`, `Pod/exec`, `*`).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Deprecated single name.
    #[serde(default)]
    pub name: Option<String>,
    /// Names (wildcards).
    #[serde(default)]
    pub names: Vec<String>,
    /// Namespaces (wildcards).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Annotations (wildcards in keys and values).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Label selector on the resource.
    #[serde(default)]
    pub selector: Option<palisade_engine::selector::LabelSelector>,
    /// Label selector on the resource's namespace.
    #[serde(default)]
    pub namespace_selector: Option<palisade_engine::selector::LabelSelector>,
    /// Operations (CREATE, UPDATE, DELETE, CONNECT).
    #[serde(default)]
    pub operations: Vec<String>,
}

/// An RBAC subject.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// Name (wildcards allowed).
    pub name: String,
    /// Namespace (ServiceAccount).
    #[serde(default)]
    pub namespace: Option<String>,
    /// API group.
    #[serde(default)]
    pub api_group: Option<String>,
}

/// A context entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextEntry {
    /// Variable name.
    pub name: String,
    /// A variable from a value or JMESPath.
    #[serde(default)]
    pub variable: Option<VariableEntry>,
    /// A ConfigMap lookup.
    #[serde(default)]
    pub config_map: Option<Value>,
    /// An API call.
    #[serde(default)]
    pub api_call: Option<Value>,
    /// An image registry lookup.
    #[serde(default)]
    pub image_registry: Option<Value>,
    /// A global context entry reference.
    #[serde(default)]
    pub global_reference: Option<Value>,
}

/// `context[].variable`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VariableEntry {
    /// Literal value (may contain variables).
    #[serde(default)]
    pub value: Option<Value>,
    /// JMESPath over the context (or over `value` when set).
    #[serde(default)]
    pub jmes_path: Option<String>,
    /// Default when the result is null.
    #[serde(default)]
    pub default: Option<Value>,
}

/// `validate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    /// Message (may contain variables).
    #[serde(default)]
    pub message: Option<String>,
    /// Rule-level failure action.
    #[serde(default)]
    pub failure_action: Option<String>,
    /// Rule-level overrides.
    #[serde(default)]
    pub failure_action_overrides: Vec<FailureActionOverride>,
    /// Allow existing violations on UPDATE.
    #[serde(default)]
    pub allow_existing_violations: Option<bool>,
    /// Manifest signature verification (not supported).
    #[serde(default)]
    pub manifests: Option<Value>,
    /// foreach validation.
    #[serde(default)]
    pub foreach: Option<Value>,
    /// Pattern.
    #[serde(default)]
    pub pattern: Option<Value>,
    /// Any of these patterns.
    #[serde(default)]
    pub any_pattern: Option<Value>,
    /// Deny conditions.
    #[serde(default)]
    pub deny: Option<Value>,
    /// Pod Security Standards check.
    #[serde(default)]
    pub pod_security: Option<Value>,
    /// CEL validation (not supported yet).
    #[serde(default)]
    pub cel: Option<Value>,
    /// Assertion trees (not supported yet).
    #[serde(default)]
    pub assert: Option<Value>,
}

/// `mutate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mutation {
    /// Targets for mutate-existing.
    #[serde(default)]
    pub targets: Option<Value>,
    /// Strategic merge patch with anchors.
    #[serde(default)]
    pub patch_strategic_merge: Option<Value>,
    /// RFC 6902 patches as a YAML string.
    #[serde(default, rename = "patchesJson6902")]
    pub patches_json6902: Option<String>,
    /// foreach mutation.
    #[serde(default)]
    pub foreach: Option<Value>,
    /// Mutate existing on policy update.
    #[serde(default)]
    pub mutate_existing_on_policy_update: Option<bool>,
}

/// `generate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generation {
    /// Generated kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Generated apiVersion.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Generated name.
    #[serde(default)]
    pub name: Option<String>,
    /// Generated namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Generated uid (for clone).
    #[serde(default)]
    pub uid: Option<String>,
    /// Keep in sync.
    #[serde(default)]
    pub synchronize: Option<bool>,
    /// Orphan downstream on policy deletion.
    #[serde(default)]
    pub orphan_downstream_on_policy_delete: Option<bool>,
    /// Generate for existing resources.
    #[serde(default)]
    pub generate_existing: Option<bool>,
    /// Inline data.
    #[serde(default)]
    pub data: Option<Value>,
    /// Clone source.
    #[serde(default)]
    pub clone: Option<Value>,
    /// Clone several sources.
    #[serde(default)]
    pub clone_list: Option<Value>,
    /// foreach generation.
    #[serde(default)]
    pub foreach: Option<Value>,
}
