//! The active policy set and namespace cache, loaded from files and swapped atomically on change: a load
//! that fails keeps the last good set, and is reported in the log, `/readyz` and a metric. In cluster mode
//! the set and the cluster data are handed in from outside ([`PolicyStore::publish`],
//! [`PolicyStore::set_cluster`]) and swapped the same way.

use crate::PolicyLoader;
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use palisade_engine::{ClusterData, PolicySet, StaticCluster};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where policies come from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// Bundled (source name, text) pairs; never change.
    Embedded(Vec<(String, String)>),
    /// Folders or files given with `--policies`, watched for changes.
    Paths(Vec<PathBuf>),
    /// Published by the cluster watch (`--kubeconfig`, `--in-cluster`) with [`PolicyStore::publish`].
    Cluster,
}

/// What requests are evaluated against: swapped as one unit.
#[derive(Default)]
pub struct Snapshot {
    /// The active policy set; `None` until a load succeeded.
    pub policies: Option<Arc<PolicySet>>,
    /// Cluster data (`--cluster-resources`, or the watch caches in cluster mode); `None` when unknown.
    pub cluster: Option<Arc<dyn ClusterData>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("policies", &self.policies.as_ref().map(|p| p.len()))
            .field("cluster", &self.cluster.is_some())
            .finish()
    }
}

/// Load state shown by `/readyz`.
#[derive(Debug, Clone, Default)]
struct Status {
    policy_files: usize,
    policy_errors: Vec<String>,
    namespace_errors: Vec<String>,
    policies_digest: Option<[u8; 32]>,
    /// Content seen on the previous poll but not loaded yet: a change is loaded once it reads the same on
    /// two polls in a row, so a file caught half-written is never applied.
    pending_digest: Option<[u8; 32]>,
    namespaces_digest: Option<[u8; 32]>,
    /// Cluster mode: how many sets were published, and the source's own state line.
    published: usize,
    cluster_detail: String,
}

/// Holds the active snapshot and reloads it from its sources.
pub struct PolicyStore {
    loader: PolicyLoader,
    source: PolicySource,
    namespaces: Option<PathBuf>,
    active: ArcSwap<Snapshot>,
    status: Mutex<Status>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore").field("source", &self.source).field("namespaces", &self.namespaces).finish()
    }
}

impl PolicyStore {
    /// A store with nothing loaded yet; call [`PolicyStore::refresh`] to load.
    pub fn new(loader: PolicyLoader, source: PolicySource, namespaces: Option<PathBuf>, metrics: Arc<Metrics>) -> Self {
        Self {
            loader,
            source,
            namespaces,
            active: ArcSwap::from_pointee(Snapshot::default()),
            status: Mutex::new(Status::default()),
            metrics,
        }
    }

