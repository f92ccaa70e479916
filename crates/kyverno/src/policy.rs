//! A compiled Kyverno policy and its evaluation against admission requests.

use crate::api_call::ApiCallTemplate;
use crate::conditions::Conditions;
use crate::context::{ContextFailure, ContextLoader, JmesPathField, request_context};
use crate::generate_rule::GenerateRule;
use crate::matching::{ALL_OPERATIONS, KindOperations, MatchBlock};
use crate::model::{ContextEntry, FailureActionOverride, PolicyManifest, Rule};
use crate::mutate_rule::MutateRule;
use crate::rule_index::RuleIndex;
use crate::validate::{Check, compile_check};
use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
use palisade_engine::patch::Touched;
use palisade_engine::registry::{FailurePolicy, MutationOutcome};
use palisade_engine::selector::LabelSelector;
use palisade_engine::wildcard::{Wildcard, has_wildcard};
use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, EvaluationContext, FailureAction, Messages, Operation, RuleKind, RuleResult,
    RuleStatus, Text,
};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

/// Values supplied from outside the cluster (a Kyverno CLI values file), per rule.
pub trait ValueSource {
    /// Flat `dotted.path: value` entries for `policy`/`rule` on the current resource.
    fn values(&self, policy: &str, rule: &str) -> Vec<(String, Value)>;
}

/// A namespace-scoped override of the failure action.
#[derive(Debug, Clone)]
struct ActionOverride {
    action: FailureAction,
    namespaces: Vec<Wildcard>,
    selector: Option<LabelSelector>,
}

impl ActionOverride {
    fn compile(o: &FailureActionOverride) -> Result<Self, String> {
        Ok(Self {
            action: FailureAction::parse(&o.action).ok_or_else(|| format!("unknown action {:?}", o.action))?,
            namespaces: o.namespaces.iter().map(|n| Wildcard::new(n)).collect(),
            selector: o.namespace_selector.clone(),
        })
    }

    fn applies(&self, namespace: &str, ctx: &EvaluationContext) -> bool {
        let ns_ok = self.namespaces.is_empty() || self.namespaces.iter().any(|n| n.matches(namespace));
        let sel_ok = match &self.selector {
            None => true,
            Some(sel) => ctx.namespace_labels.as_ref().is_some_and(|l| sel.matches(l)),
        };
        (!self.namespaces.is_empty() || self.selector.is_some()) && ns_ok && sel_ok
    }
}

/// What a rule does.
#[derive(Debug, Clone)]
pub enum RuleBody {
    /// A validate rule.
    Validate {
        /// Message template.
        message: Option<Template>,
        /// What is checked.
        check: Check,
        /// Rule-level failure action.
        action: Option<FailureAction>,
        /// Rule-level overrides.
        overrides: Vec<ActionOverrideHandle>,
    },
    /// A mutate rule.
    Mutate(MutateRule),
    /// A generate rule.
    Generate(GenerateRule),
    /// A rule type this engine does not evaluate (generate, verifyImages): results say why.
    Unsupported {
        /// Rule kind for results.
        kind: RuleKind,
        /// Reason.
        reason: String,
    },
}

/// The request's `images` variable, built once per request (validate and generate rules see the
/// request's object unchanged).
struct RequestImages(Value);

fn shared_images(request: &AdmissionRequest, ctx: &EvaluationContext) -> Arc<RequestImages> {
    ctx.memo.get_or_build(request, || RequestImages(crate::context::images(request.subject())))
}

/// The variable paths a rule can read without the full request context: what `Vars` mounts, and
/// `request.operation` (which the shared operation document holds).
static MOUNTED_OR_OPERATION: LazyLock<Vec<&'static [&'static str]>> =
    LazyLock::new(|| crate::vars::MOUNTED_PATHS.iter().copied().chain([&["request", "operation"][..]]).collect());

/// Whether every `foreach` in `value` (nested ones too) has no context entries of its own and a
/// `list` (bare JMESPath or `{{ }}`) that reads only under `prefixes`.
fn foreach_reads_only_under(value: &Value, prefixes: &[&[&str]]) -> bool {
    match value {
        Value::Object(map) => map.iter().all(|(key, child)| {
            if key != "foreach" {
                return foreach_reads_only_under(child, prefixes);
            }
            let Value::Array(entries) = child else { return false };
            entries.iter().all(|entry| {
                let Some(fields) = entry.as_object() else { return false };
                let has_context = fields.get("context").is_some_and(|c| match c {
                    Value::Null => false,
                    Value::Array(items) => !items.is_empty(),
                    _ => true,
                });
                let list_ok = fields.get("list").and_then(Value::as_str).is_none_or(|text| {
                    let text = text.trim();
                    let text = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).unwrap_or(text).trim();
                    let as_variable = Value::String(format!("{{{{{text}}}}}"));
                    crate::variables::variables_read_only_under(&as_variable, prefixes)
                });
                !has_context && list_ok && foreach_reads_only_under(entry, prefixes)
            })
        }),
        Value::Array(items) => items.iter().all(|v| foreach_reads_only_under(v, prefixes)),
        _ => true,
    }
}

