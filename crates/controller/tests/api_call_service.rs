//! `context.apiCall` with a `service` (and POST `data`) through cluster mode's `ApiCalls`, against a real HTTPS
//! server on 127.0.0.1 (a fresh CA from `serving_ca`, hyper over rustls): the rule sees the service's JSON answer
//! through `jmesPath`; the POST body is built from `data` with variables; headers are sent; answers are cached
//! per identical call; a wrong `caBundle`, a non-2xx status, an oversized body and a slow service are errors the
//! entry's `default` (or the rule error) handles. Only loopback targets are used.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use palisade_controller::cluster::{ApiCallLimits, ApiCalls};
use palisade_controller::serving_ca::{Rotation, generate};
use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, ClusterData, EvaluationContext, Operation, RuleStatus, parse_documents,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the test server received: (method, path, `x-team` header, body).
type Seen = Arc<Mutex<Vec<(String, String, String, Value)>>>;

/// Answers by path: `/check` a verdict naming the posted `name`, `/big` 4 KiB, `/slow` after 3 s, else 503.
async fn respond(
    request: hyper::Request<hyper::body::Incoming>,
    seen: Seen,
) -> Result<hyper::Response<Full<Bytes>>, String> {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let team = request.headers().get("x-team").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = request.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().map_err(|e| e.to_string())?.push((method, path.clone(), team, body.clone()));
    let (status, text) = match path.as_str() {
        "/check" => {
            let name = body["name"].as_str().unwrap_or("?");
            let verdict = json!({"allowed": name != "frozen", "reason": format!("{name} is frozen by policy")});
            (200, verdict.to_string())
        }
        "/big" => (200, format!("\"{}\"", "x".repeat(4096))),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (200, "{}".to_string())
        }
        _ => (503, "service unavailable".to_string()),
    };
    let response = hyper::Response::builder().status(status).body(Full::new(Bytes::from(text)));
    response.map_err(|e| e.to_string())
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// Starts the HTTPS server on 127.0.0.1; returns its address, the CA that signed it and what it saw.
async fn https_server() -> (std::net::SocketAddr, String, Seen) {
    let bundle = generate(&["127.0.0.1".to_string()], now(), Rotation::default(), None).unwrap();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(bundle.cert.as_bytes()).collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(bundle.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let recorded = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen) = (acceptor.clone(), Arc::clone(&recorded));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(move |r| respond(r, Arc::clone(&seen)));
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
            });
        }
    });
    (addr, bundle.ca, seen)
}

/// Cluster data that makes only apiCalls (the watch caches are not needed here).
struct Calls(ApiCalls);

impl ClusterData for Calls {
    fn namespace_labels(&self, _: &str) -> Option<BTreeMap<String, String>> {
        None
    }
    fn get(&self, _: &str, _: &str, _: &str) -> Option<Value> {
        None
    }
    fn list(&self, _: &str, _: Option<&str>) -> Vec<Value> {
        Vec::new()
    }
    fn api_call(&self, request: &palisade_engine::ApiCallRequest) -> Option<Result<Value, String>> {
        Some(self.0.answer(request))
    }
}

fn policy(url: &str, ca: &str, path: &str, default: Option<Value>) -> impl AdmissionPolicy {
    let mut call = json!({
        "method": "POST",
        "service": {"url": format!("{url}{path}"), "caBundle": ca,
                    "headers": [{"key": "X-Team", "value": "{{ request.namespace }}"}]},
        "data": [{"key": "name", "value": "{{ request.object.metadata.name }}"},
                 {"key": "labels", "value": "{{ request.object.metadata.labels }}"}],
        "jmesPath": "@",
    });
    if let Some(d) = default {
        call["default"] = d;
    }
    let doc = json!({
        "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "external-check"},
        "spec": {"validationFailureAction": "Enforce", "rules": [{
            "name": "ask-the-service",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "context": [{"name": "verdict", "apiCall": call}],
            "validate": {"message": "{{ verdict.reason }}", "deny": {"conditions": {"any": [
                {"key": "{{ verdict.allowed }}", "operator": "Equals", "value": false}]}}},
        }]},
    });
    let docs = parse_documents("policy.yaml", &serde_json::to_string(&doc).unwrap()).unwrap();
    palisade_kyverno::load::load_policy(&docs[0]).unwrap()
}

