//! JMESPath with Kyverno's custom functions (work in progress).