/// `{"request": {"operation": OP}}`: the whole variable document of a rule that reads nothing
/// but the mounted objects, `images` and the operation.
fn operation_document(operation: Operation) -> &'static Value {
    static DOCUMENTS: LazyLock<[Value; 4]> = LazyLock::new(|| {
        [Operation::Create, Operation::Update, Operation::Delete, Operation::Connect]
            .map(|op| serde_json::json!({"request": {"operation": op.as_str()}}))
    });
    let index = match operation {
        Operation::Create => 0,
        Operation::Update => 1,
        Operation::Delete => 2,
        Operation::Connect => 3,
    };
    &DOCUMENTS[index]
}

/// Opaque handle for rule-level failure action overrides.
#[derive(Debug, Clone)]
pub struct ActionOverrideHandle(ActionOverride);

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Rule name (autogen rules carry their prefix).
    pub name: Text,
    match_block: MatchBlock,
    exclude_block: Option<MatchBlock>,
    context: Vec<ContextLoader>,
    preconditions: Conditions,
    /// What the rule does.
    pub body: RuleBody,
    /// Whether anything in the rule reads variables (`{{ }}`, context entries, foreach lists).
    reads_variables: bool,
    /// Whether the rule may read `images` (computed only for rules that do).
    reads_images: bool,
    /// The only kinds the match block can select, when it names them all literally: a request of
    /// another kind is skipped without running the filters (most autogen variants on a Pod).
    kind_hint: Option<Box<[String]>>,
    /// The rule selects a request exactly when `kind_hint` holds its kind and it has no subresource (no other
    /// match criteria, no exclude block).
    by_kind_only: bool,
    /// Whether the rule may read request fields other than the mounted objects and `operation`
    /// (the full request context is built only for rules that do).
    reads_request_context: bool,
    /// Kyverno's message for a passing validate rule, built once.
    pass_message: Text,
}

/// A compiled Kyverno ClusterPolicy or Policy.
#[derive(Debug, Clone)]
pub struct KyvernoPolicy {
    name: Text,
    namespace: Option<String>,
    /// Compiled rules, autogen rules included.
    rules: Vec<CompiledRule>,
    /// The rules that can select each kind.
    index: RuleIndex,
    action: FailureAction,
    overrides: Vec<ActionOverride>,
    apply_one: bool,
    failure_policy: FailurePolicy,
    emit_warning: bool,
    scored: bool,
    /// Whether the policy runs in background scans.
    pub background: bool,
    /// Whether the policy runs in admission.
    pub admission: bool,
    /// `policies.kyverno.io/severity`.
    pub severity: Option<String>,
    /// `policies.kyverno.io/category`.
    pub category: Option<String>,
}

fn compile_context(entries: &[ContextEntry]) -> Result<Vec<ContextLoader>, String> {
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let at = |m: String| format!("[{i}] ({}): {m}", e.name);
            if let Some(v) = &e.variable {
                let compile_opt = |v: &Option<Value>| -> Result<Option<CompiledValue>, String> {
                    v.as_ref().map(CompiledValue::compile).transpose().map_err(|e| e.to_string())
                };
                let jmes_path = match &e.variable.as_ref().and_then(|v| v.jmes_path.clone()) {
                    Some(p) => {
                        let template = Template::compile(p).map_err(|e| at(e.to_string()))?;
                        Some(JmesPathField::compile(template).map_err(|err| at(format!("variable.jmesPath: {err}")))?)
                    }
                    None => None,
                };
                return Ok(ContextLoader::Variable {
                    name: e.name.clone(),
                    value: compile_opt(&v.value).map_err(at)?,
                    jmes_path,
                    default: compile_opt(&v.default).map_err(at)?,
                });
            }
            if let Some(cm) = &e.config_map {
                let field = |f: &str| cm.get(f).and_then(Value::as_str).unwrap_or_default().to_string();
                return Ok(ContextLoader::ConfigMap {
                    name: e.name.clone(),
                    map_name: Template::compile(&field("name")).map_err(|e| at(e.to_string()))?,
                    namespace: Template::compile(&field("namespace")).map_err(|e| at(e.to_string()))?,
                });
            }
            if let Some(loader) = api_call_loader(e).map_err(at)? {
                return Ok(loader);
            }
            let kind = if e.api_call.is_some() {
                "apiCall"
            } else if e.image_registry.is_some() {
                "imageRegistry"
            } else if e.global_reference.is_some() {
                "globalReference"
            } else {
                return Err(at(
                    "context entry needs variable, configMap, apiCall, imageRegistry or globalReference".into()
                ));
            };
            Ok(ContextLoader::External { name: e.name.clone(), kind })
        })
        .collect()
}

