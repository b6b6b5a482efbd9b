//! The elector loop: acquire, lead while renewing, and lose or release (client-go `LeaderElector`).
//!
//! * Acquire: try every `retryPeriod` (jittered ×1.2) until a write succeeds. Beyond client-go,
//!   the pause ends early when the followed lease expires by our observation, and when
//!   [`LeaderElector::waker`] is notified (the caller watches the Lease), so a standby sees a
//!   release or the last renewal of a dead holder at once, not up to 2.2 retry periods later.
//!   With a [`HeldLeases`] share, each attempt first waits the balancing handicap
//!   ([`super::balance`]).
//! * Lead: the caller's work runs with a token that is cancelled the moment leadership ends.
//! * Renew every `retryPeriod`; each API call is bounded by `max(1s, renewDeadline/2)` so one hung
//!   request cannot eat the window, and the whole retrying is cut off at `renewDeadline` after the
//!   last successful renewal (client-go bounds it with a context). Then the lease is lost: the
//!   work is cancelled at once and [`Outcome::Lost`] returned, still `leaseDuration -
//!   renewDeadline` before any follower may take over.
//! * On the caller's cancellation (SIGTERM) the elector keeps renewing while the work drains, so
//!   nobody else starts syncing early, then optionally releases the lease (empty holder, 1s) so a
//!   standby takes over within a retry period. Upstream KCM does not release; we do.

use std::{
    future::Future,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicBool, Ordering},
    },
};

