//! The `palisade` binary driven against the e2e API server: start/stop, `/readyz`, kubectl helpers (shared by the
//! e2e test targets that run the binary).
#![allow(dead_code)]

use crate::kubectl::{kubectl, ok};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `palisade` binary: `$PALISADE_BIN`, else `palisade` in the target folder of this test.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PALISADE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join("palisade");
    assert!(path.is_file(), "{} missing: build it with `cargo build -p palisade` (run.sh does)", path.display());
    path
}

pub fn get_json(args: &[&str]) -> Option<Value> {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out = kubectl(&full, None);
    out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
}

pub fn pod(ns: &str, name: &str, labels: Value) -> String {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    })
    .to_string()
}

pub fn namespace(name: &str, labels: Value) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}});
    ok(&["apply", "-f", "-"], Some(&ns.to_string()));
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": name}, "automountServiceAccountToken": false});
    ok(&["apply", "-f", "-"], Some(&sa.to_string()));
}

pub fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(90), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `palisade serve`; SIGTERM on [`Palisade::stop`], SIGKILL when dropped (a failed test).
pub struct Palisade {
    child: Option<Child>,
    /// The HTTPS port it serves on.
    pub port: u16,
    /// Its data folder and log.
    pub dir: PathBuf,
}

impl Palisade {
    pub fn start(name: &str, kubeconfig: &str, extra: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("palisade-e2e-bin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("palisade.log")).unwrap();
        let mut args: Vec<String> = vec![
            "serve".into(),
            format!("--kubeconfig={kubeconfig}"),
            format!("--addr=127.0.0.1:{port}"),
            "--metrics-addr=none".into(),
            format!("--data-dir={}", dir.join("data").display()),
            "--log-level=info,kube=warn".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(binary())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
        Self { child: Some(child), port, dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("palisade.log")).unwrap_or_default()
    }

    /// `(HTTP status, body)` of `/readyz` (TLS not verified: the certificate changes when the Secret's is
    /// installed; [`Palisade::readyz_trusting`] checks it).
    pub fn readyz(&self) -> Option<(u16, String)> {
        self.curl_readyz(&["-k"])
    }

    /// `/readyz` trusting only the CA in `ca_file`.
    pub fn readyz_trusting(&self, ca_file: &std::path::Path) -> Option<(u16, String)> {
        self.curl_readyz(&["--cacert", ca_file.to_str().unwrap()])
    }

    /// The body of `GET path` (TLS not verified), e.g. `/metrics` (served on the HTTPS port with `--metrics-addr
    /// none`).
    pub fn get(&self, path: &str) -> String {
        let url = format!("https://127.0.0.1:{}{path}", self.port);
        let out = Command::new("curl").args(["-sSk", "--max-time", "5", &url]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn curl_readyz(&self, tls: &[&str]) -> Option<(u16, String)> {
        let url = format!("https://127.0.0.1:{}/readyz", self.port);
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .args(tls)
            .args(["-w", "\n%{http_code}", &url])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n')?;
        Some((code.trim().parse().ok()?, body.to_string()))
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "palisade exited with {status}:\n{}", self.log());
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "palisade did not stop:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Palisade {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("palisade log ({}):\n{}", self.dir.display(), self.log());
        }
    }
}

/// Applies Palisade's CRDs and waits until they are served.
pub fn install_crds() {
    ok(&["apply", "-f", "-"], Some(&palisade_controller::crds_yaml()));
    for crd in palisade_controller::crds() {
        let name = format!("crd/{}", crd["metadata"]["name"].as_str().unwrap());
        ok(&["wait", "--for=condition=established", "--timeout=60s", &name], None);
    }
}

/// An Enforce ClusterPolicy `name` that denies Pods labelled `forbidden` with `message`.
pub fn deny_policy(name: &str, message: &str) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: {name}
spec:
  validationFailureAction: Enforce
  rules:
    - name: no-forbidden-label
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "{message}"
        pattern:
          metadata:
            =(labels):
              X(forbidden): "null"
"#
    )
}

/// A namespaceSelector rule: only Pods in namespaces labelled `{label}: gold` need a `team` label (`message`).
pub fn gold_policy(name: &str, label: &str, message: &str) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: {name}
spec:
  validationFailureAction: Enforce
  rules:
    - name: gold-needs-team
      match:
        any:
          - resources:
              kinds: [Pod]
              namespaceSelector:
                matchLabels:
                  {label}: gold
      validate:
        message: "{message}"
        pattern:
          metadata:
            labels:
              team: "?*"
"#
    )
}
