//! The elector loop: acquire, lead while renewing, and lose or release (client-go `LeaderElector`).
//!
//! * Acquire: try every `retryPeriod` (jittered ×1.2) until a write succeeds.
//! * Lead: the caller's work runs with a token that is cancelled the moment leadership ends.
//! * Renew every `retryPeriod`; each API call is bounded by `max(1s, renewDeadline/2)` so one hung
//!   request cannot eat the window. If no renewal has succeeded for `renewDeadline` the lease is
//!   lost: the work is cancelled at once and [`Outcome::Lost`] returned, still `leaseDuration -
//!   renewDeadline` before any follower may take over.
//! * On the caller's cancellation (SIGTERM) the elector keeps renewing while the work drains, so
//!   nobody else starts syncing early, then optionally releases the lease (empty holder, 1s) so a
//!   standby takes over within a retry period. Upstream KCM does not release; we do.

use std::{
    future::Future,
    sync::{Arc, LazyLock},
};

use parking_lot::Mutex;
use prometheus::{IntCounterVec, IntGaugeVec, register_int_counter_vec, register_int_gauge_vec};
use rand::Rng;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::{
    lock::{LeaseLock, LockError, StoredLease},
    record::{Decision, Observation, released},
};

static MASTER_STATUS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "leader_election_master_status",
        "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
        &["name"]
    )
    .expect("leader_election_master_status registers once")
});

static SLOWPATH_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "leader_election_slowpath_total",
        "Total number of slow path exercised in renewing leader leases. 'name' is the string used to identify the lease.",
        &["name"]
    )
    .expect("leader_election_slowpath_total registers once")
});

/// How long past the renew deadline the health check tolerates a silent leader (upstream: 20s).
pub const HEALTH_TOLERANCE: Duration = Duration::from_secs(20);

/// Timing and identity, validated as client-go's `NewLeaderElector`.
#[derive(Clone, Debug)]
pub struct ElectionConfig {
    pub identity: String,
    /// The `name` label of the metrics and the subject of log lines (the lease name).
    pub name: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
    pub release_on_cancel: bool,
}

impl ElectionConfig {
    /// client-go's checks: leaseDuration > renewDeadline > retryPeriod × 1.2, all positive.
    pub fn validate(&self) -> Result<(), String> {
        if self.identity.is_empty() {
            return Err("leader election identity must not be empty".into());
        }
        if self.retry_period.is_zero()
            || self.renew_deadline.is_zero()
            || self.lease_duration.is_zero()
        {
            return Err("lease duration, renew deadline and retry period must be positive".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return Err("lease duration must be greater than renew deadline".into());
        }
        if self.renew_deadline <= self.retry_period.mul_f64(1.2) {
            return Err("renew deadline must be greater than retry period × 1.2".into());
        }
        Ok(())
    }

    fn call_timeout(&self) -> Duration {
        (self.renew_deadline / 2).max(Duration::from_secs(1))
    }
}

/// How a run of the elector ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Renewal failed for the renew deadline (or someone else took the lease); the work was cancelled.
    Lost,
    /// Cancelled by the caller: never led, or led, drained, and (if configured) released.
    Stopped,
}

/// Transitions the elector reports, for logs, events and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Acquired,
    Lost,
    Released,
    NewLeader(String),
}

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

/// Called on every transition with the lease as last seen.
type TransitionHook = Box<dyn Fn(&Transition, Option<&StoredLease>) + Send + Sync>;

/// Mutable election state, owned by the elector task.
#[derive(Default)]
struct State {
    observation: Observation,
    stored: Option<StoredLease>,
    leading: bool,
    last_renew: Option<Instant>,
    last_holder: Option<String>,
}

pub struct LeaderElector<L: LeaseLock> {
    config: ElectionConfig,
    lock: L,
    state: Mutex<State>,
    status: Arc<LeaderStatus>,
    on_transition: TransitionHook,
}

impl<L: LeaseLock> LeaderElector<L> {
    pub fn new(config: ElectionConfig, lock: L) -> Self {
        Self {
            config,
            lock,
            state: Mutex::new(State::default()),
            status: Arc::new(LeaderStatus::default()),
            on_transition: Box::new(|_, _| {}),
        }
    }

