//! Constraints (`constraints.gatekeeper.sh/v1beta1`, any kind defined by a template): the
//! `spec.match` criteria with Gatekeeper's semantics, parameters and enforcement actions.

use crate::error::ConstraintError;
use palisade_engine::selector::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

/// Enforcement point of the admission webhook.
pub const WEBHOOK_POINT: &str = "validation.gatekeeper.sh";
/// Enforcement point of audit.
pub const AUDIT_POINT: &str = "audit.gatekeeper.sh";
/// Enforcement point of the gator CLI.
pub const GATOR_POINT: &str = "gator.gatekeeper.sh";

/// What happens to a violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Recorded only.
    Dryrun,
    /// Returned to the client as a warning.
    Warn,
    /// The request is denied.
    Deny,
}

impl Action {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "deny" => Some(Action::Deny),
            "dryrun" => Some(Action::Dryrun),
            "warn" => Some(Action::Warn),
            _ => None,
        }
    }

    /// Gatekeeper's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Dryrun => "dryrun",
            Action::Warn => "warn",
        }
    }
}

/// `spec.enforcementAction`, with `scoped` resolved per enforcement point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement {
    /// One action at every point.
    All(Action),
    /// `scoped`: actions with the points they apply to (`*` for all).
    Scoped(Vec<(Action, Vec<String>)>),
}

impl Enforcement {
    /// The action in force at `point`, or `None` when the constraint is not enforced there.
    /// When several scoped actions apply, the strictest wins (deny, then warn, then dryrun).
    pub fn at(&self, point: &str) -> Option<Action> {
        match self {
            Enforcement::All(a) => Some(*a),
            Enforcement::Scoped(list) => {
                list.iter().filter(|(_, points)| points.iter().any(|p| p == "*" || p == point)).map(|(a, _)| *a).max()
            }
        }
    }
}

/// Gatekeeper's prefix/suffix glob (`kube-*`, `*-system`, `*mid*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let p = self.0.as_str();
        match (p.strip_prefix('*'), p.strip_suffix('*')) {
            (Some(rest), Some(_)) if p.len() >= 2 => text.contains(&rest[..rest.len() - 1]),
            (Some(rest), _) => text.ends_with(rest),
            (None, Some(rest)) => text.starts_with(rest),
            (None, None) => p == text,
        }
    }
}

/// Scope criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// `*` (default).
    #[default]
    Any,
    /// Cluster-scoped objects (and Namespaces).
    Cluster,
    /// Namespaced objects.
    Namespaced,
}

/// `spec.match`.
#[derive(Debug, Clone, Default)]
pub struct Match {
    /// `(apiGroups, kinds)` entries; empty matches every kind.
    pub kinds: Vec<(Vec<String>, Vec<String>)>,
    /// Scope.
    pub scope: Scope,
    /// Namespaces the object must be in.
    pub namespaces: Vec<Glob>,
    /// Namespaces the object must not be in.
    pub excluded_namespaces: Vec<Glob>,
    /// Selector on the object's labels.
    pub label_selector: Option<LabelSelector>,
    /// Selector on the labels of the object's namespace (or the Namespace itself).
    pub namespace_selector: Option<LabelSelector>,
    /// Name glob.
    pub name: Option<Glob>,
}

/// What the match criteria look at, for one object.
#[derive(Debug, Clone, Default)]
pub struct MatchTarget<'a> {
    /// API group of the object.
    pub group: &'a str,
    /// Kind of the object.
    pub kind: &'a str,
    /// Namespace of the object (empty when cluster-scoped).
    pub namespace: &'a str,
    /// The object itself (metadata is read from it).
    pub object: &'a Value,
    /// Labels of the object's namespace, when known.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
}

