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

/// Nesting levels of `foreach` whose `element{N}`/`elementIndex{N}` are mounted; deeper levels are
/// written into the document.
const MOUNTED_DEPTHS: usize = 8;

/// Context entries a rule can add before they are written into (a copy of) the document.
const MAX_LOCALS: usize = 16;
/// The most mounts an evaluation has: the objects, `images`, `element`/`elementIndex`, every level's, and
/// the context entries.
const MAX_MOUNTS: usize = 5 + 2 * MOUNTED_DEPTHS + MAX_LOCALS;
const ELEMENT: &[&str] = &["element"];
const ELEMENT_INDEX: &[&str] = &["elementIndex"];
const ELEMENT_N: [&[&str]; MOUNTED_DEPTHS] = [
    &["element0"],
    &["element1"],
    &["element2"],
    &["element3"],
    &["element4"],
    &["element5"],
    &["element6"],
    &["element7"],
];
const ELEMENT_INDEX_N: [&[&str]; MOUNTED_DEPTHS] = [
    &["elementIndex0"],
    &["elementIndex1"],
    &["elementIndex2"],
    &["elementIndex3"],
    &["elementIndex4"],
    &["elementIndex5"],
    &["elementIndex6"],
    &["elementIndex7"],
];

/// Every variable path `Vars` mounts (the objects, `images`, the `foreach` elements): what a rule can
/// read without the request context document.
pub(crate) const MOUNTED_PATHS: [&[&str]; 5 + 2 * MOUNTED_DEPTHS] = [
    OBJECT,
    OLD_OBJECT,
    IMAGES,
    ELEMENT,
    ELEMENT_INDEX,
    ELEMENT_N[0],
    ELEMENT_N[1],
    ELEMENT_N[2],
    ELEMENT_N[3],
    ELEMENT_N[4],
    ELEMENT_N[5],
    ELEMENT_N[6],
    ELEMENT_N[7],
    ELEMENT_INDEX_N[0],
    ELEMENT_INDEX_N[1],
    ELEMENT_INDEX_N[2],
    ELEMENT_INDEX_N[3],
    ELEMENT_INDEX_N[4],
    ELEMENT_INDEX_N[5],
    ELEMENT_INDEX_N[6],
    ELEMENT_INDEX_N[7],
];

/// The element of one `foreach` level, mounted as `element{depth}` (and as `element` when innermost).
#[derive(Debug, Clone)]
struct ElementFrame<'r> {
    depth: usize,
    element: Cow<'r, Value>,
    index: Value,
}

/// A top-level entry a rule added (a context entry) while the document is the shared request context:
/// mounted rather than written into a copy of the document.
#[derive(Debug, Clone)]
struct Local<'r> {
    /// The entry's name (a policy's context entry name, interned), as a mount path.
    path: [&'static str; 1],
    value: Cow<'r, Value>,
}

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
    /// The `foreach` levels around the evaluation, outermost first.
    elements: Vec<ElementFrame<'r>>,
    /// Whether the innermost level is beyond the mounted ones (its `element` is in the document).
    deep_element: bool,
    /// Context entries added over a borrowed document (see [`Local`]).
    locals: Vec<Local<'r>>,
}

static NULL: Value = Value::Null;

impl<'r> Vars<'r> {
    /// Variables over `doc` (the request context without its objects) for `request`.
    pub fn new(doc: Cow<'r, Value>, request: &'r AdmissionRequest) -> Self {
        Vars {
            doc,
            object: Cow::Borrowed(&request.object),
            old_object: Cow::Borrowed(&request.old_object),
            images: None,
            elements: Vec::new(),
            deep_element: false,
            locals: Vec::new(),
        }
    }

