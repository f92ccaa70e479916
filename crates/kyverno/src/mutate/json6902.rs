//! `patchesJson6902`: an RFC 6902 patch given as a YAML (or JSON) string, applied the way Kyverno applies it
//! with evanphx/json-patch v5 options `SupportNegativeIndices`, `AllowMissingPathOnRemove` and
//! `EnsurePathExistsOnAdd` (upstream `pkg/engine/mutate/patch/patchJSON6902.go`).

use serde_json::{Map, Value};

use super::MutateError;

/// One decoded operation.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Add(Value),
    Remove,
    Replace(Value),
    Move(Vec<String>, String),
    Copy(Vec<String>, String),
    Test(Value),
}

#[derive(Debug, Clone, PartialEq)]
struct Operation {
    op: Op,
    /// Decoded reference tokens of `path` (empty for the whole document).
    path: Vec<String>,
    /// `path` as written, for messages.
    raw_path: String,
}

impl Operation {
    fn name(&self) -> &'static str {
        match self.op {
            Op::Add(_) => "add",
            Op::Remove => "remove",
            Op::Replace(_) => "replace",
            Op::Move(..) => "move",
            Op::Copy(..) => "copy",
            Op::Test(_) => "test",
        }
    }
}

/// A parsed `patchesJson6902` list, ready to apply to many resources.
#[derive(Debug, Clone, PartialEq)]
pub struct Json6902Patch {
    ops: Vec<Operation>,
}

/// Parses `patches` (variables already substituted) and applies it to `resource`.
pub fn apply_json6902(resource: &Value, patches: &str) -> Result<Value, MutateError> {
    Json6902Patch::parse(patches)?.apply(resource)
}

fn decode_pointer(raw: &str) -> Result<Vec<String>, String> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(format!("JSON pointer {raw:?} must start with '/'"));
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

impl Json6902Patch {
    /// Parses the YAML form (a list of `{op, path, value|from}`); a string starting with `[` is read as JSON.
    pub fn parse(patches: &str) -> Result<Self, MutateError> {
        let doc: Value = if patches.starts_with('[') {
            serde_json::from_str(patches).map_err(|e| MutateError::Json6902Decode(e.to_string()))?
        } else if patches.trim().is_empty() {
            Value::Array(Vec::new())
        } else {
            serde_saphyr::from_str(patches).map_err(|e| MutateError::Json6902Decode(e.to_string()))?
        };
        Self::from_value(&doc)
    }

    /// Decodes an already-parsed list of operations.
    pub fn from_value(doc: &Value) -> Result<Self, MutateError> {
        let Value::Array(items) = doc else {
            return Err(MutateError::Json6902Decode("expected a list of operations".to_string()));
        };
        let ops = items.iter().enumerate().map(|(index, item)| decode_op(index, item)).collect::<Result<_, _>>()?;
        Ok(Json6902Patch { ops })
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the patch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Applies the operations in order to a copy of `resource`.
    pub fn apply(&self, resource: &Value) -> Result<Value, MutateError> {
        let mut doc = resource.clone();
        for (index, op) in self.ops.iter().enumerate() {
            apply_op(&mut doc, op).map_err(|reason| MutateError::Json6902Operation {
                index,
                op: op.name().to_string(),
                path: op.raw_path.clone(),
                reason,
            })?;
        }
        Ok(doc)
    }
}

fn decode_op(index: usize, item: &Value) -> Result<Operation, MutateError> {
    let err = |op: &str, path: &str, reason: String| MutateError::Json6902Operation {
        index,
        op: op.to_string(),
        path: path.to_string(),
        reason,
    };
    let Value::Object(map) = item else {
        return Err(err("?", "", "an operation must be a map".to_string()));
    };
    let name = map.get("op").and_then(Value::as_str).unwrap_or("");
    let raw_path = match map.get("path") {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(err(name, "", "failed to decode 'path': missing".to_string())),
    };
    let path = decode_pointer(&raw_path).map_err(|e| err(name, &raw_path, format!("failed to decode 'path': {e}")))?;
    let value = || {
        map.get("value").cloned().ok_or_else(|| err(name, &raw_path, "failed to decode 'value': missing".to_string()))
    };
    let from = || -> Result<(Vec<String>, String), MutateError> {
        let raw = map
            .get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| err(name, &raw_path, "failed to decode 'from': missing".to_string()))?;
        let tokens = decode_pointer(raw).map_err(|e| err(name, &raw_path, format!("failed to decode 'from': {e}")))?;
        Ok((tokens, raw.to_string()))
    };
    let op = match name {
        "add" => Op::Add(value()?),
        "replace" => Op::Replace(value()?),
        "remove" => Op::Remove,
        "test" => Op::Test(map.get("value").cloned().unwrap_or(Value::Null)),
        "move" => {
            let (tokens, raw) = from()?;
            Op::Move(tokens, raw)
        }
        "copy" => {
            let (tokens, raw) = from()?;
            Op::Copy(tokens, raw)
        }
        other => return Err(err(other, &raw_path, "unsupported operation".to_string())),
    };
    Ok(Operation { op, path, raw_path })
}

