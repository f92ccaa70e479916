//! Validate, mutate, audit and enforce through the real HTTPS server.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

const ENFORCE: &str = "
kind: TestPolicy
metadata: {name: no-forbidden}
spec: {action: Enforce, denyLabel: forbidden}
---
kind: TestPolicy
metadata: {name: no-alice}
spec: {action: Enforce, denyLabel: alice-check, denyUser: nobody}
";

const AUDIT: &str = "
kind: TestPolicy
metadata: {name: audit-experimental}
spec: {action: Audit, emitWarning: true, denyLabel: experimental}
---
kind: TestPolicy
metadata: {name: audit-quiet}
spec: {action: Audit, denyLabel: experimental}
";

const MUTATE: &str = "
kind: TestPolicy
metadata: {name: add-team}
spec: {addLabels: {team: platform, tier: web}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_enforces_audits_and_answers_in_the_version_asked() {
    let dir = temp_dir("validate");
    let server = start_with(&dir, &[("enforce.yaml", ENFORCE), ("audit.yaml", AUDIT)], |_| {}).await;
    let mut client = Client::trusting(&server).await;

    // Enforce failure: denied with Kyverno's message.
    let reply = client
        .review(
            "/validate?timeout=10s",
            &pod_review("u-1", "admission.k8s.io/v1", "CREATE", json!({"forbidden": "x"}), "default"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/json");
    let answer = reply.json();
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], "u-1");
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["status"]["code"], 403);
    assert_eq!(
        answer["response"]["status"]["message"],
        "\n\nresource Pod/default/web was blocked due to the following policies \n\nno-forbidden:\n  check: 'validation error: no-forbidden is not allowed'\n"
    );

    // Audit failure: allowed, with a warning only from the policy that emits warnings; v1beta1 answered in v1beta1.
    let reply = client
        .review(
            "/validate",
            &pod_review("u-2", "admission.k8s.io/v1beta1", "CREATE", json!({"experimental": "y"}), "default"),
        )
        .await;
    let answer = reply.json();
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(answer["response"]["uid"], "u-2");
    assert_eq!(answer["response"]["allowed"], true);
    assert_eq!(
        answer["response"]["warnings"],
        json!(["policy audit-experimental.check: validation error: audit-experimental is not allowed"])
    );

    // DELETE: the object is null; policies see oldObject.
    let reply = client
        .review("/validate", &pod_review("u-3", "admission.k8s.io/v1", "DELETE", json!({"forbidden": "x"}), "default"))
        .await;
    assert_eq!(reply.json()["response"]["allowed"], false);

    // A kind no policy matches is allowed without evaluation.
    let mut other = pod_review("u-4", "admission.k8s.io/v1", "CREATE", json!({"forbidden": "x"}), "default");
    other["request"]["kind"]["kind"] = json!("ConfigMap");
    assert_eq!(client.review("/validate", &other).await.json()["response"]["allowed"], true);

    // Metrics use Kyverno's names and labels.
    let metrics = scrape(&server).await;
    for want in [
        r#"kyverno_admission_requests_total{request_allowed="false",request_webhook="ValidatingWebhookConfiguration",resource_kind="Pod",resource_namespace="default",resource_request_operation="create"} 1"#,
        r#"kyverno_admission_requests_total{request_allowed="false",request_webhook="ValidatingWebhookConfiguration",resource_kind="Pod",resource_namespace="default",resource_request_operation="delete"} 1"#,
        r#"policy_name="no-forbidden",policy_namespace="-",resource_kind="Pod",resource_namespace="default",resource_request_operation="create",rule_name="check",rule_result="fail",rule_type="validate",rule_execution_cause="admission_request"} 1"#,
        r#"policy_validation_mode="audit",policy_type="cluster",policy_background_mode="true",policy_name="audit-quiet""#,
        "kyverno_admission_review_duration_seconds_count{",
        "kyverno_policy_execution_duration_seconds_count{",
        "palisade_policies_loaded 4",
    ] {
        assert!(metrics.contains(want), "missing {want} in\n{metrics}");
    }
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutate_returns_a_json_patch() {
    let dir = temp_dir("mutate");
    let server = start_with(&dir, &[("mutate.yaml", MUTATE), ("enforce.yaml", ENFORCE)], |_| {}).await;
    let mut client = Client::trusting(&server).await;
    let review = pod_review("m-1", "admission.k8s.io/v1", "CREATE", json!({"app": "web"}), "default");
    let answer = client.review("/mutate?timeout=30s", &review).await.json();
    let response = &answer["response"];
    assert_eq!(response["uid"], "m-1");
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    let patch_bytes = base64::engine::general_purpose::STANDARD.decode(response["patch"].as_str().unwrap()).unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&patch_bytes).unwrap();
    let mut object = review["request"]["object"].clone();
    json_patch::patch(&mut object, &patch).unwrap();
    assert_eq!(object["metadata"]["labels"], json!({"app": "web", "team": "platform", "tier": "web"}));

    // Validation rules do not run on /mutate, so the forbidden label is not denied there.
    let review = pod_review("m-2", "admission.k8s.io/v1", "CREATE", json!({"forbidden": "x"}), "default");
    assert_eq!(client.review("/mutate", &review).await.json()["response"]["allowed"], true);

    // Nothing to patch on DELETE.
    let review = pod_review("m-3", "admission.k8s.io/v1", "DELETE", json!({}), "default");
    let answer = client.review("/mutate", &review).await.json();
    assert_eq!(answer["response"]["allowed"], true);
    assert!(answer["response"].get("patch").is_none());
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_namespace_labels_feed_policies() {
    let dir = temp_dir("context");
    let namespaces = dir.join("namespaces.yaml");
    std::fs::write(
        &namespaces,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {env: prod}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: dev, labels: {env: dev}}\n",
    )
    .unwrap();
    let policies = "
kind: TestPolicy
metadata: {name: prod-only}
spec: {action: Enforce, denyLabel: debug, namespaceLabel: env=prod}
---
kind: TestPolicy
metadata: {name: no-mallory}
spec: {action: Enforce, denyUser: mallory}
";
    let server = start_with(&dir, &[("p.yaml", policies)], |a| a.namespaces = Some(namespaces.clone())).await;
    let mut client = Client::trusting(&server).await;
    let allowed = |v: Value| v["response"]["allowed"].as_bool().unwrap();
    let prod = pod_review("n-1", "admission.k8s.io/v1", "CREATE", json!({"debug": "1"}), "prod");
    assert!(!allowed(client.review("/validate", &prod).await.json()));
    let dev = pod_review("n-2", "admission.k8s.io/v1", "CREATE", json!({"debug": "1"}), "dev");
    assert!(allowed(client.review("/validate", &dev).await.json()));
    let mut mallory = pod_review("n-3", "admission.k8s.io/v1", "CREATE", json!({}), "dev");
    mallory["request"]["userInfo"]["username"] = json!("mallory");
    assert!(!allowed(client.review("/validate", &mallory).await.json()));
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert!(ready.text().contains("namespaces: from"), "{}", ready.text());
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_routing() {
    let dir = temp_dir("routing");
    let server = start_with(&dir, &[("enforce.yaml", ENFORCE)], |_| {}).await;
    let mut client = Client::trusting(&server).await;
    let cases = [
        ("GET", "/healthz", 200, "ok"),
        ("GET", "/readyz", 200, "ready: 2 policies loaded from 1 sources"),
        ("GET", "/nowhere", 404, "no endpoint /nowhere"),
        ("GET", "/validate", 405, "method not allowed"),
        ("POST", "/healthz", 405, "method not allowed"),
        ("GET", "/metrics", 404, "no endpoint /metrics"),
    ];
    for (method, path, status, body) in cases {
        let reply = client.request(method, path, None, Vec::new()).await;
        assert_eq!(reply.status, status, "{method} {path}");
        assert!(reply.text().contains(body), "{method} {path}: {}", reply.text());
    }
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_default_generates_certificates_and_a_sample() {
    let dir = temp_dir("embedded");
    let mut args = test_args(&dir);
    args.metrics_addr = palisade_server::MetricsAddr::Main;
    let embedded = vec![("embedded/enforce.yaml".to_string(), ENFORCE.to_string())];
    let server = palisade_server::start(&args, test_loader(), embedded).await.unwrap();
    let ca = server.generated_ca.clone().unwrap();
    assert!(ca.starts_with(dir.join("data")));
    let sample = std::fs::read(server.sample_review.as_ref().unwrap()).unwrap();
    let mut client = Client::trusting(&server).await;
    let reply = client.request("POST", "/validate", Some("application/json"), sample).await;
    assert_eq!(reply.json()["response"]["uid"], "00000000-0000-0000-0000-000000000001");
    // With --metrics-addr none, /metrics is on the HTTPS port.
    let metrics = client.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("kyverno_admission_requests_total"));
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_are_served() {
    let dir = temp_dir("h2");
    let server = start_with(&dir, &[("enforce.yaml", ENFORCE)], |_| {}).await;
    let mut config = tls_config(server.generated_ca.as_ref().unwrap(), None);
    config.alpn_protocols = vec![b"h2".to_vec()];
    let stream = tls_stream(server.addr, config).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let review = pod_review("h2-1", "admission.k8s.io/v1", "CREATE", json!({"forbidden": "x"}), "default");
    let request = hyper::Request::post(format!("https://localhost:{}/validate?timeout=10s", server.addr.port()))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(review.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["response"]["uid"], "h2-1");
    assert_eq!(answer["response"]["allowed"], false);
    assert!(server.shutdown().await);
}