    /// Owned variables for `request` (a copy of its objects; the admission path borrows instead).
    pub fn for_request(request: &AdmissionRequest, ctx: &palisade_engine::EvaluationContext) -> Vars<'static> {
        Vars::new(Cow::Owned(crate::context::request_context(request, ctx)), request).with_images().into_owned()
    }

    /// Variables for `request` whose `request.object` is `object` (a mutation's working object, moved or borrowed).
    pub fn with_object(doc: Cow<'r, Value>, request: &'r AdmissionRequest, object: Cow<'r, Value>) -> Self {
        Vars {
            doc,
            object,
            old_object: Cow::Borrowed(&request.old_object),
            images: None,
            elements: Vec::new(),
            deep_element: false,
            locals: Vec::new(),
        }
    }

    /// Variables that hold nothing but `request.object` (for rules that read no variables).
    pub fn detached(object: Cow<'r, Value>) -> Self {
        Vars {
            doc: Cow::Owned(Value::Null),
            object,
            old_object: Cow::Owned(Value::Null),
            images: None,
            elements: Vec::new(),
            deep_element: false,
            locals: Vec::new(),
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

    /// The borrowed original `request.object`, while it has not been copied for a change.
    pub fn object_if_borrowed(&self) -> Option<&'r Value> {
        match &self.object {
            Cow::Borrowed(object) => Some(object),
            Cow::Owned(_) => None,
        }
    }

    /// A copy of `request.object` to restore later: just the reference while it is the borrowed original.
    pub fn object_snapshot(&self) -> Cow<'r, Value> {
        match &self.object {
            Cow::Borrowed(object) => Cow::Borrowed(object),
            Cow::Owned(object) => Cow::Owned(object.clone()),
        }
    }

    /// Puts back a [`Vars::object_snapshot`].
    pub fn restore_object(&mut self, snapshot: Cow<'r, Value>) {
        self.object = snapshot;
    }

    /// Replaces `request.object` (without copying the borrowed original first).
    pub fn set_object(&mut self, object: Value) {
        self.object = Cow::Owned(object);
    }

    /// Gives `request.object` back (copied when borrowed).
    pub fn into_object(self) -> Value {
        self.object.into_owned()
    }

    /// `request.object` when it was copied for a change (`None` while it is still the borrowed original).
    pub fn into_copied_object(self) -> Option<Value> {
        match self.object {
            Cow::Owned(object) => Some(object),
            Cow::Borrowed(_) => None,
        }
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
            elements: Vec::new(),
            deep_element: false,
            locals: Vec::new(),
        }
    }

    /// Computes `images` from the request's object (for rules that read it).
    pub fn with_images(mut self) -> Self {
        self.add_images();
        self
    }

    /// Sets `images` (computed elsewhere, e.g. once per request).
    pub fn set_images(&mut self, images: Cow<'r, Value>) {
        self.images = Some(images);
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

    /// Calls `f` with the mounts: the objects, the context entries added as [`Local`]s, `images` when
    /// computed, and the `foreach` elements.
    fn with_mounts<'s, R>(&'s self, f: impl FnOnce(&[Mount<'s>]) -> R) -> R {
        let images = self.images.as_deref().unwrap_or(&NULL);
        let base = [
            Mount { path: OBJECT, value: &self.object },
            Mount { path: OLD_OBJECT, value: &self.old_object },
            Mount { path: IMAGES, value: images },
        ];
        let n = if self.images.is_some() { 3 } else { 2 };
        if self.elements.is_empty() && self.locals.is_empty() {
            return f(&base[..n]);
        }
        // On the stack: this runs for every variable a `foreach` body reads.
        let mut mounts = [Mount { path: &[], value: &NULL }; MAX_MOUNTS];
        mounts[..2].copy_from_slice(&base[..2]);
        let mut len = 2;
        let mut push = |mount: Mount<'s>| {
            if let Some(slot) = mounts.get_mut(len) {
                *slot = mount;
                len += 1;
            }
        };
        // The context entries before `images` and the elements: the order a copy of the document had them in.
        for local in &self.locals {
            push(Mount { path: &local.path, value: &local.value });
        }
        if self.images.is_some() {
            push(base[2]);
        }
        if let Some(innermost) = self.elements.last().filter(|_| !self.deep_element) {
            push(Mount { path: ELEMENT, value: &innermost.element });
            push(Mount { path: ELEMENT_INDEX, value: &innermost.index });
        }
        for frame in &self.elements {
            push(Mount { path: ELEMENT_N[frame.depth], value: &frame.element });
            push(Mount { path: ELEMENT_INDEX_N[frame.depth], value: &frame.index });
        }
        f(&mounts[..len])
    }

    /// Sets the `foreach` element of nesting level `depth` (`element`, `elementIndex`, `element{depth}`,
    /// `elementIndex{depth}`), replacing that level and any deeper one. Mounted, so the document is not
    /// copied; levels beyond the mounted ones are written into the document.
    pub fn set_element(&mut self, element: Cow<'r, Value>, index: usize, depth: usize) {
        self.elements.retain(|frame| frame.depth < depth);
        self.deep_element = depth >= MOUNTED_DEPTHS;
        if depth < MOUNTED_DEPTHS {
            self.elements.push(ElementFrame { depth, element, index: Value::from(index) });
            return;
        }
        let element = element.into_owned();
        if !self.doc.is_object() {
            *self.doc.to_mut() = Value::Object(serde_json::Map::new());
        }
        if let Value::Object(map) = self.doc.to_mut() {
            map.insert("element".into(), element.clone());
            map.insert("elementIndex".into(), Value::from(index));
            map.insert(format!("element{depth}"), element);
            map.insert(format!("elementIndex{depth}"), Value::from(index));
        }
    }

    /// Evaluates a JMESPath expression against the variables.
    pub fn search(&self, expr: &Expression) -> Result<Value, JmesError> {
        self.with_mounts(|mounts| expr.search_mounted(&self.doc, mounts))
    }

    /// Evaluates a JMESPath expression for a list of items, borrowing those it selects in place
    /// (see [`Expression::search_items`]).
    pub fn search_items<'s>(&'s self, expr: &'s Expression) -> Result<Option<Vec<Cow<'s, Value>>>, JmesError> {
        self.with_mounts(|mounts| expr.search_items(&self.doc, mounts))
    }

    /// Compiles and evaluates an expression built at run time.
    pub fn search_text(&self, expr: &str) -> Result<Value, JmesError> {
        self.search(&palisade_jmespath::compile(expr)?)
    }

    /// Where a plain path starting with `keys` leads: a mounted value and how many keys it
    /// consumed, or `None` when the path reads the document (a path that stops above a mount,
    /// such as `request` alone, gets the copy it needs from [`Vars::materialized`]).
    pub fn mount_for<'k>(&self, keys: impl Iterator<Item = &'k str> + Clone) -> Option<(&Value, usize)> {
        self.with_mounts(|mounts| {
            let mount = mounts.iter().find(|m| keys.clone().take(m.path.len()).eq(m.path.iter().copied()))?;
            Some((mount.value, mount.path.len()))
        })
    }

    /// Whether a path of `keys` stops above a mount (it needs the mounted values copied in).
    pub fn above_mount<'k>(&self, keys: impl Iterator<Item = &'k str> + Clone) -> bool {
        let len = keys.clone().count();
        self.with_mounts(|mounts| {
            mounts.iter().any(|m| m.path.len() > len && keys.clone().eq(m.path[..len].iter().copied()))
        })
    }

    /// The document without mounts.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// The whole variable document as one JSON value (a copy).
    pub fn materialized(&self) -> Value {
        self.with_mounts(|mounts| palisade_jmespath::materialize(&self.doc, mounts, &[]))
    }

    /// A top-level entry of the document.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self.locals.iter().find(|local| local.path[0] == name) {
            Some(local) => Some(&local.value),
            None => palisade_engine::field::field(&self.doc, name),
        }
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
            None => self.set_entry(&keys, value),
        }
    }

    /// [`Vars::set_path`] outside the mounts: into a [`Local`] while the document is borrowed (the shared
    /// request context is not copied for a rule's context entries), else into the document.
    fn set_entry(&mut self, keys: &[&str], value: Value) {
        let Some((&name, rest)) = keys.split_first() else { return };
        if let Some(local) = self.locals.iter_mut().find(|local| local.path[0] == name) {
            match rest {
                [] => local.value = Cow::Owned(value),
                _ => set_path(local.value.to_mut(), &rest.join("."), value),
            }
            return;
        }
        let new_local = matches!(self.doc, Cow::Borrowed(_))
            && self.locals.len() < MAX_LOCALS
            && palisade_engine::field::field(&self.doc, name).is_none()
            && !MOUNTED_PATHS.iter().any(|mount| mount[0] == name);
        if !new_local {
            set_path(self.doc_mut(), &keys.join("."), value);
            return;
        }
        let value = match rest {
            [] => value,
            _ => {
                let mut entry = Value::Null;
                set_path(&mut entry, &rest.join("."), value);
                entry
            }
        };
        self.locals.push(Local { path: [palisade_engine::text::interned_str(name)], value: Cow::Owned(value) });
    }

    /// The document for in-place changes of top-level entries (`element`, context entries); the context
    /// entries held as [`Local`]s move into it first.
    pub fn doc_mut(&mut self) -> &mut Value {
        if !self.locals.is_empty() {
            let doc = self.doc.to_mut();
            if !doc.is_object() {
                *doc = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(map) = doc {
                for local in self.locals.drain(..) {
                    map.insert(local.path[0].to_string(), local.value.into_owned());
                }
            }
        }
        self.doc.to_mut()
    }

    /// The same variables, borrowed (changes to the copy do not reach these).
    pub fn reborrow(&self) -> Vars<'_> {
        Vars {
            doc: Cow::Borrowed(&*self.doc),
            object: Cow::Borrowed(&*self.object),
            old_object: Cow::Borrowed(&*self.old_object),
            images: self.images.as_deref().map(Cow::Borrowed),
            elements: self
                .elements
                .iter()
                .map(|f| ElementFrame { depth: f.depth, element: Cow::Borrowed(&*f.element), index: f.index.clone() })
                .collect(),
            deep_element: self.deep_element,
            locals: self.locals.iter().map(|l| Local { path: l.path, value: Cow::Borrowed(&*l.value) }).collect(),
        }
    }

    /// Owns everything borrowed, so the variables outlive the request and memo they came from.
    pub fn into_owned(self) -> Vars<'static> {
        Vars {
            doc: Cow::Owned(self.doc.into_owned()),
            object: Cow::Owned(self.object.into_owned()),
            old_object: Cow::Owned(self.old_object.into_owned()),
            images: self.images.map(|i| Cow::Owned(i.into_owned())),
            elements: self
                .elements
                .into_iter()
                .map(|f| ElementFrame { depth: f.depth, element: Cow::Owned(f.element.into_owned()), index: f.index })
                .collect(),
            deep_element: self.deep_element,
            locals: self
                .locals
                .into_iter()
                .map(|l| Local { path: l.path, value: Cow::Owned(l.value.into_owned()) })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(vars: &Vars<'_>, expr: &str) -> Value {
        vars.search_text(expr).unwrap()
    }

    #[test]
    fn context_entries_over_a_borrowed_document_read_as_if_written_into_a_copy() {
        let base = json!({"request": {"operation": "CREATE", "namespace": "shop"}, "serviceAccountName": "sa"});
        let request =
            AdmissionRequest::for_object(json!({"kind": "Pod", "metadata": {"name": "web"}}), Default::default());
        let images = json!({"containers": {"app": {"tag": "1"}}});
        let mut writes: Vec<(String, Value)> = vec![
            ("team".into(), json!("a")),
            ("owner".into(), json!({"name": "x"})),
            ("owner.email".into(), json!("x@y")),
            ("team".into(), json!("b")),
            ("nested.deep.key".into(), json!(1)),
            ("team.sub".into(), json!(true)),
            ("request.extra".into(), json!("e")),
            ("serviceAccountName".into(), json!("other")),
            ("element".into(), json!("not a local")),
            ("request.object.metadata.labels.app".into(), json!("web")),
        ];
        // More entries than are held as mounts: the rest go into the document.
        writes.extend((0..MAX_LOCALS + 2).map(|i| (format!("entry{i}"), json!(i))));
        let expressions = [
            "team",
            "owner.email",
            "nested.deep",
            "request",
            "serviceAccountName",
            "element",
            "entry17",
            "keys(@)",
            "@",
            "request.object.metadata",
            "images.containers.app.tag",
            "[team, owner][].name",
        ];
        for n in 0..=writes.len() {
            let mut borrowed = Vars::new(Cow::Borrowed(&base), &request);
            let mut owned = Vars::new(Cow::Owned(base.clone()), &request);
            for vars in [&mut borrowed, &mut owned] {
                vars.set_images(Cow::Borrowed(&images));
                for (path, value) in &writes[..n] {
                    vars.set_path(path, value.clone());
                }
            }
            let context = format!("after {n} writes");
            assert_eq!(borrowed.materialized().to_string(), owned.materialized().to_string(), "{context}");
            for expr in expressions {
                assert_eq!(read(&borrowed, expr), read(&owned, expr), "{expr} {context}");
            }
            for name in ["team", "owner", "request", "entry3", "missing"] {
                assert_eq!(borrowed.get(name), owned.get(name), "{name} {context}");
            }
            // The shared document was not copied while only new entries were added.
            let new_entries_only = writes[..n]
                .iter()
                .all(|(p, _)| !p.starts_with("request") && !p.starts_with("serviceAccount") && p != "element")
                && n <= MAX_LOCALS + 4;
            if new_entries_only {
                assert!(matches!(borrowed.doc, Cow::Borrowed(_)), "{context}");
            }
            // Entries move into the document for in-place changes.
            borrowed.doc_mut();
            assert!(borrowed.locals.is_empty());
            assert_eq!(borrowed.materialized().to_string(), owned.materialized().to_string(), "{context}, moved");
        }
    }

    #[test]
    fn foreach_elements_are_mounted_per_level_and_deep_levels_use_the_document() {
        let mut vars = Vars::from_value(json!({"request": {"operation": "CREATE", "object": {"a": 1}}}));
        let outer = json!({"name": "c0"});
        vars.set_element(Cow::Borrowed(&outer), 3, 0);
        let mut inner = vars.reborrow();
        inner.set_element(Cow::Owned(json!("port-80")), 1, 1);
        assert_eq!(read(&inner, "element"), json!("port-80"));
        assert_eq!(read(&inner, "elementIndex"), json!(1));
        assert_eq!(read(&inner, "element0.name"), json!("c0"));
        assert_eq!(read(&inner, "elementIndex0"), json!(3));
        assert_eq!(read(&inner, "[element1, request.object.a, request.operation]"), json!(["port-80", 1, "CREATE"]));
        // The outer scope still sees its own element, not the inner one.
        assert_eq!(read(&vars, "element.name"), json!("c0"));
        assert_eq!(read(&vars, "element1"), Value::Null);
        // Setting a level again replaces it and drops deeper ones.
        inner.set_element(Cow::Owned(json!({"name": "c1"})), 4, 0);
        assert_eq!(read(&inner, "[element.name, elementIndex, element1]"), json!(["c1", 4, null]));
        // Beyond the mounted levels, elements are written into the document.
        let mut deep = vars.reborrow();
        deep.set_element(Cow::Owned(json!("deep")), 7, MOUNTED_DEPTHS);
        let name = format!("element{MOUNTED_DEPTHS}");
        assert_eq!(read(&deep, &format!("[element, elementIndex, {name}]")), json!(["deep", 7, "deep"]));
        // A whole-document read sees the mounted elements in place.
        assert_eq!(inner.materialized()["element0"], json!({"name": "c1"}));
    }
}
