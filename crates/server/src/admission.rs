//! One admission call: parse the review, evaluate on a blocking thread under the deadline, decide, record
//! metrics and a log line, and encode the answer.

use crate::decision::{Decision, decide};
use crate::evaluate::{Evaluation, Webhook, evaluate, relevant_policies};
use crate::http::AppState;
use crate::review::{AdmissionResponse, encode_review, parse_review};
use crate::store::Snapshot;
use palisade_engine::{AdmissionRequest, ClusterData, EvaluationContext, FailurePolicy, PolicySet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the endpoint answers.
#[derive(Debug)]
pub enum AdmissionOutcome {
    /// An AdmissionReview (JSON) with the decision.
    Answer(Vec<u8>),
    /// The body is not a usable AdmissionReview.
    BadRequest(String),
    /// No policy set is loaded yet.
    NotReady,
}

fn context(snapshot: &Snapshot, request: &AdmissionRequest) -> EvaluationContext {
    let cluster = snapshot.cluster.clone();
    let namespace_labels = match (&cluster, request.namespace.is_empty()) {
        (Some(cluster), false) => cluster.namespace_labels(&request.namespace),
        _ => None,
    };
    EvaluationContext {
        namespace_labels,
        cluster: cluster.map(|c| c as Arc<dyn ClusterData>),
        ..EvaluationContext::default()
    }
}

/// Decision when evaluation could not finish (over budget, or a policy panicked): deny if any policy that
/// would have run has failurePolicy `Fail`, else allow with a warning.
fn failure_policy_decision(set: &PolicySet, webhook: Webhook, request: &AdmissionRequest, what: &str) -> Decision {
    let policies = relevant_policies(set, webhook, request);
    let names: Vec<&str> = policies.iter().map(|p| p.name()).collect();
    let failing: Vec<&str> =
        policies.iter().filter(|p| p.failure_policy() == FailurePolicy::Fail).map(|p| p.name()).collect();
    if failing.is_empty() {
        let mut decision = Decision::allow();
        decision
            .warnings
            .push(format!("palisade: {what} (policies: {}); allowed by failurePolicy Ignore", names.join(", ")));
        decision
    } else {
        Decision::deny(format!("palisade: {what}; denied by failurePolicy Fail of policies: {}", failing.join(", ")))
    }
}

/// Answers one admission call whose body was read by `start`; evaluation must end by `deadline`.
pub async fn admit(
    state: &AppState,
    webhook: Webhook,
    body: &[u8],
    start: Instant,
    deadline: Instant,
) -> AdmissionOutcome {
    let review = match parse_review(body) {
        Ok(review) => review,
        Err(e) => return AdmissionOutcome::BadRequest(e.to_string()),
    };
    let snapshot = state.store.snapshot();
    let Some(set) = snapshot.policies.clone() else {
        return AdmissionOutcome::NotReady;
    };
    let request = Arc::new(review.request);
    let mut timed_out = false;
    let (decision, eval) = if relevant_policies(&set, webhook, &request).is_empty() {
        // Nothing can apply: answer without a thread hop.
        (Decision::allow(), Evaluation::default())
    } else {
        let ctx = context(&snapshot, &request);
        let budget = deadline.saturating_duration_since(Instant::now());
        let task = {
            let (set, request) = (Arc::clone(&set), Arc::clone(&request));
            tokio::task::spawn_blocking(move || evaluate(&set, webhook, &request, &ctx))
        };
        match tokio::time::timeout(budget, task).await {
            Ok(Ok(eval)) => (decide(webhook, &request, &eval), eval),
            Ok(Err(join_error)) => {
                tracing::error!(uid = %request.uid, error = %join_error, "policy evaluation panicked");
                let decision = failure_policy_decision(&set, webhook, &request, "policy evaluation failed");
                (decision, Evaluation::default())
            }
            Err(_) => {
                timed_out = true;
                let what = format!("policy evaluation did not finish within its budget of {budget:?}");
                let decision = failure_policy_decision(&set, webhook, &request, &what);
                state.metrics.record_timeout(webhook, decision.allowed);
                (decision, Evaluation::default())
            }
        }
    };

    let mut response = if decision.allowed {
        AdmissionResponse::allow(&request.uid)
    } else {
        AdmissionResponse::deny(&request.uid, decision.message.clone().unwrap_or_default())
    };
    response.warnings = decision.warnings;
    if let Some(patch) = &decision.patch {
        match response.with_patch(patch) {
            Ok(patched) => response = patched,
            Err(e) => {
                tracing::error!(uid = %request.uid, error = %e, "cannot encode patch");
                response = AdmissionResponse::deny(&request.uid, format!("palisade: cannot encode patch: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    state.metrics.record_policy_runs(&request, &eval.runs);
    state.metrics.record_admission(webhook, &request, response.allowed, elapsed);
    log_decision(webhook, &request, &response, &eval, elapsed, timed_out);
    AdmissionOutcome::Answer(encode_review(&review.api_version, &response))
}

fn log_decision(
    webhook: Webhook,
    request: &AdmissionRequest,
    response: &AdmissionResponse,
    eval: &Evaluation,
    elapsed: Duration,
    timed_out: bool,
) {
    let decision = if response.allowed { "allow" } else { "deny" };
    let duration_us = elapsed.as_micros() as u64;
    let rules = eval.runs.iter().map(|r| r.results.len()).sum::<usize>();
    macro_rules! event {
        ($level:expr) => {
            tracing::event!(
                $level,
                uid = %request.uid,
                webhook = webhook.as_str(),
                kind = %request.kind.kind,
                namespace = %request.namespace,
                name = %request.name,
                operation = request.operation.as_str(),
                sub_resource = %request.sub_resource,
                dry_run = request.dry_run.unwrap_or(false),
                user = %request.user_info.username,
                decision,
                duration_us,
                policies = eval.runs.len(),
                rules,
                patched = response.patch.is_some(),
                warnings = response.warnings.len(),
                timed_out,
                reason = response.status.as_ref().map(|s| s.message.as_str()).unwrap_or_default(),
                "admission decision"
            )
        };
    }
    if response.allowed && !timed_out {
        event!(tracing::Level::DEBUG);
    } else {
        event!(tracing::Level::INFO);
    }
}
