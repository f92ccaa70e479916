//! Vectors ported from upstream `pkg/engine/validate/validate_test.go`, plus anchor, list,
//! message and anyPattern cases from the Kyverno documentation.

use super::*;

/// What a case expects.
#[derive(Debug, Clone, Copy)]
pub(super) enum Want {
    Pass,
    Skip,
    Fail(&'static str),
    Error,
}

pub(super) fn check(name: &str, pattern: &str, resource: &str, want: Want) {
    let pattern: Value = serde_json::from_str(pattern).unwrap_or_else(|e| panic!("{name}: pattern: {e}"));
    let resource: Value = serde_json::from_str(resource).unwrap_or_else(|e| panic!("{name}: resource: {e}"));
    let got = compile(&pattern).unwrap_or_else(|e| panic!("{name}: compile: {e}")).validate(&resource);
    let ok = match (&want, &got) {
        (Want::Pass, PatternOutcome::Pass) | (Want::Skip, PatternOutcome::Skip { .. }) => true,
        (Want::Fail(path), PatternOutcome::Fail { path: got, .. }) => path == got,
        (Want::Error, PatternOutcome::Error { .. }) => true,
        _ => false,
    };
    assert!(ok, "{name}: want {want:?}, got {got:?}");
}

const DEPLOYMENT: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx-deployment","labels":{"app":"nginx"}},
 "spec":{"replicas":3,"template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"securityContext":{"runAsNonRoot":true},
 "containers":[{"name":"nginx","image":"https://nirmata/nginx:latest","imagePullPolicy":"Always",
 "livenessProbe":{"tcpSocket":{"port":8080},"initialDelaySeconds":15,"periodSeconds":11},
 "resources":{"limits":{"memory":"2Gi","cpu":8},"requests":{"memory":"512Mi","cpu":"8"}},"ports":[{"containerPort":80}]}]}}}}"#;

const STATEFULSET: &str = r#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"game-web"},"spec":{"replicas":3,
 "template":{"spec":{"terminationGracePeriodSeconds":10,"containers":[{"name":"nginxo","image":"registry.k8s.io/nginx:0.8",
 "ports":[{"containerPort":8780,"name":"webp"}],"livenessProbe":{"periodSeconds":11}}]}}}}"#;

const MEMORY: &str = r#"{"spec":{"containers":[{"name":"nirmata","resources":{"requests":{"memory":"1024Mi"},"limits":{"memory":"2048Mi"}}}]}}"#;

#[test]
fn validate_map_vectors() {
    let requests = |memory: &str| {
        format!(
            r#"{{"spec":{{"containers":[{{"name":"*","resources":{{"requests":{{"memory":"{memory}"}},"limits":{{"memory":"2048Mi"}}}}}}]}}}}"#
        )
    };
    let memory_path = "/spec/containers/0/resources/requests/memory/";
    check(
        "cpu operators",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"?*","resources":{"requests":{"cpu":"<4|8"}}}]}}}}"#,
        DEPLOYMENT,
        Want::Pass,
    );
    check(
        "asterisk for int",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"*","livenessProbe":{"periodSeconds":"*"}}]}}}}"#,
        STATEFULSET,
        Want::Pass,
    );
    check(
        "asterisk for map",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"*","livenessProbe":"*"}]}}}}"#,
        STATEFULSET,
        Want::Pass,
    );
    check("asterisk for array", r#"{"spec":{"template":{"spec":{"containers":"*"}}}}"#, STATEFULSET, Want::Pass);
    let null_probe = STATEFULSET.replace(r#""livenessProbe":{"periodSeconds":11}"#, r#""livenessProbe":null"#);
    check(
        "asterisk field is null",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"*","livenessProbe":"*"}]}}}}"#,
        &null_probe,
        Want::Fail("/spec/template/spec/containers/0/"),
    );
    check(
        "null pattern, null value",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"*","livenessProbe":null}]}}}}"#,
        &null_probe,
        Want::Pass,
    );
    let no_probe = STATEFULSET.replace(r#","livenessProbe":{"periodSeconds":11}"#, "");
    check(
        "null pattern, missing value",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"*","livenessProbe":null}]}}}}"#,
        &no_probe,
        Want::Pass,
    );
    check(
        "existence anchor, one of two elements passes",
        r#"{"^(list)":[{"(name)":"nirmata-*","object":[{"(key1)":"value*","key2":"value*"}]}]}"#,
        r#"{"list":[{"name":"nirmata-1","object":[{"key1":"value1","key2":"value2"}]},
            {"name":"nirmata-1","object":[{"key1":"not_value","key2":"not_value"}]}]}"#,
        Want::Pass,
    );
    check(
        "root list, one element passes",
        r#"[{"(name)":"nirmata-*","object":[{"(key1)":"value*","key2":"value*"}]}]"#,
        r#"[{"name":"nirmata-1","object":[{"key1":"value1","key2":"value2"}]}]"#,
        Want::Pass,
    );
    check(
        "root list, one element fails",
        r#"[{"(name)":"nirmata-*","object":[{"(key1)":"value*","key2":"value*"}]}]"#,
        r#"[{"name":"nirmata-1","object":[{"key1":"value5","key2":"1value1"}]}]"#,
        Want::Fail("/0/object/0/key2/"),
    );
    for unresolved in ["$(./../somekey/somekey2/memory)", "$()", "$", "$(>2048)", "$(<=/some/memory)"] {
        check(unresolved, &requests(unresolved), MEMORY, Want::Fail(memory_path));
    }
    check(
        "conditional name, image prefix",
        r#"{"spec":{"containers":[{"(name)":"kyverno","image":"kyverno.io*"}]}}"#,
        r#"{"spec":{"containers":[{"name":"kyverno","image":"kyverno.io/test:latest"}]}}"#,
        Want::Pass,
    );
    check(
        "substituted metadata reference",
        r#"{"metadata":{"labels":{"app":"nirmata*"}},"spec":{"containers":[{"(name)":"nirmata*","image":"nirmata.io*"}]}}"#,
        r#"{"metadata":{"labels":{"app":"nirmata*"}},"spec":{"containers":[{"name":"nirmata","image":"nginx"}]}}"#,
        Want::Fail("/spec/containers/0/image/"),
    );
}

