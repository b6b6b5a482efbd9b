//! What `/healthz` and the metrics read about an elector: whether it leads, and whether a
//! leader is still renewing (client-go's `HealthzAdaptor` watchdog).

use parking_lot::Mutex;
use tokio::time::{Duration, Instant};

/// How long past the renew deadline the health check tolerates a silent leader (upstream: 20s).
pub const HEALTH_TOLERANCE: Duration = Duration::from_secs(20);

/// Shared, cheaply readable leadership state (for `/healthz` and metrics).
#[derive(Default)]
pub struct LeaderStatus {
    inner: Mutex<StatusInner>,
}

#[derive(Default)]
struct StatusInner {
    leading: bool,
    last_renew: Option<Instant>,
}

impl LeaderStatus {
    pub fn is_leader(&self) -> bool {
        self.inner.lock().leading
    }

    pub(super) fn set_leading(&self, leading: bool) {
        self.inner.lock().leading = leading;
    }

    /// A successful write at `now`: we lead, as of then.
    pub(super) fn renewed(&self, now: Instant) {
        let mut inner = self.inner.lock();
        inner.leading = true;
        inner.last_renew = Some(now);
    }

    #[cfg(test)]
    pub(crate) fn set_for_tests(&self, leading: bool, last_renew: Option<Instant>) {
        let mut inner = self.inner.lock();
        inner.leading = leading;
        inner.last_renew = last_renew;
    }

    /// The watchdog: a leader that has not renewed for `renew_deadline + 20s` is wedged.
    pub fn check(&self, renew_deadline: Duration) -> Result<(), String> {
        let inner = self.inner.lock();
        match (inner.leading, inner.last_renew) {
            (true, Some(at)) if at.elapsed() > renew_deadline + HEALTH_TOLERANCE => Err(format!(
                "leader has not renewed the lease for {:?}",
                at.elapsed()
            )),
            _ => Ok(()),
        }
    }
}
