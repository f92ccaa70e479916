//! `gator verify` suites (`test.gatekeeper.sh/v1alpha1`, kind `Suite`), read exactly as gator
//! reads them: `tests[]` name a template and a constraint, `cases[]` an object, optional
//! inventory and assertions (`violations: yes|no|<n>`, optional `message` Go regexp). Paths are
//! relative to the suite file. File access is injected, so this module does no I/O itself.

use crate::constraint::{ConstraintSpec, is_constraint};
use crate::policy::{CompiledConstraint, CompiledTemplate};
use crate::review::{Inventory, Review};
use crate::template::{EnginePreference, is_template};
use palisade_engine::parse_documents;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Reads a file named by a suite (a path already joined to the suite's directory).
pub trait FileSource {
    /// The file's text, or a message saying why it could not be read.
    fn read(&self, path: &Path) -> Result<String, String>;
}

impl<F: Fn(&Path) -> Result<String, String>> FileSource for F {
    fn read(&self, path: &Path) -> Result<String, String> {
        self(path)
    }
}

/// Options of a suite run.
#[derive(Debug, Clone, Default)]
pub struct SuiteOptions {
    /// Engine for templates with both Rego and CEL.
    pub engine: EnginePreference,
    /// How Rego is evaluated.
    pub rego: crate::RegoEngine,
    /// Only run tests or cases whose `test` or `test/case` name matches (gator `--run`).
    pub run: Option<regex::Regex>,
}

impl SuiteOptions {
    /// Options with an engine preference and an optional `--run` regex.
    pub fn new(engine: EnginePreference, run: Option<&str>) -> Result<Self, regex::Error> {
        Ok(Self { engine, rego: crate::RegoEngine::default(), run: run.map(regex::Regex::new).transpose()? })
    }
}

/// Outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// All assertions held.
    Pass,
    /// An assertion failed or the case could not run.
    Fail,
    /// Skipped (`skip: true` or filtered out).
    Skip,
}

/// Result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Violation messages produced.
    pub messages: Vec<String>,
    /// Wall-clock time in milliseconds.
    pub millis: f64,
}

/// Result of one test (template + constraint).
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// Test name.
    pub name: String,
    /// Why the whole test failed (template or constraint could not be loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the test was skipped.
    pub skipped: bool,
    /// Engine evaluated (`Rego` or `K8sNativeValidation`), when the template compiled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Case results.
    pub cases: Vec<CaseResult>,
}

/// Result of one suite file.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    /// Suite file path.
    pub path: String,
    /// `metadata.name`.
    pub name: String,
    /// Why the suite could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the suite was skipped.
    pub skipped: bool,
    /// Test results.
    pub tests: Vec<TestResult>,
}

impl SuiteResult {
    /// Whether anything failed (suite error, test error or failed case).
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self.tests.iter().any(|t| t.error.is_some() || t.cases.iter().any(|c| c.outcome == Outcome::Fail))
    }
}

/// Whether a document is a gator Suite (files without both kind and apiVersion are ignored).
pub fn is_suite(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("Suite")
        && doc.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.starts_with("test.gatekeeper.sh/"))
}

/// Whether `text` holds a Suite document (a cheap check before parsing, then a parse).
pub fn contains_suite(text: &str) -> bool {
    text.contains("Suite") && parse_documents("", text).is_ok_and(|docs| docs.iter().any(|d| is_suite(&d.value)))
}

/// Runs every Suite document in `text` (the contents of `path`).
pub fn run_suite_file(path: &Path, text: &str, files: &dyn FileSource, options: &SuiteOptions) -> Vec<SuiteResult> {
    let source = path.display().to_string();
    let docs = match parse_documents(&source, text) {
        Ok(d) => d,
        Err(e) => {
            return vec![SuiteResult {
                path: source,
                name: String::new(),
                error: Some(e.to_string()),
                skipped: false,
                tests: vec![],
            }];
        }
    };
    let mut runner =
        Runner { dir: path.parent().unwrap_or(Path::new("")).to_path_buf(), files, options, templates: HashMap::new() };
    docs.iter().filter(|d| is_suite(&d.value)).map(|d| runner.run_suite(&source, &d.value)).collect()
}

