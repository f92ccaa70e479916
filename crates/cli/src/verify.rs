//! `palisade verify`: runs Gatekeeper `gator verify` suites. This is a thin adapter: it finds
//! suite files, reads files for the runner in `palisade_gatekeeper::suite` and prints a report.

use anyhow::Context as _;
use palisade_gatekeeper::EnginePreference;
use palisade_gatekeeper::report;
use palisade_gatekeeper::suite::{SuiteOptions, SuiteResult, contains_suite, run_suite_file};
use std::path::{Path, PathBuf};

/// Arguments of `palisade verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Suite files or directories (searched recursively; a trailing `/...` is accepted, as in gator).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format: table, json or junit.
    #[arg(long, default_value = "table")]
    pub output_format: String,
    /// Only run tests or cases whose name (`test`, `case` or `test/case`) matches this regex.
    #[arg(long)]
    pub run: Option<String>,
    /// Evaluate `K8sNativeValidation` (CEL) code when a template ships it (gator's default).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub enable_k8s_native_validation: bool,
    /// How Rego is evaluated: bytecode (regorus' VM, fast) or interpreter (OPA's error semantics).
    #[arg(long, default_value = "bytecode")]
    pub rego_engine: palisade_gatekeeper::RegoEngine,
}

/// Runs the suites and prints the report; returns the exit code (1 when anything failed).
pub fn run(args: &VerifyArgs) -> anyhow::Result<i32> {
    let format = args.output_format.as_str();
    if !matches!(format, "table" | "json" | "junit") {
        anyhow::bail!("unknown --output-format {format:?}: expected table, json or junit");
    }
    let engine =
        if args.enable_k8s_native_validation { EnginePreference::Gatekeeper } else { EnginePreference::PreferRego };
    let mut options = SuiteOptions::new(engine, args.run.as_deref()).context("invalid --run regex")?;
    options.rego = args.rego_engine;
    let mut files = Vec::new();
    for path in &args.paths {
        let trimmed = path.to_str().and_then(|p| p.strip_suffix("/...")).map(PathBuf::from);
        let path = trimmed.as_deref().unwrap_or(path);
        if path.is_dir() {
            find_files(path, &mut files).with_context(|| format!("reading {}", path.display()))?;
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut results: Vec<SuiteResult> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        if !contains_suite(&text) {
            continue;
        }
        results.extend(run_suite_file(&file, &text, &read, &options));
    }
    let output = match format {
        "json" => report::json(&results),
        "junit" => report::junit(&results),
        _ => report::table(&results),
    };
    print!("{output}");
    Ok(if results.iter().any(SuiteResult::failed) { 1 } else { 0 })
}

/// Collects `.yaml`, `.yml` and `.json` files under `dir`, sorted, recursively.
fn find_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            find_files(&path, out)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    Ok(())
}
