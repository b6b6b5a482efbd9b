//! How controllers run: the worker pool over a queue ([`worker`]), the outcome of a sync
//! ([`error`]), the whole life of a queue controller ([`run_queue_controller`]: wait for caches
//! → start-up hook → workers → drain) and of a periodic one ([`periodic`]), and their metrics.

pub mod error;
pub mod metrics;
pub mod periodic;
pub mod stopping;
pub mod worker;

use std::{fmt, future::Future, hash::Hash, sync::Arc};

use kcm_shared::{
    informer::{HasSynced, wait_for_named_cache_sync},
    workqueue::WorkQueue,
};
use tokio_util::sync::CancellationToken;

pub use error::{Action, SyncError};
pub use periodic::run_periodic;
pub use stopping::stopping;
pub use worker::{Reconcile, RetryPolicy, run_workers};

/// A controller could not start (its start-up hook failed); the process should exit.
#[derive(Debug, thiserror::Error)]
#[error("{controller}: {message}")]
pub struct StartupFailed {
    pub controller: &'static str,
    pub message: String,
}

/// What [`run_queue_controller`] runs.
pub struct QueueController<'a, K, R> {
    /// Canonical controller name, for logs and metrics.
    pub name: &'static str,
    /// The informers whose caches must be synced before any worker starts.
    pub caches: Vec<&'a dyn HasSynced>,
    pub queue: Arc<WorkQueue<K>>,
    pub workers: usize,
    pub reconciler: Arc<R>,
    pub retry: RetryPolicy,
}

/// Runs a queue controller until `cancel` (sample-controller's `Run`): wait for its caches,
/// run `startup` once (e.g. clean up leftovers; an error stops the controller and is returned),
/// then `workers` workers; on cancellation stop intake and let in-flight syncs finish.
pub async fn run_queue_controller<K, R, S, SFut>(
    spec: QueueController<'_, K, R>,
    startup: Option<S>,
    cancel: CancellationToken,
) -> Result<(), StartupFailed>
where
    K: Eq + Hash + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static,
    R: Reconcile<K>,
    S: FnOnce() -> SFut,
    SFut: Future<Output = Result<(), String>>,
{
    let controller = spec.name;
    tracing::info!(controller, "Starting controller");
    if !wait_for_named_cache_sync(controller, &cancel, &spec.caches).await {
        spec.queue.shut_down();
        return Ok(());
    }
    if let Some(startup) = startup
        && let Err(message) = startup().await
    {
        spec.queue.shut_down();
        tracing::error!(controller, %message, "controller failed to start");
        return Err(StartupFailed {
            controller,
            message,
        });
    }
    run_workers(
        controller,
        spec.queue,
        spec.workers,
        spec.reconciler,
        spec.retry,
        cancel,
    )
    .await;
    tracing::info!(controller, "Shutting down controller");
    Ok(())
}

/// The start-up hook type for controllers that have none.
pub type NoStartup = fn() -> std::future::Ready<Result<(), String>>;
