use serde_json::json;

use super::*;

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

#[test]
fn table() {
    let cases: Vec<(&str, Value, Value, Value)> = vec![
        (
            "containers merge by name, patch elements first",
            pod(json!({"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]})),
            json!({"spec": {"containers": [{"name": "b", "imagePullPolicy": "Always"}, {"name": "c", "image": "c"}]}}),
            pod(json!({"containers": [
                {"name": "b", "image": "b:1", "imagePullPolicy": "Always"},
                {"name": "c", "image": "c"},
                {"name": "a", "image": "a:1"}
            ]})),
        ),
        (
            "null removes a key",
            pod(json!({"hostNetwork": true, "containers": []})),
            json!({"spec": {"hostNetwork": null}}),
            pod(json!({"containers": []})),
        ),
        (
            "null for a missing key is a no-op",
            pod(json!({"containers": []})),
            json!({"spec": {"hostPID": null}}),
            pod(json!({"containers": []})),
        ),
        (
            "$patch: delete removes a list element",
            pod(json!({"containers": [{"name": "a"}, {"name": "b"}]})),
            json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            pod(json!({"containers": [{"name": "b"}]})),
        ),
        (
            "$patch: replace replaces a map",
            pod(json!({"securityContext": {"runAsUser": 1, "fsGroup": 2}})),
            json!({"spec": {"securityContext": {"$patch": "replace", "runAsNonRoot": true}}}),
            pod(json!({"securityContext": {"runAsNonRoot": true}})),
        ),
        (
            "$patch: delete removes a map",
            pod(json!({"securityContext": {"runAsUser": 1}, "containers": []})),
            json!({"spec": {"securityContext": {"$patch": "delete"}}}),
            pod(json!({"containers": []})),
        ),
        (
            "tolerations and args are replaced",
            pod(json!({"tolerations": [{"key": "a"}], "containers": [{"name": "c", "args": ["x", "y"]}]})),
            json!({"spec": {"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["z"]}]}}),
            pod(json!({"tolerations": [{"key": "b"}], "containers": [{"name": "c", "args": ["z"]}]})),
        ),
        (
            "env by name, volumeMounts by mountPath, ports by containerPort",
            pod(json!({"containers": [{"name": "c",
                "env": [{"name": "A", "value": "1"}],
                "volumeMounts": [{"name": "v", "mountPath": "/a"}],
                "ports": [{"containerPort": 80, "protocol": "TCP"}]}]})),
            json!({"spec": {"containers": [{"name": "c",
                "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
                "volumeMounts": [{"name": "w", "mountPath": "/a"}],
                "ports": [{"containerPort": 80, "name": "http"}]}]}}),
            pod(json!({"containers": [{"name": "c",
                "env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
                "volumeMounts": [{"name": "w", "mountPath": "/a"}],
                "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]}]})),
        ),
        (
            "new fields appended in sorted order",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
            json!({"data": {"b": "2", "a": "1"}, "metadata": {"labels": {"z": "1"}}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"z": "1"}},
                   "data": {"a": "1", "b": "2"}}),
        ),
        (
            "finalizers merge as a set for known kinds",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": ["c", "a", "b"]}}),
        ),
        (
            "lists of unknown kinds are replaced",
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "a"}]}}),
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "b"}]}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget",
                   "metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "b"}]}}),
        ),
        (
            "deployment template containers merge",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a"}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}]}}}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "spec": {"template": {"spec": {"containers": [
                       {"name": "a", "image": "a", "resources": {"limits": {"cpu": "1"}}}]}}}}),
        ),
        (
            "cronjob template containers merge",
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
                   "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}}}}),
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
                   "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                       {"name": "b"}, {"name": "a"}]}}}}}}),
        ),
        (
            "service ports merge by port",
            json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}}),
            json!({"spec": {"ports": [{"port": 80, "protocol": "TCP", "name": "http"}, {"port": 443, "protocol": "TCP"}]}}),
            json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [
                {"port": 80, "protocol": "TCP", "name": "http"}, {"port": 443, "protocol": "TCP"}]}}),
        ),
        (
            "adding a list where none exists drops delete directives",
            pod(json!({})),
            json!({"spec": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "$patch": "delete"}]}}),
            pod(json!({"volumes": [{"name": "a", "emptyDir": {}}]})),
        ),
    ];
    for (name, resource, patch, want) in cases {
        assert!(super::super::merge_check::check_merge(&resource, &patch).is_ok(), "{name}: check");
        let (got, changed) = merge_resource(resource.clone(), &patch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, want, "{name}");
        assert_eq!(changed, got != resource, "{name}: changed flag");
    }
}

#[test]
fn errors() {
    let resource = pod(json!({"containers": [{"name": "a"}]}));
    let cases = [
        (
            json!({"spec": {"containers": {"name": "a"}}}),
            "wrong node kind at spec.containers: expected list, found map",
        ),
        (json!({"spec": "x"}), "wrong node kind at spec: expected map, found scalar"),
        (json!({"spec": {"$patch": "explode"}}), "unknown patch strategy \"explode\" at spec"),
        (json!({"$patch": "delete"}), "the patch deletes the whole resource"),
    ];
    for (patch, want) in cases {
        let err = merge_resource(resource.clone(), &patch).expect_err(want);
        assert_eq!(err.to_string(), want);
        let checked = super::super::merge_check::check_merge(&resource, &patch).expect_err(want);
        assert_eq!(checked.to_string(), want);
    }
}
