//! Runs `palisade test` over the upstream Kyverno policy suite in `../shared/conformance`
//! and holds the pass counts to floors that only go up (see docs/conformance.md).

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// Floors for the JMESPath ClusterPolicy family; raise them as the engine improves.
const VALIDATE_PASS_FLOOR: usize = 1378;
const MUTATE_PASS_FLOOR: usize = 54;
const GENERATE_PASS_FLOOR: usize = 4;

fn suite() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kyverno-policies")
}

#[test]
fn kyverno_policy_suite_meets_its_floors() {
    let dir = suite();
    assert!(dir.is_dir(), "conformance data missing at {}: CI runs with ../shared beside the repo", dir.display());
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["test", "--output-format", "json"])
        .arg(&dir)
        .output()
        .expect("run palisade test");
    // Exit code 1 means some expectation failed; anything else is a crash or a usage error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "palisade test crashed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON records");
    let count = |family: &str, kind: &str, status: &str| {
        records.iter().filter(|r| r["family"] == family && r["kind"] == kind && r["status"] == status).count()
    };
    let validate_pass = count("jmespath", "validate", "pass");
    let validate_all = validate_pass + count("jmespath", "validate", "fail") + count("jmespath", "validate", "skip");
    let mutate_pass = count("jmespath", "mutate", "pass");
    let mutate_all = mutate_pass + count("jmespath", "mutate", "fail") + count("jmespath", "mutate", "skip");
    let generate_pass = count("jmespath", "generate", "pass");
    let family_all = records.iter().filter(|r| r["family"] == "jmespath").count();
    let family_pass = records.iter().filter(|r| r["family"] == "jmespath" && r["status"] == "pass").count();
    for r in records.iter().filter(|r| r["family"] == "jmespath" && r["status"] != "pass") {
        eprintln!(
            "miss: {} {} {} {} -> {}: {}",
            r["test_file"], r["policy"], r["rule"], r["resource"], r["status"], r["reason"]
        );
    }
    eprintln!(
        "JMESPath family: {family_pass}/{family_all} pass; validate {validate_pass}/{validate_all}; mutate {mutate_pass}/{mutate_all}"
    );
    assert!(
        validate_pass >= VALIDATE_PASS_FLOOR,
        "validate passes fell to {validate_pass} (floor {VALIDATE_PASS_FLOOR})"
    );
    assert!(mutate_pass >= MUTATE_PASS_FLOOR, "mutate passes fell to {mutate_pass} (floor {MUTATE_PASS_FLOOR})");
    assert!(
        generate_pass >= GENERATE_PASS_FLOOR,
        "generate passes fell to {generate_pass} (floor {GENERATE_PASS_FLOOR})"
    );
    assert!(family_pass * 100 >= family_all * 97, "JMESPath family below 97%: {family_pass}/{family_all}");
    // CEL families are reported as skipped with a reason, never as failures.
    let cel_not_skipped = records.iter().filter(|r| r["family"] != "jmespath" && r["status"] != "skip").count();
    assert_eq!(cel_not_skipped, 0, "CEL-family expectations must be reported as skipped");
    assert!(records.iter().filter(|r| r["family"] != "jmespath").all(|r| r["reason"] == "CEL not supported yet"));
}
