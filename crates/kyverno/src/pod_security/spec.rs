//! Parsing and validation of the `validate.podSecurity` block: `level`, `version` and
//! `exclude` entries, with Kyverno's policy-validation rules for exclusions.

use super::checks::{Control, Scope, control};
use palisade_engine::wildcard::Wildcard;
use serde_json::{Map, Value};

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// No restriction.
    Privileged,
    /// Baseline checks.
    Baseline,
    /// Baseline and restricted checks.
    Restricted,
}

/// The version of the standards the checks follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The newest definition of every check (`latest` or no version).
    Latest,
    /// `v1.<minor>`: every check revision introduced at or before that version.
    Pinned(u32),
}

/// Why a `podSecurity` block does not compile; every message starts with the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The block is not a mapping.
    #[error("podSecurity: must be an object")]
    NotObject,
    /// A field Kyverno does not define.
    #[error("{0}: unknown field")]
    UnknownField(String),
    /// A field of the wrong type.
    #[error("{field}: must be {expected}")]
    Type {
        /// Field path.
        field: String,
        /// Expected type.
        expected: &'static str,
    },
    /// No `level`.
    #[error("level: required (privileged, baseline or restricted)")]
    MissingLevel,
    /// An unknown `level`.
    #[error("level: unsupported value {0:?} (expected privileged, baseline or restricted)")]
    Level(String),
    /// An unknown `version`.
    #[error("version: unsupported value {0:?} (expected latest or v1.<minor>)")]
    Version(String),
    /// An unknown `exclude[].controlName`.
    #[error("exclude[{index}].controlName: unknown control {name:?}")]
    UnknownControl {
        /// Index in `exclude`.
        index: usize,
        /// The name given.
        name: String,
    },
    /// An exclusion Kyverno's policy validation rejects.
    #[error("exclude[{index}].{field}: {message}")]
    Exclusion {
        /// Index in `exclude`.
        index: usize,
        /// Field within the entry.
        field: &'static str,
        /// Kyverno's message.
        message: &'static str,
    },
}

/// One compiled `exclude` entry.
#[derive(Debug)]
pub(super) struct Exclusion {
    /// The control it exempts.
    pub control: &'static Control,
    /// Image patterns selecting containers; empty for a pod-level exclusion.
    pub images: Vec<Wildcard>,
    /// The restricted field (with `[*]`), or empty for all fields of the control.
    pub restricted_field: String,
    /// Value patterns every offending value must match; empty for any value.
    pub values: Vec<Wildcard>,
}

/// The parsed block.
#[derive(Debug)]
pub(super) struct Parsed {
    pub level: Level,
    pub level_text: String,
    pub version: Version,
    pub version_text: String,
    pub excludes: Vec<Exclusion>,
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, CompileError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(CompileError::Type { field: key.to_string(), expected: "a string" }),
    }
}

/// Parses the level name.
pub(super) fn parse_level(name: &str) -> Result<Level, CompileError> {
    match name {
        "privileged" => Ok(Level::Privileged),
        "baseline" => Ok(Level::Baseline),
        "restricted" => Ok(Level::Restricted),
        other => Err(CompileError::Level(other.to_string())),
    }
}

/// Parses `latest`, empty, or `v1.<minor>` as Kubernetes' `api.ParseVersion` does.
pub(super) fn parse_version(text: &str) -> Result<Version, CompileError> {
    if text.is_empty() || text == "latest" {
        return Ok(Version::Latest);
    }
    let minor = text.strip_prefix("v1.").filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    match minor {
        Some(m) if m == "0" || !m.starts_with('0') => {
            m.parse().map(Version::Pinned).map_err(|_| CompileError::Version(text.to_string()))
        }
        _ => Err(CompileError::Version(text.to_string())),
    }
}

fn strings(entry: &Map<String, Value>, key: &str, index: usize) -> Result<Vec<String>, CompileError> {
    let bad = || CompileError::Type { field: format!("exclude[{index}].{key}"), expected: "a list of strings" };
    match entry.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(bad)).collect::<Result<_, _>>()
        }
        Some(_) => Err(bad()),
    }
}

const EXCLUDE_FIELDS: [&str; 4] = ["controlName", "images", "restrictedField", "values"];

