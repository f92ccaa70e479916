//! Palisade's engine core: the admission request model every policy language reads,
//! the result model every policy language writes, Kubernetes-style matching helpers,
//! manifest loading with precise error positions, and the [`PolicySet`] registry that
//! the CLI, webhook server and controller share.
//!
//! This crate does no I/O and has no async code: callers hand it text and values.

pub mod api_call;
pub mod document;
pub mod field;
pub mod json_eq;
pub mod patch;
pub mod registry;
pub mod request;
pub mod result;
pub mod selector;
pub mod text;
pub mod units;
pub mod wildcard;

pub use api_call::ApiCallRequest;
pub use document::{Document, DocumentError, parse_documents};
pub use registry::{
    AdmissionPolicy, ClusterData, EvaluationContext, FailurePolicy, Messages, MutationOutcome, PolicyRole, PolicySet,
    RequestMemo, SetEvaluation, StaticCluster,
};
pub use request::{AdmissionRequest, GroupVersionKind, GroupVersionResource, Operation, UserInfo};
pub use result::{FailureAction, RuleKind, RuleResult, RuleStatus};
pub use text::Text;
