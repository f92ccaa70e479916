//! `palisade test`: runs Kyverno CLI test files (`kyverno-test.yaml`) and compares the
//! engine's results with their expectations.

use crate::files;
use crate::policies::LoadedPolicies;
use crate::run::{RunOptions, evaluate, resource_name};
use crate::values::{UserInfoFile, ValuesFile};
use anyhow::{Context, Result};
use palisade_engine::RuleStatus;
use palisade_kyverno::policy::RuleBody;
use palisade_kyverno::validate::Check;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A Kyverno CLI test file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestSpec {
    /// Policy files, relative to the test file.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Resource files.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Values file (older name).
    #[serde(default)]
    pub variables: Option<String>,
    /// Values file.
    #[serde(default)]
    pub values: Option<Value>,
    /// User info file.
    #[serde(default)]
    pub userinfo: Option<String>,
    /// Palisade extension: cluster objects (RuntimeClasses, Namespaces, ConfigMaps) the policies may read.
    #[serde(default)]
    pub cluster_resources: Vec<String>,
    /// Expected results.
    #[serde(default)]
    pub results: Vec<ExpectedResult>,
}

/// One expected result entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpectedResult {
    /// Policy name (`name` or `namespace/name`).
    #[serde(default)]
    pub policy: String,
    /// Rule name.
    #[serde(default)]
    pub rule: String,
    /// Resource names (`name` or `namespace/name`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Older single-resource form.
    #[serde(default)]
    pub resource: Option<String>,
    /// Resource kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// Expected status.
    #[serde(default)]
    pub result: Option<String>,
    /// Older spelling of `result`.
    #[serde(default)]
    pub status: Option<String>,
    /// Expected mutated resource file.
    #[serde(default, alias = "patchedResource")]
    pub patched_resources: Option<String>,
    /// Expected generated resource file.
    #[serde(default)]
    pub generated_resource: Option<String>,
    /// Clone source for generate rules.
    #[serde(default)]
    pub clone_source_resource: Option<String>,
    /// Marks CEL ValidatingPolicy expectations.
    #[serde(default)]
    pub is_validating_policy: bool,
    /// Marks CEL MutatingPolicy expectations.
    #[serde(default)]
    pub is_mutating_policy: bool,
    /// Marks CEL GeneratingPolicy expectations.
    #[serde(default)]
    pub is_generating_policy: bool,
    /// Marks ValidatingAdmissionPolicy expectations.
    #[serde(default)]
    pub is_validating_admission_policy: bool,
    /// Marks other CEL policy kinds.
    #[serde(default)]
    pub is_image_validating_policy: bool,
    /// Marks DeletingPolicy expectations.
    #[serde(default)]
    pub is_deleting_policy: bool,
}

/// Status of one checked expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Matches.
    Pass,
    /// Differs.
    Fail,
    /// Not checked, with a reason.
    Skip,
}

/// Which policy family a test file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// `kyverno.io` ClusterPolicy/Policy with JMESPath.
    Jmespath,
    /// ClusterPolicy with `validate.cel`.
    CelClusterPolicy,
    /// `policies.kyverno.io` kinds.
    CelPolicy,
}

/// Which kind of rule an expectation checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectationKind {
    /// Validation.
    Validate,
    /// Mutation.
    Mutate,
    /// Generation.
    Generate,
}

/// One expectation's outcome: one record per policy/rule/resource.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Test file.
    pub test_file: String,
    /// Policy.
    pub policy: String,
    /// Rule.
    pub rule: String,
    /// Resource (`kind/namespace/name`).
    pub resource: String,
    /// Expected result.
    pub expected: String,
    /// Actual result.
    pub actual: String,
    /// Comparison status.
    pub status: CheckStatus,
    /// Why it failed or was skipped.
    pub reason: String,
    /// Family of the test file.
    pub family: Family,
    /// Kind of rule.
    pub kind: ExpectationKind,
}

