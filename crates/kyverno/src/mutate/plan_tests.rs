//! [`Plan::resolve`] must return what the general preprocessing returns: compared over every static
//! `patchStrategicMerge` overlay of the upstream suite (as written and wrapped as autogen writes it) against every
//! resource of the suite, and over hand-written overlays and resources aimed at the corners.

use serde_json::json;

use super::*;
use crate::mutate::condition::BasicMatcher;
use crate::mutate::preprocess::preprocess;
use crate::test_suite::{conformance_root, files_below, load_docs};

/// The general path's answer, in a comparable form.
fn general(overlay: &Value, resource: &Value) -> Result<Value, String> {
    let mut patch = overlay.clone();
    preprocess(&mut patch, resource, &BasicMatcher).map(|()| patch).map_err(|e| format!("{e:?}"))
}

fn planned(plan: &Plan, resource: &Value) -> Result<Value, String> {
    plan.resolve(resource, &BasicMatcher).map_err(|e| format!("{e:?}"))
}

/// Compares both paths for every resource; returns how many comparisons were made.
fn compare(overlay: &Value, resources: &[Value], failures: &mut Vec<String>) -> usize {
    let Some(plan) = Plan::compile(overlay) else { return 0 };
    for resource in resources {
        let (want, got) = (general(overlay, resource), planned(&plan, resource));
        if want != got {
            failures.push(format!("overlay {overlay}\nresource {resource}\ngeneral {want:?}\nplanned {got:?}"));
        }
    }
    resources.len()
}

fn wrapped(overlay: &Value) -> [Value; 3] {
    [
        overlay.clone(),
        json!({"spec": {"template": overlay}}),
        json!({"spec": {"jobTemplate": {"spec": {"template": overlay}}}}),
    ]
}

fn static_overlays(block: &Value, out: &mut Vec<Value>) {
    if let Some(overlay) = block.get("patchStrategicMerge")
        && !overlay.to_string().contains("{{")
    {
        out.push(overlay.clone());
    }
    for item in block.get("foreach").and_then(Value::as_array).into_iter().flatten() {
        static_overlays(item, out);
    }
}

#[test]
fn plans_agree_with_the_general_preprocessing_over_the_suite() {
    let mut files = Vec::new();
    files_below(&conformance_root(), &|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"), &mut files);
    files.sort();
    let (mut overlays, mut resources) = (Vec::new(), Vec::new());
    for file in &files {
        for doc in load_docs(file) {
            if doc["apiVersion"].as_str().is_some_and(|v| v.starts_with("kyverno.io/")) {
                for rule in doc["spec"]["rules"].as_array().into_iter().flatten() {
                    if let Some(mutate) = rule.get("mutate") {
                        static_overlays(mutate, &mut overlays);
                    }
                }
            } else if doc.get("kind").is_some() && !doc["apiVersion"].as_str().is_some_and(|v| v.contains("kyverno")) {
                if doc["kind"] == "Pod" {
                    resources.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "wrapped"}, "spec": {"template": {"metadata": doc["metadata"].clone(),
                        "spec": doc["spec"].clone()}}}));
                }
                resources.push(doc);
            }
        }
    }
    // Overlays without anchors never use a plan; resources repeat across tests.
    overlays.retain(contains_anchor);
    // Every 4th distinct workload (what the overlays are written for) and every 20th other resource (the paths
    // that find nothing to patch): comparing all 5,000 takes half a minute in a debug build (on 2026-12-07 all
    // 4,623 distinct workloads and every 20th other resource, 152,559 comparisons, agreed).
    let mut seen = std::collections::HashSet::new();
    resources.retain(|r| seen.insert(r.to_string()));
    let workload = |r: &Value| {
        matches!(r["kind"].as_str(), Some("Pod" | "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob"))
    };
    let (mut workloads, mut others) = (0, 0);
    resources.retain(|r| {
        if workload(r) {
            workloads += 1;
            workloads % 4 == 0
        } else {
            others += 1;
            others % 20 == 0
        }
    });
    let (mut planned_overlays, mut comparisons, mut failures) = (0, 0, Vec::new());
    for overlay in &overlays {
        for form in wrapped(overlay) {
            let n = compare(&form, &resources, &mut failures);
            planned_overlays += usize::from(n > 0);
            comparisons += n;
        }
    }
    eprintln!(
        "{} static overlays with anchors ({} forms with a plan), {} distinct resources: {comparisons} comparisons",
        overlays.len(),
        planned_overlays,
        resources.len()
    );
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures[..failures.len().min(5)].join("\n\n"));
    assert!(planned_overlays >= 30 && comparisons >= 10_000, "too little compared: {planned_overlays} plans");
}

