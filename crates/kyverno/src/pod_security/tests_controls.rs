//! Per-control pass/fail table: baseline controls (restricted ones in `tests_controls_restricted`).

use super::tests::{pod_with, run};
use serde_json::{Value, json};

/// One table row.
pub(super) struct Case {
    name: &'static str,
    level: &'static str,
    version: &'static str,
    spec: Value,
    container: Value,
    /// `None`: pass; otherwise a fragment of the failure message.
    fails_with: Option<&'static str>,
}

pub(super) fn case(
    name: &'static str,
    level: &'static str,
    spec: Value,
    container: Value,
    fails_with: Option<&'static str>,
) -> Case {
    Case { name, level, version: "latest", spec, container, fails_with }
}

pub(super) fn at(mut c: Case, version: &'static str) -> Case {
    c.version = version;
    c
}

fn baseline_cases() -> Vec<Case> {
    let none = json!({});
    vec![
        // HostProcess
        case(
            "hostProcess false",
            "baseline",
            json!({"securityContext": {"windowsOptions": {"hostProcess": false}}}),
            none.clone(),
            None,
        ),
        case(
            "hostProcess pod",
            "baseline",
            json!({"securityContext": {"windowsOptions": {"hostProcess": true}}}),
            none.clone(),
            Some(
                "(Forbidden reason: hostProcess, field error list: [spec.securityContext.windowsOptions.hostProcess is forbidden, forbidden values found: true])",
            ),
        ),
        case(
            "hostProcess container",
            "baseline",
            none.clone(),
            json!({"securityContext": {"windowsOptions": {"hostProcess": true}}}),
            Some(
                "spec.containers[0].securityContext.windowsOptions.hostProcess is forbidden, forbidden values found: true",
            ),
        ),
        // Host Namespaces
        case("host namespaces false", "baseline", json!({"hostNetwork": false, "hostPID": false}), none.clone(), None),
        case(
            "host namespaces",
            "baseline",
            json!({"hostNetwork": true, "hostIPC": true}),
            none.clone(),
            Some(
                "(Forbidden reason: host namespaces, field error list: [spec.hostNetwork is forbidden, forbidden values found: true, spec.hostIPC is forbidden, forbidden values found: true])",
            ),
        ),
        // Privileged Containers
        case("privileged false", "baseline", none.clone(), json!({"securityContext": {"privileged": false}}), None),
        case(
            "privileged",
            "baseline",
            none.clone(),
            json!({"securityContext": {"privileged": true}}),
            Some(
                "(Forbidden reason: privileged, field error list: [spec.containers[0].securityContext.privileged is forbidden, forbidden values found: true])",
            ),
        ),
        // Capabilities (baseline and restricted)
        case(
            "default capability",
            "baseline",
            none.clone(),
            json!({"securityContext": {"capabilities": {"add": ["CHOWN", "KILL"]}}}),
            None,
        ),
        case(
            "non-default capabilities",
            "baseline",
            none.clone(),
            json!({"securityContext": {"capabilities": {"add": ["SYS_TIME", "NET_ADMIN", "CHOWN"]}}}),
            Some(
                "(Forbidden reason: non-default capabilities, field error list: [spec.containers[0].securityContext.capabilities.add is forbidden, forbidden values found: [NET_ADMIN SYS_TIME]])",
            ),
        ),
        case(
            "restricted add NET_BIND_SERVICE",
            "restricted",
            none.clone(),
            json!({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}}),
            None,
        ),
        case(
            "restricted drop missing",
            "restricted",
            none.clone(),
            json!({"securityContext": {"capabilities": null}}),
            Some(
                "(Forbidden reason: unrestricted capabilities, field error list: [spec.containers[0].securityContext.capabilities.drop: Required value])",
            ),
        ),
        case(
            "restricted drop wrong",
            "restricted",
            none.clone(),
            json!({"securityContext": {"capabilities": {"drop": ["NET_RAW"], "add": ["CHOWN"]}}}),
            Some(
                "[spec.containers[0].securityContext.capabilities.drop is forbidden, forbidden values found: [NET_RAW], spec.containers[0].securityContext.capabilities.add is forbidden, forbidden values found: [CHOWN]]",
            ),
        ),
        at(
            case(
                "restricted capabilities before 1.22",
                "restricted",
                none.clone(),
                json!({"securityContext": {"capabilities": null}}),
                None,
            ),
            "v1.21",
        ),
        // HostPath Volumes
        case("emptyDir volume", "baseline", json!({"volumes": [{"name": "v", "emptyDir": {}}]}), none.clone(), None),
        case(
            "hostPath volume",
            "baseline",
            json!({"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}),
            none.clone(),
            Some("(Forbidden reason: hostPath volumes, field error list: [spec.volumes[0].hostPath: Forbidden])"),
        ),
        // Host Ports
        case("hostPort 0", "baseline", none.clone(), json!({"ports": [{"containerPort": 80, "hostPort": 0}]}), None),
        case(
            "hostPort",
            "baseline",
            none.clone(),
            json!({"ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 8081}]}),
            Some(
                "(Forbidden reason: hostPort, field error list: [spec.containers[0].ports[1].hostPort is forbidden, forbidden values found: 8081])",
            ),
        ),
        // AppArmor
        case(
            "apparmor runtime/default",
            "baseline",
            json!({"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}}),
            none.clone(),
            None,
        ),
        case(
            "apparmor unconfined type",
            "baseline",
            none.clone(),
            json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}),
            Some(
                "(Forbidden reason: forbidden AppArmor profile, field error list: [spec.containers[0].securityContext.appArmorProfile.type is forbidden, forbidden values found: Unconfined])",
            ),
        ),
        // SELinux
        case(
            "selinux container_t",
            "baseline",
            json!({"securityContext": {"seLinuxOptions": {"type": "container_t", "level": "s0:c1"}}}),
            none.clone(),
            None,
        ),
        case(
            "selinux bad type and user",
            "baseline",
            none.clone(),
            json!({"securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "root"}}}),
            Some(
                "(Forbidden reason: seLinuxOptions, field error list: [spec.containers[0].securityContext.seLinuxOptions.type is forbidden, forbidden values found: spc_t, spec.containers[0].securityContext.seLinuxOptions.user is forbidden, forbidden values found: root])",
            ),
        ),
        case(
            "selinux container_engine_t",
            "baseline",
            none.clone(),
            json!({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}),
            None,
        ),
        at(
            case(
                "selinux container_engine_t before 1.31",
                "baseline",
                none.clone(),
                json!({"securityContext": {"seLinuxOptions": {"type": "container_engine_t"}}}),
                Some("seLinuxOptions.type is forbidden, forbidden values found: container_engine_t"),
            ),
            "v1.30",
        ),
        // /proc Mount Type
        case("procMount Default", "baseline", none.clone(), json!({"securityContext": {"procMount": "Default"}}), None),
        case(
            "procMount Unmasked",
            "baseline",
            none.clone(),
            json!({"securityContext": {"procMount": "Unmasked"}}),
            Some(
                "(Forbidden reason: procMount, field error list: [spec.containers[0].securityContext.procMount is forbidden, forbidden values found: Unmasked])",
            ),
        ),
        case(
            "procMount Unmasked in user namespace",
            "baseline",
            json!({"hostUsers": false}),
            json!({"securityContext": {"procMount": "Unmasked"}}),
            None,
        ),
        at(
            case(
                "procMount Unmasked in user namespace 1.34",
                "baseline",
                json!({"hostUsers": false}),
                json!({"securityContext": {"procMount": "Unmasked"}}),
                Some("Forbidden reason: procMount"),
            ),
            "v1.34",
        ),
        case(
            "procMount restricted in user namespace",
            "restricted",
            json!({"hostUsers": false}),
            json!({"securityContext": {"procMount": "Unmasked"}}),
            Some("Forbidden reason: procMount"),
        ),
        // Seccomp (baseline and restricted)
        case(
            "seccomp unset baseline",
            "baseline",
            none.clone(),
            json!({"securityContext": {"seccompProfile": null}}),
            None,
        ),
        case(
            "seccomp unconfined",
            "baseline",
            json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
            none.clone(),
            Some(
                "(Forbidden reason: seccompProfile, field error list: [spec.securityContext.seccompProfile.type is forbidden, forbidden values found: Unconfined])",
            ),
        ),
        case(
            "seccomp restricted pod-level",
            "restricted",
            json!({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}),
            json!({"securityContext": {"seccompProfile": null}}),
            None,
        ),
        case(
            "seccomp restricted missing",
            "restricted",
            none.clone(),
            json!({"securityContext": {"seccompProfile": null}}),
            Some(
                "(Forbidden reason: seccompProfile, field error list: [spec.containers[0].securityContext.seccompProfile.type: Required value])",
            ),
        ),
        at(
            case(
                "seccomp restricted before 1.19",
                "restricted",
                none.clone(),
                json!({"securityContext": {"seccompProfile": null}}),
                None,
            ),
            "v1.18",
        ),
        // Sysctls
        case(
            "safe sysctl",
            "baseline",
            json!({"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced", "value": "1"}]}}),
            none.clone(),
            None,
        ),
        case(
            "unsafe sysctl",
            "baseline",
            json!({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}, {"name": "kernel.msgmax", "value": "1"}]}}),
            none.clone(),
            Some(
                "(Forbidden reason: forbidden sysctls, field error list: [spec.securityContext.sysctls[1].name is forbidden, forbidden values found: kernel.msgmax])",
            ),
        ),
        at(
            case(
                "sysctl added in 1.32",
                "baseline",
                json!({"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]}}),
                none.clone(),
                Some("sysctls[0].name is forbidden, forbidden values found: net.ipv4.tcp_rmem"),
            ),
            "v1.31",
        ),
        // Host Probes / Lifecycle Hooks
        case(
            "probe without host",
            "baseline",
            none.clone(),
            json!({"livenessProbe": {"httpGet": {"path": "/", "port": 80}}}),
            None,
        ),
        case(
            "probe host",
            "baseline",
            none.clone(),
            json!({"livenessProbe": {"httpGet": {"host": "localhost", "port": 80}}}),
            Some(
                "(Forbidden reason: probe or lifecycle host, field error list: [spec.containers[0].livenessProbe.httpGet.host is forbidden, forbidden values found: localhost])",
            ),
        ),
        at(
            case(
                "probe host before 1.34",
                "baseline",
                none.clone(),
                json!({"livenessProbe": {"httpGet": {"host": "localhost", "port": 80}}}),
                None,
            ),
            "v1.33",
        ),
    ]
}

#[test]
fn controls_pass_and_fail() {
    for c in baseline_cases().into_iter().chain(super::tests_controls_restricted::cases()) {
        let resource = pod_with(c.spec.clone(), c.container.clone());
        let got = run(c.level, c.version, &resource);
        match (c.fails_with, got) {
            (None, None) => {}
            (None, Some(message)) => panic!("{}: expected pass, got {message}", c.name),
            (Some(want), None) => panic!("{}: expected failure containing {want:?}, got pass", c.name),
            (Some(want), Some(message)) => assert!(message.contains(want), "{}: {message:?} lacks {want:?}", c.name),
        }
    }
}
