//! End-to-end against a real kube-apiserver (v1.20.2, `scripts/e2e/run.sh` starts one and sets
//! `PALISADE_E2E_KUBECONFIG`). Ignored by default: `cargo test -p palisade-controller --test e2e -- --ignored`.
//!
//! Palisade's webhook server runs in this process (out of cluster, on 127.0.0.1 with its generated CA);
//! the webhook configurations come from `palisade_controller::webhooks` for the policies it loaded, and
//! `kubectl` drives the API server.

mod binary;
mod common;
mod kubectl;

use common::*;
use kubectl::{kubeconfig, kubectl, ok};
use palisade_controller::cluster::{
    CaBundle, Registration, WatchConfig, apply_webhooks, client, relax_webhooks, watch_policies,
};
use palisade_controller::webhooks::{WebhookOptions, WebhookTarget, plan, relax, webhook_configurations};
use palisade_engine::PolicySet;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const MUTATE: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-add-label
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
              palisade-e2e: mutated
"#;

const AUDIT: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-audit-team
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

fn apply_json(object: &Value) {
    ok(&["apply", "-f", "-"], Some(&object.to_string()));
}

fn pod(ns: &str, name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    })
}

fn loader() -> palisade_server::PolicyLoader {
    Arc::new(|sources: &[(String, String)]| {
        let mut docs = Vec::new();
        for (name, text) in sources {
            docs.extend(palisade_engine::parse_documents(name, text).map_err(|e| vec![e.to_string()])?);
        }
        let kyverno =
            palisade_kyverno::load_policies(&docs).map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let sandbox = palisade_sandbox::load(&docs).map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
        let mut set = palisade_engine::PolicySet::new();
        for p in kyverno {
            set.add(Arc::new(p));
        }
        for p in sandbox {
            set.add(p);
        }
        Ok(set)
    })
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-e2e-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    dir
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn configurations(server: &palisade_server::RunningServer, ca: &Path) -> (Value, Value) {
    let set = server.store.snapshot().policies.clone().expect("policies loaded");
    let pem = std::fs::read(ca).unwrap();
    let target = WebhookTarget::url(&format!("https://{}", server.addr)).unwrap();
    webhook_configurations(&set, &pem, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kube-apiserver: scripts/e2e/run.sh"]
async fn admission_through_a_real_api_server() {
    let started = Instant::now();
    // 1. The CRDs Palisade serves are accepted, and a Kyverno ClusterPolicy applies unchanged.
    ok(&["apply", "-f", "-"], Some(&palisade_controller::crds_yaml()));
    for crd in palisade_controller::crds() {
        let name = format!("crd/{}", crd["metadata"]["name"].as_str().unwrap());
        ok(&["wait", "--for=condition=established", "--timeout=60s", &name], None);
    }
    ok(&["apply", "-f", "-"], Some(MUTATE));
    let stored: Value =
        serde_json::from_str(&ok(&["get", "clusterpolicy", "e2e-add-label", "-o", "json"], None)).unwrap();
    assert_eq!(stored["spec"]["rules"][0]["name"], "add-label", "spec kept by the permissive schema");
    ok(&["delete", "clusterpolicy", "e2e-add-label"], None);
    watch_compiles_reports_status_and_registers().await;

    // 2. Palisade serves the policies; its webhook configurations are registered from them.
    let dir = scratch();
    let deny = binary::deny_policy("e2e-deny-forbidden", "the forbidden label is not allowed here");
    for (file, text) in [("mutate.yaml", MUTATE), ("deny.yaml", deny.as_str()), ("audit.yaml", AUDIT)] {
        std::fs::write(dir.join("policies").join(file), text).unwrap();
    }
    let args: Vec<String> = [
        "serve".to_string(),
        "--addr=127.0.0.1:0".into(),
        "--metrics-addr=none".into(),
        format!("--policies={}", dir.join("policies").display()),
        format!("--data-dir={}", dir.join("data").display()),
    ]
    .into();
    let serve = parse_serve_args(&args).unwrap();
    let server = palisade_server::start(&serve, loader(), Vec::new()).await.unwrap();
    let ca = server.generated_ca.clone().expect("generated CA");
    let (mutating, validating) = configurations(&server, &ca);
    assert_eq!(mutating["webhooks"][0]["rules"][0]["resources"], json!(["pods", "replicationcontrollers"]));
    assert_eq!(validating["webhooks"][0]["rules"][0]["resources"], json!(["pods", "replicationcontrollers"]));
    apply_json(&mutating);
    apply_json(&validating);
    let live: Value =
        serde_json::from_str(&ok(&["get", "validatingwebhookconfiguration", "palisade", "-o", "json"], None)).unwrap();
    assert_eq!(live["webhooks"][0]["rules"][0]["resources"], json!(["pods", "replicationcontrollers"]));
    assert_eq!(live["webhooks"][0]["sideEffects"], "None");

    // 3. A fresh namespace with the default ServiceAccount the missing controller-manager would create.
    let ns = format!("e2e-{}", std::process::id());
    ok(&["create", "namespace", &ns], None);
    apply_json(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": ns}, "automountServiceAccountToken": false}));

    // The API server may call the webhook before the configuration cache has caught up: retry the first create.
    let first = pod(&ns, "mutated", json!({"team": "a"}));
    wait_for("the webhook to mutate a Pod", || {
        let out = kubectl(&["create", "-f", "-", "-o", "json"], Some(&first.to_string()));
        if !out.status.success() {
            return false;
        }
        let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
        if stored["metadata"]["labels"]["palisade-e2e"] == "mutated" {
            return true;
        }
        ok(&["delete", "pod", "-n", &ns, "mutated", "--wait=false"], None);
        false
    })
    .await;

    // 4. Enforce denies with the policy's message; Audit lets the Pod through.
    let out = kubectl(&["create", "-f", "-"], Some(&pod(&ns, "denied", json!({"forbidden": "yes"})).to_string()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "forbidden Pod was admitted");
    assert!(stderr.contains("the forbidden label is not allowed here"), "{stderr}");
    let audited = ok(&["create", "-f", "-", "-o", "json"], Some(&pod(&ns, "audited", json!({})).to_string()));
    let audited: Value = serde_json::from_str(&audited).unwrap();
    assert_eq!(audited["metadata"]["labels"]["palisade-e2e"], "mutated");
    // ... and the Audit violation is counted.
    let metrics = server.metrics.encode();
    let counted = metrics.lines().any(|l| {
        l.starts_with("kyverno_policy_results_total{")
            && l.contains("policy_name=\"e2e-audit-team\"")
            && l.contains("rule_result=\"fail\"")
    });
    assert!(counted, "audit failure not counted:\n{metrics}");

    // 5. Palisade down: with failurePolicy Fail creates are refused, relaxed to Ignore they pass.
    let _ = server.shutdown().await;
    let out = kubectl(&["create", "-f", "-"], Some(&pod(&ns, "while-down", json!({})).to_string()));
    assert!(!out.status.success(), "Fail webhook admitted a Pod while Palisade was down");
    let (mut mutating, mut validating) = (mutating, validating);
    relax(&mut mutating);
    relax(&mut validating);
    apply_json(&mutating);
    apply_json(&validating);
    wait_for("a relaxed webhook to let creates through", || {
        kubectl(&["create", "-f", "-"], Some(&pod(&ns, "while-down", json!({})).to_string())).status.success()
    })
    .await;

    // Clean up what other runs on the same API server could trip over.
    ok(&["delete", "mutatingwebhookconfiguration", "palisade"], None);
    ok(&["delete", "validatingwebhookconfiguration", "palisade"], None);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("e2e admission flow passed in {:.1}s", started.elapsed().as_secs_f64());
}

fn cpol(name: &str) -> Value {
    serde_json::from_str(&ok(&["get", "clusterpolicy", name, "-o", "json"], None)).unwrap()
}

fn ready_condition(object: &Value) -> (String, String) {
    let c = &object["status"]["conditions"][0];
    (c["status"].as_str().unwrap_or_default().to_string(), c["message"].as_str().unwrap_or_default().to_string())
}

/// The controller part: the watch compiles ClusterPolicies as they change, keeps the previous good version of a
/// broken update, reports both in `status`, follows deletes, and registers the webhooks with server-side apply.
async fn watch_compiles_reports_status_and_registers() {
    let client = client(Some(Path::new(&kubeconfig()))).await.unwrap();
    let published: Arc<Mutex<Option<Arc<PolicySet>>>> = Arc::default();
    let sink = Arc::clone(&published);
    let publish: palisade_controller::cluster::Publish = Arc::new(move |set| *sink.lock().unwrap() = Some(set));
    let registration = Registration {
        ca_bundle: CaBundle::new(b"-----BEGIN CERTIFICATE-----\n".to_vec()),
        target: WebhookTarget::url("https://127.0.0.1:9").unwrap(),
        options: WebhookOptions { name: "palisade-watch".into(), ..WebhookOptions::default() },
    };
    let config = WatchConfig { publish, leader: Arc::new(AtomicBool::new(true)), registration: Some(registration) };
    // A stale configuration left from an earlier run (Fail, pointing at nothing) blocks Pod creates ...
    let ns = format!("e2e-watch-{}", std::process::id());
    ok(&["create", "namespace", &ns], None);
    apply_json(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": ns}, "automountServiceAccountToken": false}));
    let stale_set = loader()(&[("stale.yaml".to_string(), MUTATE.to_string())]).unwrap();
    let stale = plan(
        &stale_set,
        b"CA",
        &config.registration.as_ref().unwrap().target,
        &config.registration.as_ref().unwrap().options,
    )
    .unwrap();
    apply_json(&stale.mutating);
    let create = |name: &str| kubectl(&["create", "-f", "-"], Some(&pod(&ns, name, json!({})).to_string()));
    wait_for("the stale webhook to block creates", || !create("blocked").status.success()).await;
    // ... until the leader's watch starts and replaces it with the configuration of the (now empty) policy set.
    let watch = tokio::spawn(watch_policies(client.clone(), config));
    wait_for("the repaired configuration to let creates through", || create("repaired").status.success()).await;
    let mutating_rules = || -> Value {
        let out = kubectl(&["get", "mutatingwebhookconfiguration", "palisade-watch", "-o", "json"], None);
        if !out.status.success() {
            return Value::Null;
        }
        // The API server leaves out an empty `webhooks` list.
        let live: Value = serde_json::from_slice(&out.stdout).unwrap();
        let webhooks = live["webhooks"].as_array().cloned().unwrap_or_default();
        webhooks.iter().map(|w| w["rules"].clone()).collect()
    };
    let names = |published: &Mutex<Option<Arc<PolicySet>>>| -> Vec<String> {
        let set = published.lock().unwrap().clone();
        set.map(|s| s.policies().iter().map(|p| p.name().to_string()).collect()).unwrap_or_default()
    };

    ok(&["apply", "-f", "-"], Some(MUTATE));
    wait_for("the policy to be compiled and published", || names(&published).contains(&"e2e-add-label".into())).await;
    wait_for("status Ready=True", || ready_condition(&cpol("e2e-add-label")).0 == "True").await;
    // The leader registered the webhooks for the policy (autogen adds the Pod controllers).
    wait_for("the registered webhooks to follow the policy", || {
        mutating_rules()[0][0]["resources"] == json!(["pods", "replicationcontrollers"])
    })
    .await;

    // A broken update: not ready, with the error, and generation 1 keeps serving.
    let broken = MUTATE.replace("      mutate:", "      notAField:");
    ok(&["apply", "-f", "-"], Some(&broken));
    wait_for("status Ready=False", || ready_condition(&cpol("e2e-add-label")).0 == "False").await;
    let (_, message) = ready_condition(&cpol("e2e-add-label"));
    assert!(message.contains("the previous version (generation 1) keeps serving"), "{message}");
    assert!(names(&published).contains(&"e2e-add-label".into()));

    // Webhook configurations from the published set, applied with server-side apply.
    let set = published.lock().unwrap().clone().unwrap();
    let options = WebhookOptions { name: "palisade-watch".into(), ..WebhookOptions::default() };
    let target = WebhookTarget::url("https://127.0.0.1:9").unwrap();
    let p = plan(&set, b"-----BEGIN CERTIFICATE-----\n", &target, &options).unwrap();
    apply_webhooks(&client, &p.mutating, &p.validating).await.unwrap();
    let live: Value =
        serde_json::from_str(&ok(&["get", "mutatingwebhookconfiguration", "palisade-watch", "-o", "json"], None))
            .unwrap();
    // Autogen adds the Pod controllers: core pods/replicationcontrollers, apps, batch.
    assert_eq!(live["webhooks"][0]["rules"][0]["resources"], json!(["pods", "replicationcontrollers"]));
    assert_eq!(live["webhooks"][0]["rules"][1]["resources"][0], "daemonsets");
    assert_eq!(live["webhooks"][0]["clientConfig"]["url"], "https://127.0.0.1:9/mutate");
    assert_eq!(live["webhooks"][0]["failurePolicy"], "Fail");
    // Uninstall: relaxing leaves every webhook on Ignore.
    assert_eq!(relax_webhooks(&client, "palisade-watch").await.unwrap(), 2);
    let live: Value =
        serde_json::from_str(&ok(&["get", "mutatingwebhookconfiguration", "palisade-watch", "-o", "json"], None))
            .unwrap();
    assert_eq!(live["webhooks"][0]["failurePolicy"], "Ignore");
    assert_eq!(live["webhooks"][0]["rules"][0]["resources"], json!(["pods", "replicationcontrollers"]));

    // Delete: the policy leaves the published set and the registered webhooks.
    ok(&["delete", "clusterpolicy", "e2e-add-label"], None);
    wait_for("the deleted policy to leave the set", || !names(&published).contains(&"e2e-add-label".into())).await;
    wait_for("the registered webhooks to drop the policy's rules", || mutating_rules() == json!([])).await;
    watch.abort();
    ok(&["delete", "mutatingwebhookconfiguration", "palisade-watch"], None);
    ok(&["delete", "validatingwebhookconfiguration", "palisade-watch"], None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kube-apiserver: scripts/e2e/run.sh"]
async fn exactly_one_leader_and_failover() {
    use palisade_controller::cluster::{Leader, LeaseTiming};
    let client = client(Some(Path::new(&kubeconfig()))).await.unwrap();
    let lease = format!("palisade-e2e-{}", std::process::id());
    let timing = LeaseTiming { duration_seconds: 4, grace_seconds: 2 };
    let a = Leader::join(client.clone(), "default", &lease, "replica-a", timing).await.unwrap();
    let b = Leader::join(client.clone(), "default", &lease, "replica-b", timing).await.unwrap();
    wait_for("a leader", || a.is_leading() || b.is_leading()).await;
    // Give the other replica a few renewal rounds to (wrongly) take the lock too.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(a.is_leading() ^ b.is_leading(), "exactly one leader");
    let (leader, follower) = if a.is_leading() { (a, b) } else { (b, a) };
    let holder: Value =
        serde_json::from_str(&ok(&["get", "lease", "-n", "default", &lease, "-o", "json"], None)).unwrap();
    assert!(holder["spec"]["holderIdentity"].as_str().unwrap().starts_with("replica-"), "{holder}");
    leader.resign().await;
    wait_for("the follower to take over", || follower.is_leading()).await;
    follower.resign().await;
    ok(&["delete", "lease", "-n", "default", &lease], None);
}

const SANDBOX: &str = r#"apiVersion: palisade.dev/v1alpha1
kind: RuntimeClassPolicy
metadata:
  name: run-pod-using-kata
spec:
  validationFailureAction: Enforce
  defaultRuntimeReserved: true
  fallbackRuntime: kata
  match:
    any:
      - resources:
          namespaces: [test]
"#;

const CLUSTER: &str = r#"apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: kata
handler: kata
---
apiVersion: v1
kind: Namespace
metadata:
  name: test
"#;

/// The sandbox seed scenario: a Pod in namespace `test` that names no runtime lands with `runtimeClassName: kata`;
/// elsewhere it is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kube-apiserver: scripts/e2e/run.sh"]
async fn sandbox_seed_scenario() {
    ok(&["apply", "-f", "-"], Some(CLUSTER));
    let other = format!("e2e-sandbox-{}", std::process::id());
    ok(&["create", "namespace", &other], None);
    for ns in ["test", other.as_str()] {
        apply_json(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns}, "automountServiceAccountToken": false}));
    }
    let dir = scratch().join("sandbox");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/sandbox.yaml"), SANDBOX).unwrap();
    std::fs::write(dir.join("cluster.yaml"), CLUSTER).unwrap();
    let args: Vec<String> = [
        "serve".to_string(),
        "--addr=127.0.0.1:0".into(),
        "--metrics-addr=none".into(),
        format!("--policies={}", dir.join("policies").display()),
        format!("--cluster-resources={}", dir.join("cluster.yaml").display()),
        format!("--data-dir={}", dir.join("data").display()),
    ]
    .into();
    let server = palisade_server::start(&parse_serve_args(&args).unwrap(), loader(), Vec::new()).await.unwrap();
    let set = server.store.snapshot().policies.clone().expect("policies loaded");
    let pem = std::fs::read(server.generated_ca.clone().unwrap()).unwrap();
    let options = WebhookOptions { name: "palisade-sandbox".into(), ..WebhookOptions::default() };
    let target = WebhookTarget::url(&format!("https://{}", server.addr)).unwrap();
    let p = plan(&set, &pem, &target, &options).unwrap();
    assert_eq!(p.mutating["webhooks"][0]["failurePolicy"], "Fail");
    apply_json(&p.mutating);
    apply_json(&p.validating);

    let runtime = |ns: &str, name: &str| -> Option<Value> {
        let out = kubectl(&["create", "-f", "-", "-o", "json"], Some(&pod(ns, name, json!({})).to_string()));
        if !out.status.success() {
            return None;
        }
        let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(stored["spec"]["runtimeClassName"].clone())
    };
    let mut attempt = 0;
    wait_for("a Pod in namespace test to land on kata", || {
        attempt += 1;
        runtime("test", &format!("app-{attempt}-{}", std::process::id())) == Some(json!("kata"))
    })
    .await;
    assert_eq!(runtime(&other, "app"), Some(Value::Null), "outside namespace test the runtime stays unset");

    ok(&["delete", "mutatingwebhookconfiguration", "palisade-sandbox"], None);
    ok(&["delete", "validatingwebhookconfiguration", "palisade-sandbox"], None);
    let _ = server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Cluster context from watch caches: namespace labels, ConfigMaps and RuntimeClasses appear and follow updates
/// without a request listing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kube-apiserver: scripts/e2e/run.sh"]
async fn cluster_context_from_watch_caches() {
    use palisade_controller::cluster::WatchedCluster;
    use palisade_engine::ClusterData as _;
    let client = client(Some(Path::new(&kubeconfig()))).await.unwrap();
    let cluster = WatchedCluster::start(client);
    cluster.ready().await;
    let ns = format!("e2e-context-{}", std::process::id());
    apply_json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"tier": "gold"}}}));
    apply_json(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "limits", "namespace": ns},
        "data": {"max": "3"}}));
    apply_json(&json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"},
        "handler": "runsc"}));
    let label = |key: &str| cluster.namespace_labels(&ns).and_then(|l| l.get(key).cloned());
    wait_for("namespace labels in the cache", || label("tier").as_deref() == Some("gold")).await;
    wait_for("the ConfigMap in the cache", || {
        cluster.get("ConfigMap", &ns, "limits").is_some_and(|c| c["data"]["max"] == "3")
    })
    .await;
    let cm = cluster.get("ConfigMap", &ns, "limits").unwrap();
    assert_eq!((cm["apiVersion"].as_str(), cm["kind"].as_str()), (Some("v1"), Some("ConfigMap")));
    assert!(cluster.get("ConfigMap", "default", "limits").is_none(), "namespaced lookups stay in their namespace");
    wait_for("the RuntimeClass in the cache", || cluster.get("RuntimeClass", "", "gvisor").is_some()).await;
    assert_eq!(cluster.list("ConfigMap", Some(&ns)).len(), 1);

    ok(&["label", "namespace", &ns, "tier=silver", "--overwrite"], None);
    wait_for("a label update in the cache", || label("tier").as_deref() == Some("silver")).await;
    ok(&["delete", "configmap", "-n", &ns, "limits"], None);
    wait_for("a delete in the cache", || cluster.get("ConfigMap", &ns, "limits").is_none()).await;
    assert!(cluster.namespace_labels("no-such-namespace").is_none());
    assert!(cluster.get("Secret", &ns, "x").is_none(), "uncached kinds are unknown");
}

