//! Prometheus metrics with Kyverno's names and label names, so Kyverno dashboards and alerts work unchanged,
//! plus a few `palisade_*` metrics for what Kyverno has no name for (reloads, timeouts, bad requests).

use crate::args::DropLabel;
use crate::evaluate::{PolicyRun, Webhook};
use crate::series::{Name, RequestKey, RuleKey, SeriesCache, SeriesKey};
use palisade_engine::{AdmissionRequest, FailureAction};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Histogram buckets in seconds: Kyverno's defaults, with finer steps below 5 ms where this server lives.
const BUCKETS: [f64; 19] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0,
    30.0,
];

/// Labels of `kyverno_admission_requests_total` and `kyverno_admission_review_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    request_allowed: &'static str,
    request_webhook: &'static str,
    resource_kind: Option<String>,
    resource_namespace: Option<String>,
    resource_request_operation: &'static str,
}

/// Labels of `kyverno_policy_results_total` and `kyverno_policy_execution_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    policy_validation_mode: &'static str,
    policy_type: &'static str,
    policy_background_mode: &'static str,
    policy_name: String,
    policy_namespace: String,
    resource_kind: Option<String>,
    resource_namespace: Option<String>,
    resource_request_operation: &'static str,
    rule_name: String,
    rule_result: &'static str,
    rule_type: &'static str,
    rule_execution_cause: &'static str,
}

/// Labels with a single `result` (`success`/`failure`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    result: &'static str,
}

/// Labels of `palisade_admission_timeouts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TimeoutLabels {
    request_webhook: &'static str,
    request_allowed: &'static str,
}

/// Labels of `palisade_http_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpErrorLabels {
    code: u16,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// All metrics of the server.
pub struct Metrics {
    registry: Registry,
    drop_kind: bool,
    drop_namespace: bool,
    admission_requests: Family<AdmissionLabels, Counter>,
    admission_review_duration: Family<AdmissionLabels, Histogram, fn() -> Histogram>,
    policy_results: Family<PolicyLabels, Counter>,
    policy_execution_duration: Family<PolicyLabels, Histogram, fn() -> Histogram>,
    rule_series: SeriesCache<(Counter, Histogram)>,
    /// Policy set reloads by result.
    pub policy_reloads: Family<ResultLabels, Counter>,
    /// Errors in the last policy load attempt (0 when it succeeded).
    pub policy_load_errors: Gauge,
    /// Policies in the active set.
    pub policies_loaded: Gauge,
    /// Serving certificate reloads by result.
    pub certificate_reloads: Family<ResultLabels, Counter>,
    /// Evaluations that ran over their budget.
    pub admission_timeouts: Family<TimeoutLabels, Counter>,
    /// Requests answered with an HTTP error status.
    pub http_errors: Family<HttpErrorLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("drop_kind", &self.drop_kind).finish_non_exhaustive()
    }
}