use parking_lot::Mutex;
use prometheus::{IntCounterVec, IntGaugeVec, register_int_counter_vec, register_int_gauge_vec};
use tokio::{
    sync::Notify,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

use super::{
    balance::HeldLeases,
    lock::{LeaseLock, LockError, StoredLease},
    record::{Decision, Observation, released},
    status::LeaderStatus,
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

/// Called on every transition with the lease as last seen.
type TransitionHook = Box<dyn Fn(&Transition, Option<&StoredLease>) + Send + Sync>;

/// How one acquisition attempt ended.
enum Attempt {
    Won,
    Failed,
    Cancelled,
}

impl From<bool> for Attempt {
    fn from(won: bool) -> Self {
        if won { Attempt::Won } else { Attempt::Failed }
    }
}

/// What reading the lease showed.
enum Look {
    Unreadable,
    Missing(Decision),
    Present(Box<StoredLease>, Decision),
}

impl Look {
    /// Whether our next write would take (or create) the lease.
    fn free(&self) -> bool {
        matches!(
            self,
            Look::Missing(Decision::Write(_)) | Look::Present(_, Decision::Write(_))
        )
    }
}

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
    wake: Arc<Notify>,
    /// The process's share of leases, when several electors balance them.
    held: Option<Arc<HeldLeases>>,
    /// Whether this elector's leadership is counted in `held`.
    counted: AtomicBool,
}

impl<L: LeaseLock> LeaderElector<L> {
    pub fn new(config: ElectionConfig, lock: L) -> Self {
        Self {
            config,
            lock,
            state: Mutex::new(State::default()),
            status: Arc::new(LeaderStatus::default()),
            on_transition: Box::new(|_, _| {}),
            wake: Arc::new(Notify::new()),
            held: None,
            counted: AtomicBool::new(false),
        }
    }

    /// Balances this elector against its siblings sharing `held` ([`super::balance`]).
    pub fn with_balance(mut self, held: Arc<HeldLeases>) -> Self {
        self.held = Some(held);
        self
    }

    /// Notify this when the Lease changed: a waiting candidate then tries again at once.
    /// Optional; without it the candidate polls every jittered retry period.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
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
        // `acquire` (wait.JitterUntil), with the early wake-up.
        loop {
            match self.attempt_to_acquire(cancel).await {
                Attempt::Won => break,
                Attempt::Cancelled => return Outcome::Stopped,
                Attempt::Failed => {}
            }
            let pause = self.pause_before_retry();
            tokio::select! {
                _ = cancel.cancelled() => return Outcome::Stopped,
                _ = tokio::time::sleep(pause) => {}
                _ = self.wake.notified() => {}
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

    /// client-go's jittered retry period, cut short at the moment the lease we follow expires
    /// by our observation: client-go would notice at its next poll, up to 2.2 retry periods
    /// later; trying right then makes failover take the lease duration and no more, and puts
    /// all candidates on the same start line for the balancing handicap.
    fn pause_before_retry(&self) -> Duration {
        let jittered = crate::jitter::jitter(self.config.retry_period, 1.2);
        let now = Instant::now();
        match self.state.lock().observation.expires_at() {
            Some(expiry) if expiry > now => jittered.min(expiry - now),
            _ => jittered,
        }
    }

    /// One acquisition attempt; with a [`HeldLeases`] share, a lease that looks free is taken
    /// only after the balancing handicap, in turn with the sibling electors.
    async fn attempt_to_acquire(&self, cancel: &CancellationToken) -> Attempt {
        let Some(held) = &self.held else {
            return Attempt::from(self.try_acquire_or_renew().await);
        };
        // Look without delay, so that every candidate observes changes when they happen and
        // judges expiry alike; only taking the lease is handicapped.
        if !self
            .look(Instant::now(), jiff::Timestamp::now())
            .await
            .free()
        {
            return Attempt::Failed;
        }
        let mut waited = Duration::ZERO;
        loop {
            let turn = held.take_turn().await;
            let handicap = held.handicap(self.config.retry_period);
            if handicap <= waited {
                let won = self.try_acquire_or_renew().await;
                if won {
                    // Counted before the turn passes on, so the next sibling sees it.
                    self.count_in();
                }
                drop(turn);
                return Attempt::from(won);
            }
            // The handicap may have grown while we slept: wait out the difference.
            drop(turn);
            tokio::select! {
                _ = cancel.cancelled() => return Attempt::Cancelled,
                _ = tokio::time::sleep(handicap - waited) => waited = handicap,
            }
        }
    }

    /// Waits one retry period, then renews, retrying until success or the renew deadline
    /// (`renew`: `wait.PollUntilContextTimeout` under a `renewDeadline` context).
    async fn renew_until_deadline(&self, cancel: &CancellationToken) -> bool {
        let _ = cancel; // renewal continues during a drain; the work's completion ends the loop
        tokio::time::sleep(self.config.retry_period).await;
        let last = self.state.lock().last_renew.unwrap_or_else(Instant::now);
        let deadline = last + self.config.renew_deadline;
        loop {
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(true) => return true,
                // Someone else holds a valid lease now.
                Ok(false) if !self.state.lock().leading => return false,
                Ok(false) => {}
                Err(_) => {
                    tracing::warn!(lease = %self.lock.describe(), "renewal still pending at the renew deadline");
                    return false;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep(self.config.retry_period.min(deadline - now)).await;
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

        let (current, decision) = match self.look(now, wall).await {
            Look::Unreadable => return false,
            Look::Missing(Decision::Write(record)) => {
                return match self.bounded(self.lock.create(&record)).await {
                    Ok(created) => self.wrote(created, now),
                    Err(error) => {
                        log_write_failure(&self.lock.describe(), &error, "creating the lease");
                        false
                    }
                };
            }
            Look::Missing(Decision::Follow { .. }) => return false,
            Look::Present(current, decision) => (current, decision),
        };
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
                        log_write_failure(&self.lock.describe(), &error, "updating the lease");
                        false
                    }
                }
            }
        }
    }

    /// Reads the lease, records the observation, and decides (`tryAcquireOrRenew` steps 2–5).
    async fn look(&self, now: Instant, wall: jiff::Timestamp) -> Look {
        let identity = self.config.identity.as_str();
        let current = match self.bounded(self.lock.get()).await {
            Ok(current) => current,
            Err(error) => {
                // Upstream: klog.Errorf("error retrieving resource lock ...") on every attempt.
                tracing::error!(lease = %self.lock.describe(), %error, "error retrieving lease");
                return Look::Unreadable;
            }
        };
        let Some(current) = current else {
            return Look::Missing(Observation::default().decide(
                identity,
                self.config.lease_duration,
                now,
                wall,
            ));
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
        Look::Present(Box::new(current), decision)
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
        self.status.renewed(now);
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
        if leading {
            self.count_in();
        } else {
            self.count_out();
        }
        self.state.lock().leading = leading;
        self.status.set_leading(leading);
        MASTER_STATUS
            .with_label_values(&[&self.config.name])
            .set(i64::from(leading));
    }

    fn count_in(&self) {
        if let Some(held) = &self.held
            && !self.counted.swap(true, Ordering::SeqCst)
        {
            held.gained();
        }
    }

    fn count_out(&self) {
        if let Some(held) = &self.held
            && self.counted.swap(false, Ordering::SeqCst)
        {
            held.dropped();
        }
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

/// A lost race is routine (another candidate wrote first); anything else — a missing namespace,
/// no rights, no connection — needs an operator and is an error at the default verbosity, as
/// upstream's `klog.Errorf` on every attempt.
fn log_write_failure(lease: &str, error: &LockError, doing: &str) {
    match error {
        LockError::Lost(_) => tracing::debug!(lease, %error, "{doing} lost a race"),
        LockError::Api(_) => tracing::error!(lease, %error, "error {doing}"),
    }
}