struct Runner<'a> {
    dir: PathBuf,
    files: &'a dyn FileSource,
    options: &'a SuiteOptions,
    templates: HashMap<PathBuf, Arc<CompiledTemplate>>,
}

fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn flag(v: &Value, k: &str) -> bool {
    v.get(k).and_then(Value::as_bool).unwrap_or(false)
}

impl Runner<'_> {
    fn run_suite(&mut self, path: &str, suite: &Value) -> SuiteResult {
        let name = suite.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let skipped = flag(suite, "skip");
        let tests = if skipped {
            Vec::new()
        } else {
            suite.get("tests").and_then(Value::as_array).into_iter().flatten().map(|t| self.run_test(t)).collect()
        };
        SuiteResult { path: path.to_string(), name, error: None, skipped, tests }
    }

    fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        if rel.is_empty() {
            return Err("missing path".into());
        }
        if Path::new(rel).is_absolute() {
            return Err(format!("{rel}: absolute paths are not allowed in suites"));
        }
        Ok(self.dir.join(rel))
    }

    fn read_values(&self, rel: &str) -> Result<Vec<Value>, String> {
        let path = self.resolve(rel)?;
        let body = self.files.read(&path)?;
        let docs = parse_documents(&path.display().to_string(), &body).map_err(|e| e.to_string())?;
        if docs.is_empty() {
            return Err(format!("{}: defines no YAML objects", path.display()));
        }
        Ok(docs.into_iter().map(|d| d.value).collect())
    }

    fn template(&mut self, rel: &str) -> Result<Arc<CompiledTemplate>, String> {
        let path = self.resolve(rel)?;
        if let Some(t) = self.templates.get(&path) {
            return Ok(t.clone());
        }
        let docs = self.read_values(rel)?;
        let doc = docs.iter().find(|d| is_template(d)).ok_or_else(|| format!("{rel}: no ConstraintTemplate found"))?;
        let compiled = Arc::new(
            CompiledTemplate::compile_with(doc, self.options.engine, self.options.rego).map_err(|e| e.to_string())?,
        );
        self.templates.insert(path, compiled.clone());
        Ok(compiled)
    }

    fn selected(&self, test: &str, case: &str) -> bool {
        self.options
            .run
            .as_ref()
            .is_none_or(|re| re.is_match(test) || re.is_match(case) || re.is_match(&format!("{test}/{case}")))
    }

    fn run_test(&mut self, test: &Value) -> TestResult {
        let name = text(test, "name").to_string();
        let mut result =
            TestResult { name: name.clone(), error: None, skipped: false, engine: None, cases: Vec::new() };
        let cases = test.get("cases").and_then(Value::as_array).cloned().unwrap_or_default();
        if flag(test, "skip") || !cases.iter().any(|c| self.selected(&name, text(c, "name"))) && !cases.is_empty() {
            result.skipped = true;
            return result;
        }
        let constraint = self.template(text(test, "template")).and_then(|template| {
            result.engine = Some(template.engine().to_string());
            let docs = self.read_values(text(test, "constraint"))?;
            let doc = docs.iter().find(|d| is_constraint(d)).ok_or("constraint file holds no Constraint")?;
            let spec = ConstraintSpec::parse(doc).map_err(|e| e.to_string())?;
            CompiledConstraint::new(spec, template).map_err(|e| e.to_string())
        });
        let invalid = flag(test, "invalid");
        match (constraint, invalid) {
            (Ok(_), true) => result.error = Some("the constraint was expected to be invalid, but it loaded".into()),
            (Err(e), true) if e.contains("parameters do not match the template schema") => {}
            (Err(e), true) => result.error = Some(format!("expected a schema error, got: {e}")),
            (Err(e), false) => result.error = Some(e),
            (Ok(c), false) => {
                for case in &cases {
                    let case_name = text(case, "name");
                    if flag(case, "skip") || !self.selected(&name, case_name) {
                        let skip = CaseResult {
                            name: case_name.to_string(),
                            outcome: Outcome::Skip,
                            reason: None,
                            messages: vec![],
                            millis: 0.0,
                        };
                        result.cases.push(skip);
                        continue;
                    }
                    result.cases.push(self.run_case(&c, case));
                }
            }
        }
        result
    }

    fn run_case(&self, constraint: &CompiledConstraint, case: &Value) -> CaseResult {
        let start = Instant::now();
        let outcome = self.check_case(constraint, case);
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        let name = text(case, "name").to_string();
        match outcome {
            Ok(messages) => CaseResult { name, outcome: Outcome::Pass, reason: None, messages, millis },
            Err((reason, messages)) => {
                CaseResult { name, outcome: Outcome::Fail, reason: Some(reason), messages, millis }
            }
        }
    }

    fn check_case(&self, constraint: &CompiledConstraint, case: &Value) -> Result<Vec<String>, (String, Vec<String>)> {
        let fail = |e: String| (e, Vec::new());
        let assertions = case.get("assertions").and_then(Value::as_array).filter(|a| !a.is_empty());
        let assertions = assertions.ok_or_else(|| fail("assertions must be non-empty".into()))?;
        let objects = self.read_values(text(case, "object")).map_err(fail)?;
        if objects.len() != 1 {
            return Err(fail(format!("{:?} defines {} objects", text(case, "object"), objects.len())));
        }
        let mut inventory_objects = Vec::new();
        for inv in case.get("inventory").and_then(Value::as_array).into_iter().flatten() {
            inventory_objects.extend(self.read_values(inv.as_str().unwrap_or_default()).map_err(fail)?);
        }
        let inventory = Inventory::from_objects(inventory_objects.iter());
        let object = &objects[0];
        let is_review =
            text(object, "kind") == "AdmissionReview" && text(object, "apiVersion").starts_with("admission.k8s.io/");
        let review =
            if is_review { Review::from_admission_review(object).map_err(fail)? } else { Review::from_object(object) };
        let messages: Vec<String> = if constraint.matches(&review, inventory.namespace_labels(review.namespace())) {
            constraint
                .evaluate(&review, &inventory)
                .map_err(|e| fail(e.to_string()))?
                .into_iter()
                .map(|v| v.msg)
                .collect()
        } else {
            Vec::new()
        };
        for a in assertions {
            check_assertion(a, &messages).map_err(|e| (e, messages.clone()))?;
        }
        Ok(messages)
    }
}

