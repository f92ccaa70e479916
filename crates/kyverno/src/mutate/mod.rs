//! Kyverno mutations: strategic merge patches with anchors, JSON6902 patches, JSON Patch diffs.
