//! The wall clock controllers read (`time.Now()` behind upstream's injectable `clock.Clock`).
//!
//! Every controller takes its clock from the [`crate::context::ControllerContext`], so tests
//! pin or advance time without sleeping. Timers and delays use Tokio's clock, which paused-time
//! tests control separately; this is only for timestamps written to or compared with the API
//! (conditions' `lastTransitionTime`, `minReadySeconds`, progress deadlines).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use parking_lot::Mutex;

/// A cheap-to-clone source of the current time.
#[derive(Clone)]
pub struct Clock {
    now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").field("now", &self.now()).finish()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self::from_fn(Timestamp::now)
    }

    /// A clock reading `now()`.
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self { now: Arc::new(now) }
    }

    /// A clock that stands still at `at` until its [`ManualClock`] moves it.
    pub fn manual(at: Timestamp) -> (Self, ManualClock) {
        let time = Arc::new(Mutex::new(at));
        let reader = Arc::clone(&time);
        (Self::from_fn(move || *reader.lock()), ManualClock { time })
    }

    pub fn now(&self) -> Timestamp {
        (self.now)()
    }
}

/// The handle that moves a [`Clock::manual`] clock (upstream's `testingclock.FakeClock`).
#[derive(Clone, Debug)]
pub struct ManualClock {
    time: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    pub fn set(&self, at: Timestamp) {
        *self.time.lock() = at;
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut time = self.time.lock();
        *time = time.saturating_add(by).unwrap_or(*time);
    }
}

#[cfg(test)]
mod tests;
