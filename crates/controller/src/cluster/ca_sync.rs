//! Keeps the serving CA and certificate in a Secret in Palisade's namespace (cluster mode without `--tls-cert`):
//! every replica serves the certificate from the Secret, the webhooks' `caBundle` comes from it, and the leader
//! rotates it before expiry.
//!
//! A missing Secret is created by whichever replica gets there first (a concurrent create gets 409 and re-reads).
//! A rotation first puts the new CA into `caBundle` (next to the current one) and waits until the leader's
//! watch has registered it, then replaces the Secret (with its `resourceVersion`, so a concurrent change wins
//! and is re-read); replicas pick the new certificate up on their next check.

use super::{CaBundle, ClusterError, FIELD_MANAGER, api_error};
use crate::serving_ca::{CaError, Rotation, ServingBundle, generate};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Called after new certificate files were written (reloads the server's certificate).
pub type Reload = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What [`keep_serving_ca`] keeps, and where.
#[derive(Clone)]
pub struct CaSync {
    /// Palisade's namespace.
    pub namespace: String,
    /// Name of the `kubernetes.io/tls` Secret.
    pub secret: String,
    /// DNS names / IP addresses of the serving certificate.
    pub names: Vec<String>,
    /// Validity and renewal margin.
    pub rotation: Rotation,
    /// Serving certificate file the server reads (written, then [`CaSync::reload`] is called).
    pub cert_file: PathBuf,
    /// Serving key file.
    pub key_file: PathBuf,
    /// CA file beside them (for clients of this replica, e.g. probes with `--cacert`).
    pub ca_file: Option<PathBuf>,
    /// Reloads the server's certificate.
    pub reload: Reload,
    /// Set to the Secret's CA (and the previous one).
    pub ca_bundle: CaBundle,
    /// Only the leader rotates.
    pub leader: Arc<AtomicBool>,
    /// How often the Secret is checked.
    pub interval: Duration,
}

impl std::fmt::Debug for CaSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaSync").field("secret", &format!("{}/{}", self.namespace, self.secret)).finish()
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error("{0}")]
    Other(String),
}

/// Checks the Secret every `interval` (sooner after a failure) until the task is dropped.
pub async fn keep_serving_ca(client: kube::Client, sync: CaSync) {
    let api: Api<Secret> = Api::namespaced(client, &sync.namespace);
    let id = format!("{}/{}", sync.namespace, sync.secret);
    let mut installed: Option<ServingBundle> = None;
    loop {
        let wait = match pass(&api, &sync, &mut installed).await {
            Ok(()) => sync.interval,
            Err(e) => {
                tracing::warn!(secret = %id, error = %e, "serving certificate Secret: retrying");
                sync.interval.min(Duration::from_secs(5))
            }
        };
        tokio::time::sleep(wait).await;
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn secret_object(bundle: &ServingBundle, sync: &CaSync) -> Result<Secret, SyncError> {
    serde_json::from_value(bundle.to_secret(&sync.namespace, &sync.secret)).map_err(|e| SyncError::Other(e.to_string()))
}

async fn pass(api: &Api<Secret>, sync: &CaSync, installed: &mut Option<ServingBundle>) -> Result<(), SyncError> {
    let id = format!("{}/{}", sync.namespace, sync.secret);
    let params = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
    let live = api.get_opt(&sync.secret).await.map_err(api_error(format!("reading Secret {id}")))?;
    let bundle = match live {
        None => {
            let fresh = generate(&sync.names, now(), sync.rotation, None)?;
            match api.create(&params, &secret_object(&fresh, sync)?).await {
                Ok(_) => tracing::info!(secret = %id, not_after = fresh.not_after, "created the serving CA Secret"),
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    return Err(SyncError::Other("created concurrently by another replica; re-reading".into()));
                }
                Err(e) => return Err(api_error(format!("creating Secret {id}"))(e).into()),
            }
            fresh
        }
        Some(secret) => {
            let value = serde_json::to_value(&secret).map_err(|e| SyncError::Other(e.to_string()))?;
            let current = ServingBundle::from_secret(&value)?;
            if current.needs_renewal(now(), sync.rotation) && sync.leader.load(Ordering::Relaxed) {
                rotate(api, sync, &current, secret.metadata.resource_version.clone()).await?
            } else {
                current
            }
        }
    };
    install(sync, &bundle, installed)
}

/// Trusts the next CA in `caBundle`, waits for the registration to carry it, then replaces the Secret.
async fn rotate(
    api: &Api<Secret>,
    sync: &CaSync,
    current: &ServingBundle,
    resource_version: Option<String>,
) -> Result<ServingBundle, SyncError> {
    let id = format!("{}/{}", sync.namespace, sync.secret);
    tracing::info!(secret = %id, not_after = current.not_after, "the serving certificate expires soon: rotating");
    let next = generate(&sync.names, now(), sync.rotation, Some(current.ca.clone()))?;
    let generation = sync.ca_bundle.set(next.ca_bundle());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while sync.ca_bundle.applied() < generation {
        if tokio::time::Instant::now() > deadline {
            tracing::warn!(secret = %id, "the new CA is not registered after 30 s; rotating anyway");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut object = secret_object(&next, sync)?;
    object.metadata.resource_version = resource_version;
    let params = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
    match api.replace(&sync.secret, &params, &object).await {
        Ok(_) => {
            tracing::info!(secret = %id, not_after = next.not_after, "rotated the serving CA and certificate");
            Ok(next)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            Err(SyncError::Other("the Secret changed during the rotation; re-reading".into()))
        }
        Err(e) => Err(api_error(format!("replacing Secret {id}"))(e).into()),
    }
}

/// Writes the certificate files when the bundle changed, reloads the server, and publishes the CA.
fn install(sync: &CaSync, bundle: &ServingBundle, installed: &mut Option<ServingBundle>) -> Result<(), SyncError> {
    if installed.as_ref() == Some(bundle) {
        return Ok(());
    }
    write_atomic(&sync.key_file, &bundle.key)?;
    write_atomic(&sync.cert_file, &bundle.cert)?;
    if let Some(ca_file) = &sync.ca_file {
        write_atomic(ca_file, &String::from_utf8_lossy(&bundle.ca_bundle()))?;
    }
    (sync.reload)().map_err(SyncError::Other)?;
    sync.ca_bundle.set(bundle.ca_bundle());
    tracing::info!(secret = %format!("{}/{}", sync.namespace, sync.secret), not_after = bundle.not_after,
        managed = bundle.managed, "serving the certificate from the Secret");
    *installed = Some(bundle.clone());
    Ok(())
}

fn write_atomic(path: &Path, text: &str) -> Result<(), SyncError> {
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| SyncError::Other(format!("{}: cannot write: {e}", path.display()));
    std::fs::write(&tmp, text).map_err(fail)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}
