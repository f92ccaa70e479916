//! The validating webhook's evaluation, as `palisade serve` runs it for `scripts/bench-webhook.sh`: the
//! webhook's sample request (a privileged Pod) against the pod-security set (Enforce) and against 100
//! assorted ClusterPolicies of the upstream suite, through the policies the validating webhook selects
//! (`PolicyRole::Validating`), each request with a fresh `EvaluationContext` that renders only the messages
//! a response can show (`Messages::Shown`). Figures are in docs/performance.md.

/// The allocator the `palisade` binary ships with, so the figures match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_engine::{
    AdmissionRequest, EvaluationContext, Messages, Operation, PolicyRole, PolicySet, RuleStatus, parse_documents,
};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kyverno-policies")
}

/// The policies of `text` (file `name`), or `None` when it does not load on its own.
fn load(name: &str, text: &str) -> Option<Vec<palisade_kyverno::KyvernoPolicy>> {
    let docs = parse_documents(name, text).ok()?;
    palisade_kyverno::load_policies(&docs).ok()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// The pod-security baseline and restricted policies with Enforce, as the webhook bench serves them.
fn pod_security() -> PolicySet {
    let mut files = Vec::new();
    for level in ["baseline", "restricted"] {
        yaml_files(&suite().join("pod-security").join(level), &mut files);
    }
    files.retain(|f| f.parent().and_then(Path::file_name) == f.file_stem());
    files.sort();
    let mut set = PolicySet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read policy");
        let text = text.replace("validationFailureAction: Audit", "validationFailureAction: Enforce");
        for policy in load(&file.display().to_string(), &text).expect("pod-security policy loads") {
            set.add(Arc::new(policy));
        }
    }
    set
}

/// The first 100 ClusterPolicy files of the suite (by path) that load on their own, skipping hidden folders
/// and the CEL/ValidatingPolicy variants, as `scripts/bench-webhook.sh` picks them.
fn assorted() -> PolicySet {
    let root = suite();
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    let skip = |f: &Path| {
        let path = f.strip_prefix(&root).unwrap_or(f).to_string_lossy().to_string();
        path.starts_with('.')
            || path.contains("/.")
            || ["-cel/", "-vpol/", "-gpol/", "-mpol/", "-ivpol/"].iter().any(|s| path.contains(s))
    };
    let mut set = PolicySet::new();
    let mut loaded = 0;
    for file in files.into_iter().filter(|f| !skip(f)) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        if !text.lines().any(|l| l.starts_with("kind: ClusterPolicy")) {
            continue;
        }
        let Some(policies) = load(&file.display().to_string(), &text) else { continue };
        for policy in policies {
            set.add(Arc::new(policy));
        }
        loaded += 1;
        if loaded == 100 {
            break;
        }
    }
    set
}

/// The webhook's sample request (`palisade serve` writes it to `sample-review.json`).
fn sample() -> AdmissionRequest {
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sample", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest", "securityContext": {"privileged": true}}]}
    });
    AdmissionRequest::for_object(pod, Operation::Create)
}

/// What the server's `evaluate_until` does for `/validate`, without the clock reads.
fn validate(set: &PolicySet, request: &AdmissionRequest) -> usize {
    let ctx = EvaluationContext { messages: Messages::Shown, ..EvaluationContext::default() };
    let mut results = 0;
    for policy in set.candidates_for(&request.kind.kind, PolicyRole::Validating) {
        results += policy.validate(request, &ctx).len();
    }
    results
}

fn webhook_validate(c: &mut Criterion) {
    let request = sample();
    let mut group = c.benchmark_group("webhook validate");
    for (name, set) in [("pod-security (Enforce)", pod_security()), ("100 assorted", assorted())] {
        let ctx = EvaluationContext::default();
        let results: Vec<_> = set.policies().iter().flat_map(|p| p.validate(&request, &ctx)).collect();
        assert!(results.iter().any(|r| r.status == RuleStatus::Fail), "{name}: the privileged Pod fails some rule");
        let statuses = palisade_engine::registry::count_by_status(results.iter());
        eprintln!("{name}: {} policies, {} results on /validate ({statuses:?})", set.len(), validate(&set, &request));
        group.bench_function(name, |b| b.iter(|| validate(black_box(&set), black_box(&request))));
    }
    group.finish();
}

criterion_group!(benches, webhook_validate);
criterion_main!(benches);
