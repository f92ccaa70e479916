//! Compiled `generate` rules for the offline engine: `data`, `clone`, `cloneList` and
//! `foreach`, with variables substituted strictly in the target (`apiVersion`, `kind`,
//! `name`, `namespace`) and in the body. Nothing is created: [`GenerateRule::generate`]
//! returns the objects Kyverno's background controller would create or update, labelled as
//! Kyverno labels them.

mod build;
#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod tests;

pub use build::{check_generated, comparable};

use crate::conditions::Conditions;
use crate::context::ContextLoader;
use crate::variables::{CompiledValue, Resolution, Template};
use crate::vars::Vars;
use build::{Scope, Target};
use palisade_engine::EvaluationContext;
use palisade_engine::selector::LabelSelector;
use serde_json::{Map, Value};

type ContextCompiler<'a> = &'a dyn Fn(&Value) -> Result<Vec<ContextLoader>, String>;

/// Where the generated object's body comes from.
#[derive(Debug, Clone)]
enum Source {
    /// An inline object (`data`).
    Data(CompiledValue),
    /// One existing object (`clone`).
    Clone { name: Template, namespace: Template },
    /// Every object of some kinds in a namespace (`cloneList`).
    CloneList { kinds: Vec<Template>, namespace: Template, selector: Option<CompiledValue> },
    /// Neither: Kyverno skips the rule (`data` is nil).
    Nothing,
}

/// A target plus its source: the `GeneratePattern` of a rule or of a foreach entry.
#[derive(Debug, Clone)]
struct Pattern {
    api_version: Template,
    kind: Template,
    name: Template,
    namespace: Template,
    source: Source,
}

/// The `list` of a foreach entry: a JMESPath expression, possibly with nested variables.
#[derive(Debug, Clone)]
enum ListExpr {
    Path(palisade_jmespath::Expression),
    Template(Template),
}

/// One `foreach` entry of a generate rule.
#[derive(Debug, Clone)]
struct ForeachGeneration {
    list: ListExpr,
    context: Vec<ContextLoader>,
    preconditions: Conditions,
    pattern: Pattern,
}

/// A compiled `generate` rule.
#[derive(Debug, Clone)]
pub struct GenerateRule {
    pattern: Option<Pattern>,
    foreach: Vec<ForeachGeneration>,
    synchronize: bool,
    orphan_downstream: bool,
    generate_existing: Option<bool>,
}

const TARGET_FIELDS: [&str; 8] = ["apiVersion", "kind", "name", "namespace", "uid", "data", "clone", "cloneList"];
const RULE_FIELDS: [&str; 4] = ["synchronize", "orphanDownstreamOnPolicyDelete", "generateExisting", "foreach"];
const FOREACH_FIELDS: [&str; 3] = ["list", "context", "preconditions"];

fn template(map: &Map<String, Value>, field: &str) -> Result<Template, String> {
    let text = match map.get(field) {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(format!("{field}: must be a string, not {other}")),
    };
    Template::compile(text).map_err(|e| format!("{field}: {e}"))
}

fn flag(map: &Map<String, Value>, field: &str) -> Result<Option<bool>, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(format!("{field}: must be a boolean, not {other}")),
    }
}

fn is_empty_template(t: &Template) -> bool {
    matches!(t, Template::Literal(s) if s.is_empty())
}

/// Rejects anchors (`(key)`, `+(key)`...) anywhere in `data`, as Kyverno's policy validation does.
fn check_no_anchors(value: &Value, path: &str) -> Result<(), String> {
    match value {
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if crate::pattern::parse_anchor(k).is_some() {
                return Err(format!("data.{here}: anchors not supported on generate resources"));
            }
            check_no_anchors(v, &here)
        }),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, v)| check_no_anchors(v, &format!("{path}[{i}]")))
        }
        _ => Ok(()),
    }
}

fn compile_clone(value: &Value) -> Result<Source, String> {
    let map = value.as_object().ok_or("clone: must be an object")?;
    if let Some(other) = map.keys().find(|k| !matches!(k.as_str(), "name" | "namespace")) {
        return Err(format!("clone.{other}: unknown field"));
    }
    Ok(Source::Clone {
        name: template(map, "name").map_err(|e| format!("clone.{e}"))?,
        namespace: template(map, "namespace").map_err(|e| format!("clone.{e}"))?,
    })
}

