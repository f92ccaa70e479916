//! Starting and stopping the server: policy store, TLS, listeners, the file watcher, graceful shutdown.

use crate::args::{MetricsAddr, ServeArgs};
use crate::certs::{self, CertError};
use crate::http::{AppState, HandlerConfig, handle, handle_metrics};
use crate::listener::{ListenerConfig, accept_loop};
use crate::metrics::Metrics;
use crate::store::{PolicySource, PolicyStore};
use crate::tls::{ReloadingCert, TlsError, server_config};
use crate::{PolicyLoader, sample};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Generating the self-signed certificates failed.
    #[error(transparent)]
    Certs(#[from] CertError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing the sample request failed.
    #[error("{path}: cannot write: {source}")]
    Sample {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A started server; dropping it does not stop it: call [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    /// Bound address of the HTTPS listener.
    pub addr: SocketAddr,
    /// Bound address of the metrics listener, when separate.
    pub metrics_addr: Option<SocketAddr>,
    /// CA to trust when the server generated its own certificates.
    pub generated_ca: Option<PathBuf>,
    /// The sample AdmissionReview written to the data folder (when certificates are generated there).
    pub sample_review: Option<PathBuf>,
    /// The policy store (for status).
    pub store: Arc<PolicyStore>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The serving certificate (cluster mode replaces its files and reloads it).
    pub cert: Arc<ReloadingCert>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    watcher: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    grace: Duration,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish (up to the shutdown grace period) and returns
    /// whether every connection closed in time.
    pub async fn shutdown(mut self) -> bool {
        let _ = self.stop.send(true);
        if let Some((stop, thread)) = self.watcher.take() {
            let _ = stop.send(());
            // The watcher wakes up at once on the message; joining it does not block the runtime for long.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        let all = futures_join(std::mem::take(&mut self.tasks));
        match tokio::time::timeout(self.grace, all).await {
            Ok(()) => true,
            Err(_) => {
                tracing::warn!(grace = ?self.grace, "in-flight requests did not finish in time; exiting anyway");
                false
            }
        }
    }
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
}

/// Starts the server inside the current tokio runtime and returns once it is listening.
pub async fn start(
    args: &ServeArgs,
    loader: PolicyLoader,
    embedded: Vec<(String, String)>,
) -> Result<RunningServer, StartError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = Arc::new(Metrics::new(&args.metrics_drop_labels));
    let embedded_mode = args.policies.is_empty();
    let source = if args.cluster.enabled() {
        PolicySource::Cluster
    } else if embedded_mode {
        PolicySource::Embedded(embedded)
    } else {
        PolicySource::Paths(args.policies.clone())
    };
    let cluster_mode = matches!(source, PolicySource::Cluster);
    let store = Arc::new(PolicyStore::new(loader, source, args.namespaces.clone(), Arc::clone(&metrics)));
    if args.namespaces.is_none() && !cluster_mode {
        tracing::warn!("no --cluster-resources file: namespace labels are unknown; namespaceSelector sees no labels");
    }
    {
        let store = Arc::clone(&store);
        let _ = tokio::task::spawn_blocking(move || store.refresh()).await;
    }

    let data_dir = args.resolved_data_dir();
    let (cert, generated_ca) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (ReloadingCert::load(cert.clone(), key.clone())?, None),
        _ => {
            let (paths, fresh) = certs::ensure(&data_dir)?;
            let verb = if fresh { "generated" } else { "reusing" };
            tracing::info!(ca = %paths.ca.display(), "{verb} self-signed CA and serving certificate for 127.0.0.1/localhost");
            (ReloadingCert::load(paths.cert, paths.key)?, Some(paths.ca))
        }
    };
    let cert = Arc::new(cert);
    let tls = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(Arc::clone(&cert), args.client_ca.as_deref())?));

    // The sample goes beside the generated certificates (any policies; not with --tls-cert).
    let sample_review = if generated_ca.is_some() {
        let path = data_dir.join("sample-review.json");
        sample::write_sample_review(&path).map_err(|source| StartError::Sample { path: path.clone(), source })?;
        Some(path)
    } else {
        None
    };

    let listener = bind(args.addr).await?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: args.addr, source })?;
    let (stop, stop_rx) = watch::channel(false);
    let listener_config = ListenerConfig { read_timeout: args.read_timeout, max_connections: args.max_connections };
    let state = Arc::new(AppState {
        store: Arc::clone(&store),
        metrics: Arc::clone(&metrics),
        config: HandlerConfig {
            default_timeout: args.default_timeout,
            budget_fraction: args.budget_fraction,
            read_timeout: args.read_timeout,
            max_body_bytes: args.max_body_bytes,
            metrics_on_main: args.metrics_addr == MetricsAddr::Main,
        },
        placement: Arc::new(match args.max_threaded_evaluations {
            Some(limit) => crate::admission::Placement::with_limit(args.inline_threshold, limit as usize),
            None => crate::admission::Placement::new(args.inline_threshold),
        }),
    });
    let mut tasks = Vec::new();
    let mut metrics_addr = None;
    if let MetricsAddr::Separate(wanted) = args.metrics_addr {
        let metrics_listener = bind(wanted).await?;
        metrics_addr = Some(metrics_listener.local_addr().map_err(|source| StartError::Bind { addr: wanted, source })?);
        let metrics_for_handler = Arc::clone(&metrics);
        let handler = move |request| handle_metrics(Arc::clone(&metrics_for_handler), request);
        tasks.push(tokio::spawn(accept_loop(
            metrics_listener,
            None,
            handler,
            listener_config.clone(),
            stop_rx.clone(),
        )));
    }
    let handler = move |request| handle(Arc::clone(&state), request);
    tasks.push(tokio::spawn(accept_loop(listener, Some(tls), handler, listener_config, stop_rx)));

    let watcher = spawn_watcher(args, &store, &cert, &metrics, embedded_mode || cluster_mode);
    tracing::info!(%addr, metrics = ?metrics_addr, "palisade admission webhook listening");
    Ok(RunningServer {
        addr,
        metrics_addr,
        generated_ca,
        sample_review,
        store,
        metrics,
        cert,
        stop,
        tasks,
        watcher,
        grace: args.shutdown_grace,
    })
}

