//! The variables a rule reads (`request.*`, `images`, context entries, `element`, …), without
//! copying the request's objects: they are mounted at `request.object` and `request.oldObject`
//! and read in place by JMESPath and by plain variable paths.

use crate::context::{images, set_path};
use palisade_engine::AdmissionRequest;
use palisade_jmespath::{Expression, JmesError, Mount};
use serde_json::Value;
use std::borrow::Cow;

const OBJECT: &[&str] = &["request", "object"];
const OLD_OBJECT: &[&str] = &["request", "oldObject"];
const IMAGES: &[&str] = &["images"];

/// The variable document of one rule evaluation.
#[derive(Debug, Clone)]
pub struct Vars<'r> {
    /// Everything but the mounted values.
    doc: Cow<'r, Value>,
    /// `request.object`.
    object: Cow<'r, Value>,
    /// `request.oldObject`.
    old_object: Cow<'r, Value>,
    /// `images`, computed only for rules that read it.
    images: Option<Cow<'r, Value>>,
}

impl<'r> Vars<'r> {
    /// Variables over `doc` (the request context without its objects) for `request`.
    pub fn new(doc: Cow<'r, Value>, request: &'r AdmissionRequest) -> Self {
        Vars {
            doc,
            object: Cow::Borrowed(&request.object),
            old_object: Cow::Borrowed(&request.old_object),
            images: None,
        }
    }

