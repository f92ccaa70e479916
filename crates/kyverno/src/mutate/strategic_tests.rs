use serde_json::json;

use super::*;

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello"}, "spec": spec})
}

#[test]
fn add_if_not_present_runtime_class() {
    let patch = StrategicPatch::compile(&json!({"spec": {"+(runtimeClassName)": "kata"}})).unwrap();
    let without = pod(json!({"containers": [{"name": "a", "image": "a"}]}));
    let mut want = without.clone();
    want["spec"]["runtimeClassName"] = json!("kata");
    assert_eq!(patch.apply(&without).unwrap(), want);
    let with = pod(json!({"containers": [{"name": "a", "image": "a"}], "runtimeClassName": "gvisor"}));
    assert_eq!(patch.apply(&with).unwrap(), with);
}

#[test]
fn conditional_containers_patch_only_matching() {
    let patch = StrategicPatch::compile(
        &json!({"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "IfNotPresent"}]}}),
    )
    .unwrap();
    let resource = pod(json!({"containers": [
        {"name": "a", "image": "nginx:latest"},
        {"name": "b", "image": "nginx:1.25"},
        {"name": "c", "image": "busybox:latest"}
    ]}));
    let got = patch.apply(&resource).unwrap();
    assert_eq!(
        got["spec"]["containers"],
        json!([
            {"name": "a", "image": "nginx:latest", "imagePullPolicy": "IfNotPresent"},
            {"name": "c", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent"},
            {"name": "b", "image": "nginx:1.25"}
        ])
    );
}

/// Upstream `TestMergePatch` cases 2 and 3: a condition-only element changes nothing in the list.
#[test]
fn upstream_merge_patch_conditions() {
    let resource = pod(json!({"containers": [
        {"name": "hello", "image": "gcr.io/google-containers/busybox:latest"},
        {"name": "hello2", "image": "gcr.io/google-containers/busybox:latest"},
        {"name": "hello3", "image": "gcr.io/google-containers/nginx:latest"}
    ]}));
    for image in ["gcr.io/google-containers/busybox:*", "gcr.io/google-containers/nginx:*"] {
        let patch = json!({"spec": {"containers": [{"(image)": image}], "imagePullSecrets": [{"name": "regcred"}]}});
        let mut want = resource.clone();
        want["spec"]["imagePullSecrets"] = json!([{"name": "regcred"}]);
        assert_eq!(strategic_merge(&resource, &patch).unwrap(), want, "{image}");
    }
}

/// Upstream `TestMergePatch` case 1: a new container is placed before the existing ones.
#[test]
fn upstream_merge_patch_prepends_new_containers() {
    let base = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "wordpress"},
        "spec": {"template": {"spec": {"containers": [{"image": "wordpress:4.8-apache", "name": "wordpress",
            "ports": [{"containerPort": 80, "name": "wordpress"}]}]}}}});
    let patch = json!({"spec": {"template": {"spec": {
        "containers": [{"name": "nginx", "image": "nginx"},
                       {"name": "wordpress", "env": [{"name": "WORDPRESS_DB_HOST", "value": "$(MYSQL_SERVICE)"}]}],
        "initContainers": [{"name": "init-command", "image": "debian", "command": ["echo $(WORDPRESS_SERVICE)"]}]}}}});
    let got = strategic_merge(&base, &patch).unwrap();
    assert_eq!(
        got["spec"]["template"]["spec"],
        json!({"containers": [{"name": "nginx", "image": "nginx"},
            {"image": "wordpress:4.8-apache", "name": "wordpress", "ports": [{"containerPort": 80, "name": "wordpress"}],
             "env": [{"name": "WORDPRESS_DB_HOST", "value": "$(MYSQL_SERVICE)"}]}],
            "initContainers": [{"name": "init-command", "image": "debian", "command": ["echo $(WORDPRESS_SERVICE)"]}]})
    );
}

