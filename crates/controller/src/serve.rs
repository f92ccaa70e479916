//! `palisade serve --kubeconfig FILE` / `--in-cluster`: the webhook server of `palisade-server`, fed by the
//! cluster instead of files.
//!
//! - The policy watch ([`cluster::watch_policies`]) publishes each compiled set into the server's store
//!   (one atomic swap per change).
//! - [`cluster::WatchedCluster`] becomes the evaluation context's cluster data (namespace labels for
//!   `namespaceSelector`, `context.configMap`, RuntimeClasses) once its caches are listed.
//! - Every replica joins the leader election on a Lease; only the leader writes policy status and registers the
//!   webhook configurations. The election is retried with backoff while the API server is unreachable, and
//!   rejoined when its task stops.
//! - `/readyz` is false until the policies and the caches have been listed from the API server.

use crate::cluster::{
    self, ApiCallLimits, ApiCalls, CaBundle, CaSync, ClusterContext, Leader, LeaseTiming, Publish, Registration,
    WatchConfig, WatchedCluster,
};
use crate::serving_ca::{Rotation, names_for};
use crate::webhooks::{WebhookError, WebhookOptions, WebhookTarget};
use anyhow::Context as _;
use palisade_server::store::PolicyStore;
use palisade_server::{PolicyLoader, RunningServer, ServeArgs};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Where the service account's namespace is mounted in a pod.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// A cluster-mode setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The webhook URL or options are not usable.
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    /// No URL given and the listen address is not one the API server can call.
    #[error("--webhook-url is required with --kubeconfig when listening on {0} (e.g. https://127.0.0.1:8443)")]
    NoUrl(SocketAddr),
    /// The CA for `caBundle` cannot be read.
    #[error("{path}: cannot read the webhook CA (caBundle): {source}")]
    Ca {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `--tls-cert` without a CA beside it or `--webhook-ca`.
    #[error("no CA for the webhooks' caBundle: pass --webhook-ca (no ca.crt beside {0})")]
    NoCa(PathBuf),
}

/// What cluster mode needs besides the server's own flags, resolved from the flags, the environment and the
/// running server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Palisade's namespace (Lease, CA Secret; excluded from the webhooks).
    pub namespace: String,
    /// This replica's identity in the election.
    pub identity: String,
    /// Lease name.
    pub lease: String,
    /// Where the API server calls.
    pub target: WebhookTarget,
    /// Names, namespace and timeout of the webhook configurations.
    pub options: WebhookOptions,
    /// The CA file (and its PEM now) for `caBundle` when the serving certificate comes from `--tls-cert`; `None`:
    /// the CA and certificate are kept in the `--tls-secret` Secret.
    pub static_ca: Option<(PathBuf, Vec<u8>)>,
}

impl Settings {
    /// Resolves the settings for `server` started with `args`.
    pub fn resolve(args: &ServeArgs, server: &RunningServer) -> Result<Self, SettingsError> {
        let c = &args.cluster;
        let namespace = c
            .namespace
            .clone()
            .or_else(|| non_empty_env("POD_NAMESPACE"))
            .or_else(|| {
                let read = c.in_cluster.then(|| std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE).ok()).flatten();
                read.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "palisade".to_string());
        let identity = c.identity.clone().or_else(|| non_empty_env("POD_NAME")).unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "palisade".to_string());
            format!("{host}-{}", std::process::id())
        });
        let target = match &c.webhook_url {
            Some(url) => WebhookTarget::url(url)?,
            None if c.in_cluster => {
                WebhookTarget::Service { namespace: namespace.clone(), name: c.webhook_service.clone(), port: 443 }
            }
            None if server.addr.ip().is_unspecified() => return Err(SettingsError::NoUrl(server.addr)),
            None => WebhookTarget::url(&format!("https://{}", server.addr))?,
        };
        let static_ca = match (&c.webhook_ca, &args.tls_cert) {
            (Some(ca), _) => Some((ca.clone(), read_ca(ca)?)),
            (None, Some(cert)) => {
                let beside = cert.with_file_name("ca.crt");
                if !beside.is_file() {
                    return Err(SettingsError::NoCa(cert.clone()));
                }
                let pem = read_ca(&beside)?;
                Some((beside, pem))
            }
            (None, None) => None,
        };
        let options =
            WebhookOptions { name: c.webhook_name.clone(), namespace: namespace.clone(), ..Default::default() };
        options.check()?;
        Ok(Self { namespace, identity, lease: c.lease_name.clone(), target, options, static_ca })
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn read_ca(path: &Path) -> Result<Vec<u8>, SettingsError> {
    std::fs::read(path).map_err(|source| SettingsError::Ca { path: path.to_path_buf(), source })
}

/// The cluster side of a running server: the watch, the caches and the election, stopped by [`Self::stop`].
pub struct ClusterMode {
    tasks: Vec<JoinHandle<()>>,
    leader: Arc<tokio::sync::Mutex<Option<Leader>>>,
    last_replica: Option<LastReplicaCheck>,
}

/// What a stopping replica checks to relax the webhooks when it is the last one (`--deployment`).
struct LastReplicaCheck {
    client: kube::Client,
    namespace: String,
    deployment: String,
    webhook_name: String,
}

