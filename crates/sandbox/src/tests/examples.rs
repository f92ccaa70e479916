//! `examples/sandbox` stays consistent with the engine: its `kyverno-test.yaml` expectations
//! are checked here the way `palisade test` checks them (first result of the policy and rule,
//! `skip` when none, patched resources compared when the mutation passed).

use super::*;
use palisade_engine::Document;

const DIR: &str = "examples/sandbox";
const FILES: [(&str, &str); 8] = [
    ("policy.yaml", include_str!("../../../../examples/sandbox/policy.yaml")),
    ("runtimeclasses.yaml", include_str!("../../../../examples/sandbox/runtimeclasses.yaml")),
    ("resources/pods.yaml", include_str!("../../../../examples/sandbox/resources/pods.yaml")),
    ("resources/deployments.yaml", include_str!("../../../../examples/sandbox/resources/deployments.yaml")),
    (".kyverno-test/kyverno-test.yaml", include_str!("../../../../examples/sandbox/.kyverno-test/kyverno-test.yaml")),
    (".kyverno-test/values.yaml", include_str!("../../../../examples/sandbox/.kyverno-test/values.yaml")),
    (".kyverno-test/patched/pods.yaml", include_str!("../../../../examples/sandbox/.kyverno-test/patched/pods.yaml")),
    (
        ".kyverno-test/patched/controllers.yaml",
        include_str!("../../../../examples/sandbox/.kyverno-test/patched/controllers.yaml"),
    ),
];

fn docs(name: &str) -> Vec<Document> {
    let (_, text) = FILES.iter().find(|(n, _)| *n == name).unwrap();
    parse_documents(&format!("{DIR}/{name}"), text).unwrap()
}

fn find<'a>(docs: &'a [Document], kind: &str, ns_name: &str) -> Option<&'a Value> {
    let (ns, name) = ns_name.split_once('/').unwrap_or(("default", ns_name));
    docs.iter().map(|d| &d.value).find(|v| {
        v["kind"] == kind
            && v["metadata"]["name"] == name
            && v["metadata"]["namespace"].as_str().unwrap_or("default") == ns
    })
}

#[test]
fn the_sandbox_example_test_file_holds() {
    let mut set = PolicySet::new();
    for p in crate::load(&docs("policy.yaml")).unwrap() {
        set.add(p);
    }
    let classes = docs("runtimeclasses.yaml").into_iter().map(|d| d.value).collect();
    let ctx = EvaluationContext { cluster: Some(Arc::new(StaticCluster::new(classes))), ..Default::default() };
    let resources: Vec<Document> = [docs("resources/pods.yaml"), docs("resources/deployments.yaml")].concat();
    let values = &docs(".kyverno-test/values.yaml")[0].value;
    let updated: Vec<&str> = values["policies"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["values"]["request.operation"] == "UPDATE")
        .filter_map(|r| r["name"].as_str())
        .collect();
    let test = &docs(".kyverno-test/kyverno-test.yaml")[0].value;
    let mut checked = 0;
    for expected in test["results"].as_array().unwrap() {
        let kind = expected["kind"].as_str().unwrap();
        let rule = expected["rule"].as_str().unwrap();
        for name in expected["resources"].as_array().unwrap().iter().filter_map(Value::as_str) {
            let object =
                find(&resources, kind, name).unwrap_or_else(|| panic!("{kind} {name} not in resources")).clone();
            let short = name.rsplit('/').next().unwrap();
            let op = if updated.contains(&short) { Operation::Update } else { Operation::Create };
            let mut req = AdmissionRequest::for_object(object.clone(), op);
            if op == Operation::Update {
                req.old_object = object;
            }
            let eval = set.evaluate(&req, &ctx);
            let actual = eval.all_results().find(|r| &*r.rule == rule);
            let status = actual.map_or("skip", |r| r.status.as_str());
            assert_eq!(status, expected["result"].as_str().unwrap(), "{rule} on {kind} {name}: {actual:?}");
            if let Some(file) = expected["patchedResources"].as_str().filter(|_| status == "pass") {
                let patched_docs = docs(&format!(".kyverno-test/{file}"));
                let want = find(&patched_docs, kind, name).unwrap_or_else(|| panic!("{file}: no {kind} {name}"));
                assert_eq!(eval.patched.as_ref(), Some(want), "patched {kind} {name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 29, "only {checked} expectations checked");
}

#[test]
fn every_message_is_documented() {
    use crate::messages as m;
    let doc = include_str!("../../../../docs/sandboxing.md");
    let (f, k) = ("{field}", "{Kind}");
    let messages = [
        m::moved("the default runtime is reserved", f, "kata"),
        m::denied("the default runtime is reserved", f, None),
        m::default_allowed(),
        m::moved("runtime \"runc\" is reserved", f, "kata"),
        m::denied("runtime \"runc\" is reserved", f, None),
        m::allowed("gvisor"),
        m::allowed_sandbox("gvisor"),
        m::moved("sandbox required ({triggers})", f, "kata"),
        m::denied("sandbox required ({triggers})", f, Some("{sandboxRuntimes}")),
        m::would_move("{reasons}", f, "kata"),
        m::not_moved("{reasons}", f, "kata"),
        m::nothing_to_change(),
        m::immutable(f, k),
        m::update_kept("{reasons}", f, k),
        m::update_denied("{reasons}", f, k, Some("kata")),
        m::owned("ReplicaSet", "Deployment", "web"),
        m::no_runtime_to_check(),
        m::existing_not_rechecked(k),
        m::class_exists("kata"),
        m::class_unchecked("kata"),
        m::class_missing("kata"),
        m::selector_conflict("kata", "{key}", "{class value}", "{spec}.nodeSelector", "{pod value}"),
        m::not_a_sandbox(Some("runc")),
        m::not_a_sandbox(None),
        m::compatible("kata"),
        m::incompatible("kata", "hostNetwork, hostPID, hostIPC, hostPath volume \"data\"", "sandbox-untrusted"),
    ];
    // Markdown paragraphs may wrap: compare with runs of whitespace collapsed.
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let doc = squash(doc);
    for message in messages {
        assert!(doc.contains(&format!("`{}`", squash(&message))), "docs/sandboxing.md lacks `{message}`");
    }
}