#[test]
fn wildcard_keys_in_metadata() {
    let cases: &[(&str, &str, &str, Want)] = &[
        (
            "1",
            r#"{"metadata":{"annotations":{"test/*":"value1"}}}"#,
            r#"{"metadata":{"annotations":{"test/bar":"value1"}}}"#,
            Want::Pass,
        ),
        (
            "2",
            r#"{"metadata":{"annotations":{"test/b??":"v*"}}}"#,
            r#"{"metadata":{"annotations":{"test/bar":"value1"}}}"#,
            Want::Pass,
        ),
        ("3", r#"{}"#, r#"{"metadata":{"annotations":{"test/bar":"value1"}}}"#, Want::Pass),
        (
            "4",
            r#"{"metadata":{"annotations":{"test/b??":"v*"}}}"#,
            r#"{"metadata":{"labels":{"test/bar":"value1"}}}"#,
            Want::Fail("/metadata/annotations/"),
        ),
        (
            "5",
            r#"{"metadata":{"labels":{"*/test":"foo"}}}"#,
            r#"{"metadata":{"labels":{"foo/test":"foo"}}}"#,
            Want::Pass,
        ),
        (
            "6",
            r#"{"metadata":{"labels":{"foo/a*":"bar"}}}"#,
            r#"{"metadata":{"labels":{"foo/aa?":"bar","foo/789":"bar"}}}"#,
            Want::Pass,
        ),
        (
            "7",
            r#"{"metadata":{"labels":{"foo/ABC*":"bar"}}}"#,
            r#"{"metadata":{"labels":{"foo/AB?":"bar","foo/ABC":"bar2"}}}"#,
            Want::Fail("/metadata/labels/foo/ABC/"),
        ),
        (
            "8",
            r#"{"=(metadata)":{"=(labels)":{"foo/P*":"bar","foo/Q*":"bar2"}}}"#,
            r#"{"metadata":{"labels":{"foo/PQR":"bar","foo/QR":"bar2"}}}"#,
            Want::Pass,
        ),
        (
            "9",
            r#"{"metadata":{"labels":{"foo/1*":"bar"}}}"#,
            r#"{"metadata":{"labels":{"foo/123":"bar222"}}}"#,
            Want::Fail("/metadata/labels/foo/123/"),
        ),
        (
            "10",
            r#"{"metadata":{"labels":{"foo/X*":"bar","foo/A*":"bar2"}}}"#,
            r#"{"metadata":{"labels":{"foo/XYZ":"bar"}}}"#,
            Want::Fail("/metadata/labels/foo/A*/"),
        ),
        (
            "11",
            r#"{"=(metadata)":{"=(labels)":{"foo/1*":"bar","foo/4*":"bar2"}}}"#,
            r#"{"metadata":{"labels":{"foo/123":"bar"}}}"#,
            Want::Fail("/metadata/labels/foo/4*/"),
        ),
        (
            "anchored wildcard key",
            r#"{"metadata":{"annotations":{"=(kubernetes.io/*)":"ok*"}}}"#,
            r#"{"metadata":{"annotations":{"kubernetes.io/x":"nope"}}}"#,
            Want::Fail("/metadata/annotations/kubernetes.io/x/"),
        ),
        (
            "wildcard key outside metadata is literal",
            r#"{"spec":{"foo*":"bar"}}"#,
            r#"{"spec":{"foo1":"bar"}}"#,
            Want::Fail("/spec/foo*/"),
        ),
    ];
    for (name, pattern, resource, want) in cases {
        check(name, pattern, resource, *want);
    }
}

#[path = "validate_tests_anchors.rs"]
mod anchors;

#[test]
fn paths_render_keys_and_indexes_like_upstream() {
    use super::failure::Path;
    let root = Path::Root;
    let spec = Path::Key(&root, "spec");
    for (index, want) in [(0, "/spec/0/"), (7, "/spec/7/"), (10, "/spec/10/"), (12345, "/spec/12345/")] {
        assert_eq!(Path::Index(&spec, index).render(), want);
    }
    assert_eq!(Path::Key(&Path::Index(&spec, 3), "image").render(), "/spec/3/image/");
    assert_eq!(root.render(), "/");
}

#[test]
fn deep_paths_render_like_shallow_ones() {
    use super::failure::Path;
    fn nest(depth: usize, path: &Path<'_>, want: &mut String) {
        if depth == 0 {
            assert_eq!(path.render(), *want);
            return;
        }
        let len = want.len();
        if depth.is_multiple_of(2) {
            want.push_str("key-of-ten/");
            nest(depth - 1, &Path::Key(path, "key-of-ten"), want);
        } else {
            let index = depth * 7 % 13;
            want.push_str(&format!("{index}/"));
            nest(depth - 1, &Path::Index(path, index), want);
        }
        want.truncate(len);
    }
    for depth in [0, 1, 2, 3, 9, 15, 16, 17, 18, 30, 60] {
        nest(depth, &Path::Root, &mut String::from("/"));
    }
}
