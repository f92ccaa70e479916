//! Vectors ported from upstream `patchJSON6902_test.go`.

use serde_json::json;

use super::*;
use crate::mutate::diff_json;

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "myDeploy"},
           "spec": {"replica": 2, "template": {"metadata": {"labels": {"old-label": "old-value"}},
                    "spec": {"containers": [{"image": "nginx", "name": "nginx"}]}}}})
}

#[test]
fn upstream_json_patch() {
    let cases: Vec<(&str, &str, Value)> = vec![
        ("single patch", "- op: replace\n  path: /spec/replica\n  value: 5\n", {
            let mut d = deployment();
            d["spec"]["replica"] = json!(5);
            d
        }),
        (
            "insert to list",
            "- op: add\n  path: /spec/template/spec/containers/1\n  value: {\"name\":\"new-nginx\",\"image\":\"new-nginx-image\"}\n",
            {
                let mut d = deployment();
                d["spec"]["template"]["spec"]["containers"] =
                    json!([{"image": "nginx", "name": "nginx"}, {"name": "new-nginx", "image": "new-nginx-image"}]);
                d
            },
        ),
        (
            "replace first element in list",
            "- op: replace\n  path: /spec/template/spec/containers/0\n  value: {\"name\":\"new-nginx\",\"image\":\"new-nginx-image\"}\n",
            {
                let mut d = deployment();
                d["spec"]["template"]["spec"]["containers"] =
                    json!([{"name": "new-nginx", "image": "new-nginx-image"}]);
                d
            },
        ),
        (
            "multiple operations",
            "- op: replace\n  path: /spec/template/spec/containers/0/name\n  value: my-nginx\n- op: add\n  path: /spec/replica\n  value: 999\n- op: add\n  path: /spec/template/spec/volumes\n  value:\n  - emptyDir:\n      medium: Memory\n    name: vault-secret\n",
            {
                let mut d = deployment();
                d["spec"]["replica"] = json!(999);
                d["spec"]["template"]["spec"]["containers"][0]["name"] = json!("my-nginx");
                d["spec"]["template"]["spec"]["volumes"] =
                    json!([{"emptyDir": {"medium": "Memory"}, "name": "vault-secret"}]);
                d
            },
        ),
        ("json form", r#"[{"op": "remove", "path": "/spec/replica"}]"#, {
            let mut d = deployment();
            d["spec"].as_object_mut().unwrap().shift_remove("replica");
            d
        }),
    ];
    for (name, patches, want) in cases {
        assert_eq!(apply_json6902(&deployment(), patches).unwrap_or_else(|e| panic!("{name}: {e}")), want, "{name}");
    }
}

