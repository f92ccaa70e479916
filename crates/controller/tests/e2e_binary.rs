//! End-to-end: the real `palisade serve --kubeconfig` binary against a real kube-apiserver (v1.20.2), out of
//! cluster with `https://127.0.0.1:PORT` webhooks. `scripts/e2e/run.sh` starts the API server, builds the binary
//! and sets `PALISADE_E2E_KUBECONFIG` and `PALISADE_BIN`. Ignored by default:
//! `cargo test -p palisade-controller --test e2e_binary -- --ignored`.

mod binary;
mod kubectl;

use binary::{Palisade, binary, deny_policy, free_port, get_json, gold_policy, install_crds, namespace, pod, wait_for};
use kubectl::{kubeconfig, kubectl, ok};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const MUTATE: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-bin-add-label
spec:
  rules:
    - name: add-label
      match:
        any:
          - resources:
              kinds: [Pod]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              palisade-bin: mutated
"#;

/// `context.apiCall`: a GET of a ConfigMap through the API server, `jmesPath` into it, `default` when missing; and a
/// POST of a SubjectAccessReview whose body is built from `data` with variables (the requesting user and groups).
const API_CALL: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-bin-api-call
spec:
  validationFailureAction: Enforce
  rules:
    - name: limit-from-api
      match:
        any:
          - resources:
              kinds: [Pod]
      context:
        - name: maxPods
          apiCall:
            urlPath: "/api/v1/namespaces/{{request.namespace}}/configmaps/api-limits"
            jmesPath: "data.max"
            default: "unset"
        - name: canDelete
          apiCall:
            method: POST
            urlPath: "/apis/authorization.k8s.io/v1/subjectaccessreviews"
            data:
              - key: apiVersion
                value: authorization.k8s.io/v1
              - key: kind
                value: SubjectAccessReview
              - key: spec
                value:
                  user: "{{request.userInfo.username}}"
                  groups: "{{request.userInfo.groups}}"
                  resourceAttributes:
                    namespace: "{{request.namespace}}"
                    verb: delete
                    resource: pods
            jmesPath: "status.allowed"
      preconditions:
        all:
          - key: "{{request.object.metadata.labels.\"check-api\" || ''}}"
            operator: Equals
            value: "yes"
      validate:
        message: "apiCall says max is {{maxPods}}, may delete pods: {{canDelete}}"
        deny:
          conditions:
            any:
              - key: "{{maxPods}}"
                operator: Equals
                value: "zero"
"#;

const AUDIT: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-bin-audit-team
spec:
  validationFailureAction: Audit
  rules:
    - name: require-team
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "label team is required"
        pattern:
          metadata:
            labels:
              team: "?*"
"#;

/// `palisade uninstall --kubeconfig ...` with `extra`; its stdout.
fn uninstall(extra: &[&str]) -> String {
    let out = Command::new(binary())
        .arg("uninstall")
        .arg(format!("--kubeconfig={}", kubeconfig()))
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "palisade uninstall failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn decode(b64: &str) -> String {
    use base64::Engine as _;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default()).unwrap_or_default()
}

fn expiring_bundle() -> palisade_controller::serving_ca::ServingBundle {
    use palisade_controller::serving_ca::{Rotation, generate};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let names = ["127.0.0.1".to_string(), "localhost".to_string()];
    let bundle = generate(&names, now - 300 * 86_400, Rotation::default(), None).unwrap();
    assert!(bundle.needs_renewal(now, Rotation::default()));
    bundle
}

/// Waits until the Secret's `ca.crt` is no longer `old_ca`; returns the new CA and `ca-previous.crt`.
fn wait_for_rotation(secret: &str, old_ca: &str) -> (String, Option<String>) {
    let mut rotated = None;
    wait_for("the leader to rotate the serving CA", || {
        let Some(live) = get_json(&["secret", "-n", "default", secret]) else { return false };
        let ca = decode(live["data"]["ca.crt"].as_str().unwrap_or_default());
        if ca.is_empty() || ca == old_ca {
            return false;
        }
        let previous = live["data"]["ca-previous.crt"].as_str().map(decode);
        rotated = Some((ca, previous));
        true
    });
    rotated.unwrap()
}

fn ready_condition(name: &str) -> Option<(String, String)> {
    let policy = get_json(&["clusterpolicy", name])?;
    let conditions = policy["status"]["conditions"].as_array()?.clone();
    let ready = conditions.iter().find(|c| c["type"] == "Ready")?;
    Some((ready["status"].as_str()?.to_string(), ready["message"].as_str().unwrap_or_default().to_string()))
}

