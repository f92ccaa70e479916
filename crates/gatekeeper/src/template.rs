//! ConstraintTemplate parsing (`templates.gatekeeper.sh/v1`, `v1beta1`, `v1alpha1`) and engine
//! selection with Gatekeeper's precedence.
//!
//! Precedence, as in Gatekeeper (docs "Integration with Kubernetes Validating Admission Policy",
//! frameworks `client/drivers`): when `code[]` holds a `K8sNativeValidation` entry it is the only
//! engine evaluated; otherwise the legacy `targets[].rego` wins over a `code[]` `Rego` entry.

use crate::error::TemplateError;
use serde_json::Value;

/// The only target Gatekeeper's admission templates use.
pub const ADMISSION_TARGET: &str = "admission.k8s.gatekeeper.sh";

/// Name of the CEL engine in `code[]`.
pub const CEL_ENGINE: &str = "K8sNativeValidation";

/// Name of the Rego engine in `code[]`.
pub const REGO_ENGINE: &str = "Rego";

/// Which engine to evaluate when a template ships both CEL and Rego.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EnginePreference {
    /// Gatekeeper's behaviour: CEL (`K8sNativeValidation`) when present, else Rego.
    #[default]
    Gatekeeper,
    /// Rego when present, else CEL (like `gator verify --enable-k8s-native-validation=false`).
    PreferRego,
}

/// Rego source of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct RegoSource {
    /// The template module.
    pub rego: String,
    /// Library modules (`package lib.*`).
    pub libs: Vec<String>,
    /// Whether the source opts into Rego v1 (`source.version: "v1"`).
    pub v1: bool,
}

/// One CEL variable (`variables[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CelVariable {
    /// Variable name (`variables.<name>`).
    pub name: String,
    /// CEL expression.
    pub expression: String,
}

/// One CEL validation (`validations[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct CelValidation {
    /// Expression that must be true.
    pub expression: String,
    /// Static message.
    pub message: Option<String>,
    /// Expression producing the message.
    pub message_expression: Option<String>,
}

/// The `K8sNativeValidation` source of a template (ValidatingAdmissionPolicy semantics).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CelSource {
    /// Validations, all evaluated.
    pub validations: Vec<CelValidation>,
    /// Variables, evaluated lazily in order.
    pub variables: Vec<CelVariable>,
    /// Match conditions (`matchCondition[]`), name and expression.
    pub match_conditions: Vec<CelVariable>,
    /// Whether evaluation errors are ignored (`failurePolicy: Ignore`); default is Fail.
    pub ignore_errors: bool,
}

/// The engine chosen for a template.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateCode {
    /// Rego (template module plus libs).
    Rego(RegoSource),
    /// CEL (`K8sNativeValidation`).
    Cel(CelSource),
}

/// A parsed ConstraintTemplate.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    /// `metadata.name`.
    pub name: String,
    /// Constraint kind the template defines (`spec.crd.spec.names.kind`).
    pub kind: String,
    /// Schema of the constraint parameters, if any.
    pub schema: Option<Value>,
    /// The engine selected by the precedence rules.
    pub code: TemplateCode,
    /// Whether the template reads `data.inventory` (a referential template).
    pub referential: bool,
    /// GVKs named in the `metadata.gatekeeper.sh/requires-sync-data` annotation, as `(group, version, kind)`.
    pub sync_kinds: Vec<(String, String, String)>,
}

/// Whether a document is a ConstraintTemplate.
pub fn is_template(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("ConstraintTemplate")
        && doc.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("templates.gatekeeper.sh/"))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