/// An `apiCall` entry (`urlPath` or `service`, GET or POST with `data`) as a cluster call; `None` for other entries.
fn api_call_loader(e: &ContextEntry) -> Result<Option<ContextLoader>, String> {
    let Some(call) = &e.api_call else { return Ok(None) };
    let object = call.as_object().ok_or("apiCall: must be an object")?;
    let request = ApiCallTemplate::compile(object)?;
    let jmes_path = match call.get("jmesPath").and_then(Value::as_str) {
        Some(p) => {
            let template = Template::compile(p).map_err(|e| format!("apiCall.jmesPath: {e}"))?;
            Some(JmesPathField::compile(template).map_err(|err| format!("apiCall.jmesPath: {err}"))?)
        }
        None => None,
    };
    let default = call.get("default").map(CompiledValue::compile).transpose().map_err(|e| e.to_string())?;
    Ok(Some(ContextLoader::ApiCall { name: e.name.clone(), request, jmes_path, default }))
}

fn compile_context_value(value: &Value) -> Result<Vec<ContextLoader>, String> {
    let entries: Vec<ContextEntry> = serde_json::from_value(value.clone()).map_err(|e| format!(": {e}"))?;
    compile_context(&entries)
}

impl CompiledRule {
    /// Compiles one rule (already autogen-expanded).
    pub fn compile(rule: &Rule, raw: &Value) -> Result<Self, String> {
        let match_block = match &rule.match_resources {
            Some(m) => MatchBlock::compile(m).map_err(|e| format!("match.{e}"))?,
            None => return Err("match: a rule needs a match block".into()),
        };
        if match_block.is_empty() {
            return Err("match: must select resources (any, all or resources)".into());
        }
        let exclude_block =
            rule.exclude.as_ref().map(MatchBlock::compile).transpose().map_err(|e| format!("exclude.{e}"))?;
        let context = compile_context(&rule.context).map_err(|e| format!("context{e}"))?;
        let preconditions = Conditions::compile(rule.preconditions.as_ref().unwrap_or(&Value::Null))
            .map_err(|e| format!("preconditions.{e}"))?;
        let kinds =
            [rule.validate.is_some(), rule.mutate.is_some(), rule.generate.is_some(), rule.verify_images.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err("a rule needs exactly one of validate, mutate, generate or verifyImages".into());
        }
        let body = if let Some(v) = &rule.validate {
            let block = raw.get("validate").and_then(Value::as_object).cloned().unwrap_or_default();
            let check =
                compile_check(&block, &rule.name, &compile_context_value).map_err(|e| format!("validate.{e}"))?;
            let message = v
                .message
                .as_deref()
                .map(Template::compile)
                .transpose()
                .map_err(|e| format!("validate.message: {e}"))?;
            let action = v
                .failure_action
                .as_deref()
                .map(|a| FailureAction::parse(a).ok_or_else(|| format!("validate.failureAction: unknown action {a:?}")))
                .transpose()?;
            let overrides = v
                .failure_action_overrides
                .iter()
                .map(|o| ActionOverride::compile(o).map(ActionOverrideHandle))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("validate.failureActionOverrides: {e}"))?;
            RuleBody::Validate { message, check, action, overrides }
        } else if rule.mutate.is_some() {
            let block = raw.get("mutate").and_then(Value::as_object).cloned().unwrap_or_default();
            RuleBody::Mutate(MutateRule::compile(&block, &compile_context_value).map_err(|e| format!("mutate.{e}"))?)
        } else if rule.generate.is_some() {
            let block = raw.get("generate").and_then(Value::as_object).cloned().unwrap_or_default();
            RuleBody::Generate(
                GenerateRule::compile(&block, &compile_context_value).map_err(|e| format!("generate.{e}"))?,
            )
        } else {
            RuleBody::Unsupported {
                kind: RuleKind::Validation,
                reason: "verifyImages needs registry access and is not supported".into(),
            }
        };
        // Conservative text checks: a false positive only costs the work the check avoids.
        let text = raw.to_string();
        let reads_variables = text.contains("{{") || text.contains("foreach") || !context.is_empty();
        let reads_images = text.contains("images");
        let reads_request_context = reads_variables
            && (!context.is_empty()
                || !foreach_reads_only_under(raw, &MOUNTED_OR_OPERATION)
                || !crate::variables::variables_read_only_under(raw, &MOUNTED_OR_OPERATION));
        let kinds = match_block.kinds();
        let kind_hint = (!kinds.is_empty() && !kinds.iter().any(|k| k.is_empty() || has_wildcard(k)))
            .then(|| kinds.into_boxed_slice());
        let by_kind_only = kind_hint.is_some()
            && match_block.by_kind_only()
            && exclude_block.as_ref().is_none_or(MatchBlock::is_empty);
        Ok(Self {
            name: Text::interned(&rule.name),
            kind_hint,
            by_kind_only,
            match_block,
            exclude_block,
            context,
            preconditions,
            body,
            reads_variables,
            reads_images,
            reads_request_context,
            pass_message: Text::interned(&format!("validation rule '{}' passed.", rule.name)),
        })
    }

    /// Whether the rule selects the request.
    pub fn matches(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> bool {
        if let Some(kinds) = &self.kind_hint
            && !kinds.contains(&request.kind.kind)
        {
            return false;
        }
        if self.by_kind_only {
            return request.sub_resource.is_empty();
        }
        self.match_block.matches(request, ctx) && !self.exclude_block.as_ref().is_some_and(|e| e.matches(request, ctx))
    }

    /// Bare kinds the rule can match.
    pub fn kinds(&self) -> Vec<String> {
        self.match_block.kinds()
    }

    fn kind(&self) -> RuleKind {
        match &self.body {
            RuleBody::Validate { .. } => RuleKind::Validation,
            RuleBody::Mutate(_) => RuleKind::Mutation,
            RuleBody::Generate(_) => RuleKind::Generation,
            RuleBody::Unsupported { kind, .. } => *kind,
        }
    }
}

