//! Kyverno `ClusterPolicy`/`Policy` support for Palisade: policy model, compilation and
//! evaluation (match/exclude, variables, conditions, validate, mutate, generate, autogen).

pub mod mutate;
pub mod pattern;
