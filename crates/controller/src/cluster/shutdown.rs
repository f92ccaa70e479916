//! The last replica stopping: when the Deployment that runs Palisade is being deleted, scaled to zero or gone, no
//! replica will answer the webhooks, so a stopping replica relaxes them to `failurePolicy: Ignore` and the cluster
//! is not locked. This is the check Kyverno 1.5–1.8 made on shutdown (`cleanupKyvernoResource`: deletion
//! timestamp, `spec.replicas == 0`, Deployment not found; Kyverno then deleted its configurations, Palisade
//! relaxes them and the next leader re-applies the computed ones at start). A rolling update or one replica
//! evicted leaves the webhooks as they are. Later Kyverno versions watch their Deployment with finalizers
//! (`autoDeleteWebhooks`) instead.

use super::{ClusterError, api_error, relax_webhooks};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

/// Why no replica will serve once this one stops (`None`: others keep serving, e.g. a rolling update).
pub async fn no_replica_will_serve(
    client: &kube::Client,
    namespace: &str,
    deployment: &str,
) -> Result<Option<String>, ClusterError> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let reading = format!("reading Deployment {namespace}/{deployment}");
    let Some(live) = api.get_opt(deployment).await.map_err(api_error(reading))? else {
        return Ok(Some(format!("Deployment {namespace}/{deployment} is gone")));
    };
    if live.metadata.deletion_timestamp.is_some() {
        return Ok(Some(format!("Deployment {namespace}/{deployment} is being deleted")));
    }
    if live.spec.replicas == Some(0) {
        return Ok(Some(format!("Deployment {namespace}/{deployment} is scaled to zero")));
    }
    Ok(None)
}

/// On shutdown: relaxes the webhook configurations `webhook_name` when [`no_replica_will_serve`]; returns the
/// reason when it did.
pub async fn relax_if_last_replica(
    client: &kube::Client,
    namespace: &str,
    deployment: &str,
    webhook_name: &str,
) -> Result<Option<String>, ClusterError> {
    let Some(reason) = no_replica_will_serve(client, namespace, deployment).await? else { return Ok(None) };
    relax_webhooks(client, webhook_name).await?;
    Ok(Some(reason))
}