/// Go's `strconv.Atoi` subset used for array indices.
fn atoi(token: &str) -> Option<i64> {
    if token.is_empty() || token.len() > 19 {
        return None;
    }
    token.parse().ok()
}

/// Resolves an index for reading/replacing/removing in a list of `len` elements.
fn existing_index(token: &str, len: usize) -> Result<usize, String> {
    let idx = atoi(token).ok_or_else(|| format!("value was not a proper array index: '{token}'"))?;
    let len_i = len as i64;
    let idx = if idx < 0 {
        if idx < -len_i {
            return Err(format!("Unable to access invalid index: {idx}"));
        }
        idx + len_i
    } else {
        idx
    };
    if idx >= len_i {
        return Err(format!("Unable to access invalid index: {idx}"));
    }
    Ok(idx as usize)
}

fn child<'a>(v: &'a Value, token: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m.get(token),
        Value::Array(a) => existing_index(token, a.len()).ok().map(|i| &a[i]),
        _ => None,
    }
}

fn child_mut<'a>(v: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match v {
        Value::Object(m) => m.get_mut(token),
        Value::Array(a) => existing_index(token, a.len()).ok().map(|i| &mut a[i]),
        _ => None,
    }
}

/// The container holding the last token of `path` (evanphx `findObject`).
fn find_parent<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let (_, parents) = path.split_last()?;
    let mut cur = doc;
    for token in parents {
        cur = child_mut(cur, token)?;
        if !cur.is_object() && !cur.is_array() {
            return None;
        }
    }
    Some(cur)
}

/// Adds `value` under `token` of a container and returns a reference to it.
fn add_child<'a>(container: &'a mut Value, token: &str, value: Value) -> Result<&'a mut Value, String> {
    match container {
        Value::Object(m) => {
            m.insert(token.to_string(), value);
            m.get_mut(token).ok_or_else(|| "inserted key vanished".to_string())
        }
        Value::Array(a) => {
            let idx = if token == "-" {
                a.len()
            } else {
                let idx = atoi(token).ok_or_else(|| format!("value was not a proper array index: '{token}'"))?;
                let size = a.len() as i64 + 1;
                if idx >= size {
                    return Err(format!("Unable to access invalid index: {idx}"));
                }
                if idx < 0 {
                    if idx < -size {
                        return Err(format!("Unable to access invalid index: {idx}"));
                    }
                    (idx + size) as usize
                } else {
                    idx as usize
                }
            };
            a.insert(idx, value);
            Ok(&mut a[idx])
        }
        _ => Err("the parent is not a map or a list".to_string()),
    }
}

