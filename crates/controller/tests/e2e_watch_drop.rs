//! End-to-end: the `palisade serve --kubeconfig` binary loses its connections to the API server (watches included)
//! and must resume them. The binary reaches the real kube-apiserver through a loopback TCP relay owned by the test,
//! which cuts every open connection and refuses new ones for a while; changes made in that window (a policy update,
//! a new policy, a new namespace's labels) must be served once the relay lets connections through again.
//! `scripts/e2e/run.sh` sets `PALISADE_E2E_KUBECONFIG` and `PALISADE_BIN`. Ignored by default:
//! `cargo test -p palisade-controller --test e2e_watch_drop -- --ignored`.

mod binary;
mod kubectl;

use binary::{Palisade, binary, deny_policy, get_json, gold_policy, install_crds, namespace, pod, wait_for};
use kubectl::{kubeconfig, kubectl, ok};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct RelayState {
    refusing: bool,
    open: Vec<TcpStream>,
}

/// A TCP relay on `127.0.0.1:port` to `upstream` whose connections the test can cut.
struct Relay {
    port: u16,
    state: Arc<Mutex<RelayState>>,
}

impl Relay {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(RelayState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut state = shared.lock().unwrap();
                if state.refusing {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                for stream in [&client, &server] {
                    state.open.push(stream.try_clone().unwrap());
                }
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
        });
        Self { port, state }
    }

    /// Closes every open connection and refuses new ones until [`Relay::resume`]; returns how many were open.
    fn cut(&self) -> usize {
        let mut state = self.state.lock().unwrap();
        state.refusing = true;
        let open = std::mem::take(&mut state.open);
        for stream in &open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        open.len() / 2
    }

    fn resume(&self) {
        self.state.lock().unwrap().refusing = false;
    }
}

/// Copies `from` to `to` on a thread until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

#[test]
#[ignore = "needs a kube-apiserver and the palisade binary: scripts/e2e/run.sh"]
fn serve_binary_resumes_its_watches_after_the_connection_drops() {
    install_crds();
    let id = std::process::id();
    let original = std::fs::read_to_string(kubeconfig()).unwrap();
    let server_line = original.lines().find(|l| l.trim_start().starts_with("server:")).expect("server: line");
    let url = server_line.trim_start().trim_start_matches("server:").trim();
    let upstream = url.trim_start_matches("https://").trim_end_matches('/').to_string();
    let relay = Relay::start(upstream);
    let relayed = std::env::temp_dir().join(format!("palisade-e2e-drop-{id}.kubeconfig"));
    std::fs::write(&relayed, original.replace(url, &format!("https://127.0.0.1:{}", relay.port))).unwrap();

    let webhook = format!("palisade-drop-{id}");
    let lease = format!("palisade-drop-{id}");
    let secret = format!("palisade-drop-tls-{id}");
    let palisade = Palisade::start(
        "drop",
        relayed.to_str().unwrap(),
        &[
            "--namespace=default",
            &format!("--lease-name={lease}"),
            &format!("--webhook-name={webhook}"),
            "--identity=e2e-drop",
            &format!("--tls-secret={secret}"),
        ],
    );
    let ns = format!("e2e-drop-{id}");
    namespace(&ns, json!({}));
    ok(&["apply", "-f", "-"], Some(&deny_policy("e2e-drop-deny", "denied before the drop")));
    let mut attempt = 0;
    let mut denied_with = |ns: &str, labels: serde_json::Value, message: &str| {
        attempt += 1;
        let out = kubectl(&["create", "-f", "-"], Some(&pod(ns, &format!("p{attempt}"), labels)));
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains(message)
    };
    wait_for("the policy to deny", || denied_with(&ns, json!({"forbidden": "yes"}), "denied before the drop"));

    // The drop: every connection of the binary to the API server closes, and reconnects are refused.
    let cut = relay.cut();
    assert!(cut >= 2, "expected the policy and cache watches to be open, found {cut} connection(s)");
    ok(&["apply", "-f", "-"], Some(&deny_policy("e2e-drop-deny", "changed while the watch was down")));
    ok(
        &["apply", "-f", "-"],
        Some(&gold_policy("e2e-drop-gold", "palisade-e2e-drop", "gold namespaces need a team label (drop test)")),
    );
    let gold = format!("e2e-drop-gold-{id}");
    namespace(&gold, json!({"palisade-e2e-drop": "gold"}));
    wait_for("the binary to notice the dropped watch", || {
        palisade.log().contains("watch failed; retrying with backoff")
    });
    // While it cannot reach the API server it keeps serving the policies it has.
    assert!(denied_with(&ns, json!({"forbidden": "yes"}), "denied before the drop"), "{}", palisade.log());

    // Connections allowed again: the watches resume and the changes made meanwhile are served.
    relay.resume();
    wait_for("the update made during the drop", || {
        denied_with(&ns, json!({"forbidden": "yes"}), "changed while the watch was down")
    });
    wait_for("the new policy and the new namespace's labels", || {
        denied_with(&gold, json!({}), "gold namespaces need a team label (drop test)")
    });
    ok(&["create", "-f", "-"], Some(&pod(&gold, "with-team", json!({"team": "a"}))));
    wait_for("the leader to write Ready on the policy created during the drop", || {
        let Some(policy) = get_json(&["clusterpolicy", "e2e-drop-gold"]) else { return false };
        let conditions = policy["status"]["conditions"].as_array().cloned().unwrap_or_default();
        conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")
    });

    palisade.stop();
    let out = std::process::Command::new(binary())
        .args([
            "uninstall",
            &format!("--kubeconfig={}", kubeconfig()),
            &format!("--webhook-name={webhook}"),
            "--delete",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "uninstall: {}", String::from_utf8_lossy(&out.stderr));
    for policy in ["e2e-drop-deny", "e2e-drop-gold"] {
        ok(&["delete", "clusterpolicy", policy], None);
    }
    ok(&["delete", "lease", "-n", "default", &lease, "--ignore-not-found"], None);
    ok(&["delete", "secret", "-n", "default", &secret, "--ignore-not-found"], None);
    let _ = std::fs::remove_file(relayed);
}