fn webhook_resources(kind: &str, name: &str) -> Vec<Value> {
    let Some(live) = get_json(&[kind, name]) else { return Vec::new() };
    let webhooks = live["webhooks"].as_array().cloned().unwrap_or_default();
    webhooks
        .iter()
        .flat_map(|w| w["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| r["resources"].clone())
        .collect()
}

/// The binary, fed by the cluster: policies applied with kubectl are compiled and served, the leader registers the
/// webhooks and writes `Ready`, a Pod is mutated, a violating Pod is denied with the policy's message, namespace
/// labels from the watch cache drive `namespaceSelector`, and updates and deletes take effect without a restart.
#[test]
#[ignore = "needs a kube-apiserver and the palisade binary: scripts/e2e/run.sh"]
fn serve_kubeconfig_binary_end_to_end() {
    let started = Instant::now();
    install_crds();
    let id = std::process::id();
    let lease = format!("palisade-bin-{id}");
    // A serving CA Secret 65 days from expiry (generated 300 days ago for a year): the leader must rotate it.
    let old = expiring_bundle();
    let tls_secret = format!("palisade-bin-tls-{id}");
    ok(&["apply", "-f", "-"], Some(&old.to_secret("default", &tls_secret).to_string()));
    // The Deployment the replica belongs to keeps 2 replicas: stopping this one is a rolling stop (step 7).
    let deployment_name = format!("palisade-bin-{id}");
    ok(&["apply", "-f", "-"], Some(&deployment(&deployment_name, 2).to_string()));
    let palisade = Palisade::start(
        "main",
        &kubeconfig(),
        &[
            "--namespace=default",
            &format!("--lease-name={lease}"),
            "--webhook-name=palisade-bin",
            "--identity=e2e-bin",
            &format!("--tls-secret={tls_secret}"),
            "--ca-check-interval=2s",
            &format!("--deployment={deployment_name}"),
        ],
    );

    // Ready once the (possibly empty) policy set and the caches are listed.
    wait_for("/readyz 200", || palisade.readyz().is_some_and(|(code, _)| code == 200));
    let (_, detail) = palisade.readyz().unwrap();
    assert!(detail.contains("policies from the cluster"), "{detail}");

    // 1. Policies applied with kubectl → status Ready and webhook configurations with their rules.
    ok(&["apply", "-f", "-"], Some(MUTATE));
    ok(&["apply", "-f", "-"], Some(&deny_policy("e2e-bin-deny", "the forbidden label is not allowed here")));
    ok(
        &["apply", "-f", "-"],
        Some(&gold_policy("e2e-bin-gold-team", "palisade-e2e-tier", "gold namespaces need a team label")),
    );
    ok(&["apply", "-f", "-"], Some(API_CALL));
    ok(&["apply", "-f", "-"], Some(AUDIT));
    for name in ["e2e-bin-add-label", "e2e-bin-deny", "e2e-bin-gold-team", "e2e-bin-api-call", "e2e-bin-audit-team"] {
        wait_for(&format!("{name} Ready=True"), || ready_condition(name).is_some_and(|(s, _)| s == "True"));
    }
    wait_for("the mutating configuration", || {
        webhook_resources("mutatingwebhookconfiguration", "palisade-bin")
            .contains(&json!(["pods", "replicationcontrollers"]))
    });
    wait_for("the validating configuration", || {
        webhook_resources("validatingwebhookconfiguration", "palisade-bin")
            .contains(&json!(["pods", "replicationcontrollers"]))
    });
    let live = get_json(&["mutatingwebhookconfiguration", "palisade-bin"]).unwrap();
    let url = format!("https://127.0.0.1:{}/mutate", palisade.port);
    assert_eq!(live["webhooks"][0]["clientConfig"]["url"], url.as_str());
    assert_eq!(live["webhooks"][0]["sideEffects"], "None");
    let lease_holder = get_json(&["lease", "-n", "default", &lease]).unwrap();
    assert_eq!(lease_holder["spec"]["holderIdentity"], "e2e-bin");

    // The CA was rotated: the Secret holds a new CA and keeps the old one as previous, caBundle trusts both,
    // and the server serves a certificate of the new CA.
    let (new_ca, previous) = wait_for_rotation(&tls_secret, &old.ca);
    assert_eq!(previous.as_deref(), Some(old.ca.as_str()));
    wait_for("caBundle to carry the new CA", || {
        let Some(live) = get_json(&["mutatingwebhookconfiguration", "palisade-bin"]) else { return false };
        let pem = decode(live["webhooks"][0]["clientConfig"]["caBundle"].as_str().unwrap_or_default());
        pem.contains(new_ca.trim_end()) && pem.contains(old.ca.trim_end())
    });
    let new_ca_file = palisade.dir.join("new-ca.crt");
    std::fs::write(&new_ca_file, &new_ca).unwrap();
    wait_for("the server to serve the rotated certificate", || {
        palisade.readyz_trusting(&new_ca_file).is_some_and(|(code, _)| code == 200)
    });

    // 2. A Pod is mutated; a violating Pod is denied with the policy's message.
    let ns = format!("e2e-bin-{id}");
    namespace(&ns, json!({}));
    let mut attempt = 0;
    wait_for("the binary's webhook to mutate a Pod", || {
        attempt += 1;
        let out = kubectl(&["create", "-f", "-", "-o", "json"], Some(&pod(&ns, &format!("m{attempt}"), json!({}))));
        out.status.success()
            && serde_json::from_slice::<Value>(&out.stdout).unwrap()["metadata"]["labels"]["palisade-bin"] == "mutated"
    });
    let denied = |message: &str| {
        let out = kubectl(&["create", "-f", "-"], Some(&pod(&ns, "denied", json!({"forbidden": "yes"}))));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        !out.status.success() && stderr.contains(message)
    };
    assert!(denied("the forbidden label is not allowed here"), "violating Pod not denied with the message");

    // 3. namespaceSelector reads the namespace labels from the watch cache.
    let gold = format!("e2e-bin-gold-{id}");
    namespace(&gold, json!({"palisade-e2e-tier": "gold"}));
    wait_for("the gold namespace's labels to reach the rule", || {
        let out = kubectl(&["create", "-f", "-"], Some(&pod(&gold, "no-team", json!({}))));
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("gold namespaces need a team label")
    });
    ok(&["create", "-f", "-"], Some(&pod(&gold, "with-team", json!({"team": "a"}))));
    ok(&["create", "-f", "-"], Some(&pod(&ns, "no-team-elsewhere", json!({}))));

    // 4. context.apiCall reads the API server (the answer is cached for 10 s, so a miss cached earlier may
    // take that long to clear) and POSTs a SubjectAccessReview (the e2e user is in system:masters: allowed).
    let limits = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-limits", "namespace": ns},
        "data": {"max": "zero"}});
    ok(&["apply", "-f", "-"], Some(&limits.to_string()));
    let mut attempt = 0;
    wait_for("apiCall to deny with the ConfigMap's value", || {
        attempt += 1;
        let out =
            kubectl(&["create", "-f", "-"], Some(&pod(&ns, &format!("api{attempt}"), json!({"check-api": "yes"}))));
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("apiCall says max is zero, may delete pods: true")
    });
    ok(&["create", "-f", "-"], Some(&pod(&ns, "api-unlabelled", json!({}))));

    // 5. An update and a delete take effect without a restart.
    ok(&["apply", "-f", "-"], Some(&deny_policy("e2e-bin-deny", "updated: forbidden is forbidden")));
    wait_for("the updated message", || denied("updated: forbidden is forbidden"));
    ok(&["delete", "clusterpolicy", "e2e-bin-deny"], None);
    wait_for("the deleted policy to stop denying", || {
        kubectl(&["create", "-f", "-"], Some(&pod(&ns, "after-delete", json!({"forbidden": "yes"})))).status.success()
    });

    // Audit: the Pods above without a team label were admitted, and the failures are counted.
    let metrics = palisade.get("/metrics");
    let counted = metrics.lines().any(|l| {
        l.starts_with("kyverno_policy_results_total{")
            && l.contains("policy_name=\"e2e-bin-audit-team\"")
            && l.contains("rule_result=\"fail\"")
    });
    assert!(counted, "audit failure not counted:\n{metrics}");

    // 6. SIGTERM: a clean exit that releases the Lease.
    palisade.stop();
    let holder = get_json(&["lease", "-n", "default", &lease]).unwrap();
    assert_ne!(holder["spec"]["holderIdentity"], "e2e-bin", "the Lease is released on shutdown: {holder}");

    // 7. Palisade gone (its Deployment still wants 2 replicas, so the webhooks stay as they are): its Fail webhooks
    // refuse creates until `palisade uninstall` relaxes them to Ignore, then `--delete` removes them.
    let create = |name: &str| kubectl(&["create", "-f", "-"], Some(&pod(&ns, name, json!({}))));
    assert!(!create("while-down").status.success(), "a Fail webhook admitted a Pod while Palisade was down");
    let relaxed = uninstall(&["--webhook-name=palisade-bin"]);
    assert!(relaxed.contains("2 webhook configuration(s) named palisade-bin relaxed"), "{relaxed}");
    let live = get_json(&["validatingwebhookconfiguration", "palisade-bin"]).unwrap();
    assert!(live["webhooks"].as_array().unwrap().iter().all(|w| w["failurePolicy"] == "Ignore"), "{live}");
    wait_for("creates to pass with the relaxed webhooks", || create("after-uninstall").status.success());
    let deleted = uninstall(&["--webhook-name=palisade-bin", "--delete"]);
    assert!(deleted.contains("2 webhook configuration(s) named palisade-bin deleted"), "{deleted}");
    assert!(get_json(&["mutatingwebhookconfiguration", "palisade-bin"]).is_none());

    for name in ["e2e-bin-add-label", "e2e-bin-gold-team", "e2e-bin-api-call", "e2e-bin-audit-team"] {
        ok(&["delete", "clusterpolicy", name], None);
    }
    ok(&["delete", "lease", "-n", "default", &lease], None);
    ok(&["delete", "secret", "-n", "default", &tls_secret], None);
    ok(&["delete", "deployment", "-n", "default", &deployment_name], None);
    eprintln!("e2e binary flow passed in {:.1}s", started.elapsed().as_secs_f64());
}

