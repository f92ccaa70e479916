//! The sandbox walk-through of docs/sandboxing.md through the real webhook: `palisade serve`
//! with the example RuntimeClassPolicy and RuntimeClasses, AdmissionReviews over HTTPS
//! (curl) in, a JSON Patch or a denial out.

use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn start() -> Server {
    let port = free_port();
    let data = std::env::temp_dir().join(format!("palisade-sandbox-webhook-{}-{port}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(repo())
        .args(["serve", "--policies", "examples/sandbox/policy.yaml"])
        .args(["--cluster-resources", "examples/sandbox/runtimeclasses.yaml"])
        .args(["--addr", &format!("127.0.0.1:{port}"), "--metrics-addr", "none", "--log-level", "warn"])
        .arg("--data-dir")
        .arg(&data)
        .spawn()
        .expect("start palisade serve");
    let server = Server { child, port, data };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if server.data.join("ca.crt").exists()
            && curl(&server, "GET", "/readyz", None).is_some_and(|(code, _)| code == 200)
        {
            return server;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server did not become ready");
}

/// Sends a request with curl; returns the HTTP status and body.
fn curl(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, String)> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method, "--cacert"])
        .arg(server.data.join("ca.crt"))
        .arg(format!("https://127.0.0.1:{}{path}?timeout=10s", server.port));
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary", &b.to_string()]);
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.trim().parse().ok()?, body.to_string()))
}

fn pod(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("examples/sandbox/resources/pods.yaml")).expect("pods.yaml");
    palisade_engine::parse_documents("pods.yaml", &text)
        .expect("parse pods")
        .into_iter()
        .map(|d| d.value)
        .find(|v| v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("example pod {name}"))
}

fn review(object: &Value, old: Option<&Value>) -> Value {
    let api = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let kind = object["kind"].as_str().unwrap_or_default();
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0f9c7a4e-0000-4000-8000-000000000001",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
            "operation": if old.is_some() { "UPDATE" } else { "CREATE" }, "userInfo": {"username": "dev"},
            "object": object, "oldObject": old.cloned().unwrap_or(Value::Null)
        }
    })
}

fn response(server: &Server, path: &str, object: &Value) -> Value {
    send(server, path, &review(object, None))
}

fn send(server: &Server, path: &str, review: &Value) -> Value {
    let (code, body) = curl(server, "POST", path, Some(review)).expect("curl");
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("AdmissionReview JSON");
    assert_eq!(v["response"]["uid"], "0f9c7a4e-0000-4000-8000-000000000001");
    v["response"].clone()
}

fn apply_patch(object: &Value, response: &Value) -> Value {
    let mut out = object.clone();
    if let Some(p) = response["patch"].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD.decode(p).expect("base64 patch");
        let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("JSON Patch");
        json_patch::patch(&mut out, &patch).expect("patch applies");
    }
    out
}

