//! Benchmarks over the gatekeeper-library (shared/conformance, read-only):
//! * `matched_constraint/*`: one evaluation of a matched constraint, round-robin over every
//!   library case (review conversion excluded: it happens once per request);
//!   The bench also prints the median and p99, across those pairs, of each pair's evaluation
//!   time;
//! * `request/{10,100}_constraints`: one Pod admission request through a `PolicySet` of 10 or
//!   100 library constraints of mixed kinds (review conversion, matching and evaluation);
//! * `request/5_of_5`, `request/5_of_100`: the same Pod through 5 matching Rego constraints
//!   alone, then with 95 more that do not match it (other kinds, or Pod constraints limited to
//!   another namespace), so only the 5 are evaluated (issue 6: within 2× of each other).

/// The allocator the `palisade` binary ships with, so the figures match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/common/library.rs"]
mod library;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use library::docs;
use palisade_engine::{AdmissionRequest, Document, EvaluationContext, Operation, PolicySet};
use palisade_gatekeeper::{
    CompileOptions, CompiledConstraint, EnginePreference, Inventory, Review, compile, compile_with,
};
use serde_json::Value;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Library {
    /// (template docs, constraint docs) per test.
    tests: Vec<(Vec<Document>, Vec<Document>)>,
    /// Case objects per test (parallel to `tests`).
    cases: Vec<Vec<(Value, Vec<Value>)>>,
}

fn load() -> Library {
    let root = library::root().expect("../shared/conformance/gatekeeper-library beside the repository");
    let paths = library::suite_files(&root.join("library"));
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
        let Ok(compiled) = compile_with(&all, CompileOptions { engine, ..Default::default() }) else { continue };
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

/// Templates of the whole library, each once (a set knows every kind, as a cluster would).
fn all_templates(lib: &Library) -> Vec<Document> {
    let mut all: Vec<Document> = lib.tests.iter().flat_map(|(t, _)| t.iter().cloned()).collect();
    let mut seen = std::collections::HashSet::new();
    all.retain(|d| seen.insert(d.value.pointer("/metadata/name").cloned()));
    all
}

/// The library's constraints, each with whether it selects the request's object and its engine.
fn classified_constraints(lib: &Library, review: &Review) -> Vec<(Document, bool, &'static str)> {
    let mut out = Vec::new();
    for (templates, constraints) in &lib.tests {
        for c in constraints {
            let docs: Vec<Document> = templates.iter().chain([c]).cloned().collect();
            let Ok(compiled) = compile_with(&docs, CompileOptions::default()) else { continue };
            let Some(constraint) = compiled.first() else { continue };
            out.push((c.clone(), constraint.matches(review, None), constraint.template.engine()));
        }
    }
    out
}

fn renamed(doc: &Document, name: String) -> Document {
    let mut d = doc.clone();
    if let Some(meta) = d.value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("name".into(), Value::String(name));
    }
    d
}

/// A copy of `doc` whose match also requires a namespace the request is not in: still a
/// candidate for its kinds, never evaluated.
fn elsewhere(doc: &Document, name: String) -> Document {
    let mut d = renamed(doc, name);
    let spec = d.value.as_object_mut().map(|o| o.entry("spec").or_insert_with(|| serde_json::json!({})));
    if let Some(spec) = spec.and_then(Value::as_object_mut) {
        let m = spec.entry("match").or_insert_with(|| serde_json::json!({}));
        if let Some(m) = m.as_object_mut() {
            m.insert("namespaces".into(), serde_json::json!(["bench-elsewhere"]));
        }
    }
    d
}

fn set_of(templates: &[Document], constraints: Vec<Document>) -> PolicySet {
    let all: Vec<Document> = templates.iter().cloned().chain(constraints).collect();
    let mut set = PolicySet::new();
    for p in compile(&all).unwrap_or_default() {
        set.add(p);
    }
    set
}

/// `n` library constraints cycled in order (as many matching as the library gives).
fn policy_set(lib: &Library, templates: &[Document], n: usize) -> PolicySet {
    let constraints: Vec<&Document> = lib.tests.iter().flat_map(|(_, c)| c.iter()).collect();
    let docs =
        (0..n.min(constraints.len() * 100)).map(|i| renamed(constraints[i % constraints.len()], format!("c{i}")));
    set_of(templates, docs.collect())
}

