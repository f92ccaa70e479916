//! Compiled templates and constraints, the [`AdmissionPolicy`] implementation and the loader.
//!
//! Results of a constraint: policy name = constraint name; rule name = constraint kind (the kind
//! the template defines, e.g. `K8sRequiredLabels`), which names the template across constraints.
//! Statuses: `deny` → Fail/Enforce, `dryrun` → Fail/Audit, `warn` → Warn/Audit (emitted as a
//! warning); messages are formatted like Gatekeeper's: `[constraint-name] message`.

use crate::cel::CelProgram;
use crate::constraint::{Action, ConstraintSpec, MatchTarget, WEBHOOK_POINT, is_constraint};
use crate::error::{ConstraintError, EvalError, TemplateError};
use crate::rego::{RegoEngine, RegoProgram, Violation};
use crate::review::{Inventory, Review, cel_value};
use crate::schema;
use crate::template::{EnginePreference, TemplateCode, TemplateSpec, is_template};
use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, Document, DocumentError, EvaluationContext, FailureAction, FailurePolicy,
    RuleKind, RuleResult, RuleStatus,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The evaluator chosen for a template.
#[derive(Debug)]
pub enum Evaluator {
    /// Rego.
    Rego(Box<RegoProgram>),
    /// CEL.
    Cel(CelProgram),
}

/// A compiled ConstraintTemplate.
#[derive(Debug)]
pub struct CompiledTemplate {
    /// The parsed template.
    pub spec: TemplateSpec,
    /// Its compiled code.
    pub evaluator: Evaluator,
}

impl CompiledTemplate {
    /// Parses and compiles a template document (Rego as bytecode where regorus can).
    pub fn compile(doc: &Value, preference: EnginePreference) -> Result<Self, TemplateError> {
        Self::compile_with(doc, preference, RegoEngine::default())
    }

    /// Parses and compiles a template document, evaluating Rego with `rego`.
    pub fn compile_with(doc: &Value, preference: EnginePreference, rego: RegoEngine) -> Result<Self, TemplateError> {
        let spec = TemplateSpec::parse(doc, preference)?;
        let evaluator = match &spec.code {
            TemplateCode::Rego(src) => Evaluator::Rego(Box::new(RegoProgram::compile_for(&spec.name, src, rego)?)),
            TemplateCode::Cel(src) => Evaluator::Cel(CelProgram::compile(&spec.name, src)?),
        };
        Ok(Self { spec, evaluator })
    }

    /// Engine name as Gatekeeper spells it (`Rego` or `K8sNativeValidation`).
    pub fn engine(&self) -> &'static str {
        match self.evaluator {
            Evaluator::Rego(_) => crate::template::REGO_ENGINE,
            Evaluator::Cel(_) => crate::template::CEL_ENGINE,
        }
    }
}

/// A constraint bound to its compiled template.
pub struct CompiledConstraint {
    /// The parsed constraint.
    pub spec: ConstraintSpec,
    /// The template defining its kind.
    pub template: Arc<CompiledTemplate>,
    params_rego: regorus::Value,
    params_cel: kube_cel::cel::Value,
    constraint_cel: kube_cel::cel::Value,
}

impl std::fmt::Debug for CompiledConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledConstraint").field("spec", &self.spec).finish_non_exhaustive()
    }
}

impl CompiledConstraint {
    /// Binds a constraint to `template`, checking its parameters against the template schema.
    pub fn new(spec: ConstraintSpec, template: Arc<CompiledTemplate>) -> Result<Self, ConstraintError> {
        if spec.kind != template.spec.kind {
            return Err(ConstraintError::UnknownKind { name: spec.name.clone(), kind: spec.kind.clone() });
        }
        if let Some(s) = &template.spec.schema {
            schema::check(s, &spec.parameters)
                .map_err(|message| ConstraintError::Schema { name: spec.name.clone(), message })?;
        }
        let params_rego = crate::rego::to_rego(&spec.parameters);
        let params_cel = cel_value(&spec.parameters);
        let constraint_cel = cel_value(&spec.raw);
        Ok(Self { spec, template, params_rego, params_cel, constraint_cel })
    }

    /// Whether the constraint's `match` selects the review's object (or its old object).
    pub fn matches(&self, review: &Review, namespace_labels: Option<&BTreeMap<String, String>>) -> bool {
        let gvk = review.gvk();
        let mut target = MatchTarget {
            group: &gvk.group,
            kind: &gvk.kind,
            namespace: review.namespace(),
            object: review.object(),
            namespace_labels,
        };
        if self.spec.matcher.matches(&target) {
            return true;
        }
        let old = review.old_object();
        if old.is_null() || std::ptr::eq(old, review.object()) || old == review.object() {
            return false;
        }
        target.object = old;
        self.spec.matcher.matches(&target)
    }