impl KyvernoPolicy {
    /// Compiles a parsed manifest; `raw_rules` are the autogen-expanded raw rules.
    pub fn compile(manifest: &PolicyManifest, rules: Vec<(Rule, Value)>) -> Result<Self, (String, String)> {
        let spec = &manifest.spec;
        let annotations = &manifest.metadata.annotations;
        let action = match &spec.validation_failure_action {
            Some(a) => FailureAction::parse(a)
                .ok_or_else(|| ("spec.validationFailureAction".to_string(), format!("unknown action {a:?}")))?,
            None => FailureAction::Audit,
        };
        let overrides = spec
            .validation_failure_action_overrides
            .iter()
            .map(ActionOverride::compile)
            .collect::<Result<_, _>>()
            .map_err(|e| ("spec.validationFailureActionOverrides".to_string(), e))?;
        let apply_one = match spec.apply_rules.as_deref() {
            None | Some("All") => false,
            Some("One") => true,
            Some(other) => return Err(("spec.applyRules".into(), format!("must be All or One, not {other:?}"))),
        };
        let failure_policy = match spec.failure_policy.as_deref() {
            None | Some("Fail") => FailurePolicy::Fail,
            Some("Ignore") => FailurePolicy::Ignore,
            Some(other) => return Err(("spec.failurePolicy".into(), format!("must be Fail or Ignore, not {other:?}"))),
        };
        let mut compiled = Vec::with_capacity(rules.len());
        for (i, (rule, raw)) in rules.iter().enumerate() {
            let r = CompiledRule::compile(rule, raw).map_err(|e| (format!("spec.rules[{i}] ({})", rule.name), e))?;
            compiled.push(r);
        }
        let index = RuleIndex::new(compiled.iter().map(|r| r.kind_hint.as_deref()));
        Ok(Self {
            name: match &manifest.metadata.namespace {
                Some(ns) if manifest.kind == "Policy" => Text::interned(&format!("{ns}/{}", manifest.metadata.name)),
                _ => Text::interned(&manifest.metadata.name),
            },
            namespace: if manifest.kind == "Policy" { manifest.metadata.namespace.clone() } else { None },
            rules: compiled,
            index,
            action,
            overrides,
            apply_one,
            failure_policy,
            emit_warning: spec.emit_warning.unwrap_or(false),
            scored: annotations.get("policies.kyverno.io/scored").is_none_or(|s| s != "false"),
            background: spec.background.unwrap_or(true),
            admission: spec.admission.unwrap_or(true),
            severity: annotations.get("policies.kyverno.io/severity").cloned(),
            category: annotations.get("policies.kyverno.io/category").cloned(),
        })
    }

