//! Bad input gets a well-formed HTTP error with a message, and the server keeps serving.

#[macro_use]
mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const POLICY: &str = "kind: TestPolicy\nmetadata: {name: deny-a}\nspec: {action: Enforce, denyLabel: a}\n";

/// Sends raw bytes over TLS while reading the answer; returns the status line and the text received.
async fn raw_exchange(server: &palisade_server::RunningServer, head: String, body: Vec<u8>) -> (String, String) {
    let ca = server.generated_ca.clone().unwrap();
    let stream = tls_stream(server.addr, tls_config(&ca, None)).await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let writer_task = tokio::spawn(async move {
        // The server may answer and close before everything is written: write errors are expected then.
        if writer.write_all(head.as_bytes()).await.is_ok() {
            for chunk in body.chunks(64 * 1024) {
                if writer.write_all(chunk).await.is_err() {
                    break;
                }
            }
            let _ = writer.flush().await;
        }
        // Keep the write half open (a slow client never finishes).
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(writer);
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                received.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&received);
                if let Some((headers, rest)) = text.split_once("\r\n\r\n") {
                    let length = headers.lines().find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    });
                    if length.is_some_and(|len| rest.len() >= len) {
                        break;
                    }
                }
            }
        }
    }
    writer_task.abort();
    let text = String::from_utf8_lossy(&received).into_owned();
    (text.lines().next().unwrap_or_default().to_string(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_413_415() {
    let dir = temp_dir("bad");
    let server = start_with(&dir, &[("p.yaml", POLICY)], |_| {}).await;
    let mut client = Client::trusting(&server).await;
    let deep = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"d","kind":{{"kind":"Pod"}},"object":{}{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut invalid_utf8 =
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    invalid_utf8.extend_from_slice(br#"","kind":{"kind":"Pod"}}}"#);
    let review = pod_review("ok", "admission.k8s.io/v1", "CREATE", json!({}), "default");
    let mut no_uid = review.clone();
    no_uid["request"]["uid"] = json!("");
    // (case, content type, body, status, message)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("not JSON", Some("application/json"), b"hello".to_vec(), 400, "not valid JSON"),
        ("truncated", Some("application/json"), br#"{"kind": "AdmissionRev"#.to_vec(), 400, "not valid JSON"),
        (
            "not a review",
            Some("application/json"),
            br#"{"apiVersion":"v1","kind":"Pod"}"#.to_vec(),
            400,
            "not an AdmissionReview",
        ),
        (
            "no request",
            Some("application/json"),
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            400,
            "has no request",
        ),
        ("no uid", Some("application/json"), no_uid.to_string().into_bytes(), 400, "has no uid"),
        ("deep nesting", Some("application/json"), deep.into_bytes(), 400, "recursion limit exceeded"),
        ("invalid UTF-8", Some("application/json"), invalid_utf8, 400, "not valid JSON"),
        ("wrong content type", Some("text/plain"), review.to_string().into_bytes(), 415, "application/json"),
        ("no content type", None, review.to_string().into_bytes(), 415, "application/json"),
    ];
    for (name, content_type, body, status, message) in cases {
        let reply = client.request("POST", "/validate", content_type, body).await;
        assert_eq!(reply.status, status, "{name}: {}", reply.text());
        assert!(reply.text().contains(message), "{name}: {}", reply.text());
        assert!(reply.content_type.starts_with("text/plain"), "{name}");
    }
    // A charset parameter is fine.
    let reply = client
        .request("POST", "/validate", Some("application/json; charset=utf-8"), review.to_string().into_bytes())
        .await;
    assert_eq!(reply.status, 200);

    // Declared too large: refused before reading.
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        3 * 1024 * 1024 + 1
    );
    let (status, text) = raw_exchange(&server, head, Vec::new()).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{text}");
    assert!(text.contains("larger than 3145728 bytes"), "{text}");

    // Chunked, no length, too large: cut off at the limit.
    let mut chunked = Vec::new();
    for _ in 0..52 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        chunked.extend(std::iter::repeat_n(b' ', 64 * 1024));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head =
        "POST /validate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_string();
    let (status, text) = raw_exchange(&server, head, chunked).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{text}");

    // The server still answers on the first connection.
    let answer = client.review("/validate", &review).await;
    assert_eq!(answer.json()["response"]["allowed"], true);
    let metrics = scrape(&server).await;
    for code in [400, 413, 415] {
        assert!(metrics.contains(&format!("palisade_http_errors_total{{code=\"{code}\"}}")), "{code}: {metrics}");
    }
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_get_408() {
    let dir = temp_dir("slow");
    let server = start_with(&dir, &[("p.yaml", POLICY)], |a| a.read_timeout = Duration::from_millis(300)).await;
    let head = "POST /validate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"apiVersion\":".to_string();
    let (status, text) = raw_exchange(&server, head, Vec::new()).await;
    assert_eq!(status, "HTTP/1.1 408 Request Timeout", "{text}");
    assert!(text.contains("request body not received within 300ms"), "{text}");

    // Others are served meanwhile and after.
    let mut client = Client::trusting(&server).await;
    let review = pod_review("ok", "admission.k8s.io/v1", "CREATE", json!({"a": "1"}), "default");
    assert_eq!(client.review("/validate", &review).await.json()["response"]["allowed"], false);
    assert!(server.shutdown().await);
}
