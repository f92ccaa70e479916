//! The registry of Pod Security Standards checks (Kubernetes' `policy.DefaultChecks()`, in its
//! registration order) and of the control names Kyverno maps onto them.

mod baseline;
mod restricted;

use super::result::{FieldError, Violation};
use super::view::PodView;

/// One versioned revision of a check.
pub(super) type CheckFn = fn(&PodView<'_>) -> Option<Violation>;

/// A check: its Kubernetes ID, whether it belongs to the restricted level, and its revisions
/// as `(minimum minor version of 1.x, function)` in increasing version order.
pub(super) struct CheckDef {
    /// Kubernetes' check ID.
    pub id: &'static str,
    /// Restricted-only (otherwise baseline).
    pub restricted: bool,
    /// Revisions.
    pub versions: &'static [(u32, CheckFn)],
}

/// `Some(Violation)` when `errors` is not empty.
fn violation(reason: &'static str, errors: Vec<FieldError>) -> Option<Violation> {
    if errors.is_empty() { None } else { Some(Violation { reason, errors }) }
}

/// All checks, in the order Kubernetes registers them (alphabetical by source file).
pub(super) static CHECKS: [CheckDef; 19] = [
    CheckDef {
        id: "allowPrivilegeEscalation",
        restricted: true,
        versions: &[
            (8, restricted::allow_privilege_escalation_v1_8),
            (25, restricted::allow_privilege_escalation_v1_25),
        ],
    },
    CheckDef { id: "appArmorProfile", restricted: false, versions: &[(0, baseline::app_armor_v1_0)] },
    CheckDef { id: "capabilities_baseline", restricted: false, versions: &[(0, baseline::capabilities_v1_0)] },
    CheckDef {
        id: "capabilities_restricted",
        restricted: true,
        versions: &[(22, restricted::capabilities_v1_22), (25, restricted::capabilities_v1_25)],
    },
    CheckDef { id: "hostNamespaces", restricted: false, versions: &[(0, baseline::host_namespaces_v1_0)] },
    CheckDef { id: "hostPathVolumes", restricted: false, versions: &[(0, baseline::host_path_volumes_v1_0)] },
    CheckDef { id: "hostPorts", restricted: false, versions: &[(0, baseline::host_ports_v1_0)] },
    CheckDef { id: "hostProbesAndHostLifecycle", restricted: false, versions: &[(34, baseline::host_probes_v1_34)] },
    CheckDef { id: "privileged", restricted: false, versions: &[(0, baseline::privileged_v1_0)] },
    CheckDef {
        id: "procMount",
        restricted: false,
        versions: &[(0, baseline::proc_mount_strict), (35, baseline::proc_mount_v1_35)],
    },
    CheckDef { id: "procMount_restricted", restricted: true, versions: &[(35, baseline::proc_mount_strict)] },
    CheckDef { id: "restrictedVolumes", restricted: true, versions: &[(0, restricted::restricted_volumes_v1_0)] },
    CheckDef {
        id: "runAsNonRoot",
        restricted: true,
        versions: &[(0, restricted::run_as_non_root_v1_0), (35, restricted::run_as_non_root_v1_35)],
    },
    CheckDef {
        id: "runAsUser",
        restricted: true,
        versions: &[(23, restricted::run_as_user_v1_23), (35, restricted::run_as_user_v1_35)],
    },
    CheckDef {
        id: "seLinuxOptions",
        restricted: false,
        versions: &[(0, baseline::selinux_v1_0), (31, baseline::selinux_v1_31)],
    },
    CheckDef {
        id: "seccompProfile_baseline",
        restricted: false,
        versions: &[(0, baseline::seccomp_baseline_v1_0), (19, baseline::seccomp_baseline_v1_19)],
    },
    CheckDef {
        id: "seccompProfile_restricted",
        restricted: true,
        versions: &[(19, restricted::seccomp_v1_19), (25, restricted::seccomp_v1_25)],
    },
    CheckDef {
        id: "sysctls",
        restricted: false,
        versions: &[
            (0, baseline::sysctls_v1_0),
            (27, baseline::sysctls_v1_27),
            (29, baseline::sysctls_v1_29),
            (32, baseline::sysctls_v1_32),
        ],
    },
    CheckDef { id: "windowsHostProcess", restricted: false, versions: &[(0, baseline::windows_host_process_v1_0)] },
];

/// Where a control's restricted fields live, which decides Kyverno's rules for `images`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Container fields only: an exclusion must name `images`.
    Container,
    /// Pod fields only: an exclusion must not name `images`.
    Pod,
    /// Both: `images` optional.
    Both,
}