    /// Evaluates the template for this constraint (the caller checks [`Self::matches`]).
    pub fn evaluate(&self, review: &Review, inventory: &Inventory) -> Result<Vec<Violation>, EvalError> {
        match &self.template.evaluator {
            Evaluator::Rego(p) => p.evaluate(review.rego(), &self.params_rego, inventory.rego()),
            Evaluator::Cel(p) => Ok(p.evaluate(review.cel(), &self.constraint_cel, &self.params_cel)),
        }
    }

    fn result(&self, status: RuleStatus, message: String, action: Option<Action>) -> RuleResult {
        let mut r =
            RuleResult::new(self.spec.name.as_str(), self.spec.kind.as_str(), RuleKind::Validation, status, message);
        r.action = if action == Some(Action::Deny) { FailureAction::Enforce } else { FailureAction::Audit };
        r.emit_warning = action == Some(Action::Warn) && status == RuleStatus::Warn;
        r
    }

    /// The inventory this constraint's template reads: the synced kinds, from the cluster, shared
    /// by every constraint of the request that syncs the same kinds; empty otherwise.
    fn inventory_for(&self, data: &RequestData, ctx: &EvaluationContext) -> Arc<Inventory> {
        let Some(cluster) = ctx.cluster.as_ref().filter(|_| self.template.spec.referential) else {
            return data.empty_inventory.clone();
        };
        let kinds = &self.template.spec.sync_kinds;
        let mut cache = match data.inventories.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(inventory) = cache.iter().find(|(k, _)| k == kinds).map(|(_, i)| i.clone()) {
            return inventory;
        }
        let mut objects = Vec::new();
        for (_, _, kind) in kinds {
            objects.extend(cluster.list(kind, None));
        }
        let inventory = Arc::new(Inventory::from_objects(objects.iter()));
        cache.push((kinds.clone(), inventory.clone()));
        inventory
    }
}

/// What the constraints evaluating one request share (built once per request through the
/// context's memo): the review, converted at most once per engine, the namespace labels and
/// the inventories.
struct RequestData {
    review: Review,
    namespace_labels: Option<BTreeMap<String, String>>,
    empty_inventory: Arc<Inventory>,
    inventories: Mutex<Vec<(SyncKinds, Arc<Inventory>)>>,
}

/// The `(group, version, kind)` list a referential template syncs.
type SyncKinds = Vec<(String, String, String)>;

impl RequestData {
    fn new(request: &AdmissionRequest, ctx: &EvaluationContext) -> Self {
        let review = Review::from_request(request);
        let namespace_labels = ctx.namespace_labels.clone().or_else(|| {
            let ns = review.namespace();
            ctx.cluster.as_ref().filter(|_| !ns.is_empty()).and_then(|c| c.namespace_labels(ns))
        });
        Self { review, namespace_labels, empty_inventory: Arc::default(), inventories: Mutex::default() }
    }
}

impl AdmissionPolicy for CompiledConstraint {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn kinds(&self) -> Vec<String> {
        self.spec.matcher.kinds()
    }

    /// Gatekeeper installs its webhook with `failurePolicy: Ignore`.
    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::Ignore
    }

    fn validate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> Vec<RuleResult> {
        let Some(action) = self.spec.enforcement.at(WEBHOOK_POINT) else { return Vec::new() };
        let data = ctx.memo.get_or_build(request, || RequestData::new(request, ctx));
        if !self.matches(&data.review, data.namespace_labels.as_ref()) {
            return Vec::new();
        }
        let inventory = self.inventory_for(&data, ctx);
        match self.evaluate(&data.review, &inventory) {
            Ok(violations) if violations.is_empty() => {
                vec![self.result(RuleStatus::Pass, String::new(), Some(action))]
            }
            Ok(violations) => {
                let status = if action == Action::Warn { RuleStatus::Warn } else { RuleStatus::Fail };
                violations
                    .into_iter()
                    .map(|v| self.result(status, format!("[{}] {}", self.spec.name, v.msg), Some(action)))
                    .collect()
            }
            Err(e) => vec![self.result(RuleStatus::Error, format!("[{}] {e}", self.spec.name), None)],
        }
    }
}

/// Options for [`compile_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CompileOptions {
    /// Engine to use for templates that ship both Rego and CEL.
    pub engine: EnginePreference,
    /// How Rego is evaluated.
    pub rego: RegoEngine,
}

/// Compiles templates and constraints (in any order) into admission policies, one per
/// constraint. Documents of other kinds are ignored. Errors name the template or constraint
/// and the file.
pub fn compile(docs: &[Document]) -> Result<Vec<Arc<dyn AdmissionPolicy>>, Vec<DocumentError>> {
    let compiled = compile_with(docs, CompileOptions::default())?;
    Ok(compiled.into_iter().map(|c| c as Arc<dyn AdmissionPolicy>).collect())
}

