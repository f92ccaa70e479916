//! Check results with Kubernetes-style field errors, and Kyverno's rendering of them
//! (`FormatChecksPrint`, with the controller path rewriting of `convertChecks`).

use super::view::{ContainerKind, Holder};
use std::fmt::Write;

/// The bad value attached to a field error, as the Go checks attach it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum BadValue {
    /// No value (Go's empty string).
    None,
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A sorted list of strings (Go `[]string`).
    List(Vec<String>),
}

/// The type of a field error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorType {
    /// `field.Required`.
    Required,
    /// `field.Forbidden`.
    Forbidden,
}

/// One field error of a failed check.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FieldError {
    /// Error type.
    pub ty: ErrorType,
    /// Path of the field in the pod (`spec.containers[0].securityContext.privileged`).
    pub field: String,
    /// The offending value.
    pub bad: BadValue,
}

/// A `Forbidden` error at `field` with `bad`.
pub(super) fn forbidden(field: String, bad: BadValue) -> FieldError {
    FieldError { ty: ErrorType::Forbidden, field, bad }
}

/// A `Required` error at `field`.
pub(super) fn required(field: String) -> FieldError {
    FieldError { ty: ErrorType::Required, field, bad: BadValue::None }
}

/// The path of `suffix` inside the container at `index` of list `kind`.
pub(super) fn container_path(kind: ContainerKind, index: usize, suffix: &str) -> String {
    format!("spec.{}[{index}].{suffix}", kind.field())
}

/// What one check reports when it forbids the pod.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Violation {
    /// Kubernetes' `ForbiddenReason`.
    pub reason: &'static str,
    /// Field errors, in the order the check produced them.
    pub errors: Vec<FieldError>,
}

/// The failures of one run, in check order.
pub(super) type FailureSet = Vec<Failure>;

/// A violation tagged with the check that produced it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Failure {
    /// Index of the check in the registry.
    pub check: usize,
    /// The violation.
    pub violation: Violation,
}

impl FieldError {
    /// Kyverno's `extractBadValues`: the values an exclusion's `values` must all match.
    pub(super) fn bad_values(&self) -> Vec<String> {
        match &self.bad {
            BadValue::None => Vec::new(),
            BadValue::Str(s) if s.is_empty() => Vec::new(),
            BadValue::Str(s) => vec![s.clone()],
            BadValue::Bool(b) => vec![b.to_string()],
            BadValue::Int(i) => vec![i.to_string()],
            BadValue::List(items) => items.clone(),
        }
    }

    /// Whether Kyverno prints the bad value (anything but an empty string).
    fn has_bad_value(&self) -> bool {
        !matches!(&self.bad, BadValue::None) && !matches!(&self.bad, BadValue::Str(s) if s.is_empty())
    }

    /// Writes the error as `FormatChecksPrint` does, with `field` already rewritten.
    fn write(&self, field: &str, out: &mut String) {
        match self.ty {
            ErrorType::Forbidden if self.has_bad_value() => {
                let _ = write!(out, "{field} is forbidden, forbidden values found: ");
                write_go_value(&self.bad, out);
            }
            ErrorType::Forbidden => {
                let _ = write!(out, "{field}: Forbidden");
            }
            ErrorType::Required => {
                let _ = write!(out, "{field}: Required value");
            }
        }
    }
}

/// Go's `%+v` of the bad value.
fn write_go_value(value: &BadValue, out: &mut String) {
    match value {
        BadValue::None => {}
        BadValue::Str(s) => out.push_str(s),
        BadValue::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        BadValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        BadValue::List(items) => {
            out.push('[');
            out.push_str(&items.join(" "));
            out.push(']');
        }
    }
}

/// Kyverno's `convertChecks`: error paths of controllers point into their pod template, and
/// every `metadata` becomes `spec.template.metadata` (for every kind, as upstream does).
pub(super) fn convert_field(field: &str, holder: Holder) -> String {
    let field = match holder {
        Holder::Pod => field.to_string(),
        Holder::Template => field.replace("spec", "spec.template.spec"),
        Holder::CronJob => field.replace("spec", "spec.jobTemplate.spec.template.spec"),
    };
    field.replace("metadata", "spec.template.metadata")
}

/// Kyverno's `FormatChecksPrint` over `failures`.
pub(super) fn format_checks(failures: &[Failure], holder: Holder) -> String {
    let mut out = String::new();
    for failure in failures {
        let _ = write!(out, "(Forbidden reason: {}, field error list: [", failure.violation.reason);
        for (i, error) in failure.violation.errors.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            error.write(&convert_field(&error.field, holder), &mut out);
        }
        out.push_str("])");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_format_checks_print() {
        let failures = vec![
            Failure {
                check: 0,
                violation: Violation {
                    reason: "allowPrivilegeEscalation != false",
                    errors: vec![forbidden(
                        "spec.containers[0].securityContext.allowPrivilegeEscalation".into(),
                        BadValue::Str("nil".into()),
                    )],
                },
            },
            Failure {
                check: 1,
                violation: Violation {
                    reason: "unrestricted capabilities",
                    errors: vec![
                        required("spec.containers[0].securityContext.capabilities.drop".into()),
                        forbidden(
                            "spec.containers[1].securityContext.capabilities.add".into(),
                            BadValue::List(vec!["NET_ADMIN".into(), "SYS_TIME".into()]),
                        ),
                        forbidden("spec.volumes[0].hostPath".into(), BadValue::None),
                    ],
                },
            },
        ];
        assert_eq!(
            format_checks(&failures, Holder::Pod),
            "(Forbidden reason: allowPrivilegeEscalation != false, field error list: \
             [spec.containers[0].securityContext.allowPrivilegeEscalation is forbidden, forbidden values found: nil])\
             (Forbidden reason: unrestricted capabilities, field error list: \
             [spec.containers[0].securityContext.capabilities.drop: Required value, \
             spec.containers[1].securityContext.capabilities.add is forbidden, forbidden values found: [NET_ADMIN SYS_TIME], \
             spec.volumes[0].hostPath: Forbidden])"
        );
    }

    #[test]
    fn rewrites_controller_paths() {
        let cases = [
            ("spec.hostIPC", Holder::Pod, "spec.hostIPC"),
            ("spec.hostIPC", Holder::Template, "spec.template.spec.hostIPC"),
            ("spec.hostIPC", Holder::CronJob, "spec.jobTemplate.spec.template.spec.hostIPC"),
            ("metadata.annotations[a]", Holder::Pod, "spec.template.metadata.annotations[a]"),
            ("metadata.annotations[a]", Holder::CronJob, "spec.template.metadata.annotations[a]"),
        ];
        for (field, holder, want) in cases {
            assert_eq!(convert_field(field, holder), want, "{field} {holder:?}");
        }
    }

    #[test]
    fn bad_values_follow_extract_bad_values() {
        assert!(forbidden("x".into(), BadValue::Str(String::new())).bad_values().is_empty());
        assert_eq!(forbidden("x".into(), BadValue::Bool(true)).bad_values(), ["true"]);
        assert_eq!(forbidden("x".into(), BadValue::Int(80)).bad_values(), ["80"]);
        assert_eq!(forbidden("x".into(), BadValue::List(vec!["A".into(), "B".into()])).bad_values(), ["A", "B"]);
        assert!(required("x".into()).bad_values().is_empty());
    }
}
