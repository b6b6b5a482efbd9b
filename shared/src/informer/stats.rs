//! Counters of what one informer has seen and emitted.
//!
//! They exist for tests and diagnostics: an integration test can check that a type was listed
//! and watched once, or that every delete across an apiserver restart reached the handlers
//! (as a watch delete or as a relist tombstone), without instrumenting the handlers. Counts are
//! per informer, not per handler: one delta delivered to three handlers counts once.

use std::sync::atomic::{AtomicU64, Ordering};

use super::delta::Delta;

/// A snapshot of an informer's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InformerStats {
    /// Times the informer's run loop was started.
    pub starts: u64,
    /// Watch events processed (`Init`, `InitApply`, `InitDone`, `Apply`, `Delete`).
    pub watch_events: u64,
    /// Errors the watch stream yielded (each is retried after backoff).
    pub watch_errors: u64,
    /// Completed lists (`InitDone`), the first one included.
    pub lists: u64,
    pub added: u64,
    pub updated: u64,
    /// Deletes seen on the watch (`Deleted { final_state_unknown: false }`).
    pub deleted: u64,
    /// Objects found missing at a relist (`Deleted { final_state_unknown: true }`).
    pub tombstones: u64,
    /// `Updated{o,o}` deltas produced by resync, summed over handlers (resync is per handler).
    pub resynced: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    starts: AtomicU64,
    watch_events: AtomicU64,
    watch_errors: AtomicU64,
    lists: AtomicU64,
    added: AtomicU64,
    updated: AtomicU64,
    deleted: AtomicU64,
    tombstones: AtomicU64,
    resynced: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Counters {
    /// Counts a start and returns its number (1 for the first), which doubles as the run's
    /// generation.
    pub(crate) fn started(&self) -> u64 {
        self.starts.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn watch_event(&self) {
        bump(&self.watch_events, 1);
    }

    pub(crate) fn watch_error(&self) {
        bump(&self.watch_errors, 1);
    }

    pub(crate) fn listed(&self) {
        bump(&self.lists, 1);
    }

    pub(crate) fn resynced(&self, deltas: u64) {
        bump(&self.resynced, deltas);
    }

    pub(crate) fn emitted<K>(&self, deltas: &[Delta<K>]) {
        for delta in deltas {
            let counter = match delta {
                Delta::Added { .. } => &self.added,
                Delta::Updated { .. } => &self.updated,
                Delta::Deleted {
                    final_state_unknown: false,
                    ..
                } => &self.deleted,
                Delta::Deleted {
                    final_state_unknown: true,
                    ..
                } => &self.tombstones,
            };
            bump(counter, 1);
        }
    }

    pub(crate) fn snapshot(&self) -> InformerStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        InformerStats {
            starts: read(&self.starts),
            watch_events: read(&self.watch_events),
            watch_errors: read(&self.watch_errors),
            lists: read(&self.lists),
            added: read(&self.added),
            updated: read(&self.updated),
            deleted: read(&self.deleted),
            tombstones: read(&self.tombstones),
            resynced: read(&self.resynced),
        }
    }
}