    /// Called on every [`Transition`] with the lease as last seen (for events on the Lease).
    pub fn on_transition(
        mut self,
        f: impl Fn(&Transition, Option<&StoredLease>) + Send + Sync + 'static,
    ) -> Self {
        self.on_transition = Box::new(f);
        self
    }

    pub fn status(&self) -> Arc<LeaderStatus> {
        self.status.clone()
    }

    pub fn config(&self) -> &ElectionConfig {
        &self.config
    }

    /// Campaigns until leading, runs `lead` while leading, and returns how it ended.
    pub async fn run<F, Fut>(&self, cancel: &CancellationToken, lead: F) -> Outcome
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        MASTER_STATUS.with_label_values(&[&self.config.name]).set(0);
        tracing::info!(lease = %self.lock.describe(), identity = %self.config.identity, "attempting to acquire leader lease");
        loop {
            if self.try_acquire_or_renew().await {
                break;
            }
            let pause = self
                .config
                .retry_period
                .mul_f64(1.0 + 1.2 * rand::rng().random::<f64>());
            tokio::select! {
                _ = cancel.cancelled() => return Outcome::Stopped,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        self.transition(Transition::Acquired);

        let leading = cancel.child_token();
        let mut work = tokio::spawn(lead(leading.clone()));
        loop {
            tokio::select! {
                _ = &mut work => break,
                renewed = self.renew_until_deadline(cancel) => {
                    if !renewed {
                        leading.cancel();
                        self.transition(Transition::Lost);
                        return Outcome::Lost;
                    }
                }
            }
        }
        // The work returned: either we were cancelled and it drained, or it ended on its own.
        if self.config.release_on_cancel {
            self.release().await;
        }
        self.set_leading(false);
        Outcome::Stopped
    }

    /// Waits one retry period, then renews, retrying until success or the renew deadline.
    async fn renew_until_deadline(&self, cancel: &CancellationToken) -> bool {
        let _ = cancel; // renewal continues during a drain; the work's completion ends the loop
        tokio::time::sleep(self.config.retry_period).await;
        loop {
            if self.try_acquire_or_renew().await {
                return true;
            }
            let last = self.state.lock().last_renew.unwrap_or_else(Instant::now);
            if !self.state.lock().leading || last.elapsed() >= self.config.renew_deadline {
                return false;
            }
            let remaining = self.config.renew_deadline.saturating_sub(last.elapsed());
            tokio::time::sleep(self.config.retry_period.min(remaining)).await;
        }
    }

    /// One attempt (`tryAcquireOrRenew`); true when we hold the lease afterwards.
    async fn try_acquire_or_renew(&self) -> bool {
        let now = Instant::now();
        let wall = jiff::Timestamp::now();
        let identity = self.config.identity.as_str();

        // Fast path: renew from the lease we wrote last, without a GET.
        let fast = {
            let state = self.state.lock();
            match (
                &state.stored,
                state.leading && state.observation.is_valid(now),
            ) {
                (Some(stored), true) => {
                    match state
                        .observation
                        .decide(identity, self.config.lease_duration, now, wall)
                    {
                        Decision::Write(record) => Some((stored.clone(), record)),
                        Decision::Follow { .. } => None,
                    }
                }
                _ => None,
            }
        };
        if let Some((stored, record)) = fast {
            match self.bounded(self.lock.update(&stored, &record)).await {
                Ok(written) => return self.wrote(written, now),
                Err(error) => {
                    tracing::debug!(%error, "fast-path renewal failed; re-reading the lease")
                }
            }
        }

        let current = match self.bounded(self.lock.get()).await {
            Ok(current) => current,
            Err(error) => {
                tracing::warn!(lease = %self.lock.describe(), %error, "error retrieving lease");
                return false;
            }
        };
        let Some(current) = current else {
            let decision =
                Observation::default().decide(identity, self.config.lease_duration, now, wall);
            let Decision::Write(record) = decision else {
                return false;
            };
            return match self.bounded(self.lock.create(&record)).await {
                Ok(created) => self.wrote(created, now),
                Err(error) => {
                    tracing::debug!(%error, "error creating lease");
                    false
                }
            };
        };

        let decision = {
            let mut state = self.state.lock();
            state.observation.observe(&current.record, now);
            state.stored = Some(current.clone());
            state
                .observation
                .decide(identity, self.config.lease_duration, now, wall)
        };
        self.note_holder(&current.record.holder_identity);
        match decision {
            Decision::Follow { .. } => {
                if self.state.lock().leading {
                    // Another holder with a valid lease: we are no longer the leader.
                    self.state.lock().leading = false;
                }
                false
            }
            Decision::Write(record) => {
                if current.record.holder_identity == identity {
                    SLOWPATH_TOTAL.with_label_values(&[&self.config.name]).inc();
                }
                match self.bounded(self.lock.update(&current, &record)).await {
                    Ok(written) => self.wrote(written, now),
                    Err(error) => {
                        tracing::debug!(%error, "failed to update lease");
                        false
                    }
                }
            }
        }
    }

    fn wrote(&self, written: StoredLease, now: Instant) -> bool {
        let mut state = self.state.lock();
        state
            .observation
            .observe_own_write(written.record.clone(), now);
        state.stored = Some(written);
        state.leading = true;
        state.last_renew = Some(now);
        drop(state);
        let mut status = self.status.inner.lock();
        status.leading = true;
        status.last_renew = Some(now);
        true
    }

    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, LockError>>,
    ) -> Result<T, LockError> {
        match tokio::time::timeout(self.config.call_timeout(), call).await {
            Ok(result) => result,
            Err(_) => Err(LockError::Api(format!(
                "timed out after {:?}",
                self.config.call_timeout()
            ))),
        }
    }

