//! Tests of the admission decision and Kyverno's denial message.

use super::*;
use crate::yaml::tests::{Rng, random_text, write_yaml_scalar_reference};
use palisade_engine::patch::Touched;
use palisade_engine::{AdmissionPolicy, EvaluationContext, Operation};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Named(&'static str, FailurePolicy);

impl AdmissionPolicy for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn kinds(&self) -> Vec<String> {
        vec!["Pod".into()]
    }
    fn failure_policy(&self) -> FailurePolicy {
        self.1
    }
    fn validate(&self, _: &AdmissionRequest, _: &EvaluationContext) -> Vec<RuleResult> {
        Vec::new()
    }
}

fn result(policy: &str, rule: &str, status: RuleStatus, action: FailureAction, warn: bool) -> RuleResult {
    let mut r = RuleResult::new(policy, rule, RuleKind::Validation, status, format!("{rule} says no"));
    r.action = action;
    r.emit_warning = warn;
    r
}

fn eval(runs: Vec<(&'static str, FailurePolicy, Vec<RuleResult>)>) -> Evaluation {
    Evaluation {
        runs: runs
            .into_iter()
            .map(|(name, fp, results)| PolicyRun {
                policy: Arc::new(Named(name, fp)),
                results,
                elapsed: Duration::ZERO,
            })
            .collect(),
        ..Evaluation::default()
    }
}

fn request() -> AdmissionRequest {
    AdmissionRequest::for_object(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "default"}}),
        Operation::Create,
    )
}

#[test]
fn decisions_follow_kyverno_block_rules() {
    use FailureAction::{Audit, Enforce};
    use FailurePolicy::{Fail, Ignore};
    use RuleStatus::{Error, Pass, Skip};
    let fail = RuleStatus::Fail;
    let cases = [
        ("enforce failure denies", Fail, result("p", "r", fail, Enforce, false), false, 0),
        ("audit failure allows", Fail, result("p", "r", fail, Audit, false), true, 0),
        ("audit failure warns", Fail, result("p", "r", fail, Audit, true), true, 1),
        ("enforce error under Fail denies", Fail, result("p", "r", Error, Enforce, false), false, 0),
        ("enforce error under Ignore allows", Ignore, result("p", "r", Error, Enforce, false), true, 0),
        ("audit error allows", Fail, result("p", "r", Error, Audit, false), true, 0),
        ("pass allows", Fail, result("p", "r", Pass, Enforce, true), true, 0),
        ("skip allows", Fail, result("p", "r", Skip, Enforce, true), true, 0),
    ];
    for (name, fp, r, allowed, warnings) in cases {
        let d = decide(Webhook::Validate, &request(), &eval(vec![("p", fp, vec![r])]));
        assert_eq!(d.allowed, allowed, "{name}");
        assert_eq!(d.warnings.len(), warnings, "{name}");
    }
}

#[test]
fn denial_message_matches_kyverno() {
    let e = eval(vec![
        (
            "require-labels",
            FailurePolicy::Fail,
            vec![
                result("require-labels", "check-team", RuleStatus::Fail, FailureAction::Enforce, false),
                result("require-labels", "check-app", RuleStatus::Pass, FailureAction::Enforce, false),
            ],
        ),
        (
            "audit-only",
            FailurePolicy::Fail,
            vec![result("audit-only", "a", RuleStatus::Fail, FailureAction::Audit, false)],
        ),
        (
            "disallow-latest",
            FailurePolicy::Fail,
            vec![result("disallow-latest", "tag", RuleStatus::Fail, FailureAction::Enforce, false)],
        ),
    ]);
    let d = decide(Webhook::Validate, &request(), &e);
    let message = d.message.unwrap();
    // Printable text: held in its JSON form, line feeds escaped.
    assert!(matches!(&message, Message::Json(json) if json.starts_with("\\n\\nresource ")), "{message:?}");
    assert_eq!(
        message.text(),
        "\n\nresource Pod/default/x was blocked due to the following policies \n\n\
         disallow-latest:\n  tag: tag says no\nrequire-labels:\n  check-team: check-team says no\n"
    );
}

#[test]
fn mutation_errors_deny_under_fail() {
    let r = RuleResult::new("m", "add", RuleKind::Mutation, RuleStatus::Error, "bad patch");
    let d = decide(Webhook::Mutate, &request(), &eval(vec![("m", FailurePolicy::Fail, vec![r.clone()])]));
    assert_eq!(d.message, Some(Message::from("failed to apply policy m rules [add: bad patch]")));
    let d = decide(Webhook::Mutate, &request(), &eval(vec![("m", FailurePolicy::Ignore, vec![r])]));
    assert!(d.allowed);
}

