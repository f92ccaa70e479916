//! Benchmarks over the gatekeeper-library (shared/conformance, read-only):
//! * `matched_constraint/*`: one evaluation of a matched constraint, round-robin over every
//!   library case (review conversion excluded: it happens once per request);
//! * `request/*`: one Pod admission request through a `PolicySet` of 10 or 100 constraints of
//!   mixed kinds (review conversion, matching and evaluation included).

/// The allocator the `palisade` binary ships with, so the figures match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_engine::{AdmissionRequest, Document, EvaluationContext, Operation, PolicySet, parse_documents};
use palisade_gatekeeper::{
    CompileOptions, CompiledConstraint, EnginePreference, Inventory, Review, compile, compile_with,
};
use serde_json::Value;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/gatekeeper-library/library")
}

fn suites(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            suites(&p, out);
        } else if p.file_name().is_some_and(|n| n == "suite.yaml") {
            out.push(p);
        }
    }
}

fn docs(path: &Path) -> Vec<Document> {
    parse_documents(&path.display().to_string(), &std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

struct Library {
    /// (template docs, constraint docs) per test.
    tests: Vec<(Vec<Document>, Vec<Document>)>,
    /// Case objects per test (parallel to `tests`).
    cases: Vec<Vec<(Value, Vec<Value>)>>,
}

fn load() -> Library {
    let mut paths = Vec::new();
    suites(&library(), &mut paths);
    let mut lib = Library { tests: Vec::new(), cases: Vec::new() };
    for path in paths {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        for suite in docs(&path) {
            for test in suite.value.get("tests").and_then(Value::as_array).into_iter().flatten() {
                let file = |k: &str| dir.join(test.get(k).and_then(Value::as_str).unwrap_or_default());
                lib.tests.push((docs(&file("template")), docs(&file("constraint"))));
                let mut cases = Vec::new();
                for case in test.get("cases").and_then(Value::as_array).into_iter().flatten() {
                    let rel = |v: &Value| dir.join(v.as_str().unwrap_or_default());
                    let object = docs(&rel(&case["object"])).into_iter().next().map(|d| d.value);
                    let inventory = case
                        .get("inventory")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .flat_map(|p| docs(&rel(p)).into_iter().map(|d| d.value))
                        .collect();
                    if let Some(object) = object {
                        cases.push((object, inventory));
                    }
                }
                lib.cases.push(cases);
            }
        }
    }
    lib
}

fn review(object: &Value) -> Review {
    if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        Review::from_admission_review(object).unwrap_or_else(|_| Review::from_object(object))
    } else {
        Review::from_object(object)
    }
}

fn matched_pairs(lib: &Library, engine: EnginePreference) -> Vec<(Arc<CompiledConstraint>, Review, Inventory)> {
    let mut pairs = Vec::new();
    for ((templates, constraints), cases) in lib.tests.iter().zip(&lib.cases) {
        let all: Vec<Document> = templates.iter().chain(constraints).cloned().collect();
        let Ok(compiled) = compile_with(&all, CompileOptions { engine }) else { continue };
        let Some(constraint) = compiled.into_iter().next() else { continue };
        for (object, inventory) in cases {
            let r = review(object);
            let inv = Inventory::from_objects(inventory.iter());
            if constraint.matches(&r, inv.namespace_labels(r.namespace())) {
                let _ = constraint.evaluate(&r, &inv); // warm conversions and the engine pool
                pairs.push((constraint.clone(), r, inv));
            }
        }
    }
    pairs
}

fn policy_set(lib: &Library, n: usize) -> PolicySet {
    let mut all: Vec<Document> = lib.tests.iter().flat_map(|(t, _)| t.iter().cloned()).collect();
    let mut seen = std::collections::HashSet::new();
    all.retain(|d| seen.insert(d.value.pointer("/metadata/name").cloned()));
    let constraints: Vec<&Document> = lib.tests.iter().flat_map(|(_, c)| c.iter()).collect();
    for i in 0..n.min(constraints.len() * 100) {
        let mut d = constraints[i % constraints.len()].clone();
        if let Some(meta) = d.value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("name".into(), Value::String(format!("c{i}")));
        }
        all.push(d);
    }
    let mut set = PolicySet::new();
    for p in compile(&all).unwrap_or_default() {
        set.add(p);
    }
    set
}

fn benches(c: &mut Criterion) {
    let lib = load();
    for (label, engine) in
        [("gatekeeper_engines", EnginePreference::Gatekeeper), ("rego_only", EnginePreference::PreferRego)]
    {
        let pairs = matched_pairs(&lib, engine);
        println!("matched_constraint/{label}: {} matched (constraint, case) pairs", pairs.len());
        if pairs.is_empty() {
            continue;
        }
        let mut i = 0usize;
        c.bench_function(&format!("matched_constraint/{label}"), |b| {
            b.iter(|| {
                let (constraint, review, inventory) = &pairs[i % pairs.len()];
                i += 1;
                black_box(constraint.evaluate(review, inventory).map(|v| v.len()).unwrap_or(0))
            })
        });
    }
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
            "securityContext": {"privileged": true, "runAsUser": 0},
            "resources": {"limits": {"cpu": "100m", "memory": "1Gi"}},
            "ports": [{"containerPort": 80, "hostPort": 80}]}]}});
    let request = AdmissionRequest::for_object(pod, Operation::Create);
    let ctx = EvaluationContext::default();
    for n in [10usize, 100] {
        let set = policy_set(&lib, n);
        println!(
            "request/{n}_constraints: {} constraints, {} candidates for Pod",
            set.len(),
            set.candidates("Pod").len()
        );
        c.bench_function(&format!("request/{n}_constraints"), |b| b.iter(|| black_box(set.evaluate(&request, &ctx))));
    }
}

criterion_group!(group, benches);
criterion_main!(group);
