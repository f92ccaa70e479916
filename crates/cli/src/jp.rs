//! `palisade jp`: JMESPath with Kyverno's functions, from the command line.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::PathBuf;

/// `palisade jp` arguments.
#[derive(Debug, Args)]
pub struct JpArgs {
    #[command(subcommand)]
    command: JpCommand,
}

#[derive(Debug, Subcommand)]
enum JpCommand {
    /// Evaluates an expression against a JSON or YAML input (stdin by default).
    Query {
        /// The expression.
        expression: String,
        /// Input file (JSON or YAML).
        #[arg(short, long)]
        input: Option<PathBuf>,
    },
    /// Lists functions with their signature and description.
    Function {
        /// Show only this function.
        name: Option<String>,
    },
}

/// Runs `palisade jp`.
pub fn run(args: &JpArgs) -> Result<i32> {
    match &args.command {
        JpCommand::Query { expression, input } => {
            let text = match input {
                Some(p) => std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?,
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).context("cannot read standard input")?;
                    s
                }
            };
            let source = input.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "<stdin>".into());
            let docs = palisade_engine::parse_documents(&source, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
            let data = docs.into_iter().next().map(|d| d.value).unwrap_or(serde_json::Value::Null);
            let expr =
                palisade_jmespath::compile(expression).map_err(|e| anyhow::anyhow!("invalid expression: {e}"))?;
            let result = expr.search(&data).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(0)
        }
        JpCommand::Function { name } => {
            let mut found = false;
            for f in palisade_jmespath::functions() {
                if name.as_ref().is_some_and(|n| n != f.name) {
                    continue;
                }
                found = true;
                println!("Name: {}\n  Signature: {}\n  Description: {}\n", f.name, f.signature, f.description);
            }
            if !found {
                anyhow::bail!("unknown function {:?}", name.as_deref().unwrap_or_default());
            }
            Ok(0)
        }
    }
}
