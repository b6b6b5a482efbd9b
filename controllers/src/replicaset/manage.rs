//! How many pods one sync creates or deletes, and how creations are batched (upstream
//! `manageReplicas`' arithmetic and `slowStartBatch`).
//!
//! A sync never acts on more than [`BURST_REPLICAS`] pods; the expectations it records make the
//! next sync wait until the informer has seen them. Creations go out in "slow start" batches of
//! 1, 2, 4, … calls run concurrently within a batch; the first batch with a failure ends the
//! round, so a namespace out of quota costs one failing call (and one event) per sync instead of
//! hundreds.

use std::future::Future;

use futures::future::join_all;

/// Most pods created or deleted in one sync (`BurstReplicas`).
pub const BURST_REPLICAS: usize = 500;
/// Size of the first creation batch (`SlowStartInitialBatchSize`).
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// What a sync has to do about the number of active pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaDiff {
    InSync,
    /// Create this many pods now (already capped by the burst limit).
    Create(usize),
    /// Delete this many pods now (already capped by the burst limit).
    Delete(usize),
}

/// `diff := len(activePods) - spec.replicas`, capped at `burst` either way. A negative desired
/// count (rejected by validation) is treated as zero.
pub fn replica_diff(active: usize, desired: i32, burst: usize) -> ReplicaDiff {
    let desired = usize::try_from(desired).unwrap_or(0);
    match active.cmp(&desired) {
        std::cmp::Ordering::Less => ReplicaDiff::Create((desired - active).min(burst)),
        std::cmp::Ordering::Greater => ReplicaDiff::Delete((active - desired).min(burst)),
        std::cmp::Ordering::Equal => ReplicaDiff::InSync,
    }
}

/// The batch sizes slow start uses for `count` calls: `initial`, then doubling, the last one
/// trimmed to what remains.
pub fn slow_start_batches(count: usize, initial: usize) -> impl Iterator<Item = usize> {
    let mut remaining = count;
    let mut next = initial.max(1).min(count);
    std::iter::from_fn(move || {
        if next == 0 {
            return None;
        }
        let batch = next;
        remaining -= batch;
        next = (batch * 2).min(remaining);
        Some(batch)
    })
}

/// How a slow-start round ended.
#[derive(Debug, PartialEq, Eq)]
pub struct SlowStartOutcome<E> {
    /// Calls that succeeded; the `count - successes` others failed or were never attempted.
    pub successes: usize,
    /// The first error of the batch that stopped the round.
    pub error: Option<E>,
}

/// `slowStartBatch`: calls `call` up to `count` times in growing concurrent batches and stops
/// after the first batch in which any call failed.
pub async fn slow_start<E, F, Fut>(count: usize, initial: usize, mut call: F) -> SlowStartOutcome<E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut successes = 0;
    for batch in slow_start_batches(count, initial) {
        let results = join_all((0..batch).map(|_| call())).await;
        let mut errors = results.into_iter().filter_map(Result::err);
        match errors.next() {
            None => successes += batch,
            Some(first) => {
                successes += batch - 1 - errors.count();
                return SlowStartOutcome {
                    successes,
                    error: Some(first),
                };
            }
        }
    }
    SlowStartOutcome {
        successes,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn diff_is_capped_by_the_burst() {
        assert_eq!(replica_diff(0, 3, BURST_REPLICAS), ReplicaDiff::Create(3));
        assert_eq!(replica_diff(5, 2, BURST_REPLICAS), ReplicaDiff::Delete(3));
        assert_eq!(replica_diff(4, 4, BURST_REPLICAS), ReplicaDiff::InSync);
        assert_eq!(
            replica_diff(0, 1200, BURST_REPLICAS),
            ReplicaDiff::Create(500)
        );
        assert_eq!(
            replica_diff(1200, 0, BURST_REPLICAS),
            ReplicaDiff::Delete(500)
        );
        assert_eq!(replica_diff(3, -1, BURST_REPLICAS), ReplicaDiff::Delete(3));
    }

    #[test]
    fn batches_double_from_one_and_trim_the_last() {
        let sizes = |n| slow_start_batches(n, SLOW_START_INITIAL_BATCH_SIZE).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(10), vec![1, 2, 4, 3]);
        assert_eq!(sizes(15), vec![1, 2, 4, 8]);
        assert_eq!(sizes(500), vec![1, 2, 4, 8, 16, 32, 64, 128, 245]);
        assert_eq!(sizes(500).iter().sum::<usize>(), 500);
        assert_eq!(slow_start_batches(10, 4).collect::<Vec<_>>(), vec![4, 6]);
    }

    #[tokio::test]
    async fn every_call_succeeds() {
        let calls = AtomicUsize::new(0);
        let outcome = slow_start(10, 1, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), String>(()) }
        })
        .await;
        assert_eq!(
            outcome,
            SlowStartOutcome {
                successes: 10,
                error: None
            }
        );
        assert_eq!(calls.load(Ordering::SeqCst), 10);
    }

    #[tokio::test]
    async fn stops_after_the_first_batch_with_a_failure() {
        // Call 4 fails. Batches are [1], [2, 3], [4, 5, 6, 7]: the third batch still runs to the
        // end, then the remaining 3 calls are never made.
        let calls = AtomicUsize::new(0);
        let outcome = slow_start(10, 1, || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n == 4 {
                    Err(format!("call {n} failed"))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 7);
        assert_eq!(
            outcome,
            SlowStartOutcome {
                successes: 6,
                error: Some("call 4 failed".to_string())
            }
        );
    }

    #[tokio::test]
    async fn a_failing_first_call_makes_exactly_one_call() {
        let calls = AtomicUsize::new(0);
        let outcome = slow_start(500, 1, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("exceeded quota") }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(outcome.successes, 0);
        assert_eq!(outcome.error, Some("exceeded quota"));
    }

    #[tokio::test]
    async fn counts_every_failure_in_the_stopping_batch() {
        let calls = AtomicUsize::new(0);
        let outcome = slow_start(7, 1, || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move { if n >= 2 { Err(n) } else { Ok(()) } }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            outcome,
            SlowStartOutcome {
                successes: 1,
                error: Some(2)
            }
        );
    }
}
