//! Test helpers that read the upstream kyverno/policies suite (`../shared/conformance/kyverno-policies`, beside
//! the repository): shared by the crate's unit tests and, through `#[path]`, its integration tests.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The suite's root folder.
pub(crate) fn conformance_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kyverno-policies")
}

/// The map documents of a YAML file (none when it is missing or does not parse).
pub(crate) fn load_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_default().into_iter().filter(Value::is_object).collect()
}

/// Every file below `dir` (recursively) whose name passes `keep`.
pub(crate) fn files_below(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_below(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// Every `kyverno-test.yaml` below `dir`.
pub(crate) fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_below(dir, &|p| p.file_name().is_some_and(|n| n == "kyverno-test.yaml"), out);
}

/// Every `.kyverno-test` folder below `dir`.
pub(crate) fn test_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut files = Vec::new();
    test_files(dir, &mut files);
    out.extend(files.iter().filter_map(|f| f.parent()).filter(|d| d.ends_with(".kyverno-test")).map(Path::to_path_buf));
}

/// A list field of a test file (a single string counts as a list of one).
pub(crate) fn as_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        _ => Vec::new(),
    }
}
