//! Expectations: how many creations and deletions a controller still waits to see in its cache.
//!
//! Ports `ControllerExpectations` and `UIDTrackingControllerExpectations` from kubernetes'
//! `pkg/controller/controller_utils.go`. A ReplicaSet-style controller that has just asked the
//! API server for 10 pods must not count the pods again before its informer has seen them, or it
//! would create 10 more. So before acting it records "expect 10 creations" under its own key, the
//! pod event handlers lower that count as the pods show up, and the sync only manages replicas
//! again once [`ControllerExpectations::satisfied_expectations`] says so.
//!
//! A record that has not been fulfilled after [`EXPECTATIONS_TIMEOUT`] counts as satisfied
//! anyway, so a lost watch event delays the controller by at most five minutes instead of
//! wedging it. Time is read from [`tokio::time::Instant`], so tests control it with paused time.
//!
//! Everything is synchronous: the informer event handlers that observe creations and deletions
//! are plain functions.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use parking_lot::Mutex;

use crate::informer::ObjectKey;
use tokio::time::Instant;

/// After this long an unfulfilled record no longer blocks the controller (upstream
/// `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The outstanding counts for one controller key (upstream `ControlleeExpectations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectations {
    /// Creations still to be observed.
    pub add: i64,
    /// Deletions still to be observed.
    pub del: i64,
    /// When the counts were last set (raising or lowering does not move it).
    pub set_at: Instant,
}

impl Expectations {
    /// Every expected creation and deletion has been observed.
    pub fn fulfilled(&self) -> bool {
        self.add <= 0 && self.del <= 0
    }

    /// Set longer ago than [`EXPECTATIONS_TIMEOUT`].
    pub fn is_expired(&self) -> bool {
        self.set_at.elapsed() > EXPECTATIONS_TIMEOUT
    }
}

/// Expected creations and deletions per controller key.
#[derive(Debug, Default)]
pub struct ControllerExpectations {
    records: Mutex<HashMap<ObjectKey, Expectations>>,
}

impl ControllerExpectations {
    pub fn new() -> Self {
        Self::default()
    }

    /// The record for `key`, if any (upstream `GetExpectations`).
    pub fn get_expectations(&self, key: &ObjectKey) -> Option<Expectations> {
        self.records.lock().get(key).copied()
    }

    /// Whether the controller may act on what its cache shows (upstream
    /// `SatisfiedExpectations`): true without a record (a new controller, or one whose
    /// expectations were deleted), when every expectation was observed, or when the record has
    /// expired.
    pub fn satisfied_expectations(&self, key: &ObjectKey) -> bool {
        let Some(record) = self.get_expectations(key) else {
            tracing::trace!(%key, "no expectations recorded");
            return true;
        };
        if record.fulfilled() {
            tracing::trace!(%key,
                add = record.add,
                del = record.del,
                "expectations fulfilled"
            );
            true
        } else if record.is_expired() {
            tracing::debug!(%key,
                add = record.add,
                del = record.del,
                "expectations expired"
            );
            true
        } else {
            tracing::trace!(%key,
                add = record.add,
                del = record.del,
                "expectations pending"
            );
            false
        }
    }

    /// Replaces the record for `key` with fresh counts, timestamped now (upstream
    /// `SetExpectations`).
    pub fn set_expectations(&self, key: &ObjectKey, add: i64, del: i64) {
        let record = Expectations {
            add,
            del,
            set_at: Instant::now(),
        };
        self.records.lock().insert(key.clone(), record);
    }

    /// Expect `adds` creations and nothing else (upstream `ExpectCreations`).
    pub fn expect_creations(&self, key: &ObjectKey, adds: i64) {
        self.set_expectations(key, adds, 0);
    }

    /// Expect `dels` deletions and nothing else (upstream `ExpectDeletions`).
    pub fn expect_deletions(&self, key: &ObjectKey, dels: i64) {
        self.set_expectations(key, 0, dels);
    }

    /// Decreases the counts of an existing record; without a record nothing happens (upstream
    /// `LowerExpectations`).
    pub fn lower_expectations(&self, key: &ObjectKey, add: i64, del: i64) {
        self.adjust(key, -add, -del);
    }

    /// Increases the counts of an existing record; without a record nothing happens (upstream
    /// `RaiseExpectations`).
    pub fn raise_expectations(&self, key: &ObjectKey, add: i64, del: i64) {
        self.adjust(key, add, del);
    }

    /// One expected creation was seen (upstream `CreationObserved`).
    pub fn creation_observed(&self, key: &ObjectKey) {
        self.lower_expectations(key, 1, 0);
    }

