//! Command-line flags of `palisade serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `palisade serve`; every flag has a default so that no argument serves the embedded policies.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address of the HTTPS admission endpoint (`/validate`, `/mutate`, `/healthz`, `/readyz`).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub addr: SocketAddr,

    /// Address of the plain-HTTP metrics endpoint (`/metrics`); `none` serves `/metrics` on the HTTPS port instead.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR|none", value_parser = parse_metrics_addr)]
    pub metrics_addr: MetricsAddr,

    /// Folder (or file) of policy manifests, watched for changes; repeatable. Without it the embedded
    /// example policies are served.
    #[arg(long = "policies", value_name = "DIR")]
    pub policies: Vec<PathBuf>,

    /// PEM serving certificate chain (reloaded when the file changes); needs `--tls-key`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of the serving certificate (reloaded when the file changes); needs `--tls-cert`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA bundle: when given, clients must present a certificate signed by it (mTLS).
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,

    /// Cluster objects (Namespaces for `namespaceSelector`, RuntimeClasses, ConfigMaps) the
    /// policies may read, from one manifest file (reloaded when the file changes).
    #[arg(long = "cluster-resources", alias = "namespaces", value_name = "FILE")]
    pub namespaces: Option<PathBuf>,

    /// Folder for the generated CA, serving certificate and sample request
    /// [default: `$XDG_DATA_HOME/palisade` when XDG_DATA_HOME is set, else `.palisade`].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    #[arg(long, default_value = "info", value_name = "FILTER")]
    pub log_level: String,

    /// Metric labels to drop (high cardinality): `namespace` (resource_namespace), `kind` (resource_kind).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LABEL")]
    pub metrics_drop_labels: Vec<DropLabel>,

    /// How often policy, namespace and certificate files are checked for changes.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub reload_interval: Duration,

    /// Timeout assumed when the API server sends no `?timeout=`.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub default_timeout: Duration,

    /// Share of the request timeout that policy evaluation may use (the rest is for transport).
    #[arg(long, default_value_t = 0.8, value_name = "FRACTION", value_parser = parse_fraction)]
    pub budget_fraction: f64,

    /// Evaluations faster than this run inline on the async worker (deadline checked between policies); after a
    /// slower one, evaluation moves to blocking threads with a hard timeout for 10 s. `0s`: always threads.
    #[arg(long, default_value = "25ms", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub inline_threshold: Duration,

    /// Evaluations that may run on blocking threads at once [default: 4 per CPU]; each holds its slot until it
    /// ends, even after its request was answered at the deadline. A request that gets no slot within its budget
    /// is answered by its policies' failure policy.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_threaded_evaluations: Option<u64>,

    /// Time allowed for a client to send its headers and body (408 after it).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub read_timeout: Duration,

    /// Largest accepted request body, in bytes (413 above it).
    #[arg(long, default_value_t = 3 * 1024 * 1024, value_name = "BYTES")]
    pub max_body_bytes: usize,

    /// Most connections served at once; further clients wait in the accept queue.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_connections: usize,

    /// After SIGTERM, how long in-flight requests may take before the server exits anyway.
    #[arg(long, default_value = "20s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub shutdown_grace: Duration,

    /// Worker threads of the async runtime [default: number of CPUs].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// Cluster mode: policies, cluster context and webhook registration from the API server.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Flags of cluster mode (`--kubeconfig` or `--in-cluster`): policies come from the ClusterPolicy, Policy and
/// RuntimeClassPolicy objects, cluster context from watch caches, and the leader registers the webhooks.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Cluster mode")]
pub struct ClusterArgs {
    /// Watch policies in the cluster this kubeconfig points at (out of cluster).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["in_cluster", "policies", "namespaces"])]
    pub kubeconfig: Option<PathBuf>,

    /// Watch policies in the cluster Palisade runs in (service account credentials).
    #[arg(long, conflicts_with_all = ["policies", "namespaces"])]
    pub in_cluster: bool,

