//! Every Rego template of the upstream gatekeeper-library (shared/conformance, read-only), run
//! as regorus bytecode and on regorus' interpreter over every case of its suite: both must give
//! the same violations (messages and details), matched by the constraint or not.

use palisade_engine::{Document, parse_documents};
use palisade_gatekeeper::rego::{RegoProgram, Violation, to_rego};
use palisade_gatekeeper::{EnginePreference, EvalError, Inventory, Review, TemplateSpec, template::TemplateCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn library() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/gatekeeper-library/library");
    dir.is_dir().then_some(dir)
}

fn suites(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            suites(&p, out);
        } else if p.file_name().is_some_and(|n| n == "suite.yaml") {
            out.push(p);
        }
    }
}

fn docs(path: &Path) -> Vec<Document> {
    parse_documents(&path.display().to_string(), &std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

fn review(object: &Value) -> Review {
    if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        Review::from_admission_review(object).unwrap_or_else(|_| Review::from_object(object))
    } else {
        Review::from_object(object)
    }
}

/// Violations in a stable order, or the error text.
fn sorted(result: Result<Vec<Violation>, EvalError>) -> Result<Vec<(String, String)>, String> {
    let mut v: Vec<(String, String)> =
        result.map_err(|e| e.to_string())?.into_iter().map(|v| (v.msg, v.details.to_string())).collect();
    v.sort();
    Ok(v)
}

#[test]
fn bytecode_matches_the_interpreter_on_the_library() {
    let Some(root) = library() else {
        eprintln!("gatekeeper-library not found beside the repository; skipping");
        return;
    };
    let mut paths = Vec::new();
    suites(&root, &mut paths);
    let (mut templates, mut bytecode, mut cases, mut mismatches) = (0, 0, 0, Vec::new());
    for path in paths {
        let dir = path.parent().unwrap();
        for suite in docs(&path) {
            for test in suite.value.get("tests").and_then(Value::as_array).into_iter().flatten() {
                let file = |k: &str| dir.join(test.get(k).and_then(Value::as_str).unwrap_or_default());
                let Some(template) = docs(&file("template")).into_iter().next() else { continue };
                let Ok(spec) = TemplateSpec::parse(&template.value, EnginePreference::PreferRego) else { continue };
                let TemplateCode::Rego(source) = &spec.code else { continue };
                let vm = RegoProgram::compile(&spec.name, source).unwrap();
                let interpreted = RegoProgram::compile_interpreted(&spec.name, source).unwrap();
                templates += 1;
                bytecode += usize::from(vm.is_bytecode());
                let constraint = docs(&file("constraint")).into_iter().next().map(|d| d.value).unwrap_or_default();
                let params = to_rego(constraint.pointer("/spec/parameters").unwrap_or(&json!({})));
                for case in test.get("cases").and_then(Value::as_array).into_iter().flatten() {
                    let rel = |v: &Value| dir.join(v.as_str().unwrap_or_default());
                    let Some(object) = docs(&rel(&case["object"])).into_iter().next() else { continue };
                    let inventory: Vec<Value> = case
                        .get("inventory")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .flat_map(|p| docs(&rel(p)).into_iter().map(|d| d.value))
                        .collect();
                    let (r, inv) = (review(&object.value), Inventory::from_objects(inventory.iter()));
                    let got = sorted(vm.evaluate(r.rego(), &params, inv.rego()));
                    let want = sorted(interpreted.evaluate(r.rego(), &params, inv.rego()));
                    cases += 1;
                    if got != want {
                        mismatches.push(format!(
                            "{}: bytecode {got:?}, interpreter {want:?}",
                            rel(&case["object"]).display()
                        ));
                    }
                }
            }
        }
    }
    println!("{templates} templates ({bytecode} as bytecode), {cases} cases compared");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(bytecode * 10 >= templates * 9, "only {bytecode} of {templates} templates compile to bytecode");
}
