//! The check must agree with the merge: same first error, and no error from the merge after a clean check.
//! Random resources and patches over the fields of a Pod (keyed lists, sets, directives, kind conflicts).

use palisade_engine::json_eq::json_eq;
use serde_json::{Map, Value, json};

use super::super::merge::merge_resource;
use super::{Verdict, check_merge};
use crate::test_suite::Rng;

const KEYS: [&str; 14] = [
    "containers",
    "env",
    "ports",
    "name",
    "value",
    "image",
    "containerPort",
    "protocol",
    "finalizers",
    "securityContext",
    "volumes",
    "x",
    "$patch",
    "initContainers",
];

fn scalar(rng: &mut Rng) -> Value {
    rng.pick(&[json!("a"), json!("b"), json!("c"), json!(80), json!(81), json!("TCP"), json!(true), Value::Null])
        .clone()
}

fn value(rng: &mut Rng, depth: usize, patch: bool) -> Value {
    match if depth == 0 { 0 } else { rng.below(10) } {
        0..=3 => scalar(rng),
        4..=6 => map(rng, depth - 1, patch),
        7 => json!({}),
        8 => json!([]),
        _ => {
            let len = rng.below(4);
            let items =
                (0..len).map(|_| if rng.below(5) == 0 { scalar(rng) } else { map(rng, depth - 1, patch) }).collect();
            Value::Array(items)
        }
    }
}

fn map(rng: &mut Rng, depth: usize, patch: bool) -> Value {
    let mut out = Map::new();
    for _ in 0..rng.below(4) {
        let key = *rng.pick(&KEYS);
        let v = match key {
            "$patch" if patch => {
                rng.pick(&[json!("merge"), json!("replace"), json!("delete"), json!("explode")]).clone()
            }
            "$patch" => continue,
            "name" | "containerPort" | "protocol" if rng.below(4) > 0 => scalar(rng),
            "containers" | "initContainers" | "env" | "ports" | "volumes" if depth > 0 && rng.below(5) > 0 => {
                keyed_list(rng, key, depth - 1, patch)
            }
            _ => value(rng, depth, patch),
        };
        out.insert(key.to_string(), v);
    }
    Value::Object(out)
}

/// A list whose elements mostly carry the merge keys of `field`, with repeated values now and then.
fn keyed_list(rng: &mut Rng, field: &str, depth: usize, patch: bool) -> Value {
    let items = (0..rng.below(4))
        .map(|_| {
            let mut element = map(rng, depth, patch);
            if let Value::Object(m) = &mut element {
                if field == "ports" {
                    m.insert("containerPort".into(), rng.pick(&[json!(80), json!(81), json!("80")]).clone());
                    if rng.below(2) == 0 {
                        m.insert("protocol".into(), rng.pick(&[json!("TCP"), json!("UDP")]).clone());
                    }
                } else if rng.below(5) > 0 {
                    m.insert("name".into(), rng.pick(&[json!("a"), json!("b")]).clone());
                }
            }
            element
        })
        .collect();
    Value::Array(items)
}

fn pod(rng: &mut Rng, patch: bool) -> Value {
    let mut object = json!({"spec": map(rng, 4, patch), "metadata": map(rng, 2, patch)});
    if !patch {
        object["apiVersion"] = json!("v1");
        object["kind"] = json!("Pod");
    }
    object
}

#[test]
fn check_agrees_with_merge_on_random_patches() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut clean, mut unsure, mut errors, mut changed_count, mut unchanged) = (0, 0, 0, 0, 0);
    for case in 0..20_000 {
        let resource = pod(&mut rng, false);
        let patch = pod(&mut rng, true);
        let checked = check_merge(&resource, &patch);
        let merged = merge_resource(resource.clone(), &patch);
        let label = || format!("case {case}\nresource {resource}\npatch {patch}");
        match (&checked, &merged) {
            (Err(c), Err(m)) => {
                assert_eq!(c.to_string(), m.to_string(), "{}", label());
                errors += 1;
            }
            (Err(c), Ok(_)) => panic!("check failed ({c}) but the merge succeeded: {}", label()),
            (Ok(Verdict::Clean), Err(m)) => panic!("clean check but the merge failed ({m}): {}", label()),
            (Ok(Verdict::Clean), Ok(_)) => clean += 1,
            (Ok(Verdict::Unsure), _) => unsure += 1,
        }
        if let Ok((after, changed)) = &merged {
            assert_eq!(*changed, !json_eq(after, &resource), "changed flag: {}", label());
            if *changed {
                changed_count += 1;
            } else {
                unchanged += 1;
            }
        }
    }
    // The generator reaches every outcome often enough for the comparison to mean something.
    // (Seen: 15,849 clean, 1,212 unsure, 2,939 errors; 15,491 of the merges changed the resource.)
    assert!(
        clean > 2_000 && errors > 2_000 && unsure > 200 && changed_count > 2_000 && unchanged > 500,
        "clean {clean} unsure {unsure} errors {errors} changed {changed_count}"
    );
}
