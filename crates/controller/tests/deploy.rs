//! Checks of the plain manifests under `deploy/`: they parse, are consistent with each other (selectors, ports,
//! names), follow the restricted/least-privilege rules, pass arguments the real `palisade serve` accepts, and the
//! CRD file matches what `palisade crds` prints.
//!
//! `PALISADE_BLESS=1 cargo test -p palisade-controller --test deploy` rewrites the generated CRD files.

mod common;

use common::*;
use serde_json::{Value, json};

#[test]
fn every_manifest_parses_and_names_itself() {
    let files = yaml_files(&repo().join("deploy"));
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        for doc in load(&file) {
            let at = format!("{}: {}", file.display(), doc["metadata"]["name"]);
            if doc["kind"] == "Kustomization" {
                continue;
            }
            assert!(doc["apiVersion"].is_string(), "{at}: apiVersion");
            assert!(doc["kind"].is_string(), "{at}: kind");
            assert!(doc["metadata"]["name"].is_string(), "{at}: metadata.name");
            assert_eq!(doc["metadata"]["labels"]["app.kubernetes.io/name"], "palisade", "{at}: labels");
            let namespaced = !CLUSTER_SCOPED.contains(&doc["kind"].as_str().unwrap_or_default());
            let want = if namespaced { json!("palisade") } else { Value::Null };
            assert_eq!(doc["metadata"]["namespace"], want, "{at}: namespace");
        }
    }
}

#[test]
fn kustomization_lists_every_top_level_manifest() {
    let dir = repo().join("deploy");
    let kustomization = load(&dir.join("kustomization.yaml")).remove(0);
    let listed: Vec<&str> = kustomization["resources"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    assert_eq!(listed, files);
}

#[test]
fn crd_file_matches_palisade_crds() {
    check_generated(&repo().join("deploy/10-crds.yaml"));
}

#[test]
fn deployment_is_highly_available_and_restricted() {
    let docs = all_docs(&repo().join("deploy"));
    let deployment = find(&docs, "Deployment", "palisade");
    check_deployment(deployment, 3);
    let pdb = find(&docs, "PodDisruptionBudget", "palisade");
    assert_eq!(pdb["spec"]["selector"], deployment["spec"]["selector"]);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    check_services(&docs, deployment);
    let monitor = find(&docs, "ServiceMonitor", "palisade");
    let metrics = find(&docs, "Service", "palisade-metrics");
    assert!(selects(&monitor["spec"]["selector"]["matchLabels"], &metrics["metadata"]["labels"]));
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], metrics["spec"]["ports"][0]["name"]);
}

#[test]
fn container_args_are_accepted_by_palisade_serve() {
    let docs = all_docs(&repo().join("deploy"));
    let deployment = find(&docs, "Deployment", "palisade");
    let args: Vec<String> = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let serve = parse_serve_args(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    check_cluster_mode(&docs, deployment, &serve);
}

/// Cluster mode's names match what the RBAC grants, and the pod tells Palisade its name and namespace.
fn check_cluster_mode(docs: &[Value], deployment: &Value, serve: &palisade_server::ServeArgs) {
    let c = &serve.cluster;
    assert!(c.in_cluster && serve.policies.is_empty() && serve.tls_cert.is_none(), "cluster mode, CA in a Secret");
    let granted = |kind: &str, resource: &str| -> Vec<Value> {
        let rules = find(docs, kind, "palisade")["rules"].as_array().unwrap().clone();
        let named = rules.iter().filter(|r| r["resources"].as_array().unwrap().contains(&json!(resource)));
        named.flat_map(|r| r["resourceNames"].as_array().cloned().unwrap_or_default()).collect()
    };
    assert_eq!(granted("ClusterRole", "mutatingwebhookconfigurations"), [json!(c.webhook_name)]);
    assert_eq!(granted("Role", "leases"), [json!(c.lease_name)]);
    assert_eq!(granted("Role", "secrets"), [json!(c.tls_secret)]);
    let service = find(docs, "Service", &c.webhook_service);
    assert_eq!(service["spec"]["ports"][0]["port"], 443, "the webhook target is the Service on 443");
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"].as_array().unwrap().clone();
    for (name, field) in [("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")] {
        let var = env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(var["valueFrom"]["fieldRef"]["fieldPath"], field);
    }
}

#[test]
fn rbac_is_least_privilege() {
    let docs = all_docs(&repo().join("deploy"));
    check_rbac(&docs, "palisade", "palisade");
}

#[test]
fn the_checks_can_fail() {
    assert!(parse_serve_args(&["serve".into(), "--no-such-flag".into()]).is_err());
    assert!(parse_serve_args(&["apply".into()]).is_err());
    assert!(!selects(&json!({"a": "1"}), &json!({"a": "2"})));
    assert!(!selects(&json!({}), &json!({"a": "1"})));
}