/// `matching` constraints that select the request (distinct Rego templates) plus `others`
/// that do not: library constraints of other kinds, and copies of Pod constraints restricted
/// to another namespace (candidates that the match rejects).
fn matching_set(
    templates: &[Document],
    classified: &[(Document, bool, &'static str)],
    matching: usize,
    others: usize,
) -> (PolicySet, usize) {
    let mut kinds = std::collections::HashSet::new();
    let mut docs: Vec<Document> = classified
        .iter()
        .filter(|(d, m, e)| *m && *e == "Rego" && kinds.insert(d.value["kind"].clone()))
        .take(matching)
        .enumerate()
        .map(|(i, (d, _, _))| renamed(d, format!("m{i}")))
        .collect();
    let found = docs.len();
    for i in 0..others.min(classified.len() * 100) {
        let (d, m, _) = &classified[i % classified.len()];
        let name = format!("o{i}");
        docs.push(if *m { elsewhere(d, name) } else { renamed(d, name) });
    }
    (set_of(templates, docs), found)
}

/// Median and p99, across matched pairs, of each pair's median evaluation time.
fn per_pair_stats(pairs: &[(Arc<CompiledConstraint>, Review, Inventory)]) -> (Duration, Duration) {
    let mut per_pair: Vec<Duration> = pairs
        .iter()
        .map(|(c, r, inv)| {
            let mut samples: Vec<Duration> = (0..31)
                .map(|_| {
                    let t = Instant::now();
                    black_box(c.evaluate(r, inv).map(|v| v.len()).unwrap_or(0));
                    t.elapsed()
                })
                .collect();
            samples.sort();
            samples[samples.len() / 2]
        })
        .collect();
    per_pair.sort();
    let at = |q: usize| per_pair[((per_pair.len() * q).div_ceil(100)).saturating_sub(1)];
    (at(50), at(99))
}

fn benches(c: &mut Criterion) {
    let lib = load();
    for (label, engine) in
        [("gatekeeper_engines", EnginePreference::Gatekeeper), ("rego_only", EnginePreference::PreferRego)]
    {
        let pairs = matched_pairs(&lib, engine);
        if pairs.is_empty() {
            continue;
        }
        let (median, p99) = per_pair_stats(&pairs);
        println!(
            "matched_constraint/{label}: {} matched (constraint, case) pairs; per pair median {:.1} µs, p99 {:.1} µs",
            pairs.len(),
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
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
    let templates = all_templates(&lib);
    let classified = classified_constraints(&lib, &Review::from_request(&request));
    let mut sets = Vec::new();
    for n in [10usize, 100] {
        let set = policy_set(&lib, &templates, n);
        sets.push((format!("{n}_constraints"), format!("{} constraints", set.len()), set));
    }
    for (matching, others) in [(5usize, 0usize), (5, 95)] {
        let (set, found) = matching_set(&templates, &classified, matching, others);
        let label = format!("{matching}_of_{}", matching + others);
        sets.push((label, format!("{} constraints, {found} matching", set.len()), set));
    }
    // Flat sampling keeps slow requests (milliseconds each) within a bounded run time.
    let mut group = c.benchmark_group("request");
    group.sampling_mode(SamplingMode::Flat).sample_size(30);
    for (label, what, set) in &sets {
        let evaluated: std::collections::HashSet<String> = set
            .evaluate(&request, &EvaluationContext::default())
            .validation_results
            .into_iter()
            .map(|r| r.policy.to_string())
            .collect();
        println!(
            "request/{label}: {what}, {} candidates for Pod, {} evaluated",
            set.candidates("Pod").len(),
            evaluated.len()
        );
        // A fresh context per request, as the webhook builds one per AdmissionReview.
        group.bench_function(label.as_str(), |b| {
            b.iter(|| black_box(set.evaluate(&request, &EvaluationContext::default()).validation_results.len()))
        });
    }
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