/// Creates the missing maps and lists on the way to `path` (evanphx `ensurePathExists`).
fn ensure_path_exists(doc: &mut Value, path: &[String]) -> Result<(), String> {
    let mut cur = doc;
    for (pi, token) in path.iter().enumerate() {
        if pi + 1 == path.len() {
            return Ok(());
        }
        if child(cur, token).is_some_and(|c| !c.is_null()) {
            cur = child_mut(cur, token).ok_or_else(|| format!("missing path element {token}"))?;
            if !cur.is_object() && !cur.is_array() {
                return Err(format!("path element {token} is neither a map nor a list"));
            }
            continue;
        }
        if let (Some(idx), Value::Array(a)) = (atoi(token), &mut *cur)
            && idx >= 0
            && idx as usize > a.len()
        {
            a.resize(idx as usize, Value::Null);
        }
        let next = &path[pi + 1];
        let new = if next == "-" || atoi(next).is_some() {
            let mut idx = atoi(next).unwrap_or(0);
            if idx < 0 {
                if idx < -1 {
                    return Err(format!("Unable to ensure path for negative index other than -1: {idx}"));
                }
                idx = 0;
            }
            Value::Array(vec![Value::Null; idx as usize])
        } else {
            Value::Object(Map::new())
        };
        if let Value::Object(m) = cur
            && m.get(token).is_some_and(Value::is_null)
        {
            m.shift_remove(token);
        }
        match add_child(cur, token, new) {
            Ok(c) => cur = c,
            // Upstream ignores this failure; the add that follows then reports the missing path.
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

fn get_value(doc: &Value, path: &[String]) -> Option<Value> {
    let mut cur = doc;
    for token in path {
        cur = child(cur, token)?;
    }
    Some(cur.clone())
}

fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some(last) = path.last() else {
        *doc = value;
        return Ok(());
    };
    ensure_path_exists(doc, path)?;
    let parent =
        find_parent(doc, path).ok_or_else(|| "add operation does not apply: doc is missing path".to_string())?;
    add_child(parent, last, value).map(|_| ())
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Option<Value>, String> {
    let Some(last) = path.last() else { return Err("cannot remove the whole document".to_string()) };
    let Some(parent) = find_parent(doc, path) else { return Ok(None) };
    match parent {
        Value::Object(m) => Ok(m.shift_remove(last.as_str())),
        Value::Array(a) => match existing_index(last, a.len()) {
            Ok(i) => Ok(Some(a.remove(i))),
            Err(_) if atoi(last).is_some() => Ok(None),
            Err(e) => Err(e),
        },
        _ => Ok(None),
    }
}

fn apply_op(doc: &mut Value, op: &Operation) -> Result<(), String> {
    match &op.op {
        Op::Add(value) => add(doc, &op.path, value.clone()),
        Op::Remove => remove(doc, &op.path).map(|_| ()),
        Op::Replace(value) => {
            let Some(last) = op.path.last() else {
                if !value.is_object() && !value.is_array() {
                    return Err("replace operation value must be object or array".to_string());
                }
                *doc = value.clone();
                return Ok(());
            };
            let parent = find_parent(doc, &op.path)
                .ok_or_else(|| "replace operation does not apply: doc is missing path".to_string())?;
            let slot = child_mut(parent, last)
                .ok_or_else(|| "replace operation does not apply: doc is missing key".to_string())?;
            *slot = value.clone();
            Ok(())
        }
        Op::Move(from, raw_from) => {
            if from.is_empty() {
                return Err("unable to move entire document to another path".to_string());
            }
            let value = get_value(doc, from)
                .ok_or_else(|| format!("move operation does not apply: doc is missing from path: {raw_from}"))?;
            remove(doc, from)?;
            let last = op.path.last().ok_or_else(|| "cannot move onto the whole document".to_string())?;
            let parent = find_parent(doc, &op.path)
                .ok_or_else(|| "move operation does not apply: doc is missing destination path".to_string())?;
            add_child(parent, last, value).map(|_| ())
        }
        Op::Copy(from, raw_from) => {
            let value = get_value(doc, from)
                .ok_or_else(|| format!("copy operation does not apply: doc is missing from path: {raw_from}"))?;
            let Some(last) = op.path.last() else {
                *doc = value;
                return Ok(());
            };
            let parent = find_parent(doc, &op.path)
                .ok_or_else(|| "copy operation does not apply: doc is missing destination path".to_string())?;
            add_child(parent, last, value).map(|_| ())
        }
        Op::Test(expected) => {
            if op.path.is_empty() {
                return if json_equal(doc, expected) { Ok(()) } else { Err("testing value failed".to_string()) };
            }
            if find_parent(doc, &op.path).is_none() {
                return Err("test operation does not apply: is missing path".to_string());
            }
            let actual = get_value(doc, &op.path).filter(|v| !v.is_null());
            match actual {
                None if expected.is_null() => Ok(()),
                Some(v) if !expected.is_null() && json_equal(&v, expected) => Ok(()),
                _ => Err("testing value failed".to_string()),
            }
        }
    }
}

#[cfg(test)]
#[path = "json6902_tests.rs"]
mod tests;