impl Metrics {
    /// Registers every metric; `drop` lists the high-cardinality labels to leave out.
    pub fn new(drop: &[DropLabel]) -> Self {
        let mut registry = Registry::default();
        let admission_requests = Family::<AdmissionLabels, Counter>::default();
        // prometheus-client appends `_total` to counters.
        registry.register("kyverno_admission_requests", "Admission requests handled", admission_requests.clone());
        let admission_review_duration = Family::new_with_constructor(histogram as fn() -> Histogram);
        registry.register(
            "kyverno_admission_review_duration_seconds",
            "Latency of admission reviews, in seconds",
            admission_review_duration.clone(),
        );
        let policy_results = Family::<PolicyLabels, Counter>::default();
        registry.register("kyverno_policy_results", "Rule results", policy_results.clone());
        let policy_execution_duration = Family::new_with_constructor(histogram as fn() -> Histogram);
        registry.register(
            "kyverno_policy_execution_duration_seconds",
            "Rule execution latency, in seconds (a policy's time shared evenly among its rule results)",
            policy_execution_duration.clone(),
        );
        let policy_reloads = Family::<ResultLabels, Counter>::default();
        registry.register("palisade_policy_reloads", "Policy set loads by result", policy_reloads.clone());
        let policy_load_errors = Gauge::default();
        registry.register(
            "palisade_policy_load_errors",
            "Errors in the last policy load attempt; the last good set stays active",
            policy_load_errors.clone(),
        );
        let policies_loaded = Gauge::default();
        registry.register("palisade_policies_loaded", "Policies in the active set", policies_loaded.clone());
        let certificate_reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "palisade_certificate_reloads",
            "Serving certificate reloads by result",
            certificate_reloads.clone(),
        );
        let admission_timeouts = Family::<TimeoutLabels, Counter>::default();
        registry.register(
            "palisade_admission_timeouts",
            "Evaluations that ran over their budget, answered by failurePolicy",
            admission_timeouts.clone(),
        );
        let http_errors = Family::<HttpErrorLabels, Counter>::default();
        registry.register("palisade_http_errors", "Requests answered with an HTTP error", http_errors.clone());
        Self {
            registry,
            drop_kind: drop.contains(&DropLabel::Kind),
            drop_namespace: drop.contains(&DropLabel::Namespace),
            admission_requests,
            admission_review_duration,
            policy_results,
            policy_execution_duration,
            rule_series: SeriesCache::default(),
            policy_reloads,
            policy_load_errors,
            policies_loaded,
            certificate_reloads,
            admission_timeouts,
            http_errors,
        }
    }

    fn kind(&self, request: &AdmissionRequest) -> Option<String> {
        (!self.drop_kind).then(|| request.kind.kind.clone())
    }

    fn namespace(&self, request: &AdmissionRequest) -> Option<String> {
        (!self.drop_namespace).then(|| request.namespace.clone())
    }

    /// Records one answered admission request.
    pub fn record_admission(&self, webhook: Webhook, request: &AdmissionRequest, allowed: bool, elapsed: Duration) {
        let labels = AdmissionLabels {
            request_allowed: if allowed { "true" } else { "false" },
            request_webhook: webhook.metric_label(),
            resource_kind: self.kind(request),
            resource_namespace: self.namespace(request),
            resource_request_operation: operation_label(request),
        };
        self.admission_review_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.admission_requests.get_or_create(&labels).inc();
    }

    /// Records every rule result of the policies that ran, with their execution time.
    pub fn record_policy_runs(&self, request: &AdmissionRequest, runs: &[PolicyRun]) {
        let request_key = RequestKey {
            resource_kind: (!self.drop_kind).then_some(request.kind.kind.as_str()),
            namespace: (!self.drop_namespace).then_some(request.namespace.as_str()),
            operation: operation_label(request),
        };
        let rules = runs.iter().filter(|run| !run.results.is_empty()).flat_map(|run| {
            let share = run.elapsed.as_secs_f64() / run.results.len() as f64;
            let policy = run.policy.name();
            run.results.iter().map(move |result| {
                // The label is the policy's own name; the result's copy, usually the same string, lets the
                // cache keep it and compare by address.
                let key = RuleKey {
                    policy: Name { text: policy, shared: Some(&result.policy) },
                    rule: Name::from(&result.rule),
                    status: result.status,
                    action: result.action,
                    kind: result.kind,
                };
                (key, share)
            })
        });
        let make = |key: &SeriesKey<'_>| {
            let labels = policy_labels(key);
            (
                self.policy_results.get_or_create_owned(&labels),
                self.policy_execution_duration.get_or_create_owned(&labels),
            )
        };
        self.rule_series.visit_each(request_key, rules, make, |(counter, histogram), share| {
            histogram.observe(share);
            counter.inc();
        });
    }

    /// Records an evaluation that ran over its budget.
    pub fn record_timeout(&self, webhook: Webhook, allowed: bool) {
        let labels = TimeoutLabels {
            request_webhook: webhook.metric_label(),
            request_allowed: if allowed { "true" } else { "false" },
        };
        self.admission_timeouts.get_or_create(&labels).inc();
    }

    /// Records a request answered with an HTTP error status.
    pub fn record_http_error(&self, code: u16) {
        self.http_errors.get_or_create(&HttpErrorLabels { code }).inc();
    }

    /// Records a policy load attempt.
    pub fn record_policy_load(&self, ok: bool, errors: usize, policies: Option<usize>) {
        let result = if ok { "success" } else { "failure" };
        self.policy_reloads.get_or_create(&ResultLabels { result }).inc();
        self.policy_load_errors.set(errors as i64);
        if let Some(count) = policies {
            self.policies_loaded.set(count as i64);
        }
    }

    /// Records a certificate reload attempt.
    pub fn record_certificate_reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.certificate_reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The Kyverno labels of one rule-result series.
