//! Policy hot reload, serving-certificate rotation and client certificates (mTLS).

#[macro_use]
mod common;

use common::*;
use palisade_server::certs;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use serde_json::json;
use std::path::{Path, PathBuf};

const DENY_A: &str = "kind: TestPolicy\nmetadata: {name: deny-a}\nspec: {action: Enforce, denyLabel: a}\n";
const DENY_B: &str = "kind: TestPolicy\nmetadata: {name: deny-b}\nspec: {action: Enforce, denyLabel: b}\n";

async fn allowed(client: &mut Client, label: &str) -> bool {
    let review = pod_review("r", "admission.k8s.io/v1", "CREATE", json!({label: "1"}), "default");
    client.review("/validate", &review).await.json()["response"]["allowed"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_changes_apply_and_broken_files_keep_the_last_good_set() {
    let dir = temp_dir("reload");
    let server = start_with(&dir, &[("a.yaml", DENY_A)], |_| {}).await;
    let policy_dir = dir.join("policies");
    let mut client = Client::trusting(&server).await;
    assert!(!allowed(&mut client, "a").await);
    assert!(allowed(&mut client, "b").await);

    // A new file is picked up.
    std::fs::write(policy_dir.join("b.yaml"), DENY_B).unwrap();
    eventually!("deny-b active", !allowed(&mut client, "b").await);

    // A broken file: reported, never half-applied (deny-a stays even though a.yaml is edited in the same change).
    std::fs::write(policy_dir.join("c.yaml"), "kind: TestPolicy\nmetadata: {name: c}\nspec: {bogus: 1}\n").unwrap();
    std::fs::write(policy_dir.join("a.yaml"), "kind: TestPolicy\nmetadata: {name: allow-a}\nspec: {}\n").unwrap();
    eventually!("readyz reports the broken file", client.get("/readyz").await.text().contains("c.yaml"));
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, 200, "the last good set keeps the server ready");
    assert!(ready.text().contains("last good set kept"), "{}", ready.text());
    assert!(ready.text().contains("unknown field `bogus`"), "{}", ready.text());
    assert!(!allowed(&mut client, "a").await, "the old a.yaml is still in force");
    let metrics = scrape(&server).await;
    assert!(metrics.contains("palisade_policy_load_errors 1"), "{metrics}");
    assert!(!metrics.contains(r#"palisade_policy_reloads_total{result="failure"} 0"#), "{metrics}");
    assert!(metrics.contains(r#"palisade_policy_reloads_total{result="failure"}"#), "{metrics}");

    // Fixing the file applies the whole change at once.
    std::fs::remove_file(policy_dir.join("c.yaml")).unwrap();
    eventually!("allow-a active", allowed(&mut client, "a").await);
    assert!(!client.get("/readyz").await.text().contains("failed"));
    assert!(scrape(&server).await.contains("palisade_policy_load_errors 0"));
    assert!(server.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_initial_load_is_not_ready() {
    let dir = temp_dir("notready");
    let server = start_with(&dir, &[("x.yaml", "kind: Nope\n")], |_| {}).await;
    let mut client = Client::trusting(&server).await;
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("x.yaml:1: unknown kind `Nope`"), "{}", ready.text());
    let review = pod_review("r", "admission.k8s.io/v1", "CREATE", json!({}), "default");
    assert_eq!(client.review("/validate", &review).await.status, 503);
    assert!(server.shutdown().await);
}

fn copy_pair(from: &certs::GeneratedCerts, cert: &Path, key: &Path) {
    // Key first, then certificate: the server must not serve a mismatched pair in between.
    std::fs::copy(&from.key, key).unwrap();
    std::fs::copy(&from.cert, cert).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_without_dropping_connections() {
    let dir = temp_dir("rotate");
    let first = certs::generate(&dir.join("first")).unwrap();
    let second = certs::generate(&dir.join("second")).unwrap();
    let (cert, key) = (dir.join("serving.crt"), dir.join("serving.key"));
    copy_pair(&first, &cert, &key);
    let server = start_with(&dir, &[("a.yaml", DENY_A)], |a| {
        a.tls_cert = Some(cert.clone());
        a.tls_key = Some(key.clone());
    })
    .await;
    assert!(server.generated_ca.is_none());
    let mut old_connection = Client::connect(server.addr, tls_config(&first.ca, None)).await.unwrap();
    assert!(!allowed(&mut old_connection, "a").await);

    copy_pair(&second, &cert, &key);
    let addr = server.addr;
    eventually!("new certificate served", tls_stream(addr, tls_config(&second.ca, None)).await.is_ok());
    assert!(tls_stream(addr, tls_config(&first.ca, None)).await.is_err(), "old CA no longer verifies");
    // The connection opened before the rotation keeps working.
    assert!(!allowed(&mut old_connection, "a").await);
    assert!(scrape(&server).await.contains(r#"palisade_certificate_reloads_total{result="success"} 1"#));
    assert!(server.shutdown().await);
}

/// Writes a client CA and a client certificate it signs; returns (ca, cert, key).
fn client_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["kube-apiserver".to_string()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (dir.join("client-ca.crt"), dir.join("client.crt"), dir.join("client.key"));
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_with_client_ca() {
    let dir = temp_dir("mtls");
    let (client_ca, client_cert, client_key) = client_certificates(&dir.join("clients"));
    let server = start_with(&dir, &[("a.yaml", DENY_A)], |a| a.client_ca = Some(client_ca.clone())).await;
    let ca = server.generated_ca.clone().unwrap();

    let mut anonymous = Client::connect(server.addr, tls_config(&ca, None)).await;
    // TLS 1.3 reports the missing certificate on the first read, so try a request too.
    let refused = match &mut anonymous {
        Err(_) => true,
        Ok(client) => {
            let review = pod_review("r", "admission.k8s.io/v1", "CREATE", json!({}), "default");
            let body = review.to_string().into_bytes();
            client.try_request("POST", "/validate", Some("application/json"), body).await.is_err()
        }
    };
    assert!(refused, "a client without a certificate must be refused");

    let mut client = Client::connect(server.addr, tls_config(&ca, Some((&client_cert, &client_key)))).await.unwrap();
    assert!(!allowed(&mut client, "a").await);
    assert!(server.shutdown().await);
}
