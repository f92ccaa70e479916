//! Data functions: labels, booleans, encodings, paths, semver, JSON/YAML, lookups, images, URLs, hashes.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jmespath::{Context, JmespathError, Rcvar, Variable};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{self, FnResult, bad_type, boolean, fail, generic, str_arg, string};

pub(crate) fn label_match(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let labels = args.first().and_then(|v| v.as_object()).ok_or_else(|| bad_type(ctx, "label_match", 1, "Object"))?;
    let target = args.get(1).and_then(|v| v.as_object()).ok_or_else(|| bad_type(ctx, "label_match", 2, "Object"))?;
    boolean(labels.iter().all(|(k, v)| target.get(k).is_some_and(|t| util::to_json(t) == util::to_json(v))))
}

pub(crate) fn to_boolean(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let input = str_arg(ctx, "to_boolean", args, 0)?;
    match input.to_lowercase().as_str() {
        "true" => boolean(true),
        "false" => boolean(false),
        _ => Err(generic(
            ctx,
            "to_boolean",
            format!("lowercase argument must be 'true' or 'false' (provided: '{input}')"),
        )),
    }
}

pub(crate) fn base64_decode(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let input = str_arg(ctx, "base64_decode", args, 0)?;
    let bytes = BASE64.decode(input).map_err(|e| {
        let at = match e {
            base64::DecodeError::InvalidByte(i, _) => i,
            base64::DecodeError::InvalidLastSymbol { offset, .. } => offset,
            _ => input.len(),
        };
        fail(ctx, format!("illegal base64 data at input byte {at}"))
    })?;
    string(String::from_utf8_lossy(&bytes))
}

pub(crate) fn base64_encode(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(BASE64.encode(str_arg(ctx, "base64_encode", args, 0)?))
}

pub(crate) fn sha256(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(hex(&Sha256::digest(str_arg(ctx, "sha256", args, 0)?.as_bytes())))
}

pub(crate) fn sha1(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(hex(&sha1::Sha1::digest(str_arg(ctx, "sha1", args, 0)?.as_bytes())))
}

pub(crate) fn md5(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(hex(&md5::Md5::digest(str_arg(ctx, "md5", args, 0)?.as_bytes())))
}

/// Lowercase hex of a digest, as Go's `hex.EncodeToString`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Go's `filepath.Clean` for Unix paths (what `filepath.Join(p)` returns for non-empty `p`).
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

pub(crate) fn path_canonicalize(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(clean_path(str_arg(ctx, "path_canonicalize", args, 0)?))
}

pub(crate) fn semver_compare(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let version = str_arg(ctx, "semver_compare", args, 0)?;
    let range = str_arg(ctx, "semver_compare", args, 1)?;
    // Like Kyverno, an unparsable version compares as 0.0.0.
    let version = semver::Version::parse(version).unwrap_or(semver::Version::new(0, 0, 0));
    let matches = crate::semver_range::matches(range, &version).map_err(|e| fail(ctx, e))?;
    boolean(matches)
}

pub(crate) fn parse_json(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let input = str_arg(ctx, "parse_json", args, 0)?;
    let value: Value = serde_json::from_str(input).map_err(|e| fail(ctx, e.to_string()))?;
    Ok(Rcvar::new(util::from_json(&value)))
}

pub(crate) fn parse_yaml(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let input = str_arg(ctx, "parse_yaml", args, 0)?;
    let value: Value =
        serde_saphyr::from_str(input).map_err(|e| fail(ctx, format!("error converting YAML to JSON: {e}")))?;
    Ok(Rcvar::new(util::from_json(&value)))
}

pub(crate) fn lookup(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let key = args.get(1).map(|v| &**v);
    match args.first().map(|v| &**v) {
        Some(Variable::Object(map)) => match key {
            Some(Variable::String(k)) => Ok(map.get(k).cloned().unwrap_or_else(|| Rcvar::new(Variable::Null))),
            _ => Err(bad_type(ctx, "lookup", 2, "String")),
        },
        Some(Variable::Array(items)) => {
            let Some(index) = key.and_then(|k| k.as_number()) else {
                return Err(bad_type(ctx, "lookup", 2, "Number"));
            };
            if index.trunc() != index {
                return Err(fail(
                    ctx,
                    format!("JMESPath function 'lookup': argument #2: expected an integer number but got: {index}"),
                ));
            }
            if index < 0.0 || index >= items.len() as f64 {
                return Ok(Rcvar::new(Variable::Null));
            }
            Ok(Rcvar::clone(&items[index as usize]))
        }
        _ => Err(bad_type(ctx, "lookup", 1, "Object or Array")),
    }
}

fn pair(key_name: &str, key: Variable, val_name: &str, value: &Rcvar) -> Rcvar {
    let mut map = BTreeMap::new();
    map.insert(key_name.to_string(), Rcvar::new(key));
    map.insert(val_name.to_string(), Rcvar::clone(value));
    Rcvar::new(Variable::Object(map))
}

pub(crate) fn items(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let key_name = args.get(1).and_then(|v| v.as_string()).ok_or_else(|| bad_type(ctx, "items", 2, "String"))?;
    let val_name = args.get(2).and_then(|v| v.as_string()).ok_or_else(|| bad_type(ctx, "items", 3, "String"))?;
    let out: Vec<Rcvar> = match args.first().map(|v| &**v) {
        Some(Variable::Object(map)) => {
            map.iter().map(|(k, v)| pair(key_name, Variable::String(k.clone()), val_name, v)).collect()
        }
        Some(Variable::Array(list)) => {
            list.iter().enumerate().map(|(i, v)| pair(key_name, util::number(i as f64), val_name, v)).collect()
        }
        _ => return Err(bad_type(ctx, "items", 1, "Object or Array")),
    };
    Ok(Rcvar::new(Variable::Array(out)))
}

pub(crate) fn object_from_lists(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let keys = args.first().and_then(|v| v.as_array()).ok_or_else(|| bad_type(ctx, "object_from_lists", 1, "Array"))?;
    let values =
        args.get(1).and_then(|v| v.as_array()).ok_or_else(|| bad_type(ctx, "object_from_lists", 2, "Array"))?;
    let mut out = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        let key = util::iface_to_string(key).ok_or_else(|| bad_type(ctx, "object_from_lists", 1, "StringArray"))?;
        let value = values.get(i).cloned().unwrap_or_else(|| Rcvar::new(Variable::Null));
        out.insert(key, value);
    }
    Ok(Rcvar::new(Variable::Object(out)))
}

pub(crate) fn random(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let pattern = str_arg(ctx, "random", args, 0)?;
    if pattern.is_empty() {
        return Err(fail(ctx, "no pattern provided"));
    }
    string(crate::regen::generate(pattern).map_err(|e| fail(ctx, e))?)
}

pub(crate) fn image_normalize(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let image = str_arg(ctx, "image_normalize", args, 0)?;
    string(crate::image::normalize(image).map_err(|e| generic(ctx, "image_normalize", e))?)
}

pub(crate) fn is_external_url(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let url = str_arg(ctx, "is_external_url", args, 0)?;
    boolean(
        crate::image::is_external_url(url)
            .map_err(|e: String| -> JmespathError { generic(ctx, "is_external_url", e) })?,
    )
}