    /// Steps down: writes an empty holder with a 1s lease, if we still hold it.
    async fn release(&self) {
        let stored = self.state.lock().stored.clone();
        let Some(stored) = stored else { return };
        if stored.record.holder_identity != self.config.identity {
            return;
        }
        let record = released(&stored.record, jiff::Timestamp::now());
        let result = match self.bounded(self.lock.update(&stored, &record)).await {
            Ok(written) => Ok(written),
            // Our cached copy may be stale after a slow-path renewal race: re-read once.
            Err(_) => match self.bounded(self.lock.get()).await {
                Ok(Some(fresh)) if fresh.record.holder_identity == self.config.identity => {
                    self.bounded(self.lock.update(&fresh, &record)).await
                }
                Ok(_) => return,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(written) => {
                self.state.lock().stored = Some(written);
                self.transition(Transition::Released);
            }
            Err(error) => tracing::warn!(%error, "failed to release the lease"),
        }
    }

    fn note_holder(&self, holder: &str) {
        let changed = {
            let mut state = self.state.lock();
            if state.last_holder.as_deref() == Some(holder) {
                false
            } else {
                state.last_holder = Some(holder.to_string());
                true
            }
        };
        if changed && !holder.is_empty() && holder != self.config.identity {
            self.transition(Transition::NewLeader(holder.to_string()));
        }
    }

    fn set_leading(&self, leading: bool) {
        self.state.lock().leading = leading;
        self.status.inner.lock().leading = leading;
        MASTER_STATUS
            .with_label_values(&[&self.config.name])
            .set(i64::from(leading));
    }

    fn transition(&self, transition: Transition) {
        let lease = self.lock.describe();
        let identity = &self.config.identity;
        let at_unix_ms = jiff::Timestamp::now().as_millisecond();
        match &transition {
            Transition::Acquired => {
                self.set_leading(true);
                tracing::info!(%lease, %identity, at_unix_ms, "successfully acquired lease");
            }
            Transition::Lost => {
                self.set_leading(false);
                tracing::error!(%lease, %identity, at_unix_ms, "leaderelection lost");
            }
            Transition::Released => {
                self.set_leading(false);
                tracing::info!(%lease, %identity, at_unix_ms, "released lease");
            }
            Transition::NewLeader(holder) => tracing::info!(%lease, %holder, "new leader elected"),
        }
        let stored = self.state.lock().stored.clone();
        (self.on_transition)(&transition, stored.as_ref());
    }
}
