//! `kubectl` against the e2e API server (shared by the e2e test targets).

use std::process::{Command, Output, Stdio};

/// The kubeconfig `scripts/e2e/run.sh` exports for the tests.
pub fn kubeconfig() -> String {
    std::env::var("PALISADE_E2E_KUBECONFIG").expect("PALISADE_E2E_KUBECONFIG (run scripts/e2e/run.sh)")
}

/// Runs `kubectl args`, with `stdin` piped in when given.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    if let Some(text) = stdin {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// [`kubectl`] that must succeed; returns its stdout.
pub fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(args, stdin);
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
