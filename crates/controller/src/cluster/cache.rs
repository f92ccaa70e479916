//! Cluster context from watch caches: Namespaces (labels for `namespaceSelector`), ConfigMaps (`context.configMap`)
//! and RuntimeClasses (the sandbox policy), each kept by a reflector so requests read memory and never list.
//!
//! ConfigMaps are cached cluster-wide (simple and predictable; its memory grows with the cluster's ConfigMaps).
//! `context.apiCall` is not served from here.

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use palisade_engine::ClusterData;
use serde_json::Value;
use std::collections::BTreeMap;
use tokio::task::JoinHandle;

/// Cached kinds: (kind, group, version, plural, namespaced).
const CACHED: [(&str, &str, &str, &str, bool); 3] = [
    ("Namespace", "", "v1", "namespaces", false),
    ("ConfigMap", "", "v1", "configmaps", true),
    ("RuntimeClass", "node.k8s.io", "v1", "runtimeclasses", false),
];

struct Cache {
    kind: &'static str,
    namespaced: bool,
    resource: ApiResource,
    store: Store<DynamicObject>,
}

/// Watch caches of the objects rules read, usable as the engine's [`ClusterData`].
pub struct WatchedCluster {
    caches: Vec<Cache>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for WatchedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes: Vec<(&str, usize)> = self.caches.iter().map(|c| (c.kind, c.store.state().len())).collect();
        f.debug_struct("WatchedCluster").field("objects", &sizes).finish()
    }
}

impl WatchedCluster {
    /// Starts one reflector per cached kind (resumed with backoff when a watch drops); see [`Self::ready`].
    pub fn start(client: kube::Client) -> Self {
        let mut caches = Vec::new();
        let mut tasks = Vec::new();
        for (kind, group, version, plural, namespaced) in CACHED {
            let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
            let writer = reflector::store::Writer::new(resource.clone());
            let store = writer.as_reader();
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
            tasks.push(tokio::spawn(async move {
                let mut stream = std::pin::pin!(stream);
                while let Some(event) = stream.next().await {
                    if let Err(e) = event {
                        tracing::warn!(kind, error = %e, "cluster cache watch failed; retrying with backoff");
                    }
                }
            }));
            caches.push(Cache { kind, namespaced, resource, store });
        }
        Self { caches, tasks }
    }

    /// Waits until every cache has completed its first listing.
    pub async fn ready(&self) {
        for cache in &self.caches {
            // The writer lives in a task owned by `self`, so it is not dropped while we wait.
            let _ = cache.store.wait_until_ready().await;
        }
    }

    fn cache(&self, kind: &str) -> Option<&Cache> {
        self.caches.iter().find(|c| c.kind == kind)
    }

    fn value(cache: &Cache, object: &DynamicObject) -> Value {
        let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.entry("apiVersion").or_insert_with(|| Value::from(cache.resource.api_version.clone()));
            map.entry("kind").or_insert_with(|| Value::from(cache.kind));
        }
        value
    }
}

impl Drop for WatchedCluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl ClusterData for WatchedCluster {
    fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        let cache = self.cache("Namespace")?;
        let object = cache.store.get(&ObjectRef::new_with(namespace, cache.resource.clone()))?;
        Some(object.metadata.labels.clone().unwrap_or_default())
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let cache = self.cache(kind)?;
        let mut key = ObjectRef::new_with(name, cache.resource.clone());
        if cache.namespaced {
            key = key.within(namespace);
        }
        cache.store.get(&key).map(|o| Self::value(cache, &o))
    }

    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(cache) = self.cache(kind) else { return Vec::new() };
        let mut out: Vec<Value> = cache
            .store
            .state()
            .iter()
            .filter(|o| namespace.is_none() || o.metadata.namespace.as_deref() == namespace)
            .map(|o| Self::value(cache, o))
            .collect();
        let key = |v: &Value| (v.pointer("/metadata/namespace").cloned(), v.pointer("/metadata/name").cloned());
        out.sort_by_key(|v| format!("{:?}", key(v)));
        out
    }
}
