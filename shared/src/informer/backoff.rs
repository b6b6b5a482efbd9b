//! How long an informer waits after a failed list or watch before trying again: client-go's
//! reflector backoff (`wait.NewExponentialBackoffManager(800ms, 30s, 2min, 2.0, 1.0)`).
//!
//! Why not kube's `default_backoff()`: kube's `StreamBackoff` resets its backoff on every `Ok`
//! item, and kube's watcher emits a synthetic `Ok(Event::Init)` before each relist attempt. A
//! LIST that keeps failing (no RBAC rights, say) therefore retried every 0.8–1.6 s forever,
//! about 0.9 LIST/s per informer. Here the delay only shrinks back after two minutes in which no
//! failure happened, exactly client-go's rule, so a failing LIST backs off to 30 s (60 s with
//! jitter) and stays there.
//!
//! The informer shares a [`RetryDelay`] with its backoff so that the failure it logs can say
//! when the next attempt will be.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kube::runtime::utils::Backoff;
use tokio::time::Instant;

/// First delay after a failure.
pub const INITIAL_DELAY: Duration = Duration::from_millis(800);
/// Longest base delay (before jitter).
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// A failure after this long without one starts again from [`INITIAL_DELAY`].
pub const RESET_AFTER: Duration = Duration::from_secs(120);
const FACTOR: u32 = 2;
/// Each delay is drawn from `[base, base · (1 + JITTER))`.
const JITTER: f64 = 1.0;

/// The delay the backoff chose last, for the informer's log line.
#[derive(Debug, Default)]
pub struct RetryDelay(AtomicU64);

impl RetryDelay {
    fn set(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.0.store(millis, Ordering::Relaxed);
    }

    /// The delay of the most recent failure (zero before any).
    pub fn last(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::Relaxed))
    }
}

/// An exponential backoff that grows on every failure and resets only after a quiet period.
#[derive(Debug)]
pub struct ReflectorBackoff {
    /// The base delay of the last failure; `None` before the first (or after a reset).
    base: Option<Duration>,
    last_failure: Option<Instant>,
    chosen: Arc<RetryDelay>,
}

impl ReflectorBackoff {
    pub fn new(chosen: Arc<RetryDelay>) -> Self {
        Self {
            base: None,
            last_failure: None,
            chosen,
        }
    }

    /// The base delay (before jitter) for a failure at `now`.
    fn next_base(&mut self, now: Instant) -> Duration {
        let quiet = self
            .last_failure
            .is_some_and(|last| now.saturating_duration_since(last) > RESET_AFTER);
        if quiet {
            self.base = None;
        }
        self.last_failure = Some(now);
        let base = match self.base {
            None => INITIAL_DELAY,
            Some(previous) => previous.saturating_mul(FACTOR).min(MAX_DELAY),
        };
        self.base = Some(base);
        base
    }
}

impl Iterator for ReflectorBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = crate::jitter::jitter(self.next_base(Instant::now()), JITTER);
        self.chosen.set(delay);
        Some(delay)
    }
}

impl Backoff for ReflectorBackoff {
    /// Deliberately nothing: kube calls this on every `Ok` item, including the `Init` marker
    /// the watcher emits before a relist that may fail again. Only [`RESET_AFTER`] without a
    /// failure resets the delay.
    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests;