/// Polls the policy folders, the namespaces file and the certificate files on a thread of its own.
fn spawn_watcher(
    args: &ServeArgs,
    store: &Arc<PolicyStore>,
    cert: &Arc<ReloadingCert>,
    metrics: &Arc<Metrics>,
    embedded_mode: bool,
) -> Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)> {
    let watch_policies = !embedded_mode || store.has_namespaces();
    let watch_cert = args.tls_cert.is_some();
    if !watch_policies && !watch_cert {
        return None;
    }
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let (store, cert, metrics, interval) =
        (Arc::clone(store), Arc::clone(cert), Arc::clone(metrics), args.reload_interval);
    let thread = std::thread::Builder::new().name("palisade-watch".into()).spawn(move || {
        let mut last_cert_error = String::new();
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
            if watch_policies {
                store.refresh();
            }
            if watch_cert {
                match cert.reload_if_changed() {
                    Ok(false) => {}
                    Ok(true) => {
                        last_cert_error.clear();
                        metrics.record_certificate_reload(true);
                        tracing::info!(cert = %cert.paths().0.display(), "serving certificate reloaded");
                    }
                    Err(e) => {
                        let message = e.to_string();
                        if message != last_cert_error {
                            metrics.record_certificate_reload(false);
                            tracing::error!(error = %message, "serving certificate not reloaded; the previous one stays in use");
                            last_cert_error = message;
                        }
                    }
                }
            }
        }
    });
    match thread {
        Ok(thread) => Some((stop, thread)),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the file watcher; files will not be reloaded");
            None
        }
    }
}