/// Like [`compile`], returning the typed constraints.
pub fn compile_with(
    docs: &[Document],
    options: CompileOptions,
) -> Result<Vec<Arc<CompiledConstraint>>, Vec<DocumentError>> {
    let mut errors = Vec::new();
    let mut templates: HashMap<String, Arc<CompiledTemplate>> = HashMap::new();
    for doc in docs.iter().filter(|d| is_template(&d.value)) {
        match CompiledTemplate::compile_with(&doc.value, options.engine, options.rego) {
            Ok(t) => {
                if templates.insert(t.spec.kind.clone(), Arc::new(t)).is_some() {
                    errors.push(doc.error_at("spec.crd.spec.names.kind", "another template defines the same kind"));
                }
            }
            Err(e) => errors.push(doc.error_at("", e.to_string())),
        }
    }
    let mut out = Vec::new();
    for doc in docs.iter().filter(|d| is_constraint(&d.value)) {
        let compiled = ConstraintSpec::parse(&doc.value).and_then(|spec| {
            let template = templates
                .get(&spec.kind)
                .cloned()
                .ok_or_else(|| ConstraintError::UnknownKind { name: spec.name.clone(), kind: spec.kind.clone() })?;
            CompiledConstraint::new(spec, template)
        });
        match compiled {
            Ok(c) => out.push(Arc::new(c)),
            Err(e @ ConstraintError::Schema { .. }) => errors.push(doc.error_at("spec.parameters", e.to_string())),
            Err(e) => errors.push(doc.error_at("", e.to_string())),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::{Operation, parse_documents};
    use serde_json::json;

    const DOCS: &str = r#"
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sMaxReplicas
metadata: {name: max-3}
spec:
  enforcementAction: ENFORCEMENT
  match: {kinds: [{apiGroups: ["apps"], kinds: ["Deployment"]}]}
  parameters: {max: 3}
---
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8smaxreplicas}
spec:
  crd:
    spec:
      names: {kind: K8sMaxReplicas}
      validation: {openAPIV3Schema: {type: object, properties: {max: {type: integer}}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    rego: |
      package k8smaxreplicas
      violation[{"msg": msg}] {
        input.review.object.spec.replicas > input.parameters.max
        msg := sprintf("replicas %v > %v", [input.review.object.spec.replicas, input.parameters.max])
      }
"#;

    fn policies(action: &str) -> Vec<Arc<dyn AdmissionPolicy>> {
        compile(&parse_documents("p.yaml", &DOCS.replace("ENFORCEMENT", action)).unwrap()).unwrap()
    }

    fn request(replicas: i64) -> AdmissionRequest {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
            "spec": {"replicas": replicas}});
        AdmissionRequest::for_object(d, Operation::Create)
    }

    #[test]
    fn enforcement_actions_map_to_results() {
        let cases = [
            ("deny", 5, RuleStatus::Fail, FailureAction::Enforce),
            ("dryrun", 5, RuleStatus::Fail, FailureAction::Audit),
            ("warn", 5, RuleStatus::Warn, FailureAction::Audit),
            ("deny", 2, RuleStatus::Pass, FailureAction::Enforce),
        ];
        for (action, replicas, status, failure_action) in cases {
            let p = &policies(action)[0];
            assert_eq!(p.name(), "max-3");
            assert_eq!(p.kinds(), vec!["Deployment"]);
            let results = p.validate(&request(replicas), &EvaluationContext::default());
            assert_eq!(results.len(), 1, "{action}");
            assert_eq!((results[0].status, results[0].action), (status, failure_action), "{action}");
            assert_eq!(&*results[0].rule, "K8sMaxReplicas");
            if status != RuleStatus::Pass {
                assert_eq!(&*results[0].message, "[max-3] replicas 5 > 3");
            }
        }
    }

    #[test]
    fn unmatched_objects_yield_nothing() {
        let p = &policies("deny")[0];
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"replicas": 9}});
        assert!(
            p.validate(&AdmissionRequest::for_object(pod, Operation::Create), &EvaluationContext::default()).is_empty()
        );
    }

    #[test]
    fn load_errors_name_the_document() {
        let bad_params = DOCS.replace("ENFORCEMENT", "deny").replace("{max: 3}", "{max: three}");
        let errs = compile(&parse_documents("p.yaml", &bad_params).unwrap()).err().unwrap();
        assert!(errs[0].message.contains("max-3") && errs[0].message.contains("integer"), "{errs:?}");
        let no_template = DOCS.split("---").next().unwrap().replace("ENFORCEMENT", "deny");
        let errs = compile(&parse_documents("c.yaml", &no_template).unwrap()).err().unwrap();
        assert!(errs[0].to_string().starts_with("c.yaml"), "{errs:?}");
        assert!(errs[0].message.contains("K8sMaxReplicas"));
    }
}
