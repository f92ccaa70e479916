//! The part that talks to the API server (with `kube`): watching the policy CRDs into a [`Catalog`], publishing
//! each new [`PolicySet`], writing policy status, and applying the webhook configurations.
//!
//! Writes happen only on the leader: [`Leader`] holds a `coordination.k8s.io` Lease and gives the flag that
//! [`WatchConfig::leader`] reads (every replica keeps serving admission).

mod api_call;
mod ca_sync;
mod cache;
mod leader;
mod service_call;
mod shutdown;
mod status;
mod watch;

pub use api_call::{ApiCallLimits, ApiCalls, ClusterContext};
pub use ca_sync::{CaSync, Reload, keep_serving_ca};
pub use cache::WatchedCluster;
pub use leader::{Leader, LeaseTiming};
pub use shutdown::{no_replica_will_serve, relax_if_last_replica};
pub use status::status_is_current;
pub use watch::watch_policies;

use crate::webhooks::{WebhookOptions, WebhookTarget};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use palisade_engine::PolicySet;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Field manager name for writes.
pub const FIELD_MANAGER: &str = "palisade";

/// A failure talking to the API server.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// An API call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The client error.
        source: Box<kube::Error>,
    },
    /// Joining the leader election failed.
    #[error("leader election: {0}")]
    Lease(String),
    /// A configuration object without `metadata.name`.
    #[error("{0} has no metadata.name")]
    NoName(&'static str),
}

fn api_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Api { what, source: Box::new(source) }
}

/// A client from `kubeconfig` (a path), or the usual inference (`$KUBECONFIG`, `~/.kube/config`, in-cluster).
pub async fn client(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client, ClusterError> {
    let config = match kubeconfig {
        Some(path) => {
            let named = |e: &dyn std::fmt::Display| ClusterError::Config(format!("{}: {e}", path.display()));
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| named(&e))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| named(&e))?
        }
        None => kube::Config::infer().await.map_err(|e| ClusterError::Config(e.to_string()))?,
    };
    kube::Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))
}

/// A client with the service account credentials of the pod Palisade runs in.
pub fn in_cluster_client() -> Result<kube::Client, ClusterError> {
    let config =
        kube::Config::incluster().map_err(|e| ClusterError::Config(format!("in-cluster configuration: {e}")))?;
    kube::Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))
}

/// The watched kinds: (group, version, kind, plural).
const KINDS: [(&str, &str, &str, &str); 3] = [
    ("kyverno.io", "v1", "ClusterPolicy", "clusterpolicies"),
    ("kyverno.io", "v1", "Policy", "policies"),
    ("palisade.dev", "v1alpha1", "RuntimeClassPolicy", "runtimeclasspolicies"),
];

