//! The worker loop every controller runs: take a key from the queue, sync it, handle the result.
//!
//! This is sample-controller's `runWorker`/`processNextWorkItem`/`handleErr` with two additions
//! upstream gets from Go's runtime: a panic in a sync is caught, logged and counted
//! (`kcm_controller_worker_panics_total`), the key is retried with backoff and the worker goes on
//! with the next key, so one bad object never stops a controller; and cancellation stops
//! intake while the syncs already running are allowed to finish.

use std::{fmt, future::Future, hash::Hash, panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt;
use kcm_shared::{metrics::WORKER_PANICS, workqueue::WorkQueue};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What a sync reports when it could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Worth retrying with backoff (API errors, conflicts, unmet preconditions).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (an invalid object); the key is dropped until it changes.
    #[error("{0}")]
    Permanent(String),
}

impl From<kube::Error> for SyncError {
    fn from(e: kube::Error) -> Self {
        SyncError::Retry(e.to_string())
    }
}

/// A controller's sync function: observed state in, API calls out.
pub trait Reconcile<K>: Send + Sync + 'static {
    fn sync(&self, key: &K) -> impl Future<Output = Result<(), SyncError>> + Send;
}

/// How the worker pool treats failures.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// After this many rate-limited retries a key is dropped (`maxRetries`), `None` = never.
    pub max_retries: Option<u32>,
}

impl RetryPolicy {
    /// Upstream endpoints/RS/deployment controllers give up after 15 retries.
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
    let mut pool = JoinSet::new();
    for _ in 0..workers.max(1) {
        pool.spawn(worker(
            controller,
            queue.clone(),
            reconciler.clone(),
            retry,
            cancel.clone(),
        ));
    }
    cancel.cancelled().await;
    // Stop intake; workers finish the key they hold and exit.
    queue.shut_down();
    while pool.join_next().await.is_some() {}
    tracing::info!(controller, "workers stopped");
}

async fn worker<K, R>(
    controller: &'static str,
    queue: Arc<WorkQueue<K>>,
    reconciler: Arc<R>,
    retry: RetryPolicy,
    cancel: CancellationToken,
) where
    K: Eq + Hash + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static,
    R: Reconcile<K>,
{
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            next = queue.get_guarded() => next,
        };
        let Some(item) = next else { return };
        let started = tokio::time::Instant::now();
        let outcome = AssertUnwindSafe(reconciler.sync(&item))
            .catch_unwind()
            .await;
        tracing::trace!(controller, key = %*item, elapsed = ?started.elapsed(), "finished syncing");
        match outcome {
            Ok(Ok(())) => queue.forget(&item),
            Ok(Err(SyncError::Permanent(reason))) => {
                tracing::warn!(controller, key = %*item, %reason, "dropping key: retrying cannot help");
                queue.forget(&item);
            }
            Ok(Err(SyncError::Retry(reason))) => {
                let requeues = queue.num_requeues(&item);
                if retry.max_retries.is_some_and(|max| requeues >= max) {
                    tracing::warn!(controller, key = %*item, %reason, requeues, "dropping key out of the queue");
                    queue.forget(&item);
                } else {
                    tracing::debug!(controller, key = %*item, %reason, requeues, "error syncing; requeuing");
                    queue.add_rate_limited((*item).clone());
                }
            }
            Err(panic) => {
                WORKER_PANICS.with_label_values(&[controller]).inc();
                tracing::error!(
                    controller,
                    key = %*item,
                    panic = panic_message(&panic),
                    "sync panicked; the key is retried with backoff and the worker goes on"
                );
                queue.add_rate_limited((*item).clone());
            }
        }
        // `item` drops here: the queue marks the key done, after any requeue above, so a
        // requeued key is not lost and is never handed to two workers at once.
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
mod tests {
    use super::*;
    use parking_lot::Mutex;
    use std::time::Duration;

    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
    }

    impl Reconcile<String> for Recorder {
        async fn sync(&self, key: &String) -> Result<(), SyncError> {
            let attempt = {
                let mut seen = self.seen.lock();
                seen.push(key.clone());
                seen.iter().filter(|k| *k == key).count()
            };
            match key.as_str() {
                "panics-once" if attempt == 1 => panic!("boom"),
                "fails-twice" if attempt <= 2 => Err(SyncError::Retry("conflict".into())),
                "always-fails" => Err(SyncError::Retry("nope".into())),
                "invalid" => Err(SyncError::Permanent("bad selector".into())),
                _ => Ok(()),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn panics_and_errors_are_retried_and_others_keep_working() {
        let queue = WorkQueue::<String>::new("runtime-test-retries");
        let recorder = Arc::new(Recorder::default());
        let cancel = CancellationToken::new();
        let pool = tokio::spawn(run_workers(
            "runtime-test",
            queue.clone(),
            2,
            recorder.clone(),
            RetryPolicy {
                max_retries: Some(3),
            },
            cancel.clone(),
        ));
        for key in [
            "panics-once",
            "fails-twice",
            "always-fails",
            "invalid",
            "fine",
        ] {
            queue.add(key.to_string());
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let seen = recorder.seen.lock().clone();
        let count = |k: &str| seen.iter().filter(|s| *s == k).count();
        assert_eq!(count("panics-once"), 2, "{seen:?}");
        assert_eq!(count("fails-twice"), 3, "{seen:?}");
        // First try plus three retries, then dropped.
        assert_eq!(count("always-fails"), 4, "{seen:?}");
        assert_eq!(count("invalid"), 1, "{seen:?}");
        assert_eq!(count("fine"), 1, "{seen:?}");
        assert!(WORKER_PANICS.with_label_values(&["runtime-test"]).get() >= 1);
        cancel.cancel();
        pool.await.expect("pool ends");
    }

    struct Slow {
        finished: Mutex<Vec<String>>,
    }

    impl Reconcile<String> for Slow {
        async fn sync(&self, key: &String) -> Result<(), SyncError> {
            tokio::time::sleep(Duration::from_secs(3)).await;
            self.finished.lock().push(key.clone());
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_lets_in_flight_syncs_finish_and_takes_no_new_keys() {
        let queue = WorkQueue::<String>::new("runtime-test-drain");
        let slow = Arc::new(Slow {
            finished: Mutex::new(vec![]),
        });
        let cancel = CancellationToken::new();
        let pool = tokio::spawn(run_workers(
            "runtime-drain",
            queue.clone(),
            1,
            slow.clone(),
            RetryPolicy::UPSTREAM,
            cancel.clone(),
        ));
        queue.add("first".to_string());
        queue.add("second".to_string());
        tokio::time::sleep(Duration::from_secs(1)).await;
        cancel.cancel();
        pool.await.expect("pool ends");
        assert_eq!(*slow.finished.lock(), vec!["first".to_string()]);
    }
}