impl TemplateSpec {
    /// Parses a ConstraintTemplate document and selects its engine.
    pub fn parse(doc: &Value, preference: EnginePreference) -> Result<Self, TemplateError> {
        let name = str_at(doc, &["metadata", "name"]).unwrap_or_default().to_string();
        let invalid = |message: String| TemplateError::Invalid { template: name.clone(), message };
        if name.is_empty() {
            return Err(invalid("metadata.name is required".into()));
        }
        let kind = str_at(doc, &["spec", "crd", "spec", "names", "kind"])
            .ok_or_else(|| invalid("spec.crd.spec.names.kind is required".into()))?
            .to_string();
        if kind.to_ascii_lowercase() != name {
            return Err(invalid(format!("metadata.name must be the lowercase of the kind {kind:?}")));
        }
        let schema = doc.pointer("/spec/crd/spec/validation/openAPIV3Schema").filter(|s| !s.is_null()).cloned();
        let targets = doc.pointer("/spec/targets").and_then(Value::as_array).cloned().unwrap_or_default();
        if targets.len() != 1 {
            return Err(invalid(format!("exactly one target is required, found {}", targets.len())));
        }
        let target = &targets[0];
        let target_name = target.get("target").and_then(Value::as_str).unwrap_or_default();
        if target_name != ADMISSION_TARGET {
            return Err(invalid(format!("unsupported target {target_name:?}, expected {ADMISSION_TARGET}")));
        }
        let code = select_code(target, preference).map_err(invalid)?;
        let referential = match &code {
            TemplateCode::Rego(r) => {
                r.rego.contains("data.inventory") || r.libs.iter().any(|l| l.contains("data.inventory"))
            }
            TemplateCode::Cel(_) => false,
        };
        let sync_kinds = doc
            .pointer("/metadata/annotations/metadata.gatekeeper.sh~1requires-sync-data")
            .and_then(Value::as_str)
            .map(parse_sync_kinds)
            .unwrap_or_default();
        Ok(Self { name, kind, schema, code, referential, sync_kinds })
    }
}

fn string_list(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(|| "libs entries must be strings".to_string()))
            .collect(),
        Some(_) => Err("libs must be a list of strings".into()),
    }
}

fn select_code(target: &Value, preference: EnginePreference) -> Result<TemplateCode, String> {
    let legacy = match target.get("rego").and_then(Value::as_str).filter(|s| !s.trim().is_empty()) {
        Some(rego) => Some(RegoSource { rego: rego.to_string(), libs: string_list(target.get("libs"))?, v1: false }),
        None => None,
    };
    let mut code_rego = None;
    let mut cel = None;
    for entry in target.get("code").and_then(Value::as_array).into_iter().flatten() {
        let engine = entry.get("engine").and_then(Value::as_str).unwrap_or_default();
        let source = entry.get("source").cloned().unwrap_or(Value::Null);
        match engine {
            REGO_ENGINE if code_rego.is_none() => {
                let rego = source.get("rego").and_then(Value::as_str).ok_or("code[Rego].source.rego is required")?;
                let v1 = source.get("version").and_then(Value::as_str) == Some("v1");
                code_rego = Some(RegoSource { rego: rego.to_string(), libs: string_list(source.get("libs"))?, v1 });
            }
            CEL_ENGINE if cel.is_none() => cel = Some(parse_cel(&source)?),
            REGO_ENGINE | CEL_ENGINE => {}
            other => return Err(format!("unknown engine {other:?} in code[]")),
        }
    }
    let rego = legacy.or(code_rego);
    match (preference, rego, cel) {
        (EnginePreference::Gatekeeper, _, Some(cel)) | (EnginePreference::PreferRego, None, Some(cel)) => {
            Ok(TemplateCode::Cel(cel))
        }
        (_, Some(rego), _) => Ok(TemplateCode::Rego(rego)),
        (_, None, None) => Err("the target has neither rego nor code[] with a supported engine".into()),
    }
}

fn named_list(source: &Value, field: &str) -> Result<Vec<CelVariable>, String> {
    let mut out = Vec::new();
    for (i, item) in source.get(field).and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        let expression = item.get("expression").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() || expression.is_empty() {
            return Err(format!("{field}[{i}] needs a name and an expression"));
        }
        if name.starts_with("gatekeeper_internal_") {
            return Err(format!("{field}[{i}]: {name} uses the reserved prefix gatekeeper_internal_"));
        }
        out.push(CelVariable { name: name.to_string(), expression: expression.to_string() });
    }
    Ok(out)
}