fn pod(name: &str) -> AdmissionRequest {
    let object = json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": name, "namespace": "team-a", "labels": {"app": name}}});
    AdmissionRequest::for_object(object, Operation::Create)
}

fn run(policy: &impl AdmissionPolicy, calls: &Arc<Calls>, name: &str) -> (RuleStatus, String) {
    let ctx = EvaluationContext { cluster: Some(Arc::clone(calls) as Arc<dyn ClusterData>), ..Default::default() };
    let results = policy.validate(&pod(name), &ctx);
    assert_eq!(results.len(), 1, "{results:?}");
    (results[0].status, results[0].message.to_string())
}

#[test]
fn service_calls_over_https_with_post_data() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (addr, ca, seen) = runtime.block_on(https_server());
    let url = format!("https://{addr}");
    let limits = ApiCallLimits {
        ttl: Duration::from_secs(60),
        timeout: Duration::from_millis(800),
        max_bytes: 1024,
        max_entries: 16,
    };
    let client = runtime
        .block_on(async { kube::Client::try_from(kube::Config::new("https://127.0.0.1:9".parse().unwrap())).unwrap() });
    let calls = Arc::new(Calls(ApiCalls::new(client, runtime.handle().clone(), limits)));

    // POST with a body built from `data`, a header with a variable; the service's answer decides.
    let check = policy(&url, &ca, "/check", None);
    let first = run(&check, &calls, "web");
    assert_eq!(first.0, RuleStatus::Pass, "{}", first.1);
    assert_eq!(run(&check, &calls, "web").0, RuleStatus::Pass, "the second one from the cache");
    let (status, message) = run(&check, &calls, "frozen");
    assert_eq!(status, RuleStatus::Fail);
    assert_eq!(message, "frozen is frozen by policy");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "identical calls are answered from the cache: {seen:?}");
        assert_eq!(
            seen[0],
            (
                "POST".to_string(),
                "/check".to_string(),
                "team-a".to_string(),
                json!({"name": "web", "labels": {"app": "web"}})
            )
        );
        assert_eq!(seen[1].3["name"], "frozen");
    }

    // A caBundle that did not sign the server: the TLS handshake fails; without a default the rule errors.
    let other_ca = generate(&["127.0.0.1".to_string()], now(), Rotation::default(), None).unwrap().ca;
    let (status, message) = run(&policy(&url, &other_ca, "/check", None), &calls, "web");
    assert_eq!(status, RuleStatus::Error, "{message}");
    assert!(message.contains("TLS with 127.0.0.1"), "{message}");
    // With a default the rule goes on with it.
    let fallback = json!({"allowed": false, "reason": "checker unreachable"});
    let (status, message) = run(&policy(&url, &other_ca, "/check", Some(fallback.clone())), &calls, "other");
    assert_eq!((status, message.as_str()), (RuleStatus::Fail, "checker unreachable"));

    // A non-2xx status and an oversized body are errors.
    let (_, message) = run(&policy(&url, &ca, "/down", None), &calls, "web");
    assert!(message.contains("HTTP 503") && message.contains("service unavailable"), "{message}");
    let (_, message) = run(&policy(&url, &ca, "/big", None), &calls, "web");
    assert!(message.contains("response larger than 1024 bytes"), "{message}");

    // A slow service: the evaluating thread waits at most the timeout.
    let started = Instant::now();
    let (status, message) = run(&policy(&url, &ca, "/slow", None), &calls, "web");
    assert_eq!(status, RuleStatus::Error);
    assert!(message.contains("no answer within"), "{message}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());

    // Plain http is refused before any connection.
    let (_, message) = run(&policy(&format!("http://{addr}"), &ca, "/check", None), &calls, "web");
    assert!(message.contains("only https://"), "{message}");
}
