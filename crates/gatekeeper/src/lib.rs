//! Gatekeeper ConstraintTemplates and Constraints for Palisade: Rego (regorus) and CEL
//! (`K8sNativeValidation`, kube-cel) templates, Gatekeeper's match and enforcement semantics,
//! and a `gator verify`-compatible suite runner.

pub mod cel;
pub mod error;
pub mod prepass;
pub mod rego;
pub mod schema;
pub mod template;