fn parse_cel(source: &Value) -> Result<CelSource, String> {
    let variables = named_list(source, "variables")?;
    if let Some(v) = variables.iter().find(|v| v.name == "params" || v.name == "anyObject") {
        return Err(format!("variables: {} is a reserved variable name", v.name));
    }
    let match_conditions = named_list(source, "matchCondition")?;
    let mut validations = Vec::new();
    for (i, item) in source.get("validations").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let expression = item.get("expression").and_then(Value::as_str).unwrap_or_default();
        if expression.is_empty() {
            return Err(format!("validations[{i}].expression is required"));
        }
        let text = |k: &str| item.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        validations.push(CelValidation {
            expression: expression.to_string(),
            message: text("message"),
            message_expression: text("messageExpression"),
        });
    }
    let ignore_errors = match source.get("failurePolicy").and_then(Value::as_str) {
        None | Some("Fail") => false,
        Some("Ignore") => true,
        Some(other) => return Err(format!("unrecognized failure policy: {other}")),
    };
    Ok(CelSource { validations, variables, match_conditions, ignore_errors })
}

/// Reads the kinds named by a `requires-sync-data` annotation: a JSON list of requirements, each
/// a list of `{groups, versions, kinds}` alternatives.
fn parse_sync_kinds(text: &str) -> Vec<(String, String, String)> {
    let Ok(value) = serde_json::from_str::<Value>(text) else { return Vec::new() };
    let mut out = Vec::new();
    let alternatives = value.as_array().into_iter().flatten().flat_map(|req| match req {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    });
    for alt in alternatives {
        let list = |k: &str| -> Vec<String> {
            alt.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        };
        for group in list("groups") {
            for version in list("versions") {
                for kind in list("kinds") {
                    out.push((group.clone(), version.clone(), kind.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(target: Value) -> Value {
        json!({"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
               "metadata": {"name": "k8sx"},
               "spec": {"crd": {"spec": {"names": {"kind": "K8sX"}}}, "targets": [target]}})
    }

    #[test]
    fn engine_precedence() {
        let both = template(json!({"target": ADMISSION_TARGET, "code": [
            {"engine": "K8sNativeValidation", "source": {"validations": [{"expression": "true"}]}},
            {"engine": "Rego", "source": {"rego": "package x"}}]}));
        let cases = [(EnginePreference::Gatekeeper, true), (EnginePreference::PreferRego, false)];
        for (pref, want_cel) in cases {
            let spec = TemplateSpec::parse(&both, pref).unwrap();
            assert_eq!(matches!(spec.code, TemplateCode::Cel(_)), want_cel, "{pref:?}");
        }
        let legacy = template(json!({"target": ADMISSION_TARGET, "rego": "package legacy",
            "code": [{"engine": "Rego", "source": {"rego": "package code"}}]}));
        match TemplateSpec::parse(&legacy, EnginePreference::Gatekeeper).unwrap().code {
            TemplateCode::Rego(r) => assert_eq!(r.rego, "package legacy"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_templates() {
        let cases = [
            template(json!({"target": "other"})),
            template(json!({"target": ADMISSION_TARGET})),
            template(json!({"target": ADMISSION_TARGET, "code": [{"engine": "K8sNativeValidation",
                "source": {"variables": [{"name": "params", "expression": "1"}]}}]})),
            json!({"kind": "ConstraintTemplate", "metadata": {"name": "k8sx"}, "spec": {}}),
        ];
        for doc in cases {
            assert!(TemplateSpec::parse(&doc, EnginePreference::Gatekeeper).is_err(), "{doc}");
        }
    }

    #[test]
    fn sync_annotation() {
        let kinds = parse_sync_kinds(r#"[[{"groups": [""], "versions": ["v1"], "kinds": ["Service"]}]]"#);
        assert_eq!(kinds, vec![(String::new(), "v1".to_string(), "Service".to_string())]);
    }
}
