//! Palisade cluster mode: served CRDs, webhook configurations, the policy watch and `palisade serve` against a cluster.
//!
//! - [`crds`]: the CustomResourceDefinitions Palisade serves (`kyverno.io` ClusterPolicy and Policy,
//!   `palisade.dev` RuntimeClassPolicy), printable as YAML for `palisade crds`.
//! - [`webhooks`]: the MutatingWebhookConfiguration and ValidatingWebhookConfiguration computed from a
//!   loaded [`palisade_engine::PolicySet`], for self-registration.
//! - [`resources`]: the static table that maps built-in kinds to API groups and resources.
//! - [`catalog`]: compiled policy objects with their `status`.
//! - [`cluster`]: the parts that talk to the API server (watch, caches, leader election, registration).
//! - [`serving_ca`]: the serving CA and certificate kept in a Secret, rotated before expiry.
//! - [`serve`]: `palisade serve --kubeconfig`/`--in-cluster`, the webhook server fed by [`cluster`].
//!
//! - [`uninstall`]: `palisade uninstall`, relaxing or deleting the registered webhook configurations.
//!
//! Only [`cluster`], [`serve`] and [`uninstall`] perform I/O; the rest computes plain `serde_json` values.

pub mod catalog;
pub mod cluster;
pub mod crds;
pub mod resources;
pub mod serve;
pub mod serving_ca;
pub mod uninstall;
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
