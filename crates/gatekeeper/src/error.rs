//! Errors raised while loading templates and constraints and while evaluating them.

/// Why a ConstraintTemplate could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A required field is missing or has the wrong type.
    #[error("template {template}: {message}")]
    Invalid {
        /// Template name.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// The Rego source did not parse or compile.
    #[error("template {template}: rego: {message}")]
    Rego {
        /// Template name.
        template: String,
        /// Compiler message.
        message: String,
    },
    /// A CEL expression did not parse.
    #[error("template {template}: cel expression {expression:?}: {message}")]
    Cel {
        /// Template name.
        template: String,
        /// The failing expression.
        expression: String,
        /// Parser message.
        message: String,
    },
}

/// Why a Constraint could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// No template defines the constraint's kind.
    #[error("constraint {name}: no ConstraintTemplate defines kind {kind}")]
    UnknownKind {
        /// Constraint name.
        name: String,
        /// Constraint kind.
        kind: String,
    },
    /// A field of the constraint is malformed.
    #[error("constraint {name}: {message}")]
    Invalid {
        /// Constraint name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The parameters do not satisfy the template's schema.
    #[error("constraint {name}: parameters do not match the template schema: {message}")]
    Schema {
        /// Constraint name.
        name: String,
        /// First schema violation found.
        message: String,
    },
}

/// Why evaluating a constraint against a review failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The Rego engine raised an error (builtin error, conflict, time limit).
    #[error("rego evaluation failed: {0}")]
    Rego(String),
    /// The review could not be converted for the engine.
    #[error("invalid review: {0}")]
    Review(String),
}
