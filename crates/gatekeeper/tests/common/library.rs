//! The upstream gatekeeper-library beside the repository (`../shared/conformance`, read-only), shared by the
//! conformance and parity tests and the bench.
#![allow(dead_code)]

use palisade_engine::{Document, parse_documents};
use std::path::{Path, PathBuf};

/// `../shared/conformance/gatekeeper-library`, when it is there.
pub fn root() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/gatekeeper-library");
    dir.is_dir().then_some(dir)
}

/// Every `suite.yaml` under `dir`, in path order.
pub fn suite_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.file_name().is_some_and(|n| n == "suite.yaml") {
            out.push(p);
        }
    }
}

/// The YAML documents of `path` (none when it cannot be read or parsed).
pub fn docs(path: &Path) -> Vec<Document> {
    parse_documents(&path.display().to_string(), &std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}
