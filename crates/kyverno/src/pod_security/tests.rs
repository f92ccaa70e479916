//! Per-control pass/fail tables, version gates, controllers and message format.

use super::{PodSecurityOutcome, compile};
use serde_json::{Value, json};

/// A container that satisfies the restricted profile.
pub(super) fn good_container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image, "securityContext": {
        "allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}})
}

/// Merges `patch` into a restricted-compliant pod spec with one container `c`.
pub(super) fn pod_with(spec_patch: Value, container_patch: Value) -> Value {
    let mut container = good_container("c", "nginx");
    merge(&mut container, container_patch);
    let mut spec = json!({"containers": [container]});
    merge(&mut spec, spec_patch);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

/// Runs `level`/`version` on `resource`: `None` on pass, the message on failure.
pub(super) fn run(level: &str, version: &str, resource: &Value) -> Option<String> {
    let ps = compile(&json!({"level": level, "version": version})).expect("compiles").with_rule_name("r");
    match ps.check(resource) {
        PodSecurityOutcome::Pass => None,
        PodSecurityOutcome::Fail { message } => Some(message),
        PodSecurityOutcome::Error { message } => panic!("unexpected error {message}"),
    }
}

#[test]
fn full_message_and_check_order() {
    let resource = pod_with(
        json!({"hostNetwork": true}),
        json!({"securityContext": {"allowPrivilegeEscalation": null, "capabilities": null}}),
    );
    assert_eq!(
        run("restricted", "latest", &resource).as_deref(),
        Some(
            "Validation rule 'r' failed. It violates PodSecurity \"restricted:latest\": \
             (Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.containers[0].securityContext.allowPrivilegeEscalation is forbidden, forbidden values found: nil])\
             (Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop: Required value])\
             (Forbidden reason: host namespaces, field error list: [spec.hostNetwork is forbidden, forbidden values found: true])"
        )
    );
}

#[test]
fn pinned_versions_report_every_failing_revision() {
    let resource = pod_with(json!({}), json!({"securityContext": {"allowPrivilegeEscalation": true}}));
    let message = run("restricted", "v1.25", &resource).expect("fails");
    assert_eq!(message.matches("allowPrivilegeEscalation != false").count(), 2, "{message}");
    assert!(message.contains("PodSecurity \"restricted:v1.25\""), "{message}");
    let message = run("restricted", "latest", &resource).expect("fails");
    assert_eq!(message.matches("allowPrivilegeEscalation != false").count(), 1, "{message}");
}

#[test]
fn controllers_use_their_pod_template() {
    let template = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"hostIPC": true, "containers": [good_container("c", "nginx")]}});
    let cases = [
        ("Deployment", json!({"template": template}), "spec.template.spec.hostIPC is forbidden"),
        ("DaemonSet", json!({"template": template}), "spec.template.spec.hostIPC is forbidden"),
        ("StatefulSet", json!({"template": template}), "spec.template.spec.hostIPC is forbidden"),
        ("Job", json!({"template": template}), "spec.template.spec.hostIPC is forbidden"),
        ("ReplicaSet", json!({"template": template}), "spec.template.spec.hostIPC is forbidden"),
        ("ReplicationController", json!({"template": template}), "spec.template.spec.hostIPC is forbidden"),
        (
            "CronJob",
            json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}),
            "spec.jobTemplate.spec.template.spec.hostIPC is forbidden",
        ),
    ];
    for (kind, spec, want) in cases {
        let resource = json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "x"}, "spec": spec});
        let message = run("baseline", "latest", &resource).unwrap_or_default();
        assert!(message.contains(want), "{kind}: {message}");
        let mut good = resource.clone();
        let spec = if kind == "CronJob" {
            &mut good["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        } else {
            &mut good["spec"]["template"]["spec"]
        };
        spec["hostIPC"] = json!(false);
        assert_eq!(run("baseline", "latest", &good), None, "{kind}");
    }
}

#[test]
fn metadata_paths_and_cronjob_annotations() {
    let annotations = json!({"container.apparmor.security.beta.kubernetes.io/c": "unconfined"});
    let mut pod = pod_with(json!({}), json!({}));
    pod["metadata"]["annotations"] = annotations.clone();
    let message = run("baseline", "latest", &pod).expect("fails");
    assert!(message.contains("(Forbidden reason: forbidden AppArmor profile, field error list: [spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/c] is forbidden, forbidden values found: unconfined])"), "{message}");
    // Upstream reads a CronJob's job template metadata, not its pod template metadata.
    let template =
        json!({"metadata": {"annotations": annotations}, "spec": {"containers": [good_container("c", "nginx")]}});
    let cron = json!({"kind": "CronJob", "metadata": {"name": "x"}, "spec": {"jobTemplate": {"spec": {"template": template}}}});
    assert_eq!(run("baseline", "latest", &cron), None);
    let mut cron = cron;
    cron["spec"]["jobTemplate"]["metadata"] = json!({"annotations": annotations});
    assert!(run("baseline", "latest", &cron).is_some());
}

#[test]
fn unsupported_kinds_are_errors() {
    let ps = compile(&json!({"level": "baseline"})).expect("compiles");
    let service = json!({"kind": "Service", "metadata": {"name": "s"}, "spec": {}});
    assert_eq!(
        ps.check(&service),
        PodSecurityOutcome::Error {
            message: "Error while getting new resource: could not find correct resource type".into()
        }
    );
}

#[test]
fn version_text_is_reported_as_written() {
    let ps = compile(&json!({"level": "baseline"})).expect("compiles").with_rule_name("base");
    let resource = pod_with(json!({"hostPID": true}), json!({}));
    let PodSecurityOutcome::Fail { message } = ps.check(&resource) else { panic!("expected failure") };
    assert!(message.starts_with("Validation rule 'base' failed. It violates PodSecurity \"baseline:\": "), "{message}");
}

#[test]
fn seccomp_annotations_apply_to_pinned_versions() {
    let mut pod = pod_with(json!({}), json!({}));
    pod["metadata"]["annotations"] = json!({
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/c": "localhost/profile.json",
    });
    let want = "(Forbidden reason: seccompProfile, field error list: [spec.template.metadata.annotations[seccomp.security.alpha.kubernetes.io/pod] is forbidden, forbidden values found: unconfined])";
    for version in ["v1.18", "v1.24"] {
        let message = run("baseline", version, &pod).unwrap_or_default();
        assert!(message.contains(want), "{version}: {message}");
    }
    assert_eq!(run("baseline", "latest", &pod), None);
    pod["metadata"]["annotations"]["container.seccomp.security.alpha.kubernetes.io/c"] = json!("unconfined");
    let message = run("baseline", "v1.18", &pod).unwrap_or_default();
    assert!(
        message.contains("annotations[container.seccomp.security.alpha.kubernetes.io/c] is forbidden"),
        "{message}"
    );
}

#[test]
fn compiled_rules_are_shareable() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let ps = compile(&json!({"level": "restricted", "exclude": [{"controlName": "Seccomp", "images": ["a*"]}]}))
        .expect("compiles");
    assert_send_sync(&ps);
    assert_eq!(ps.level(), super::Level::Restricted);
    assert_eq!(ps.version(), super::Version::Latest);
}
