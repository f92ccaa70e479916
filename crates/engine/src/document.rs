//! Manifest loading: splits YAML (or JSON) text into documents and parses each, keeping
//! enough position information to name the document and line of any error.

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt;

/// One document of a manifest file.
#[derive(Debug, Clone)]
pub struct Document {
    /// Name of the source (a file path, or `<stdin>`), for messages.
    pub source: String,
    /// Zero-based index of the document in its source.
    pub index: usize,
    /// One-based line where the document's text starts in the source.
    pub first_line: usize,
    /// The document's text.
    pub text: String,
    /// The parsed document.
    pub value: Value,
}

/// A manifest that could not be read, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DocumentError {
    /// Source name.
    pub source_name: String,
    /// Zero-based document index.
    pub index: usize,
    /// One-based line in the source, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": document {}: {}", self.index + 1, self.message)
    }
}

/// Largest nesting depth accepted in a manifest; deeper input is rejected, not recursed into.
pub const MAX_DEPTH: usize = 128;

/// Splits `text` into documents and parses each one; empty documents are dropped.
///
/// A `kind: List` document is expanded into its `items`, as `kubectl` does.
pub fn parse_documents(source: &str, text: &str) -> Result<Vec<Document>, DocumentError> {
    let mut docs = Vec::new();
    for (index, (first_line, chunk)) in split_documents(text).into_iter().enumerate() {
        if chunk.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        }) {
            continue;
        }
        let value: Value = serde_saphyr::from_str(&chunk).map_err(|e| DocumentError {
            source_name: source.to_string(),
            index,
            line: e.location().map(|l| first_line + l.line() as usize - 1),
            message: first_line_of(&e.to_string()),
        })?;
        if value.is_null() {
            continue;
        }
        if depth(&value) > MAX_DEPTH {
            return Err(DocumentError {
                source_name: source.to_string(),
                index,
                line: Some(first_line),
                message: format!("document nests deeper than {MAX_DEPTH} levels"),
            });
        }
        if value.get("kind").and_then(Value::as_str) == Some("List")
            && let Some(items) = value.get("items").and_then(Value::as_array)
        {
            for item in items {
                docs.push(Document {
                    source: source.to_string(),
                    index,
                    first_line,
                    text: chunk.clone(),
                    value: item.clone(),
                });
            }
            continue;
        }
        docs.push(Document { source: source.to_string(), index, first_line, text: chunk, value });
    }
    Ok(docs)
}

impl Document {
    /// Deserializes the document into a typed model, reporting unknown fields and type
    /// errors with the source, document index, field path and line.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, DocumentError> {
        let de = serde_json::Value::clone(&self.value);
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            DocumentError {
                source_name: self.source.clone(),
                index: self.index,
                line: self.line_of_path(&path),
                message: if path.is_empty() || path == "." { message } else { format!("at {path}: {message}") },
            }
        })
    }

    /// Error for this document at `path` (a dotted field path), with its best-known line.
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> DocumentError {
        DocumentError {
            source_name: self.source.clone(),
            index: self.index,
            line: self.line_of_path(path),
            message: if path.is_empty() { message.into() } else { format!("at {path}: {}", message.into()) },
        }
    }

    /// Best-effort line of a dotted field path (`spec.rules[0].match`) in the document text:
    /// walks the path's keys in order through the text. Falls back to the document's first line.
    pub fn line_of_path(&self, path: &str) -> Option<usize> {
        let keys: Vec<&str> = path
            .split(['.', '['])
            .filter_map(|seg| {
                let seg = seg.trim_end_matches(']');
                (!seg.is_empty() && !seg.chars().all(|c| c.is_ascii_digit())).then_some(seg)
            })
            .collect();
        let mut line_no = 0usize;
        let lines: Vec<&str> = self.text.lines().collect();
        for key in keys {
            let found = lines.iter().enumerate().skip(line_no).find(|(_, l)| {
                let t = l.trim_start().trim_start_matches("- ").trim_start();
                let t = t.trim_start_matches(['"', '\'']);
                t.starts_with(key) && t[key.len()..].trim_start_matches(['"', '\'']).starts_with(':')
            });
            match found {
                Some((i, _)) => line_no = i,
                None => break,
            }
        }
        Some(self.first_line + line_no)
    }
}

/// Splits on `---` document markers, returning each chunk with its one-based first line.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let is_marker = line.starts_with("---") && {
            let rest = line[3..].trim();
            rest.is_empty() || rest.starts_with('#')
        };
        if is_marker {
            chunks.push((start, std::mem::take(&mut current)));
            start = i + 2;
            continue;
        }
        if line.starts_with("...") && line[3..].trim().is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    chunks.push((start, current));
    chunks
}

fn first_line_of(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}

/// Nesting depth of a JSON value (scalars have depth 0).
pub fn depth(value: &Value) -> usize {
    // Iterative, so hostile input cannot overflow the stack.
    let mut max = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_tracks_lines() {
        let text = "a: 1\n---\n# only a comment\n---\nb: 2\nc: [1, 2]\n";
        let docs = parse_documents("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].first_line, 5);
        assert_eq!(docs[1].value["c"][1], 2);
    }

    #[test]
    fn yaml_errors_name_source_document_and_line() {
        let err = parse_documents("bad.yaml", "a: 1\n---\nb: [1,\n  c: d: e\n").unwrap_err();
        assert_eq!(err.source_name, "bad.yaml");
        assert_eq!(err.index, 1);
        assert!(err.line.unwrap() >= 3, "{err}");
    }

    #[test]
    fn json_and_lists_are_accepted() {
        let docs = parse_documents("l.json", r#"{"kind":"List","items":[{"kind":"Pod"},{"kind":"Service"}]}"#).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].value["kind"], "Service");
    }

    #[test]
    fn line_of_path_walks_keys() {
        let docs = parse_documents("p.yaml", "spec:\n  rules:\n  - name: x\n    mtch: {}\n").unwrap();
        assert_eq!(docs[0].line_of_path("spec.rules[0].mtch"), Some(4));
    }
}
