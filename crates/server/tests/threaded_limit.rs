//! A burst of slow requests on the blocking pool runs at most `--max-threaded-evaluations` evaluations at
//! once; the rest are answered by their failure policy when their budget runs out. (Own test binary: the
//! concurrency counter is process-wide.)

#[macro_use]
mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_evaluations_are_bounded_and_every_request_is_answered() {
    let dir = temp_dir("threaded-limit");
    let slow = "kind: TestPolicy\nmetadata: {name: slow}\nspec: {action: Enforce, denyLabel: a, sleepMs: 300}\n";
    let server = start_with(&dir, &[("slow.yaml", slow)], |a| {
        a.inline_threshold = Duration::ZERO;
        a.max_threaded_evaluations = Some(2);
    })
    .await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..8 {
        let mut client = Client::trusting(&server).await;
        let review = pod_review(&format!("b-{i}"), "admission.k8s.io/v1", "CREATE", json!({}), "default");
        requests.spawn(async move { client.review("/validate?timeout=1s", &review).await.json() });
    }
    let answers = requests.join_all().await;
    let (mut allowed, mut by_failure_policy) = (0, 0);
    for answer in &answers {
        if answer["response"]["allowed"] == true {
            allowed += 1;
        } else {
            let message = answer["response"]["status"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("denied by failurePolicy Fail of policies: slow"), "{answer}");
            by_failure_policy += 1;
        }
    }
    // 8 × 300 ms of work, two at a time, against a budget of 800 ms: some finish, the rest are answered at
    // their deadline.
    assert_eq!(allowed + by_failure_policy, 8);
    assert!(allowed >= 2, "{answers:?}");
    assert!(by_failure_policy >= 1, "{answers:?}");
    assert_eq!(peak_concurrent_validations(), 2, "never more than the limit, and the limit was reached");
    assert!(server.shutdown().await);
}