/// A Deployment in `default` (no controller-manager: it only has to exist for `--deployment`).
fn deployment(name: &str, replicas: u32) -> Value {
    let labels = json!({"app": name});
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "palisade", "image": "registry.example/palisade:0"}]}}}})
}

/// The last replica: with its Deployment scaled to zero, SIGTERM relaxes the registered webhooks to Ignore, so
/// the cluster is not locked while nothing serves.
#[test]
#[ignore = "needs a kube-apiserver and the palisade binary: scripts/e2e/run.sh"]
fn serve_binary_scaled_to_zero_relaxes_its_webhooks_on_sigterm() {
    install_crds();
    let id = std::process::id();
    let (name, lease, secret) =
        (format!("palisade-zero-{id}"), format!("palisade-zero-{id}"), format!("zero-tls-{id}"));
    ok(&["apply", "-f", "-"], Some(&deployment(&name, 3).to_string()));
    let palisade = Palisade::start(
        "zero",
        &kubeconfig(),
        &[
            "--namespace=default",
            &format!("--lease-name={lease}"),
            &format!("--webhook-name={name}"),
            "--identity=e2e-zero",
            &format!("--tls-secret={secret}"),
            &format!("--deployment={name}"),
        ],
    );
    let policy = deny_policy("e2e-zero-deny", "forbidden");
    ok(&["apply", "-f", "-"], Some(&policy));
    let failure_policies = || -> Vec<Value> {
        let Some(live) = get_json(&["validatingwebhookconfiguration", &name]) else { return Vec::new() };
        live["webhooks"].as_array().cloned().unwrap_or_default().iter().map(|w| w["failurePolicy"].clone()).collect()
    };
    wait_for("the Fail validating webhook", || failure_policies().contains(&json!("Fail")));
    ok(&["scale", "deployment", "-n", "default", &name, "--replicas=0"], None);
    palisade.stop();
    let after = failure_policies();
    assert!(!after.is_empty() && after.iter().all(|f| f == "Ignore"), "{after:?}");

    ok(&["delete", "clusterpolicy", "e2e-zero-deny"], None);
    for kind in ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"] {
        ok(&["delete", kind, &name, "--ignore-not-found"], None);
    }
    ok(&["delete", "lease", "-n", "default", &lease, "--ignore-not-found"], None);
    ok(&["delete", "secret", "-n", "default", &secret, "--ignore-not-found"], None);
    ok(&["delete", "deployment", "-n", "default", &name], None);
}