    /// Palisade's namespace (Lease, excluded from the webhooks) [default: `$POD_NAMESPACE`, the service
    /// account's namespace in cluster, else `palisade`].
    #[arg(long, value_name = "NAME")]
    pub namespace: Option<String>,

    /// Base URL the API server calls (`https://host:port`), for Palisade running outside the cluster
    /// [default in cluster: the Service `--webhook-service` in `--namespace`, port 443].
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,

    /// Service in front of the replicas, when running in the cluster.
    #[arg(long, default_value = "palisade", value_name = "NAME")]
    pub webhook_service: String,

    /// Name of the MutatingWebhookConfiguration and ValidatingWebhookConfiguration Palisade registers.
    #[arg(long, default_value = "palisade", value_name = "NAME")]
    pub webhook_name: String,

    /// PEM CA that signed `--tls-cert`, sent as the webhooks' `caBundle` and re-read every
    /// `--ca-check-interval` [default: `ca.crt` beside `--tls-cert`].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub webhook_ca: Option<PathBuf>,

    /// Without `--tls-cert`: the `kubernetes.io/tls` Secret (in `--namespace`) holding the serving CA and
    /// certificate that every replica serves; created when missing, rotated by the leader before expiry.
    #[arg(long, default_value = "palisade-tls", value_name = "NAME")]
    pub tls_secret: String,

    /// Validity of the CA and certificate generated into `--tls-secret`.
    #[arg(long, default_value = "8760h", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub ca_validity: Duration,

    /// Rotate the certificate in `--tls-secret` when less than this is left.
    #[arg(long, default_value = "2160h", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub ca_renew_before: Duration,

    /// How often `--tls-secret` (or, with `--tls-cert`, the CA file) is checked.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub ca_check_interval: Duration,

    /// Name of the `coordination.k8s.io` Lease of the leader election (in `--namespace`).
    #[arg(long, default_value = "palisade", value_name = "NAME")]
    pub lease_name: String,

    /// This replica's identity in the election [default: `$POD_NAME`, else host name and process id].
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,

    /// The Deployment running the replicas (in `--namespace`): on SIGTERM, when it is being deleted, scaled to
    /// zero or gone, no replica will serve, so the webhooks are relaxed to `failurePolicy: Ignore`.
    #[arg(long, value_name = "NAME")]
    pub deployment: Option<String>,
}

impl ClusterArgs {
    /// Whether cluster mode is on.
    pub fn enabled(&self) -> bool {
        self.kubeconfig.is_some() || self.in_cluster
    }
}

impl Default for ClusterArgs {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            in_cluster: false,
            namespace: None,
            webhook_url: None,
            webhook_service: "palisade".into(),
            webhook_name: "palisade".into(),
            webhook_ca: None,
            tls_secret: "palisade-tls".into(),
            ca_validity: Duration::from_secs(365 * 86_400),
            ca_renew_before: Duration::from_secs(90 * 86_400),
            ca_check_interval: Duration::from_secs(30),
            lease_name: "palisade".into(),
            identity: None,
            deployment: None,
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
            metrics_addr: MetricsAddr::Separate(SocketAddr::from(([127, 0, 0, 1], 8000))),
            policies: Vec::new(),
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            namespaces: None,
            data_dir: None,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
            metrics_drop_labels: Vec::new(),
            reload_interval: Duration::from_secs(1),
            default_timeout: Duration::from_secs(10),
            budget_fraction: 0.8,
            inline_threshold: Duration::from_millis(25),
            max_threaded_evaluations: None,
            read_timeout: Duration::from_secs(10),
            max_body_bytes: 3 * 1024 * 1024,
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(20),
            workers: None,
            cluster: ClusterArgs::default(),
        }
    }
}

impl ServeArgs {
    /// The data folder: `--data-dir`, else `$XDG_DATA_HOME/palisade`, else `.palisade` in the working directory.
    pub fn resolved_data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        match std::env::var_os("XDG_DATA_HOME") {
            Some(xdg) if !xdg.is_empty() => PathBuf::from(xdg).join("palisade"),
            _ => PathBuf::from(".palisade"),
        }
    }
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsAddr {
    /// On its own plain-HTTP listener.
    Separate(SocketAddr),
    /// On the HTTPS admission listener.
    Main,
}

