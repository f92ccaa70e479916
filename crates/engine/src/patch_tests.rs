use serde_json::json;

use super::*;

#[test]
fn shapes() {
    let a = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "x": 1, "y": "z", "n": null}});
    let b = json!({"spec": {"containers": [{"name": "a", "image": "i"}], "x": "1", "w": [1], "n": null}});
    assert_eq!(
        diff_json(&a, &b),
        json!([
            {"op": "remove", "path": "/spec/containers/2"},
            {"op": "remove", "path": "/spec/containers/1"},
            {"op": "add", "path": "/spec/containers/0/image", "value": "i"},
            {"op": "add", "path": "/spec/w", "value": [1]},
            {"op": "replace", "path": "/spec/x", "value": "1"},
            {"op": "remove", "path": "/spec/y"}
        ])
    );
    assert_eq!(
        diff_json(&json!({"a/b~c": 1}), &json!({"a/b~c": 2})),
        json!([{"op": "replace", "path": "/a~1b~0c", "value": 2}])
    );
    assert!(diff(&a, &a).is_empty());
}

#[test]
fn ignored_paths() {
    let cases = [
        ("/metadata/labels/a", false),
        ("/metadata/annotations", false),
        ("/metadata/resourceVersion", true),
        ("/metadata/managedFields/0", true),
        ("/spec/template/metadata", false),
        ("/spec/template/metadata/labels/x", false),
        ("/spec/template/metadata/creationTimestamp", true),
        ("/spec/triggers/0/metadata/foo", false),
        ("/status/phase", false),
    ];
    for (path, want) in cases {
        assert_eq!(is_ignored_patch_path(path), want, "{path}");
    }
    let original = json!({"metadata": {"name": "a", "uid": "1"}});
    let mutated = json!({"metadata": {"name": "b", "uid": "2"}});
    assert_eq!(webhook_patch(&original, &mutated).len(), 1);
}

/// Small values that exercise every diff branch: maps, lists of different lengths, type changes, nulls.
fn samples() -> Vec<Value> {
    vec![
        json!(null),
        json!(1),
        json!(1.5),
        json!("s"),
        json!(true),
        json!([]),
        json!([1]),
        json!([1, 2, 3]),
        json!([3, {"a": 1}]),
        json!({}),
        json!({"a": 1}),
        json!({"a": [1, 2], "b": {"c": null}}),
        json!({"a": {"x": [{"k": 1}, {"k": 2}]}, "~/": 0}),
        json!({"b": {"c": "d"}, "a": 2}),
    ]
}

/// Exhaustive over all pairs (including nested in a map): applying the diff reproduces the target.
#[test]
fn applying_the_diff_reproduces_the_target() {
    for a in samples() {
        for b in samples() {
            for (from, to) in [(a.clone(), b.clone()), (json!({"root": a.clone()}), json!({"root": b.clone()}))] {
                let patch: json_patch::Patch = serde_json::from_value(diff_json(&from, &to)).unwrap();
                let mut doc = from.clone();
                if from.is_object() || to.is_object() || !patch.0.is_empty() {
                    match json_patch::patch(&mut doc, &patch) {
                        Ok(()) => assert_eq!(doc, to, "{from} -> {to}"),
                        Err(e) => panic!("{from} -> {to}: {e}"),
                    }
                }
            }
        }
    }
}
