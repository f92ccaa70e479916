//! `palisade`: a Kubernetes admission policy engine. Runs Kyverno policies and Gatekeeper
//! templates offline (`apply`, `test`, `verify`, `jp`) and as an admission webhook (`serve`).

mod apply;
mod files;
mod jp;
mod kyverno_test;
mod policies;
mod report;
mod run;
mod values;
mod verify;

/// mimalloc: the admission path allocates many small JSON values; glibc malloc costs about twice as much
/// per request here (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about = "Kubernetes admission policy engine: Kyverno and Gatekeeper policies, offline and as a webhook"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Applies policies to resources and prints the results.
    Apply(apply::ApplyArgs),
    /// Runs Kyverno CLI test files (kyverno-test.yaml).
    Test(TestArgs),
    /// JMESPath with Kyverno's functions.
    Jp(jp::JpArgs),
    /// Runs Gatekeeper `gator verify` suites.
    Verify(verify::VerifyArgs),
    /// Serves policies as a validating and mutating admission webhook (HTTPS).
    Serve(Box<ServeCommand>),
    /// Prints the CustomResourceDefinitions Palisade serves (for `kubectl apply -f -`).
    Crds,
    /// Turns the registered webhooks to failurePolicy Ignore (or deletes them) before Palisade is removed.
    Uninstall(palisade_controller::uninstall::UninstallArgs),
}

/// `palisade serve` arguments: the server's, and how Gatekeeper Rego is evaluated.
#[derive(Debug, Clone, Args)]
struct ServeCommand {
    #[command(flatten)]
    server: palisade_server::ServeArgs,
    /// How Gatekeeper Rego is evaluated: bytecode (regorus' VM, fast) or interpreter (OPA's error semantics).
    #[arg(long, default_value = "bytecode")]
    rego_engine: palisade_gatekeeper::RegoEngine,
}

/// `palisade test` arguments.
#[derive(Debug, Args)]
struct TestArgs {
    /// Directories or test files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format: table, json or junit.
    #[arg(short, long, default_value = "table")]
    output_format: String,
    /// Print only failing expectations.
    #[arg(long)]
    fail_only: bool,
    /// Print expected and actual results in the reason column.
    #[arg(long)]
    detailed_results: bool,
    /// Run only expectations matching `policy=NAME,rule=NAME,resource=NAME` (any subset).
    #[arg(long)]
    test_case_selector: Option<String>,
}

fn selector_matches(selector: &str, record: &kyverno_test::Record) -> bool {
    selector.split(',').filter(|s| !s.trim().is_empty()).all(|part| match part.split_once('=') {
        Some(("policy", v)) => record.policy == v.trim(),
        Some(("rule", v)) => record.rule == v.trim(),
        Some(("resource", v)) => record.resource.ends_with(&format!("/{}", v.trim())),
        _ => true,
    })
}

fn run_tests(args: &TestArgs) -> Result<i32> {
    let files = kyverno_test::find_test_files(&args.paths)?;
    if files.is_empty() {
        anyhow::bail!("no kyverno-test.yaml found under the given paths");
    }
    let progress = std::io::stderr().is_terminal() && args.output_format == "table";
    let mut records = Vec::new();
    for (i, file) in files.iter().enumerate() {
        if progress {
            eprint!("\r\x1b[2K[{}/{}] {}", i + 1, files.len(), file.display());
        }
        records.extend(kyverno_test::run_test_file(file));
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    if let Some(sel) = &args.test_case_selector {
        records.retain(|r| selector_matches(sel, r));
    }
    let (passed, failed, skipped) = report::counts(&records);
    let shown: Vec<_> = if args.fail_only {
        records.iter().filter(|r| r.status == kyverno_test::CheckStatus::Fail).cloned().collect()
    } else {
        records.clone()
    };
    match args.output_format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&shown)?),
        "junit" => print!("{}", report::junit(&shown)),
        "table" => {
            print!("{}", report::table(&shown, args.detailed_results));
            println!(
                "\nTest Summary: {passed} tests passed, {failed} tests failed and {skipped} tests skipped ({} test files)",
                files.len()
            );
        }
        other => anyhow::bail!("unknown output format {other:?} (table, json or junit)"),
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The bundled example policies, compiled into the binary for `palisade serve` with no `--policies`.
const EMBEDDED_POLICIES: [(&str, &str); 3] = [
    (
        "examples/policies/disallow-privileged-containers.yaml",
        include_str!("../../../examples/policies/disallow-privileged-containers.yaml"),
    ),
    ("examples/policies/require-team-label.yaml", include_str!("../../../examples/policies/require-team-label.yaml")),
    ("examples/policies/run-pod-using-kata.yaml", include_str!("../../../examples/policies/run-pod-using-kata.yaml")),
];

fn serve(command: ServeCommand) -> Result<i32> {
    let (args, rego) = (command.server, command.rego_engine);
    let loader: palisade_server::PolicyLoader =
        std::sync::Arc::new(move |sources| policies::LoadedPolicies::load_sources(sources, rego));
    if args.cluster.enabled() {
        palisade_controller::serve::run(args, loader)?;
        return Ok(0);
    }
    let embedded = EMBEDDED_POLICIES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    palisade_server::run(args, loader, embedded)?;
    Ok(0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Apply(args) => apply::run(args),
        Command::Test(args) => run_tests(args),
        Command::Jp(args) => jp::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Serve(args) => serve(args.as_ref().clone()),
        Command::Uninstall(args) => palisade_controller::uninstall::run(args).map(|done| {
            println!("palisade: {done}");
            0
        }),
        Command::Crds => {
            print!("{}", palisade_controller::crds_yaml());
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
