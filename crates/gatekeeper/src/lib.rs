//! Gatekeeper ConstraintTemplates and Constraints for Palisade: Rego (regorus) and CEL
//! (`K8sNativeValidation`, kube-cel) templates, Gatekeeper's match and enforcement semantics,
//! and a `gator verify`-compatible suite runner.

mod bytecode;
pub mod cel;
pub mod constraint;
pub mod error;
pub mod policy;
pub mod prepass;
pub mod rego;
pub mod review;
pub mod schema;
pub mod template;

pub use constraint::{Action, ConstraintSpec, Enforcement};
pub use error::{ConstraintError, EvalError, TemplateError};
pub use policy::{CompileOptions, CompiledConstraint, CompiledTemplate, compile, compile_with};
pub use rego::{RegoEngine, Violation};
pub use review::{Inventory, Review};
pub use template::{EnginePreference, TemplateSpec};
pub mod report;
pub mod suite;
