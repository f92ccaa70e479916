//! The JSON document that Kyverno variables and JMESPath read: `request.*`,
//! `serviceAccountName`, `images`, context entries and values from a values file. The request's part and
//! `images` are built by [`crate::request_document`].

use crate::api_call::ApiCallTemplate;
pub use crate::request_document::{image_info, images, pod_spec, request_context};
use crate::variables::{CompiledValue, NestedExpressions, Resolution, Template, VariableError};
use crate::vars::Vars;
use palisade_engine::EvaluationContext;
use palisade_jmespath::Expression;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A template rendered as text (a non-string result in its JSON form).
fn render_text(t: &Template, data: &Vars<'_>) -> Result<String, String> {
    match t.render(data, "/", Resolution::Strict).map_err(|e| e.to_string())? {
        Value::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

/// Sets `value` at a dotted path (`request.object.metadata.name`), creating objects.
pub fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut current = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else { return };
        if i == parts.len() - 1 {
            map.insert(part.to_string(), value);
            return;
        }
        current = map.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Why a context entry did not load. The messages of the common offline cases are written only when
/// shown (`Display`): an Audit rule's error on the webhook is counted, never read.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError<'a> {
    /// Any other failure, with its message.
    Message(String),
    /// An entry filled only from values (imageRegistry, globalReference) has none.
    NoValue {
        /// Entry name.
        name: &'a str,
        /// Entry type.
        kind: &'static str,
    },
    /// A variable entry evaluated to null.
    Nil {
        /// Entry name.
        name: &'a str,
    },
    /// The ConfigMap is not in the cluster data.
    ConfigMapNotFound {
        /// Entry name.
        name: &'a str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        map: String,
    },
}

impl From<String> for LoadError<'_> {
    fn from(message: String) -> Self {
        LoadError::Message(message)
    }
}

impl std::fmt::Display for LoadError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Message(message) => f.write_str(message),
            LoadError::NoValue { name, kind } => {
                write!(f, "context entry {name}: no value for {kind} (offline: provide `{name}` in a values file)")
            }
            LoadError::Nil { name } => {
                write!(f, "unable to add context entry for variable {name} since it evaluated to nil")
            }
            LoadError::ConfigMapNotFound { name, namespace, map } => write!(
                f,
                "context entry {name}: ConfigMap {namespace}/{map} not found (offline: provide it with --cluster-resources or a values file)"
            ),
        }
    }
}

/// A context entry that did not load, as a rule's error reads: `failed to load context: …` (written only
/// when shown).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextFailure<'a>(pub LoadError<'a>);

impl std::fmt::Display for ContextFailure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed to load context: {}", self.0)
    }
}

/// A compiled context entry.
#[derive(Debug, Clone)]
pub enum ContextLoader {
    /// `variable`: value and/or JMESPath, with a default.
    Variable {
        /// Entry name.
        name: String,
        /// Literal value.
        value: Option<CompiledValue>,
        /// JMESPath (compiled at load unless it contains variables).
        jmes_path: Option<JmesPathField>,
        /// Default.
        default: Option<CompiledValue>,
    },
    /// `configMap`: read from cluster data (or values).
    ConfigMap {
        /// Entry name.
        name: String,
        /// ConfigMap name (may contain variables).
        map_name: Template,
        /// Namespace (may contain variables).
        namespace: Template,
    },
    /// `apiCall` (`urlPath` against the API server or `service`, GET or POST, through
    /// [`palisade_engine::ClusterData::api_call`]; offline, from values only).
    ApiCall {
        /// Entry name.
        name: String,
        /// The call (every string may contain variables).
        request: ApiCallTemplate,
        /// `jmesPath` applied to the response (compiled at load unless it contains variables).
        jmes_path: Option<JmesPathField>,
        /// `default`, used when the call fails or yields null.
        default: Option<CompiledValue>,
    },
    /// Entries filled only from values (imageRegistry, globalReference).
    External {
        /// Entry name.
        name: String,
        /// Entry type for messages.
        kind: &'static str,
    },
}

/// Stores a variable entry's value; a null one is an error unless a values file provided the entry.
fn finish<'a>(data: &mut Vars<'_>, name: &'a str, output: Option<Value>, provided: bool) -> Result<(), LoadError<'a>> {
    match output {
        Some(v) if !v.is_null() => {
            data.set_path(name, v);
            Ok(())
        }
        _ if provided => Ok(()),
        _ => Err(LoadError::Nil { name }),
    }
}

/// A `jmesPath` field: compiled at load when it holds no variables, else rendered and compiled per use.
#[derive(Debug, Clone)]
pub enum JmesPathField {
    /// No variables: compiled once.
    Compiled(Expression),
    /// Built from variables at run time; each distinct text is compiled once.
    Template(Template, NestedExpressions),
}

impl JmesPathField {
    /// Compiles `template` now when it holds no variables.
    pub fn compile(template: Template) -> Result<Self, String> {
        match template {
            Template::Literal(text) => {
                palisade_jmespath::compile(&text).map(JmesPathField::Compiled).map_err(|e| e.to_string())
            }
            other => Ok(JmesPathField::Template(other, NestedExpressions::default())),
        }
    }

