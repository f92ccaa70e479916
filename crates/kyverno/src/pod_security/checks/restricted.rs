//! Restricted-level checks of the Pod Security Standards, as in Kubernetes'
//! `k8s.io/pod-security-admission/policy/check_*.go` (with field errors enabled).

use super::super::result::{BadValue, Violation, container_path, forbidden, required};
use super::super::view::{PodView, array, boolean, field, integer, object, security_context, string};
use super::baseline::{sorted, valid_seccomp};
use super::violation;

/// `allowPrivilegeEscalation` 1.8: every container must set `allowPrivilegeEscalation: false`.
pub(super) fn allow_privilege_escalation_v1_8(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    pod.visit(|kind, i, c| {
        let path = || container_path(kind, i, "securityContext.allowPrivilegeEscalation");
        match security_context(c) {
            None => errors.push(required(path())),
            Some(sc) => match boolean(Some(sc), "allowPrivilegeEscalation") {
                None => errors.push(forbidden(path(), BadValue::Str("nil".into()))),
                Some(true) => errors.push(forbidden(path(), BadValue::Bool(true))),
                Some(false) => {}
            },
        }
    });
    violation("allowPrivilegeEscalation != false", errors)
}

/// `allowPrivilegeEscalation` 1.25: Windows pods are exempt.
pub(super) fn allow_privilege_escalation_v1_25(pod: &PodView<'_>) -> Option<Violation> {
    if pod.is_windows() {
        return None;
    }
    allow_privilege_escalation_v1_8(pod)
}

/// `capabilities_restricted` 1.22: drop `ALL`, add nothing but `NET_BIND_SERVICE`.
pub(super) fn capabilities_v1_22(pod: &PodView<'_>) -> Option<Violation> {
    let mut missing_drop_all = Vec::new();
    let mut adding_forbidden = Vec::new();
    pod.visit(|kind, i, c| {
        let drop_path = || container_path(kind, i, "securityContext.capabilities.drop");
        let Some(caps) = object(security_context(c), "capabilities") else {
            missing_drop_all.push(required(drop_path()));
            return;
        };
        let drop = array(Some(caps), "drop");
        if !drop.iter().any(|v| v.as_str() == Some("ALL")) {
            if drop.is_empty() {
                missing_drop_all.push(required(drop_path()));
            } else {
                let values = drop.iter().map(|v| v.as_str().unwrap_or("").to_string()).collect();
                missing_drop_all.push(forbidden(drop_path(), BadValue::List(sorted(values))));
            }
        }
        let added: Vec<String> = array(Some(caps), "add")
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .filter(|cap| *cap != "NET_BIND_SERVICE")
            .map(str::to_string)
            .collect();
        if !added.is_empty() {
            let path = container_path(kind, i, "securityContext.capabilities.add");
            adding_forbidden.push(forbidden(path, BadValue::List(sorted(added))));
        }
    });
    missing_drop_all.extend(adding_forbidden);
    violation("unrestricted capabilities", missing_drop_all)
}

/// `capabilities_restricted` 1.25: Windows pods are exempt.
pub(super) fn capabilities_v1_25(pod: &PodView<'_>) -> Option<Violation> {
    if pod.is_windows() {
        return None;
    }
    capabilities_v1_22(pod)
}

/// Volume sources the restricted profile allows.
const ALLOWED_VOLUMES: [&str; 8] =
    ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/// Volume sources it names when forbidding them, in the order Kubernetes tests them.
const RESTRICTED_VOLUMES: [&str; 21] = [
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// `restrictedVolumes` 1.0: only the allowed inline volume sources.
pub(super) fn restricted_volumes_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    for (i, volume) in array(pod.spec(), "volumes").iter().enumerate() {
        let volume = volume.as_object();
        if ALLOWED_VOLUMES.iter().any(|k| field(volume, k).is_some()) {
            continue;
        }
        let source = RESTRICTED_VOLUMES.iter().find(|k| field(volume, k).is_some()).copied().unwrap_or("unknown");
        errors.push(forbidden(format!("spec.volumes[{i}].{source}"), BadValue::None));
    }
    violation("restricted volume types", errors)
}

