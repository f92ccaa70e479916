//! One admission call: parse the review, evaluate on a blocking thread under the deadline, decide, record
//! metrics and a log line, and encode the answer.

use crate::decision::{Decision, decide};
use crate::evaluate::{Evaluation, Webhook, evaluate_until, has_relevant_policies, relevant_policies};
use crate::http::AppState;
use crate::review::{AdmissionResponse, Message, encode_review, parse_review};
use crate::store::Snapshot;
use palisade_engine::{AdmissionRequest, EvaluationContext, FailurePolicy, Messages, PolicySet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// How an evaluation ended.
enum Finished {
    /// Every policy ran.
    Done(Evaluation),
    /// The budget ran out; the policies that finished, if known.
    Overrun(Evaluation),
    /// A policy panicked.
    Panicked(String),
}

/// How long evaluation stays on the blocking pool after an evaluation took longer than the threshold.
const THREADED_PERIOD: Duration = Duration::from_secs(10);

/// Where evaluation runs. While evaluations are fast it runs inline on the async worker (no thread hop),
/// checking the deadline after each policy. After any evaluation takes longer than the threshold, it runs on
/// tokio's blocking pool for the next 10 s, where a hard timeout answers at the deadline whatever the policy
/// is doing.
///
/// Evaluations on the blocking pool hold a permit until they end, even when their request was already
/// answered at the deadline: a burst of slow requests cannot pile up unbounded threads and memory; a
/// request that gets no permit within its budget is answered by failurePolicy.
#[derive(Debug)]
pub struct Placement {
    threshold: Duration,
    epoch: Instant,
    /// Nanoseconds after `epoch` until which evaluation runs on the blocking pool.
    threaded_until: AtomicU64,
    /// Evaluations allowed on the blocking pool at once.
    threaded: Arc<tokio::sync::Semaphore>,
}

/// Blocking-pool evaluations per CPU at once (they are CPU-bound; more only queue memory).
const THREADED_PER_CPU: usize = 4;

impl Placement {
    /// `threshold` zero: always on the blocking pool.
    pub fn new(threshold: Duration) -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_limit(threshold, THREADED_PER_CPU * cpus)
    }

    /// Like [`Placement::new`], with at most `limit` evaluations on the blocking pool at once.
    pub fn with_limit(threshold: Duration, limit: usize) -> Self {
        Self {
            threshold,
            epoch: Instant::now(),
            threaded_until: AtomicU64::new(0),
            threaded: Arc::new(tokio::sync::Semaphore::new(limit.max(1))),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Whether the next evaluation may run inline.
    pub fn inline(&self) -> bool {
        !self.threshold.is_zero() && self.now() >= self.threaded_until.load(Ordering::Relaxed)
    }

    /// Records how long an evaluation took (wall clock), on the thread that ran it.
    ///
    /// A wall-clock time over the threshold is slow policy work only if the thread was on the CPU for it: a
    /// thread preempted under load (or on a VM whose host takes the CPU away) would otherwise send every
    /// evaluation to the blocking pool, which is slower, at the moment the server is busiest. So a slow
    /// evaluation moves evaluation to the blocking pool if it waited for an answer (an apiCall), or unless the
    /// thread's CPU time since its last mark, taken before the evaluation started, shows the evaluation
    /// cannot have used the threshold.
    pub fn observe(&self, elapsed: Duration) {
        if self.threshold.is_zero() {
            return;
        }
        // An evaluation that waited for an answer (an apiCall) was slow by its own doing, whatever the CPU says.
        let waited = palisade_engine::api_call::take_waited();
        let slow = elapsed > self.threshold;
        let cpu_bound = cpu_mark::tick(slow);
        if !slow {
            return;
        }
        if !waited
            && let Some(cpu) = cpu_bound
            && cpu <= self.threshold
        {
            tracing::debug!(
                elapsed = ?elapsed,
                cpu_at_most = ?cpu,
                threshold = ?self.threshold,
                "evaluation was slow by the clock but not on the CPU (thread preempted): staying inline"
            );
            return;
        }
        let until = self.now() + THREADED_PERIOD.as_nanos() as u64;
        if self.threaded_until.swap(until, Ordering::Relaxed) < self.now() {
            tracing::info!(
                elapsed = ?elapsed,
                cpu_at_most = ?cpu_bound,
                threshold = ?self.threshold,
                "slow policy evaluation: evaluating on the blocking pool for the next 10 s"
            );
        }
    }
}

/// Per-thread marks of CPU time, refreshed every [`cpu_mark::EVERY`] evaluations: reading the thread's CPU
/// clock is a system call (about 0.5 µs on a VM), too dear for every request, and a mark a few
/// evaluations old still bounds the CPU time of the evaluation that just ended.
mod cpu_mark {
    use std::cell::Cell;
    use std::time::Duration;

    /// Evaluations between two readings of the CPU clock on one thread.
    pub const EVERY: u32 = 32;

    thread_local! {
        /// Evaluations since the last reading, and the thread's CPU time then.
        static MARK: Cell<(u32, Option<Duration>)> = const { Cell::new((0, None)) };
    }

    fn thread_cpu() -> Option<Duration> {
        cpu_time::ThreadTime::try_now().ok().map(|t| t.as_duration())
    }

    /// Counts an evaluation that just ended on this thread. When `measure` (it looked slow), returns the most
    /// CPU time the evaluation can have used (the thread's CPU time since the last mark), if there is a mark.
    pub fn tick(measure: bool) -> Option<Duration> {
        MARK.with(|mark| {
            let (count, since) = mark.get();
            if !measure && count > 0 && count < EVERY {
                mark.set((count + 1, since));
                return None;
            }
            let now = thread_cpu();
            mark.set((1, now.or(since)));
            if measure { now.zip(since).map(|(now, since)| now.saturating_sub(since)) } else { None }
        })
    }
}

fn context(snapshot: &Snapshot, request: &AdmissionRequest) -> EvaluationContext {
    let cluster = snapshot.cluster.clone();
    let namespace_labels = match (&cluster, request.namespace.is_empty()) {
        (Some(cluster), false) => cluster.namespace_labels(&request.namespace),
        _ => None,
    };
    // Only messages the response can show are built (the others are counted, never read).
    EvaluationContext { namespace_labels, cluster, messages: Messages::Shown, ..EvaluationContext::default() }
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
    let (mut decision, eval) = if !has_relevant_policies(&set, webhook, &request) {
        // Nothing can apply: answer at once.
        (Decision::allow(), Evaluation::default())
    } else {
        let ctx = context(&snapshot, &request);
        let budget = deadline.saturating_duration_since(Instant::now());
        let finished = if state.placement.inline() {
            let started = Instant::now();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                evaluate_until(&set, webhook, &request, &ctx, Some(deadline))
            }));
            state.placement.observe(started.elapsed());
            match result {
                Ok(Ok(eval)) => Finished::Done(eval),
                Ok(Err(overrun)) => Finished::Overrun(overrun.into_evaluation()),
                Err(_) => Finished::Panicked("a policy panicked".to_string()),
            }
        } else {
            let placement = Arc::clone(&state.placement);
            let threaded = Arc::clone(&placement.threaded);
            let (set, request) = (Arc::clone(&set), Arc::clone(&request));
            let run = async move {
                // The permit moves into the task and is released when the evaluation ends.
                let Ok(permit) = threaded.acquire_owned().await else {
                    return Finished::Overrun(Evaluation::default());
                };
                let task = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let started = Instant::now();
                    let result = evaluate_until(&set, webhook, &request, &ctx, Some(deadline));
                    placement.observe(started.elapsed());
                    result
                });
                match task.await {
                    Ok(Ok(eval)) => Finished::Done(eval),
                    Ok(Err(overrun)) => Finished::Overrun(overrun.into_evaluation()),
                    Err(join_error) => Finished::Panicked(join_error.to_string()),
                }
            };
            tokio::time::timeout(budget, run).await.unwrap_or(Finished::Overrun(Evaluation::default()))
        };
        match finished {
            Finished::Done(eval) => (decide(webhook, &request, &eval), eval),
            Finished::Panicked(error) => {
                tracing::error!(uid = %request.uid, %error, "policy evaluation panicked");
                let decision = failure_policy_decision(&set, webhook, &request, "policy evaluation failed");
                (decision, Evaluation::default())
            }
            Finished::Overrun(partial) => {
                timed_out = true;
                let what = format!("policy evaluation did not finish within its budget of {budget:?}");
                let decision = failure_policy_decision(&set, webhook, &request, &what);
                state.metrics.record_timeout(webhook, decision.allowed);
                (decision, partial)
            }
        }
    };

    let mut response = if decision.allowed {
        AdmissionResponse::allow(&request.uid)
    } else {
        AdmissionResponse::deny(&request.uid, decision.message.take().unwrap_or_else(|| Message::from("")))
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

/// The `reason` logged for an allowed request.
static NO_REASON: Message = Message::Text(String::new());

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
                // Written (and a JSON form unescaped) only when the event is recorded.
                reason = %response.status.as_ref().map_or(&NO_REASON, |s| &s.message),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until this thread has used `cpu` more CPU time.
    fn burn(cpu: Duration) {
        let start = cpu_time::ThreadTime::now();
        let mut x = 0u64;
        while start.elapsed() < cpu {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    #[test]
    fn slow_evaluations_move_to_threads() {
        let placement = Placement::new(Duration::from_millis(2));
        assert!(placement.inline());
        placement.observe(Duration::from_micros(500));
        assert!(placement.inline());
        // Slow by the clock only (the thread was not on the CPU for it): stays inline.
        std::thread::sleep(Duration::from_millis(3));
        placement.observe(Duration::from_millis(3));
        assert!(placement.inline());
        // Slow on the CPU: moves to the blocking pool.
        burn(Duration::from_millis(3));
        placement.observe(Duration::from_millis(3));
        assert!(!placement.inline());
        // Slow by the clock while waiting for an apiCall's answer: moves to the blocking pool too.
        let waiting = Placement::new(Duration::from_millis(2));
        waiting.observe(Duration::from_micros(500));
        palisade_engine::api_call::note_waited();
        std::thread::sleep(Duration::from_millis(3));
        waiting.observe(Duration::from_millis(3));
        assert!(!waiting.inline());
        let always_threads = Placement::new(Duration::ZERO);
        assert!(!always_threads.inline());
        always_threads.observe(Duration::from_secs(1));
        assert!(!always_threads.inline());
    }
}