/// Longest time the shutdown spends on the last-replica check.
const LAST_REPLICA_TIMEOUT: Duration = Duration::from_secs(5);

impl LastReplicaCheck {
    async fn run(self) {
        let check = cluster::relax_if_last_replica(&self.client, &self.namespace, &self.deployment, &self.webhook_name);
        match tokio::time::timeout(LAST_REPLICA_TIMEOUT, check).await {
            Ok(Ok(Some(reason))) => {
                tracing::warn!(%reason, webhooks = %self.webhook_name, "last replica stopping: webhooks relaxed to Ignore")
            }
            Ok(Ok(None)) => tracing::info!(deployment = %self.deployment, "other replicas keep serving"),
            Ok(Err(e)) => tracing::error!(error = %e, "last-replica check failed; webhooks left as they are"),
            Err(_) => tracing::error!("last-replica check timed out; webhooks left as they are"),
        }
    }
}

impl std::fmt::Debug for ClusterMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMode").field("tasks", &self.tasks.len()).finish()
    }
}

impl ClusterMode {
    /// Connects `server` to the cluster. Returns at once: listing, watching and the election run in tasks that
    /// retry with backoff, so an unreachable API server only delays readiness.
    pub async fn start(args: &ServeArgs, server: &RunningServer) -> anyhow::Result<Self> {
        let settings = Settings::resolve(args, server)?;
        let client = match &args.cluster.kubeconfig {
            Some(path) => cluster::client(Some(path)).await?,
            None => cluster::in_cluster_client()?,
        };
        let store = Arc::clone(&server.store);
        store.set_cluster_detail("leader election: not joined yet");
        tracing::info!(
            namespace = %settings.namespace,
            identity = %settings.identity,
            target = ?settings.target,
            "cluster mode: watching policies and cluster data"
        );
        let mut tasks = Vec::new();

        let watched = Arc::new(WatchedCluster::start(client.clone()));
        let api = ApiCalls::new(client.clone(), tokio::runtime::Handle::current(), ApiCallLimits::default());
        let caches_store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            watched.ready().await;
            tracing::info!("cluster caches listed (Namespaces, ConfigMaps, RuntimeClasses)");
            caches_store.set_cluster(Arc::new(ClusterContext { caches: watched, api }));
        }));

        let flag = Arc::new(AtomicBool::new(false));
        let leader = Arc::new(tokio::sync::Mutex::new(None));
        tasks.push(tokio::spawn(elect(
            client.clone(),
            settings.clone(),
            Arc::clone(&flag),
            Arc::clone(&leader),
            Arc::clone(&store),
        )));

        let ca_bundle = match &settings.static_ca {
            Some((path, pem)) => {
                let ca_bundle = CaBundle::new(pem.clone());
                let interval = args.cluster.ca_check_interval;
                tasks.push(tokio::spawn(follow_ca_file(path.clone(), ca_bundle.clone(), interval)));
                ca_bundle
            }
            None => {
                let ca_bundle = CaBundle::default();
                let sync = ca_sync(args, server, &settings, ca_bundle.clone(), Arc::clone(&flag));
                tasks.push(tokio::spawn(cluster::keep_serving_ca(client.clone(), sync)));
                ca_bundle
            }
        };
        let publish_store = Arc::clone(&store);
        let publish: Publish = Arc::new(move |set| publish_store.publish(set));
        let last_replica = args.cluster.deployment.clone().map(|deployment| LastReplicaCheck {
            client: client.clone(),
            namespace: settings.namespace.clone(),
            deployment,
            webhook_name: settings.options.name.clone(),
        });
        let registration = Registration { ca_bundle, target: settings.target.clone(), options: settings.options };
        let config = WatchConfig { publish, leader: flag, registration: Some(registration) };
        tasks.push(tokio::spawn(cluster::watch_policies(client, config)));
        Ok(Self { tasks, leader, last_replica })
    }

    /// Stops watching; with `--deployment`, relaxes the webhooks when no replica will serve any more (the
    /// Deployment is being deleted, scaled to zero or gone); then leaves the election (releasing the Lease, so
    /// another replica takes over at once).
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(check) = self.last_replica {
            check.run().await;
        }
        if let Some(leader) = self.leader.lock().await.take() {
            leader.resign().await;
        }
    }
}

/// With `--tls-cert` (e.g. cert-manager): re-reads the CA file every `interval`, so a rotated CA reaches
/// `caBundle` (the server reloads the certificate files itself). An unreadable or empty file keeps the last CA.
pub async fn follow_ca_file(path: PathBuf, ca_bundle: CaBundle, interval: Duration) {
    let mut last_error = String::new();
    loop {
        tokio::time::sleep(interval).await;
        match std::fs::read(&path) {
            Ok(pem) if !pem.is_empty() => {
                last_error.clear();
                let before = ca_bundle.get().0;
                if ca_bundle.set(pem) != before {
                    tracing::info!(ca = %path.display(), "webhook CA changed; re-registering");
                }
            }
            Ok(_) => tracing::warn!(ca = %path.display(), "webhook CA file is empty; keeping the previous CA"),
            Err(e) if e.to_string() != last_error => {
                tracing::warn!(ca = %path.display(), error = %e, "cannot read the webhook CA; keeping the previous CA");
                last_error = e.to_string();
            }
            Err(_) => {}
        }
    }
}

