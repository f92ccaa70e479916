//! String functions: compare, case, replace, trim, split, regex and wildcard matching, truncate.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jmespath::{Context, Rcvar, Variable};
use regex::{Regex, RegexBuilder};

use crate::util::{self, FnResult, bad_type, boolean, generic, num_arg, str_arg, string};

/// Most compiled regexes kept; the cache is cleared when full.
const REGEX_CACHE_CAPACITY: usize = 512;
/// Compiled-program size limit for user-supplied patterns.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

static REGEX_CACHE: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Compiles `pattern` (RE2 syntax, as Go's `regexp`), reusing a cached program when possible.
pub(crate) fn cached_regex(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    if let Ok(cache) = REGEX_CACHE.lock()
        && let Some(re) = cache.get(pattern)
    {
        return Ok(Arc::clone(re));
    }
    let re =
        Arc::new(RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT).build()?);
    if let Ok(mut cache) = REGEX_CACHE.lock() {
        if cache.len() >= REGEX_CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_string(), Arc::clone(&re));
    }
    Ok(re)
}

pub(crate) fn compare(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let a = str_arg(ctx, "compare", args, 0)?;
    let b = str_arg(ctx, "compare", args, 1)?;
    util::num(match a.cmp(b) {
        std::cmp::Ordering::Less => -1.0,
        std::cmp::Ordering::Equal => 0.0,
        std::cmp::Ordering::Greater => 1.0,
    })
}

/// Go's `strings.EqualFold` (simple Unicode case folding).
fn equal_fold_str(a: &str, b: &str) -> bool {
    let mut ia = a.chars();
    let mut ib = b.chars();
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if x != y && !x.to_lowercase().eq(y.to_lowercase()) && !x.to_uppercase().eq(y.to_uppercase()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

pub(crate) fn equal_fold(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let a = str_arg(ctx, "equal_fold", args, 0)?;
    let b = str_arg(ctx, "equal_fold", args, 1)?;
    boolean(equal_fold_str(a, b))
}

pub(crate) fn replace(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let s = str_arg(ctx, "replace", args, 0)?;
    let old = str_arg(ctx, "replace", args, 1)?;
    let new = str_arg(ctx, "replace", args, 2)?;
    let n = num_arg(ctx, "replace", args, 3)? as i64;
    if n < 0 {
        return string(go_replace_all(s, old, new));
    }
    string(go_replacen(s, old, new, n as usize))
}

/// Go's `strings.Replace` with a limit: an empty `old` inserts `new` around each rune.
fn go_replacen(s: &str, old: &str, new: &str, n: usize) -> String {
    if old.is_empty() {
        let mut out = String::new();
        let mut done = 0;
        for (i, c) in s.char_indices() {
            if done < n {
                out.push_str(new);
                done += 1;
            } else {
                out.push_str(&s[i..]);
                return out;
            }
            out.push(c);
        }
        if done < n {
            out.push_str(new);
        }
        return out;
    }
    s.replacen(old, new, n)
}

fn go_replace_all(s: &str, old: &str, new: &str) -> String {
    if old.is_empty() { go_replacen(s, old, new, s.chars().count() + 1) } else { s.replace(old, new) }
}

pub(crate) fn replace_all(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let s = str_arg(ctx, "replace_all", args, 0)?;
    let old = str_arg(ctx, "replace_all", args, 1)?;
    let new = str_arg(ctx, "replace_all", args, 2)?;
    string(go_replace_all(s, old, new))
}

pub(crate) fn to_upper(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(str_arg(ctx, "to_upper", args, 0)?.to_uppercase())
}

pub(crate) fn to_lower(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    string(str_arg(ctx, "to_lower", args, 0)?.to_lowercase())
}

pub(crate) fn trim(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let s = str_arg(ctx, "trim", args, 0)?;
    let cutset = str_arg(ctx, "trim", args, 1)?;
    string(s.trim_matches(|c| cutset.contains(c)))
}

pub(crate) fn trim_prefix(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let s = str_arg(ctx, "trim_prefix", args, 0)?;
    let prefix = str_arg(ctx, "trim_prefix", args, 1)?;
    string(s.strip_prefix(prefix).unwrap_or(s))
}

pub(crate) fn split(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let s = str_arg(ctx, "split", args, 0)?;
    let sep = str_arg(ctx, "split", args, 1)?;
    let parts: Vec<Rcvar> = if sep.is_empty() {
        // Go splits into UTF-8 sequences when the separator is empty.
        s.chars().map(|c| Rcvar::new(Variable::String(c.to_string()))).collect()
    } else {
        s.split(sep).map(|p| Rcvar::new(Variable::String(p.to_string()))).collect()
    };
    Ok(Rcvar::new(Variable::Array(parts)))
}

/// The string-or-number argument at `index` as text, with Kyverno's error.
fn text_arg(ctx: &Context<'_>, name: &str, args: &[Rcvar], index: usize) -> Result<String, jmespath::JmespathError> {
    args.get(index)
        .and_then(|v| util::iface_to_string(v))
        .ok_or_else(|| bad_type(ctx, name, index + 1, "String or Real"))
}

fn regex_replace(args: &[Rcvar], ctx: &mut Context<'_>, name: &str, literal: bool) -> FnResult {
    let pattern = str_arg(ctx, name, args, 0)?;
    let src = text_arg(ctx, name, args, 1)?;
    let repl = text_arg(ctx, name, args, 2)?;
    let re = cached_regex(pattern).map_err(|e| generic(ctx, name, e))?;
    let out = if literal {
        re.replace_all(&src, regex::NoExpand(&repl)).into_owned()
    } else {
        re.replace_all(&src, repl.as_str()).into_owned()
    };
    string(out)
}

pub(crate) fn regex_replace_all(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    regex_replace(args, ctx, "regex_replace_all", false)
}

pub(crate) fn regex_replace_all_literal(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    regex_replace(args, ctx, "regex_replace_all_literal", true)
}

pub(crate) fn regex_match(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let pattern = str_arg(ctx, "regex_match", args, 0)?;
    let src = text_arg(ctx, "regex_match", args, 1)?;
    let re = cached_regex(pattern).map_err(|e| util::fail(ctx, e.to_string()))?;
    boolean(re.is_match(&src))
}

pub(crate) fn pattern_match(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let pattern = str_arg(ctx, "pattern_match", args, 0)?;
    let src = text_arg(ctx, "pattern_match", args, 1)?;
    boolean(palisade_engine::wildcard::matches(pattern, &src))
}

pub(crate) fn truncate(args: &[Rcvar], ctx: &mut Context<'_>) -> FnResult {
    let s = str_arg(ctx, "truncate", args, 0)?;
    let len = num_arg(ctx, "truncate", args, 1)?.max(0.0) as usize;
    // Truncation counts runes, as github.com/aquilax/truncate does.
    string(s.chars().take(len).collect::<String>())
}
