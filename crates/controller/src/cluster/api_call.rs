//! `context.apiCall` in cluster mode: `urlPath` calls against the API server (GET, or POST with the `data` body) and
//! `service` calls straight to an HTTPS service (`service_call`), all cached, with a response size limit and a
//! timeout well below the webhook's.
//!
//! The Kyverno engine is pure and synchronous, so it asks [`ClusterData::api_call`] and needs an answer now. This
//! source answers from a cache (entries live [`ApiCallLimits::ttl`], failures included, so a failing path is not
//! hammered); on a miss it makes one **bounded synchronous lookup**: the GET runs on the server's runtime and the
//! evaluating thread waits at most [`ApiCallLimits::timeout`] (3 s by default against the webhook's 10 s; on a
//! runtime worker the wait is moved off the worker with `block_in_place`). A timeout is an error the rule's
//! `default` (or failure policy) handles. Nothing is listed per request beyond what the policy's `urlPath` names,
//! and that at most once per TTL.

use super::{WatchedCluster, service_call};
use palisade_engine::ApiCallRequest;
use palisade_engine::ClusterData;
use palisade_engine::api_call::Method;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits of `context.apiCall` lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiCallLimits {
    /// How long an answer (or a failure) is reused.
    pub ttl: Duration,
    /// Longest wait for one GET.
    pub timeout: Duration,
    /// Largest accepted response body.
    pub max_bytes: usize,
    /// Most cached paths (the oldest entry is dropped beyond it).
    pub max_entries: usize,
}

impl Default for ApiCallLimits {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(10), timeout: Duration::from_secs(3), max_bytes: 2 << 20, max_entries: 1024 }
    }
}

type Answer = Result<Value, String>;

/// Cached apiCalls: `urlPath` calls through the API server client, `service` calls over HTTPS.
pub struct ApiCalls {
    client: kube::Client,
    runtime: tokio::runtime::Handle,
    limits: ApiCallLimits,
    cache: Mutex<HashMap<String, (Instant, Answer)>>,
}

impl std::fmt::Debug for ApiCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiCalls").field("limits", &self.limits).finish()
    }
}

/// Only API paths, without traversal or a scheme.
fn check_path(path: &str) -> Result<(), String> {
    let api = path.starts_with("/api/") || path.starts_with("/apis/") || path == "/api" || path == "/apis";
    if !api || path.contains("..") || path.contains("://") {
        return Err(format!("urlPath {path:?} is not an API server path (/api/... or /apis/...)"));
    }
    Ok(())
}

impl ApiCalls {
    /// Lookups with `client`, run on `runtime` (the server's).
    pub fn new(client: kube::Client, runtime: tokio::runtime::Handle, limits: ApiCallLimits) -> Self {
        Self { client, runtime, limits, cache: Mutex::new(HashMap::new()) }
    }

    /// The answer for an apiCall, from the cache or one bounded lookup. Identical calls (target, method,
    /// headers and body) share one cache entry.
    pub fn answer(&self, request: &ApiCallRequest) -> Answer {
        if let Some(path) = &request.url_path {
            check_path(path)?;
        }
        // The request's JSON names everything that makes two calls the same.
        let key = serde_json::to_string(request).map_err(|e| format!("apiCall request: {e}"))?;
        if let Some((at, answer)) = self.lock().get(&key)
            && at.elapsed() < self.limits.ttl
        {
            return answer.clone();
        }
        let answer = self.lookup(request.clone());
        let mut cache = self.lock();
        if cache.len() >= self.limits.max_entries
            && let Some(oldest) = cache.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
        {
            cache.remove(&oldest);
        }
        cache.insert(key, (Instant::now(), answer.clone()));
        answer
    }

    /// `GET path` against the API server (see [`ApiCalls::answer`]).
    pub fn get(&self, path: &str) -> Answer {
        self.answer(&ApiCallRequest {
            method: Method::Get,
            url_path: Some(path.to_string()),
            service: None,
            body: None,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Answer)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, request: ApiCallRequest) -> Answer {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let (client, limits) = (self.client.clone(), self.limits);
        let described = request.describe();
        self.runtime.spawn(async move {
            let answer = match tokio::time::timeout(limits.timeout, fetch(client, &request, limits.max_bytes)).await {
                Ok(answer) => answer,
                Err(_) => Err(format!("no answer within {:?}", limits.timeout)),
            };
            let _ = tx.send(answer);
        });
        let wait = || rx.recv_timeout(self.limits.timeout + Duration::from_millis(200));
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let received = if on_worker { tokio::task::block_in_place(wait) } else { wait() };
        palisade_engine::api_call::note_waited();
        let answer = received.unwrap_or_else(|_| Err(format!("no answer within {:?}", self.limits.timeout)));
        if let Err(e) = &answer {
            tracing::warn!(call = %described, error = %e, "context.apiCall failed");
        }
        answer
    }
}

/// One call: a `urlPath` through the API server client, else the `service` over HTTPS.
async fn fetch(client: kube::Client, request: &ApiCallRequest, max_bytes: usize) -> Answer {
    match (&request.url_path, &request.service) {
        (Some(path), _) => fetch_api(client, path, request.method, request.body.as_ref(), max_bytes).await,
        (None, Some(service)) => service_call::call(service, request.method, request.body.as_ref(), max_bytes).await,
        (None, None) => Err("apiCall has neither urlPath nor service".into()),
    }
}

/// `method path` against the API server (POST with `body` as JSON), reading at most `max_bytes` of the answer.
async fn fetch_api(client: kube::Client, path: &str, method: Method, body: Option<&Value>, max_bytes: usize) -> Answer {
    let builder =
        http::Request::builder().method(method.as_str()).uri(path).header(http::header::ACCEPT, "application/json");
    let request = match (method, body) {
        (Method::Post, Some(body)) => builder
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(kube::client::Body::from(serde_json::to_vec(body).map_err(|e| e.to_string())?)),
        _ => builder.body(kube::client::Body::empty()),
    }
    .map_err(|e| e.to_string())?;
    let response = client.send(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = service_call::read_capped(response.into_body(), max_bytes).await?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        let message = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(format!("{status}: {message}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("response is not JSON: {e}"))
}

/// The evaluation context's cluster data in cluster mode: the watch caches plus `context.apiCall` lookups.
#[derive(Debug)]
pub struct ClusterContext {
    /// Namespaces, ConfigMaps, RuntimeClasses.
    pub caches: Arc<WatchedCluster>,
    /// `GET urlPath` answers.
    pub api: ApiCalls,
}

impl ClusterData for ClusterContext {
    fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.caches.namespace_labels(namespace)
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.caches.get(kind, namespace, name)
    }

    fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        self.caches.list(kind, namespace)
    }

    fn api_call(&self, request: &ApiCallRequest) -> Option<Answer> {
        Some(self.api.answer(request))
    }
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn only_api_paths_are_called() {
        assert!(check_path("/api/v1/namespaces/a/pods").is_ok());
        assert!(check_path("/apis/apps/v1/deployments").is_ok());
        for bad in ["/healthz", "api/v1", "/api/v1/../../metrics", "https://evil/api/v1", ""] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
