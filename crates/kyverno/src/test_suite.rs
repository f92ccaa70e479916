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

/// A small deterministic generator (xorshift64) for randomized tests, so a failure names a reproducible case.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// One of `items`.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The YAML files of the upstream suite, sorted; `None` (after saying so) when the suite is not there.
pub(crate) fn upstream_yaml_files() -> Option<Vec<PathBuf>> {
    let dir = conformance_root();
    if !dir.is_dir() {
        eprintln!("skipping: {} not found", dir.display());
        return None;
    }
    let mut files = Vec::new();
    files_below(&dir, &|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"), &mut files);
    files.sort();
    Some(files)
}
