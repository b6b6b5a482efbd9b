//! Per-controller sync metrics and the per-key limit on how often a failing key is logged.
//!
//! Upstream logs every failed sync through `utilruntime.HandleError` at error level; a key that
//! fails in a hot loop (an RBAC gap, a quota) would then flood the log. Here the first failure of
//! a key is always logged, and further failures of the same key at most once per
//! [`LOG_EVERY`], with the number of failures not logged in between.

use std::{collections::HashMap, sync::LazyLock, time::Duration};

use parking_lot::Mutex;
use prometheus::{
    HistogramVec, IntCounterVec, exponential_buckets, register_histogram_vec,
    register_int_counter_vec,
};
use tokio::time::Instant;

/// Failed syncs (errors and panics, not requeues by design), by controller.
pub static SYNC_ERRORS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "kcm_controller_sync_errors_total",
        "Syncs that failed (returned an error or panicked), by controller.",
        &["controller"]
    )
    .expect("kcm_controller_sync_errors_total registers once")
});

/// How long syncs take, by controller.
pub static SYNC_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "kcm_controller_sync_duration_seconds",
        "How long one sync of one key takes, by controller.",
        &["controller"],
        exponential_buckets(0.001, 2.0, 15).unwrap_or_default()
    )
    .expect("kcm_controller_sync_duration_seconds registers once")
});

/// Makes both families appear on `/metrics` before the first sample.
pub fn register() {
    LazyLock::force(&SYNC_ERRORS);
    LazyLock::force(&SYNC_DURATION);
}

/// A failing key is logged again at most this often.
pub const LOG_EVERY: Duration = Duration::from_secs(30);
/// Beyond this many remembered keys, entries older than [`LOG_EVERY`] are dropped.
const MAX_REMEMBERED: usize = 10_000;

/// Remembers, per key, when its failure was last logged and how many were not.
#[derive(Debug, Default)]
pub struct FailureLog {
    keys: Mutex<HashMap<String, Logged>>,
}

#[derive(Debug, Clone, Copy)]
struct Logged {
    at: Instant,
    suppressed: u64,
}

impl FailureLog {
    /// Whether this failure of `key` should be logged now; `Some(n)` with the number of
    /// failures left unlogged since the last line.
    pub fn should_log(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let mut keys = self.keys.lock();
        if keys.len() >= MAX_REMEMBERED {
            keys.retain(|_, logged| now.duration_since(logged.at) < LOG_EVERY);
        }
        match keys.get_mut(key) {
            Some(logged) if now.duration_since(logged.at) < LOG_EVERY => {
                logged.suppressed += 1;
                None
            }
            Some(logged) => {
                let suppressed = logged.suppressed;
                *logged = Logged {
                    at: now,
                    suppressed: 0,
                };
                Some(suppressed)
            }
            None => {
                keys.insert(
                    key.to_owned(),
                    Logged {
                        at: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }

    /// The key synced fine: its next failure is logged at once.
    pub fn succeeded(&self, key: &str) {
        let mut keys = self.keys.lock();
        if !keys.is_empty() {
            keys.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
