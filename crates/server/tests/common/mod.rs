//! Test support: a tiny `TestPolicy` language and its loader, a server started on loopback port 0, and an
//! HTTPS client on hyper + rustls (ring).

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, EvaluationContext, FailureAction, FailurePolicy, MutationOutcome, PolicySet,
    RuleKind, RuleResult, RuleStatus,
};
use palisade_server::{PolicyLoader, RunningServer, ServeArgs};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// `kind: TestPolicy`: one validate rule and optionally one mutate rule, driven by labels.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestSpec {
    #[serde(default = "pods")]
    kinds: Vec<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    emit_warning: bool,
    #[serde(default)]
    failure_policy: Option<String>,
    /// Fails when the object carries this label.
    #[serde(default)]
    deny_label: Option<String>,
    /// Fails when the user is this one.
    #[serde(default)]
    deny_user: Option<String>,
    /// Only applies when the namespace has this `key=value` label.
    #[serde(default)]
    namespace_label: Option<String>,
    /// Adds these labels (a mutate rule).
    #[serde(default)]
    add_labels: Option<serde_json::Map<String, Value>>,
    /// The validate rule errors.
    #[serde(default)]
    error: bool,
    /// Sleeps this long in validate and mutate.
    #[serde(default)]
    sleep_ms: u64,
    /// Created when validate starts (lets a test know a request is in flight).
    #[serde(default)]
    marker_file: Option<PathBuf>,
}

/// `TestPolicy` validations running now, and the most that ever ran at once in this test process.
static RUNNING_VALIDATIONS: AtomicUsize = AtomicUsize::new(0);

/// `sleepMs` of the test policies: a wait for an answer, as an apiCall's, which the server's placement of
/// evaluations counts as slow (a sleep uses no CPU, so it would otherwise read as a preempted thread).
fn wait(ms: u64) {
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
        palisade_engine::api_call::note_waited();
    }
}
static PEAK_VALIDATIONS: AtomicUsize = AtomicUsize::new(0);

/// The most `TestPolicy` validations that ran at once in this test process.
pub fn peak_concurrent_validations() -> usize {
    PEAK_VALIDATIONS.load(Ordering::SeqCst)
}

fn pods() -> Vec<String> {
    vec!["Pod".to_string()]
}

#[derive(Debug)]
pub struct TestPolicy {
    name: String,
    spec: TestSpec,
}

impl TestPolicy {
    fn action(&self) -> FailureAction {
        self.spec.action.as_deref().and_then(FailureAction::parse).unwrap_or(FailureAction::Audit)
    }

    fn result(&self, rule: &str, kind: RuleKind, status: RuleStatus, message: &str) -> RuleResult {
        let mut result = RuleResult::new(self.name.as_str(), rule, kind, status, message);
        result.action = self.action();
        result.emit_warning = self.spec.emit_warning;
        result
    }

    fn applies(&self, ctx: &EvaluationContext) -> bool {
        let Some((key, value)) = self.spec.namespace_label.as_deref().and_then(|s| s.split_once('=')) else {
            return true;
        };
        ctx.namespace_labels.as_ref().and_then(|labels| labels.get(key)).is_some_and(|v| v == value)
    }
}

impl AdmissionPolicy for TestPolicy {
    fn name(&self) -> &str {
        &self.name
    }
    fn kinds(&self) -> Vec<String> {
        self.spec.kinds.clone()
    }
    fn failure_policy(&self) -> FailurePolicy {
        match self.spec.failure_policy.as_deref() {
            Some("Ignore") => FailurePolicy::Ignore,
            _ => FailurePolicy::Fail,
        }
    }
    fn mutates(&self) -> bool {
        self.spec.add_labels.is_some()
    }
    fn mutate(&self, request: &mut Cow<'_, AdmissionRequest>, _: &EvaluationContext) -> MutationOutcome {
        wait(self.spec.sleep_ms);
        let Some(labels) = &self.spec.add_labels else { return MutationOutcome::default() };
        let object = &mut request.to_mut().object;
        if object.pointer("/metadata/labels").is_none() {
            object["metadata"]["labels"] = json!({});
        }
        for (key, value) in labels {
            object["metadata"]["labels"][key] = value.clone();
        }
        MutationOutcome {
            results: vec![self.result("add-labels", RuleKind::Mutation, RuleStatus::Pass, "labels added")],
            generated: vec![],
            touched: None,
        }
    }
    fn validate(&self, request: &AdmissionRequest, ctx: &EvaluationContext) -> Vec<RuleResult> {
        if let Some(marker) = &self.spec.marker_file {
            std::fs::write(marker, "started").unwrap();
        }
        {
            let running = RUNNING_VALIDATIONS.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK_VALIDATIONS.fetch_max(running, Ordering::SeqCst);
            wait(self.spec.sleep_ms);
            RUNNING_VALIDATIONS.fetch_sub(1, Ordering::SeqCst);
        }
        if !self.applies(ctx) {
            return vec![self.result("check", RuleKind::Validation, RuleStatus::Skip, "namespace does not match")];
        }
        if self.spec.error {
            return vec![self.result("check", RuleKind::Validation, RuleStatus::Error, "variable not found")];
        }
        let labels = request.subject().pointer("/metadata/labels");
        let has = |label: &str| labels.and_then(|l| l.get(label)).is_some();
        let failed = self.spec.deny_label.as_deref().is_some_and(has)
            || self.spec.deny_user.as_deref().is_some_and(|u| request.user_info.username == u);
        if failed {
            let message = format!("validation error: {} is not allowed", self.name);
            vec![self.result("check", RuleKind::Validation, RuleStatus::Fail, &message)]
        } else {
            vec![self.result("check", RuleKind::Validation, RuleStatus::Pass, "ok")]
        }
    }
}

