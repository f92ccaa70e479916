//! Runs the policies of one webhook call and times each policy: `/mutate` applies mutations in order,
//! `/validate` evaluates validations on the object as the API server sent it (already mutated).

use palisade_engine::patch::Touched;
use palisade_engine::{AdmissionPolicy, AdmissionRequest, EvaluationContext, PolicyRole, PolicySet, RuleResult};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which admission webhook is being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Webhook {
    /// `POST /validate` (a ValidatingWebhookConfiguration).
    Validate,
    /// `POST /mutate` (a MutatingWebhookConfiguration).
    Mutate,
}

impl Webhook {
    /// Kyverno's `request_webhook` label value.
    pub fn metric_label(self) -> &'static str {
        match self {
            Webhook::Validate => "ValidatingWebhookConfiguration",
            Webhook::Mutate => "MutatingWebhookConfiguration",
        }
    }

    /// The policies this webhook runs.
    pub fn role(self) -> PolicyRole {
        match self {
            Webhook::Validate => PolicyRole::Validating,
            Webhook::Mutate => PolicyRole::Mutating,
        }
    }

    /// Short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Validate => "validate",
            Webhook::Mutate => "mutate",
        }
    }
}

/// What one policy returned, and how long it took.
#[derive(Clone)]
pub struct PolicyRun {
    /// The policy.
    pub policy: Arc<dyn AdmissionPolicy>,
    /// Its rule results.
    pub results: Vec<RuleResult>,
    /// Wall time spent in the policy.
    pub elapsed: Duration,
}

impl std::fmt::Debug for PolicyRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyRun")
            .field("policy", &self.policy.name())
            .field("results", &self.results)
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

/// Everything the policies said about one webhook call.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// One entry per policy that ran, in order.
    pub runs: Vec<PolicyRun>,
    /// The mutated object, when a mutation changed it (`/mutate` only).
    pub patched: Option<Value>,
    /// What the mutations may have written: `patched` differs from the request's object only there.
    pub touched: Touched,
}

/// The policies of `set` that the webhook would run for `request`: by kind, and those with something to do on
/// this webhook (a policy with only mutate rules does not run on `/validate`, nor one without on `/mutate`).
pub fn relevant_policies<'a>(
    set: &'a PolicySet,
    webhook: Webhook,
    request: &AdmissionRequest,
) -> Vec<&'a Arc<dyn AdmissionPolicy>> {
    set.candidates_for(&request.kind.kind, webhook.role())
}

/// Whether [`relevant_policies`] would select any policy.
pub fn has_relevant_policies(set: &PolicySet, webhook: Webhook, request: &AdmissionRequest) -> bool {
    set.has_candidates_for(&request.kind.kind, webhook.role())
}

/// Evaluation stopped because the deadline passed; holds the policies that finished (nothing is patched then).
#[derive(Debug)]
pub struct Overrun(pub Vec<PolicyRun>);

impl Overrun {
    /// The evaluation as far as it went.
    pub fn into_evaluation(self) -> Evaluation {
        Evaluation { runs: self.0, ..Evaluation::default() }
    }
}

/// Runs the policies of `set` for `webhook` on `request`.
pub fn evaluate(set: &PolicySet, webhook: Webhook, request: &AdmissionRequest, ctx: &EvaluationContext) -> Evaluation {
    match evaluate_until(set, webhook, request, ctx, None) {
        Ok(eval) => eval,
        Err(overrun) => overrun.into_evaluation(),
    }
}