    /// Compiled rules, autogen rules included, in policy order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The rules that can select a request of `kind`, in policy order.
    fn rules_for<'p>(&'p self, kind: &str) -> impl Iterator<Item = &'p CompiledRule> + use<'p> {
        self.index.rules_for(kind).iter().filter_map(|&i| self.rules.get(i as usize))
    }

    /// The bare policy name (without namespace).
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// Per kind, the operations this policy needs on the mutating (`mutating`) or validating webhook, as
    /// Kyverno's webhook controller computes them (`mergeWebhook` + `collectResourceDescriptions`): mutate rules
    /// on the mutating webhook with `defaults` for filters naming no operation; validate rules (and verifyImages,
    /// reported unsupported) on the validating webhook with `defaults`, generate rules there with all four
    /// operations; each rule's `exclude.any` subtracted. See [`MatchBlock::operations_by_kind`].
    pub fn webhook_operations(&self, mutating: bool, defaults: &[Operation]) -> KindOperations {
        let mut out = KindOperations::new();
        for rule in &self.rules {
            let rule_defaults: &[Operation] = match (&rule.body, mutating) {
                (RuleBody::Mutate(_), true) => defaults,
                (RuleBody::Generate(_), false) => &ALL_OPERATIONS,
                (RuleBody::Validate { .. } | RuleBody::Unsupported { .. }, false) => defaults,
                _ => continue,
            };
            let mut kinds = rule.match_block.operations_by_kind(rule_defaults);
            if let Some(exclude) = &rule.exclude_block {
                exclude.subtract_excluded(&mut kinds);
            }
            for (kind, ops) in kinds {
                out.entry(kind).or_default().extend(ops);
            }
        }
        out
    }

    /// The union of the operations the selected rules' `match` blocks can take (`None`: any).
    fn operations(&self, selected: impl Fn(&CompiledRule) -> bool) -> Option<Vec<Operation>> {
        let mut all = std::collections::BTreeSet::new();
        for rule in self.rules.iter().filter(|r| selected(r)) {
            all.extend(rule.match_block.operations()?);
        }
        Some(all.into_iter().collect())
    }

    fn in_scope(&self, request: &AdmissionRequest) -> bool {
        match &self.namespace {
            Some(ns) => {
                request.namespace == *ns
                    || request.subject().pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)
            }
            None => true,
        }
    }

    fn action_for(
        &self,
        rule_action: Option<FailureAction>,
        rule_overrides: &[ActionOverrideHandle],
        request: &AdmissionRequest,
        ctx: &EvaluationContext,
    ) -> FailureAction {
        let namespace = &request.namespace;
        if let Some(o) = rule_overrides.iter().find(|o| o.0.applies(namespace, ctx)) {
            return o.0.action;
        }
        if let Some(a) = rule_action {
            return a;
        }
        if let Some(o) = self.overrides.iter().find(|o| o.applies(namespace, ctx)) {
            return o.action;
        }
        self.action
    }

    /// Adds what a rule reads beyond the request: `images` (given when computed once per request), its
    /// context entries and given values. Errors become rule errors.
    fn rule_context<'s, 'r>(
        &'s self,
        rule: &'s CompiledRule,
        data: &mut Vars<'r>,
        images: Option<&'r Value>,
        ctx: &EvaluationContext,
        values: Option<&dyn ValueSource>,
    ) -> Result<(), ContextFailure<'s>> {
        if let Some(images) = images {
            data.set_images(Cow::Borrowed(images));
        }
        if rule.reads_images {
            data.add_images();
        }
        let provided: Vec<(String, Value)> =
            values.map(|v| v.values(self.short_name(), &rule.name)).unwrap_or_default();
        if provided.is_empty() && rule.context.is_empty() {
            // Nothing to add: evaluate against the shared request context without copying it.
            return Ok(());
        }
        for (k, v) in &provided {
            data.set_path(k, v.clone());
        }
        for loader in &rule.context {
            let given =
                provided.iter().any(|(k, _)| k == loader.name() || k.starts_with(&format!("{}.", loader.name())));
            loader.load(data, ctx, given).map_err(ContextFailure)?;
        }
        // Values given for a rule override computed context entries, as in the Kyverno CLI.
        for (k, v) in provided {
            data.set_path(&k, v);
        }
        Ok(())
    }

    /// Evaluates validate rules (and reports unsupported rule types) for a request.
    pub fn validate_with(
        &self,
        request: &AdmissionRequest,
        ctx: &EvaluationContext,
        values: Option<&dyn ValueSource>,
    ) -> Vec<RuleResult> {
        if !self.in_scope(request) {
            return Vec::new();
        }
        let candidates = self.index.rules_for(&request.kind.kind);
        let mut results = Vec::with_capacity(candidates.len());
        let mut base: Option<std::sync::Arc<Value>> = None;
        let mut request_images: Option<Arc<RequestImages>> = None;
        for rule in candidates.iter().filter_map(|&i| self.rules.get(i as usize)) {
            if matches!(rule.body, RuleBody::Mutate(_) | RuleBody::Generate(_)) || !rule.matches(request, ctx) {
                continue;
            }
            let base: &Value = if rule.reads_request_context || values.is_some() {
                base.get_or_insert_with(|| ctx.memo.get_or_build(request, || request_context(request, ctx)))
            } else if rule.reads_variables {
                // The rule reads the mounted objects and the operation only.
                operation_document(request.operation)
            } else {
                // Nothing in the rule reads variables: skip building the request context.
                &Value::Null
            };
            let images =
                rule.reads_images.then(|| &request_images.get_or_insert_with(|| shared_images(request, ctx)).0);
            let result = self.evaluate_validate_rule(rule, request, ctx, base, images, values);
            let applied = result.status != RuleStatus::Skip;
            results.push(result);
            if self.apply_one && applied {
                break;
            }
        }
        results
    }

    fn result(&self, rule: &CompiledRule, status: RuleStatus, message: impl Into<Text>) -> RuleResult {
        let mut r = RuleResult::new(self.name.clone(), rule.name.clone(), rule.kind(), status, message);
        r.emit_warning = self.emit_warning;
        r
    }

    fn evaluate_validate_rule(
        &self,
        rule: &CompiledRule,
        request: &AdmissionRequest,
        ctx: &EvaluationContext,
        base: &Value,
        images: Option<&Value>,
        values: Option<&dyn ValueSource>,
    ) -> RuleResult {
        // The action, and whether the webhook can show this result's message (`Messages::Shown`): it is
        // rendered only then.
        let action = match &rule.body {
            RuleBody::Validate { action, overrides, .. } => Some(self.action_for(*action, overrides, request, ctx)),
            _ => None,
        };
        let shown = ctx.messages == Messages::All || self.emit_warning || action == Some(FailureAction::Enforce);
        // Built in place rather than returned: the variables are a few hundred bytes, moved per rule.
        let mut data = Vars::new(Cow::Borrowed(base), request);
        // Most rules have no context and no preconditions: neither is called then.
        let has_context = values.is_some() || images.is_some() || rule.reads_images || !rule.context.is_empty();
        if has_context && let Err(e) = self.rule_context(rule, &mut data, images, ctx, values) {
            // Written only when shown (most offline context failures are Audit rules' errors, counted only).
            let message = if shown { e.to_string().into() } else { Text::Static("") };
            return self.result(rule, RuleStatus::Error, message);
        }
        if !rule.preconditions.is_empty() {
            match rule.preconditions.evaluate(&data, Resolution::Lenient) {
                Ok((true, _)) => {}
                Ok((false, msg)) => {
                    let message = msg.map_or(Text::Static("preconditions not met"), Text::from);
                    return self.result(rule, RuleStatus::Skip, message);
                }
                Err(e) => {
                    let message =
                        if shown { format!("failed to evaluate preconditions: {e}").into() } else { Text::Static("") };
                    return self.result(rule, RuleStatus::Error, message);
                }
            }
        }
        let (message, check) = match &rule.body {
            RuleBody::Validate { message, check, .. } => (message, check),
            RuleBody::Unsupported { reason, .. } => return self.result(rule, RuleStatus::Error, reason.clone()),
            RuleBody::Mutate(_) | RuleBody::Generate(_) => {
                return self.result(rule, RuleStatus::Skip, Text::Static("not a validate rule"));
            }
        };
        if request.operation == Operation::Delete
            && matches!(check, Check::Pattern(_) | Check::AnyPattern(_) | Check::PodSecurity(_))
        {
            // As Kyverno: patterns and Pod Security checks do not judge a deleted object (deny and foreach do).
            return self.result(rule, RuleStatus::Skip, Text::Static("skipping validation on deleted resource"));
        }
        let outcome = check.evaluate(&mut data, request.subject(), ctx, 0, !shown);
        let mut result = match outcome.status {
            RuleStatus::Pass => self.result(rule, RuleStatus::Pass, rule.pass_message.clone()),
            RuleStatus::Fail => {
                let status = if self.scored { RuleStatus::Fail } else { RuleStatus::Warn };
                if !shown {
                    self.result(rule, status, Text::Static(""))
                } else {
                    // The rule's message is rendered only when it is shown.
                    let rule_message = message.as_ref().map(|m| match m {
                        Template::Literal(text) => Cow::Borrowed(text.as_str()),
                        _ => Cow::Owned(match m.render(&data, "/validate/message", Resolution::Strict) {
                            Ok(Value::String(s)) => s,
                            Ok(other) => other.to_string(),
                            Err(_) => m.to_string(),
                        }),
                    });
                    let text = self.failure_message(rule, check, rule_message.as_deref(), outcome.detail.text());
                    self.result(rule, status, text)
                }
            }
            RuleStatus::Skip if matches!(check, Check::Unsupported { .. }) => {
                self.result(rule, RuleStatus::Skip, outcome.detail.into_text())
            }
            RuleStatus::Skip if ctx.messages == Messages::All => {
                self.result(rule, RuleStatus::Skip, format!("rule {} skipped: {}", rule.name, outcome.detail))
            }
            // A skip is never shown.
            RuleStatus::Skip => self.result(rule, RuleStatus::Skip, Text::Static("")),
            status => {
                let message = if shown {
                    format!("rule {} execution error: {}", rule.name, outcome.detail).into()
                } else {
                    Text::Static("")
                };
                self.result(rule, status, message)
            }
        };
        if let Some(action) = action {
            result.action = action;
        }
        result
    }

    fn failure_message(&self, rule: &CompiledRule, check: &Check, message: Option<&str>, detail: &str) -> String {
        // Built with `push_str`: this runs for every failing rule of a request.
        let head = || {
            // Room for the head and, per failure (at most one per pattern), `rule <name>[i] failed at path`.
            let failures = match check {
                Check::AnyPattern(patterns) => patterns.len(),
                _ => 1,
            };
            let capacity = 24 + message.map_or(0, str::len) + detail.len() + failures * (rule.name.len() + 24);
            let mut out = String::with_capacity(capacity);
            out.push_str("validation error: ");
            if let Some(m) = message {
                out.push_str(m);
                if !m.ends_with('.') {
                    out.push('.');
                }
                out.push(' ');
            }
            out
        };
        match check {
            Check::PodSecurity(_) => detail.to_string(),
            Check::Pattern(_) => {
                let mut out = head();
                for part in ["rule ", &rule.name, " failed at path ", detail] {
                    out.push_str(part);
                }
                out
            }
            Check::AnyPattern(_) => {
                let mut out = head();
                for (n, failure) in detail.split('\u{1}').filter(|s| !s.is_empty()).enumerate() {
                    let (index, path) = failure.split_once('\u{0}').unwrap_or((failure, ""));
                    if n > 0 {
                        out.push(' ');
                    }
                    for part in ["rule ", &rule.name, index, " failed at path ", path] {
                        out.push_str(part);
                    }
                }
                out
            }
            _ => message.map(str::to_string).unwrap_or_else(|| format!("validation error: rule {} failed", rule.name)),
        }
    }

    /// Applies mutate rules to `request.object` in place, in order (each rule sees the previous ones' changes).
    pub fn mutate_with(
        &self,
        request: &mut Cow<'_, AdmissionRequest>,
        ctx: &EvaluationContext,
        values: Option<&dyn ValueSource>,
    ) -> MutationOutcome {
        let mut outcome = MutationOutcome { touched: Some(Touched::Nothing), ..MutationOutcome::default() };
        if !self.in_scope(request) {
            return outcome;
        }
        // The request context holds no object (it is mounted), so one serves every rule and policy
        // (through the request memo) even after a rule changed `request.object`.
        let mut base_slot: Option<Arc<Value>> = None;
        let mut touched = Touched::Nothing;
        for rule in self.rules_for(&request.kind.kind) {
            let RuleBody::Mutate(body) = &rule.body else { continue };
            if !rule.matches(request, ctx) {
                continue;
            }
            // The object moves out of a working copy and back; from the original it is borrowed until the rule
            // patches it (the patch copies it).
            let taken = match request {
                Cow::Owned(working) => Some(std::mem::take(&mut working.object)),
                Cow::Borrowed(_) => None,
            };
            let current: &AdmissionRequest = request;
            let object = taken.map_or(Cow::Borrowed(&current.object), Cow::Owned);
            let (status, message, object) =
                if body.is_static() && rule.preconditions.is_empty() && rule.context.is_empty() && values.is_none() {
                    // Nothing reads variables: skip building the context.
                    body.apply(Vars::detached(object), ctx, &rule.name, &mut touched)
                } else {
                    let base: &Value = if rule.reads_request_context || values.is_some() {
                        base_slot
                            .get_or_insert_with(|| ctx.memo.get_or_build(current, || request_context(current, ctx)))
                    } else {
                        operation_document(current.operation)
                    };
                    let mut data = Vars::with_object(Cow::Borrowed(base), current, object);
                    match self
                        .rule_context(rule, &mut data, None, ctx, values)
                        .map_err(|e| e.to_string())
                        .map(|()| rule.preconditions.evaluate(&data, Resolution::Lenient).map_err(|e| e.to_string()))
                    {
                        Ok(Ok((true, _))) => body.apply(data, ctx, &rule.name, &mut touched),
                        Ok(Ok((false, msg))) => {
                            let msg = msg.unwrap_or_else(|| "preconditions not met".into());
                            (RuleStatus::Skip, msg, data.into_copied_object())
                        }
                        Ok(Err(e)) | Err(e) => (RuleStatus::Error, e, data.into_copied_object()),
                    }
                };
            if let Some(object) = object {
                AdmissionRequest::set_object(request, object);
            }
            let applied = status != RuleStatus::Skip;
            outcome.results.push(self.result(rule, status, message));
            if self.apply_one && applied {
                break;
            }
        }
        outcome.touched = Some(touched);
        outcome
    }
}

