//! Palisade cluster mode: the pure parts of running inside a cluster.
//!
//! - [`crds`]: the CustomResourceDefinitions Palisade serves (`kyverno.io` ClusterPolicy and Policy,
//!   `palisade.dev` RuntimeClassPolicy), printable as YAML for `palisade crds`.
//! - [`webhooks`]: the MutatingWebhookConfiguration and ValidatingWebhookConfiguration computed from a
//!   loaded [`palisade_engine::PolicySet`], for self-registration.
//! - [`resources`]: the static table that maps built-in kinds to API groups and resources.
//!
//! Nothing here performs I/O; the objects are plain `serde_json` values ready to send to the API server.

pub mod catalog;
pub mod cluster;
pub mod crds;
pub mod resources;
pub mod webhooks;

pub use crds::{crds, crds_yaml};
pub use webhooks::{WebhookOptions, WebhookPlan, WebhookTarget, webhook_configurations};

/// Serializes objects as one multi-document YAML stream (each document starts with `---`).
pub fn to_yaml(objects: &[serde_json::Value]) -> String {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        // A `serde_json::Value` tree has only string keys and plain scalars, so this cannot fail in practice.
        match serde_saphyr::to_string(object) {
            Ok(yaml) => out.push_str(&yaml),
            Err(e) => out.push_str(&format!("# cannot serialize {}: {e}\n", object["metadata"]["name"])),
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