/// Finds every `kyverno-test.yaml` under `paths`, hidden `.kyverno-test` folders included.
pub fn find_test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_file() {
            out.push(path.clone());
            continue;
        }
        let mut stack = vec![path.clone()];
        while let Some(dir) = stack.pop() {
            let entries =
                std::fs::read_dir(&dir).with_context(|| format!("{}: cannot read directory", dir.display()))?;
            for entry in entries.filter_map(|e| e.ok()) {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().and_then(|n| n.to_str()) == Some("kyverno-test.yaml") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn family_of(docs: &[palisade_engine::Document]) -> Family {
    if docs
        .iter()
        .any(|d| d.value.get("apiVersion").and_then(Value::as_str).is_some_and(crate::policies::is_cel_policy_kind))
    {
        return Family::CelPolicy;
    }
    let has_cel = docs.iter().any(|d| {
        d.value
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .is_some_and(|rules| rules.iter().any(|r| r.pointer("/validate/cel").is_some_and(|c| !c.is_null())))
    });
    if has_cel { Family::CelClusterPolicy } else { Family::Jmespath }
}

fn load_resources(base: &Path, paths: &[String]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for p in paths {
        for doc in files::read_documents(&base.join(p))? {
            if doc.value.get("kind").is_none() || doc.value.get("apiVersion").is_none() {
                anyhow::bail!(
                    "{}: document {} is not a Kubernetes object (no apiVersion/kind)",
                    doc.source,
                    doc.index + 1
                );
            }
            out.push(crate::run::with_default_namespace(&doc.value));
        }
    }
    Ok(out)
}

fn rule_names_match(expected: &str, actual: &str) -> bool {
    actual == expected
        || actual.strip_prefix("autogen-cronjob-") == Some(expected)
        || actual.strip_prefix("autogen-") == Some(expected)
}

fn policy_names_match(expected: &str, actual: &str) -> bool {
    actual == expected || actual.rsplit('/').next() == Some(expected) || expected.rsplit('/').next() == Some(actual)
}

/// Removes nulls, empty objects and empty lists, as Kyverno's comparison of patched resources does.
fn tidy(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), tidy(v)))
                .filter(|(_, v)| {
                    !matches!(v, Value::Object(m) if m.is_empty()) && !matches!(v, Value::Array(a) if a.is_empty())
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(tidy).collect()),
        other => other.clone(),
    }
}

/// A short, readable description of how two JSON values differ.
pub fn describe_difference(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    None => return Some(format!("{path}/{k}: expected {v}, missing")),
                    Some(w) => {
                        if let Some(d) = describe_difference(v, w, &format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            b.keys().find(|k| !a.contains_key(*k)).map(|k| format!("{path}/{k}: unexpected {}", b[k]))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| describe_difference(x, y, &format!("{path}/{i}")))
        }
        _ if expected == actual => None,
        _ => Some(format!("{}: expected {expected}, got {actual}", if path.is_empty() { "/" } else { path })),
    }
}

struct TestContext<'a> {
    file: &'a str,
    dir: &'a Path,
    family: Family,
}

/// Runs one test file; never fails as a whole: errors become failing records.
pub fn run_test_file(path: &Path) -> Vec<Record> {
    let file = path.display().to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    let spec: Result<TestSpec> = files::read_documents(path).and_then(|docs| {
        let doc = docs.first().with_context(|| format!("{file}: empty test file"))?;
        doc.deserialize().map_err(|e| anyhow::anyhow!("{e}"))
    });
    let spec = match spec {
        Ok(s) => s,
        Err(e) => return vec![error_record(&file, "", "", &e.to_string(), Family::Jmespath)],
    };
    let policy_docs: Result<Vec<_>> = spec
        .policies
        .iter()
        .map(|p| files::read_documents(&dir.join(p)))
        .collect::<Result<Vec<_>>>()
        .map(|v| v.concat());
    let family = policy_docs.as_ref().map(|d| family_of(d)).unwrap_or(Family::Jmespath);
    let tc = TestContext { file: &file, dir, family };
    let prepared = policy_docs.and_then(|docs| {
        let policies = LoadedPolicies::load(&docs)?;
        let resources = load_resources(dir, &spec.resources)?;
        let mut values = match &spec.variables {
            Some(v) => ValuesFile::read(&dir.join(v))?,
            None => ValuesFile::default(),
        };
        if let Some(inline) = &spec.values
            && inline.is_object()
        {
            values = serde_json::from_value(inline.clone()).context("inline values")?;
        }
        let user = match &spec.userinfo {
            Some(u) => UserInfoFile::read(&dir.join(u))?,
            None => UserInfoFile::default(),
        };
        let mut cluster_objects = Vec::new();
        for p in &spec.cluster_resources {
            cluster_objects.extend(files::read_documents(&dir.join(p))?.into_iter().map(|d| d.value));
        }
        for r in &spec.results {
            if let Some(src) = &r.clone_source_resource {
                cluster_objects.extend(files::read_documents(&dir.join(src))?.into_iter().map(|d| d.value));
            }
        }
        let cluster = (!cluster_objects.is_empty())
            .then(|| std::sync::Arc::new(palisade_engine::StaticCluster::new(cluster_objects)));
        Ok((policies, resources, RunOptions { values, user, cluster }))
    });
    let (policies, resources, options) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let reason = format!("{e:#}");
            return spec
                .results
                .iter()
                .map(|r| {
                    let mut rec = error_record(&file, &r.policy, &r.rule, &reason, family);
                    if family != Family::Jmespath {
                        rec.status = CheckStatus::Skip;
                        rec.reason = "CEL not supported yet".into();
                    }
                    rec
                })
                .collect();
        }
    };
    let outcomes: Vec<_> = resources.iter().map(|r| (r, evaluate(&policies, r, &options))).collect();
    let mut records = Vec::new();
    for expected in &spec.results {
        check_expectation(&tc, expected, &policies, &outcomes, &mut records);
    }
    records
}

