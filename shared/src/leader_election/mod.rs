//! Leader election on a `coordination.k8s.io/v1` Lease with client-go's semantics.
//!
//! kube-rs has no elector, and the crate kube-leader-election both fails to build beside
//! k8s-openapi 0.29 and takes over expired leases with an unconditional patch, so two
//! candidates can both believe they lead. This one follows client-go's `LeaderElector`:
//! expiry judged by when *we* saw the record change ([`record`]), writes as compare-and-swap on
//! the resourceVersion ([`lock`]), and a leader that cannot renew within the renew deadline
//! stops before any follower may take over ([`elector`]), whose state `/healthz` reads
//! ([`status`]). Beyond client-go, the electors of one process can share their leases out with
//! other replicas ([`balance`]).

pub mod balance;
pub mod elector;
pub mod lock;
pub mod record;
pub mod status;

pub use balance::HeldLeases;
pub use elector::{ElectionConfig, LeaderElector, Outcome, Transition};
pub use lock::{KubeLeaseLock, LeaseLock, LockError, StoredLease};
pub use record::LeaderElectionRecord;
pub use status::{HEALTH_TOLERANCE, LeaderStatus};

/// `<hostname>_<uuid>`: unique even for two processes on one host (upstream's identity).
pub fn identity() -> String {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

#[cfg(test)]
mod tests;
