//! Log setup: `tracing` with an `EnvFilter` (`RUST_LOG` wins over `--log-level`), text or JSON lines.

use crate::args::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; does nothing when one is already installed (e.g. by the CLI or a test).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