#[test]
fn plans_agree_with_the_general_preprocessing_in_the_corners() {
    let overlays = [
        json!({"spec": {"+(runtimeClassName)": "kata", "+(securityContext)": {"runAsNonRoot": true, "x": {}}}}),
        json!({"metadata": {"labels": {"+(a)": "1", "b": "2", "+(c)": {}}}, "spec": {"+(hostNetwork)": false}}),
        json!({"spec": {"containers": [{"(name)": "*", "imagePullPolicy": "Always"}]}}),
        json!({"spec": {"containers": [{"(name)": "a*", "(image)": "*:latest", "env": [{"name": "X", "value": "1"}]},
                                       {"name": "sidecar", "image": "s"},
                                       {"(image)": "*"}]}}),
        json!({"spec": {"containers": [{"(name)": "?*", "ports": [{"containerPort": 80}], "x": {"y": [{"z": 1}]}}],
                        "+(volumes)": [{"name": "v", "emptyDir": {}}]}}),
        json!({"spec": {"containers": [{"(name)": "*", "empty": {}}], "initContainers": [{"(name)": "*", "a": 1}]}}),
        json!({"spec": {"+(template)": {"spec": {"containers": [{"(name)": "*", "a": 1}]}}}}),
        json!({"spec": {"containers": [{"(name)": 5, "a": 1}, {"(ready)": true, "b": 2}]}}),
    ];
    let resources = [
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "x", "c": null}},
               "spec": {"runtimeClassName": "gvisor", "hostNetwork": true,
                        "containers": [{"name": "app", "image": "app:latest", "env": [{"name": "A"}]},
                                       {"name": "", "image": "x"}, {"image": "noname"}, "scalar",
                                       {"name": "abc", "image": "abc:1", "ports": {"bad": 1}, "x": {"y": "scalar"}}],
                        "initContainers": null}}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {"name": "a map"}}}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "5", "ready": true, "env": 7}],
                                                           "volumes": "x", "securityContext": {"runAsNonRoot": false}}}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [], "template": "x"}}),
        json!("not a map"),
    ];
    let mut failures = Vec::new();
    let mut compared = 0;
    for overlay in &overlays {
        let n = compare(overlay, &resources, &mut failures);
        assert!(n > 0, "no plan for {overlay}");
        compared += n;
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n\n"));
    assert_eq!(compared, overlays.len() * resources.len());
}

#[test]
fn other_anchor_forms_have_no_plan() {
    for overlay in [
        json!({"spec": {"(hostNetwork)": true, "x": 1}}),
        json!({"spec": {"<(hostNetwork)": true, "x": 1}}),
        json!({"spec": {"a": 1, "+(a)": 2}}),
        json!({"spec": {"containers": [{"(name)": "*", "+(a)": 1}]}}),
        json!({"spec": {"containers": [{"(securityContext)": {"privileged": true}, "a": 1}]}}),
        json!({"spec": {"containers": [{"(name)": "*", "env": [{"(name)": "X", "value": "1"}]}]}}),
        json!({"spec": {"containers": ["x", {"(name)": "*"}]}}),
        json!({"spec": {"=(x)": 1}}),
        json!({"spec": {"name": "(x)", "+(y)": 1}}),
    ] {
        assert!(Plan::compile(&overlay).is_none(), "{overlay}");
    }
}
