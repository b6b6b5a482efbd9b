//! Waiting for informer caches before a controller starts its workers.
//!
//! Each controller waits for exactly the informers it reads (client-go
//! `cache.WaitForNamedCacheSync`, called at the top of every controller's `Run`); the process as
//! a whole never waits, so one type that cannot be listed (e.g. RBAC) blocks only its users.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::kind::InformerType;
use super::shared_informer::Informer;

/// Something whose cache can be waited for: any `Informer<K>`, type-erased so one controller
/// can wait on informers of different types in one call.
pub trait HasSynced: Send + Sync {
    /// The resource kind, for logs.
    fn synced_name(&self) -> String;
    fn is_synced(&self) -> bool;
    fn synced_receiver(&self) -> watch::Receiver<bool>;
}

impl<K: InformerType> HasSynced for Informer<K> {
    fn synced_name(&self) -> String {
        self.kind().to_owned()
    }

    fn is_synced(&self) -> bool {
        self.has_synced()
    }

    fn synced_receiver(&self) -> watch::Receiver<bool> {
        Informer::synced_receiver(self)
    }
}

/// Waits until every informer in `informers` has synced. Returns false if `cancel` fires first.
/// Logs like upstream: "Waiting for caches to sync for X" / "Caches are synced for X".
pub async fn wait_for_named_cache_sync(
    controller: &str,
    cancel: &CancellationToken,
    informers: &[&dyn HasSynced],
) -> bool {
    tracing::info!(controller, "Waiting for caches to sync for {controller}");
    let receivers: Vec<_> = informers.iter().map(|i| i.synced_receiver()).collect();
    let all_synced = async move {
        for mut synced in receivers {
            if synced.wait_for(|synced| *synced).await.is_err() {
                return false;
            }
        }
        true
    };
    // Synced wins over a simultaneous cancel, as upstream's immediate poll does.
    let synced = tokio::select! {
        biased;
        synced = all_synced => synced,
        () = cancel.cancelled() => false,
    };
    if synced {
        tracing::info!(controller, "Caches are synced for {controller}");
    } else {
        let pending: Vec<String> = informers
            .iter()
            .filter(|i| !i.is_synced())
            .map(|i| i.synced_name())
            .collect();
        tracing::info!(
            controller,
            ?pending,
            "Unable to sync caches for {controller}"
        );
    }
    synced
}