/// `runAsNonRoot` 1.0: pod or every container must set `runAsNonRoot: true`, none `false`.
pub(super) fn run_as_non_root_v1_0(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    let mut pod_non_root = false;
    match boolean(pod.pod_security_context(), "runAsNonRoot") {
        Some(false) => errors.push(forbidden("spec.securityContext.runAsNonRoot".into(), BadValue::Bool(false))),
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut implicit = Vec::new();
    pod.visit(|kind, i, c| {
        let path = || container_path(kind, i, "securityContext.runAsNonRoot");
        match boolean(security_context(c), "runAsNonRoot") {
            Some(false) => errors.push(forbidden(path(), BadValue::Bool(false))),
            Some(true) => {}
            None if !pod_non_root => implicit.push(required(path())),
            None => {}
        }
    });
    errors.extend(implicit);
    violation("runAsNonRoot != true", errors)
}

/// `runAsNonRoot` 1.35: pods in a user namespace are exempt.
pub(super) fn run_as_non_root_v1_35(pod: &PodView<'_>) -> Option<Violation> {
    if pod.in_user_namespace() {
        return None;
    }
    run_as_non_root_v1_0(pod)
}

/// `runAsUser` 1.23: neither pod nor container may set `runAsUser: 0`.
pub(super) fn run_as_user_v1_23(pod: &PodView<'_>) -> Option<Violation> {
    let mut errors = Vec::new();
    if integer(pod.pod_security_context(), "runAsUser") == Some(0) {
        errors.push(forbidden("spec.securityContext.runAsUser".into(), BadValue::Int(0)));
    }
    pod.visit(|kind, i, c| {
        if integer(security_context(c), "runAsUser") == Some(0) {
            errors.push(forbidden(container_path(kind, i, "securityContext.runAsUser"), BadValue::Int(0)));
        }
    });
    violation("runAsUser=0", errors)
}

/// `runAsUser` 1.35: pods in a user namespace are exempt.
pub(super) fn run_as_user_v1_35(pod: &PodView<'_>) -> Option<Violation> {
    if pod.in_user_namespace() {
        return None;
    }
    run_as_user_v1_23(pod)
}

/// `seccompProfile_restricted` 1.19: pod or every container must set `RuntimeDefault` or
/// `Localhost`; explicit bad values are reported before missing ones (and replace them).
pub(super) fn seccomp_v1_19(pod: &PodView<'_>) -> Option<Violation> {
    let mut explicit = Vec::new();
    let mut pod_set = false;
    if let Some(profile) = object(pod.pod_security_context(), "seccompProfile") {
        let t = string(Some(profile), "type").unwrap_or("");
        if valid_seccomp(t) {
            pod_set = true;
        } else {
            explicit.push(forbidden("spec.securityContext.seccompProfile.type".into(), BadValue::Str(t.into())));
        }
    }
    let mut implicit = Vec::new();
    pod.visit(|kind, i, c| {
        let path = || container_path(kind, i, "securityContext.seccompProfile.type");
        match object(security_context(c), "seccompProfile") {
            Some(profile) => {
                let t = string(Some(profile), "type").unwrap_or("");
                if !valid_seccomp(t) {
                    explicit.push(forbidden(path(), BadValue::Str(t.into())));
                }
            }
            None if !pod_set => implicit.push(required(path())),
            None => {}
        }
    });
    if explicit.is_empty() { violation("seccompProfile", implicit) } else { violation("seccompProfile", explicit) }
}

/// `seccompProfile_restricted` 1.25: Windows pods are exempt.
pub(super) fn seccomp_v1_25(pod: &PodView<'_>) -> Option<Violation> {
    if pod.is_windows() {
        return None;
    }
    seccomp_v1_19(pod)
}
