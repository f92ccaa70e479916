//! Renders suite results as a table with a summary, as JSON, or as JUnit XML.

use crate::suite::{Outcome, SuiteResult};
use std::fmt::Write;

/// Counts over a set of suite results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Suites run.
    pub suites: usize,
    /// Tests run.
    pub tests: usize,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed, plus tests and suites that errored.
    pub failed: usize,
    /// Cases, tests and suites skipped.
    pub skipped: usize,
}

/// Counts passes, failures and skips.
pub fn summarize(results: &[SuiteResult]) -> Summary {
    let mut s = Summary { suites: results.len(), ..Summary::default() };
    for suite in results {
        s.failed += usize::from(suite.error.is_some());
        s.skipped += usize::from(suite.skipped);
        for test in &suite.tests {
            s.tests += 1;
            s.failed += usize::from(test.error.is_some());
            s.skipped += usize::from(test.skipped);
            for case in &test.cases {
                match case.outcome {
                    Outcome::Pass => s.passed += 1,
                    Outcome::Fail => s.failed += 1,
                    Outcome::Skip => s.skipped += 1,
                }
            }
        }
    }
    s
}

/// One line per case (`PASS`/`FAIL`/`SKIP`, suite, test/case, reason), then a summary line.
pub fn table(results: &[SuiteResult]) -> String {
    let mut out = String::new();
    for suite in results {
        if let Some(e) = &suite.error {
            let _ = writeln!(out, "FAIL  {}  {}", suite.path, e);
        }
        if suite.skipped {
            let _ = writeln!(out, "SKIP  {}", suite.path);
        }
        for test in &suite.tests {
            if let Some(e) = &test.error {
                let _ = writeln!(out, "FAIL  {}  {}: {}", suite.path, test.name, e);
            }
            if test.skipped {
                let _ = writeln!(out, "SKIP  {}  {}", suite.path, test.name);
            }
            for case in &test.cases {
                let tag = match case.outcome {
                    Outcome::Pass => "PASS",
                    Outcome::Fail => "FAIL",
                    Outcome::Skip => "SKIP",
                };
                let _ = write!(out, "{tag}  {}  {}/{}", suite.path, test.name, case.name);
                if let Some(r) = &case.reason {
                    let _ = write!(out, ": {r}");
                }
                out.push('\n');
            }
        }
    }
    let s = summarize(results);
    let _ = writeln!(out, "\n{} suites, {} tests", s.suites, s.tests);
    let _ = writeln!(out, "{} passed, {} failed, {} skipped", s.passed, s.failed, s.skipped);
    out
}

/// The results and summary as pretty JSON.
pub fn json(results: &[SuiteResult]) -> String {
    let doc = serde_json::json!({"summary": summarize(results), "suites": results});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per suite file, one `<testcase>` per case (`classname` is the
/// test name); test-level errors become a failed `<testcase>` named after the test.
pub fn junit(results: &[SuiteResult]) -> String {
    let s = summarize(results);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
        s.passed + s.failed + s.skipped,
        s.failed,
        s.skipped
    );
    for suite in results {
        let one = summarize(std::slice::from_ref(suite));
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
            xml_escape(&suite.path),
            one.passed + one.failed + one.skipped,
            one.failed,
            one.skipped
        );
        if let Some(e) = &suite.error {
            let _ = writeln!(
                out,
                "    <testcase name=\"{0}\"><failure message=\"{1}\">{1}</failure></testcase>",
                xml_escape(&suite.path),
                xml_escape(e)
            );
        }
        for test in &suite.tests {
            let class = xml_escape(&test.name);
            if let Some(e) = &test.error {
                let _ = writeln!(
                    out,
                    "    <testcase classname=\"{class}\" name=\"{class}\"><failure message=\"{0}\">{0}</failure></testcase>",
                    xml_escape(e)
                );
            }
            for case in &test.cases {
                let name = xml_escape(&case.name);
                let time = case.millis / 1000.0;
                match case.outcome {
                    Outcome::Pass => {
                        let _ =
                            writeln!(out, "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{time:.6}\"/>");
                    }
                    Outcome::Skip => {
                        let _ =
                            writeln!(out, "    <testcase classname=\"{class}\" name=\"{name}\"><skipped/></testcase>");
                    }
                    Outcome::Fail => {
                        let reason = xml_escape(case.reason.as_deref().unwrap_or_default());
                        let _ = writeln!(
                            out,
                            "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{time:.6}\"><failure message=\"{reason}\">{reason}</failure></testcase>"
                        );
                    }
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{CaseResult, TestResult};

    fn results() -> Vec<SuiteResult> {
        let case = |name: &str, outcome, reason: Option<&str>| CaseResult {
            name: name.into(),
            outcome,
            reason: reason.map(String::from),
            messages: vec![],
            millis: 1.0,
        };
        vec![SuiteResult {
            path: "s/suite.yaml".into(),
            name: "s".into(),
            error: None,
            skipped: false,
            tests: vec![
                TestResult {
                    name: "t".into(),
                    error: None,
                    skipped: false,
                    engine: Some("Rego".into()),
                    cases: vec![case("ok", Outcome::Pass, None), case("bad<1>", Outcome::Fail, Some("got 0 & want 1"))],
                },
                TestResult {
                    name: "broken".into(),
                    error: Some("no template".into()),
                    skipped: false,
                    engine: None,
                    cases: vec![],
                },
            ],
        }]
    }

    #[test]
    fn summary_counts() {
        assert_eq!(summarize(&results()), Summary { suites: 1, tests: 2, passed: 1, failed: 2, skipped: 0 });
    }

    #[test]
    fn renderings() {
        let r = results();
        let t = table(&r);
        assert!(t.contains("FAIL  s/suite.yaml  t/bad<1>: got 0 & want 1"), "{t}");
        assert!(t.ends_with("1 passed, 2 failed, 0 skipped\n"), "{t}");
        let j: serde_json::Value = serde_json::from_str(&json(&r)).unwrap();
        assert_eq!(j["summary"]["failed"], 2);
        let x = junit(&r);
        assert!(x.contains("name=\"bad&lt;1&gt;\"") && x.contains("got 0 &amp; want 1"), "{x}");
        assert!(x.contains("failures=\"2\""), "{x}");
    }
}