    /// One expected deletion was seen (upstream `DeletionObserved`).
    pub fn deletion_observed(&self, key: &ObjectKey) {
        self.lower_expectations(key, 0, 1);
    }

    /// Forgets `key`, e.g. when the controller object itself is deleted (upstream
    /// `DeleteExpectations`).
    pub fn delete_expectations(&self, key: &ObjectKey) {
        self.records.lock().remove(key);
    }

    fn adjust(&self, key: &ObjectKey, add: i64, del: i64) {
        if let Some(record) = self.records.lock().get_mut(key) {
            record.add = record.add.saturating_add(add);
            record.del = record.del.saturating_add(del);
            tracing::trace!(%key,
                add = record.add,
                del = record.del,
                "expectations adjusted"
            );
        }
    }
}

/// Expectations that remember *which* objects are expected to be deleted (upstream
/// `UIDTrackingControllerExpectations`).
///
/// A pod is usually seen twice on its way out: first with a deletion timestamp, later as
/// deleted. Counting both would lower the deletion count twice; remembering the keys of the
/// pods being deleted (`namespace/name`, despite the upstream name "UIDs") makes each one count
/// once.
#[derive(Debug, Default)]
pub struct UidTrackingExpectations {
    counts: ControllerExpectations,
    /// Per controller key, the object keys whose deletion is still expected. Locked before
    /// `counts` whenever both are needed.
    pending_deletions: Mutex<HashMap<ObjectKey, HashSet<ObjectKey>>>,
}

impl UidTrackingExpectations {
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts alone, for the calls that need no object keys.
    pub fn counts(&self) -> &ControllerExpectations {
        &self.counts
    }

    pub fn get_expectations(&self, key: &ObjectKey) -> Option<Expectations> {
        self.counts.get_expectations(key)
    }

    pub fn satisfied_expectations(&self, key: &ObjectKey) -> bool {
        self.counts.satisfied_expectations(key)
    }

    pub fn set_expectations(&self, key: &ObjectKey, add: i64, del: i64) {
        self.counts.set_expectations(key, add, del);
    }

    pub fn expect_creations(&self, key: &ObjectKey, adds: i64) {
        self.counts.expect_creations(key, adds);
    }

    pub fn creation_observed(&self, key: &ObjectKey) {
        self.counts.creation_observed(key);
    }

    pub fn lower_expectations(&self, key: &ObjectKey, add: i64, del: i64) {
        self.counts.lower_expectations(key, add, del);
    }

    pub fn raise_expectations(&self, key: &ObjectKey, add: i64, del: i64) {
        self.counts.raise_expectations(key, add, del);
    }

    /// Expects the deletion of exactly these objects, replacing any earlier set and counts
    /// (upstream `ExpectDeletions`). Duplicate object keys count once.
    pub fn expect_deletions<I>(&self, key: &ObjectKey, deleted: I)
    where
        I: IntoIterator<Item = ObjectKey>,
    {
        let deleted: HashSet<ObjectKey> = deleted.into_iter().collect();
        let count = i64::try_from(deleted.len()).unwrap_or(i64::MAX);
        let mut pending = self.pending_deletions.lock();
        if let Some(previous) = pending.get(key).filter(|set| !set.is_empty()) {
            tracing::warn!(%key, ?previous, "replacing expected deletions still pending");
        }
        pending.insert(key.clone(), deleted);
        self.counts.expect_deletions(key, count);
    }

    /// The object `deleted` is gone or going (upstream `DeletionObserved`). Lowers the count only
    /// the first time for an object that was expected to be deleted.
    pub fn deletion_observed(&self, key: &ObjectKey, deleted: &ObjectKey) {
        let mut pending = self.pending_deletions.lock();
        if let Some(set) = pending.get_mut(key)
            && set.remove(deleted)
        {
            self.counts.deletion_observed(key);
        }
    }

    /// The object keys whose deletion is still expected under `key` (upstream `GetUIDs`).
    pub fn get_uids(&self, key: &ObjectKey) -> Option<HashSet<ObjectKey>> {
        self.pending_deletions.lock().get(key).cloned()
    }

    /// Forgets both the counts and the object keys of `key` (upstream `DeleteExpectations`).
    pub fn delete_expectations(&self, key: &ObjectKey) {
        let mut pending = self.pending_deletions.lock();
        self.counts.delete_expectations(key);
        pending.remove(key);
    }
}

#[cfg(test)]
mod tests;
