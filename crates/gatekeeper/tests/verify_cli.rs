//! Builds and exercises the CLI's `verify` adapter (crates/cli/src/verify.rs) against suites
//! written to a temporary directory, so it is tested before (and after) the CLI wires it.

#[path = "../../cli/src/verify.rs"]
mod verify;

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: verify::VerifyArgs,
}

const TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8sdenyname}
spec:
  crd:
    spec:
      names: {kind: K8sDenyName}
      validation: {openAPIV3Schema: {type: object, properties: {name: {type: string}}}}
  targets:
  - target: admission.k8s.gatekeeper.sh
    code:
    - engine: K8sNativeValidation
      source:
        validations:
        - expression: 'variables.anyObject.metadata.name != variables.params.name'
          messageExpression: '"name " + variables.params.name + " is denied"'
    - engine: Rego
      source:
        rego: |
          package k8sdenyname
          violation[{"msg": msg}] {
            input.review.object.metadata.name == input.parameters.name
            msg := sprintf("name %v is denied", [input.parameters.name])
          }
"#;

const CONSTRAINT: &str = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sDenyName\nmetadata: {name: no-bad}\n\
spec:\n  match: {kinds: [{apiGroups: [\"\"], kinds: [\"Pod\"]}]}\n  parameters: {name: bad}\n";

fn suite(want_bad: &str) -> String {
    format!(
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\nmetadata: {{name: s}}\ntests:\n- name: deny-name\n  \
template: template.yaml\n  constraint: constraint.yaml\n  cases:\n  - name: good\n    object: good.yaml\n    \
assertions: [{{violations: no}}]\n  - name: bad\n    object: bad.yaml\n    assertions:\n    - violations: {want_bad}\n      \
message: denied\n"
    )
}

fn workspace(name: &str, want_bad: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-verify-{}-{name}", std::process::id()));
    let nested = dir.join("policies/denyname");
    std::fs::create_dir_all(&nested).unwrap();
    let pod = |n: &str| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}, namespace: default}}\n");
    for (file, text) in [
        ("template.yaml", TEMPLATE.to_string()),
        ("constraint.yaml", CONSTRAINT.to_string()),
        ("suite.yaml", suite(want_bad)),
        ("good.yaml", pod("good")),
        ("bad.yaml", pod("bad")),
    ] {
        std::fs::write(nested.join(file), text).unwrap();
    }
    std::fs::write(dir.join("unrelated.yaml"), "kind: ConfigMap\napiVersion: v1\n").unwrap();
    dir
}

fn run(args: &[&str]) -> i32 {
    let cli = Cli::try_parse_from(std::iter::once("verify").chain(args.iter().copied())).unwrap();
    verify::run(&cli.args).unwrap()
}

#[test]
fn exit_codes_follow_case_outcomes() {
    let cases = [("pass", "1", 0), ("fail", "2", 1), ("yes", "yes", 0)];
    for (name, want_bad, code) in cases {
        let dir = workspace(name, want_bad);
        let d = dir.to_str().unwrap();
        for format in ["table", "json", "junit"] {
            assert_eq!(run(&[d, "--output-format", format]), code, "{name} {format}");
        }
        assert_eq!(run(&[&format!("{d}/..."), "--enable-k8s-native-validation", "false"]), code, "{name} rego");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn bad_arguments_are_errors() {
    let dir = workspace("args", "1");
    let d = dir.to_str().unwrap();
    let cli = Cli::try_parse_from(["verify", d, "--output-format", "xml"]).unwrap();
    assert!(verify::run(&cli.args).is_err());
    let cli = Cli::try_parse_from(["verify", "/nonexistent/palisade/suites"]).unwrap();
    assert!(verify::run(&cli.args).is_err());
    assert_eq!(run(&[d, "--run", "no-such-test"]), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}
