//! Per-control pass/fail table: restricted controls, Windows exemptions and levels.

use super::tests_controls::{Case, at, case};
use serde_json::json;

/// Restricted rows.
pub(super) fn cases() -> Vec<Case> {
    let none = json!({});
    vec![
        // Volume Types
        case(
            "allowed volumes",
            "restricted",
            json!({"volumes": [{"name": "a", "configMap": {"name": "x"}}, {"name": "b", "persistentVolumeClaim": {"claimName": "c"}}]}),
            none.clone(),
            None,
        ),
        case(
            "nfs volume",
            "restricted",
            json!({"volumes": [{"name": "a", "secret": {}}, {"name": "b", "nfs": {"server": "s", "path": "/"}}]}),
            none.clone(),
            Some("(Forbidden reason: restricted volume types, field error list: [spec.volumes[1].nfs: Forbidden])"),
        ),
        case(
            "nfs volume at baseline",
            "baseline",
            json!({"volumes": [{"name": "b", "nfs": {"server": "s", "path": "/"}}]}),
            none.clone(),
            None,
        ),
        // Privilege Escalation
        case(
            "privilege escalation unset",
            "restricted",
            none.clone(),
            json!({"securityContext": {"allowPrivilegeEscalation": null}}),
            Some(
                "(Forbidden reason: allowPrivilegeEscalation != false, field error list: [spec.containers[0].securityContext.allowPrivilegeEscalation is forbidden, forbidden values found: nil])",
            ),
        ),
        case(
            "privilege escalation true",
            "restricted",
            none.clone(),
            json!({"securityContext": {"allowPrivilegeEscalation": true}}),
            Some("allowPrivilegeEscalation is forbidden, forbidden values found: true"),
        ),
        // Running as Non-root
        case(
            "non-root at pod level",
            "restricted",
            json!({"securityContext": {"runAsNonRoot": true}}),
            json!({"securityContext": {"runAsNonRoot": null}}),
            None,
        ),
        case(
            "non-root false",
            "restricted",
            json!({"securityContext": {"runAsNonRoot": false}}),
            json!({"securityContext": {"runAsNonRoot": null}}),
            Some(
                "(Forbidden reason: runAsNonRoot != true, field error list: [spec.securityContext.runAsNonRoot is forbidden, forbidden values found: false, spec.containers[0].securityContext.runAsNonRoot: Required value])",
            ),
        ),
        // Running as Non-root user
        case("runAsUser 1000", "restricted", json!({"securityContext": {"runAsUser": 1000}}), none.clone(), None),
        case(
            "runAsUser 0",
            "restricted",
            none.clone(),
            json!({"securityContext": {"runAsUser": 0}}),
            Some(
                "(Forbidden reason: runAsUser=0, field error list: [spec.containers[0].securityContext.runAsUser is forbidden, forbidden values found: 0])",
            ),
        ),
        case(
            "runAsUser 0 in user namespace",
            "restricted",
            json!({"hostUsers": false}),
            json!({"securityContext": {"runAsUser": 0}}),
            None,
        ),
        at(
            case(
                "runAsUser before 1.23",
                "restricted",
                none.clone(),
                json!({"securityContext": {"runAsUser": 0}}),
                None,
            ),
            "v1.22",
        ),
        // Windows exemptions from 1.25
        case(
            "windows pod without restricted fields",
            "restricted",
            json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}}),
            json!({"securityContext": null}),
            None,
        ),
        at(
            case(
                "windows pod before 1.25",
                "restricted",
                json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true}}),
                json!({"securityContext": null}),
                Some("allowPrivilegeEscalation: Required value"),
            ),
            "v1.24",
        ),
        // Levels
        case(
            "privileged level allows anything",
            "privileged",
            json!({"hostPID": true}),
            json!({"securityContext": {"privileged": true}}),
            None,
        ),
    ]
}
