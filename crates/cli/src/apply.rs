//! `palisade apply`: evaluates policies against resource files and prints the results.

use crate::files;
use crate::policies::LoadedPolicies;
use crate::run::{RunOptions, evaluate, resource_name};
use crate::values::{UserInfoFile, ValuesFile};
use anyhow::Result;
use clap::Args;
use palisade_engine::{RuleResult, RuleStatus, StaticCluster};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// `palisade apply` arguments.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Policy files or directories.
    #[arg(required = true)]
    pub policies: Vec<PathBuf>,
    /// Resource files or directories.
    #[arg(short, long = "resource", required = true)]
    pub resources: Vec<PathBuf>,
    /// Values file (cli.kyverno.io Values).
    #[arg(short = 'f', long)]
    pub values_file: Option<PathBuf>,
    /// User info file (roles, clusterRoles, userInfo).
    #[arg(short, long)]
    pub userinfo: Option<PathBuf>,
    /// Global values as key=value.
    #[arg(short, long = "set")]
    pub set: Vec<String>,
    /// Cluster objects (Namespaces, ConfigMaps, RuntimeClasses) the policies may read.
    #[arg(long)]
    pub cluster_resources: Vec<PathBuf>,
    /// Output format: table, json or yaml.
    #[arg(short, long, default_value = "table")]
    pub output_format: String,
    /// Print a PolicyReport (wgpolicyk8s.io/v1alpha2) instead of results.
    #[arg(long)]
    pub policy_report: bool,
    /// Directory to write mutated resources to.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// How Gatekeeper Rego is evaluated: bytecode (regorus' VM, fast) or interpreter (OPA's error semantics).
    #[arg(long, default_value = "bytecode")]
    pub rego_engine: palisade_gatekeeper::RegoEngine,
}

/// Runs `palisade apply`; exit code 1 when any rule fails or errors.
pub fn run(args: &ApplyArgs) -> Result<i32> {
    let policy_docs = files::read_all(&args.policies)?;
    let policies = LoadedPolicies::load_with(&policy_docs, args.rego_engine)?;
    let resources = files::read_all(&args.resources)?;
    for doc in &resources {
        if doc.value.get("kind").is_none() || doc.value.get("apiVersion").is_none() {
            anyhow::bail!("{}: document {} is not a Kubernetes object (no apiVersion/kind)", doc.source, doc.index + 1);
        }
    }
    let mut values = match &args.values_file {
        Some(p) => ValuesFile::read(p)?,
        None => ValuesFile::default(),
    };
    values.set(&args.set)?;
    let user = match &args.userinfo {
        Some(p) => UserInfoFile::read(p)?,
        None => UserInfoFile::default(),
    };
    let cluster = if args.cluster_resources.is_empty() {
        None
    } else {
        Some(Arc::new(StaticCluster::new(
            files::read_all(&args.cluster_resources)?.into_iter().map(|d| d.value).collect(),
        )))
    };
    let options = RunOptions { values, user, cluster };
    let mut rows: Vec<(Value, RuleResult)> = Vec::new();
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir)?;
    }
    for doc in &resources {
        let resource = crate::run::with_default_namespace(&doc.value);
        let outcome = evaluate(&policies, &resource, &options);
        if let Some(dir) = &args.output
            && outcome.patched != doc.value
        {
            let (ns, name) = resource_name(&doc.value);
            let kind = doc.value.get("kind").and_then(Value::as_str).unwrap_or("Object");
            let file =
                dir.join(format!("{kind}-{}{name}.json", if ns.is_empty() { String::new() } else { format!("{ns}-") }));
            std::fs::write(&file, serde_json::to_string_pretty(&outcome.patched)? + "\n")?;
        }
        for r in outcome.results {
            rows.push((doc.value.clone(), r));
        }
    }
    let failed = rows.iter().any(|(_, r)| matches!(r.status, RuleStatus::Fail | RuleStatus::Error));
    if args.policy_report {
        println!("{}", serde_json::to_string_pretty(&policy_report(&rows))?);
    } else {
        match args.output_format.as_str() {
            "json" => println!("{}", serde_json::to_string_pretty(&json_rows(&rows))?),
            "yaml" => print!("{}", serde_saphyr::to_string(&json_rows(&rows)).map_err(|e| anyhow::anyhow!("{e}"))?),
            "table" => print_table(&rows, policies.len(), resources.len()),
            other => anyhow::bail!("unknown output format {other:?} (table, json or yaml)"),
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn describe(resource: &Value) -> String {
    let (ns, name) = resource_name(resource);
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or_default();
    if ns.is_empty() { format!("{kind}/{name}") } else { format!("{kind}/{ns}/{name}") }
}

fn json_rows(rows: &[(Value, RuleResult)]) -> Value {
    Value::Array(
        rows.iter()
            .map(|(res, r)| {
                json!({"policy": r.policy, "rule": r.rule, "resource": describe(res), "type": r.kind.as_str(),
                       "result": r.status.as_str(), "message": r.message})
            })
            .collect(),
    )
}

fn print_table(rows: &[(Value, RuleResult)], policies: usize, resources: usize) {
    println!("Applying {policies} policy rule(s) to {resources} resource(s)...\n");
    for (res, r) in rows.iter().filter(|(_, r)| r.status != RuleStatus::Pass) {
        println!(
            "policy {} -> resource {} {}: {}\n  {}",
            r.policy,
            describe(res),
            r.rule,
            r.status.as_str().to_uppercase(),
            r.message
        );
    }
    let count = |s: RuleStatus| rows.iter().filter(|(_, r)| r.status == s).count();
    println!(
        "\npass: {}, fail: {}, warn: {}, error: {}, skip: {}",
        count(RuleStatus::Pass),
        count(RuleStatus::Fail),
        count(RuleStatus::Warn),
        count(RuleStatus::Error),
        count(RuleStatus::Skip)
    );
}

fn policy_report(rows: &[(Value, RuleResult)]) -> Value {
    let results: Vec<Value> = rows
        .iter()
        .map(|(res, r)| {
            let (ns, name) = resource_name(res);
            json!({
                "policy": r.policy, "rule": r.rule, "result": r.status.as_str(), "message": r.message,
                "source": "palisade", "scored": true,
                "resources": [{"apiVersion": res.get("apiVersion"), "kind": res.get("kind"), "name": name, "namespace": ns}]
            })
        })
        .collect();
    let count = |s: RuleStatus| rows.iter().filter(|(_, r)| r.status == s).count();
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": "ClusterPolicyReport",
        "metadata": {"name": "merged"},
        "results": results,
        "summary": {"pass": count(RuleStatus::Pass), "fail": count(RuleStatus::Fail), "warn": count(RuleStatus::Warn),
                    "error": count(RuleStatus::Error), "skip": count(RuleStatus::Skip)}
    })
}
