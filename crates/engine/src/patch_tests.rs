use serde_json::json;
use std::sync::Arc;

use super::*;

/// What a plain JSON merge overlay can write (no schema, no anchors): its fields, map by map; a list, a scalar, a
/// `null` or a map with a `$patch` directive whole. Builds the trees these tests use.
fn of_overlay(overlay: &Value) -> Touched {
    match overlay {
        Value::Object(map) if lookup(map, DIRECTIVE).is_none() => {
            Touched::fields(map.iter().map(|(k, v)| (Arc::from(k.as_str()), of_overlay(v))).collect())
        }
        _ => Touched::Everything,
    }
}

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

#[test]
fn touched_overlays_and_unions() {
    let t = of_overlay(&json!({"spec": {"b": 1, "a": {"x": [1]}, "l": [1]}, "metadata": null}));
    let fields = |v: Vec<(&str, Touched)>| Touched::Fields(v.into_iter().map(|(k, t)| (Arc::from(k), t)).collect());
    let want = fields(vec![
        ("metadata", Touched::Everything),
        (
            "spec",
            fields(vec![
                ("a", fields(vec![("x", Touched::Everything)])),
                ("b", Touched::Everything),
                ("l", Touched::Everything),
            ]),
        ),
    ]);
    assert_eq!(t, want);
    assert_eq!(of_overlay(&json!({"spec": {"$patch": "replace", "a": 1}})), {
        fields(vec![("spec", Touched::Everything)])
    });
    let mut u = Touched::Nothing;
    u.add(&of_overlay(&json!({"spec": {"c": 1}})));
    u.add(&of_overlay(&json!({"spec": {"a": {"y": 1}}, "kind": "x"})));
    u.add(&Touched::Nothing);
    assert_eq!(
        u,
        fields(vec![
            ("kind", Touched::Everything),
            ("spec", fields(vec![("a", fields(vec![("y", Touched::Everything)])), ("c", Touched::Everything)])),
        ])
    );
    u.add(&Touched::Everything);
    assert_eq!(u, Touched::Everything);
}

#[test]
fn patches_within_touched_fields_equal_the_full_diff() {
    let original = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "1", "z": "2"}},
        "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": [], "z": 1, "b": {"c": 1, "d": 2, "$patch": "x"}}});
    let mut mutated = original.clone();
    mutated["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
    mutated["spec"]["runtimeClassName"] = json!("kata");
    mutated["spec"]["b"] = json!({"d": 3, "e": 4});
    mutated["spec"].as_object_mut().unwrap().shift_remove("z");
    mutated["metadata"]["labels"]["b"] = json!("3");
    let touched = of_overlay(&json!({
        "metadata": {"labels": {"b": "3"}},
        "spec": {"containers": [], "runtimeClassName": "kata", "b": {"c": null, "d": 3, "e": 4}, "z": null}}));
    let full = webhook_patch(&original, &mutated);
    // (A merge also drops a `$patch` key from the resource's maps it walks: such a map is compared whole.)
    assert_eq!(full.len(), 8, "{full:?}");
    assert_eq!(webhook_patch_within(&original, &mutated, &touched), full);
    assert_eq!(webhook_patch_within(&original, &mutated, &Touched::Everything), full);
    assert!(webhook_patch_within(&original, &mutated, &Touched::Nothing).is_empty());
    // Outside the touched fields nothing is compared: a change there is not found (callers must not lie).
    let narrow = of_overlay(&json!({"spec": {"runtimeClassName": "kata"}}));
    assert_eq!(webhook_patch_within(&original, &mutated, &narrow).len(), 1);
}
