//! The compiled `RuntimeClassPolicy` and its [`AdmissionPolicy`] implementation.

use crate::decision::{Assessment, assess, describe};
use crate::messages as msg;
use crate::settings::Settings;
use crate::workload::{KINDS, Malformed, PodSpec, WorkloadKind};
use crate::{RULE_COMPATIBILITY, RULE_EXISTS, RULE_MUTATE, RULE_RUNTIME};
use palisade_engine::patch::Touched;
use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, EvaluationContext, FailureAction, FailurePolicy, GroupVersionKind,
    MutationOutcome, Operation, RuleKind, RuleResult, RuleStatus,
};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A compiled `RuntimeClassPolicy`.
#[derive(Debug, Clone)]
pub struct RuntimeClassPolicy {
    name: String,
    settings: Settings,
}

/// A request the policy applies to.
struct Target {
    kind: WorkloadKind,
    /// Existing Pod or Job on UPDATE: `runtimeClassName` cannot change.
    immutable_update: bool,
}

impl RuntimeClassPolicy {
    /// A policy named `name` with compiled settings.
    pub fn new(name: impl Into<String>, settings: Settings) -> Self {
        Self { name: name.into(), settings }
    }

    /// The compiled settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Whether the policy applies to the request: kind, operation, subresource, match/exclude.
    fn target(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> Option<Target> {
        let kind = WorkloadKind::of(&request.kind)?;
        if !matches!(request.operation, Operation::Create | Operation::Update) {
            return None;
        }
        let sub_ok = request.sub_resource.is_empty()
            || (kind == WorkloadKind::Pod && request.sub_resource == "ephemeralcontainers");
        if !sub_ok {
            return None;
        }
        if self.settings.match_block.is_some() || self.settings.exclude_block.is_some() {
            let owned_view;
            let view = match kind {
                WorkloadKind::Pod => request,
                _ => {
                    owned_view = pod_view(request, kind);
                    &owned_view
                }
            };
            if self.settings.match_block.as_ref().is_some_and(|m| !m.matches(view, ctx)) {
                return None;
            }
            if self.settings.exclude_block.as_ref().is_some_and(|e| e.matches(view, ctx)) {
                return None;
            }
        }
        let immutable_update = request.operation == Operation::Update && kind.runtime_immutable();
        Some(Target { kind, immutable_update })
    }

    fn result(&self, rule: &str, status: RuleStatus, message: String) -> RuleResult {
        let mut r = RuleResult::new(self.name.as_str(), rule, RuleKind::Validation, status, message);
        r.action = self.settings.action;
        r.emit_warning = self.settings.emit_warning && self.settings.action == FailureAction::Audit;
        r
    }

    fn mutation(&self, status: RuleStatus, message: String) -> RuleResult {
        let mut r = RuleResult::new(self.name.as_str(), RULE_MUTATE, RuleKind::Mutation, status, message);
        r.action = self.settings.action;
        r
    }

    fn sandbox_list(&self) -> String {
        self.settings.sandbox.display.join(", ")
    }

    /// `runtime-class` for a workload that must move.
    fn runtime_failure(
        &self,
        target: &Target,
        pod: &PodSpec<'_>,
        a: &Assessment,
        old: Option<&Assessment>,
    ) -> RuleResult {
        let field = pod.runtime_field();
        let fallback = self.settings.fallback.as_deref();
        if target.immutable_update {
            let introduced: Vec<_> =
                a.reasons.iter().filter(|r| old.is_none_or(|o| !o.reasons.contains(r))).cloned().collect();
            let kind = target.kind.as_str();
            return if introduced.is_empty() {
                self.result(RULE_RUNTIME, RuleStatus::Warn, msg::update_kept(&describe(&a.reasons), &field, kind))
            } else {
                self.result(
                    RULE_RUNTIME,
                    RuleStatus::Fail,
                    msg::update_denied(&describe(&introduced), &field, kind, fallback),
                )
            };
        }
        let reasons = describe(&a.reasons);
        let message = match (fallback, self.settings.action) {
            (Some(f), FailureAction::Audit) => msg::would_move(&reasons, &field, f),
            (Some(f), FailureAction::Enforce) => msg::not_moved(&reasons, &field, f),
            (None, _) => {
                let list = self.sandbox_list();
                msg::denied(&reasons, &field, a.needs_sandbox().then_some(list.as_str()))
            }
        };
        self.result(RULE_RUNTIME, RuleStatus::Fail, message)
    }

    fn exists_result(
        &self,
        target: &Target,
        pod: &PodSpec<'_>,
        runtime: Option<&str>,
        ctx: &EvaluationContext,
    ) -> RuleResult {
        if target.immutable_update {
            return self.result(RULE_EXISTS, RuleStatus::Skip, msg::existing_not_rechecked(target.kind.as_str()));
        }
        let Some(name) = runtime else {
            return self.result(RULE_EXISTS, RuleStatus::Skip, msg::no_runtime_to_check());
        };
        if let Some(problem) = crate::names::name_problem(name) {
            return self.result(RULE_EXISTS, RuleStatus::Fail, problem);
        }
        match &ctx.cluster {
            None => self.result(RULE_EXISTS, RuleStatus::Warn, msg::class_unchecked(name)),
            Some(cluster) => match cluster.get("RuntimeClass", "", name) {
                None => self.result(RULE_EXISTS, RuleStatus::Fail, msg::class_missing(name)),
                Some(class) => match node_selector_conflict(&class, pod) {
                    Some((key, want, have)) => {
                        let field = format!("{}.nodeSelector", pod.path);
                        self.result(
                            RULE_EXISTS,
                            RuleStatus::Fail,
                            msg::selector_conflict(name, &key, &want, &field, &have),
                        )
                    }
                    None => self.result(RULE_EXISTS, RuleStatus::Pass, msg::class_exists(name)),
                },
            },
        }
    }

    fn compatibility_result(&self, target: &Target, pod: &PodSpec<'_>, runtime: Option<&str>) -> Option<RuleResult> {
        let compat = &self.settings.compatibility;
        if !compat.check {
            return None;
        }
        if target.immutable_update {
            let message = msg::existing_compatibility(target.kind.as_str());
            return Some(self.result(RULE_COMPATIBILITY, RuleStatus::Skip, message));
        }
        let Some(name) = runtime.filter(|r| self.settings.sandbox.contains(r)) else {
            return Some(self.result(RULE_COMPATIBILITY, RuleStatus::Skip, msg::not_a_sandbox(runtime)));
        };
        let uses = match pod.host_uses() {
            Ok(u) => u,
            Err(e) => return Some(self.result(RULE_COMPATIBILITY, RuleStatus::Error, e.to_string())),
        };
        let blocked: Vec<&str> =
            uses.iter().filter(|u| !compat.allow.contains(&u.feature)).map(|u| u.text.as_str()).collect();
        Some(if blocked.is_empty() {
            self.result(RULE_COMPATIBILITY, RuleStatus::Pass, msg::compatible(name))
        } else {
            self.result(RULE_COMPATIBILITY, RuleStatus::Fail, msg::incompatible(name, &blocked.join(", "), &self.name))
        })
    }
}

/// The Pod a controller describes, for match/exclude: kind `v1/Pod`, the template's labels
/// and annotations, the controller's name and namespace, the request's user and operation.
fn pod_view(request: &AdmissionRequest, kind: WorkloadKind) -> AdmissionRequest {
    let object = request.subject();
    let template_meta = kind.template_metadata_pointer().and_then(|p| object.pointer(p));
    let mut metadata = Map::new();
    let name = object.pointer("/metadata/name").cloned().unwrap_or_else(|| Value::String(request.name.clone()));
    metadata.insert("name".into(), name);
    let namespace =
        object.pointer("/metadata/namespace").cloned().unwrap_or_else(|| Value::String(request.namespace.clone()));
    metadata.insert("namespace".into(), namespace);
    for key in ["labels", "annotations"] {
        if let Some(v) = template_meta.and_then(|m| m.get(key)) {
            metadata.insert(key.into(), v.clone());
        }
    }
    let pod = Value::Object(Map::from_iter([
        ("apiVersion".to_string(), Value::String("v1".into())),
        ("kind".to_string(), Value::String("Pod".into())),
        ("metadata".to_string(), Value::Object(metadata)),
    ]));
    let (object, old_object) = if request.object.is_null() { (Value::Null, pod) } else { (pod, Value::Null) };
    AdmissionRequest {
        kind: GroupVersionKind { group: String::new(), version: "v1".into(), kind: "Pod".into() },
        name: request.name.clone(),
        namespace: request.namespace.clone(),
        operation: request.operation,
        user_info: request.user_info.clone(),
        object,
        old_object,
        ..AdmissionRequest::default()
    }
}

/// A key the RuntimeClass's `scheduling.nodeSelector` and the pod's `nodeSelector` both set to
/// different values (`(key, class value, pod value)`): the API server would reject the pod.
fn node_selector_conflict(class: &Value, pod: &PodSpec<'_>) -> Option<(String, String, String)> {
    let wanted = class.pointer("/scheduling/nodeSelector")?.as_object()?;
    let have = pod.spec.get("nodeSelector")?.as_object()?;
    wanted.iter().find_map(|(key, want)| {
        let got = have.get(key)?;
        (got != want).then(|| {
            let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            (key.clone(), text(want), text(got))
        })
    })
}

/// The controlling owner of a controller (`(kind, name)`), if another controller manages it.
fn controller_owner(kind: WorkloadKind, object: &Value) -> Option<(&str, &str)> {
    if kind == WorkloadKind::Pod {
        return None;
    }
    object.pointer("/metadata/ownerReferences")?.as_array()?.iter().find_map(|r| {
        (r.get("controller").and_then(Value::as_bool) == Some(true)).then(|| {
            (
                r.get("kind").and_then(Value::as_str).unwrap_or_default(),
                r.get("name").and_then(Value::as_str).unwrap_or_default(),
            )
        })
    })
}

impl AdmissionPolicy for RuntimeClassPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> Vec<String> {
        KINDS.iter().map(|k| k.to_string()).collect()
    }

