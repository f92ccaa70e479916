//! Pattern failures: the resource path, the error kind and upstream's error text. Everything
//! here runs only when something fails, so it is kept out of line (`#[cold]`) and boxed, which
//! keeps the walker's `Result<(), Fail>` one word and its stack frames small.

use super::gofmt::{type_name, write_v, write_v_items};
use super::value::{Scalar, decimal_digits};
use serde_json::Value;

/// A position in the resource, as a chain of stack frames; rendered only when failing.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    /// `/`
    Root,
    /// `/`, the root of a walk whose failures are only counted (an Audit rule on the webhook): they keep
    /// their kind and a path that is not empty (`/`), with no text.
    Quiet,
    /// `<parent><key>/`
    Key(&'a Path<'a>, &'a str),
    /// `<parent><index>/`
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// [`Path::rendered`], `/` in a quiet walk.
    pub(crate) fn render(&self) -> String {
        self.rendered().unwrap_or_else(|| String::from("/"))
    }

    /// Upstream's path string: `/spec/containers/0/image/` (only built when something fails), or `None` in
    /// a quiet walk (see [`Path::Quiet`]), which the same walk up the frames finds.
    pub(crate) fn rendered(&self) -> Option<String> {
        let mut out = String::with_capacity(64);
        out.push('/');
        (!self.write(&mut out)).then_some(out)
    }

    /// Writes every level after the root, each followed by `/`; returns whether the root is quiet (then
    /// nothing is written).
    fn write(&self, out: &mut String) -> bool {
        match self {
            Path::Root => return false,
            Path::Quiet => return true,
            Path::Key(parent, key) => {
                if parent.write(out) {
                    return true;
                }
                out.push_str(key);
            }
            Path::Index(parent, i) => {
                if parent.write(out) {
                    return true;
                }
                let (digits, start) = decimal_digits(*i as u64);
                out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
            }
        }
        out.push('/');
        false
    }
}

/// What kind of error a failure is (upstream distinguishes them with `errors.As`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An ordinary mismatch.
    Plain,
    /// A conditional anchor did not match (skip).
    Conditional,
    /// A global anchor did not match (skip).
    Global,
    /// A negation anchor's key is present (fail).
    Negation,
    /// Every element/anchor at a level was skipped (`PatternError{Skip: true}`).
    Skipped,
}

/// A failure: its kind, the path upstream returns with it, and its error text.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) kind: Kind,
    pub(crate) path: String,
    pub(crate) message: String,
}

/// A boxed failure, so that `Result<(), Fail>` is a single pointer.
pub(crate) type Fail = Box<Failure>;

impl Failure {
    /// `skip(err)`: conditional or global anchor errors, possibly wrapped.
    pub(crate) fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global | Kind::Skipped)
    }

    /// A direct conditional/global anchor error rather than a wrapped `PatternError`.
    pub(crate) fn is_direct_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global)
    }
}

/// A failure of a quiet walk: its kind, the path `/`, no text.
#[cold]
#[inline(never)]
fn quiet(kind: Kind) -> Fail {
    Box::new(Failure { kind, path: String::from("/"), message: String::new() })
}

/// A failure at `path` whose message is `before`, the path, then `after`.
fn around(kind: Kind, path: &Path<'_>, before: &str, after: &str) -> Fail {
    let Some(p) = path.rendered() else { return quiet(kind) };
    let mut message = String::with_capacity(before.len() + p.len() + after.len());
    message.push_str(before);
    message.push_str(&p);
    message.push_str(after);
    Box::new(Failure { kind, path: p, message })
}

/// A plain failure at `path` with a fixed message.
#[cold]
#[inline(never)]
pub(crate) fn fixed(path: &Path<'_>, message: &str) -> Fail {
    let Some(p) = path.rendered() else { return quiet(Kind::Plain) };
    Box::new(Failure { kind: Kind::Plain, path: p, message: message.to_string() })
}

/// An array pattern against a non-array resource.
#[cold]
#[inline(never)]
pub(crate) fn not_an_array(path: &Path<'_>) -> Fail {
    let after = ", resource does not satisfy the expected overlay pattern";
    around(Kind::Plain, path, "validation rule failed at path ", after)
}

