//! The part that talks to the API server (with `kube`): watching the policy CRDs into a [`Catalog`], publishing
//! each new [`PolicySet`], writing policy status, and applying the webhook configurations.
//!
//! Writes happen only on the leader: [`Leader`] holds a `coordination.k8s.io` Lease and gives the flag that
//! [`WatchConfig::leader`] reads (every replica keeps serving admission).

mod cache;
mod leader;
mod status;

pub use cache::WatchedCluster;
pub use leader::{Leader, LeaseTiming};
pub use status::status_is_current;

use crate::catalog::{Catalog, PolicyKey};
use crate::webhooks::{WebhookOptions, WebhookTarget, plan};
use futures::{StreamExt, stream};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use palisade_engine::PolicySet;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| ClusterError::Config(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))?
        }
        None => kube::Config::infer().await.map_err(|e| ClusterError::Config(e.to_string()))?,
    };
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

/// How the leader registers the webhooks: the CA that signed the serving certificate, where the API server
/// should call, and the computation's options.
#[derive(Debug, Clone)]
pub struct Registration {
    /// PEM of the CA (becomes `caBundle`).
    pub ca_bundle: Vec<u8>,
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

/// Watches ClusterPolicy, Policy and RuntimeClassPolicy until the task is dropped (errors are retried with backoff
/// and logged). Once every kind has been listed (or has failed to list, e.g. a CRD that is not installed), each
/// change is compiled into the catalog and the combined set is published; while `leader` is true, each object's
/// `status` is patched when its `Ready` condition changed, and the webhook configurations are re-applied when the
/// computed ones changed.
pub async fn watch_policies(client: kube::Client, config: WatchConfig) {
    let streams = (0..KINDS.len()).map(|i| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource(i));
        watcher(api, watcher::Config::default()).default_backoff().map(move |event| (i, event)).boxed()
    });
    let mut events = stream::select_all(streams);
    let mut catalogs: Vec<Catalog> = vec![Catalog::new(); KINDS.len()];
    let mut buffers: Vec<Vec<Value>> = vec![Vec::new(); KINDS.len()];
    let mut listed = [false; KINDS.len()];
    let mut applied: Option<(Value, Value)> = None;
    while let Some((i, event)) = events.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                if !listed[i] {
                    listed[i] = true;
                    tracing::warn!(kind = KINDS[i].2, "serving without this kind until its watch succeeds");
                }
                tracing::warn!(kind = KINDS[i].2, error = %e, "policy watch failed; retrying with backoff");
                continue;
            }
        };
        let touched: Vec<(PolicyKey, Value)> = match event {
            watcher::Event::Init => {
                buffers[i].clear();
                continue;
            }
            watcher::Event::InitApply(obj) => {
                buffers[i].push(object_value(&obj, i));
                continue;
            }
            watcher::Event::InitDone => {
                listed[i] = true;
                let objects = std::mem::take(&mut buffers[i]);
                for (key, outcome) in catalogs[i].replace_all(&objects) {
                    log_outcome(&key, &outcome);
                }
                objects.into_iter().filter_map(|o| PolicyKey::of(&o).ok().map(|k| (k, o))).collect()
            }
            watcher::Event::Apply(obj) => {
                let value = object_value(&obj, i);
                match catalogs[i].upsert(&value) {
                    Ok(outcome) => {
                        let key = PolicyKey::of(&value).ok();
                        if let Some(key) = key {
                            log_outcome(&key, &Ok(outcome));
                            vec![(key, value)]
                        } else {
                            Vec::new()
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring watched object");
                        Vec::new()
                    }
                }
            }
            watcher::Event::Delete(obj) => {
                if let Ok(key) = PolicyKey::of(&object_value(&obj, i)) {
                    catalogs[i].remove(&key);
                    tracing::info!(policy = %key, "policy deleted");
                }
                Vec::new()
            }
        };
        if !listed.iter().all(|l| *l) {
            continue;
        }
        let set = Arc::new(combined(&catalogs));
        (config.publish)(Arc::clone(&set));
        if !config.leader.load(Ordering::Relaxed) {
            applied = None;
            continue;
        }
        for (key, live) in touched {
            write_policy_status(&client, &catalogs[i], i, &key, &live).await;
        }
        if let Some(registration) = &config.registration {
            register(&client, &set, registration, &mut applied).await;
        }
    }
}

/// Applies the configurations computed for `set` when they differ from the last ones applied.
async fn register(client: &kube::Client, set: &PolicySet, r: &Registration, applied: &mut Option<(Value, Value)>) {
    let plan = match plan(set, &r.ca_bundle, &r.target, &r.options) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!(error = %e, "cannot compute the webhook configurations");
            return;
        }
    };
    if !plan.unresolved_kinds.is_empty() {
        tracing::warn!(kinds = ?plan.unresolved_kinds, "policies name kinds with no known resource: not registered");
    }
    let wanted = (plan.mutating, plan.validating);
    if applied.as_ref() == Some(&wanted) {
        return;
    }
    match apply_webhooks(client, &wanted.0, &wanted.1).await {
        Ok(()) => {
            tracing::info!("webhook configurations updated");
            *applied = Some(wanted);
        }
        Err(e) => tracing::error!(error = %e, "cannot update the webhook configurations"),
    }
}

fn log_outcome(key: &PolicyKey, outcome: &Result<crate::catalog::Outcome, crate::catalog::CatalogError>) {
    match outcome {
        Ok(crate::catalog::Outcome::Ready) => tracing::info!(policy = %key, "policy compiled"),
        Ok(crate::catalog::Outcome::Failed { error, previous_serves }) => {
            tracing::warn!(policy = %key, %error, previous_serves, "policy does not compile")
        }
        Err(e) => tracing::warn!(error = %e, "ignoring watched object"),
    }
}

/// All catalogs' policies in one set: ClusterPolicies, then Policies, then RuntimeClassPolicies.
fn combined(catalogs: &[Catalog]) -> PolicySet {
    let mut set = PolicySet::new();
    for catalog in catalogs {
        for policy in catalog.policy_set().policies() {
            set.add(Arc::clone(policy));
        }
    }
    set
}

/// The object as JSON, with apiVersion/kind filled in from the watched resource when the server left them out.
fn object_value(obj: &DynamicObject, index: usize) -> Value {
    let mut value = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        let ar = resource(index);
        map.entry("apiVersion").or_insert_with(|| Value::from(ar.api_version.clone()));
        map.entry("kind").or_insert_with(|| Value::from(ar.kind.clone()));
    }
    value
}

async fn write_policy_status(client: &kube::Client, catalog: &Catalog, index: usize, key: &PolicyKey, live: &Value) {
    let now = now_rfc3339();
    let Some(desired) = catalog.status_patch(key, &now) else { return };
    if status_is_current(live, &desired) {
        return;
    }
    let ar = resource(index);
    let api: Api<DynamicObject> = match &key.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    if let Err(e) = api.patch_status(&key.name, &params, &Patch::Merge(&desired)).await {
        tracing::warn!(policy = %key, error = %e, "cannot write policy status");
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    status::rfc3339(secs)
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
