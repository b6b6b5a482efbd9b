//! The status a sync reports (upstream `calculateStatus`, the skip test of
//! `updateReplicaSetStatus`, and `FindMinNextPodAvailabilityCheck`).
//!
//! Counts come from the claimed active pods as the sync saw them before creating or deleting
//! anything; pods it just created show up in a later sync, once the informer has them. The
//! `ReplicaFailure` condition is added when managing replicas failed and removed on the first
//! sync that succeeds; while failures continue the existing condition is left as it is.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kcm_shared::{cached_pod::CachedPod, meta::ObjectMetaRead};

use super::kind::{ReplicaCondition, ReplicaStatus};

/// `apps.ReplicaSetReplicaFailure` / `v1.ReplicationControllerReplicaFailure`.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
/// Condition reason when too few pods exist and creating failed.
pub const FAILED_CREATE: &str = "FailedCreate";
/// Condition reason when too many pods exist and deleting failed.
pub const FAILED_DELETE: &str = "FailedDelete";

/// Everything `calculateStatus` reads.
#[derive(Clone, Copy, Debug)]
pub struct StatusInputs<'a> {
    /// The status currently stored on the object.
    pub current: &'a ReplicaStatus,
    pub desired_replicas: i32,
    pub min_ready_seconds: i32,
    pub template_labels: Option<&'a BTreeMap<String, String>>,
    /// Claimed active pods.
    pub active: &'a [Arc<CachedPod>],
    /// Claimed terminating pods, `None` where the kind does not report them.
    pub terminating: Option<usize>,
    /// The error of managing replicas in this sync, as its message.
    pub manage_error: Option<&'a str>,
    pub now: Timestamp,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `calculateStatus`. `observed_generation` is carried over; it is set when writing.
pub fn calculate_status(inputs: &StatusInputs<'_>) -> ReplicaStatus {
    let mut status = inputs.current.clone();
    let empty = BTreeMap::new();
    let template_labels = inputs.template_labels.unwrap_or(&empty);
    let fully_labeled = inputs
        .active
        .iter()
        .filter(|pod| {
            let labels = pod.meta_labels();
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v.as_str()))
        })
        .count();
    let ready: Vec<&Arc<CachedPod>> = inputs.active.iter().filter(|p| p.is_ready()).collect();
    let available = ready
        .iter()
        .filter(|p| p.is_available(inputs.min_ready_seconds, inputs.now))
        .count();

    let has_failure = status.conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match (inputs.manage_error, has_failure) {
        (Some(message), false) => {
            let diff = count(inputs.active.len()) - inputs.desired_replicas;
            let reason = match diff.signum() {
                -1 => FAILED_CREATE,
                1 => FAILED_DELETE,
                _ => "",
            };
            status.conditions.push(ReplicaCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_transition_time: Some(Time(inputs.now)),
            });
        }
        (None, true) => status.conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        _ => {}
    }

    status.replicas = count(inputs.active.len());
    status.fully_labeled_replicas = count(fully_labeled);
    status.ready_replicas = count(ready.len());
    status.available_replicas = count(available);
    status.terminating_replicas = inputs.terminating.map(count);
    status
}

/// The inverse of `updateReplicaSetStatus`'s early return: write when a count, the conditions
/// or the observed generation differ.
pub fn needs_update(current: &ReplicaStatus, new: &ReplicaStatus, generation: i64) -> bool {
    current.replicas != new.replicas
        || current.fully_labeled_replicas != new.fully_labeled_replicas
        || current.ready_replicas != new.ready_replicas
        || current.available_replicas != new.available_replicas
        || current.terminating_replicas != new.terminating_replicas
        || current.conditions != new.conditions
        || current.observed_generation != generation
}

/// `nextPodAvailabilityCheck`: how long until a Ready pod becomes available, if it is not yet.
fn until_available(
    pod: &CachedPod,
    min_ready_seconds: i32,
    at: Timestamp,
) -> Option<SignedDuration> {
    if min_ready_seconds <= 0 {
        return None;
    }
    let since = pod.ready_since()?;
    let available_at = since + SignedDuration::from_secs(i64::from(min_ready_seconds));
    let remaining = available_at.duration_since(at);
    (remaining > SignedDuration::ZERO).then_some(remaining)
}

/// `FindMinNextPodAvailabilityCheck`: when to sync again so the next pod to become available
/// is counted. The pod is picked as of the status evaluation (`evaluated_at`) and the delay
/// recomputed at `now`; if that moment has already passed, requeue at once.
pub fn next_availability_check(
    pods: &[Arc<CachedPod>],
    min_ready_seconds: i32,
    evaluated_at: Timestamp,
    now: Timestamp,
) -> Option<Duration> {
    let (_, pod) = pods
        .iter()
        .filter_map(|p| until_available(p, min_ready_seconds, evaluated_at).map(|d| (d, p)))
        .min_by_key(|(d, _)| *d)?;
    let delay = until_available(pod, min_ready_seconds, now).unwrap_or(SignedDuration::ZERO);
    Some(Duration::try_from(delay).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
