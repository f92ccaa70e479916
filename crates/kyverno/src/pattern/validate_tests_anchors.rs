//! Anchor vectors from upstream `TestConditionalAnchorWithMultiplePatterns` and
//! `Test_global_anchor`. Upstream's table only asserts its "pass" and "skip" rows; the rows it
//! labels "fail" are asserted here with the outcome its code produces (noted where that is skip).

use super::super::*;
use super::{Want, check};
use serde_json::json;

const IMAGE_RULE: &str =
    r#"{"spec":{"containers":[{"name":"*","(image)":"*:latest | !*:*","imagePullPolicy":"!Always"}]}}"#;

/// A case name, the containers' `(image, imagePullPolicy)`, and the expectation.
type ImageCase = (&'static str, &'static [(&'static str, &'static str)], Want);

fn containers(list: &[(&str, &str)]) -> String {
    let items: Vec<String> = list
        .iter()
        .enumerate()
        .map(|(i, (image, policy))| format!(r#"{{"name":"c{i}","image":"{image}","imagePullPolicy":"{policy}"}}"#))
        .collect();
    format!(r#"{{"spec":{{"containers":[{}]}}}}"#, items.join(","))
}

#[test]
fn conditional_anchor_with_multiple_patterns() {
    let p0 = "/spec/containers/0/imagePullPolicy/";
    let p1 = "/spec/containers/1/imagePullPolicy/";
    let cases: &[ImageCase] = &[
        ("test-1", &[("nginx:1.2.3", "Always")], Want::Skip),
        ("test-2", &[("nginx:latest", "Always")], Want::Fail(p0)),
        ("test-3", &[("nginx", "Always")], Want::Fail(p0)),
        ("test-4", &[("nginx", "Never")], Want::Pass),
        ("test-5", &[("nginx:latest", "Never")], Want::Pass),
        ("test-6", &[("nginx:1.2.3", "Never")], Want::Skip),
        ("test-7", &[("nginx", "Always"), ("busybox:1.28", "Always")], Want::Fail(p0)),
        ("test-8", &[("nginx:latest", "Always"), ("busybox:1.28", "Always")], Want::Fail(p0)),
        ("test-9", &[("nginx:1.2.3", "Always"), ("busybox:1.28", "Always")], Want::Skip),
        ("test-10", &[("nginx", "Never"), ("busybox:1.28", "Always")], Want::Pass),
        ("test-11", &[("nginx:latest", "Never"), ("busybox:1.28", "Always")], Want::Pass),
        ("test-12", &[("nginx:1.2.3", "Never"), ("busybox:1.28", "Always")], Want::Skip),
        ("test-13", &[("busybox:1.28", "Always"), ("nginx", "Always")], Want::Fail(p1)),
        ("test-14", &[("busybox:1.28", "Always"), ("nginx:latest", "Always")], Want::Fail(p1)),
        ("test-15", &[("busybox:1.28", "Always"), ("nginx:1.2.3", "Always")], Want::Skip),
        ("test-16", &[("busybox:1.28", "Always"), ("nginx", "Never")], Want::Pass),
        ("test-17", &[("busybox:1.28", "Always"), ("nginx:latest", "Never")], Want::Pass),
        ("test-18", &[("busybox:1.28", "Always"), ("nginx:1.2.3", "Never")], Want::Skip),
        ("test-19", &[("busybox", "Always"), ("nginx", "Always")], Want::Fail(p0)),
        ("test-20", &[("busybox:latest", "Always"), ("nginx:latest", "Always")], Want::Fail(p0)),
        ("test-21", &[("busybox:1.2.3", "Always"), ("nginx:latest", "IfNotPresent")], Want::Pass),
    ];
    for (name, list, want) in cases {
        check(name, IMAGE_RULE, &containers(list), *want);
    }
    check(
        "test-22",
        r#"{"spec":{"containers":[{"name":"*","(image)":"!*:* | *:latest","imagePullPolicy":"!Always"}]}}"#,
        &containers(&[("nginx:latest", "Always")]),
        Want::Fail(p0),
    );
}

#[test]
fn global_anchors() {
    let global = r#"{"spec":{"containers":[{"name":"*","<(image)":"*:latest","imagePullPolicy":"!Always"}]}}"#;
    // test-23 (labelled fail, unasserted upstream) is the same case as check_global_anchor_skip.
    check("test-23", global, &containers(&[("nginx", "Always")]), Want::Skip);
    check(
        "test-24",
        global,
        &containers(&[("nginx:latest", "Always")]),
        Want::Fail("/spec/containers/0/imagePullPolicy/"),
    );
    check("check_global_anchor_skip", global, &containers(&[("nginx:v1", "Always")]), Want::Skip);
    check(
        "check_global_anchor_fail",
        global,
        &containers(&[("nginx:latest", "Always")]),
        Want::Fail("/spec/containers/0/imagePullPolicy/"),
    );
    check("check_global_anchor_pass", global, &containers(&[("nginx:latest", "IfNotPresent")]), Want::Pass);
    check(
        "check_global_anchor_mixed",
        global,
        &containers(&[("nginx:latest", "IfNotPresent"), ("nginx:v2", "IfNotPresent")]),
        Want::Pass,
    );
    let env = |with_image: bool, policy: &str| {
        let image = if with_image { r#""<(image)":"nginx","# } else { "" };
        (
            format!(
                r#"{{"spec":{{"containers":[{{"name":"*",{image}"env":[{{"<(name)":"foo","<(value)":"bar"}}],"imagePullPolicy":"{policy}"}}]}}}}"#
            ),
            image.is_empty(),
        )
    };
    let resource = |name: &str, policy: &str| {
        format!(
            r#"{{"spec":{{"containers":[{{"name":"nginx","image":"nginx","env":[{{"name":"{name}","value":"bar"}}],"imagePullPolicy":"{policy}"}}]}}}}"#
        )
    };
    let (with_image, _) = env(true, "!Always");
    let (without_image, _) = env(false, "!Always");
    // test-25 and test-27 (labelled fail upstream): the env global anchor mismatches, so the rule is skipped.
    check("test-25", &with_image, &resource("foo1", "Always"), Want::Skip);
    check("test-26", &with_image, &resource("foo", "Always"), Want::Fail("/spec/containers/0/imagePullPolicy/"));
    check("test-27", &without_image, &resource("foo1", "Always"), Want::Skip);
    check("test-28", &without_image, &resource("foo", "IfNotpresent"), Want::Pass);
    check("test-29", &without_image, &resource("foo", "Always"), Want::Fail("/spec/containers/0/imagePullPolicy/"));

    let secrets = r#"{"metadata":{"<(name)":"nginx"},"spec":{"imagePullSecrets":[{"name":"regcred"}]}}"#;
    let pod = |name: &str| {
        format!(
            r#"{{"metadata":{{"name":"{name}"}},"spec":{{"containers":[{{"name":"nginx","image":"nginx:latest"}}],"imagePullSecrets":[{{"name":"cred"}}]}}}}"#
        )
    };
    check("test-30", secrets, &pod("somename"), Want::Skip);
    check("test-31", secrets, &pod("nginx"), Want::Fail("/spec/imagePullSecrets/0/name/"));

    let labels =
        r#"{"metadata":{"labels":{"<(foo)":"bar"}},"spec":{"containers":[{"name":"nginx","image":"!*:latest"}]}}"#;
    let labelled = |image: &str| {
        format!(
            r#"{{"metadata":{{"name":"nginx","labels":{{"foo":"bar"}}}},"spec":{{"containers":[{{"name":"nginx","image":"{image}"}}]}}}}"#
        )
    };
    check("test-32", labels, &labelled("nginx"), Want::Pass);
    check("test-33", labels, &labelled("nginx:latest"), Want::Fail("/spec/containers/0/image/"));

    let registry = r#"{"spec":{"containers":[{"name":"*","<(image)":"nginx"}],"imagePullSecrets":[{"name":"my-registry-secret"}]}}"#;
    let with_secret = |image: &str, secret: &str| {
        format!(
            r#"{{"spec":{{"containers":[{{"name":"nginx","image":"{image}"}}],"imagePullSecrets":[{{"name":"{secret}"}}]}}}}"#
        )
    };
    check("test-34", registry, &with_secret("nginx", "cred"), Want::Fail("/spec/imagePullSecrets/0/name/"));
    // test-35 (labelled fail upstream): the image global anchor mismatches, so the rule is skipped.
    check("test-35", registry, &with_secret("somepod", "cred"), Want::Skip);
    check("test-36", registry, &with_secret("nginx", "my-registry-secret"), Want::Pass);
}

#[test]
fn nested_conditional_and_equality_anchors() {
    let docker = r#"{"metadata":{"labels":{"allow-docker":"true"}},"(spec)":{"(volumes)":[{"(hostPath)":{"path":"/var/run/docker.sock"}}]}}"#;
    let pod = |labels: &str, volumes: &str| {
        format!(
            r#"{{"metadata":{{"labels":{{{labels}}},"name":"nginx"}},"spec":{{"containers":[{{"image":"nginx","name":"nginx"}}]{volumes}}}}}"#
        )
    };
    let sock = r#","volumes":[{"hostPath":{"path":"/var/run/docker.sock"}}]"#;
    let allow_path = "/metadata/labels/allow-docker/";
    check("test-37", docker, &pod(r#""run":"nginx""#, ""), Want::Skip);
    check("test-38", docker, &pod(r#""run":"nginx""#, sock), Want::Fail(allow_path));
    check(
        "test-39",
        docker,
        &pod(r#""run":"nginx""#, r#","volumes":[{"hostPath":{"path":"/randome/value"}}]"#),
        Want::Skip,
    );
    check("test-40", docker, &pod(r#""run":"nginx","allow-docker":"true""#, sock), Want::Pass);
    check("test-41", docker, &pod(r#""run":"nginx","allow-docker":"false""#, sock), Want::Fail(allow_path));
    check("test-42", docker, &pod(r#""run":"nginx""#, sock), Want::Fail(allow_path));

    check(
        "test-43",
        r#"{"spec":{"=(volumes)":[{"(name)":"!cache-volume","=(emptyDir)":{"sizeLimit":"?*"}}]}}"#,
        r#"{"spec":{"volumes":[{"name":"cache-volume","emptyDir":{}}]}}"#,
        Want::Skip,
    );
    let istio = r#"{"spec":{"=(initContainers)":[{"(name)":"!istio-init","=(securityContext)":{"=(runAsUser)":">0"}}],
        "=(containers)":[{"=(securityContext)":{"=(runAsUser)":">0"}}]}}"#;
    let istio_cases: &[(&str, &str, Want)] = &[
        (
            "test-44",
            r#"{"spec":{"initContainers":[{"name":"nginx","securityContext":{"runAsUser":1000}}],"containers":[{"name":"nginx","image":"nginx"}]}}"#,
            Want::Pass,
        ),
        (
            "test-45",
            r#"{"spec":{"initContainers":[{"name":"nginx","securityContext":{"runAsUser":0}}],"containers":[{"name":"nginx","image":"nginx"}]}}"#,
            Want::Fail("/spec/initContainers/0/securityContext/runAsUser/"),
        ),
        (
            "test-46",
            r#"{"spec":{"initContainers":[{"name":"istio-init","securityContext":{"runAsUser":0}}],"containers":[{"securityContext":{"runAsUser":1000}}]}}"#,
            Want::Pass,
        ),
        (
            "test-47",
            r#"{"spec":{"initContainers":[{"name":"istio-init","securityContext":{"runAsUser":1000}}],"containers":[{"securityContext":{"runAsUser":0}}]}}"#,
            Want::Fail("/spec/containers/0/securityContext/runAsUser/"),
        ),
        ("test-48", r#"{"spec":{"containers":[{"securityContext":{"runAsUser":1000}}]}}"#, Want::Pass),
        (
            "test-49",
            r#"{"spec":{"containers":[{"securityContext":{"runAsUser":0}}]}}"#,
            Want::Fail("/spec/containers/0/securityContext/runAsUser/"),
        ),
        (
            "test-50",
            r#"{"spec":{"initContainers":[{"name":"istio-init","securityContext":{"runAsUser":0}}],"containers":[{"name":"nginx","image":"nginx"}]}}"#,
            Want::Pass,
        ),
    ];
    for (name, resource, want) in istio_cases {
        check(name, istio, resource, *want);
    }
    let volumes = r#"{"spec":{"=(volumes)":[{"(name)":"!credential-socket&!istio-data&!istio-envoy&!workload-certs&!workload-socket","=(emptyDir)":{"sizeLimit":"?*"}}]}}"#;
    check(
        "test-51",
        volumes,
        r#"{"spec":{"volumes":[{"name":"credential-socket","emptyDir":{"sizeLimit":"1Gi"}}]}}"#,
        Want::Skip,
    );
    check(
        "test-52",
        volumes,
        r#"{"spec":{"volumes":[{"name":"cache-volume","emptyDir":{"sizeLimit":"1Gi"}}]}}"#,
        Want::Pass,
    );
    check("test-53", volumes, r#"{"spec":{"volumes":[{"name":"cache-volume"}]}}"#, Want::Pass);
    check(
        "test-54",
        volumes,
        r#"{"spec":{"volumes":[{"name":"cache-volume","emptyDir":{}}]}}"#,
        Want::Fail("/spec/volumes/0/emptyDir/sizeLimit/"),
    );
}

#[test]
fn negation_existence_and_lists() {
    let cases: &[(&str, &str, &str, Want)] = &[
        ("negation absent", r#"{"spec":{"X(hostPID)":"null"}}"#, r#"{"spec":{}}"#, Want::Pass),
        (
            "negation present",
            r#"{"spec":{"X(hostPID)":"null"}}"#,
            r#"{"spec":{"hostPID":false}}"#,
            Want::Fail("/spec/hostPID/"),
        ),
        (
            "negation in list",
            r#"{"spec":{"=(volumes)":[{"X(hostPath)":"null"}]}}"#,
            r#"{"spec":{"volumes":[{"name":"a"},{"name":"b","hostPath":{"path":"/"}}]}}"#,
            Want::Fail("/spec/volumes/1/hostPath/"),
        ),
        (
            "existence: one element matches",
            r#"{"spec":{"^(containers)":[{"image":"nginx:*"}]}}"#,
            r#"{"spec":{"containers":[{"image":"busybox"},{"image":"nginx:1"}]}}"#,
            Want::Pass,
        ),
        (
            "existence: none matches",
            r#"{"spec":{"^(containers)":[{"image":"nginx:*"}]}}"#,
            r#"{"spec":{"containers":[{"image":"busybox"}]}}"#,
            Want::Fail("/spec/containers/"),
        ),
        ("existence: key absent", r#"{"spec":{"^(containers)":[{"image":"nginx:*"}]}}"#, r#"{"spec":{}}"#, Want::Pass),
        (
            "existence: not a list",
            r#"{"spec":{"^(containers)":[{"image":"nginx:*"}]}}"#,
            r#"{"spec":{"containers":"x"}}"#,
            Want::Fail("/spec/containers/"),
        ),
        ("scalar over list", r#"{"args":"--safe*"}"#, r#"{"args":["--safe","--safer"]}"#, Want::Pass),
        ("scalar over list fails", r#"{"args":"--safe*"}"#, r#"{"args":["--safe","--unsafe"]}"#, Want::Fail("/args/")),
        ("scalar list pattern", r#"{"args":["a*"]}"#, r#"{"args":["ab","ac"]}"#, Want::Pass),
        ("scalar over empty list", r#"{"args":"x"}"#, r#"{"args":[]}"#, Want::Pass),
        ("empty pattern list", r#"{"args":[]}"#, r#"{"args":["a"]}"#, Want::Fail("/args/")),
        ("list of maps over empty list", r#"{"c":[{"a":"b"}]}"#, r#"{"c":[]}"#, Want::Pass),
        ("map over missing", r#"{"spec":{"a":{"b":1}}}"#, r#"{"spec":{}}"#, Want::Fail("/spec/a/")),
        ("list over map", r#"{"spec":[{"a":1}]}"#, r#"{"spec":{"a":1}}"#, Want::Fail("/spec/")),
        ("nested lists", r#"{"m":[["a*"],["b"]]}"#, r#"{"m":[["ab"],["b"]]}"#, Want::Pass),
        ("nested lists too short", r#"{"m":[["a"],["b"]]}"#, r#"{"m":[["a"]]}"#, Want::Error),
        ("quantity", r#"{"mem":"<=1Gi"}"#, r#"{"mem":"512Mi"}"#, Want::Pass),
        ("quantity fails", r#"{"mem":"<=1Gi"}"#, r#"{"mem":"2Gi"}"#, Want::Fail("/mem/")),
        ("duration", r#"{"ttl":">1h"}"#, r#"{"ttl":"90m"}"#, Want::Pass),
        ("string false vs bool", r#"{"privileged":"false"}"#, r#"{"privileged":false}"#, Want::Pass),
        ("bool false vs string", r#"{"privileged":false}"#, r#"{"privileged":"false"}"#, Want::Fail("/privileged/")),
        (
            "tracked anchor key missing turns a failure into an error",
            r#"{"metadata":{"X(finalizers)":"null"},"spec":{"replicas":3}}"#,
            r#"{"metadata":{"name":"a"},"spec":{"replicas":2}}"#,
            Want::Error,
        ),
    ];
    for (name, pattern, resource, want) in cases {
        check(name, pattern, resource, *want);
    }
}

#[test]
fn compile_errors() {
    let err = compile(&json!({"spec": {"containers": [{"+(imagePullPolicy)": "Always"}]}})).unwrap_err();
    assert_eq!(err, PatternError::AddIfNotPresent { path: "/spec/containers/0/+(imagePullPolicy)".into() });
    assert!(err.to_string().contains("/spec/containers/0/+(imagePullPolicy)"), "{err}");
    assert_eq!(
        compile(&json!({"^(containers)": {"a": 1}})).unwrap_err(),
        PatternError::ExistenceNotList { path: "/^(containers)".into() }
    );
    assert_eq!(
        compile(&json!({"^(containers)": []})).unwrap_err(),
        PatternError::ExistenceEmpty { path: "/^(containers)".into() }
    );
    assert!(matches!(
        compile_any(&json!([{"a": 1}, {"+(b)": 1}])).unwrap_err(),
        PatternError::AnyPattern { index: 1, .. }
    ));
    assert_eq!(compile_any(&json!({"a": 1})).unwrap_err(), PatternError::AnyPatternNotList);
}

#[test]
fn messages() {
    let pattern = compile(&json!({"spec": {"containers": [{"securityContext": {"privileged": "false"}}]}})).unwrap();
    let pod = json!({"spec": {"containers": [{"name": "a", "securityContext": {"privileged": true}}]}});
    let outcome = pattern.validate(&pod);
    assert_eq!(outcome.status(), palisade_engine::RuleStatus::Fail);
    assert_eq!(
        outcome.message("privileged-containers", Some("Privileged mode is disallowed")),
        "validation error: Privileged mode is disallowed. rule privileged-containers failed at path \
         /spec/containers/0/securityContext/privileged/"
    );
    assert_eq!(
        outcome.message("r", None),
        "validation error: rule r failed at path /spec/containers/0/securityContext/privileged/"
    );
    assert_eq!(
        outcome,
        PatternOutcome::Fail {
            path: "/spec/containers/0/securityContext/privileged/".into(),
            error:
                "resource value 'true' does not match 'false' at path /spec/containers/0/securityContext/privileged/"
                    .into()
        }
    );
    assert_eq!(PatternOutcome::Pass.message("r", None), "validation rule 'r' passed.");
    let skip = compile(&json!({"spec": {"containers": [{"(name)": "nginx", "image": "x"}]}}))
        .unwrap()
        .validate(&json!({"spec": {"containers": [{"name": "a", "image": "y"}]}}));
    assert_eq!(
        skip,
        PatternOutcome::Skip {
            reason: "conditional anchor mismatch: resource value 'a' does not match 'nginx' at path /spec/containers/0/name/"
                .into()
        }
    );
    let error = PatternOutcome::Error { error: "boom".into() };
    assert_eq!(error.message("r", Some("msg.")), "validation error: msg. rule r execution error: boom");
}

#[test]
fn any_pattern() {
    let patterns = compile_any(&json!([
        {"spec": {"runAsNonRoot": true}},
        {"spec": {"containers": [{"securityContext": {"runAsNonRoot": true}}]}},
    ]))
    .unwrap();
    let pass = json!({"spec": {"runAsNonRoot": false, "containers": [{"securityContext": {"runAsNonRoot": true}}]}});
    assert_eq!(validate_any(&patterns, &pass), AnyPatternOutcome::Pass { index: Some(1) });
    assert_eq!(validate_any(&patterns, &pass).message("r", None), "validation rule 'r' anyPattern[1] passed.");
    let fail = json!({"spec": {"containers": [{"name": "a"}]}});
    let outcome = validate_any(&patterns, &fail);
    assert_eq!(outcome.status(), palisade_engine::RuleStatus::Fail);
    assert_eq!(
        outcome.message("check-runasnonroot", Some("Running as root is not allowed")),
        "validation error: Running as root is not allowed. rule check-runasnonroot[0] failed at path /spec/runAsNonRoot/ \
         rule check-runasnonroot[1] failed at path /spec/containers/0/securityContext/"
    );
    let skipping = compile_any(&json!([{"(kind)": "Deployment", "a": 1}, {"(kind)": "Job", "a": 1}])).unwrap();
    let outcome = validate_any(&skipping, &json!({"kind": "Pod", "a": 2}));
    assert_eq!(outcome.status(), palisade_engine::RuleStatus::Skip);
    assert_eq!(
        outcome.message("r", None),
        "rule r[0] skipped: conditional anchor mismatch: resource value 'Pod' does not match 'Deployment' at path /kind/ \
         rule r[1] skipped: conditional anchor mismatch: resource value 'Pod' does not match 'Job' at path /kind/"
    );
    assert_eq!(validate_any(&[], &fail), AnyPatternOutcome::Pass { index: None });
}
