//! Printing `palisade test` records as a table, JSON or JUnit XML.

use crate::kyverno_test::{CheckStatus, Record};
use std::fmt::Write;

/// Counts of passed, failed and skipped records.
pub fn counts(records: &[Record]) -> (usize, usize, usize) {
    records.iter().fold((0, 0, 0), |(p, f, s), r| match r.status {
        CheckStatus::Pass => (p + 1, f, s),
        CheckStatus::Fail => (p, f + 1, s),
        CheckStatus::Skip => (p, f, s + 1),
    })
}

/// A fixed-width table with ID, POLICY, RULE, RESOURCE, RESULT and REASON.
pub fn table(records: &[Record], detailed: bool) -> String {
    let rows: Vec<[String; 6]> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let result = match r.status {
                CheckStatus::Pass => "Pass".to_string(),
                CheckStatus::Fail => "Fail".to_string(),
                CheckStatus::Skip => "Skip".to_string(),
            };
            let mut reason = match r.status {
                CheckStatus::Pass => "Ok".to_string(),
                _ if detailed => format!("want {}, got {}: {}", r.expected, r.actual, r.reason),
                _ => r.reason.clone(),
            };
            if reason.len() > 160 && !detailed {
                reason.truncate(157);
                reason.push_str("...");
            }
            [(i + 1).to_string(), r.policy.clone(), r.rule.clone(), r.resource.clone(), result, reason]
        })
        .collect();
    let header = ["ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(5) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 6], out: &mut String| {
        let _ = writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        );
    };
    line(header, &mut out);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]], &mut out);
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// JUnit XML: one testsuite per test file, one testcase per expectation.
pub fn junit(records: &[Record]) -> String {
    let (passed, failed, skipped) = counts(records);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"palisade test\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">",
        passed + failed + skipped
    );
    let mut files: Vec<&str> = records.iter().map(|r| r.test_file.as_str()).collect();
    files.dedup();
    for file in files {
        let in_file: Vec<&Record> = records.iter().filter(|r| r.test_file == file).collect();
        let fails = in_file.iter().filter(|r| r.status == CheckStatus::Fail).count();
        let skips = in_file.iter().filter(|r| r.status == CheckStatus::Skip).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" skipped=\"{skips}\">",
            xml_escape(file),
            in_file.len()
        );
        for r in in_file {
            let name = xml_escape(&format!("{}/{}/{}", r.policy, r.rule, r.resource));
            let _ = write!(out, "    <testcase classname=\"{}\" name=\"{name}\"", xml_escape(&r.policy));
            match r.status {
                CheckStatus::Pass => out.push_str("/>\n"),
                CheckStatus::Fail => {
                    let _ = writeln!(
                        out,
                        "><failure message=\"expected {}, got {}\">{}</failure></testcase>",
                        xml_escape(&r.expected),
                        xml_escape(&r.actual),
                        xml_escape(&r.reason)
                    );
                }
                CheckStatus::Skip => {
                    let _ = writeln!(out, "><skipped message=\"{}\"/></testcase>", xml_escape(&r.reason));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