/// Server-side dry run of `docs` (kubectl's schema validation plus admission); returns how many were checked.
/// On 1.20 a PodDisruptionBudget is checked as `policy/v1beta1` (as the chart renders it there; the spec is the
/// same) and the ServiceMonitor is skipped (no Prometheus Operator CRD).
fn dry_run(docs: Vec<Value>, what: &str) -> usize {
    let mut checked = 0;
    for mut doc in docs.into_iter().filter(|d| d["kind"] != "Kustomization" && d["kind"] != "ServiceMonitor") {
        if doc["kind"] == "PodDisruptionBudget" {
            doc["apiVersion"] = json!("policy/v1beta1");
        }
        let out = kubectl(&["apply", "--dry-run=server", "--validate=true", "-f", "-"], Some(&doc.to_string()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {} {}: {stderr}", doc["kind"], doc["metadata"]["name"]);
        checked += 1;
    }
    checked
}

/// The plain manifests and the Helm chart as Helm renders it are valid for a real API server. The chart's
/// variants come from `scripts/chart/check.sh --out DIR` (Helm's Go SDK), which `scripts/e2e/run.sh` runs and
/// names in `PALISADE_HELM_RENDERED`.
#[test]
#[ignore = "needs a kube-apiserver: scripts/e2e/run.sh"]
fn deploy_manifests_pass_a_server_side_dry_run() {
    ok(&["apply", "-f", "-"], Some(&palisade_controller::crds_yaml()));
    let docs = all_docs(&repo().join("deploy"));
    // The Namespace must exist for the namespaced objects' dry run.
    let namespace = find(&docs, "Namespace", "palisade");
    ok(&["apply", "-f", "-"], Some(&namespace.to_string()));
    let checked = dry_run(docs, "deploy/");
    assert!(checked >= 12, "{checked} objects checked");

    let rendered = std::env::var("PALISADE_HELM_RENDERED").expect("PALISADE_HELM_RENDERED (run scripts/e2e/run.sh)");
    let mut variants = 0;
    for path in yaml_files(Path::new(&rendered)) {
        let docs = load(&path);
        let what = format!("helm template ({})", path.display());
        let objects = docs.iter().filter(|d| d["kind"] != "ServiceMonitor").count();
        assert_eq!(dry_run(docs, &what), objects, "{what}");
        assert!(objects >= 3, "{what}: {objects} objects");
        variants += 1;
    }
    assert!(variants >= 5, "{variants} Helm variants in {rendered}");
}

/// A Deployment named `name` in `default` with `replicas` (no controller-manager: it only has to exist).
fn deployment(name: &str, replicas: u32, finalizers: Value) -> Value {
    let labels = json!({"app": name});
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "finalizers": finalizers},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "palisade", "image": "registry.example/palisade:0"}]}}}})
}