impl Match {
    /// Bare kinds this match can select (`*` when any).
    pub fn kinds(&self) -> Vec<String> {
        if self.kinds.is_empty() || self.kinds.iter().any(|(_, k)| k.is_empty() || k.iter().any(|k| k == "*")) {
            return vec!["*".to_string()];
        }
        let mut out: Vec<String> = self.kinds.iter().flat_map(|(_, k)| k.iter().cloned()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether the object is selected; every criterion must pass (Gatekeeper `match.Matches`).
    pub fn matches(&self, t: &MatchTarget) -> bool {
        let is_namespace = t.kind == "Namespace" && t.group.is_empty();
        let kinds_ok = self.kinds.is_empty()
            || self.kinds.iter().any(|(groups, kinds)| {
                (kinds.is_empty() || kinds.iter().any(|k| k == "*" || k == t.kind))
                    && (groups.is_empty() || groups.iter().any(|g| g == "*" || g == t.group))
            });
        if !kinds_ok {
            return false;
        }
        let has_namespace = !t.namespace.is_empty();
        let scope_ok = match self.scope {
            Scope::Any => true,
            Scope::Cluster => is_namespace || !has_namespace,
            Scope::Namespaced => !is_namespace && has_namespace,
        };
        let meta = |f: &str| t.object.pointer(&format!("/metadata/{f}")).and_then(Value::as_str).unwrap_or_default();
        let ns_name = if is_namespace { meta("name") } else { t.namespace };
        let ns_applies = is_namespace || has_namespace;
        if !scope_ok
            || (ns_applies && !self.namespaces.is_empty() && !self.namespaces.iter().any(|g| g.matches(ns_name)))
            || (ns_applies && self.excluded_namespaces.iter().any(|g| g.matches(ns_name)))
        {
            return false;
        }
        let labels = palisade_engine::selector::string_map(t.object.pointer("/metadata/labels"));
        if let Some(sel) = &self.label_selector
            && !sel.matches(&labels)
        {
            return false;
        }
        if let Some(sel) = &self.namespace_selector {
            let ok = if is_namespace {
                sel.matches(&labels)
            } else if !has_namespace {
                true
            } else {
                t.namespace_labels.is_some_and(|l| sel.matches(l))
            };
            if !ok {
                return false;
            }
        }
        match &self.name {
            None => true,
            Some(g) => {
                let name = meta("name");
                if name.is_empty() { g.matches(meta("generateName")) } else { g.matches(name) }
            }
        }
    }
}

/// A parsed Constraint.
#[derive(Debug, Clone)]
pub struct ConstraintSpec {
    /// `metadata.name`.
    pub name: String,
    /// Kind (defined by a template).
    pub kind: String,
    /// `spec.match`.
    pub matcher: Match,
    /// `spec.parameters` (`{}` when absent, as Gatekeeper stores it).
    pub parameters: Value,
    /// Enforcement action.
    pub enforcement: Enforcement,
    /// The whole constraint (CEL's `params`).
    pub raw: Value,
}

/// Whether a document is a Constraint.
pub fn is_constraint(doc: &Value) -> bool {
    doc.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("constraints.gatekeeper.sh/"))
}

fn strings(v: Option<&Value>, field: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            a.iter().map(|s| s.as_str().map(String::from).ok_or_else(|| format!("{field} must hold strings"))).collect()
        }
        Some(_) => Err(format!("{field} must be a list of strings")),
    }
}

fn selector(v: Option<&Value>, field: &str) -> Result<Option<LabelSelector>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let sel: LabelSelector = serde_json::from_value(v.clone()).map_err(|e| format!("{field}: {e}"))?;
            sel.validate().map_err(|e| format!("{field}: {e}"))?;
            Ok(Some(sel))
        }
    }
}

fn parse_match(m: &Value) -> Result<Match, String> {
    let mut out = Match::default();
    for (i, k) in m.get("kinds").and_then(Value::as_array).into_iter().flatten().enumerate() {
        out.kinds.push((
            strings(k.get("apiGroups"), &format!("match.kinds[{i}].apiGroups"))?,
            strings(k.get("kinds"), &format!("match.kinds[{i}].kinds"))?,
        ));
    }
    out.scope = match m.get("scope").and_then(Value::as_str) {
        Some("Cluster") => Scope::Cluster,
        Some("Namespaced") => Scope::Namespaced,
        _ => Scope::Any,
    };
    out.namespaces = strings(m.get("namespaces"), "match.namespaces")?.into_iter().map(Glob).collect();
    out.excluded_namespaces =
        strings(m.get("excludedNamespaces"), "match.excludedNamespaces")?.into_iter().map(Glob).collect();
    out.label_selector = selector(m.get("labelSelector"), "match.labelSelector")?;
    out.namespace_selector = selector(m.get("namespaceSelector"), "match.namespaceSelector")?;
    out.name = m.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).map(|s| Glob(s.to_string()));
    Ok(out)
}

fn parse_enforcement(spec: &Value) -> Result<Enforcement, String> {
    let action = spec.get("enforcementAction").and_then(Value::as_str).unwrap_or("deny");
    if action.eq_ignore_ascii_case("scoped") {
        let mut list = Vec::new();
        for (i, item) in
            spec.get("scopedEnforcementActions").and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let text = item.get("action").and_then(Value::as_str).unwrap_or_default();
            let a = Action::parse(text)
                .ok_or_else(|| format!("scopedEnforcementActions[{i}].action: unknown action {text:?}"))?;
            let points = item
                .get("enforcementPoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("name").and_then(Value::as_str).map(String::from))
                .collect();
            list.push((a, points));
        }
        return Ok(Enforcement::Scoped(list));
    }
    Action::parse(action).map(Enforcement::All).ok_or_else(|| format!("unknown enforcementAction {action:?}"))
}

