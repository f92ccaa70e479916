//! Vectors ported from upstream `strategicPreprocessing_test.go` (`Test_preProcessStrategicMergePatch_multipleAnchors`).

use serde_json::json;

use super::*;
use crate::mutate::condition::BasicMatcher;

fn run(policy: Value, resource: Value) -> Result<Value, PreError> {
    let mut patch = policy;
    preprocess(&mut patch, &resource, &BasicMatcher)?;
    Ok(patch)
}

fn pod_with_volumes() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx"}, "spec": {
        "containers": [{"name": "nginx", "image": "nginx:latest", "imagePullPolicy": "Never",
                        "volumeMounts": [{"mountPath": "/cache", "name": "cache-volume"}]}],
        "volumes": [{"name": "cache-volume", "hostPath": {"path": "/data", "type": "Directory"}}]}})
}

#[test]
fn upstream_vectors() {
    let hello = |containers: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hello"}, "spec": {"containers": containers}});
    let cases: Vec<(&str, Value, Value, Value)> = vec![
        (
            "global anchor on a list element passes; element removed",
            json!({"metadata": {"annotations": {"+(cluster-autoscaler.kubernetes.io/safe-to-evict)": "true"}},
                   "spec": {"volumes": [{"<(emptyDir)": {}}]}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "static-web", "labels": {"role": "myrole"}},
                   "spec": {"containers": [{"name": "web", "image": "1nginx"}],
                            "volumes": [{"emptyDir": {}, "name": "cache-volume"},
                                        {"secret": {"secretName": "default-token-6gplg"}, "name": "default-token-6gplg"}]}}),
            json!({"metadata": {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}}}),
        ),
        (
            "null stays",
            json!({"metadata": null}),
            hello(json!([{"name": "hello", "image": "busybox"}])),
            json!({"metadata": null}),
        ),
        (
            "(name): * copies the resource name",
            json!({"spec": {"containers": [{"(name)": "*", "image": "gcr.io/google-containers/busybox:latest"}],
                            "imagePullSecrets": [{"name": "regcred"}]}}),
            hello(json!([{"name": "hello", "image": "busybox"}])),
            json!({"spec": {"containers": [{"name": "hello", "image": "gcr.io/google-containers/busybox:latest"}],
                            "imagePullSecrets": [{"name": "regcred"}]}}),
        ),
        (
            "two conditions on one element",
            json!({"spec": {"containers": [{"(name)": "*", "(image)": "gcr.io/google-containers/busybox:*",
                                             "new_filed": "must be inserted"}],
                            "imagePullSecrets": [{"name": "regcred"}]}}),
            hello(json!([{"name": "hello", "image": "gcr.io/google-containers/busybox:latest"}])),
            json!({"spec": {"containers": [{"name": "hello", "new_filed": "must be inserted"}],
                            "imagePullSecrets": [{"name": "regcred"}]}}),
        ),
        (
            "condition-only element disappears",
            json!({"spec": {"containers": [{"(image)": "gcr.io/google-containers/busybox:*"}],
                            "imagePullSecrets": [{"name": "regcred"}]}}),
            hello(json!([{"name": "hello", "image": "gcr.io/google-containers/busybox:latest"},
                         {"name": "hello2", "image": "gcr.io/google-containers/busybox:latest"},
                         {"name": "hello3", "image": "gcr.io/google-containers/nginx:latest"}])),
            json!({"spec": {"imagePullSecrets": [{"name": "regcred"}]}}),
        ),
        (
            "global anchor with a nested pattern",
            json!({"metadata": {"annotations": {"+(cluster-autoscaler.kubernetes.io/safe-to-evict)": true},
                                "labels": {"+(add-labels)": "add"}},
                   "spec": {"volumes": [{"<(hostPath)": {"path": "*"}}]}}),
            pod_with_volumes(),
            json!({"metadata": {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": true},
                                "labels": {"add-labels": "add"}}}),
        ),
        (
            "existing annotation: everything emptied",
            json!({"metadata": {"annotations": {"+(cluster-autoscaler.kubernetes.io/safe-to-evict)": true}},
                   "spec": {"volumes": [{"<(hostPath)": {"path": "*"}}]}}),
            {
                let mut r = pod_with_volumes();
                r["metadata"]["annotations"] = json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"});
                r
            },
            json!({}),
        ),
        (
            "all add-if-not-present keys exist",
            json!({"metadata": {"annotations": {
                "+(alb.ingress.kubernetes.io/backend-protocol)": "HTTPS", "+(kubernetes.io/ingress.class)": "alb"}}}),
            json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress", "metadata": {"annotations": {
                "alb.ingress.kubernetes.io/backend-protocol": "HTTPS", "kubernetes.io/ingress.class": "test"},
                "name": "argocd", "namespace": "default"}}),
            json!({}),
        ),
        (
            "add-if-not-present inside a conditional element",
            json!({"spec": {"template": {"spec": {"containers": [{"(name)": "*",
                "resources": {"limits": {"+(memory)": "300Mi", "+(cpu)": "100"}}}]}}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "qos-demo"},
                   "spec": {"replicas": 1, "template": {"spec": {"containers": [
                       {"name": "nginx", "image": "nginx:latest", "resources": {"limits": {"cpu": "50m"}}}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [
                {"resources": {"limits": {"memory": "300Mi"}}, "name": "nginx"}]}}}}),
        ),
        (
            "conditional list, add-if-not-present, and image condition",
            json!({"metadata": {"annotations": {"+(annotation1)": "atest1", "+(annotation2)": "atest2"},
                                "labels": {"+(label1)": "test1"}},
                   "spec": {"(volumes)": [{"(hostPath)": {"path": "/var/run/docker.sock"}}],
                            "containers": [{"(image)": "*:latest", "command": ["ls"], "imagePullPolicy": "Always"}]}}),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"annotations": {"annotation1": "atest2"},
                                "labels": {"label1": "test2", "label2": "test2"}, "name": "check-root-user"},
                   "spec": {"containers": [
                       {"command": ["ll"], "image": "nginx:latest", "imagePullPolicy": "Never", "name": "nginx"},
                       {"image": "busybox:latest", "imagePullPolicy": "Never", "name": "busybox"}],
                       "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}, "name": "test-volume"}]}}),
            json!({"metadata": {"annotations": {"annotation2": "atest2"}},
                   "spec": {"containers": [
                       {"command": ["ls"], "imagePullPolicy": "Always", "name": "nginx"},
                       {"command": ["ls"], "imagePullPolicy": "Always", "name": "busybox"}]}}),
        ),
        (
            "explicit null kept",
            json!({"metadata": {"annotations": {"annotation1": null}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"annotations": {"annotation1": "atest2"}}}),
            json!({"metadata": {"annotations": {"annotation1": null}}}),
        ),
        (
            "global anchor inside a list element map",
            json!({"metadata": {"annotations": {"+(cluster-autoscaler.kubernetes.io/safe-to-evict)": true}},
                   "spec": {"volumes": [{"hostPath": {"<(path)": "*data"}}]}}),
            pod_with_volumes(),
            json!({"metadata": {"annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": true}}}),
        ),
        (
            "init containers and containers",
            json!({"spec": {"securityContext": {"runAsNonRoot": true},
                            "initContainers": [{"(name)": "*", "securityContext": {"runAsNonRoot": true}}],
                            "containers": [{"(name)": "*", "securityContext": {"runAsNonRoot": true}}]}}),
            json!({"spec": {"initContainers": [{"name": "initbusy", "image": "busybox:1.28"}],
                            "containers": [{"image": "busybox:1.28", "name": "busybox"}]}}),
            json!({"spec": {"securityContext": {"runAsNonRoot": true},
                            "initContainers": [{"name": "initbusy", "securityContext": {"runAsNonRoot": true}}],
                            "containers": [{"name": "busybox", "securityContext": {"runAsNonRoot": true}}]}}),
        ),
        (
            "empty maps are stripped",
            json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}], "securityContext": {}}}),
            json!({"spec": {}}),
            json!({"spec": {"volumes": [{"name": "v"}]}}),
        ),
    ];
    for (name, policy, resource, want) in cases {
        match run(policy, resource) {
            Ok(got) => assert_eq!(got, want, "{name}"),
            Err(e) => panic!("{name}: {e:?}"),
        }
    }
}

