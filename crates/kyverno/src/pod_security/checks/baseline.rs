//! Baseline-level checks of the Pod Security Standards, as in Kubernetes'
//! `k8s.io/pod-security-admission/policy/check_*.go` (with field errors enabled).

use super::super::result::{BadValue, FieldError, Violation, container_path, forbidden};
use super::super::view::{PodView, array, boolean, container_name, field, integer, object, security_context, string};
use super::violation;
use serde_json::{Map, Value};

/// Sorted, de-duplicated copy of `items` (Go's `sets.NewString(...).List()`).
pub(super) fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_apparmor_type(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// `appArmorProfile` 1.0: profile types and the deprecated annotations.
pub(super) fn app_armor_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    let mut bad_types: Vec<String> = Vec::new();
    if let Some(profile) = object(pod.pod_security_context(), "appArmorProfile") {
        let t = string(Some(profile), "type").unwrap_or("");
        if !allowed_apparmor_type(t) {
            errors.push(forbidden("spec.securityContext.appArmorProfile.type".into(), BadValue::Str(t.into())));
            bad_types.push(t.into());
        }
    }
    pod.visit(|kind, i, c| {
        if let Some(profile) = object(security_context(c), "appArmorProfile") {
            let t = string(Some(profile), "type").unwrap_or("");
            if !allowed_apparmor_type(t) {
                let path = container_path(kind, i, "securityContext.appArmorProfile.type");
                errors.push(forbidden(path, BadValue::Str(t.into())));
                bad_types.push(t.into());
            }
        }
    });
    let mut bad_annotations = 0;
    if let Some(annotations) = pod.annotations() {
        let mut keys: Vec<&String> = annotations.keys().filter(|k| k.starts_with(APPARMOR_ANNOTATION_PREFIX)).collect();
        keys.sort();
        for key in keys {
            let Some(v) = annotations.get(key).and_then(Value::as_str) else { continue };
            if !(v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")) {
                errors.push(forbidden(format!("metadata.annotations[{key}]"), BadValue::Str(v.into())));
                bad_annotations += 1;
            }
        }
    }
    let count = sorted(bad_types).len() + bad_annotations;
    let reason = if count == 1 { "forbidden AppArmor profile" } else { "forbidden AppArmor profiles" };
    violation(reason, errors)
}

const CAPABILITIES_ALLOWED: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// `capabilities_baseline` 1.0: only the default capabilities may be added.
pub(super) fn capabilities_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    pod.visit(|kind, i, c| {
        let Some(caps) = object(security_context(c), "capabilities") else { return };
        let bad: Vec<String> = array(Some(caps), "add")
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .filter(|cap| !CAPABILITIES_ALLOWED.contains(cap))
            .map(str::to_string)
            .collect();
        if !bad.is_empty() {
            let path = container_path(kind, i, "securityContext.capabilities.add");
            errors.push(forbidden(path, BadValue::List(sorted(bad))));
        }
    });
    violation("non-default capabilities", errors)
}

/// `hostNamespaces` 1.0: no host network, PID or IPC namespace.
pub(super) fn host_namespaces_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if boolean(pod.spec(), key) == Some(true) {
            errors.push(forbidden(format!("spec.{key}"), BadValue::Bool(true)));
        }
    }
    violation("host namespaces", errors)
}

/// `hostPathVolumes` 1.0: no hostPath volume.
pub(super) fn host_path_volumes_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    for (i, volume) in array(pod.spec(), "volumes").iter().enumerate() {
        if field(volume.as_object(), "hostPath").is_some() {
            errors.push(forbidden(format!("spec.volumes[{i}].hostPath"), BadValue::None));
        }
    }
    violation("hostPath volumes", errors)
}

/// `hostPorts` 1.0: no container port may set `hostPort`.
pub(super) fn host_ports_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    pod.visit(|kind, i, c| {
        for (p, port) in array(c.as_object(), "ports").iter().enumerate() {
            let host_port = integer(port.as_object(), "hostPort").unwrap_or(0);
            if host_port != 0 {
                let path = container_path(kind, i, &format!("ports[{p}].hostPort"));
                errors.push(forbidden(path, BadValue::Int(host_port)));
            }
        }
    });
    violation("hostPort", errors)
}

