//! Autogen: rules written for Pods are also applied to pod controllers, as Kyverno does.
//!
//! A rule matching `Pod` yields `autogen-<rule>` for Deployment, DaemonSet, StatefulSet,
//! Job, ReplicaSet and ReplicationController (pod template at `spec.template`) and
//! `autogen-cronjob-<rule>` for CronJob (`spec.jobTemplate.spec.template`). The
//! `pod-policies.kyverno.io/autogen-controllers` annotation narrows the list or disables it.

use serde_json::{Value, json};

/// The annotation that selects controllers.
pub const AUTOGEN_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

/// Controllers autogen targets by default.
pub const DEFAULT_CONTROLLERS: [&str; 7] =
    ["DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController", "CronJob"];

fn resource_descriptions(block: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    if let Some(r) = block.get("resources") {
        out.push(r);
    }
    for key in ["any", "all"] {
        if let Some(list) = block.get(key).and_then(Value::as_array) {
            out.extend(list.iter().filter_map(|f| f.get("resources")));
        }
    }
    out
}

fn kinds_of(desc: &Value) -> Vec<&str> {
    desc.get("kinds")
        .and_then(Value::as_array)
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn is_pod(kind: &str) -> bool {
    matches!(kind, "Pod" | "v1/Pod")
}

/// Kyverno's policy-level `CanAutoGen`: every rule must be eligible, and some rule must match Pods.
pub fn can_autogen(rules: &[Value]) -> bool {
    let mut needed = false;
    for rule in rules {
        for block in [rule.get("match"), rule.get("exclude")].into_iter().flatten() {
            for desc in resource_descriptions(block) {
                let kinds = kinds_of(desc);
                let restricted = ["name", "names", "selector", "annotations"].iter().any(|f| {
                    desc.get(*f).is_some_and(|v| !v.is_null() && v != &json!([]) && v != &json!({}) && v != "")
                });
                if restricted || (kinds.len() > 1 && kinds.iter().any(|k| is_pod(k))) {
                    return false;
                }
                needed |= kinds.iter().any(|k| is_pod(k));
            }
        }
        let mutate = rule.get("mutate");
        if mutate.and_then(|m| m.get("patchesJson6902")).is_some() || rule.get("generate").is_some() {
            return false;
        }
        if let Some(list) = mutate.and_then(|m| m.get("foreach")).and_then(Value::as_array)
            && list.iter().any(|f| f.get("patchesJson6902").is_some())
        {
            return false;
        }
    }
    needed
}

/// Controllers selected by the policy annotation (`None` when absent: the default list).
pub fn controllers(annotation: Option<&str>) -> Vec<String> {
    match annotation.map(str::trim) {
        None | Some("") => DEFAULT_CONTROLLERS.iter().map(|s| s.to_string()).collect(),
        Some("none") => Vec::new(),
        Some(list) => list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
    }
}

fn rule_matches_pod(rule: &Value) -> bool {
    rule.get("match").is_some_and(|m| resource_descriptions(m).iter().any(|d| kinds_of(d).iter().any(|k| is_pod(k))))
}

fn replace_kinds(block: &mut Value, kinds: &[String]) {
    let replace = |desc: &mut Value| {
        if let Some(list) = desc.get_mut("kinds")
            && list.as_array().is_some_and(|k| k.iter().any(|k| k.as_str().is_some_and(is_pod)))
        {
            *list = json!(kinds);
        }
    };
    if let Some(r) = block.get_mut("resources") {
        replace(r);
    }
    for key in ["any", "all"] {
        if let Some(list) = block.get_mut(key).and_then(Value::as_array_mut) {
            for f in list {
                if let Some(r) = f.get_mut("resources") {
                    replace(r);
                }
            }
        }
    }
}

fn wrap(value: &mut Value, wrapper: impl Fn(Value) -> Value) {
    let inner = value.take();
    *value = wrapper(inner);
}

/// Wraps a pod-level pattern or patch into a controller's template.
fn to_template(v: Value) -> Value {
    json!({"spec": {"template": v}})
}

fn to_job_template(v: Value) -> Value {
    json!({"spec": {"jobTemplate": v}})
}

fn wrap_rule_bodies(rule: &mut Value, wrapper: &dyn Fn(Value) -> Value) {
    if let Some(validate) = rule.get_mut("validate") {
        if let Some(p) = validate.get_mut("pattern") {
            wrap(p, wrapper);
        }
        if let Some(list) = validate.get_mut("anyPattern").and_then(Value::as_array_mut) {
            for p in list {
                wrap(p, wrapper);
            }
        }
    }
    if let Some(mutate) = rule.get_mut("mutate") {
        if let Some(p) = mutate.get_mut("patchStrategicMerge") {
            wrap(p, wrapper);
        }
        if let Some(list) = mutate.get_mut("foreach").and_then(Value::as_array_mut) {
            for f in list {
                if let Some(p) = f.get_mut("patchStrategicMerge") {
                    wrap(p, wrapper);
                }
            }
        }
    }
}

/// Rewrites variables textually, as Kyverno's autogen does.
fn replace_in_strings(value: &mut Value, replacements: &[(&str, &str)]) {
    match value {
        Value::String(s) if replacements.iter().any(|(from, _)| s.contains(from)) => {
            let mut out = s.clone();
            for (from, to) in replacements {
                out = replace_path_prefix(&out, from, to);
            }
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in_strings(v, replacements)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_in_strings(v, replacements)),
        _ => {}
    }
}

/// Replaces `from` with `to` wherever `from` is not followed by an identifier character
/// (so `request.object.spec` does not rewrite `request.object.specification`).
fn replace_path_prefix(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(from) {
        let after = &rest[pos + from.len()..];
        out.push_str(&rest[..pos]);
        if after.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Produces the autogen rules for one Pod rule (controller rule first, then CronJob).
pub fn generate(rule: &Value, controllers: &[String]) -> Vec<Value> {
    if !rule_matches_pod(rule) || controllers.is_empty() {
        return Vec::new();
    }
    let name = rule.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut out = Vec::new();
    let mut base = rule.clone();
    wrap_rule_bodies(&mut base, &to_template);
    replace_in_strings(
        &mut base,
        &[
            ("request.object.spec", "request.object.spec.template.spec"),
            ("request.oldObject.spec", "request.oldObject.spec.template.spec"),
            ("request.object.metadata", "request.object.spec.template.metadata"),
            ("request.oldObject.metadata", "request.oldObject.spec.template.metadata"),
        ],
    );
    let plain: Vec<String> = controllers.iter().filter(|c| c.as_str() != "CronJob").cloned().collect();
    if !plain.is_empty() {
        let mut r = base.clone();
        r["name"] = json!(format!("autogen-{name}"));
        for block in ["match", "exclude"] {
            if let Some(b) = r.get_mut(block) {
                replace_kinds(b, &plain);
            }
        }
        out.push(r);
    }
    if controllers.iter().any(|c| c == "CronJob") {
        let mut r = base;
        r["name"] = json!(format!("autogen-cronjob-{name}"));
        wrap_rule_bodies(&mut r, &to_job_template);
        replace_in_strings(
            &mut r,
            &[
                ("request.object.spec.template", "request.object.spec.jobTemplate.spec.template"),
                ("request.oldObject.spec.template", "request.oldObject.spec.jobTemplate.spec.template"),
            ],
        );
        for block in ["match", "exclude"] {
            if let Some(b) = r.get_mut(block) {
                replace_kinds(b, &["CronJob".to_string()]);
            }
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_rules_get_controller_and_cronjob_variants() {
        let rule = json!({
            "name": "check",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "validate": {"message": "{{ request.object.metadata.name }}", "pattern": {"spec": {"containers": [{"name": "*"}]}}}
        });
        assert!(can_autogen(std::slice::from_ref(&rule)));
        let rules = generate(&rule, &controllers(None));
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0]["name"], "autogen-check");
        assert_eq!(rules[0]["match"]["any"][0]["resources"]["kinds"][1], "Deployment");
        assert_eq!(rules[0]["validate"]["pattern"]["spec"]["template"]["spec"]["containers"][0]["name"], "*");
        assert_eq!(rules[0]["validate"]["message"], "{{ request.object.spec.template.metadata.name }}");
        assert_eq!(rules[1]["name"], "autogen-cronjob-check");
        assert_eq!(
            rules[1]["validate"]["pattern"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["name"],
            "*"
        );
        assert_eq!(
            rules[1]["validate"]["message"],
            "{{ request.object.spec.jobTemplate.spec.template.metadata.name }}"
        );
    }

    #[test]
    fn names_or_mixed_kinds_disable_autogen() {
        let named = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["x"]}}]}});
        assert!(!can_autogen(&[named]));
        let mixed = json!({"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod", "Deployment"]}}]}});
        assert!(!can_autogen(&[mixed]));
        assert!(controllers(Some("none")).is_empty());
        assert_eq!(controllers(Some("Deployment")), ["Deployment"]);
    }
}