    /// Owned variables for `request` (a copy of its objects; the admission path borrows instead).
    pub fn for_request(request: &AdmissionRequest, ctx: &palisade_engine::EvaluationContext) -> Vars<'static> {
        Vars::new(Cow::Owned(crate::context::request_context(request, ctx)), request).with_images().into_owned()
    }

    /// Variables for `request` whose `request.object` is `object` (the working copy a mutation changes).
    pub fn with_object(doc: Cow<'r, Value>, request: &'r AdmissionRequest, object: Value) -> Self {
        Vars { doc, object: Cow::Owned(object), old_object: Cow::Borrowed(&request.old_object), images: None }
    }

    /// Variables that hold nothing but `request.object` (for rules that read no variables).
    pub fn detached(object: Value) -> Vars<'static> {
        Vars {
            doc: Cow::Owned(Value::Null),
            object: Cow::Owned(object),
            old_object: Cow::Owned(Value::Null),
            images: None,
        }
    }

    /// `request.object`.
    pub fn object(&self) -> &Value {
        &self.object
    }

    /// `request.object`, for in-place changes (copied first when borrowed).
    pub fn object_mut(&mut self) -> &mut Value {
        self.object.to_mut()
    }

    /// Gives `request.object` back (copied when borrowed).
    pub fn into_object(self) -> Value {
        self.object.into_owned()
    }

    /// Variables over a plain JSON document (tests, and values given as a whole).
    pub fn from_value(doc: Value) -> Vars<'static> {
        let mut doc = doc;
        let mut take = |path: &[&str]| -> Value {
            let mut current = &mut doc;
            for key in &path[..path.len() - 1] {
                match current.get_mut(*key) {
                    Some(next) => current = next,
                    None => return Value::Null,
                }
            }
            current.as_object_mut().and_then(|m| m.shift_remove(path[path.len() - 1])).unwrap_or(Value::Null)
        };
        let object = take(OBJECT);
        let old_object = take(OLD_OBJECT);
        let images = doc.as_object_mut().and_then(|m| m.shift_remove("images"));
        Vars {
            doc: Cow::Owned(doc),
            object: Cow::Owned(object),
            old_object: Cow::Owned(old_object),
            images: images.map(Cow::Owned),
        }
    }

    /// Computes `images` from the request's object (for rules that read it).
    pub fn with_images(mut self) -> Self {
        self.add_images();
        self
    }

    /// Computes `images` in place, unless already there.
    pub fn add_images(&mut self) {
        if self.images.is_none() {
            self.images = Some(Cow::Owned(images(self.subject())));
        }
    }

    /// The object rules look at: `object`, or `oldObject` on DELETE (when `object` is null).
    fn subject(&self) -> &Value {
        if self.object.is_null() { &self.old_object } else { &self.object }
    }

    fn mounts(&self) -> ([Mount<'_>; 3], usize) {
        let images = self.images.as_deref().unwrap_or(&Value::Null);
        let mounts = [
            Mount { path: OBJECT, value: &self.object },
            Mount { path: OLD_OBJECT, value: &self.old_object },
            Mount { path: IMAGES, value: images },
        ];
        (mounts, if self.images.is_some() { 3 } else { 2 })
    }

    /// Evaluates a JMESPath expression against the variables.
    pub fn search(&self, expr: &Expression) -> Result<Value, JmesError> {
        let (mounts, n) = self.mounts();
        expr.search_mounted(&self.doc, &mounts[..n])
    }

    /// Compiles and evaluates an expression built at run time.
    pub fn search_text(&self, expr: &str) -> Result<Value, JmesError> {
        self.search(&palisade_jmespath::compile(expr)?)
    }

    /// Where a plain path starting with `keys` leads: a mounted value and how many keys it
    /// consumed, or `None` when the path reads the document (a path that stops above a mount,
    /// such as `request` alone, gets the copy it needs from [`Vars::materialized`]).
    pub fn mount_for<'k>(&self, keys: impl Iterator<Item = &'k str> + Clone) -> Option<(&Value, usize)> {
        let (mounts, n) = self.mounts();
        let index = mounts[..n].iter().position(|m| keys.clone().take(m.path.len()).eq(m.path.iter().copied()))?;
        let value: &Value = match index {
            0 => &self.object,
            1 => &self.old_object,
            _ => self.images.as_deref()?,
        };
        Some((value, mounts[index].path.len()))
    }

    /// Whether a path of `keys` stops above a mount (it needs the mounted values copied in).
    pub fn above_mount<'k>(&self, keys: impl Iterator<Item = &'k str> + Clone) -> bool {
        let (mounts, n) = self.mounts();
        let len = keys.clone().count();
        mounts[..n].iter().any(|m| m.path.len() > len && keys.clone().eq(m.path[..len].iter().copied()))
    }

    /// The document without mounts.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The whole variable document as one JSON value (a copy).
    pub fn materialized(&self) -> Value {
        let (mounts, n) = self.mounts();
        palisade_jmespath::materialize(&self.doc, &mounts[..n], &[])
    }

    /// A top-level entry of the document.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.doc.get(name)
    }

    /// Sets `value` at a dotted path, creating objects (inside a mounted value when the path leads there).
    pub fn set_path(&mut self, path: &str, value: Value) {
        let keys: Vec<&str> = path.split('.').collect();
        let target = if keys.starts_with(OBJECT) {
            Some((&mut self.object, OBJECT.len()))
        } else if keys.starts_with(OLD_OBJECT) {
            Some((&mut self.old_object, OLD_OBJECT.len()))
        } else if keys.starts_with(IMAGES) {
            let images = self.images.get_or_insert_with(|| Cow::Owned(Value::Null));
            Some((images, IMAGES.len()))
        } else {
            None
        };
        match target {
            Some((mounted, consumed)) if keys.len() == consumed => *mounted = Cow::Owned(value),
            Some((mounted, consumed)) => set_path(mounted.to_mut(), &keys[consumed..].join("."), value),
            None => set_path(self.doc.to_mut(), path, value),
        }
    }

    /// The document for in-place changes of top-level entries (`element`, context entries).
    pub fn doc_mut(&mut self) -> &mut Value {
        self.doc.to_mut()
    }

    /// The same variables, borrowed (changes to the copy do not reach these).
    pub fn reborrow(&self) -> Vars<'_> {
        Vars {
            doc: Cow::Borrowed(&*self.doc),
            object: Cow::Borrowed(&*self.object),
            old_object: Cow::Borrowed(&*self.old_object),
            images: self.images.as_deref().map(Cow::Borrowed),
        }
    }

    /// Owns everything borrowed, so the variables outlive the request and memo they came from.
    pub fn into_owned(self) -> Vars<'static> {
        Vars {
            doc: Cow::Owned(self.doc.into_owned()),
            object: Cow::Owned(self.object.into_owned()),
            old_object: Cow::Owned(self.old_object.into_owned()),
            images: self.images.map(|i| Cow::Owned(i.into_owned())),
        }
    }
}