    fn failure_policy(&self) -> FailurePolicy {
        self.settings.failure_policy
    }

    fn mutates(&self) -> bool {
        self.settings.action == FailureAction::Enforce && self.settings.fallback.is_some()
    }

    fn mutate(&self, request: &mut Cow<'_, AdmissionRequest>, ctx: &EvaluationContext) -> MutationOutcome {
        // Nothing written unless the runtime class is set below.
        let mut out = MutationOutcome { touched: Some(Touched::Nothing), ..MutationOutcome::default() };
        let Some(fallback) = self.settings.fallback.as_deref().filter(|_| self.mutates()) else { return out };
        let Some(target) = self.target(request, ctx) else { return out };
        let object = &request.object;
        if controller_owner(target.kind, object).is_some() {
            return out;
        }
        if target.immutable_update {
            let field = format!("{}.runtimeClassName", target.kind.spec_path());
            out.results.push(self.mutation(RuleStatus::Skip, msg::immutable(&field, target.kind.as_str())));
            return out;
        }
        let assessed = PodSpec::locate(target.kind, object)
            .and_then(|pod| Ok((pod.runtime_field(), assess(&self.settings, &pod)?)));
        let (field, assessment) = match assessed {
            Ok(v) => v,
            Err(e) => {
                out.results.push(self.mutation(RuleStatus::Error, e.to_string()));
                return out;
            }
        };
        if !assessment.must_move() {
            out.results.push(self.mutation(RuleStatus::Skip, msg::nothing_to_change()));
            return out;
        }
        // The working request is copied only here, when the runtime class is set.
        match request.to_mut().object.pointer_mut(target.kind.spec_pointer()).and_then(Value::as_object_mut) {
            Some(spec) => {
                spec.insert("runtimeClassName".into(), Value::String(fallback.to_string()));
                out.touched = None;
                out.results.push(
                    self.mutation(RuleStatus::Pass, msg::moved(&describe(&assessment.reasons), &field, fallback)),
                );
            }
            None => {
                out.results.push(self.mutation(
                    RuleStatus::Error,
                    Malformed(format!("{} is missing", target.kind.spec_path())).to_string(),
                ))
            }
        }
        out
    }

