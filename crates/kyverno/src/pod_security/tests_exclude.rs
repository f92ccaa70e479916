//! `exclude` semantics: image-selected containers, pod-level controls, restricted fields and
//! values, and exclusions on controllers.

use super::tests::{good_container, pod_with};
use super::{PodSecurityOutcome, compile};
use serde_json::{Value, json};

fn check(block: Value, resource: &Value) -> Option<String> {
    match compile(&block).expect("compiles").with_rule_name("r").check(resource) {
        PodSecurityOutcome::Pass => None,
        PodSecurityOutcome::Fail { message } => Some(message),
        PodSecurityOutcome::Error { message } => panic!("unexpected error {message}"),
    }
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn with_sc(name: &str, image: &str, patch: Value) -> Value {
    let mut c = good_container(name, image);
    if let (Some(sc), Some(p)) = (c["securityContext"].as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if v.is_null() {
                sc.remove(k);
            } else {
                sc.insert(k.clone(), v.clone());
            }
        }
    }
    c
}

struct Case {
    name: &'static str,
    block: Value,
    resource: Value,
    /// `None`: pass; otherwise a fragment of the failure message.
    fails_with: Option<&'static str>,
    /// A fragment that must not appear in the failure message.
    absent: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let caps_missing = json!({"capabilities": null});
    let two = pod(json!({"containers": [
        with_sc("web", "nginx:1.27", caps_missing.clone()),
        with_sc("cache", "redis:7", caps_missing.clone()),
    ]}));
    let privileged = json!({"privileged": true});
    vec![
        Case {
            name: "capabilities excluded for all matching images",
            block: json!({"level": "restricted", "exclude": [{"controlName": "Capabilities", "images": ["nginx*", "redis*"]}]}),
            resource: two.clone(),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "capabilities excluded for one image only",
            block: json!({"level": "restricted", "exclude": [{"controlName": "Capabilities", "images": ["nginx*"]}]}),
            resource: two.clone(),
            fails_with: Some("[spec.containers[1].securityContext.capabilities.drop: Required value]"),
            absent: Some("containers[0]"),
        },
        Case {
            name: "exclusion of another control does not help",
            block: json!({"level": "restricted", "exclude": [{"controlName": "Seccomp", "images": ["*"]}]}),
            resource: two,
            fails_with: Some("unrestricted capabilities"),
            absent: None,
        },
        Case {
            name: "values must cover every added capability",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Capabilities", "images": ["*"],
                "restrictedField": "spec.containers[*].securityContext.capabilities.add", "values": ["NET_ADMIN"]}]}),
            resource: pod_with(
                json!({}),
                json!({"securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}}}),
            ),
            fails_with: Some("forbidden values found: [NET_ADMIN SYS_TIME]"),
            absent: None,
        },
        Case {
            name: "values with wildcards",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Capabilities", "images": ["*"],
                "restrictedField": "spec.containers[*].securityContext.capabilities.add", "values": ["NET_*", "SYS_TIME"]}]}),
            resource: pod_with(
                json!({}),
                json!({"securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}}}),
            ),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "restricted field of another list does not apply",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Capabilities", "images": ["*"],
                "restrictedField": "spec.initContainers[*].securityContext.capabilities.add", "values": ["NET_ADMIN"]}]}),
            resource: pod_with(json!({}), json!({"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}})),
            fails_with: Some("non-default capabilities"),
            absent: None,
        },
        Case {
            name: "host namespaces excluded at pod level",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Host Namespaces"}]}),
            resource: pod_with(json!({"hostIPC": true, "hostPID": true}), json!({})),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "host namespaces: only the restricted field with allowed value",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Host Namespaces",
                "restrictedField": "spec.hostNetwork", "values": ["true"]}]}),
            resource: pod_with(json!({"hostNetwork": true, "hostIPC": true}), json!({})),
            fails_with: Some("field error list: [spec.hostIPC is forbidden, forbidden values found: true]"),
            absent: Some("hostNetwork"),
        },
        Case {
            name: "sysctls excluded by name pattern",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Sysctls",
                "restrictedField": "spec.securityContext.sysctls[*].name", "values": ["kernel.msg*"]}]}),
            resource: pod_with(
                json!({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}),
                json!({}),
            ),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "sysctls not matching the values",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Sysctls",
                "restrictedField": "spec.securityContext.sysctls[*].name", "values": ["kernel.msg*"]}]}),
            resource: pod_with(
                json!({"securityContext": {"sysctls": [{"name": "kernel.sem", "value": "1"}]}}),
                json!({}),
            ),
            fails_with: Some("forbidden sysctls"),
            absent: None,
        },
        Case {
            name: "seccomp excluded for a sidecar image",
            block: json!({"level": "restricted", "exclude": [{"controlName": "Seccomp", "images": ["repo.org.com/istio/proxyv2:*"]}]}),
            resource: pod(json!({"containers": [
                good_container("app", "app:1"),
                with_sc("istio-proxy", "repo.org.com/istio/proxyv2:1.20", json!({"seccompProfile": null})),
            ]})),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "seccomp exclusion leaves other containers checked",
            block: json!({"level": "restricted", "exclude": [{"controlName": "Seccomp", "images": ["repo.org.com/istio/proxyv2:*"]}]}),
            resource: pod(json!({"containers": [
                with_sc("app", "app:1", json!({"seccompProfile": null})),
                with_sc("istio-proxy", "repo.org.com/istio/proxyv2:1.20", json!({"seccompProfile": null})),
            ]})),
            fails_with: Some("[spec.containers[0].securityContext.seccompProfile.type: Required value]"),
            absent: Some("containers[1]"),
        },
        Case {
            name: "pod-level seccomp value excluded",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Seccomp",
                "restrictedField": "spec.securityContext.seccompProfile.type", "values": ["Unconfined"]}]}),
            resource: pod_with(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}), json!({})),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "privileged init container excluded by image",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Privileged Containers", "images": ["busybox*"]}]}),
            resource: pod(
                json!({"initContainers": [with_sc("init", "busybox:1", privileged.clone())], "containers": [good_container("c", "nginx")]}),
            ),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "containers are matched by name, not index",
            block: json!({"level": "baseline", "exclude": [{"controlName": "Privileged Containers", "images": ["nginx"]}]}),
            resource: pod(
                json!({"containers": [with_sc("a", "busybox", privileged.clone()), with_sc("b", "nginx", privileged.clone())]}),
            ),
            fails_with: Some(
                "field error list: [spec.containers[0].securityContext.privileged is forbidden, forbidden values found: true]",
            ),
            absent: Some("containers[1]"),
        },
        Case {
            name: "several exclusions combine",
            block: json!({"level": "baseline", "exclude": [
                {"controlName": "Privileged Containers", "images": ["nginx"]},
                {"controlName": "Host Namespaces"},
            ]}),
            resource: pod(json!({"hostPID": true, "containers": [with_sc("b", "nginx", privileged)]})),
            fails_with: None,
            absent: None,
        },
        Case {
            name: "exclusions apply to controller templates",
            block: json!({"level": "restricted", "exclude": [{"controlName": "Privilege Escalation", "images": ["nginx*"],
                "restrictedField": "spec.containers[*].securityContext.allowPrivilegeEscalation", "values": ["true"]}]}),
            resource: json!({"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [
                with_sc("web", "nginx:1", json!({"allowPrivilegeEscalation": true})),
                with_sc("side", "envoy:1", json!({"allowPrivilegeEscalation": true})),
            ]}}}}),
            fails_with: Some(
                "[spec.template.spec.containers[1].securityContext.allowPrivilegeEscalation is forbidden, forbidden values found: true]",
            ),
            absent: Some("containers[0]"),
        },
    ]
}

#[test]
fn exclusions() {
    for c in cases() {
        let got = check(c.block.clone(), &c.resource);
        match (c.fails_with, got) {
            (None, None) => {}
            (None, Some(message)) => panic!("{}: expected pass, got {message}", c.name),
            (Some(want), None) => panic!("{}: expected failure containing {want:?}, got pass", c.name),
            (Some(want), Some(message)) => {
                assert!(message.contains(want), "{}: {message:?} lacks {want:?}", c.name);
                if let Some(absent) = c.absent {
                    assert!(!message.contains(absent), "{}: {message:?} has {absent:?}", c.name);
                }
            }
        }
    }
}