/// The CA keeper for a server without `--tls-cert`: it serves the certificate from the `--tls-secret` Secret,
/// written over the generated files in the data folder.
fn ca_sync(
    args: &ServeArgs,
    server: &RunningServer,
    settings: &Settings,
    ca_bundle: CaBundle,
    leader: Arc<AtomicBool>,
) -> CaSync {
    let (cert_file, key_file) = server.cert.paths();
    let cert = Arc::clone(&server.cert);
    let reload: cluster::Reload = Arc::new(move || cert.reload_if_changed().map(|_| ()).map_err(|e| e.to_string()));
    let c = &args.cluster;
    CaSync {
        namespace: settings.namespace.clone(),
        secret: c.tls_secret.clone(),
        names: names_for(&settings.target),
        rotation: Rotation { validity: c.ca_validity, renew_before: c.ca_renew_before },
        cert_file: cert_file.to_path_buf(),
        key_file: key_file.to_path_buf(),
        ca_file: server.generated_ca.clone(),
        reload,
        ca_bundle,
        leader,
        interval: c.ca_check_interval,
    }
}

/// Joins the election, retrying with backoff (1 s doubling to 30 s) while it fails, and rejoins when the
/// election task stops; keeps the `/readyz` line about it current.
async fn elect(
    client: kube::Client,
    settings: Settings,
    flag: Arc<AtomicBool>,
    slot: Arc<tokio::sync::Mutex<Option<Leader>>>,
    store: Arc<PolicyStore>,
) {
    let lease = format!("{}/{}", settings.namespace, settings.lease);
    let mut delay = Duration::from_secs(1);
    loop {
        let joined = Leader::join_with_flag(
            client.clone(),
            &settings.namespace,
            &settings.lease,
            &settings.identity,
            LeaseTiming::default(),
            Arc::clone(&flag),
        )
        .await;
        match joined {
            Ok(leader) => {
                delay = Duration::from_secs(1);
                *slot.lock().await = Some(leader);
                tracing::info!(%lease, identity = %settings.identity, "joined the leader election");
                watch_election(&slot, &flag, &store, &lease).await;
                tracing::warn!(%lease, "the leader election stopped; rejoining");
            }
            Err(e) => {
                store.set_cluster_detail(format!("leader election: {e}; retrying in {}s", delay.as_secs()));
                tracing::warn!(%lease, error = %e, retry_in = ?delay, "cannot join the leader election");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Updates the `/readyz` line every second while the election task runs.
async fn watch_election(
    slot: &tokio::sync::Mutex<Option<Leader>>,
    flag: &AtomicBool,
    store: &PolicyStore,
    lease: &str,
) {
    loop {
        let active = slot.lock().await.as_ref().is_some_and(Leader::is_active);
        if !active {
            flag.store(false, Ordering::Relaxed);
            *slot.lock().await = None;
            return;
        }
        let role = if flag.load(Ordering::Relaxed) { "leading" } else { "following" };
        store.set_cluster_detail(format!("leader election: {role} (lease {lease})"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs `palisade serve` in cluster mode until SIGTERM/SIGINT.
pub fn run(args: ServeArgs, loader: PolicyLoader) -> anyhow::Result<()> {
    palisade_server::logging::init(args.log_format, &args.log_level);
    let runtime = palisade_server::build_runtime(&args).context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let signal = palisade_server::shutdown_signal()?;
        let server = palisade_server::start(&args, loader, Vec::new()).await?;
        let cluster = match ClusterMode::start(&args, &server).await {
            Ok(cluster) => cluster,
            Err(e) => {
                let _ = server.shutdown().await;
                return Err(e.context("cluster mode"));
            }
        };
        palisade_server::print_banner(&server, &args);
        signal.await;
        tracing::info!("shutting down: leaving the leader election, finishing in-flight requests");
        cluster.stop().await;
        if server.shutdown().await {
            tracing::info!("shut down cleanly");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rotated_ca_file_reaches_the_bundle() {
        let dir = std::env::temp_dir().join(format!("palisade-ca-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ca.crt");
        std::fs::write(&path, "first").unwrap();
        let bundle = CaBundle::new(b"first".to_vec());
        let task = tokio::spawn(follow_ca_file(path.clone(), bundle.clone(), Duration::from_millis(20)));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(bundle.get(), (1, b"first".to_vec()), "unchanged content keeps the generation");
        std::fs::write(&path, "second").unwrap();
        let start = std::time::Instant::now();
        while bundle.get().1 != b"second" {
            assert!(start.elapsed() < Duration::from_secs(5), "rotated CA not picked up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(bundle.get().0, 2);
        std::fs::remove_file(&path).unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(bundle.get(), (2, b"second".to_vec()), "a missing file keeps the last CA");
        task.abort();
        let _ = std::fs::remove_dir_all(dir);
    }
}
