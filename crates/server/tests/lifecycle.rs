//! Deadlines follow each policy's failure policy; graceful shutdown finishes in-flight requests.

#[macro_use]
mod common;

use common::*;
use palisade_server::ServeArgs;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_budget_evaluation_follows_the_failure_policy() {
    // Always on blocking threads (hard timeout at the deadline), then the default: inline while fast.
    for (run, threshold) in [Duration::ZERO, ServeArgs::default().inline_threshold].into_iter().enumerate() {
        over_budget(&format!("deadline-{run}"), threshold).await;
    }
}

async fn over_budget(name: &str, threshold: Duration) {
    let dir = temp_dir(name);
    // 1.5 s of work against a budget of 80 % of 1 s.
    let slow_fail = "kind: TestPolicy\nmetadata: {name: slow-fail}\nspec: {action: Enforce, sleepMs: 1500}\n";
    let slow_ignore = "kind: TestPolicy\nmetadata: {name: slow-ignore}\nspec: {kinds: [ConfigMap], failurePolicy: Ignore, action: Enforce, sleepMs: 1500}\n";
    let server =
        start_with(&dir, &[("fail.yaml", slow_fail), ("ignore.yaml", slow_ignore)], |a| a.inline_threshold = threshold)
            .await;
    let mut client = Client::trusting(&server).await;

    let pod = pod_review("t-1", "admission.k8s.io/v1", "CREATE", json!({}), "default");
    let answer = client.review("/validate?timeout=1s", &pod).await.json();
    assert_eq!(answer["response"]["uid"], "t-1");
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("did not finish within its budget"), "{message}");
    assert!(message.contains("denied by failurePolicy Fail of policies: slow-fail"), "{message}");

    let mut config_map = pod_review("t-2", "admission.k8s.io/v1", "CREATE", json!({}), "default");
    config_map["request"]["kind"]["kind"] = json!("ConfigMap");
    let answer = client.review("/validate?timeout=1s", &config_map).await.json();
    assert_eq!(answer["response"]["allowed"], true);
    let warning = answer["response"]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("allowed by failurePolicy Ignore"), "{warning}");

    let metrics = scrape(&server).await;
    for allowed in ["false", "true"] {
        let want = format!(
            r#"palisade_admission_timeouts_total{{request_webhook="ValidatingWebhookConfiguration",request_allowed="{allowed}"}} 1"#
        );
        assert!(metrics.contains(&want), "{want}\n{metrics}");
    }
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_requests_and_stops_accepting() {
    let dir = temp_dir("shutdown");
    let marker = dir.join("started");
    let policy = format!(
        "kind: TestPolicy\nmetadata: {{name: slow}}\nspec: {{action: Enforce, denyLabel: a, sleepMs: 500, markerFile: {}}}\n",
        marker.display()
    );
    let server = start_with(&dir, &[("slow.yaml", &policy)], |_| {}).await;
    let addr = server.addr;
    let ca = server.generated_ca.clone().unwrap();
    let mut idle = Client::connect(addr, tls_config(&ca, None)).await.unwrap();
    assert_eq!(idle.get("/healthz").await.status, 200);

    let mut busy = Client::connect(addr, tls_config(&ca, None)).await.unwrap();
    let in_flight = tokio::spawn(async move {
        let review = pod_review("s-1", "admission.k8s.io/v1", "CREATE", json!({"a": "1"}), "default");
        busy.review("/validate", &review).await
    });
    eventually!("request in flight", marker.exists());

    assert!(server.shutdown().await, "in-flight requests finish within the grace period");
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["response"]["allowed"], false);
    assert!(idle.try_request("GET", "/healthz", None, Vec::new()).await.is_err(), "idle connections are closed");
    assert!(tls_stream(addr, tls_config(&ca, None)).await.is_err(), "no new connections");
}