/// A Pod Security Standards control as named in `exclude.controlName`.
#[derive(Debug)]
pub(super) struct Control {
    /// The control name.
    pub name: &'static str,
    /// IDs of the checks it covers.
    pub checks: &'static [&'static str],
    /// Where its fields live.
    pub scope: Scope,
    /// Whether it exists only in the restricted profile (Seccomp and Capabilities span both).
    pub restricted_only: bool,
}

/// Every control Kyverno accepts in `exclude.controlName`.
pub(super) static CONTROLS: [Control; 16] = [
    Control { name: "HostProcess", checks: &["windowsHostProcess"], scope: Scope::Both, restricted_only: false },
    Control { name: "Host Namespaces", checks: &["hostNamespaces"], scope: Scope::Pod, restricted_only: false },
    Control { name: "Privileged Containers", checks: &["privileged"], scope: Scope::Container, restricted_only: false },
    Control {
        name: "Capabilities",
        checks: &["capabilities_baseline", "capabilities_restricted"],
        scope: Scope::Container,
        restricted_only: false,
    },
    Control { name: "HostPath Volumes", checks: &["hostPathVolumes"], scope: Scope::Pod, restricted_only: false },
    Control { name: "Host Ports", checks: &["hostPorts"], scope: Scope::Container, restricted_only: false },
    Control { name: "AppArmor", checks: &["appArmorProfile"], scope: Scope::Pod, restricted_only: false },
    Control { name: "SELinux", checks: &["seLinuxOptions"], scope: Scope::Both, restricted_only: false },
    Control {
        name: "/proc Mount Type",
        checks: &["procMount", "procMount_restricted"],
        scope: Scope::Container,
        restricted_only: false,
    },
    Control {
        name: "Seccomp",
        checks: &["seccompProfile_baseline", "seccompProfile_restricted"],
        scope: Scope::Both,
        restricted_only: false,
    },
    Control { name: "Sysctls", checks: &["sysctls"], scope: Scope::Pod, restricted_only: false },
    Control {
        name: "Host Probes / Lifecycle Hooks",
        checks: &["hostProbesAndHostLifecycle"],
        scope: Scope::Container,
        restricted_only: false,
    },
    Control { name: "Volume Types", checks: &["restrictedVolumes"], scope: Scope::Pod, restricted_only: true },
    Control {
        name: "Privilege Escalation",
        checks: &["allowPrivilegeEscalation"],
        scope: Scope::Container,
        restricted_only: true,
    },
    Control { name: "Running as Non-root", checks: &["runAsNonRoot"], scope: Scope::Both, restricted_only: true },
    Control { name: "Running as Non-root user", checks: &["runAsUser"], scope: Scope::Both, restricted_only: true },
];

/// The control named `name`.
pub(super) fn control(name: &str) -> Option<&'static Control> {
    CONTROLS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        let mut previous = "";
        for check in &CHECKS {
            assert!(check.id > previous, "{} out of order", check.id);
            previous = check.id;
            assert!(check.versions.windows(2).all(|w| w[0].0 < w[1].0), "{} versions not increasing", check.id);
            assert!(CONTROLS.iter().any(|c| c.checks.contains(&check.id)), "{} has no control", check.id);
        }
        for control in &CONTROLS {
            for id in control.checks {
                assert!(CHECKS.iter().any(|c| c.id == *id), "{} names unknown check {id}", control.name);
            }
        }
    }
}
