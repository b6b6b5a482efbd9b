//! Spreading several leases over replicas: a candidate that already leads more waits longer.
//!
//! client-go has nothing like this: with one lease per process there is nothing to spread. With
//! one lease per controller, plain client-go electors let whichever replica starts (or polls)
//! first take every free lease, so one replica ends up running all controllers. The rule here:
//! a candidate that leads `N` of its process's leases waits an extra `N × retryPeriod` before
//! each attempt to take a lease it does not hold, so when a lease is free (at start-up, after a
//! release, after a holder died) the replicas leading fewest get to it first. Only the write
//! that takes the lease waits: reads are not delayed, so every candidate sees a change, and
//! judges expiry, at the same moment, and the handicap alone decides. Renewals are never
//! delayed.
//!
//! The electors of one process share a [`HeldLeases`]. Their acquisition attempts take turns
//! (one attempt at a time per process), so an elector that starts a moment after a sibling won
//! already sees the new count: without that, all electors of the first replica to start would
//! try at once, each seeing `N = 0`, and take everything.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::{
    sync::{Mutex, MutexGuard},
    time::Duration,
};

/// How many of this process's leases it leads; shared by the process's electors.
#[derive(Debug, Default)]
pub struct HeldLeases {
    count: AtomicUsize,
    turn: Mutex<()>,
}

impl HeldLeases {
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leases currently led.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The extra wait before trying to take a lease not held: `count × retry_period`.
    pub fn handicap(&self, retry_period: Duration) -> Duration {
        retry_period.saturating_mul(u32::try_from(self.count()).unwrap_or(u32::MAX))
    }

    /// Waits until no sibling elector is in the middle of an acquisition attempt.
    pub(super) async fn take_turn(&self) -> MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    pub(super) fn gained(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn dropped(&self) {
        // Never below zero: `gained`/`dropped` are paired per elector, but stay safe anyway.
        let _ = self
            .count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests;