fn compile_clone_list(value: &Value) -> Result<Source, String> {
    let map = value.as_object().ok_or("cloneList: must be an object")?;
    if let Some(other) = map.keys().find(|k| !matches!(k.as_str(), "kinds" | "namespace" | "selector")) {
        return Err(format!("cloneList.{other}: unknown field"));
    }
    let kinds = match map.get("kinds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let text = k.as_str().ok_or_else(|| format!("cloneList.kinds[{i}]: must be a string"))?;
                Template::compile(text).map_err(|e| format!("cloneList.kinds[{i}]: {e}"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("cloneList.kinds: must be a list of kinds".into()),
    };
    let selector = match map.get("selector") {
        None | Some(Value::Null) => None,
        Some(sel) => {
            let text = sel.to_string();
            if text.contains('*') || text.contains('?') {
                return Err("cloneList.selector: wildcard characters `*/?` not supported".into());
            }
            let compiled = CompiledValue::compile(sel).map_err(|e| format!("cloneList.selector: {e}"))?;
            if let Some(static_sel) = compiled.as_static() {
                parse_selector(static_sel).map_err(|e| format!("cloneList.selector: {e}"))?;
            }
            Some(compiled)
        }
    };
    Ok(Source::CloneList {
        kinds,
        namespace: template(map, "namespace").map_err(|e| format!("cloneList.{e}"))?,
        selector,
    })
}

fn parse_selector(value: &Value) -> Result<LabelSelector, String> {
    let selector: LabelSelector = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    selector.validate()?;
    Ok(selector)
}

impl Pattern {
    /// Compiles the target and source fields of `map` (a generate block or a foreach entry).
    fn compile(map: &Map<String, Value>) -> Result<Self, String> {
        let present = |f: &str| map.get(f).is_some_and(|v| !v.is_null());
        let clone_list_kinds = map.get("cloneList").and_then(|c| c.get("kinds")).and_then(Value::as_array);
        let has_clone_list = clone_list_kinds.is_some_and(|k| !k.is_empty());
        let has_clone = map.get("clone").and_then(Value::as_object).is_some_and(|c| !c.is_empty());
        if present("data") && has_clone {
            return Err("clone: only one of data or clone can be specified".into());
        }
        if has_clone && has_clone_list {
            return Err("cloneList: only one of clone or cloneList can be specified".into());
        }
        let (api_version, kind, name, namespace) =
            (template(map, "apiVersion")?, template(map, "kind")?, template(map, "name")?, template(map, "namespace")?);
        if has_clone_list {
            if !is_empty_template(&name) {
                return Err("name: with cloneList, generate.name. should not be specified".into());
            }
            if !is_empty_template(&kind) {
                return Err("kind: with cloneList, generate.kind. should not be specified".into());
            }
        } else {
            for (field, t) in [("name", &name), ("kind", &kind), ("apiVersion", &api_version)] {
                if is_empty_template(t) {
                    return Err(format!("{field}: {field} cannot be empty"));
                }
            }
        }
        let source = if has_clone {
            compile_clone(&map["clone"])?
        } else if has_clone_list {
            compile_clone_list(&map["cloneList"])?
        } else if let Some(data) = map.get("data").filter(|d| !d.is_null()) {
            if !data.is_object() {
                return Err("data: must be an object".into());
            }
            check_no_anchors(data, "")?;
            Source::Data(CompiledValue::compile(data).map_err(|e| format!("data: {e}"))?)
        } else {
            Source::Nothing
        };
        Ok(Self { api_version, kind, name, namespace, source })
    }
}

fn compile_list(text: &str) -> Result<ListExpr, String> {
    let text = text.trim();
    let inner = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).unwrap_or(text).trim();
    if inner.contains("{{") {
        let t = Template::compile(&format!("{{{{{inner}}}}}")).map_err(|e| format!("list: {e}"))?;
        return Ok(ListExpr::Template(t));
    }
    palisade_jmespath::compile(inner).map(ListExpr::Path).map_err(|e| format!("list: invalid JMESPath {inner:?}: {e}"))
}

impl ListExpr {
    /// The elements to iterate: a list, or a single value (null elements are skipped later).
    fn elements(&self, data: &Vars<'_>) -> Result<Vec<Value>, String> {
        let value = match self {
            ListExpr::Path(expr) => data.search(expr).map_err(|e| e.to_string())?,
            ListExpr::Template(t) => t.render(data, "/list", Resolution::Strict).map_err(|e| e.to_string())?,
        };
        Ok(match value {
            Value::Array(items) => items,
            other => vec![other],
        })
    }
}

fn compile_foreach(item: &Value, compile_context: ContextCompiler<'_>) -> Result<ForeachGeneration, String> {
    let map = item.as_object().ok_or("must be an object")?;
    let known = |k: &str| FOREACH_FIELDS.contains(&k) || TARGET_FIELDS.contains(&k);
    if let Some(other) = map.keys().find(|k| !known(k)) {
        return Err(format!("{other}: unknown field"));
    }
    let list = compile_list(map.get("list").and_then(Value::as_str).ok_or("list: missing")?)?;
    let context = match map.get("context").filter(|c| !c.is_null()) {
        Some(c) => compile_context(c).map_err(|e| format!("context{e}"))?,
        None => Vec::new(),
    };
    let preconditions = Conditions::compile(map.get("preconditions").unwrap_or(&Value::Null))
        .map_err(|e| format!("preconditions.{e}"))?;
    Ok(ForeachGeneration { list, context, preconditions, pattern: Pattern::compile(map)? })
}

impl GenerateRule {
    /// Compiles a `generate` block. Errors name the field relative to the block (`clone.name: ...`).
    pub fn compile(
        block: &serde_json::Map<String, serde_json::Value>,
        compile_context: &dyn Fn(&serde_json::Value) -> Result<Vec<crate::context::ContextLoader>, String>,
    ) -> Result<Self, String> {
        if let Some(other) =
            block.keys().find(|k| !TARGET_FIELDS.contains(&k.as_str()) && !RULE_FIELDS.contains(&k.as_str()))
        {
            return Err(format!("{other}: unknown field"));
        }
        let foreach: Vec<ForeachGeneration> = match block.get("foreach") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, f)| compile_foreach(f, compile_context).map_err(|e| format!("foreach[{i}].{e}")))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("foreach: must be a list".into()),
        };
        let pattern = if foreach.is_empty() {
            Some(Pattern::compile(block)?)
        } else {
            if let Some(f) =
                ["data", "clone", "cloneList"].iter().find(|f| block.get(**f).is_some_and(|v| !v.is_null()))
            {
                return Err(format!("{f}: cannot be combined with foreach (put it inside each foreach entry)"));
            }
            None
        };
        Ok(Self {
            pattern,
            foreach,
            synchronize: flag(block, "synchronize")?.unwrap_or(false),
            orphan_downstream: flag(block, "orphanDownstreamOnPolicyDelete")?.unwrap_or(false),
            generate_existing: flag(block, "generateExisting")?,
        })
    }

    /// Whether generated objects are kept in sync with the rule (`synchronize`).
    pub fn synchronize(&self) -> bool {
        self.synchronize
    }

    /// Whether generated objects survive deletion of the policy (`orphanDownstreamOnPolicyDelete`).
    pub fn orphan_downstream_on_policy_delete(&self) -> bool {
        self.orphan_downstream
    }

    /// The rule-level `generateExisting`, when set (it overrides the policy-level flag).
    pub fn generate_existing(&self) -> Option<bool> {
        self.generate_existing
    }

    /// Whether the rule generates through `foreach`.
    pub fn has_foreach(&self) -> bool {
        !self.foreach.is_empty()
    }

    /// The objects this rule generates for the request whose rule context is `data`
    /// (`request.*` and context entries, already loaded; the rule's preconditions already
    /// held). `policy` is the policy name (`namespace/name` for a namespaced Policy).
    ///
    /// Clone sources and existing targets are read from `ctx.cluster`. A target that already
    /// exists is returned only with `synchronize: true` (Kyverno then updates it). A DELETE
    /// request generates nothing.
    pub fn generate(
        &self,
        data: &mut Vars<'_>,
        ctx: &palisade_engine::EvaluationContext,
        policy: &str,
        rule: &str,
    ) -> Result<Vec<serde_json::Value>, String> {
        // Deleting a trigger never creates anything (Kyverno only cleans up synchronized downstreams).
        if data.doc().pointer("/request/operation").and_then(Value::as_str) == Some("DELETE") {
            return Ok(Vec::new());
        }
        let scope = Scope::new(data, policy, rule, self.synchronize);
        let mut out = Vec::new();
        if let Some(pattern) = &self.pattern {
            pattern.generate(data, ctx, &scope, "generate", &mut out)?;
            return Ok(out);
        }
        let mut errors = Vec::new();
        for (i, f) in self.foreach.iter().enumerate() {
            let prefix = format!("generate.foreach[{i}]");
            if let Err(e) = f.generate(data, ctx, &scope, &prefix, &mut out) {
                errors.push(e);
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors.join("; ")) }
    }
}