impl KyvernoPolicy {
    /// Evaluates generate rules: one result per matching rule, with the objects it generates.
    pub fn generate_with(
        &self,
        request: &AdmissionRequest,
        ctx: &EvaluationContext,
        values: Option<&dyn ValueSource>,
    ) -> Vec<(RuleResult, Vec<Value>)> {
        let mut out = Vec::new();
        if !self.in_scope(request) {
            return out;
        }
        let mut base: Option<std::sync::Arc<Value>> = None;
        let mut request_images: Option<Arc<RequestImages>> = None;
        for rule in self.rules_for(&request.kind.kind) {
            let RuleBody::Generate(body) = &rule.body else { continue };
            if !rule.matches(request, ctx) {
                continue;
            }
            let base = base.get_or_insert_with(|| ctx.memo.get_or_build(request, || request_context(request, ctx)));
            let images =
                rule.reads_images.then(|| &request_images.get_or_insert_with(|| shared_images(request, ctx)).0);
            let mut data = Vars::new(Cow::Borrowed(base), request);
            if let Err(e) = self.rule_context(rule, &mut data, images, ctx, values) {
                out.push((self.result(rule, RuleStatus::Error, e.to_string()), Vec::new()));
                continue;
            }
            match rule.preconditions.evaluate(&data, Resolution::Lenient) {
                Ok((true, _)) => {}
                Ok((false, msg)) => {
                    let msg = msg.unwrap_or_else(|| "preconditions not met".into());
                    out.push((self.result(rule, RuleStatus::Skip, msg), Vec::new()));
                    continue;
                }
                Err(e) => {
                    out.push((self.result(rule, RuleStatus::Error, e.to_string()), Vec::new()));
                    continue;
                }
            }
            let entry = match body.generate(&mut data, ctx, &self.name, &rule.name) {
                Ok(objects) => {
                    let message = format!("generated {} resource(s)", objects.len());
                    (self.result(rule, RuleStatus::Pass, message), objects)
                }
                Err(e) => (self.result(rule, RuleStatus::Error, e), Vec::new()),
            };
            let applied = entry.0.status != RuleStatus::Skip;
            out.push(entry);
            if self.apply_one && applied {
                break;
            }
        }
        out
    }
}

