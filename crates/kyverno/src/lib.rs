//! Kyverno `ClusterPolicy`/`Policy` support for Palisade: policy model, compilation and
//! evaluation (match/exclude, variables, conditions, validate, mutate, generate, autogen).

pub mod api_call;
pub mod autogen;
pub mod compare;
pub mod conditions;
pub mod context;
pub mod foreach;
pub mod generate_rule;
pub mod load;
pub mod matching;
pub mod model;
pub mod mutate;
pub mod mutate_rule;
pub mod pattern;
pub mod pod_security;
pub mod policy;
pub mod request_document;
mod rule_index;
#[cfg(test)]
pub(crate) mod test_suite;
pub mod validate;
pub mod variables;
pub mod vars;

pub use load::{LoadError, load_policies};
pub use policy::{KyvernoPolicy, StaticValues, ValueSource};