    /// The active snapshot (cheap: one atomic load).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.active.load_full()
    }

    /// Whether the namespaces file is configured.
    pub fn has_namespaces(&self) -> bool {
        self.namespaces.is_some()
    }

    /// Whether policies come from the cluster watch.
    pub fn is_cluster_mode(&self) -> bool {
        matches!(self.source, PolicySource::Cluster)
    }

    fn lock_status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Swaps in a policy set compiled elsewhere (cluster mode), keeping the cluster data.
    pub fn publish(&self, set: Arc<PolicySet>) {
        let mut status = self.lock_status();
        let current = self.snapshot();
        if status.published == 0 {
            tracing::info!(policies = set.len(), "first policy set received from the cluster; serving it");
        }
        status.published += 1;
        self.metrics.record_policy_load(true, 0, Some(set.len()));
        self.active.store(Arc::new(Snapshot { policies: Some(set), cluster: current.cluster.clone() }));
    }

    /// Swaps in the cluster data rules read (cluster mode: the watch caches), keeping the policies.
    pub fn set_cluster(&self, cluster: Arc<dyn ClusterData>) {
        let _status = self.lock_status();
        let current = self.snapshot();
        self.active.store(Arc::new(Snapshot { policies: current.policies.clone(), cluster: Some(cluster) }));
    }

    /// Sets the line `/readyz` shows about the cluster connection (cluster mode).
    pub fn set_cluster_detail(&self, detail: impl Into<String>) {
        self.lock_status().cluster_detail = detail.into();
    }

    /// Re-reads the sources and swaps in a new snapshot when their content changed and loads cleanly.
    /// Returns whether anything was swapped.
    pub fn refresh(&self) -> bool {
        let mut status = self.lock_status();
        let mut next: Option<Snapshot> = None;
        let current = self.snapshot();

        let files = match &self.source {
            PolicySource::Embedded(files) => Ok(files.clone()),
            PolicySource::Paths(paths) => read_sources(paths),
            PolicySource::Cluster => return false,
        };
        match files {
            Ok(files) => {
                let digest = digest_of(&files);
                let first_load = current.policies.is_none() && status.policies_digest.is_none();
                let settled = first_load || status.pending_digest == Some(digest);
                if status.policies_digest != Some(digest) && !settled {
                    status.pending_digest = Some(digest);
                } else if status.policies_digest != Some(digest) {
                    status.policies_digest = Some(digest);
                    status.pending_digest = None;
                    match (self.loader)(&files) {
                        Ok(set) => {
                            tracing::info!(policies = set.len(), files = files.len(), "policy set loaded");
                            self.metrics.record_policy_load(true, 0, Some(set.len()));
                            status.policy_files = files.len();
                            status.policy_errors.clear();
                            next = Some(Snapshot { policies: Some(Arc::new(set)), cluster: current.cluster.clone() });
                        }
                        Err(errors) => self.policy_load_failed(&mut status, errors),
                    }
                }
            }
            Err(errors) => {
                // Unreadable files: retry on every poll until they read, so no digest is kept.
                status.policies_digest = None;
                self.policy_load_failed(&mut status, errors);
            }
        }

        if let Some(path) = &self.namespaces {
            match read_namespaces(path, &mut status.namespaces_digest) {
                Ok(None) => {}
                Ok(Some(cluster)) => {
                    status.namespace_errors.clear();
                    let base =
                        next.take().unwrap_or_else(|| Snapshot { policies: current.policies.clone(), cluster: None });
                    next = Some(Snapshot { cluster: Some(Arc::new(cluster) as Arc<dyn ClusterData>), ..base });
                }
                Err(errors) => {
                    for error in &errors {
                        tracing::error!(error = %error, "namespaces file not loaded; keeping the previous namespaces");
                    }
                    status.namespace_errors = errors;
                }
            }
        }

        match next {
            Some(snapshot) => {
                self.active.store(Arc::new(snapshot));
                true
            }
            None => false,
        }
    }

    fn policy_load_failed(&self, status: &mut Status, errors: Vec<String>) {
        if status.policy_errors == errors {
            // Same failure as last time (e.g. a folder that stays unreadable): reported once.
            return;
        }
        let keeping = self.snapshot().policies.as_ref().map(|p| p.len());
        for error in &errors {
            tracing::error!(error = %error, kept_policies = ?keeping, "policy load failed; the last good set stays active");
        }
        self.metrics.record_policy_load(false, errors.len(), None);
        status.policy_errors = errors;
    }

    /// `/readyz`: ready once a policy set is active (in cluster mode, also once the cluster caches are
    /// listed); the detail lists the last load errors.
    pub fn readiness(&self) -> (bool, String) {
        if self.is_cluster_mode() {
            return self.cluster_readiness();
        }
        let status = self.lock_status().clone();
        let snapshot = self.snapshot();
        let mut detail = match &snapshot.policies {
            Some(set) => format!("ready: {} policies loaded from {} sources\n", set.len(), status.policy_files),
            None => "not ready: no policy set loaded\n".to_string(),
        };
        if !status.policy_errors.is_empty() {
            let what = if snapshot.policies.is_some() { "last good set kept; " } else { "" };
            detail.push_str(&format!("policy load failed ({what}{} errors):\n", status.policy_errors.len()));
            for error in &status.policy_errors {
                detail.push_str(&format!("  {error}\n"));
            }
        }
        match (&self.namespaces, &snapshot.cluster) {
            (None, _) => detail.push_str("namespaces: unknown (no --cluster-resources file)\n"),
            (Some(path), Some(_)) => detail.push_str(&format!("namespaces: from {}\n", path.display())),
            (Some(path), None) => detail.push_str(&format!("namespaces: {} not loaded\n", path.display())),
        }
        for error in &status.namespace_errors {
            detail.push_str(&format!("  {error}\n"));
        }
        (snapshot.policies.is_some(), detail)
    }
}