impl AdmissionPolicy for KyvernoPolicy {
    fn generate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> MutationOutcome {
        let mut outcome = MutationOutcome::default();
        for (result, objects) in self.generate_with(request, ctx, None) {
            outcome.results.push(result);
            outcome.generated.extend(objects);
        }
        outcome
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<String> {
        self.rules.iter().flat_map(CompiledRule::kinds).collect()
    }

    fn failure_policy(&self) -> FailurePolicy {
        self.failure_policy
    }

    fn mutates(&self) -> bool {
        self.rules.iter().any(|r| matches!(r.body, RuleBody::Mutate(_)))
    }

    fn validates(&self) -> bool {
        self.rules.iter().any(|r| !matches!(r.body, RuleBody::Mutate(_)))
    }

    fn mutate_operations(&self) -> Option<Vec<Operation>> {
        self.operations(|r| matches!(r.body, RuleBody::Mutate(_)))
    }

    fn validate_operations(&self) -> Option<Vec<Operation>> {
        self.operations(|r| !matches!(r.body, RuleBody::Mutate(_)))
    }

    fn mutate(&self, request: &mut Cow<'_, AdmissionRequest>, ctx: &EvaluationContext) -> MutationOutcome {
        self.mutate_with(request, ctx, None)
    }

    fn validate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> Vec<RuleResult> {
        self.validate_with(request, ctx, None)
    }
}

/// Values for the CLI: global, per-resource and per-rule maps already merged by the caller.
#[derive(Debug, Clone, Default)]
pub struct StaticValues {
    /// `(policy, rule or "*", dotted key, value)` entries; later entries win.
    pub entries: Vec<(String, String, String, Value)>,
}

impl ValueSource for StaticValues {
    fn values(&self, policy: &str, rule: &str) -> Vec<(String, Value)> {
        self.entries
            .iter()
            .filter(|(p, r, _, _)| {
                (p == "*" || p == policy)
                    && (r == "*" || r == rule || rule.ends_with(&format!("-{r}")) && rule.starts_with("autogen-"))
            })
            .map(|(_, _, k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Flattens nothing: helper to build a map from pairs.
pub fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<_, _>>())
}