#[test]
fn patches_are_diffs_of_the_mutated_object() {
    let mut req = request();
    req.object["spec"] = json!({"containers": [{"name": "c", "image": "nginx"}]});
    let mut patched = req.object.clone();
    patched["metadata"]["labels"] = json!({"team": "a"});
    // Kyverno's order (keys sorted, whatever order the mutation added them in) and its filter: metadata
    // fields other than name, namespace, labels, annotations, ... are not patched.
    patched["spec"]["runtimeClassName"] = json!("kata");
    patched["spec"]["hostUsers"] = json!(false);
    patched["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    let e = Evaluation { runs: vec![], patched: Some(patched), touched: Touched::Everything };
    let patch = decide(Webhook::Mutate, &req, &e).patch.unwrap();
    assert_eq!(
        serde_json::to_value(&patch).unwrap(),
        json!([{"op": "add", "path": "/metadata/labels", "value": {"team": "a"}},
               {"op": "add", "path": "/spec/hostUsers", "value": false},
               {"op": "add", "path": "/spec/runtimeClassName", "value": "kata"}])
    );
}

/// `blocked_message` as it was before the emitter took the key indentation and the nested maps
/// became a sorted vector, kept as the reference the current one must match byte for byte.
fn blocked_message_reference(request: &AdmissionRequest, eval: &Evaluation) -> String {
    let mut failures: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for result in eval.runs.iter().flat_map(|run| &run.results) {
        if result.action == FailureAction::Enforce && reported(result) {
            failures.entry(&result.policy).or_default().insert(&result.rule, &result.message);
        }
    }
    let mut yaml = String::new();
    for (policy, rules) in &failures {
        write_yaml_scalar_reference(&mut yaml, policy, 0);
        yaml.push_str(":\n");
        for (rule, message) in rules {
            yaml.push_str("  ");
            write_yaml_scalar_reference(&mut yaml, rule, 2);
            yaml.push_str(": ");
            let column = 2 + rule.len() + 2;
            write_yaml_scalar_reference(&mut yaml, message, column);
            yaml.push('\n');
        }
    }
    let metadata = request.subject().get("metadata");
    let field = |name: &str| metadata.and_then(|m| m.get(name)).and_then(Value::as_str).unwrap_or_default();
    let name = if request.name.is_empty() { field("name") } else { request.name.as_str() };
    let namespace = if request.namespace.is_empty() { field("namespace") } else { request.namespace.as_str() };
    let resource = format!("{}/{}/{}", request.kind.kind, namespace, name);
    format!("\n\nresource {resource} was blocked due to the following policies \n\n{yaml}")
}

#[test]
fn denial_messages_match_the_reference() {
    // Few names, so that policies and rules repeat (a repeated rule's last message wins), some
    // of them odd: YAML indicators, quotes, leading Unicode spaces, line feeds, folding lengths.
    const POLICIES: [&str; 9] = [
        "disallow-privileged-containers",
        "require-labels",
        "require-labels",
        "a: b",
        "true",
        "ünï",
        "\u{3000}spaced",
        "two\nlines",
        "",
    ];
    const RULES: [&str; 13] = [
        "privileged-containers",
        "check-team",
        "autogen-check-team",
        "check-team",
        "- dash",
        "it's",
        "0x1F",
        "\u{a0}nbsp",
        "\u{2028}sep",
        "multi\nline",
        "tab\there",
        "",
        "a rule name with spaces that is long enough to be folded after column eighty by the emitter",
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let statuses = [RuleStatus::Pass, RuleStatus::Fail, RuleStatus::Warn, RuleStatus::Error, RuleStatus::Skip];
    let mut nonempty = 0;
    let mut json_forms = 0;
    for round in 0..3000 {
        // Now and then dozens of failures, past the small sizes a sort handles by insertion.
        let runs = (0..rng.below(if round % 8 == 0 { 40 } else { 6 }))
            .map(|_| {
                let policy = rng.pick(&POLICIES);
                let results = (0..rng.below(if round % 8 == 0 { 8 } else { 5 }))
                    .map(|_| {
                        // Results normally name the policy of their run.
                        let named = if rng.below(8) == 0 { rng.pick(&POLICIES) } else { policy };
                        let status = statuses[rng.below(statuses.len())];
                        let message = random_text(&mut rng);
                        let mut r = RuleResult::new(named, rng.pick(&RULES), RuleKind::Validation, status, message);
                        r.action = if rng.below(4) == 0 { FailureAction::Audit } else { FailureAction::Enforce };
                        r
                    })
                    .collect();
                let run: Arc<dyn AdmissionPolicy> = Arc::new(Named("run", FailurePolicy::Fail));
                PolicyRun { policy: run, results, elapsed: Duration::ZERO }
            })
            .collect();
        let eval = Evaluation { runs, ..Evaluation::default() };
        let mut req = request();
        match round % 4 {
            0 => req.name.clear(),
            1 => req.namespace.clear(),
            2 => {
                req = AdmissionRequest::for_object(req.object.clone(), Operation::Delete);
                req.name.clear();
            }
            _ => {}
        }
        let want = blocked_message_reference(&req, &eval);
        assert_eq!(blocked_message(&req, &eval), want, "{eval:?}");
        nonempty += usize::from(want.contains(":\n  "));
        // The JSON form, when the texts allow it, is the JSON string of the message; its text is the message.
        let escaped = serde_json::to_string(&want).unwrap();
        let json = write_blocked_message(&req, &eval, Breaks::Json);
        let texts = eval.runs.iter().flat_map(|run| &run.results).flat_map(|r| [&*r.policy, &*r.rule, &*r.message]);
        let safe = texts.chain([&*req.kind.kind, &*req.namespace, &*req.name]).all(json_safe);
        if safe {
            json_forms += 1;
        }
        match json {
            Some(json) => {
                assert_eq!(json, escaped[1..escaped.len() - 1], "{eval:?}");
                assert_eq!(Message::Json(json).text(), want);
            }
            None => assert!(!safe, "no JSON form for {eval:?}"),
        }
    }
    assert!(nonempty > 1500, "{nonempty} of 3000 messages list failures");
    assert!(json_forms > 300, "{json_forms} of 3000 messages in JSON form");
}

#[test]
fn resource_names_use_old_object_on_delete() {
    let req = AdmissionRequest::for_object(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "ns"}}),
        Operation::Delete,
    );
    assert_eq!(resource_parts(&req).join("/"), "ConfigMap/ns/c");
}
