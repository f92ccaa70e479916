//! What every `foreach` (validate, mutate) shares: the list expression, per-element context
//! and preconditions (`element`/`elementIndex` are mounted by [`crate::vars::Vars::set_element`]).

use crate::conditions::Conditions;
use crate::context::ContextLoader;
use crate::variables::Template;
use serde_json::{Map, Value};

/// The parts of a `foreach` entry common to every rule type.
#[derive(Debug, Clone)]
pub struct ForeachCommon {
    /// The list expression (bare JMESPath or `{{ }}`), compiled as a variable.
    pub list: Template,
    /// Per-element context entries.
    pub context: Vec<ContextLoader>,
    /// Per-element preconditions.
    pub preconditions: Conditions,
}

/// Checks the entry's fields against `allowed` and compiles the common parts.
pub fn compile_common(
    item: &Value,
    allowed: &[&str],
    compile_context: &dyn Fn(&Value) -> Result<Vec<ContextLoader>, String>,
) -> Result<(ForeachCommon, Map<String, Value>), String> {
    let map = item.as_object().ok_or("must be an object")?;
    if let Some(other) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("{other}: unknown field"));
    }
    let list_text = map.get("list").and_then(Value::as_str).ok_or("list: missing")?.trim();
    let list_text = list_text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).unwrap_or(list_text).trim();
    let list = Template::compile(&format!("{{{{{list_text}}}}}")).map_err(|e| format!("list: {e}"))?;
    let context = match map.get("context") {
        Some(c) => compile_context(c).map_err(|e| format!("context{e}"))?,
        None => Vec::new(),
    };
    let preconditions = Conditions::compile(map.get("preconditions").unwrap_or(&Value::Null))
        .map_err(|e| format!("preconditions.{e}"))?;
    Ok((ForeachCommon { list, context, preconditions }, map.clone()))
}