#[test]
fn sandbox_policy_through_the_running_webhook() {
    assert!(
        Path::new("/usr/bin/curl").exists() || Command::new("curl").arg("--version").output().is_ok(),
        "curl needed"
    );
    let server = start();

    // Untrusted image: mutated to kata, then the mutated pod passes validation.
    let untrusted = pod("untrusted-app");
    let m = response(&server, "/mutate", &untrusted);
    assert_eq!(m["allowed"], true);
    assert_eq!(m["patchType"], "JSONPatch");
    let mutated = apply_patch(&untrusted, &m);
    assert_eq!(mutated["spec"]["runtimeClassName"], "kata");
    assert_eq!(response(&server, "/validate", &mutated)["allowed"], true);

    // Trusted workload: no patch, allowed.
    let trusted = pod("trusted-app");
    let m = response(&server, "/mutate", &trusted);
    assert!(m.get("patch").is_none_or(Value::is_null), "{m}");
    assert_eq!(response(&server, "/validate", &trusted)["allowed"], true);

    // hostNetwork cannot run in a sandbox: denied with the rule named.
    let host = apply_patch(&pod("host-network-agent"), &response(&server, "/mutate", &pod("host-network-agent")));
    let v = response(&server, "/validate", &host);
    assert_eq!(v["allowed"], false, "{v}");
    assert!(v["status"]["message"].as_str().unwrap_or_default().contains("sandbox-compatibility"), "{v}");

    // A RuntimeClass that does not exist: denied, naming it.
    let missing = pod("missing-class");
    let v = response(&server, "/validate", &apply_patch(&missing, &response(&server, "/mutate", &missing)));
    assert_eq!(v["allowed"], false, "{v}");
    let message = v["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("runtime-class-exists") && message.contains("kata-fc"), "{message}");
}

/// The CLI's verdict for every example resource: `(kind/ns/name, denied?, runtime after mutation)`.
fn cli_verdicts() -> Vec<(String, bool, Value)> {
    let out_dir = std::env::temp_dir().join(format!("palisade-sandbox-cli-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(repo())
        .args(["apply", "examples/sandbox/policy.yaml", "--resource", "examples/sandbox/resources"])
        .args(["--cluster-resources", "examples/sandbox/runtimeclasses.yaml", "--output-format", "json", "--output"])
        .arg(&out_dir)
        .output()
        .expect("palisade apply");
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("apply JSON");
    let mut verdicts = Vec::new();
    for file in ["pods.yaml", "deployments.yaml"] {
        let text = std::fs::read_to_string(repo().join("examples/sandbox/resources").join(file)).expect("read");
        for doc in palisade_engine::parse_documents(file, &text).expect("parse") {
            let v = doc.value;
            let id = format!(
                "{}/{}/{}",
                v["kind"].as_str().unwrap_or_default(),
                v["metadata"]["namespace"].as_str().unwrap_or_default(),
                v["metadata"]["name"].as_str().unwrap_or_default()
            );
            let denied = results.iter().any(|r| r["resource"] == id.as_str() && r["result"] == "fail");
            let written = out_dir.join(format!(
                "{}-{}-{}.json",
                v["kind"].as_str().unwrap_or_default(),
                v["metadata"]["namespace"].as_str().unwrap_or_default(),
                v["metadata"]["name"].as_str().unwrap_or_default()
            ));
            let patched: Value =
                std::fs::read(&written).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(v.clone());
            verdicts.push((id, denied, runtime_of(&patched)));
        }
    }
    let _ = std::fs::remove_dir_all(&out_dir);
    verdicts
}

fn resources() -> Vec<Value> {
    ["pods.yaml", "deployments.yaml"]
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(repo().join("examples/sandbox/resources").join(file)).expect("read");
            palisade_engine::parse_documents(file, &text).expect("parse").into_iter().map(|d| d.value)
        })
        .collect()
}

/// `runtimeClassName` of a Pod or of a controller's pod template.
fn runtime_of(object: &Value) -> Value {
    let spec = match object["kind"].as_str() {
        Some("Pod") => &object["spec"],
        Some("CronJob") => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &object["spec"]["template"]["spec"],
    };
    spec.get("runtimeClassName").cloned().unwrap_or(Value::Null)
}

#[test]
fn webhook_and_cli_agree_on_every_example_and_updates_never_patch_pods() {
    let server = start();
    let verdicts = cli_verdicts();
    assert!(verdicts.len() >= 10, "examples lost: {verdicts:?}");
    for object in resources() {
        let id = format!(
            "{}/{}/{}",
            object["kind"].as_str().unwrap_or_default(),
            object["metadata"]["namespace"].as_str().unwrap_or_default(),
            object["metadata"]["name"].as_str().unwrap_or_default()
        );
        let (_, denied, runtime) = verdicts.iter().find(|(v, _, _)| *v == id).expect("CLI verdict");
        let mutated = apply_patch(&object, &response(&server, "/mutate", &object));
        assert_eq!(&runtime_of(&mutated), runtime, "{id}: runtime after the webhook's patch");
        let validated = response(&server, "/validate", &mutated);
        assert_eq!(validated["allowed"], json!(!denied), "{id}: webhook and CLI disagree: {validated}");
    }
    // UPDATE of an existing Pod: runtimeClassName is immutable, so no patch, and the request is let through.
    let old = pod("untrusted-app");
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"touched": "yes"});
    let m = send(&server, "/mutate", &review(&new, Some(&old)));
    assert!(m.get("patch").is_none_or(Value::is_null), "UPDATE must not patch a Pod: {m}");
    assert_eq!(send(&server, "/validate", &review(&new, Some(&old)))["allowed"], true);
}