fn policy_labels(key: &SeriesKey<'_>) -> PolicyLabels {
    let (policy_namespace, policy_name) = match key.policy.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("-", key.policy),
    };
    PolicyLabels {
        policy_validation_mode: match key.action {
            FailureAction::Enforce => "enforce",
            FailureAction::Audit => "audit",
        },
        policy_type: if policy_namespace == "-" { "cluster" } else { "namespaced" },
        policy_background_mode: "true",
        policy_name: policy_name.to_string(),
        policy_namespace: policy_namespace.to_string(),
        resource_kind: key.resource_kind.map(str::to_string),
        resource_namespace: key.namespace.map(str::to_string),
        resource_request_operation: key.operation,
        rule_name: key.rule.to_string(),
        rule_result: key.status.as_str(),
        rule_type: key.kind.as_str(),
        rule_execution_cause: "admission_request",
    }
}

/// Kyverno's `resource_request_operation`: the lowercase operation.
fn operation_label(request: &AdmissionRequest) -> &'static str {
    match request.operation {
        palisade_engine::Operation::Create => "create",
        palisade_engine::Operation::Update => "update",
        palisade_engine::Operation::Delete => "delete",
        palisade_engine::Operation::Connect => "connect",
    }
}

/// Content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_engine::{AdmissionPolicy, EvaluationContext, Operation, RuleKind, RuleResult, RuleStatus};
    use serde_json::json;
    use std::sync::Arc;

    struct P(&'static str);
    impl AdmissionPolicy for P {
        fn name(&self) -> &str {
            self.0
        }
        fn kinds(&self) -> Vec<String> {
            vec!["Pod".into()]
        }
        fn validate(&self, _: &AdmissionRequest, _: &EvaluationContext) -> Vec<RuleResult> {
            vec![]
        }
    }

    fn run(policy: &'static str) -> PolicyRun {
        let mut result = RuleResult::new(policy, "check", RuleKind::Validation, RuleStatus::Fail, "no");
        result.action = FailureAction::Enforce;
        PolicyRun { policy: Arc::new(P(policy)), results: vec![result], elapsed: Duration::from_micros(50) }
    }

    fn request() -> AdmissionRequest {
        AdmissionRequest::for_object(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"}}),
            Operation::Create,
        )
    }

    #[test]
    fn kyverno_names_and_labels() {
        let metrics = Metrics::new(&[]);
        metrics.record_admission(Webhook::Validate, &request(), false, Duration::from_millis(1));
        metrics.record_policy_runs(&request(), &[run("require-run-as-non-root"), run("team-a/local")]);
        let text = metrics.encode();
        for want in [
            r#"kyverno_admission_requests_total{request_allowed="false",request_webhook="ValidatingWebhookConfiguration",resource_kind="Pod",resource_namespace="team-a",resource_request_operation="create"} 1"#,
            "kyverno_admission_review_duration_seconds_bucket{",
            r#"kyverno_policy_results_total{policy_validation_mode="enforce",policy_type="cluster",policy_background_mode="true",policy_name="require-run-as-non-root",policy_namespace="-",resource_kind="Pod",resource_namespace="team-a",resource_request_operation="create",rule_name="check",rule_result="fail",rule_type="validate",rule_execution_cause="admission_request"} 1"#,
            r#"policy_type="namespaced",policy_background_mode="true",policy_name="local",policy_namespace="team-a""#,
            "kyverno_policy_execution_duration_seconds_sum{",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
    }

    /// A policy whose results share its name, as the Kyverno engine's do.
    struct Shared(Arc<str>);
    impl AdmissionPolicy for Shared {
        fn name(&self) -> &str {
            &self.0
        }
        fn kinds(&self) -> Vec<String> {
            vec!["*".into()]
        }
        fn validate(&self, _: &AdmissionRequest, _: &EvaluationContext) -> Vec<RuleResult> {
            vec![]
        }
    }

    /// The rule results of one request: shared names (as a loaded policy set gives), fresh copies of
    /// the same names (as an engine building them per request or a reload gives), a namespaced policy,
    /// several statuses and actions, and a policy without results.
    fn mixed_runs(shared: &Arc<Shared>, rules: &[Arc<str>], round: u32) -> Vec<PolicyRun> {
        let statuses = [RuleStatus::Pass, RuleStatus::Fail, RuleStatus::Skip, RuleStatus::Warn, RuleStatus::Error];
        let results = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let status = statuses[(i + round as usize) % statuses.len()];
                let mut result =
                    RuleResult::new(Arc::clone(&shared.0), Arc::clone(rule), RuleKind::Validation, status, "");
                result.action =
                    if (i as u32 + round).is_multiple_of(3) { FailureAction::Audit } else { FailureAction::Enforce };
                result
            })
            .collect();
        let fresh_name = shared.name().to_string();
        let fresh = RuleResult::new(fresh_name.as_str(), rules[0].to_string(), RuleKind::Validation, statuses[0], "");
        let status = if round.is_multiple_of(2) { RuleStatus::Pass } else { RuleStatus::Fail };
        let local = RuleResult::new("team-b/local", "check", RuleKind::Mutation, status, "");
        vec![
            PolicyRun {
                policy: Arc::clone(shared) as Arc<dyn AdmissionPolicy>,
                results,
                elapsed: Duration::from_micros(30 + u64::from(round)),
            },
            PolicyRun {
                policy: Arc::new(Shared(Arc::from(fresh_name.as_str()))),
                results: vec![fresh],
                elapsed: Duration::from_micros(7),
            },
            PolicyRun { policy: Arc::new(P("team-b/local")), results: vec![local], elapsed: Duration::from_micros(11) },
            PolicyRun { policy: Arc::new(P("silent")), results: vec![], elapsed: Duration::from_micros(3) },
        ]
    }

    /// The exposition's lines, sorted: series order within a family follows prometheus-client's
    /// hash map, which differs between two registries; every line carries its full label set.
    fn sorted_lines(text: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines
    }

    #[test]
    fn cached_series_encode_like_direct_family_updates() {
        let shared = Arc::new(Shared(Arc::from("require-run-as-non-root")));
        let rules: Vec<Arc<str>> = ["run-as-non-root", "autogen-run-as-non-root", "r"].map(Arc::from).to_vec();
        let drops: [&[DropLabel]; 4] =
            [&[], &[DropLabel::Kind], &[DropLabel::Namespace], &[DropLabel::Kind, DropLabel::Namespace]];
        for drop in drops {
            let cached = Metrics::new(drop);
            let direct = Metrics::new(drop);
            let mut round = 0;
            for namespace in ["team-a", "team-b", ""] {
                for (api_version, kind) in [("v1", "Pod"), ("apps/v1", "Deployment")] {
                    for operation in [Operation::Create, Operation::Update, Operation::Delete, Operation::Connect] {
                        let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}});
                        if !namespace.is_empty() {
                            object["metadata"]["namespace"] = json!(namespace);
                        }
                        let request = AdmissionRequest::for_object(object, operation);
                        // Twice, so the second request of each kind finds its series cached.
                        for _ in 0..2 {
                            round += 1;
                            let runs = mixed_runs(&shared, &rules, round);
                            cached.record_policy_runs(&request, &runs);
                            for run in runs.iter().filter(|run| !run.results.is_empty()) {
                                let share = run.elapsed.as_secs_f64() / run.results.len() as f64;
                                for result in &run.results {
                                    let labels = policy_labels(&SeriesKey {
                                        policy: run.policy.name(),
                                        rule: &result.rule,
                                        status: result.status,
                                        action: result.action,
                                        kind: result.kind,
                                        resource_kind: (!direct.drop_kind).then_some(request.kind.kind.as_str()),
                                        namespace: (!direct.drop_namespace).then_some(request.namespace.as_str()),
                                        operation: operation_label(&request),
                                    });
                                    direct.policy_execution_duration.get_or_create(&labels).observe(share);
                                    direct.policy_results.get_or_create(&labels).inc();
                                }
                            }
                        }
                    }
                }
            }
            let (cached, direct) = (cached.encode(), direct.encode());
            assert!(cached.contains("kyverno_policy_results_total{"), "{cached}");
            assert_eq!(sorted_lines(&cached), sorted_lines(&direct), "dropped {drop:?}");
            let families =
                |text: &str| text.lines().filter(|line| line.starts_with('#')).map(str::to_string).collect::<Vec<_>>();
            assert_eq!(families(&cached), families(&direct));
        }
    }

    #[test]
    fn high_cardinality_labels_can_be_dropped() {
        let metrics = Metrics::new(&[DropLabel::Namespace, DropLabel::Kind]);
        metrics.record_admission(Webhook::Mutate, &request(), true, Duration::from_millis(1));
        let text = metrics.encode();
        assert!(text.contains(r#"resource_kind="",resource_namespace="""#), "{text}");
        assert!(!text.contains("team-a"));
    }
}
