//! The denial message of a Pod that fails nine pod-security rules (`decision::blocked_message`): the
//! header and the YAML document of Kyverno's `GetBlockedMessages`, with messages long enough to fold.

/// The allocator the `palisade` binary ships with, so the figures match the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use palisade_engine::{
    AdmissionPolicy, AdmissionRequest, EvaluationContext, FailureAction, Operation, RuleKind, RuleResult, RuleStatus,
};
use palisade_server::decision::blocked_message;
use palisade_server::evaluate::{Evaluation, PolicyRun};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

struct Named(&'static str);

impl AdmissionPolicy for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn kinds(&self) -> Vec<String> {
        vec!["Pod".into()]
    }
    fn validate(&self, _: &AdmissionRequest, _: &EvaluationContext) -> Vec<RuleResult> {
        Vec::new()
    }
}

/// (policy, rule, message or `None` for a passing rule), in the order the policies ran.
const RESULTS: [(&str, &str, Option<&str>); 12] = [
    ("disallow-capabilities", "adding-capabilities", None),
    (
        "disallow-host-namespaces",
        "host-namespaces",
        Some(
            "validation error: Sharing the host namespaces is disallowed. The fields spec.hostNetwork, spec.hostIPC, and spec.hostPID must be unset or set to `false`. rule host-namespaces failed at path /spec/hostNetwork/",
        ),
    ),
    (
        "disallow-host-path",
        "host-path",
        Some(
            "validation error: HostPath volumes are forbidden. The field spec.volumes[*].hostPath must be unset. rule host-path failed at path /spec/volumes/0/hostPath/",
        ),
    ),
    (
        "disallow-host-ports",
        "host-ports-none",
        Some(
            "validation error: Use of host ports is disallowed. The fields spec.containers[*].ports[*].hostPort , spec.initContainers[*].ports[*].hostPort, and spec.ephemeralContainers[*].ports[*].hostPort must either be unset or set to `0`. rule host-ports-none failed at path /spec/containers/0/ports/0/hostPort/",
        ),
    ),
    ("disallow-host-process", "host-process-containers", None),
    (
        "disallow-privileged-containers",
        "privileged-containers",
        Some(
            "validation error: Privileged mode is disallowed. The fields spec.containers[*].securityContext.privileged, spec.initContainers[*].securityContext.privileged, and spec.ephemeralContainers[*].securityContext.privileged must be unset or set to `false`. rule privileged-containers failed at path /spec/containers/0/securityContext/privileged/",
        ),
    ),
    (
        "disallow-proc-mount",
        "check-proc-mount",
        Some(
            "validation error: Changing the proc mount from the default is not allowed. The fields spec.containers[*].securityContext.procMount, spec.initContainers[*].securityContext.procMount, and spec.ephemeralContainers[*].securityContext.procMount must be unset or set to `Default`. rule check-proc-mount failed at path /spec/containers/0/securityContext/procMount/",
        ),
    ),
    ("disallow-selinux", "selinux-type", None),
    (
        "restrict-seccomp",
        "check-seccomp",
        Some(
            "validation error: Use of custom Seccomp profiles is disallowed. The fields spec.securityContext.seccompProfile.type, spec.containers[*].securityContext.seccompProfile.type, spec.initContainers[*].securityContext.seccompProfile.type, and spec.ephemeralContainers[*].securityContext.seccompProfile.type must be unset or set to `RuntimeDefault` or `Localhost`. rule check-seccomp failed at path /spec/securityContext/seccompProfile/type/",
        ),
    ),
    (
        "restrict-sysctls",
        "check-sysctls",
        Some(
            "validation error: Setting additional sysctls above the allowed type is disallowed. The field spec.securityContext.sysctls must be unset or not use any other names than kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies and net.ipv4.ping_group_range. rule check-sysctls failed at path /spec/securityContext/sysctls/0/name/",
        ),
    ),
    (
        "require-run-as-nonroot",
        "run-as-non-root",
        Some(
            "validation error: Running as root is not allowed. Either the field spec.securityContext.runAsNonRoot must be set to `true`, or the fields spec.containers[*].securityContext.runAsNonRoot, spec.initContainers[*].securityContext.runAsNonRoot, and spec.ephemeralContainers[*].securityContext.runAsNonRoot must be set to `true`. rule run-as-non-root[0] failed at path /spec/securityContext/runAsNonRoot/ rule run-as-non-root[1] failed at path /spec/containers/0/securityContext/",
        ),
    ),
    (
        "restrict-volume-types",
        "restricted-volumes",
        Some(
            "validation error: Only the following types of volumes may be used: configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, and secret. rule restricted-volumes failed at path /spec/volumes/0/hostPath/",
        ),
    ),
];

fn evaluation() -> Evaluation {
    let runs = RESULTS
        .iter()
        .map(|&(policy, rule, message)| {
            let status = if message.is_some() { RuleStatus::Fail } else { RuleStatus::Pass };
            let mut result = RuleResult::new(policy, rule, RuleKind::Validation, status, message.unwrap_or_default());
            result.action = FailureAction::Enforce;
            PolicyRun { policy: Arc::new(Named(policy)), results: vec![result], elapsed: Duration::ZERO }
        })
        .collect();
    Evaluation { runs, ..Evaluation::default() }
}

fn block_message(c: &mut Criterion) {
    let request = AdmissionRequest::for_object(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-7d4b9c", "namespace": "shop"},
               "spec": {"hostNetwork": true, "containers": [{"name": "web", "image": "nginx:1.27"}]}}),
        Operation::Create,
    );
    let eval = evaluation();
    assert_eq!(eval.runs.iter().filter(|run| run.results[0].status == RuleStatus::Fail).count(), 9);
    c.bench_function("blocked_message (9 pod-security failures)", |b| {
        b.iter(|| blocked_message(black_box(&request), black_box(&eval)))
    });
}

criterion_group!(benches, block_message);
criterion_main!(benches);