impl PolicyStore {
    fn cluster_readiness(&self) -> (bool, String) {
        let status = self.lock_status().clone();
        let snapshot = self.snapshot();
        let ready = snapshot.policies.is_some() && snapshot.cluster.is_some();
        let mut detail = match &snapshot.policies {
            Some(set) => {
                format!("{}: {} policies from the cluster\n", if ready { "ready" } else { "not ready" }, set.len())
            }
            None => "not ready: no policy set received from the API server yet\n".to_string(),
        };
        if snapshot.cluster.is_none() {
            detail.push_str("cluster caches (Namespaces, ConfigMaps, RuntimeClasses): not listed yet\n");
        }
        if !status.cluster_detail.is_empty() {
            detail.push_str(&status.cluster_detail);
            detail.push('\n');
        }
        (ready, detail)
    }
}

fn digest_of(files: &[(String, String)]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (name, text) in files {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher.finalize().into()
}

fn is_manifest(path: &Path) -> bool {
    let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    !hidden && matches!(ext.as_deref(), Some("yaml" | "yml" | "json"))
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<String>) {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) => return errors.push(format!("{}: cannot list folder: {e}", path.display())),
    };
    for entry in entries {
        match entry {
            Ok(entry) => {
                let child = entry.path();
                let hidden = child.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
                if child.is_dir() && !hidden {
                    collect_files(&child, out, errors);
                } else if is_manifest(&child) {
                    out.push(child);
                }
            }
            Err(e) => errors.push(format!("{}: cannot list folder: {e}", path.display())),
        }
    }
}

/// Reads every manifest under `paths` (folders are walked recursively; `.yaml`, `.yml`, `.json`; hidden
/// files skipped), sorted by path.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>, Vec<String>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect_files(path, &mut files, &mut errors);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => out.push((file.display().to_string(), text)),
            Err(e) => errors.push(format!("{}: cannot read: {e}", file.display())),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// Reads the namespaces file; `Ok(None)` when its content did not change since `digest`.