/// Loads `kind: TestPolicy` documents.
pub fn test_loader() -> PolicyLoader {
    Arc::new(|files: &[(String, String)]| {
        let mut set = PolicySet::new();
        let mut errors = Vec::new();
        for (source, text) in files {
            let docs = match palisade_engine::parse_documents(source, text) {
                Ok(docs) => docs,
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            };
            for doc in docs {
                let kind = doc.value.get("kind").and_then(Value::as_str).unwrap_or_default();
                if kind != "TestPolicy" {
                    errors.push(format!("{source}:{}: unknown kind `{kind}`", doc.first_line));
                    continue;
                }
                let name = doc.value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
                match serde_json::from_value::<TestSpec>(doc.value.get("spec").cloned().unwrap_or(json!({}))) {
                    Ok(spec) => set.add(Arc::new(TestPolicy { name, spec })),
                    Err(e) => errors.push(format!("{source}:{}: {e}", doc.first_line)),
                }
            }
        }
        if errors.is_empty() { Ok(set) } else { Err(errors) }
    })
}

/// A fresh temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Server flags for tests: loopback port 0 for both listeners, data in `dir`, fast reload polling.
pub fn test_args(dir: &Path) -> ServeArgs {
    ServeArgs {
        addr: "127.0.0.1:0".parse().unwrap(),
        metrics_addr: palisade_server::MetricsAddr::Separate("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(dir.join("data")),
        reload_interval: Duration::from_millis(50),
        ..ServeArgs::default()
    }
}

/// Starts a server whose `--policies` folder is `dir/policies`, holding `policies` (file name, YAML).
pub async fn start_with(dir: &Path, policies: &[(&str, &str)], tweak: impl FnOnce(&mut ServeArgs)) -> RunningServer {
    let policy_dir = dir.join("policies");
    std::fs::create_dir_all(&policy_dir).unwrap();
    for (name, text) in policies {
        std::fs::write(policy_dir.join(name), text).unwrap();
    }
    let mut args = test_args(dir);
    args.policies = vec![policy_dir];
    tweak(&mut args);
    palisade_server::start(&args, test_loader(), Vec::new()).await.unwrap()
}

/// A TLS client configuration that trusts `ca` (and presents `client` when given).
pub fn tls_config(ca: &Path, client: Option<(&Path, &Path)>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert).unwrap().map(|c| c.unwrap()).collect();
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap()).unwrap()
        }
    }
}

/// One keep-alive HTTPS/1.1 connection.
pub struct Client {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

/// A response, collected.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Opens a TLS stream to `addr`.
pub async fn tls_stream(
    addr: SocketAddr,
    config: rustls::ClientConfig,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(Arc::new(config)).connect(name, tcp).await
}

impl Client {
    pub async fn connect(addr: SocketAddr, config: rustls::ClientConfig) -> std::io::Result<Self> {
        let stream = tls_stream(addr, config).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        Ok(Self { sender, addr })
    }

    pub async fn trusting(server: &RunningServer) -> Self {
        let ca = server.generated_ca.clone().expect("generated CA");
        Self::connect(server.addr, tls_config(&ca, None)).await.unwrap()
    }

    pub async fn try_request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let mut builder = hyper::Request::builder().method(method).uri(path).header("host", self.addr.to_string());
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let request = builder.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply { status, content_type, body })
    }

    pub async fn request(&mut self, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        self.try_request(method, path, content_type, body).await.unwrap()
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, None, Vec::new()).await
    }

    pub async fn review(&mut self, path: &str, review: &Value) -> Reply {
        self.request("POST", path, Some("application/json"), review.to_string().into_bytes()).await
    }
}

/// Plain-HTTP GET of the metrics listener.
pub async fn scrape(server: &RunningServer) -> String {
    let tcp = TcpStream::connect(server.metrics_addr.unwrap()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get("/metrics").header("host", "metrics").body(Full::new(Bytes::new())).unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// An AdmissionReview for a Pod with `labels`.
pub fn pod_review(uid: &str, api_version: &str, operation: &str, labels: Value, namespace: &str) -> Value {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    });
    let (object, old_object) = if operation == "DELETE" { (Value::Null, pod) } else { (pod, Value::Null) };
    json!({
        "apiVersion": api_version, "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "web", "namespace": namespace, "operation": operation,
            "userInfo": {"username": "alice", "groups": ["dev"]},
            "object": object, "oldObject": old_object, "dryRun": false
        }
    })
}

/// Retries `$cond` (an expression that may `.await`; every 50 ms, at most 200 times) until it is true.
#[macro_export]
macro_rules! eventually {
    ($what:expr, $cond:expr) => {{
        let mut done = false;
        for _ in 0..200 {
            if $cond {
                done = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(done, "never happened: {}", $what);
    }};
}
