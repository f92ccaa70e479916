//! Admission-path benchmarks: the pod-security baseline and restricted policies from the
//! upstream suite against a typical Pod and Deployment, policy-set load time, and a mutate
//! scenario. Figures are recorded in docs/performance.md.

/// The allocator the `palisade` binary ships with, so the figures match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_engine::{AdmissionRequest, EvaluationContext, Operation, PolicySet, parse_documents};
use serde_json::{Value, json};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kyverno-policies")
}

/// Policy files directly inside each package folder under `dir` (not tests or artifacthub files).
fn policy_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for package in std::fs::read_dir(dir).expect("suite folder").flatten() {
        let name = package.file_name().to_string_lossy().to_string();
        let file = package.path().join(format!("{name}.yaml"));
        if file.is_file() {
            out.push(file);
        }
    }
    out.sort();
    out
}

fn load_texts(files: &[PathBuf]) -> Vec<(String, String)> {
    files.iter().map(|f| (f.display().to_string(), std::fs::read_to_string(f).expect("read policy"))).collect()
}

fn compile(texts: &[(String, String)]) -> PolicySet {
    let mut docs = Vec::new();
    for (name, text) in texts {
        docs.extend(parse_documents(name, text).expect("parse"));
    }
    let mut set = PolicySet::new();
    for p in palisade_kyverno::load_policies(&docs).expect("compile") {
        set.add(Arc::new(p));
    }
    set
}

fn pod() -> Value {
    serde_json::from_str(include_str!("data/pod.json")).expect("pod.json")
}

fn deployment() -> Value {
    let mut template = pod();
    let meta = template["metadata"].take();
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "labels": meta["labels"].clone()},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}},
                 "template": {"metadata": {"labels": meta["labels"].clone()}, "spec": template["spec"].take()}}
    })
}

fn pod_security(c: &mut Criterion) {
    let base = suite().join("pod-security");
    let mut files = policy_files(&base.join("baseline"));
    files.extend(policy_files(&base.join("restricted")));
    let texts = load_texts(&files);
    let set = compile(&texts);
    let rules: usize = set.policies().iter().map(|p| p.kinds().len()).sum();
    eprintln!("pod-security set: {} policies, {rules} rule kinds entries", set.len());
    let ctx = EvaluationContext::default();
    let pod_req = AdmissionRequest::for_object(pod(), Operation::Create);
    let deploy_req = AdmissionRequest::for_object(deployment(), Operation::Create);
    let eval = set.evaluate(&pod_req, &ctx);
    assert!(eval.validation_results.iter().all(|r| r.status != palisade_engine::RuleStatus::Error), "{eval:?}");
    let mut group = c.benchmark_group("pod-security");
    group.bench_function("load+compile", |b| b.iter(|| compile(black_box(&texts))));
    // A fresh context per iteration, as each admission request gets: nothing carries over.
    group.bench_function("evaluate Pod", |b| {
        b.iter(|| set.evaluate(black_box(&pod_req), &EvaluationContext::default()))
    });
    group.bench_function("evaluate Deployment", |b| {
        b.iter(|| set.evaluate(black_box(&deploy_req), &EvaluationContext::default()))
    });
    group.finish();
}

fn mutate(c: &mut Criterion) {
    let dir = suite().join("other");
    let packages =
        ["add-labels", "add-default-securitycontext", "always-pull-images", "add-ttl-jobs", "add-pod-proxies"];
    let mut files: Vec<PathBuf> =
        packages.iter().map(|p| dir.join(p).join(format!("{p}.yaml"))).filter(|f| f.is_file()).collect();
    files.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/run-pod-using-kata.yaml"));
    let mut texts = load_texts(&files);
    texts.push(("run-priv-pod-using-kata".into(), RUN_PRIV_POD_USING_KATA.into()));
    let set = compile(&texts);
    let ctx = EvaluationContext::default();
    let mut d = deployment();
    d["metadata"]["namespace"] = json!("test");
    let req = AdmissionRequest::for_object(d, Operation::Create);
    let eval = set.evaluate(&req, &ctx);
    assert!(eval.patched.is_some(), "the mutate scenario must change the Deployment");
    c.bench_function("mutate Deployment (7 policies)", |b| {
        b.iter(|| {
            let eval = set.evaluate(black_box(&req), &EvaluationContext::default());
            let patched = eval.patched.as_ref().unwrap_or(&req.object);
            palisade_engine::patch::webhook_patch_within(&req.object, patched, &eval.touched)
        })
    });
    // The flagship sandbox policy on the common case, a workload that is not privileged: nothing to change.
    let priv_only = compile(&[("run-priv-pod-using-kata".into(), RUN_PRIV_POD_USING_KATA.into())]);
    assert!(priv_only.evaluate(&req, &ctx).patched.is_none(), "the Deployment is not privileged");
    c.bench_function("mutate Deployment, nothing to change (run-priv-pod-using-kata)", |b| {
        b.iter(|| {
            let eval = priv_only.evaluate(black_box(&req), &EvaluationContext::default());
            let patched = eval.patched.as_ref().unwrap_or(&req.object);
            palisade_engine::patch::webhook_patch_within(&req.object, patched, &eval.touched)
        })
    });
}

const RUN_PRIV_POD_USING_KATA: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: run-priv-pod-using-kata
spec:
  rules:
    - name: privileged-to-kata
      match:
        any:
          - resources:
              kinds: [Pod]
      exclude:
        any:
          - resources:
              namespaces: [kube-system]
      preconditions:
        any:
          - key: "{{ request.object.spec.containers[?securityContext.privileged] | length(@) }}"
            operator: Equals
            value: 1
          - key: "{{ request.object.spec.containers[?securityContext.runAsUser == `0`] | length(@) }}"
            operator: Equals
            value: 1
      mutate:
        patchStrategicMerge:
          spec:
            +(runtimeClassName): kata
"#;

criterion_group!(benches, pod_security, mutate);
criterion_main!(benches);