/// Upstream `Test_MissingPaths`: the generated patches after applying with Kyverno's options.
#[test]
fn upstream_missing_paths() {
    let base = json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}});
    let with_tolerations = json!({"spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}],
        "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "tolerationSeconds": 300}]}});
    let toleration = json!({"effect": "NoSchedule", "key": "node-role.kubernetes.io/test", "operator": "Exists"});
    let cases: Vec<(&str, &Value, &str, Value)> = vec![
        (
            "add-map-to-non-exist-path",
            &base,
            "- path: \"/spec/nodeSelector\"\n  op: add\n  value: {\"node.kubernetes.io/role\": \"test\"}\n",
            json!([{"op": "add", "path": "/spec/nodeSelector", "value": {"node.kubernetes.io/role": "test"}}]),
        ),
        (
            "add-to-non-exist-array",
            &base,
            "- path: \"/spec/tolerations/0\"\n  op: add\n  value: {\"key\": \"node-role.kubernetes.io/test\", \"effect\": \"NoSchedule\", \"operator\": \"Exists\"}\n",
            json!([{"op": "add", "path": "/spec/tolerations", "value": [toleration]}]),
        ),
        (
            "add-to-non-exist-array-3",
            &base,
            "- path: \"/spec/tolerations/-1\"\n  op: add\n  value: {\"key\": \"node-role.kubernetes.io/test\", \"effect\": \"NoSchedule\", \"operator\": \"Exists\"}\n",
            json!([{"op": "add", "path": "/spec/tolerations", "value": [toleration]}]),
        ),
        (
            "add-to-exist-array",
            &with_tolerations,
            "- path: \"/spec/tolerations\"\n  op: add\n  value: [{\"key\": \"node-role.kubernetes.io/test\", \"effect\": \"NoSchedule\", \"operator\": \"Exists\"}]\n",
            json!([
                {"op": "replace", "path": "/spec/tolerations/0/effect", "value": "NoSchedule"},
                {"op": "replace", "path": "/spec/tolerations/0/key", "value": "node-role.kubernetes.io/test"},
                {"op": "remove", "path": "/spec/tolerations/0/tolerationSeconds"}
            ]),
        ),
        (
            "add-to-exist-array-2",
            &with_tolerations,
            "- path: \"/spec/tolerations/-\"\n  op: add\n  value: {\"key\": \"node-role.kubernetes.io/test\", \"effect\": \"NoSchedule\", \"operator\": \"Exists\"}\n",
            json!([{"op": "add", "path": "/spec/tolerations/1", "value": toleration}]),
        ),
    ];
    for (name, resource, patches, want) in cases {
        let patched = apply_json6902(resource, patches).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(diff_json(resource, &patched), want, "{name}");
    }
}

#[test]
fn semantics() {
    let doc = json!({"a": {"b": [1, 2, 3]}, "c": "x"});
    let cases: Vec<(&str, Result<Value, &str>)> = vec![
        ("- {op: add, path: /a/b/-1, value: 9}", Ok(json!({"a": {"b": [1, 2, 3, 9]}, "c": "x"}))),
        ("- {op: remove, path: /a/b/-1}", Ok(json!({"a": {"b": [1, 2]}, "c": "x"}))),
        ("- {op: remove, path: /missing/deep}", Ok(doc.clone())),
        ("- {op: remove, path: /a/b/7}", Ok(doc.clone())),
        ("- {op: move, from: /c, path: /a/d}", Ok(json!({"a": {"b": [1, 2, 3], "d": "x"}}))),
        ("- {op: copy, from: /a/b/0, path: /a/b/0}", Ok(json!({"a": {"b": [1, 1, 2, 3]}, "c": "x"}))),
        (
            "- {op: test, path: /c, value: x}\n- {op: add, path: /e/f/g, value: 1}",
            Ok(json!({"a": {"b": [1, 2, 3]}, "c": "x", "e": {"f": {"g": 1}}})),
        ),
        (
            "- {op: add, path: /n/2/k, value: 1}",
            Ok(json!({"a": {"b": [1, 2, 3]}, "c": "x", "n": [null, null, {"k": 1}]})),
        ),
        ("- {op: add, path: /a~1b, value: 1}", Ok(json!({"a": {"b": [1, 2, 3]}, "c": "x", "a/b": 1}))),
        ("- {op: test, path: /c, value: y}", Err("patchesJson6902 operation 0 (test /c): testing value failed")),
        (
            "- {op: replace, path: /zz, value: 1}",
            Err("patchesJson6902 operation 0 (replace /zz): replace operation does not apply: doc is missing key"),
        ),
        (
            "- {op: add, path: /c, value: 1}\n- {op: add, path: /a/b/9, value: 1}",
            Err("patchesJson6902 operation 1 (add /a/b/9): Unable to access invalid index: 9"),
        ),
        ("- {op: frobnicate, path: /c}", Err("patchesJson6902 operation 0 (frobnicate /c): unsupported operation")),
        ("- {op: add, path: /c}", Err("patchesJson6902 operation 0 (add /c): failed to decode 'value': missing")),
        ("- {op: move, path: /c}", Err("patchesJson6902 operation 0 (move /c): failed to decode 'from': missing")),
        ("op: add", Err("failed to decode patches: expected a list of operations")),
    ];
    for (patch, want) in cases {
        let got = apply_json6902(&doc, patch).map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(str::to_string), "{patch}");
    }
}