fn resource(index: usize) -> ApiResource {
    let (group, version, kind, plural) = KINDS[index];
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// Receives every new policy set (after each change that compiled or removed something).
pub type Publish = Arc<dyn Fn(Arc<PolicySet>) + Send + Sync>;

/// The PEM the webhooks' `caBundle` is set to, shared by whoever keeps the serving CA and the watch that
/// registers the webhooks; each change bumps a generation, and the watch records the generation it applied.
#[derive(Debug, Clone, Default)]
pub struct CaBundle(Arc<CaBundleInner>);

#[derive(Debug, Default)]
struct CaBundleInner {
    pem: std::sync::RwLock<(u64, Vec<u8>)>,
    applied: std::sync::atomic::AtomicU64,
}

impl CaBundle {
    /// A bundle holding `pem` (empty: not known yet, nothing is registered until it is set).
    pub fn new(pem: Vec<u8>) -> Self {
        let bundle = Self::default();
        bundle.set(pem);
        bundle
    }

    /// `(generation, PEM)`.
    pub fn get(&self) -> (u64, Vec<u8>) {
        self.0.pem.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the PEM; returns the generation holding it (unchanged when the PEM is the same).
    pub fn set(&self, pem: Vec<u8>) -> u64 {
        let mut current = self.0.pem.write().unwrap_or_else(|p| p.into_inner());
        if current.1 != pem {
            *current = (current.0 + 1, pem);
        }
        current.0
    }

    /// The generation the registered webhook configurations carry.
    pub fn applied(&self) -> u64 {
        self.0.applied.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn mark_applied(&self, generation: u64) {
        self.0.applied.store(generation, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a PEM is known that the registered configurations do not carry yet.
    fn pending(&self) -> bool {
        let (generation, pem) = self.get();
        !pem.is_empty() && self.applied() != generation
    }
}

/// How the leader registers the webhooks: the CA that signed the serving certificate, where the API server
/// should call, and the computation's options.
#[derive(Debug, Clone)]
pub struct Registration {
    /// PEM of the CA (becomes `caBundle`); the webhooks are re-registered when it changes.
    pub ca_bundle: CaBundle,
    /// Where the API server sends reviews.
    pub target: WebhookTarget,
    /// Names, namespaces, timeout, operations, kind table.
    pub options: WebhookOptions,
}

/// What [`watch_policies`] does with what it compiles.
#[derive(Clone)]
pub struct WatchConfig {
    /// Called with every new set.
    pub publish: Publish,
    /// True on the replica that holds the Lease: only it writes status and webhook configurations.
    pub leader: Arc<AtomicBool>,
    /// When set, the leader keeps the webhook configurations following the policies.
    pub registration: Option<Registration>,
}

/// Turns every webhook of the configurations named `name` to `failurePolicy: Ignore` (uninstall, last replica
/// stopping): Palisade being down then cannot block the cluster. Returns how many configurations were relaxed
/// (missing ones are skipped).
pub async fn relax_webhooks(client: &kube::Client, name: &str) -> Result<usize, ClusterError> {
    let mut relaxed = 0;
    for (kind, plural) in CONFIGURATION_KINDS {
        let api = configuration_api(client, kind, plural);
        let Some(live) = api.get_opt(name).await.map_err(api_error(format!("reading {kind} {name}")))? else {
            continue;
        };
        let mut value = serde_json::to_value(&live).unwrap_or(Value::Null);
        crate::webhooks::relax(&mut value);
        let patch = serde_json::json!({"webhooks": value.get("webhooks").cloned().unwrap_or(Value::Null)});
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        api.patch(name, &params, &Patch::Merge(&patch)).await.map_err(api_error(format!("relaxing {kind} {name}")))?;
        relaxed += 1;
    }
    Ok(relaxed)
}

/// Deletes the webhook configurations named `name` (uninstall); returns how many existed.
pub async fn delete_webhooks(client: &kube::Client, name: &str) -> Result<usize, ClusterError> {
    let mut deleted = 0;
    for (kind, plural) in CONFIGURATION_KINDS {
        let api = configuration_api(client, kind, plural);
        match api.delete(name, &kube::api::DeleteParams::default()).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(api_error(format!("deleting {kind} {name}"))(e)),
        }
    }
    Ok(deleted)
}

const CONFIGURATION_KINDS: [(&str, &str); 2] = [
    ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
];

fn configuration_api(client: &kube::Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", kind);
    Api::all_with(client.clone(), &ApiResource::from_gvk_with_plural(&gvk, plural))
}

/// Creates both webhook configurations, or replaces the `webhooks` list (and labels) of existing ones with a merge
/// patch, so webhooks written by anyone else (a stale configuration, a manual edit) are dropped too; server-side
/// apply would keep entries other field managers own.
pub async fn apply_webhooks(client: &kube::Client, mutating: &Value, validating: &Value) -> Result<(), ClusterError> {
    for ((kind, plural), object) in CONFIGURATION_KINDS.into_iter().zip([mutating, validating]) {
        let api = configuration_api(client, kind, plural);
        let name = object.pointer("/metadata/name").and_then(Value::as_str).ok_or(ClusterError::NoName(kind))?;
        let exists = api.get_opt(name).await.map_err(api_error(format!("reading {kind} {name}")))?.is_some();
        if !exists {
            let new: DynamicObject =
                serde_json::from_value(object.clone()).map_err(|e| ClusterError::Config(e.to_string()))?;
            match api
                .create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() }, &new)
                .await
            {
                Ok(_) => continue,
                // Created concurrently: fall through to the patch.
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(e) => return Err(api_error(format!("creating {kind} {name}"))(e)),
            }
        }
        let patch = serde_json::json!({
            "metadata": {"labels": object.pointer("/metadata/labels").cloned().unwrap_or(Value::Null)},
            "webhooks": object.get("webhooks").cloned().unwrap_or_else(|| Value::Array(Vec::new())),
        });
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        api.patch(name, &params, &Patch::Merge(&patch)).await.map_err(api_error(format!("updating {kind} {name}")))?;
    }
    Ok(())
}