/// `hostProbesAndHostLifecycle` 1.34: probes and lifecycle handlers must not set `host`.
pub(super) fn host_probes_v1_34(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    pod.visit(|kind, i, c| {
        let container = c.as_object();
        let lifecycle = object(container, "lifecycle");
        let handlers = [
            ("livenessProbe", object(container, "livenessProbe")),
            ("readinessProbe", object(container, "readinessProbe")),
            ("startupProbe", object(container, "startupProbe")),
            ("lifecycle.postStart", object(lifecycle, "postStart")),
            ("lifecycle.preStop", object(lifecycle, "preStop")),
        ];
        for (name, handler) in handlers {
            for action in ["httpGet", "tcpSocket"] {
                let host = string(object(handler, action), "host").unwrap_or("");
                if !host.is_empty() {
                    let path = container_path(kind, i, &format!("{name}.{action}.host"));
                    errors.push(forbidden(path, BadValue::Str(host.into())));
                }
            }
        }
    });
    violation("probe or lifecycle host", errors)
}

/// `privileged` 1.0: no privileged container.
pub(super) fn privileged_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    pod.visit(|kind, i, c| {
        if boolean(security_context(c), "privileged") == Some(true) {
            errors.push(forbidden(container_path(kind, i, "securityContext.privileged"), BadValue::Bool(true)));
        }
    });
    violation("privileged", errors)
}

/// `procMount` 1.0 (and `procMount_restricted`): `procMount` must be unset or `Default`.
pub(super) fn proc_mount_strict(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    pod.visit(|kind, i, c| {
        if let Some(mount) = string(security_context(c), "procMount").filter(|m| *m != "Default") {
            errors.push(forbidden(container_path(kind, i, "securityContext.procMount"), BadValue::Str(mount.into())));
        }
    });
    violation("procMount", errors)
}

/// `procMount` 1.35: any value is allowed for pods in a user namespace.
pub(super) fn proc_mount_v1_35(pod: &PodView<'_>) -> Option<Violation> {
    if pod.in_user_namespace() {
        return None;
    }
    proc_mount_strict(pod)
}

const SELINUX_TYPES_V1_0: [&str; 4] = ["", "container_t", "container_init_t", "container_kvm_t"];
const SELINUX_TYPES_V1_31: [&str; 5] = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

fn selinux(pod: &PodView<'_>, allowed: &[&str]) -> Option<Violation> {
    let mut errors = Vec::new();
    let mut check = |options: &Map<String, Value>, prefix: String| {
        let t = string(Some(options), "type").unwrap_or("");
        if !allowed.contains(&t) {
            errors.push(forbidden(format!("{prefix}.type"), BadValue::Str(t.into())));
        }
        for key in ["user", "role"] {
            let v = string(Some(options), key).unwrap_or("");
            if !v.is_empty() {
                errors.push(forbidden(format!("{prefix}.{key}"), BadValue::Str(v.into())));
            }
        }
    };
    if let Some(options) = object(pod.pod_security_context(), "seLinuxOptions") {
        check(options, "spec.securityContext.seLinuxOptions".into());
    }
    pod.visit(|kind, i, c| {
        if let Some(options) = object(security_context(c), "seLinuxOptions") {
            check(options, container_path(kind, i, "securityContext.seLinuxOptions"));
        }
    });
    violation("seLinuxOptions", errors)
}

/// `seLinuxOptions` 1.0.
pub(super) fn selinux_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    selinux(pod, &SELINUX_TYPES_V1_0)
}

/// `seLinuxOptions` 1.31: also allows `container_engine_t`.
pub(super) fn selinux_v1_31(pod: &PodView<'_>) -> Option<Violation> {
    selinux(pod, &SELINUX_TYPES_V1_31)
}

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

/// `seccompProfile_baseline` 1.0: the deprecated seccomp annotations.
pub(super) fn seccomp_baseline_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let valid = |v: &str| v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/");
    let annotations = pod.annotations();
    let mut found: Vec<(String, FieldError)> = Vec::new();
    let mut check = |key: &str| {
        if let Some(v) = string(annotations, key).filter(|v| !valid(v)) {
            let error = forbidden(format!("metadata.annotations[{key}]"), BadValue::Str(v.into()));
            found.push((format!("{key}={v:?}"), error));
        }
    };
    check(SECCOMP_POD_ANNOTATION);
    // Build per-container keys only when some container annotation exists (no allocation otherwise).
    if annotations.is_some_and(|a| a.keys().any(|k| k.starts_with(SECCOMP_CONTAINER_ANNOTATION_PREFIX))) {
        pod.visit(|_, _, c| check(&format!("{SECCOMP_CONTAINER_ANNOTATION_PREFIX}{}", container_name(c))));
    }
    // Upstream groups the errors in a map keyed by the forbidden value; sort for a stable order.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    violation("seccompProfile", found.into_iter().map(|(_, e)| e).collect())
}

