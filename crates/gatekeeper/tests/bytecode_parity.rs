//! Every Rego template of the upstream gatekeeper-library (shared/conformance, read-only), run
//! as regorus bytecode and on regorus' interpreter: over its suite's cases both must give the
//! same violations (messages and details); over every case object of the library too, apart
//! from conflicts (see `is_conflict`).

#[path = "common/library.rs"]
mod library;

use library::docs;
use palisade_gatekeeper::rego::{RegoProgram, Violation, to_rego};
use palisade_gatekeeper::{EnginePreference, EvalError, Inventory, Review, TemplateSpec, template::TemplateCode};
use serde_json::{Value, json};
use std::path::Path;

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

/// One library test: its template's Rego, its constraint's parameters, and its cases as
/// (object path, review, inventory).
struct LibraryTest {
    name: String,
    source: palisade_gatekeeper::template::RegoSource,
    params: regorus::Value,
    cases: Vec<(String, Review, Inventory)>,
}

fn load(root: &Path) -> Vec<LibraryTest> {
    let paths = library::suite_files(root);
    let mut out = Vec::new();
    for path in paths {
        let dir = path.parent().unwrap();
        for suite in docs(&path) {
            for test in suite.value.get("tests").and_then(Value::as_array).into_iter().flatten() {
                let file = |k: &str| dir.join(test.get(k).and_then(Value::as_str).unwrap_or_default());
                let Some(template) = docs(&file("template")).into_iter().next() else { continue };
                let Ok(spec) = TemplateSpec::parse(&template.value, EnginePreference::PreferRego) else { continue };
                let TemplateCode::Rego(source) = spec.code else { continue };
                let constraint = docs(&file("constraint")).into_iter().next().map(|d| d.value).unwrap_or_default();
                let params = to_rego(constraint.pointer("/spec/parameters").unwrap_or(&json!({})));
                let mut cases = Vec::new();
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
                    let name = rel(&case["object"]).display().to_string();
                    cases.push((name, review(&object.value), Inventory::from_objects(inventory.iter())));
                }
                out.push(LibraryTest { name: spec.name, source, params, cases });
            }
        }
    }
    out
}

/// Whether the interpreter's error is a conflict (a function or rule with two outputs), which
/// regorus' VM turns into an undefined value instead (a known difference).
fn is_conflict(result: &Result<Vec<(String, String)>, String>) -> bool {
    result.as_ref().is_err_and(|e| e.contains("multiple outputs") || e.contains("rule conflicts"))
}

/// Evaluates `cases` both ways under `test`'s template and parameters; returns the mismatches
/// other than conflicts, and the number of conflicts.
fn compare<'a>(
    test: &LibraryTest,
    cases: impl Iterator<Item = (&'a String, &'a Review, &'a Inventory)>,
) -> (Vec<String>, usize) {
    let vm = RegoProgram::compile(&test.name, &test.source).unwrap();
    let interpreted = RegoProgram::compile_interpreted(&test.name, &test.source).unwrap();
    assert!(vm.is_bytecode(), "{} does not compile to bytecode", test.name);
    let (mut mismatches, mut conflicts) = (Vec::new(), 0);
    for (name, r, inv) in cases {
        let got = sorted(vm.evaluate(r.rego(), &test.params, inv.rego()));
        let want = sorted(interpreted.evaluate(r.rego(), &test.params, inv.rego()));
        if got != want && is_conflict(&want) {
            conflicts += 1;
        } else if got != want {
            mismatches.push(format!("{} on {name}: bytecode {got:?}, interpreter {want:?}", test.name));
        }
    }
    (mismatches, conflicts)
}

#[test]
fn bytecode_matches_the_interpreter_on_the_library() {
    let Some(root) = library::root().map(|r| r.join("library")) else {
        eprintln!("gatekeeper-library not found beside the repository; skipping");
        return;
    };
    let tests = load(&root);
    let results: Vec<_> = tests.iter().map(|t| compare(t, t.cases.iter().map(|(n, r, i)| (n, r, i)))).collect();
    let cases: usize = tests.iter().map(|t| t.cases.len()).sum();
    println!("{} tests, {cases} cases compared", tests.len());
    assert!(cases >= 200, "only {cases} cases found");
    let mismatches: Vec<String> = results.iter().flat_map(|(m, _)| m.clone()).collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(results.iter().map(|(_, c)| c).sum::<usize>(), 0, "conflicts in the suites' own cases");
}

/// Every template (with each of its tests' parameters) against every case object of the
/// library, whatever its kind: far more paths than the suites' own cases. Conflicts (the
/// interpreter's error, the VM's undefined value) are counted, not failed.
#[test]
fn bytecode_matches_the_interpreter_across_the_library() {
    let Some(root) = library::root().map(|r| r.join("library")) else {
        eprintln!("gatekeeper-library not found beside the repository; skipping");
        return;
    };
    let tests = load(&root);
    let all: Vec<&(String, Review, Inventory)> = tests.iter().flat_map(|t| t.cases.iter()).collect();
    let results: Vec<_> = tests.iter().map(|t| compare(t, all.iter().map(|(n, r, i)| (n, r, i)))).collect();
    let conflicts: usize = results.iter().map(|(_, c)| c).sum();
    println!("{} tests × {} objects compared; {conflicts} conflicts (error vs undefined)", tests.len(), all.len());
    let mismatches: Vec<String> = results.into_iter().flat_map(|(m, _)| m).collect();
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Paths (as key lists) to every object key of `v`, containers included, array elements
/// addressed by index.
fn key_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(k.clone());
                out.push(prefix.clone());
                key_paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(i.to_string());
                key_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// `v` without the key at `path`.
fn without(v: &Value, path: &[String]) -> Value {
    let mut out = v.clone();
    let (last, parents) = path.split_last().unwrap();
    let mut node = &mut out;
    for p in parents {
        node = match node {
            Value::Array(items) => &mut items[p.parse::<usize>().unwrap()],
            other => &mut other[p.as_str()],
        };
    }
    if let Value::Object(map) = node {
        map.shift_remove(last);
    }
    out
}

/// Each template over its own cases' objects with any one field removed: the paths where a
/// policy meets undefined values.
#[test]
fn bytecode_matches_the_interpreter_with_fields_removed() {
    let Some(root) = library::root().map(|r| r.join("library")) else {
        eprintln!("gatekeeper-library not found beside the repository; skipping");
        return;
    };
    let tests = load(&root);
    let (mut variants, mut conflicts, mut mismatches) = (0, 0, Vec::new());
    for test in &tests {
        let mut cases = Vec::new();
        for (name, review, inventory) in &test.cases {
            let mut paths = Vec::new();
            key_paths(review.json(), &mut Vec::new(), &mut paths);
            for path in paths {
                let json = without(review.json(), &path);
                let Ok(r) = Review::from_admission_review(&json!({"request": json})) else { continue };
                cases.push((format!("{name} without {}", path.join(".")), r, inventory));
            }
        }
        variants += cases.len();
        let (m, c) = compare(test, cases.iter().map(|(n, r, i)| (n, r, *i)));
        mismatches.extend(m);
        conflicts += c;
    }
    println!("{variants} variants compared; {conflicts} conflicts (error vs undefined)");
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
}
