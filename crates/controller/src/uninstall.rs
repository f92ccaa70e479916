//! `palisade uninstall`: relaxes (or deletes) the webhook configurations Palisade registered, so that removing
//! Palisade cannot leave a `failurePolicy: Fail` webhook pointing at nothing (run it from a Helm pre-delete hook,
//! or by hand before deleting the Deployment).

use crate::cluster;
use anyhow::Context as _;
use std::path::PathBuf;

/// Flags of `palisade uninstall`.
#[derive(clap::Args, Debug, Clone)]
pub struct UninstallArgs {
    /// Cluster the kubeconfig points at (default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    #[arg(long, value_name = "FILE", conflicts_with = "in_cluster")]
    pub kubeconfig: Option<PathBuf>,

    /// Use the pod's service account.
    #[arg(long)]
    pub in_cluster: bool,

    /// Name of the MutatingWebhookConfiguration and ValidatingWebhookConfiguration.
    #[arg(long, default_value = "palisade", value_name = "NAME")]
    pub webhook_name: String,

    /// Delete the configurations instead of turning every webhook to `failurePolicy: Ignore`.
    #[arg(long)]
    pub delete: bool,
}

/// Relaxes or deletes the configurations; returns a line saying what was done.
pub fn run(args: &UninstallArgs) -> anyhow::Result<String> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let client = match (&args.kubeconfig, args.in_cluster) {
            (_, true) => cluster::in_cluster_client()?,
            (path, false) => cluster::client(path.as_deref()).await?,
        };
        let name = &args.webhook_name;
        let (count, verb) = if args.delete {
            (cluster::delete_webhooks(&client, name).await?, "deleted")
        } else {
            (cluster::relax_webhooks(&client, name).await?, "relaxed to failurePolicy Ignore")
        };
        Ok(format!("{count} webhook configuration(s) named {name} {verb}"))
    })
}
