//! Kyverno policies (work in progress).