/// A map pattern against a non-map resource.
#[cold]
#[inline(never)]
pub(crate) fn not_a_map(resource: &Value, path: &Path<'_>) -> Fail {
    let Some(p) = path.rendered() else { return quiet(Kind::Plain) };
    let found = type_name(resource);
    let before = "pattern and resource have different structures. Path: ";
    let middle = ". Expected map[string]interface {}, found ";
    let mut message = String::with_capacity(before.len() + p.len() + middle.len() + found.len());
    message.push_str(before);
    message.push_str(&p);
    message.push_str(middle);
    message.push_str(found);
    Box::new(Failure { kind: Kind::Plain, path: p, message })
}

/// A `"*"` pattern whose key is missing or null: `<path>/<raw> not found`.
#[cold]
#[inline(never)]
pub(crate) fn not_found(path: &Path<'_>, raw: &str) -> Fail {
    let Some(p) = path.rendered() else { return quiet(Kind::Plain) };
    let mut message = String::with_capacity(p.len() + raw.len() + 11);
    message.push_str(&p);
    message.push('/');
    message.push_str(raw);
    message.push_str(" not found");
    Box::new(Failure { kind: Kind::Plain, path: p, message })
}

/// A conditional anchor whose key is missing from the resource.
#[cold]
#[inline(never)]
pub(crate) fn conditional_missing(path: &Path<'_>) -> Fail {
    let message = "conditional anchor mismatch: conditional anchor key doesn't exist in the resource";
    let Some(p) = path.rendered() else { return quiet(Kind::Conditional) };
    Box::new(Failure { kind: Kind::Conditional, path: p, message: message.to_string() })
}

/// A conditional or global anchor whose value did not match: the error, wrapped as a skip.
#[cold]
#[inline(never)]
pub(crate) fn anchor_mismatch(global: bool, mut inner: Fail) -> Fail {
    let (kind, prefix) = if global {
        (Kind::Global, "global anchor mismatch: ")
    } else {
        (Kind::Conditional, "conditional anchor mismatch: ")
    };
    if inner.message.is_empty() {
        // A quiet walk's failure: no text to wrap.
        inner.kind = kind;
        return inner;
    }
    let mut message = String::with_capacity(prefix.len() + inner.message.len());
    message.push_str(prefix);
    message.push_str(&inner.message);
    inner.kind = kind;
    inner.message = message;
    inner
}

/// A negation anchor whose key is present.
#[cold]
#[inline(never)]
pub(crate) fn negation(path: &Path<'_>) -> Fail {
    around(Kind::Negation, path, "negation anchor matched in resource: ", " is not allowed")
}

/// An existence anchor no list element satisfied.
#[cold]
#[inline(never)]
pub(crate) fn existence_failed(path: &Path<'_>) -> Fail {
    around(Kind::Plain, path, "existence anchor validation failed at path ", "")
}

/// A scalar pattern that `resource` does not match.
#[cold]
#[inline(never)]
pub(crate) fn mismatch(resource: &Value, pattern: &Scalar, path: &Path<'_>) -> Fail {
    mismatch_with(pattern, path, |out| write_v(out, resource))
}

/// A scalar pattern that some element of a resource list does not match.
#[cold]
#[inline(never)]
pub(crate) fn mismatch_items(items: &[Value], pattern: &Scalar, path: &Path<'_>) -> Fail {
    mismatch_with(pattern, path, |out| write_v_items(out, items))
}

fn mismatch_with(pattern: &Scalar, path: &Path<'_>, resource: impl FnOnce(&mut String)) -> Fail {
    let Some(p) = path.rendered() else { return quiet(Kind::Plain) };
    let mut message = String::with_capacity(64 + p.len());
    message.push_str("resource value '");
    resource(&mut message);
    message.push_str("' does not match '");
    pattern.write_v(&mut message);
    message.push_str("' at path ");
    message.push_str(&p);
    Box::new(Failure { kind: Kind::Plain, path: p, message })
}

/// `multierr.Combine` of skip errors into a `PatternError{Skip: true}`.
#[cold]
#[inline(never)]
pub(crate) fn combined_skip(path: &Path<'_>, errors: &[Fail]) -> Fail {
    let Some(p) = path.rendered() else { return quiet(Kind::Skipped) };
    let len = errors.iter().map(|e| e.message.len() + 2).sum();
    let mut message = String::with_capacity(len);
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&e.message);
    }
    Box::new(Failure { kind: Kind::Skipped, path: p, message })
}

/// Any other failure, with a message built by the caller.
#[cold]
#[inline(never)]
pub(crate) fn other(path: String, message: String) -> Fail {
    Box::new(Failure { kind: Kind::Plain, path, message })
}