/// Like [`evaluate`], but checks `deadline` after each policy and stops once it has passed.
pub fn evaluate_until(
    set: &PolicySet,
    webhook: Webhook,
    request: &AdmissionRequest,
    ctx: &EvaluationContext,
    deadline: Option<Instant>,
) -> Result<Evaluation, Overrun> {
    let policies = relevant_policies(set, webhook, request);
    let late = |now: Instant| deadline.is_some_and(|d| now > d);
    match webhook {
        Webhook::Validate => {
            let mut runs = Vec::with_capacity(policies.len());
            // One clock read per policy: each policy's end is the next one's start.
            let mut start = Instant::now();
            for policy in policies {
                let results = policy.validate(request, ctx);
                let end = Instant::now();
                runs.push(PolicyRun { policy: Arc::clone(policy), results, elapsed: end - start });
                if late(end) {
                    return Err(Overrun(runs));
                }
                start = end;
            }
            Ok(Evaluation { runs, ..Evaluation::default() })
        }
        Webhook::Mutate => {
            // Nothing to patch when there is no new object (DELETE, some CONNECTs).
            if request.object.is_null() || policies.is_empty() {
                return Ok(Evaluation::default());
            }
            // Copied only when a policy first changes it.
            let mut current = Cow::Borrowed(request);
            let mut runs = Vec::with_capacity(policies.len());
            let mut touched = Touched::Nothing;
            let mut start = Instant::now();
            for policy in policies {
                let outcome = policy.mutate(&mut current, ctx);
                let end = Instant::now();
                touched.add(outcome.touched.as_ref().unwrap_or(&Touched::Everything));
                runs.push(PolicyRun { policy: Arc::clone(policy), results: outcome.results, elapsed: end - start });
                if late(end) {
                    return Err(Overrun(runs));
                }
                start = end;
            }
            let patched = match current {
                Cow::Owned(current) if !palisade_engine::json_eq::json_eq(&current.object, &request.object) => {
                    Some(current.object)
                }
                _ => None,
            };
            Ok(Evaluation { runs, patched, touched })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::{MutationOutcome, Operation, RuleKind, RuleStatus};
    use serde_json::json;

    struct AddLabel(&'static str);

    impl AdmissionPolicy for AddLabel {
        fn name(&self) -> &str {
            self.0
        }
        fn kinds(&self) -> Vec<String> {
            vec!["Pod".into()]
        }
        fn mutates(&self) -> bool {
            true
        }
        fn mutate(&self, request: &mut Cow<'_, AdmissionRequest>, _: &EvaluationContext) -> MutationOutcome {
            // Sees the previous policies' changes through the request.
            let seen = request.object["metadata"]["labels"].as_object().map(|m| m.len()).unwrap_or(0);
            request.to_mut().object["metadata"]["labels"][self.0] = json!(seen.to_string());
            MutationOutcome {
                results: vec![RuleResult::new(self.0, "add", RuleKind::Mutation, RuleStatus::Pass, "")],
                generated: vec![],
                touched: None,
            }
        }
        fn validate(&self, _: &AdmissionRequest, _: &EvaluationContext) -> Vec<RuleResult> {
            vec![RuleResult::new(self.0, "check", RuleKind::Validation, RuleStatus::Pass, "")]
        }
    }

    fn pod_request(operation: Operation) -> AdmissionRequest {
        AdmissionRequest::for_object(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}}}),
            operation,
        )
    }

    #[test]
    fn mutations_chain_and_produce_the_patched_object() {
        let mut set = PolicySet::new();
        set.add(Arc::new(AddLabel("a")));
        set.add(Arc::new(AddLabel("b")));
        let eval = evaluate(&set, Webhook::Mutate, &pod_request(Operation::Create), &EvaluationContext::default());
        assert_eq!(eval.runs.len(), 2);
        assert_eq!(eval.patched.unwrap()["metadata"]["labels"], json!({"a": "0", "b": "1"}));
    }

    #[test]
    fn a_passed_deadline_stops_after_the_current_policy() {
        let mut set = PolicySet::new();
        set.add(Arc::new(AddLabel("a")));
        set.add(Arc::new(AddLabel("b")));
        let past = Some(Instant::now());
        let ctx = EvaluationContext::default();
        for webhook in [Webhook::Validate, Webhook::Mutate] {
            let Err(Overrun(runs)) = evaluate_until(&set, webhook, &pod_request(Operation::Create), &ctx, past) else {
                panic!("{webhook:?} should overrun");
            };
            assert_eq!(runs.len(), 1, "{webhook:?}");
        }
    }

    #[test]
    fn each_webhook_runs_only_its_rules() {
        let mut set = PolicySet::new();
        set.add(Arc::new(AddLabel("a")));
        let ctx = EvaluationContext::default();
        let cases = [
            (Webhook::Validate, Operation::Create, 1, RuleKind::Validation, false),
            (Webhook::Mutate, Operation::Create, 1, RuleKind::Mutation, true),
            (Webhook::Mutate, Operation::Delete, 0, RuleKind::Mutation, false),
        ];
        for (webhook, op, runs, kind, patched) in cases {
            let eval = evaluate(&set, webhook, &pod_request(op), &ctx);
            assert_eq!(eval.runs.len(), runs, "{webhook:?} {op:?}");
            assert!(eval.runs.iter().flat_map(|r| &r.results).all(|r| r.kind == kind));
            assert_eq!(eval.patched.is_some(), patched, "{webhook:?} {op:?}");
        }
    }
}