/// Whether a seccomp profile type is `RuntimeDefault` or `Localhost`.
pub(super) fn valid_seccomp(t: &str) -> bool {
    matches!(t, "RuntimeDefault" | "Localhost")
}

/// `seccompProfile_baseline` 1.19: explicit profile types must be `RuntimeDefault` or `Localhost`.
pub(super) fn seccomp_baseline_v1_19(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    if let Some(profile) = object(pod.pod_security_context(), "seccompProfile") {
        let t = string(Some(profile), "type").unwrap_or("");
        if !valid_seccomp(t) {
            errors.push(forbidden("spec.securityContext.seccompProfile.type".into(), BadValue::Str(t.into())));
        }
    }
    pod.visit(|kind, i, c| {
        if let Some(profile) = object(security_context(c), "seccompProfile") {
            let t = string(Some(profile), "type").unwrap_or("");
            if !valid_seccomp(t) {
                let path = container_path(kind, i, "securityContext.seccompProfile.type");
                errors.push(forbidden(path, BadValue::Str(t.into())));
            }
        }
    });
    violation("seccompProfile", errors)
}

const SYSCTLS_V1_0: [&str; 5] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SYSCTLS_V1_27: [&str; 1] = ["net.ipv4.ip_local_reserved_ports"];
const SYSCTLS_V1_29: [&str; 4] = [
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SYSCTLS_V1_32: [&str; 2] = ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];

fn sysctls(pod: &PodView<'_>, allowed: &[&[&str]]) -> Option<Violation> {
    let mut errors = Vec::new();
    for (i, sysctl) in array(pod.pod_security_context(), "sysctls").iter().enumerate() {
        let name = string(sysctl.as_object(), "name").unwrap_or("");
        if !allowed.iter().any(|set| set.contains(&name)) {
            errors.push(forbidden(format!("spec.securityContext.sysctls[{i}].name"), BadValue::Str(name.into())));
        }
    }
    violation("forbidden sysctls", errors)
}

/// `sysctls` 1.0.
pub(super) fn sysctls_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    sysctls(pod, &[&SYSCTLS_V1_0])
}

/// `sysctls` 1.27.
pub(super) fn sysctls_v1_27(pod: &PodView<'_>) -> Option<Violation> {
    sysctls(pod, &[&SYSCTLS_V1_0, &SYSCTLS_V1_27])
}

/// `sysctls` 1.29.
pub(super) fn sysctls_v1_29(pod: &PodView<'_>) -> Option<Violation> {
    sysctls(pod, &[&SYSCTLS_V1_0, &SYSCTLS_V1_27, &SYSCTLS_V1_29])
}

/// `sysctls` 1.32.
pub(super) fn sysctls_v1_32(pod: &PodView<'_>) -> Option<Violation> {
    sysctls(pod, &[&SYSCTLS_V1_0, &SYSCTLS_V1_27, &SYSCTLS_V1_29, &SYSCTLS_V1_32])
}

/// `windowsHostProcess` 1.0: no Windows HostProcess pod or container.
pub(super) fn windows_host_process_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let host_process = |sc: Option<&Map<String, Value>>| boolean(object(sc, "windowsOptions"), "hostProcess");
    let mut errors = Vec::new();
    if host_process(pod.pod_security_context()) == Some(true) {
        errors.push(forbidden("spec.securityContext.windowsOptions.hostProcess".into(), BadValue::Bool(true)));
    }
    pod.visit(|kind, i, c| {
        if host_process(security_context(c)) == Some(true) {
            let path = container_path(kind, i, "securityContext.windowsOptions.hostProcess");
            errors.push(forbidden(path, BadValue::Bool(true)));
        }
    });
    violation("hostProcess", errors)
}
