//! Leader election with a `coordination.k8s.io` Lease (kube-lease-manager): every replica serves admission,
//! only the holder of the Lease writes status and webhook configurations.

use super::ClusterError;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::JoinHandle;

/// Lease timing: how long a lock lasts and how long before expiry the holder renews it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// Lock duration in seconds (default 15).
    pub duration_seconds: u64,
    /// Renewal margin before expiry in seconds (default 5; must be below the duration).
    pub grace_seconds: u64,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self { duration_seconds: 15, grace_seconds: 5 }
    }
}

/// Takes part in the election for as long as it lives; [`Leader::flag`] is true while this replica holds the Lease.
pub struct Leader {
    flag: Arc<AtomicBool>,
    forward: JoinHandle<()>,
    manager: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
}

impl std::fmt::Debug for Leader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leader").field("leading", &self.flag.load(Ordering::Relaxed)).finish()
    }
}

impl Leader {
    /// Joins the election for Lease `namespace/name` as `identity` (the pod name); the Lease is created if missing.
    pub async fn join(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
    ) -> Result<Self, ClusterError> {
        Self::join_with_flag(client, namespace, name, identity, timing, Arc::new(AtomicBool::new(false))).await
    }

    /// Like [`Leader::join`], but keeps `flag` up to date (so a watch can be handed the flag before the election
    /// could be joined, e.g. while the API server is unreachable).
    pub async fn join_with_flag(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timing: LeaseTiming,
        flag: Arc<AtomicBool>,
    ) -> Result<Self, ClusterError> {
        if timing.grace_seconds >= timing.duration_seconds {
            return Err(ClusterError::Lease(format!(
                "grace {}s must be shorter than the lease duration {}s",
                timing.grace_seconds, timing.duration_seconds
            )));
        }
        let manager = LeaseManagerBuilder::new(client, name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(timing.duration_seconds)
            .with_grace(timing.grace_seconds)
            .build()
            .await
            .map_err(|e| ClusterError::Lease(format!("lease {namespace}/{name}: {e}")))?;
        let (mut changes, manager) = manager.watch().await;
        flag.store(*changes.borrow(), Ordering::Relaxed);
        let shared = Arc::clone(&flag);
        let lease = format!("{namespace}/{name}");
        let forward = tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let leading = *changes.borrow_and_update();
                shared.store(leading, Ordering::Relaxed);
                tracing::info!(%lease, leading, "leadership changed");
            }
            shared.store(false, Ordering::Relaxed);
        });
        Ok(Self { flag, forward, manager })
    }

    /// The flag to hand to [`super::WatchConfig::leader`].
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Whether the election task still runs (it stops when the Lease cannot be renewed or read any more).
    pub fn is_active(&self) -> bool {
        !self.manager.is_finished() && !self.forward.is_finished()
    }

    /// Whether this replica holds the Lease now.
    pub fn is_leading(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Leaves the election and releases the Lease if held (on shutdown, so another replica takes over at once).
    pub async fn resign(self) {
        self.flag.store(false, Ordering::Relaxed);
        self.forward.abort();
        let _ = self.forward.await;
        match self.manager.await {
            Ok(Ok(_)) => tracing::info!("left the leader election"),
            Ok(Err(e)) => tracing::warn!(error = %e, "releasing the lease failed; it expires on its own"),
            Err(e) => tracing::warn!(error = %e, "lease task ended abnormally"),
        }
    }
}