impl ForeachGeneration {
    fn generate(
        &self,
        data: &Vars<'_>,
        ctx: &EvaluationContext,
        scope: &Scope,
        prefix: &str,
        out: &mut Vec<Value>,
    ) -> Result<(), String> {
        let elements = self.list.elements(data).map_err(|e| format!("{prefix}.list: failed to evaluate: {e}"))?;
        let mut errors = Vec::new();
        for (index, element) in elements.into_iter().enumerate() {
            if element.is_null() {
                continue;
            }
            // Each element sees the rule context as it was before the loop (Kyverno resets it).
            let mut scoped = data.clone();
            scoped.set_element(std::borrow::Cow::Owned(element), index, 0);
            if let Err(e) = self.generate_element(&mut scoped, ctx, scope, prefix, out) {
                errors.push(format!("{e} (element {index})"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }

    fn generate_element(
        &self,
        data: &mut Vars<'_>,
        ctx: &EvaluationContext,
        scope: &Scope,
        prefix: &str,
        out: &mut Vec<Value>,
    ) -> Result<(), String> {
        for loader in &self.context {
            loader.load(data, ctx, false).map_err(|e| format!("{prefix}.context: failed to load context: {e}"))?;
        }
        match self.preconditions.evaluate(data, Resolution::Lenient) {
            Ok((true, _)) => self.pattern.generate(data, ctx, scope, prefix, out),
            Ok((false, _)) => Ok(()),
            Err(e) => Err(format!("{prefix}.preconditions: failed to evaluate preconditions: {e}")),
        }
    }
}

fn render_string(t: &Template, data: &Vars<'_>, field: &str) -> Result<String, String> {
    match t.render(data, "/", Resolution::Strict) {
        Ok(Value::String(s)) => Ok(s),
        Ok(Value::Null) => Ok(String::new()),
        Ok(other) => Ok(other.to_string()),
        Err(e) => Err(format!("{field}: {e}")),
    }
}

impl Pattern {
    fn generate(
        &self,
        data: &Vars<'_>,
        ctx: &EvaluationContext,
        scope: &Scope,
        prefix: &str,
        out: &mut Vec<Value>,
    ) -> Result<(), String> {
        let target = Target {
            api_version: render_string(&self.api_version, data, &format!("{prefix}.apiVersion"))?,
            kind: render_string(&self.kind, data, &format!("{prefix}.kind"))?,
            name: render_string(&self.name, data, &format!("{prefix}.name"))?,
            namespace: render_string(&self.namespace, data, &format!("{prefix}.namespace"))?,
        };
        scope.check_namespace(&target.namespace, &format!("{prefix}.namespace"))?;
        match &self.source {
            Source::Nothing => Ok(()),
            Source::Data(body) => {
                let body = body.render(data, Resolution::Strict).map_err(|e| format!("{prefix}.data: {e}"))?;
                if !body.is_object() {
                    return Err(format!("{prefix}.data: must render to an object, not {body}"));
                }
                scope.emit(body, &target, ctx, out);
                Ok(())
            }
            Source::Clone { name, namespace } => {
                let source_name = render_string(name, data, &format!("{prefix}.clone.name"))?;
                let source_ns = render_string(namespace, data, &format!("{prefix}.clone.namespace"))?;
                if source_name.is_empty() {
                    return Ok(());
                }
                scope.check_namespace(&source_ns, &format!("{prefix}.clone.namespace"))?;
                build::clone_one(&target, &source_ns, &source_name, ctx, scope, out)
                    .map_err(|e| format!("{prefix}.clone: {e}"))
            }
            Source::CloneList { kinds, namespace, selector } => {
                let source_ns = render_string(namespace, data, &format!("{prefix}.cloneList.namespace"))?;
                scope.check_namespace(&source_ns, &format!("{prefix}.cloneList.namespace"))?;
                let selector = match selector {
                    Some(s) => {
                        let value = s
                            .render(data, Resolution::Strict)
                            .map_err(|e| format!("{prefix}.cloneList.selector: {e}"))?;
                        Some(parse_selector(&value).map_err(|e| format!("{prefix}.cloneList.selector: {e}"))?)
                    }
                    None => None,
                };
                for (i, kind) in kinds.iter().enumerate() {
                    let kind = render_string(kind, data, &format!("{prefix}.cloneList.kinds[{i}]"))?;
                    build::clone_list(&kind, &source_ns, selector.as_ref(), &target.namespace, ctx, scope, out)
                        .map_err(|e| format!("{prefix}.cloneList: {e}"))?;
                }
                Ok(())
            }
        }
    }
}