/// Kyverno's shutdown check (`cleanupKyvernoResource`): a stopping replica relaxes the webhooks only when its
/// Deployment is scaled to zero, being deleted or gone; a rolling update (replicas unchanged) leaves them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kube-apiserver: scripts/e2e/run.sh"]
async fn the_last_replica_relaxes_the_webhooks() {
    use palisade_controller::cluster::relax_if_last_replica;
    let client = client(Some(Path::new(&kubeconfig()))).await.unwrap();
    let name = format!("e2e-last-{}", std::process::id());
    let options = WebhookOptions { name: name.clone(), namespace: "default".into(), ..WebhookOptions::default() };
    // A Fail webhook for a kind nothing else here creates (PodTemplates), pointing at nothing.
    let policy = binary::deny_policy("e2e-last-replica", "the forbidden label is not allowed here")
        .replace("kinds: [Pod]", "kinds: [PodTemplate]");
    let set = loader()(&[("deny.yaml".to_string(), policy)]).unwrap();
    let target = WebhookTarget::url("https://127.0.0.1:9").unwrap();
    let registered = plan(&set, b"CA", &target, &options).unwrap();
    let fail_policies = || -> Vec<String> {
        let live: Value =
            serde_json::from_str(&ok(&["get", "validatingwebhookconfiguration", &name, "-o", "json"], None)).unwrap();
        live["webhooks"].as_array().unwrap().iter().map(|w| w["failurePolicy"].as_str().unwrap().to_string()).collect()
    };
    let register = || apply_webhooks(&client, &registered.mutating, &registered.validating);

    register().await.unwrap();
    apply_json(&deployment(&name, 3, json!([])));
    assert_eq!(relax_if_last_replica(&client, "default", &name, &name).await.unwrap(), None);
    assert_eq!(fail_policies(), ["Fail"], "a rolling update keeps the webhooks");

    ok(&["scale", "deployment", "-n", "default", &name, "--replicas=0"], None);
    let reason = relax_if_last_replica(&client, "default", &name, &name).await.unwrap();
    assert_eq!(reason.as_deref(), Some(format!("Deployment default/{name} is scaled to zero").as_str()));
    assert_eq!(fail_policies(), ["Ignore"]);

    // Being deleted (a finalizer holds it): relaxed too.
    register().await.unwrap();
    apply_json(&deployment(&name, 3, json!(["palisade.dev/e2e"])));
    ok(&["delete", "deployment", "-n", "default", &name, "--wait=false"], None);
    let reason = relax_if_last_replica(&client, "default", &name, &name).await.unwrap();
    assert_eq!(reason.as_deref(), Some(format!("Deployment default/{name} is being deleted").as_str()));
    assert_eq!(fail_policies(), ["Ignore"]);
    let release = json!({"metadata": {"finalizers": null}}).to_string();
    ok(&["patch", "deployment", "-n", "default", &name, "--type=merge", "-p", &release], None);

    // Gone: relaxed.
    register().await.unwrap();
    wait_for("the Deployment to go", || {
        kubectl(&["get", "deployment", "-n", "default", &name], None).status.code() != Some(0)
    })
    .await;
    let reason = relax_if_last_replica(&client, "default", &name, &name).await.unwrap();
    assert_eq!(reason.as_deref(), Some(format!("Deployment default/{name} is gone").as_str()));
    assert_eq!(fail_policies(), ["Ignore"]);
    ok(&["delete", "mutatingwebhookconfiguration", &name], None);
    ok(&["delete", "validatingwebhookconfiguration", &name], None);
}
