//! Palisade's admission webhook server (`palisade serve`): HTTPS with rustls (ring, TLS 1.2/1.3),
//! `/validate`, `/mutate`, `/healthz`, `/readyz` and `/metrics`, policy and certificate hot reload,
//! per-request deadlines that follow each policy's failure policy, and Kyverno-compatible metrics.
//!
//! The CLI calls [`run`]; tests and embedders call [`start`] inside their own runtime.

pub mod admission;
pub mod args;
pub mod certs;
pub mod decision;
pub mod duration;
pub mod evaluate;
pub mod http;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod review;
pub mod sample;
pub mod series;
pub mod server;
pub mod store;
pub mod tls;
mod yaml;

pub use args::{ClusterArgs, DropLabel, LogFormat, MetricsAddr, ServeArgs};
pub use server::{RunningServer, StartError, start};

use anyhow::Context as _;

/// Parses policy manifests into a PolicySet; given (source name, text) pairs; returns all errors (already
/// formatted with file/line) on failure.
pub type PolicyLoader =
    std::sync::Arc<dyn Fn(&[(String, String)]) -> Result<palisade_engine::PolicySet, Vec<String>> + Send + Sync>;

/// Runs the server until SIGTERM/SIGINT; `embedded` are the bundled example policies used when no
/// `--policies` is given. Builds its own tokio runtime.
pub fn run(args: ServeArgs, loader: PolicyLoader, embedded: Vec<(String, String)>) -> anyhow::Result<()> {
    logging::init(args.log_format, &args.log_level);
    let runtime = build_runtime(&args).context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Listen for signals before serving, so a SIGTERM right after startup is never missed.
        let signal = shutdown_signal()?;
        let server = start(&args, loader, embedded).await?;
        print_banner(&server, &args);
        signal.await;
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        if server.shutdown().await {
            tracing::info!("shut down cleanly");
        }
        Ok(())
    })
}

/// The multi-threaded tokio runtime `palisade serve` runs on (`--workers` threads).
pub fn build_runtime(args: &ServeArgs) -> std::io::Result<tokio::runtime::Runtime> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("palisade-worker");
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers.max(1));
    }
    runtime.build()
}

/// Prints where the server listens, its readiness and a sample `curl` command.
pub fn print_banner(server: &RunningServer, args: &ServeArgs) {
    let (ready, detail) = server.store.readiness();
    println!("palisade: admission webhook on {}", sample::local_url(server.addr, ""));
    if let Some(addr) = server.metrics_addr {
        println!("palisade: metrics on http://{addr}/metrics");
    }
    println!("palisade: {}", detail.lines().next().unwrap_or_default());
    if !ready {
        println!("palisade: not ready; see {}", sample::local_url(server.addr, "/readyz"));
    }
    let ca = match &server.generated_ca {
        Some(ca) => {
            println!("palisade: CA certificate (trust it to call the webhook): {}", ca.display());
            ca.display().to_string()
        }
        None => "YOUR-CA.crt".to_string(),
    };
    let review = match &server.sample_review {
        Some(path) => path.display().to_string(),
        None => "REVIEW.json".to_string(),
    };
    println!("palisade: try it:");
    println!("  {}", sample::curl_command(server.addr, &ca, &review, args.client_ca.is_some()));
}

/// Resolves on SIGTERM or SIGINT; the handlers are installed when this is called.
#[cfg(unix)]
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    })
}
