//! A small renderer for the subset of Helm's Go templates the chart uses, so the chart can be rendered and
//! checked without `helm` (not installable from the machine's package sources).
//!
//! Supported: `{{- … -}}` trimming, comments, `if`/`else`/`with`/`range` (with `$k, $v :=`)/`define`/`end`,
//! pipelines with `include`, `toYaml`, `nindent`, `indent`, `quote`, `default`, `trunc`, `trimSuffix`, `printf`
//! (`%s`), `and`, and `.Capabilities.APIVersions.Has`. Anything else is an error, so the chart cannot silently
//! use a construct this renderer gets wrong.

use serde_json::{Map, Value};
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Output(String),
    If(String, Vec<Node>, Vec<Node>),
    With(String, Vec<Node>, Vec<Node>),
    Range(Option<(String, String)>, String, Vec<Node>),
}

/// Templates by name (`define`d blocks) plus the files' own bodies.
#[derive(Default)]
pub struct Templates {
    defines: HashMap<String, Vec<Node>>,
}

fn tokenize(src: &str) -> Result<Vec<(bool, String)>, String> {
    // (is_action, text); trimming applied.
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_string();
        if trim_next {
            text = text.trim_start().to_string();
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed {{")?;
        let mut body = &after[..end];
        if let Some(b) = body.strip_prefix('-') {
            text = text.trim_end().to_string();
            body = b;
        }
        trim_next = false;
        if let Some(b) = body.strip_suffix('-') {
            trim_next = true;
            body = b;
        }
        out.push((false, text));
        out.push((true, body.trim().to_string()));
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    out.push((false, text.to_string()));
    Ok(out)
}

fn parse_block(
    tokens: &mut std::vec::IntoIter<(bool, String)>,
    t: &mut Templates,
) -> Result<(Vec<Node>, String), String> {
    let mut nodes = Vec::new();
    while let Some((is_action, text)) = tokens.next() {
        if !is_action {
            if !text.is_empty() {
                nodes.push(Node::Text(text));
            }
            continue;
        }
        let (word, arg) = text.split_once(' ').map(|(w, a)| (w, a.trim())).unwrap_or((text.as_str(), ""));
        match word {
            _ if text.starts_with("/*") => {}
            "end" | "else" => return Ok((nodes, word.to_string())),
            "if" | "with" => {
                let (then, how) = parse_block(tokens, t)?;
                let otherwise = if how == "else" { expect_end(parse_block(tokens, t)?)? } else { Vec::new() };
                if how != "else" && how != "end" {
                    return Err(format!("{word} {arg}: missing end"));
                }
                nodes.push(if word == "if" {
                    Node::If(arg.into(), then, otherwise)
                } else {
                    Node::With(arg.into(), then, otherwise)
                });
            }
            "range" => {
                let body = expect_end(parse_block(tokens, t)?)?;
                let (vars, pipeline) = match arg.split_once(":=") {
                    Some((vars, p)) => {
                        let (k, v) = vars.split_once(',').ok_or("range needs $k, $v")?;
                        (Some((k.trim().to_string(), v.trim().to_string())), p.trim().to_string())
                    }
                    None => (None, arg.to_string()),
                };
                nodes.push(Node::Range(vars, pipeline, body));
            }
            "define" => {
                let name = arg.trim_matches('"').to_string();
                let body = expect_end(parse_block(tokens, t)?)?;
                t.defines.insert(name, body);
            }
            _ => nodes.push(Node::Output(text.clone())),
        }
    }
    Ok((nodes, String::new()))
}

fn expect_end((nodes, how): (Vec<Node>, String)) -> Result<Vec<Node>, String> {
    if how == "end" { Ok(nodes) } else { Err(format!("expected end, found {how:?}")) }
}

impl Templates {
    /// Registers the `define`s of a helpers file.
    pub fn add_helpers(&mut self, src: &str) -> Result<(), String> {
        let mut tokens = tokenize(src)?.into_iter();
        parse_block(&mut tokens, self)?;
        Ok(())
    }

    /// Renders one template file against `root` (`.Values`, `.Release`, `.Chart`, `.Capabilities`).
    pub fn render(&mut self, src: &str, root: &Value) -> Result<String, String> {
        let mut tokens = tokenize(src)?.into_iter();
        let (nodes, how) = parse_block(&mut tokens, self)?;
        if !how.is_empty() {
            return Err(format!("unexpected {how}"));
        }
        let mut out = String::new();
        let scope = Scope { root, dot: root.clone(), vars: HashMap::new() };
        self.exec(&nodes, &scope, &mut out)?;
        Ok(out)
    }

    fn exec(&self, nodes: &[Node], scope: &Scope, out: &mut String) -> Result<(), String> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Output(p) => out.push_str(&display(&self.pipeline(p, scope)?)),
                Node::If(p, then, otherwise) => {
                    let branch = if truthy(&self.pipeline(p, scope)?) { then } else { otherwise };
                    self.exec(branch, scope, out)?;
                }
                Node::With(p, then, otherwise) => {
                    let v = self.pipeline(p, scope)?;
                    if truthy(&v) {
                        self.exec(then, &scope.with_dot(v), out)?;
                    } else {
                        self.exec(otherwise, scope, out)?;
                    }
                }
                Node::Range(vars, p, body) => {
                    let items: Vec<(Value, Value)> = match self.pipeline(p, scope)? {
                        Value::Array(a) => a.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
                        Value::Object(m) => m.into_iter().map(|(k, v)| (Value::from(k), v)).collect(),
                        Value::Null => Vec::new(),
                        other => return Err(format!("range over {other}")),
                    };
                    for (k, v) in items {
                        let mut inner = scope.with_dot(v.clone());
                        if let Some((kn, vn)) = vars {
                            inner.vars.insert(kn.clone(), k);
                            inner.vars.insert(vn.clone(), v);
                        }
                        self.exec(body, &inner, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn pipeline(&self, text: &str, scope: &Scope) -> Result<Value, String> {
        let mut value: Option<Value> = None;
        for command in split_outside_quotes(text, '|') {
            let mut args = words(command.trim())?;
            if args.is_empty() {
                return Err(format!("empty command in {text:?}"));
            }
            let name = args.remove(0);
            let mut values: Vec<Value> = args.iter().map(|a| self.arg(a, scope)).collect::<Result<_, _>>()?;
            if let Some(v) = value.take() {
                values.push(v);
            }
            value = Some(self.call(&name, values, scope)?);
        }
        value.ok_or_else(|| format!("empty pipeline {text:?}"))
    }

    fn call(&self, name: &str, args: Vec<Value>, scope: &Scope) -> Result<Value, String> {
        let s = |i: usize| -> Result<String, String> {
            args.get(i).map(display).ok_or_else(|| format!("{name}: missing argument {i}"))
        };
        let n = |i: usize| -> Result<usize, String> { s(i)?.parse().map_err(|e| format!("{name}: {e}")) };
        Ok(match name {
            "include" => {
                let body = self.defines.get(&s(0)?).ok_or_else(|| format!("no template {:?}", s(0)))?;
                let mut out = String::new();
                self.exec(body, &scope.with_dot(args.get(1).cloned().unwrap_or_default()), &mut out)?;
                Value::from(out)
            }
            "toYaml" => {
                let yaml = serde_saphyr::to_string(args.first().unwrap_or(&Value::Null)).map_err(|e| e.to_string())?;
                Value::from(yaml.trim_end().to_string())
            }
            "nindent" | "indent" => {
                let pad = " ".repeat(n(0)?);
                let body: Vec<String> = s(1)?.lines().map(|l| format!("{pad}{l}")).collect();
                Value::from(format!("{}{}", if name == "nindent" { "\n" } else { "" }, body.join("\n")))
            }
            "quote" => Value::from(format!("{:?}", s(0)?)),
            "default" => {
                if args.get(1).is_some_and(truthy) {
                    args[1].clone()
                } else {
                    args.first().cloned().unwrap_or_default()
                }
            }
            "trunc" => Value::from(s(1)?.chars().take(n(0)?).collect::<String>()),
            "trimSuffix" => Value::from(s(1)?.strip_suffix(&s(0)?).map(str::to_string).unwrap_or(s(1)?)),
            "printf" => {
                let mut out = s(0)?;
                for a in &args[1..] {
                    out = out.replacen("%s", &display(a), 1);
                }
                Value::from(out)
            }
            "and" => args.iter().find(|a| !truthy(a)).or(args.last()).cloned().unwrap_or_default(),
            ".Capabilities.APIVersions.Has" => {
                let have = scope.root.pointer("/Capabilities/APIVersions").and_then(Value::as_array);
                Value::Bool(have.is_some_and(|h| h.contains(&Value::from(s(0).unwrap_or_default()))))
            }
            _ if args.is_empty() => self.arg(name, scope)?,
            _ => return Err(format!("unsupported function {name:?}")),
        })
    }

    fn arg(&self, word: &str, scope: &Scope) -> Result<Value, String> {
        if let Some(q) = word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
            return Ok(Value::from(q.replace("\\\"", "\"")));
        }
        if let Ok(n) = word.parse::<i64>() {
            return Ok(Value::from(n));
        }
        if word == "." {
            return Ok(scope.dot.clone());
        }
        if let Some(path) = word.strip_prefix('.') {
            return Ok(walk(&scope.dot, path));
        }
        if let Some(var) = word.strip_prefix('$') {
            let (name, path) = var.split_once('.').unwrap_or((var, ""));
            let base = if name.is_empty() {
                scope.root.clone()
            } else {
                scope.vars.get(word.split('.').next().unwrap_or(word)).cloned().ok_or(format!("no variable {word}"))?
            };
            return Ok(if path.is_empty() { base } else { walk(&base, path) });
        }
        Err(format!("unsupported argument {word:?}"))
    }
}

struct Scope<'a> {
    root: &'a Value,
    dot: Value,
    vars: HashMap<String, Value>,
}

impl<'a> Scope<'a> {
    fn with_dot(&self, dot: Value) -> Scope<'a> {
        Scope { root: self.root, dot, vars: self.vars.clone() }
    }
}

fn walk(v: &Value, path: &str) -> Value {
    path.split('.').filter(|p| !p.is_empty()).fold(v.clone(), |v, k| v.get(k).cloned().unwrap_or(Value::Null))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for w in split_outside_quotes(text, ' ') {
        if !w.is_empty() {
            out.push(w.to_string());
        }
    }
    if text.contains('(') {
        return Err(format!("parenthesised pipelines are not supported: {text:?}"));
    }
    Ok(out)
}

/// The `.Chart` object Helm builds from Chart.yaml (capitalised keys).
pub fn chart_object(chart_yaml: &Value) -> Value {
    let mut m = Map::new();
    for (from, to) in [("name", "Name"), ("version", "Version"), ("appVersion", "AppVersion")] {
        m.insert(to.into(), chart_yaml[from].clone());
    }
    Value::Object(m)
}
