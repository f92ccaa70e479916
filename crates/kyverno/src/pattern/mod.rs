//! Kyverno validate patterns: anchors, string operators and comparisons.