fn parse_exclusion(value: &Value, index: usize, level: Level) -> Result<Exclusion, CompileError> {
    let entry = value
        .as_object()
        .ok_or_else(|| CompileError::Type { field: format!("exclude[{index}]"), expected: "an object" })?;
    if let Some(other) = entry.keys().find(|k| !EXCLUDE_FIELDS.contains(&k.as_str())) {
        return Err(CompileError::UnknownField(format!("exclude[{index}].{other}")));
    }
    let name = match entry.get("controlName") {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => {
            return Err(CompileError::Type { field: format!("exclude[{index}].controlName"), expected: "a string" });
        }
        Some(_) => {
            return Err(CompileError::Type { field: format!("exclude[{index}].controlName"), expected: "a string" });
        }
    };
    let control = control(name).ok_or_else(|| CompileError::UnknownControl { index, name: name.to_string() })?;
    let images = strings(entry, "images", index)?;
    let values = strings(entry, "values", index)?;
    let restricted_field = match entry.get("restrictedField") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(CompileError::Type {
                field: format!("exclude[{index}].restrictedField"),
                expected: "a string",
            });
        }
    };
    let invalid = |field, message| CompileError::Exclusion { index, field, message };
    match control.scope {
        Scope::Container if images.is_empty() => {
            return Err(invalid("controlName", "exclude.images must be specified for the container level control"));
        }
        Scope::Pod if !images.is_empty() => {
            return Err(invalid("controlName", "exclude.images must not be specified for the pod level control"));
        }
        _ => {}
    }
    if !restricted_field.is_empty() && values.is_empty() {
        return Err(invalid("values", "values is required"));
    }
    if restricted_field.is_empty() && !values.is_empty() {
        return Err(invalid("restrictedField", "restrictedField is required"));
    }
    if level == Level::Baseline && control.restricted_only {
        return Err(invalid("controlName", "Invalid control name defined at the given level"));
    }
    Ok(Exclusion {
        control,
        images: images.iter().map(|p| Wildcard::new(p)).collect(),
        restricted_field,
        values: values.iter().map(|p| Wildcard::new(p)).collect(),
    })
}

/// Parses and validates a `podSecurity` block.
pub(super) fn parse(block: &Value) -> Result<Parsed, CompileError> {
    let map = block.as_object().ok_or(CompileError::NotObject)?;
    if let Some(other) = map.keys().find(|k| !["level", "version", "exclude"].contains(&k.as_str())) {
        return Err(CompileError::UnknownField(other.clone()));
    }
    let level_text = text(map, "level")?.ok_or(CompileError::MissingLevel)?;
    let level = parse_level(level_text)?;
    let version_text = text(map, "version")?.unwrap_or("");
    let version = parse_version(version_text)?;
    let excludes = match map.get("exclude") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().enumerate().map(|(i, v)| parse_exclusion(v, i, level)).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(CompileError::Type { field: "exclude".into(), expected: "a list" }),
    };
    Ok(Parsed { level, level_text: level_text.to_string(), version, version_text: version_text.to_string(), excludes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions() {
        let cases = [
            ("", Ok(Version::Latest)),
            ("latest", Ok(Version::Latest)),
            ("v1.19", Ok(Version::Pinned(19))),
            ("v1.0", Ok(Version::Pinned(0))),
            ("v1.35", Ok(Version::Pinned(35))),
            ("v1.019", Err(())),
            ("v2.1", Err(())),
            ("1.25", Err(())),
            ("v1.", Err(())),
            ("Latest", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_version(text).map_err(|_| ()), want, "{text}");
        }
    }

    #[test]
    fn rejects_invalid_blocks_naming_the_field() {
        let cases = [
            (json!("baseline"), "podSecurity: must be an object"),
            (json!({"version": "latest"}), "level: required"),
            (json!({"level": "strict"}), "level: unsupported value \"strict\""),
            (json!({"level": "baseline", "version": "1.25"}), "version: unsupported value \"1.25\""),
            (json!({"level": "baseline", "extra": 1}), "extra: unknown field"),
            (json!({"level": "baseline", "exclude": {}}), "exclude: must be a list"),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Nope"}]}),
                "exclude[0].controlName: unknown control",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Sysctls", "x": 1}]}),
                "exclude[0].x: unknown field",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Host Ports"}]}),
                "exclude[0].controlName: exclude.images must be specified for the container level control",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Sysctls", "images": ["*"]}]}),
                "exclude[0].controlName: exclude.images must not be specified for the pod level control",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Sysctls", "restrictedField": "x"}]}),
                "exclude[0].values: values is required",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Sysctls", "values": ["x"]}]}),
                "exclude[0].restrictedField: restrictedField is required",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Volume Types"}]}),
                "exclude[0].controlName: Invalid control name defined at the given level",
            ),
            (
                json!({"level": "baseline", "exclude": [{"controlName": "Seccomp", "images": [1]}]}),
                "exclude[0].images: must be a list of strings",
            ),
        ];
        for (block, want) in cases {
            let err = parse(&block).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.starts_with(want), "{block}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn accepts_valid_exclusions() {
        let block = json!({"level": "restricted", "version": "v1.24", "exclude": [
            {"controlName": "Capabilities", "images": ["nginx*"], "restrictedField": "spec.containers[*].securityContext.capabilities.add", "values": ["NET_*"]},
            {"controlName": "Seccomp"},
            {"controlName": "Volume Types"},
        ]});
        let parsed = parse(&block).expect("valid");
        assert_eq!(parsed.level, Level::Restricted);
        assert_eq!(parsed.version, Version::Pinned(24));
        assert_eq!(parsed.excludes.len(), 3);
        assert_eq!(parsed.excludes[0].control.name, "Capabilities");
        assert!(parsed.excludes[0].values[0].matches("NET_RAW"));
    }
}
