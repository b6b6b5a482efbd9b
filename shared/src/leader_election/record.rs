//! The leader election record and the pure decisions made about it.
//!
//! The one rule that keeps two leaders apart despite clock skew (client-go's `observedTime`):
//! a candidate never compares the holder's `renewTime` with its own clock. It remembers *when
//! it saw the record change*, on its own monotonic clock, and treats the lease as held until
//! `leaseDurationSeconds` (the holder's value) have passed since then. Any renewal changes the
//! record and restarts every follower's wait.

use k8s_openapi::{api::coordination::v1::LeaseSpec, apimachinery::pkg::apis::meta::v1::MicroTime};
use tokio::time::{Duration, Instant};

/// client-go's `LeaderElectionRecord`, as stored in a Lease's spec.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LeaderElectionRecord {
    /// Empty when nobody holds (or the holder released) the lease.
    pub holder_identity: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<jiff::Timestamp>,
    pub renew_time: Option<jiff::Timestamp>,
    pub leader_transitions: i32,
}

impl LeaderElectionRecord {
    pub fn from_spec(spec: &LeaseSpec) -> Self {
        Self {
            holder_identity: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or_default(),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            leader_transitions: spec.lease_transitions.unwrap_or_default(),
        }
    }

    /// Writes the record onto `spec`, keeping fields the record does not own
    /// (`strategy`, `preferredHolder`) as they were.
    pub fn apply_to(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = Some(self.holder_identity.clone());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = self.acquire_time.map(MicroTime);
        spec.renew_time = self.renew_time.map(MicroTime);
        spec.lease_transitions = Some(self.leader_transitions);
    }

    pub fn lease_duration(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.lease_duration_seconds).unwrap_or(0))
    }
}

/// What this candidate last saw of the lease, and when (on the local monotonic clock).
#[derive(Clone, Debug, Default)]
pub struct Observation {
    seen: Option<(LeaderElectionRecord, Instant)>,
}

/// What to do after reading the lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Someone else holds a lease that has not expired by our observation: stay a follower.
    Follow { holder: String },
    /// Write this record (take over, acquire a released lease, or renew our own).
    Write(LeaderElectionRecord),
}

impl Observation {
    /// Records what was read; the clock only restarts when the record changed.
    pub fn observe(&mut self, record: &LeaderElectionRecord, now: Instant) {
        match &self.seen {
            Some((seen, _)) if seen == record => {}
            _ => self.seen = Some((record.clone(), now)),
        }
    }

    /// Records our own successful write: we saw it change just now.
    pub fn observe_own_write(&mut self, record: LeaderElectionRecord, now: Instant) {
        self.seen = Some((record, now));
    }

    pub fn record(&self) -> Option<&LeaderElectionRecord> {
        self.seen.as_ref().map(|(r, _)| r)
    }

    pub fn observed_at(&self) -> Option<Instant> {
        self.seen.as_ref().map(|(_, t)| *t)
    }

    /// The holder's lease is still valid by our own clock (`isLeaseValid`).
    pub fn is_valid(&self, now: Instant) -> bool {
        self.expires_at().is_some_and(|expiry| expiry > now)
    }

    /// When the observed lease stops being valid by our own clock.
    pub fn expires_at(&self) -> Option<Instant> {
        self.seen
            .as_ref()
            .map(|(record, at)| *at + record.lease_duration())
    }

    /// `tryAcquireOrRenew` steps 4–5, after [`Observation::observe`] of the current record.
    pub fn decide(
        &self,
        identity: &str,
        lease_duration: Duration,
        now: Instant,
        wall: jiff::Timestamp,
    ) -> Decision {
        let duration_seconds = i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(current) = self.record() else {
            return Decision::Write(LeaderElectionRecord {
                holder_identity: identity.to_string(),
                lease_duration_seconds: duration_seconds,
                acquire_time: Some(wall),
                renew_time: Some(wall),
                leader_transitions: 0,
            });
        };
        let held_by_other =
            !current.holder_identity.is_empty() && current.holder_identity != identity;
        if held_by_other && self.is_valid(now) {
            return Decision::Follow {
                holder: current.holder_identity.clone(),
            };
        }
        let renewing = current.holder_identity == identity;
        Decision::Write(LeaderElectionRecord {
            holder_identity: identity.to_string(),
            lease_duration_seconds: duration_seconds,
            acquire_time: if renewing {
                current.acquire_time.or(Some(wall))
            } else {
                Some(wall)
            },
            renew_time: Some(wall),
            leader_transitions: if renewing {
                current.leader_transitions
            } else {
                current.leader_transitions + 1
            },
        })
    }
}

/// The record a leader writes when it steps down (`release`): no holder, a 1s lease.
pub fn released(current: &LeaderElectionRecord, wall: jiff::Timestamp) -> LeaderElectionRecord {
    LeaderElectionRecord {
        holder_identity: String::new(),
        lease_duration_seconds: 1,
        acquire_time: Some(wall),
        renew_time: Some(wall),
        leader_transitions: current.leader_transitions,
    }
}

#[cfg(test)]
mod tests;
