//! Shared checks for the deploy manifests and the Helm chart.
#![allow(dead_code)]

pub mod gotmpl;

use clap::{Args, Command, FromArgMatches};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Kinds that have no namespace.
pub const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `*.yaml` file under `dir`, recursively, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The non-empty documents of a YAML file.
pub fn load(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load_str(&text, &path.display().to_string())
}

/// The non-empty documents of a YAML stream.
pub fn load_str(text: &str, what: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// Every document of every YAML file under `dir`.
pub fn all_docs(dir: &Path) -> Vec<Value> {
    yaml_files(dir).iter().flat_map(|f| load(f)).collect()
}

/// The document of `kind` named `name`.
pub fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Whether every label of `selector` is in `labels`.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let Some(selector) = selector.as_object() else { return false };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

const GENERATED_HEADER: &str = "# Generated from crates/controller/src/crds.rs (`palisade crds`); do not edit.\n\
# Regenerate: PALISADE_BLESS=1 cargo test -p palisade-controller --test deploy --test chart\n";

/// Checks (or with `PALISADE_BLESS=1`, rewrites) a generated CRD file.
pub fn check_generated(path: &Path) {
    let want = format!("{GENERATED_HEADER}{}", palisade_controller::crds_yaml());
    if std::env::var_os("PALISADE_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let got = std::fs::read_to_string(path).unwrap_or_default();
    assert!(got == want, "{} is stale: run with PALISADE_BLESS=1", path.display());
    assert_eq!(load(path), palisade_controller::crds());
}

/// Parses container args with the real `palisade serve` argument parser.
pub fn parse_serve_args(args: &[String]) -> Result<palisade_server::ServeArgs, String> {
    let (sub, rest) = args.split_first().ok_or("no arguments")?;
    if sub != "serve" {
        return Err(format!("first argument is {sub:?}, not serve"));
    }
    let command = palisade_server::ServeArgs::augment_args(Command::new("serve"));
    let matches = command
        .try_get_matches_from(std::iter::once("serve").chain(rest.iter().map(String::as_str)))
        .map_err(|e| e.to_string())?;
    palisade_server::ServeArgs::from_arg_matches(&matches).map_err(|e| e.to_string())
}

/// HA and restricted-security checks of the webhook Deployment.
pub fn check_deployment(deployment: &Value, replicas: u64) {
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], replicas);
    let template = &spec["template"];
    assert!(selects(&spec["selector"]["matchLabels"], &template["metadata"]["labels"]), "selector");
    let pod = &template["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let anti = &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(anti["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname");
    assert!(selects(&anti["podAffinityTerm"]["labelSelector"]["matchLabels"], &template["metadata"]["labels"]));
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    for key in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(c["resources"][key][res].is_string(), "resources.{key}.{res}");
        }
    }
    let mem_limit = mebibytes(&c["resources"]["limits"]["memory"]);
    let mem_request = mebibytes(&c["resources"]["requests"]["memory"]);
    assert!((64..=mem_limit).contains(&mem_request), "request {mem_request}Mi above 64 MiB RSS and below the limit");
    let ports: Vec<&str> = c["ports"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for probe in ["livenessProbe", "readinessProbe"] {
        let port = c[probe]["httpGet"]["port"].as_str().unwrap();
        assert!(ports.contains(&port), "{probe} port {port}");
        assert_eq!(c[probe]["httpGet"]["scheme"], "HTTPS");
    }
    let volumes: Vec<&str> = pod["volumes"].as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
    for mount in c["volumeMounts"].as_array().unwrap() {
        assert!(volumes.contains(&mount["name"].as_str().unwrap()), "{mount}");
    }
}

fn mebibytes(q: &Value) -> u64 {
    let s = q.as_str().unwrap();
    let n = s.strip_suffix("Mi").unwrap_or_else(|| panic!("memory {s} not in Mi"));
    n.parse().unwrap()
}

/// The Services select the Deployment's pods and target ports it declares.
pub fn check_services(docs: &[Value], deployment: &Value) {
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let ports: Vec<&str> = container["ports"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    let services: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Service").collect();
    assert_eq!(services.len(), 2, "webhook and metrics Services");
    for service in services {
        assert!(selects(&service["spec"]["selector"], labels), "{}", service["metadata"]["name"]);
        for port in service["spec"]["ports"].as_array().unwrap() {
            assert!(ports.contains(&port["targetPort"].as_str().unwrap()), "{port}");
        }
    }
}

/// No wildcards, writes only where needed, and the bindings point at the ServiceAccount.
pub fn check_rbac(docs: &[Value], namespace: &str, account: &str) {
    let sa = find(docs, "ServiceAccount", account);
    assert_eq!(sa["metadata"]["namespace"], namespace);
    let writes = ["create", "update", "patch", "delete", "deletecollection", "*"];
    for role in docs.iter().filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role") {
        for rule in role["rules"].as_array().unwrap() {
            for field in ["apiGroups", "resources", "verbs"] {
                assert!(!rule[field].as_array().unwrap().contains(&Value::from("*")), "wildcard in {rule}");
            }
            let resources: Vec<&str> = rule["resources"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            let writes_here = rule["verbs"].as_array().unwrap().iter().any(|v| writes.contains(&v.as_str().unwrap()));
            if writes_here {
                let allowed = resources.iter().all(|r| {
                    r.ends_with("/status")
                        || r.ends_with("webhookconfigurations")
                        || ["leases", "secrets", "events"].contains(r)
                });
                assert!(allowed, "write on {resources:?}");
                let named = rule["resourceNames"].is_array();
                let create_only = rule["verbs"].as_array().unwrap().iter().all(|v| v == "create" || v == "patch");
                assert!(
                    named || create_only || resources.iter().all(|r| r.ends_with("/status")),
                    "unnamed write on {resources:?}"
                );
            }
            if resources.contains(&"secrets") {
                assert_eq!(role["kind"], "Role", "secrets only in Palisade's own namespace");
            }
        }
    }
    for binding in docs.iter().filter(|d| d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding") {
        let subject = &binding["subjects"][0];
        assert_eq!((subject["name"].as_str(), subject["namespace"].as_str()), (Some(account), Some(namespace)));
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap();
        find(docs, role_kind, binding["roleRef"]["name"].as_str().unwrap());
    }
}