fn error_record(file: &str, policy: &str, rule: &str, reason: &str, family: Family) -> Record {
    Record {
        test_file: file.to_string(),
        policy: policy.to_string(),
        rule: rule.to_string(),
        resource: String::new(),
        expected: String::new(),
        actual: "error".into(),
        status: CheckStatus::Fail,
        reason: reason.to_string(),
        family,
        kind: ExpectationKind::Validate,
    }
}

/// Why a rule is not evaluated by this build, if so.
fn unsupported_reason(policies: &LoadedPolicies, policy: &str, rule: &str) -> Option<String> {
    let p = policies
        .kyverno
        .iter()
        .find(|p| policy_names_match(policy, palisade_engine::AdmissionPolicy::name(p.as_ref())))?;
    let r = p.rules().iter().find(|r| rule_names_match(rule, &r.name))?;
    match &r.body {
        RuleBody::Unsupported { reason, .. } => Some(reason.clone()),
        RuleBody::Validate { check: Check::Unsupported { reason, .. }, .. } => Some(reason.clone()),
        _ => None,
    }
}

fn rule_kind(policies: &LoadedPolicies, policy: &str, rule: &str, expected: &ExpectedResult) -> ExpectationKind {
    if expected.generated_resource.is_some() {
        return ExpectationKind::Generate;
    }
    if expected.patched_resources.is_some() {
        return ExpectationKind::Mutate;
    }
    let found = policies
        .kyverno
        .iter()
        .find(|p| policy_names_match(policy, palisade_engine::AdmissionPolicy::name(p.as_ref())))
        .and_then(|p| p.rules().iter().find(|r| rule_names_match(rule, &r.name)));
    match found.map(|r| &r.body) {
        Some(RuleBody::Mutate(_)) => ExpectationKind::Mutate,
        Some(RuleBody::Unsupported { kind: palisade_engine::RuleKind::Generation, .. }) => ExpectationKind::Generate,
        _ => ExpectationKind::Validate,
    }
}