/// An unreachable API server at start: the binary keeps running, retries, says so in the log and reports not
/// ready; it stops cleanly on SIGTERM.
#[test]
#[ignore = "needs a kube-apiserver and the palisade binary: scripts/e2e/run.sh"]
fn serve_kubeconfig_binary_with_an_unreachable_api_server() {
    let original = std::fs::read_to_string(kubeconfig()).unwrap();
    let server_line = original.lines().find(|l| l.trim_start().starts_with("server:")).expect("server: line");
    let url = server_line.trim_start().trim_start_matches("server:").trim();
    let broken = original.replace(url, &format!("https://127.0.0.1:{}", free_port()));
    let path = std::env::temp_dir().join(format!("palisade-e2e-unreachable-{}.kubeconfig", std::process::id()));
    std::fs::write(&path, broken).unwrap();
    let palisade = Palisade::start("unreachable", path.to_str().unwrap(), &["--namespace=default"]);
    wait_for("/readyz to answer", || palisade.readyz().is_some());
    std::thread::sleep(Duration::from_secs(3));
    let (code, detail) = palisade.readyz().unwrap();
    assert_eq!(code, 503, "{detail}");
    assert!(detail.contains("no policy set received from the API server"), "{detail}");
    assert!(detail.contains("leader election:"), "{detail}");
    let log = palisade.log();
    assert!(log.contains("retrying"), "{log}");
    palisade.stop();
    let _ = std::fs::remove_file(path);
}