#[test]
fn conditions_that_fail() {
    let resource = json!({"metadata": {"name": "a", "labels": {"app": "x"}}, "spec": {"containers": []}});
    let cases = [
        (json!({"metadata": {"labels": {"(app)": "y"}}, "spec": {"hostNetwork": false}}), "condition"),
        (json!({"metadata": {"(annotations)": {"a": "b"}}}), "condition"),
        (json!({"metadata": {"labels": {"<(app)": "y"}}}), "global"),
        (json!({"spec": {"containers": [{"<(image)": "nginx"}]}}), "none"),
        (json!({"spec": {"volumes": [{"<(emptyDir)": {}}]}}), "global"),
    ];
    for (policy, want) in cases {
        let got = match run(policy.clone(), resource.clone()) {
            Ok(_) => "none",
            Err(PreError::Condition(_)) => "condition",
            Err(PreError::Global(_)) => "global",
            Err(PreError::Invalid(e)) => panic!("{policy}: {e}"),
        };
        assert_eq!(got, want, "{policy}");
    }
}

#[test]
fn list_where_resource_has_map_is_invalid() {
    let err = run(json!({"spec": {"containers": [{"(name)": "a"}]}}), json!({"spec": {"containers": {"a": 1}}}));
    assert!(matches!(err, Err(PreError::Invalid(_))));
}

#[test]
fn add_if_not_present_renames_in_place_and_the_anchor_wins_over_a_plain_key() {
    let resource = json!({"spec": {"c": 0}});
    let got = run(json!({"spec": {"+(a)": 1, "b": 2, "+(c)": 3, "+(d)": {"e": 4}}}), resource.clone()).expect("ok");
    assert_eq!(got, json!({"spec": {"a": 1, "b": 2, "d": {"e": 4}}}));
    let keys: Vec<&String> = got["spec"].as_object().expect("map").keys().collect();
    assert_eq!(keys, ["a", "b", "d"], "renamed keys keep their positions");
    // `a` and `+(a)` in one map: upstream renames one anchor at a time, and the renamed entry replaces `a`.
    let got = run(json!({"spec": {"a": 1, "+(a)": 2, "z": 3}}), resource).expect("ok");
    assert_eq!(got, json!({"spec": {"a": 2, "z": 3}}));
}