fn read_namespaces(path: &Path, digest: &mut Option<[u8; 32]>) -> Result<Option<StaticCluster>, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
    let name = path.display().to_string();
    let new_digest = digest_of(&[(name.clone(), text.clone())]);
    if *digest == Some(new_digest) {
        return Ok(None);
    }
    *digest = Some(new_digest);
    let docs = palisade_engine::parse_documents(&name, &text).map_err(|e| vec![e.to_string()])?;
    // Namespaces feed namespaceSelector; other objects (RuntimeClasses, ConfigMaps) are cluster
    // data for policies that read it (the sandbox policy, Kyverno configMap context entries).
    let objects: Vec<Value> =
        docs.into_iter().map(|d| d.value).filter(|v| v.get("kind").and_then(Value::as_str).is_some()).collect();
    let namespaces = objects.iter().filter(|v| v.get("kind").and_then(Value::as_str) == Some("Namespace")).count();
    tracing::info!(namespaces, objects = objects.len(), file = %name, "cluster resources loaded");
    Ok(Some(StaticCluster::new(objects)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_loader() -> PolicyLoader {
        Arc::new(|files: &[(String, String)]| {
            if let Some((name, _)) = files.iter().find(|(_, text)| text.contains("broken")) {
                return Err(vec![format!("{name}:1: broken policy")]);
            }
            let _ = files;
            Ok(PolicySet::new())
        })
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("palisade-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn broken_reload_keeps_the_last_good_set() {
        let dir = temp_dir("broken");
        std::fs::write(dir.join("a.yaml"), "kind: TestPolicy").unwrap();
        let metrics = Arc::new(Metrics::new(&[]));
        let store = PolicyStore::new(counting_loader(), PolicySource::Paths(vec![dir.clone()]), None, metrics);
        assert!(!store.readiness().0);
        assert!(store.refresh());
        assert!(store.readiness().0);
        assert!(!store.refresh(), "unchanged content is not reloaded");
        let before = store.snapshot();

        std::fs::write(dir.join("b.yaml"), "broken").unwrap();
        assert!(!store.refresh(), "a change waits for a second poll with the same content");
        assert!(!store.readiness().1.contains("broken"));
        assert!(!store.refresh());
        let (ready, detail) = store.readiness();
        assert!(ready, "{detail}");
        assert!(detail.contains("b.yaml:1: broken policy"), "{detail}");
        assert!(Arc::ptr_eq(&before, &store.snapshot()));

        std::fs::write(dir.join("b.yaml"), "kind: TestPolicy").unwrap();
        assert!(!store.refresh());
        assert!(store.refresh());
        assert!(!store.readiness().1.contains("broken"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sources_are_sorted_manifests_only() {
        let dir = temp_dir("sources");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for name in ["b.yaml", "a.yml", "sub/c.json", "notes.txt", ".hidden.yaml"] {
            std::fs::write(dir.join(name), name).unwrap();
        }
        let files = read_sources(std::slice::from_ref(&dir)).unwrap();
        let names: Vec<_> = files.iter().map(|(n, _)| n.rsplit('/').next().unwrap().to_string()).collect();
        assert_eq!(names, ["a.yml", "b.yaml", "c.json"]);
        assert!(read_sources(&[dir.join("missing.yaml")]).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cluster_mode_serves_what_is_published() {
        let metrics = Arc::new(Metrics::new(&[]));
        let store = PolicyStore::new(counting_loader(), PolicySource::Cluster, None, metrics);
        assert!(!store.refresh(), "nothing to read from files");
        store.set_cluster_detail("API server: connection refused");
        let (ready, detail) = store.readiness();
        assert!(!ready);
        assert!(detail.contains("no policy set received") && detail.contains("connection refused"), "{detail}");
        store.publish(Arc::new(PolicySet::new()));
        assert!(!store.readiness().0, "not ready before the cluster caches are listed");
        let cluster = StaticCluster::new(vec![serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod", "labels": {"env": "prod"}}})]);
        store.set_cluster(Arc::new(cluster));
        let (ready, detail) = store.readiness();
        assert!(ready, "{detail}");
        let before = store.snapshot();
        store.publish(Arc::new(PolicySet::new()));
        let after = store.snapshot();
        assert!(!Arc::ptr_eq(&before, &after), "a publish swaps the snapshot");
        let labels = after.cluster.as_ref().unwrap().namespace_labels("prod").unwrap();
        assert_eq!(labels["env"], "prod", "the cluster data is kept across publishes");
    }

    #[test]
    fn namespaces_feed_labels() {
        let dir = temp_dir("ns");
        let file = dir.join("ns.yaml");
        std::fs::write(&file, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels:\n    env: prod\n")
            .unwrap();
        let metrics = Arc::new(Metrics::new(&[]));
        let source = PolicySource::Embedded(vec![]);
        let store = PolicyStore::new(counting_loader(), source, Some(file.clone()), metrics);
        assert!(store.refresh());
        let cluster = store.snapshot().cluster.clone().unwrap();
        assert_eq!(cluster.namespace_labels("prod").unwrap()["env"], "prod");
        std::fs::write(&file, "kind: [").unwrap();
        store.refresh();
        assert!(store.snapshot().cluster.is_some(), "previous namespaces kept");
        assert!(store.readiness().1.contains("ns.yaml"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
