//! Reading manifests from files and directories.

use anyhow::{Context, Result};
use palisade_engine::{Document, parse_documents};
use std::path::{Path, PathBuf};

/// Whether a path names a manifest file by its extension.
pub fn is_manifest(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

/// Expands files and directories (recursively, sorted) into manifest files.
pub fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .with_context(|| format!("{}: cannot read directory", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for entry in entries {
                    if entry.is_dir() {
                        stack.push(entry);
                    } else if is_manifest(&entry) {
                        out.push(entry);
                    }
                }
            }
        } else if path.exists() {
            out.push(path.clone());
        } else {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    Ok(out)
}

/// Reads and parses one file into documents.
pub fn read_documents(path: &Path) -> Result<Vec<Document>> {
    let text = std::fs::read(path).with_context(|| format!("{}: cannot read file", path.display()))?;
    let text = String::from_utf8(text).map_err(|e| anyhow::anyhow!("{}: not valid UTF-8: {e}", path.display()))?;
    parse_documents(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Reads every manifest under `paths`.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for file in manifest_files(paths)? {
        docs.extend(read_documents(&file)?);
    }
    Ok(docs)
}
