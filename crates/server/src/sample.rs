//! The sample AdmissionReview and the ready-to-paste `curl` printed by the embedded default.

use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;

/// A Pod CREATE review that common example policies reject (privileged, `:latest`, no labels, no limits).
pub fn sample_review() -> serde_json::Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "sample",
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "sample", "namespace": "default"},
                "spec": {
                    "containers": [{
                        "name": "app",
                        "image": "nginx:latest",
                        "securityContext": {"privileged": true}
                    }]
                }
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

/// Writes [`sample_review`] to `path` (creating its folder).
pub fn write_sample_review(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(&sample_review()).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

/// The URL clients on this machine use for `addr` (unspecified addresses become loopback).
pub fn local_url(addr: SocketAddr, path: &str) -> String {
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => format!("https://127.0.0.1:{}{path}", v4.port()),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("https://[::1]:{}{path}", v6.port()),
        addr => format!("https://{addr}{path}"),
    }
}

/// The `curl` command that sends `review` to `/validate`.
pub fn curl_command(addr: SocketAddr, ca: &str, review: &str, client_cert: bool) -> String {
    let client = if client_cert { " --cert CLIENT.crt --key CLIENT.key" } else { "" };
    format!(
        "curl --cacert {ca}{client} -H 'Content-Type: application/json' --data @{review} {}",
        local_url(addr, "/validate")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_a_valid_review() {
        let text = sample_review().to_string();
        let review = crate::review::parse_review(text.as_bytes()).unwrap();
        assert_eq!(review.request.kind.kind, "Pod");
    }

    #[test]
    fn urls_use_loopback_for_unspecified_addresses() {
        let cases = [
            ("0.0.0.0:8443", "https://127.0.0.1:8443/validate"),
            ("127.0.0.1:9443", "https://127.0.0.1:9443/validate"),
            ("[::]:8443", "https://[::1]:8443/validate"),
        ];
        for (addr, want) in cases {
            assert_eq!(local_url(addr.parse().unwrap(), "/validate"), want);
        }
        let curl = curl_command("127.0.0.1:8443".parse().unwrap(), ".palisade/ca.crt", ".palisade/r.json", false);
        assert_eq!(
            curl,
            "curl --cacert .palisade/ca.crt -H 'Content-Type: application/json' --data @.palisade/r.json https://127.0.0.1:8443/validate"
        );
    }
}