fn check_expectation(
    tc: &TestContext<'_>,
    expected: &ExpectedResult,
    policies: &LoadedPolicies,
    outcomes: &[(&Value, crate::run::ResourceOutcome)],
    records: &mut Vec<Record>,
) {
    let want = expected.result.clone().or_else(|| expected.status.clone()).unwrap_or_default().to_ascii_lowercase();
    let names: Vec<String> = expected.resources.iter().cloned().chain(expected.resource.clone()).collect();
    let kind = rule_kind(policies, &expected.policy, &expected.rule, expected);
    let cel = tc.family == Family::CelPolicy
        || expected.is_validating_policy
        || expected.is_mutating_policy
        || expected.is_generating_policy
        || expected.is_validating_admission_policy
        || expected.is_image_validating_policy
        || expected.is_deleting_policy;
    for name in names {
        let mut record = Record {
            test_file: tc.file.to_string(),
            policy: expected.policy.clone(),
            rule: expected.rule.clone(),
            resource: format!("{}/{}", expected.kind.clone().unwrap_or_default(), name),
            expected: want.clone(),
            actual: String::new(),
            status: CheckStatus::Fail,
            reason: String::new(),
            family: tc.family,
            kind,
        };
        if cel {
            record.status = CheckStatus::Skip;
            record.reason = "CEL not supported yet".into();
            records.push(record);
            continue;
        }
        if let Some(reason) = unsupported_reason(policies, &expected.policy, &expected.rule) {
            record.status = CheckStatus::Skip;
            record.reason = reason;
            records.push(record);
            continue;
        }
        let (want_ns, want_name) = match name.split_once('/') {
            Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
            None => (None, name.clone()),
        };
        let matching: Vec<_> = outcomes
            .iter()
            .filter(|(r, _)| {
                let (ns, n) = resource_name(r);
                n == want_name
                    && want_ns.as_ref().is_none_or(|w| *w == ns)
                    && expected.kind.as_ref().is_none_or(|k| r.get("kind").and_then(Value::as_str) == Some(k.as_str()))
            })
            .collect();
        let Some((resource, outcome)) = matching.first() else {
            record.reason = format!("resource {name} not found in the test's resources");
            records.push(record);
            continue;
        };
        let result = outcome
            .results
            .iter()
            .find(|r| policy_names_match(&expected.policy, &r.policy) && rule_names_match(&expected.rule, &r.rule));
        let mut actual = result.map(|r| r.status).unwrap_or(RuleStatus::Skip);
        let mut reason =
            result.map(|r| r.message.to_string()).unwrap_or_else(|| "rule did not apply to the resource".into());
        // As in the Kyverno CLI, a mutation whose output differs from the expected patched
        // resource counts as `fail`.
        if let Some(patched_file) = &expected.patched_resources
            && actual == RuleStatus::Pass
        {
            match compare_patched(tc.dir, patched_file, resource, &outcome.patched) {
                Ok(None) => {}
                Ok(Some(diff)) => {
                    actual = RuleStatus::Fail;
                    reason = format!("patched resource differs: {diff}");
                }
                Err(e) => {
                    actual = RuleStatus::Error;
                    reason = format!("{e:#}");
                }
            }
        }
        if let Some(generated_file) = &expected.generated_resource
            && actual == RuleStatus::Pass
        {
            let produced: Vec<Value> = outcome
                .generated
                .iter()
                .filter(|(p, r, _)| policy_names_match(&expected.policy, p) && rule_names_match(&expected.rule, r))
                .flat_map(|(_, _, objects)| objects.iter().cloned())
                .collect();
            let check = files::read_documents(&tc.dir.join(generated_file)).and_then(|docs| {
                let wanted: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
                palisade_kyverno::generate_rule::check_generated(&produced, &wanted).map_err(|e| anyhow::anyhow!(e))
            });
            if let Err(e) = check {
                actual = RuleStatus::Fail;
                reason = format!("generated resource differs: {e:#}");
            }
        }
        record.actual = actual.as_str().to_string();
        let ok = actual.as_str() == want;
        if !ok {
            record.reason = reason;
        }
        record.status = if ok { CheckStatus::Pass } else { CheckStatus::Fail };
        records.push(record);
    }
}

fn compare_patched(dir: &Path, file: &str, resource: &Value, patched: &Value) -> Result<Option<String>> {
    let docs = files::read_documents(&dir.join(file))?;
    let (ns, name) = resource_name(resource);
    let kind = resource.get("kind");
    let expected = docs
        .iter()
        .map(|d| &d.value)
        .find(|v| {
            let (ens, en) = resource_name(v);
            en == name && v.get("kind") == kind && (ens == ns || ens.is_empty() || ns.is_empty())
        })
        .or_else(|| if docs.len() == 1 { Some(&docs[0].value) } else { None })
        .with_context(|| format!("{file}: no patched resource for {name}"))?;
    let expected = crate::run::with_default_namespace(expected);
    Ok(describe_difference(&tidy(&expected), &tidy(patched), ""))
}