/// Checks one assertion against the violation messages, with gator's wording.
pub fn check_assertion(assertion: &Value, messages: &[String]) -> Result<(), String> {
    let pattern = assertion.get("message").and_then(Value::as_str);
    let matching = match pattern {
        None => messages.len(),
        Some(p) => {
            let re = regex::Regex::new(p).map_err(|e| format!("invalid message regex {p:?}: {e}"))?;
            messages.iter().filter(|m| re.is_match(m)).count()
        }
    };
    let containing = pattern.map(|p| format!(" containing {p:?}")).unwrap_or_default();
    let got = |want: &str| format!("got {matching} violations{containing} but want {want}: got messages {messages:?}");
    match assertion.get("violations") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => {
            (matching > 0).then_some(()).ok_or_else(|| got("at least 1"))
        }
        Some(Value::Bool(false)) => (matching == 0).then_some(()).ok_or_else(|| got("none")),
        Some(Value::String(s)) if s == "yes" => (matching > 0).then_some(()).ok_or_else(|| got("at least 1")),
        Some(Value::String(s)) if s == "no" => (matching == 0).then_some(()).ok_or_else(|| got("none")),
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            let want = n.as_u64().unwrap_or_default() as usize;
            (matching == want).then_some(()).ok_or_else(|| got(&format!("exactly {want}")))
        }
        Some(other) => {
            Err(format!("assertion.violations, if set, must be a nonnegative integer, \"yes\", or \"no\"; got {other}"))
        }
    }
}