/// Log output format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A high-cardinality metric label that can be dropped.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropLabel {
    /// `resource_namespace`.
    Namespace,
    /// `resource_kind`.
    Kind,
}

fn parse_metrics_addr(text: &str) -> Result<MetricsAddr, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(MetricsAddr::Main);
    }
    text.parse()
        .map(MetricsAddr::Separate)
        .map_err(|e| format!("`{text}` is not an address (host:port) or `none`: {e}"))
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::duration::parse_go_duration(text).map_err(|e| e.to_string())
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("`{text}` is not a fraction in (0, 1]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn defaults_match_the_default_impl() {
        let parsed = Cli::try_parse_from(["serve"]).unwrap().serve;
        let default = ServeArgs::default();
        assert_eq!(parsed.addr, default.addr);
        assert_eq!(parsed.metrics_addr, default.metrics_addr);
        assert_eq!(parsed.reload_interval, default.reload_interval);
        assert_eq!(parsed.read_timeout, default.read_timeout);
        assert_eq!(parsed.max_body_bytes, default.max_body_bytes);
        assert_eq!(parsed.budget_fraction, default.budget_fraction);
        assert_eq!(parsed.inline_threshold, default.inline_threshold);
        assert_eq!(parsed.cluster.webhook_name, default.cluster.webhook_name);
        assert_eq!(parsed.cluster.webhook_service, default.cluster.webhook_service);
        assert_eq!(parsed.cluster.lease_name, default.cluster.lease_name);
        assert_eq!(parsed.cluster.ca_validity, default.cluster.ca_validity);
        assert_eq!(parsed.cluster.ca_renew_before, default.cluster.ca_renew_before);
        assert_eq!(parsed.cluster.ca_check_interval, default.cluster.ca_check_interval);
        assert!(!parsed.cluster.enabled());
    }

    #[test]
    fn flags_parse() {
        type Check = fn(&ServeArgs) -> bool;
        let cases: &[(&[&str], Check)] = &[
            (&["serve", "--metrics-addr", "none"], |a| a.metrics_addr == MetricsAddr::Main),
            (&["serve", "--metrics-drop-labels", "namespace,kind"], |a| {
                a.metrics_drop_labels == [DropLabel::Namespace, DropLabel::Kind]
            }),
            (&["serve", "--policies", "a", "--policies", "b"], |a| a.policies.len() == 2),
            (&["serve", "--read-timeout", "500ms"], |a| a.read_timeout == Duration::from_millis(500)),
            (&["serve", "--kubeconfig", "kc", "--webhook-url", "https://127.0.0.1:9443"], |a| {
                a.cluster.enabled() && a.cluster.webhook_url.as_deref() == Some("https://127.0.0.1:9443")
            }),
            (&["serve", "--in-cluster", "--namespace", "ops"], |a| {
                a.cluster.in_cluster && a.cluster.namespace.as_deref() == Some("ops")
            }),
            (&["serve", "--in-cluster", "--deployment=palisade"], |a| {
                a.cluster.deployment.as_deref() == Some("palisade")
            }),
            (&["serve", "--in-cluster"], |a| a.cluster.deployment.is_none()),
        ];
        for (argv, check) in cases {
            let args = Cli::try_parse_from(*argv).unwrap().serve;
            assert!(check(&args), "{argv:?}");
        }
    }

    #[test]
    fn bad_flags_are_rejected() {
        for argv in [
            &["serve", "--tls-cert", "c.pem"][..],
            &["serve", "--budget-fraction", "1.5"],
            &["serve", "--metrics-addr", "nowhere"],
            &["serve", "--reload-interval", "soon"],
            &["serve", "--kubeconfig", "kc", "--policies", "p"],
            &["serve", "--kubeconfig", "kc", "--in-cluster"],
            &["serve", "--in-cluster", "--cluster-resources", "c.yaml"],
            &["serve", "--in-cluster", "--webhook-ca", "ca.crt"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
        }
    }
}
