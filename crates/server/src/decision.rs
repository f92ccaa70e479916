//! Turns policy results into an admission decision, with Kyverno's denial message and warnings.

use crate::evaluate::{Evaluation, PolicyRun, Webhook};
use crate::review::Message;
use crate::yaml::{Breaks, json_safe, last_line_indent, write_scalar};
use palisade_engine::patch::{PatchOperation, webhook_patch_within};
use palisade_engine::{AdmissionRequest, FailureAction, FailurePolicy, RuleKind, RuleResult, RuleStatus};
use serde_json::Value;

/// The answer to one webhook call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// Why it was denied.
    pub message: Option<Message>,
    /// Warnings for the client (audit failures of policies with `emitWarning`).
    pub warnings: Vec<String>,
    /// RFC 6902 patch (`/mutate` only): Kyverno's order and metadata filter (`palisade_engine::patch`).
    pub patch: Option<Vec<PatchOperation>>,
}

impl Decision {
    /// An allowing decision without warnings.
    pub fn allow() -> Self {
        Self { allowed: true, message: None, warnings: Vec::new(), patch: None }
    }

    /// A denying decision.
    pub fn deny(message: impl Into<Message>) -> Self {
        Self { allowed: false, message: Some(message.into()), warnings: Vec::new(), patch: None }
    }
}

/// Whether a result denies the request (Kyverno's `BlockRequest`): an Enforce failure, or a rule error in a
/// policy whose failure policy is `Fail` (for validations only in Enforce policies: Kyverno runs Audit
/// validations out of band, so they never block).
fn blocks(result: &RuleResult, failure_policy: FailurePolicy) -> bool {
    result.blocks()
        || (result.status == RuleStatus::Error
            && failure_policy == FailurePolicy::Fail
            && (result.kind == RuleKind::Mutation || result.action == FailureAction::Enforce))
}

fn reported(result: &RuleResult) -> bool {
    !matches!(result.status, RuleStatus::Pass | RuleStatus::Skip)
}

/// Decides a webhook call from its evaluation.
pub fn decide(webhook: Webhook, request: &AdmissionRequest, eval: &Evaluation) -> Decision {
    let warnings = eval
        .runs
        .iter()
        .flat_map(|run| &run.results)
        .filter(|r| r.emit_warning && reported(r))
        .map(|r| format!("policy {}.{}: {}", r.policy, r.rule, r.message))
        .collect();
    let blocking = |run: &&PolicyRun| run.results.iter().any(|r| blocks(r, run.policy.failure_policy()));
    if eval.runs.iter().any(|run| blocking(&run)) {
        let message = match webhook {
            // As a JSON string's contents when it can be, for the answer: the message runs to kilobytes, and
            // escaping its line feeds afterwards costs more than writing them escaped.
            Webhook::Validate => match write_blocked_message(request, eval, Breaks::Json) {
                Some(json) => Message::Json(json),
                None => Message::Text(blocked_message(request, eval)),
            },
            Webhook::Mutate => {
                Message::Text(mutation_failure_message(&eval.runs.iter().filter(blocking).collect::<Vec<_>>()))
            }
        };
        return Decision { allowed: false, message: Some(message), warnings, patch: None };
    }
    let patch = eval.patched.as_ref().map(|patched| webhook_patch_within(&request.object, patched, &eval.touched));
    Decision { allowed: true, message: None, warnings, patch: patch.filter(|p| !p.is_empty()) }
}

/// Kyverno's `GetBlockedMessages`: every non-passing rule of the Enforce policies, as YAML under a header.
pub fn blocked_message(request: &AdmissionRequest, eval: &Evaluation) -> String {
    write_blocked_message(request, eval, Breaks::Raw).unwrap_or_default()
}

/// [`blocked_message`] with `breaks`; `None` for [`Breaks::Json`] when some text is not [`json_safe`].
fn write_blocked_message(request: &AdmissionRequest, eval: &Evaluation, breaks: Breaks) -> Option<String> {
    // Kyverno's map of policies to maps of rules to messages, as (policy, rule, message) sorted by policy
    // and rule. The sort is stable: of a repeated rule, the last result comes last, and wins.
    let mut failures = Vec::with_capacity(eval.runs.iter().map(|run| run.results.len()).sum());
    for result in eval.runs.iter().flat_map(|run| &run.results) {
        if result.action == FailureAction::Enforce && reported(result) {
            failures.push((&*result.policy, &*result.rule, &*result.message));
        }
    }
    failures.sort_by(|a, b| a.0.cmp(b.0).then_with(|| a.1.cmp(b.1)));
    let [kind, namespace, name] = resource_parts(request);
    if breaks == Breaks::Json && !(json_safe(kind) && json_safe(namespace) && json_safe(name)) {
        return None;
    }
    // Room for everything, quotes and folded lines included, in one allocation.
    let entries: usize = failures.iter().map(|(p, r, m)| p.len() + r.len() + m.len() + m.len() / 16 + 12).sum();
    let mut out = String::with_capacity(80 + kind.len() + namespace.len() + name.len() + entries);
    let newline = breaks.newline();
    for part in [newline, newline, "resource ", kind, "/", namespace, "/", name] {
        out.push_str(part);
    }
    for part in [" was blocked due to the following policies ", newline, newline] {
        out.push_str(part);
    }
    let yaml = out.len();
    let mut previous_policy = None;
    for (i, &(policy, rule, message)) in failures.iter().enumerate() {
        if failures.get(i + 1).is_some_and(|&(p, r, _)| (p, r) == (policy, rule)) {
            continue;
        }
        if previous_policy != Some(policy) {
            write_scalar(&mut out, policy, 0, 0, breaks)?;
            out.push(':');
            out.push_str(newline);
            previous_policy = Some(policy);
        }
        out.push_str("  ");
        let rule_start = out.len();
        let broke = write_scalar(&mut out, rule, 2, 2, breaks)?;
        out.push_str(": ");
        // The message's key indentation is that of the line the rule ends on: 2, unless the rule
        // broke the line or starts with (Unicode) whitespace.
        let simple = !broke && out.as_bytes().get(rule_start).is_some_and(u8::is_ascii_graphic);
        let key_indent = if simple { 2 } else { last_line_indent(&out[yaml..], breaks) };
        let column = 2 + rule.len() + 2;
        write_scalar(&mut out, message, column, key_indent, breaks)?;
        out.push_str(newline);
    }
    Some(out)
}

/// Kyverno's mutation failure: `failed to apply policy NAME rules [rule: message ...]`, one line per policy.
fn mutation_failure_message(blocking: &[&PolicyRun]) -> String {
    blocking
        .iter()
        .map(|run| {
            let rules: Vec<String> =
                run.results.iter().filter(|r| reported(r)).map(|r| format!("{}: {}", r.rule, r.message)).collect();
            format!("failed to apply policy {} rules [{}]", run.policy.name(), rules.join(" "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The kind, namespace and name of the request's object (from its metadata when the request has none), the
/// `Kind/namespace/name` of Kyverno's messages.
fn resource_parts(request: &AdmissionRequest) -> [&str; 3] {
    let field = |name: &str| {
        request.subject().get("metadata").and_then(|m| m.get(name)).and_then(Value::as_str).unwrap_or_default()
    };
    let name = if request.name.is_empty() { field("name") } else { request.name.as_str() };
    let namespace = if request.namespace.is_empty() { field("namespace") } else { request.namespace.as_str() };
    [request.kind.kind.as_str(), namespace, name]
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