    fn validate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> Vec<RuleResult> {
        let Some(target) = self.target(request, ctx) else { return Vec::new() };
        let object = &request.object;
        if let Some((owner_kind, owner_name)) = controller_owner(target.kind, object) {
            let message = msg::owned(target.kind.as_str(), owner_kind, owner_name);
            return vec![self.result(RULE_RUNTIME, RuleStatus::Skip, message)];
        }
        let pod = match PodSpec::locate(target.kind, object) {
            Ok(pod) => pod,
            Err(e) => return vec![self.result(RULE_RUNTIME, RuleStatus::Error, e.to_string())],
        };
        let assessment = match assess(&self.settings, &pod) {
            Ok(a) => a,
            Err(e) => return vec![self.result(RULE_RUNTIME, RuleStatus::Error, e.to_string())],
        };
        let mut out = Vec::with_capacity(3);
        if assessment.must_move() {
            // On UPDATE, reasons the existing object already had are not held against the update.
            let old = target
                .immutable_update
                .then(|| PodSpec::locate(target.kind, &request.old_object).ok())
                .flatten()
                .and_then(|old_pod| assess(&self.settings, &old_pod).ok());
            out.push(self.runtime_failure(&target, &pod, &assessment, old.as_ref()));
        } else {
            let message = match assessment.runtime.as_deref() {
                None => msg::default_allowed(),
                Some(name) if assessment.triggered => msg::allowed_sandbox(name),
                Some(name) => msg::allowed(name),
            };
            out.push(self.result(RULE_RUNTIME, RuleStatus::Pass, message));
        }
        // The runtime the workload would run on: the fallback when a move is pending.
        let pending = assessment.must_move() && !target.immutable_update;
        let effective = match (&self.settings.fallback, pending) {
            (Some(f), true) => Some(f.as_str()),
            _ => assessment.runtime.as_deref(),
        };
        out.push(self.exists_result(&target, &pod, effective, ctx));
        out.extend(self.compatibility_result(&target, &pod, effective));
        out
    }
}
