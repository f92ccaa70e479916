//! `run` exits cleanly on SIGTERM after finishing in-flight requests. Alone in its test binary, because the
//! signal goes to the whole process.

mod common;

use common::*;
use serde_json::json;
use std::process::Command;

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = temp_dir("sigterm");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let marker = dir.join("started");
    let policy_dir = dir.join("policies");
    std::fs::create_dir_all(&policy_dir).unwrap();
    let policy = format!(
        "kind: TestPolicy\nmetadata: {{name: slow}}\nspec: {{action: Enforce, denyLabel: a, sleepMs: 300, markerFile: {}}}\n",
        marker.display()
    );
    std::fs::write(policy_dir.join("slow.yaml"), policy).unwrap();
    let mut args = test_args(&dir);
    args.addr = format!("127.0.0.1:{port}").parse().unwrap();
    args.policies = vec![policy_dir];
    args.log_level = "warn".into();
    let server = std::thread::spawn(move || palisade_server::run(args, test_loader(), Vec::new()));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        let ca = dir.join("data").join("ca.crt");
        let mut client = None;
        for _ in 0..200 {
            if ca.exists()
                && let Ok(connected) = Client::connect(addr, tls_config(&ca, None)).await
            {
                client = Some(connected);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let mut client = client.expect("server never came up");
        let in_flight = tokio::spawn(async move {
            let review = pod_review("sig-1", "admission.k8s.io/v1", "CREATE", json!({"a": "1"}), "default");
            client.review("/validate", &review).await
        });
        for _ in 0..200 {
            if marker.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let status = Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status().unwrap();
        assert!(status.success());
        let reply = in_flight.await.unwrap();
        assert_eq!(reply.json()["response"]["allowed"], false);
    });
    let result = server.join().unwrap();
    assert!(result.is_ok(), "{result:?}");
}
