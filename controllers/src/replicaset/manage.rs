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
/// after the first batch in which any call failed, or before any batch once `stopping()` says
/// the process is shutting down (the calls in flight finish; no new batch starts).
pub async fn slow_start<E, F, Fut>(
    count: usize,
    initial: usize,
    stopping: impl Fn() -> bool,
    mut call: F,
) -> SlowStartOutcome<E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let mut successes = 0;
    for batch in slow_start_batches(count, initial) {
        if stopping() {
            tracing::info!(
                done = successes,
                skipped = count - successes,
                "shutting down: no further creation batches"
            );
            break;
        }
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
mod tests;