#[test]
fn failed_condition_skips_whole_patch() {
    let patch = StrategicPatch::compile(
        &json!({"metadata": {"labels": {"(env)": "prod"}, "annotations": {"x": "y"}}, "spec": {"hostNetwork": false}}),
    )
    .unwrap();
    let resource = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"env": "dev"}}, "spec": {}});
    let outcome = patch.apply_with(&resource, &BasicMatcher).unwrap();
    assert_eq!(outcome.resource, resource);
    assert!(outcome.skipped.is_some_and(|s| s.starts_with("condition failed")));
    let prod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"env": "prod"}}, "spec": {}});
    let outcome = patch.apply_with(&prod, &BasicMatcher).unwrap();
    assert_eq!(outcome.skipped, None);
    assert_eq!(
        outcome.resource,
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"labels": {"env": "prod"}, "annotations": {"x": "y"}}, "spec": {"hostNetwork": false}})
    );
}

#[test]
fn compile_errors() {
    let cases = [
        (json!(["a"]), "invalid patchStrategicMerge: the overlay must be a map, found a list"),
        (json!({"spec": {"$patch": "nope"}}), "unknown patch strategy \"nope\" at spec"),
    ];
    for (patch, want) in cases {
        assert_eq!(StrategicPatch::compile(&patch).unwrap_err().to_string(), want);
    }
}

#[test]
fn custom_matcher_is_used() {
    struct Never;
    impl ConditionMatcher for Never {
        fn check(&self, _: &Value, _: &Value) -> Result<(), String> {
            Err("never".to_string())
        }
    }
    let patch = StrategicPatch::compile(&json!({"spec": {"(hostNetwork)": true, "dnsPolicy": "None"}})).unwrap();
    let resource = pod(json!({"hostNetwork": true}));
    assert!(patch.apply(&resource).unwrap()["spec"]["dnsPolicy"] == "None");
    assert_eq!(patch.apply_with(&resource, &Never).unwrap().resource, resource);
}

#[test]
fn touched_covers_every_resolution_of_the_anchors() {
    let patch = StrategicPatch::compile(&json!({"spec": {
        "+(runtimeClassName)": "kata",
        "containers": [{"(name)": "*", "env": [{"name": "A", "value": "1"}]}],
        "hostAliases": [{"ip": "1.2.3.4"}]}}))
    .unwrap();
    let resource = pod(json!({"containers": [{"name": "a", "image": "a"}]}));
    let Prepared::Merge(merge) = patch.prepare(&resource, &BasicMatcher).unwrap() else { panic!("a merge") };
    let f = |v: Vec<(&str, Touched)>| Touched::Fields(v.into_iter().map(|(k, t)| (Arc::from(k), t)).collect());
    let env =
        Touched::Keyed(&["name"], Arc::new(f(vec![("name", Touched::Everything), ("value", Touched::Everything)])));
    let containers = Touched::Keyed(
        &["name"],
        Arc::new(f(vec![("(name)", Touched::Everything), ("env", env), ("name", Touched::Everything)])),
    );
    // `+(runtimeClassName)` counts as written under both keys; `hostAliases` (merged by `ip` in the schema).
    let want = f(vec![(
        "spec",
        f(vec![
            ("+(runtimeClassName)", Touched::Everything),
            ("containers", containers),
            ("hostAliases", Touched::Keyed(&["ip"], Arc::new(f(vec![("ip", Touched::Everything)])))),
            ("runtimeClassName", Touched::Everything),
        ]),
    )]);
    assert_eq!(merge.touched(), want);
    // The same tree is shared by later merges of the patch into Pods.
    let Prepared::Merge(again) = patch.prepare(&resource, &BasicMatcher).unwrap() else { panic!("a merge") };
    let (Touched::Fields(a), Touched::Fields(b)) = (merge.touched(), again.touched()) else { panic!("fields") };
    assert!(Arc::ptr_eq(&a, &b));
}