    /// The expression for this evaluation: `Err` when its variables do not render, `Ok(Err)` when the
    /// rendered text is not a valid expression.
    fn expression(&self, data: &Vars<'_>) -> Result<Result<Cow<'_, Expression>, String>, String> {
        match self {
            JmesPathField::Compiled(expr) => Ok(Ok(Cow::Borrowed(expr))),
            JmesPathField::Template(t, compiled) => {
                let text = match t.render(data, "/", Resolution::Strict).map_err(|e| e.to_string())? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                Ok(compiled.get_or_compile(&text).map(|c| Cow::Owned(c.expression().clone())).map_err(|e| {
                    let message = match e {
                        VariableError::Invalid { message, .. } | VariableError::Unresolved { message, .. } => message,
                    };
                    format!("failed to apply jmespath {text}: {message}")
                }))
            }
        }
    }
}

impl ContextLoader {
    /// Entry name.
    pub fn name(&self) -> &str {
        match self {
            ContextLoader::Variable { name, .. }
            | ContextLoader::ConfigMap { name, .. }
            | ContextLoader::ApiCall { name, .. }
            | ContextLoader::External { name, .. } => name,
        }
    }

    /// Loads the entry into `data`. `provided` is true when a values file already set it.
    pub fn load(&self, data: &mut Vars<'_>, ctx: &EvaluationContext, provided: bool) -> Result<(), LoadError<'_>> {
        match self {
            ContextLoader::Variable { name, value, jmes_path, default } => {
                let default = match default {
                    Some(d) => Some(d.render(data, Resolution::Strict).map_err(|e| e.to_string())?),
                    None => None,
                };
                let mut output = default.clone();
                let path = match jmes_path {
                    Some(field) => match field.expression(data)? {
                        Ok(expr) => Some(expr),
                        Err(e) if default.is_none() => return Err(e.into()),
                        // An invalid expression with a default: the default, as when the search fails.
                        Err(_) => return finish(data, name, output, provided),
                    },
                    None => None,
                };
                let searched = match (value, &path) {
                    (Some(value), Some(p)) => {
                        let v = value.render(data, Resolution::Strict).unwrap_or(Value::Null);
                        Some(p.search(&v).map_err(|e| (p.as_str(), e)))
                    }
                    (Some(value), None) => {
                        output = Some(value.render(data, Resolution::Strict).unwrap_or(Value::Null));
                        None
                    }
                    (None, Some(p)) => Some(data.search(p).map_err(|e| (p.as_str(), e))),
                    (None, None) => None,
                };
                match searched {
                    Some(Ok(Value::Null)) | None => {}
                    Some(Ok(r)) => output = Some(r),
                    Some(Err((p, e))) if default.is_none() => {
                        return Err(format!("failed to apply jmespath {p}: {e}").into());
                    }
                    Some(Err(_)) => {}
                }
                finish(data, name, output, provided)
            }
            ContextLoader::ConfigMap { name, map_name, namespace } => {
                if provided || data.get(name).is_some() {
                    return Ok(());
                }
                let render = |t: &Template| render_text(t, data);
                let (cm, ns) = (render(map_name)?, render(namespace)?);
                let object = ctx
                    .cluster
                    .as_ref()
                    .and_then(|c| c.get("ConfigMap", &ns, &cm))
                    .ok_or(LoadError::ConfigMapNotFound { name, namespace: ns, map: cm })?;
                data.set_path(name, object);
                Ok(())
            }
            ContextLoader::ApiCall { name, request, jmes_path, default } => {
                if provided || data.get(name).is_some() {
                    return Ok(());
                }
                let request = request.render(data).map_err(|e| format!("context entry {name}: {e}"))?;
                let path = request.describe();
                let Some(answer) = ctx.cluster.as_ref().and_then(|c| c.api_call(&request)) else {
                    return Err(format!(
                        "context entry {name}: no value for apiCall {path} (offline: provide `{name}` in a values file)"
                    )
                    .into());
                };
                let selected = answer.and_then(|response| match jmes_path {
                    Some(field) => {
                        let expression = field.expression(data)??;
                        expression
                            .search(&response)
                            .map_err(|e| format!("failed to apply jmespath {}: {e}", expression.as_str()))
                    }
                    None => Ok(response),
                });
                let value = match (selected, default) {
                    (Ok(v), _) if !v.is_null() => v,
                    (_, Some(d)) => d.render(data, Resolution::Strict).map_err(|e| e.to_string())?,
                    (Ok(_), None) => return Err(format!("context entry {name}: apiCall {path} returned null").into()),
                    (Err(e), None) => return Err(format!("context entry {name}: apiCall {path}: {e}").into()),
                };
                data.set_path(name, value);
                Ok(())
            }
            ContextLoader::External { name, kind } => {
                if provided || data.get(name).is_some() {
                    Ok(())
                } else {
                    Err(LoadError::NoValue { name, kind })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_path_creates_objects() {
        let mut v = json!({"request": {"operation": "CREATE"}});
        set_path(&mut v, "request.operation", json!("UPDATE"));
        set_path(&mut v, "a.b.c", json!(1));
        assert_eq!(v, json!({"request": {"operation": "UPDATE"}, "a": {"b": {"c": 1}}}));
    }
}