impl ConstraintSpec {
    /// Parses a Constraint document.
    pub fn parse(doc: &Value) -> Result<Self, ConstraintError> {
        let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let invalid = |message: String| ConstraintError::Invalid { name: name.clone(), message };
        if name.is_empty() {
            return Err(invalid("metadata.name is required".into()));
        }
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
        let matcher = match spec.get("match") {
            Some(m) if !m.is_null() => parse_match(m).map_err(invalid)?,
            _ => Match::default(),
        };
        let parameters = match spec.get("parameters") {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(p) => p.clone(),
        };
        let enforcement = parse_enforcement(&spec).map_err(invalid)?;
        Ok(Self { name, kind, matcher, parameters, enforcement, raw: doc.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        let cases = [
            ("kube-*", "kube-system", true),
            ("*-system", "kube-system", true),
            ("*be-sy*", "kube-system", true),
            ("prod", "prod", true),
            ("prod", "production", false),
            ("kube-*", "default", false),
            ("*", "x", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(Glob(p.into()).matches(t), want, "{p} {t}");
        }
    }

    fn target<'a>(kind: &'a str, ns: &'a str, obj: &'a Value) -> MatchTarget<'a> {
        MatchTarget { group: "", kind, namespace: ns, object: obj, namespace_labels: None }
    }

    #[test]
    fn match_criteria() {
        let pod = json!({"metadata": {"name": "web-1", "namespace": "prod", "labels": {"app": "web"}}});
        let node = json!({"metadata": {"name": "n1"}});
        let ns = json!({"metadata": {"name": "kube-system", "labels": {"team": "a"}}});
        let cases: Vec<(Value, MatchTarget, bool)> = vec![
            (json!({"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}), target("Pod", "prod", &pod), true),
            (json!({"kinds": [{"apiGroups": ["apps"], "kinds": ["Pod"]}]}), target("Pod", "prod", &pod), false),
            (json!({"kinds": [{"apiGroups": ["*"], "kinds": []}]}), target("Node", "", &node), true),
            (json!({"namespaces": ["prod"]}), target("Pod", "prod", &pod), true),
            (json!({"namespaces": ["dev"]}), target("Pod", "prod", &pod), false),
            (json!({"namespaces": ["dev"]}), target("Node", "", &node), true),
            (json!({"excludedNamespaces": ["kube-*"]}), target("Namespace", "", &ns), false),
            (json!({"scope": "Namespaced"}), target("Node", "", &node), false),
            (json!({"scope": "Cluster"}), target("Namespace", "", &ns), true),
            (json!({"labelSelector": {"matchLabels": {"app": "web"}}}), target("Pod", "prod", &pod), true),
            (
                json!({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}}),
                target("Pod", "prod", &pod),
                false,
            ),
            (json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}), target("Namespace", "", &ns), true),
            (json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}), target("Pod", "prod", &pod), false),
            (json!({"namespaceSelector": {"matchLabels": {"team": "a"}}}), target("Node", "", &node), true),
            (json!({"name": "web-*"}), target("Pod", "prod", &pod), true),
            (json!({"name": "db-*"}), target("Pod", "prod", &pod), false),
        ];
        for (m, t, want) in cases {
            assert_eq!(parse_match(&m).unwrap().matches(&t), want, "{m}");
        }
        let labels = BTreeMap::from([("team".to_string(), "a".to_string())]);
        let m = parse_match(&json!({"namespaceSelector": {"matchLabels": {"team": "a"}}})).unwrap();
        assert!(m.matches(&MatchTarget { namespace_labels: Some(&labels), ..target("Pod", "prod", &pod) }));
    }

    #[test]
    fn enforcement_actions() {
        let parse = |spec: Value| parse_enforcement(&spec);
        assert_eq!(parse(json!({})).unwrap().at(WEBHOOK_POINT), Some(Action::Deny));
        assert_eq!(parse(json!({"enforcementAction": "warn"})).unwrap().at(AUDIT_POINT), Some(Action::Warn));
        assert!(parse(json!({"enforcementAction": "block"})).is_err());
        let scoped = parse(json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
            {"action": "warn", "enforcementPoints": [{"name": "*"}]},
            {"action": "deny", "enforcementPoints": [{"name": WEBHOOK_POINT}]}]}))
        .unwrap();
        assert_eq!(scoped.at(WEBHOOK_POINT), Some(Action::Deny));
        assert_eq!(scoped.at(AUDIT_POINT), Some(Action::Warn));
        let only_webhook = parse(json!({"enforcementAction": "scoped", "scopedEnforcementActions": [
            {"action": "deny", "enforcementPoints": [{"name": WEBHOOK_POINT}]}]}))
        .unwrap();
        assert_eq!(only_webhook.at(AUDIT_POINT), None);
    }

    #[test]
    fn constraint_defaults() {
        let c = ConstraintSpec::parse(&json!({"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sX",
            "metadata": {"name": "x"}}))
        .unwrap();
        assert_eq!(c.parameters, json!({}));
        assert_eq!(c.matcher.kinds(), vec!["*"]);
        assert!(ConstraintSpec::parse(&json!({"kind": "K8sX", "metadata": {}})).is_err());
    }
}
