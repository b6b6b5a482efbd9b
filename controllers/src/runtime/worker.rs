//! The worker loop every queue controller runs: take a key from the queue, sync it, act on the
//! result (sample-controller's `runWorker`/`processNextWorkItem`/`handleErr`).
//!
//! Two additions upstream gets from Go's runtime: a panic in a sync is caught, logged and
//! counted (`kcm_controller_worker_panics_total`), the key is retried with backoff and the worker
//! goes on with the next key, so one bad object never stops a controller; and cancellation stops
//! intake while the syncs already running are allowed to finish — without starting new rounds
//! of writes ([`super::stopping`]).
//!
//! Every failed sync counts in `kcm_controller_sync_errors_total{controller}` and is logged at
//! warning level (conflicts at debug: they are routine), rate-limited per key by
//! [`FailureLog`]; every sync's duration goes to `kcm_controller_sync_duration_seconds`.

use std::{fmt, future::Future, hash::Hash, panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt;
use kcm_shared::{metrics::WORKER_PANICS, workqueue::WorkQueue};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{
    error::{Action, SyncError},
    metrics::{FailureLog, SYNC_DURATION, SYNC_ERRORS},
};

/// A controller's sync function: observed state in, API calls out.
pub trait Reconcile<K>: Send + Sync + 'static {
    fn sync(&self, key: &K) -> impl Future<Output = Result<Action, SyncError>> + Send;
}

/// How the worker pool treats failures.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// After this many rate-limited retries a key is dropped (`maxRetries`), `None` = never.
    pub max_retries: Option<u32>,
}

impl RetryPolicy {
    /// Upstream endpoints/deployment controllers give up after 15 retries.
    pub const UPSTREAM: RetryPolicy = RetryPolicy {
        max_retries: Some(15),
    };
    pub const FOREVER: RetryPolicy = RetryPolicy { max_retries: None };
}

/// Runs `workers` workers until `cancel`, then waits for the syncs in flight.
pub async fn run_workers<K, R>(
    controller: &'static str,
    queue: Arc<WorkQueue<K>>,
    workers: usize,
    reconciler: Arc<R>,
    retry: RetryPolicy,
    cancel: CancellationToken,
) where
    K: Eq + Hash + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static,
    R: Reconcile<K>,
{
    super::metrics::register();
    let failures = Arc::new(FailureLog::default());
    let mut pool = JoinSet::new();
    for _ in 0..workers.max(1) {
        pool.spawn(worker(
            Worker {
                controller,
                queue: queue.clone(),
                reconciler: reconciler.clone(),
                retry,
                failures: failures.clone(),
            },
            cancel.clone(),
        ));
    }
    cancel.cancelled().await;
    // Stop intake; workers finish the key they hold and exit.
    queue.shut_down();
    while pool.join_next().await.is_some() {}
    tracing::info!(controller, "workers stopped");
}

struct Worker<K, R> {
    controller: &'static str,
    queue: Arc<WorkQueue<K>>,
    reconciler: Arc<R>,
    retry: RetryPolicy,
    failures: Arc<FailureLog>,
}

async fn worker<K, R>(w: Worker<K, R>, cancel: CancellationToken)
where
    K: Eq + Hash + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static,
    R: Reconcile<K>,
{
    let controller = w.controller;
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            next = w.queue.get_guarded() => next,
        };
        let Some(item) = next else { return };
        let started = tokio::time::Instant::now();
        let sync = super::stopping::scope(cancel.clone(), w.reconciler.sync(&item));
        let sync = kcm_shared::panics::recoverable(sync);
        let outcome = AssertUnwindSafe(sync).catch_unwind().await;
        let elapsed = started.elapsed();
        SYNC_DURATION
            .with_label_values(&[controller])
            .observe(elapsed.as_secs_f64());
        tracing::trace!(controller, key = %*item, ?elapsed, "finished syncing");
        let key: &K = &item;
        match outcome {
            Ok(Ok(action)) => {
                w.failures.succeeded(&key.to_string());
                w.queue.forget(key);
                if let Action::RequeueAfter(delay) = action {
                    w.queue.add_after(key.clone(), delay);
                }
            }
            Ok(Err(SyncError::Requeue { after, reason })) => {
                tracing::debug!(controller, key = %key, %reason, ?after, "not finished; syncing again later");
                w.queue.add_after(key.clone(), after);
            }
            Ok(Err(error)) => w.failed(key, &error),
            Err(panic) => {
                WORKER_PANICS.with_label_values(&[controller]).inc();
                SYNC_ERRORS.with_label_values(&[controller]).inc();
                tracing::error!(
                    controller,
                    key = %key,
                    panic = panic_message(&panic),
                    "sync panicked; the key is retried with backoff and the worker goes on"
                );
                w.queue.add_rate_limited(key.clone());
            }
        }
        // `item` drops here: the queue marks the key done, after any requeue above, so a
        // requeued key is not lost and is never handed to two workers at once.
    }
}

impl<K, R> Worker<K, R>
where
    K: Eq + Hash + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static,
{
    /// `handleErr`: count, log (rate-limited per key), and retry or drop.
    fn failed(&self, key: &K, error: &SyncError) {
        let controller = self.controller;
        SYNC_ERRORS.with_label_values(&[controller]).inc();
        let requeues = self.queue.num_requeues(key);
        let permanent = matches!(error, SyncError::Permanent(_));
        let give_up = permanent || self.retry.max_retries.is_some_and(|max| requeues >= max);
        if error.is_conflict() && !give_up {
            tracing::debug!(controller, key = %key, %error, requeues, "conflict; retrying");
        } else if let Some(suppressed) = self.failures.should_log(&key.to_string()) {
            if permanent {
                tracing::warn!(controller, key = %key, %error, "dropping key: retrying cannot help");
            } else if give_up {
                tracing::warn!(controller, key = %key, %error, requeues, "dropping key out of the queue");
            } else {
                tracing::warn!(
                    controller,
                    key = %key,
                    %error,
                    requeues,
                    suppressed,
                    "error syncing; requeuing"
                );
            }
        }
        if give_up {
            self.queue.forget(key);
        } else {
            self.queue.add_rate_limited(key.clone());
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests;
