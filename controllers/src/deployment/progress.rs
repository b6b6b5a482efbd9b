//! Progress: the `Progressing` and `ReplicaFailure` conditions and when to look again
//! (upstream progress.go `syncRolloutStatus`, `getReplicaFailures`, `requeueStuckDeployment`
//! and util `DeploymentProgressing`, `DeploymentTimedOut`).
//!
//! The pure part decides the status and the re-check; [`Syncer::sync_rollout_status`] writes
//! it. A Deployment that makes no progress gets no further events, so the controller asks to
//! be synced again when its deadline passes and then reports `ProgressDeadlineExceeded`.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};

use super::{
    conditions::{self, PROGRESSING, REPLICA_FAILURE},
    control::DeploymentControl,
    replicas, spec,
    status::{self, deployment_complete},
    sync::{SyncOutcome, Syncer},
};
use crate::runtime::SyncError;

/// `DeploymentProgressing`: compared with the status last written, more replicas are updated,
/// ready or available, or fewer old ones remain.
pub fn deployment_progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// `DeploymentTimedOut`: the `Progressing` condition of `new` was last updated more than the
/// deadline ago (an exceeded one stays exceeded, a completed one never times out).
pub fn deployment_timed_out(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = spec::progress_deadline_seconds(d) else {
        return false;
    };
    let Some(condition) = conditions::get(new, PROGRESSING) else {
        return false;
    };
    match conditions::reason(condition) {
        conditions::NEW_RS_AVAILABLE => false,
        conditions::TIMED_OUT => true,
        _ => {
            let from = condition
                .last_update_time
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
            from.as_millisecond() + i64::from(deadline) * 1000 < now.as_millisecond()
        }
    }
}

/// The object a progress message names: the new ReplicaSet, else the Deployment.
fn subject(d: &Deployment, new_rs: Option<&ReplicaSet>) -> String {
    match new_rs {
        Some(rs) => format!("ReplicaSet {:?}", replicas::name(rs)),
        None => format!(
            "Deployment {:?}",
            d.metadata.name.as_deref().unwrap_or_default()
        ),
    }
}

/// `syncRolloutStatus` without the write: `calculated` (from `calculateStatus`) with the
/// `Progressing` and `ReplicaFailure` conditions brought up to date.
pub fn rollout_status(
    d: &Deployment,
    mut new: DeploymentStatus,
    new_rs: Option<&ReplicaSet>,
    all: &[&ReplicaSet],
    now: Timestamp,
) -> DeploymentStatus {
    let deadline = spec::progress_deadline_seconds(d);
    if deadline.is_none() {
        conditions::remove(&mut new, PROGRESSING);
    }
    let old_status = d.status.clone().unwrap_or_default();
    let current = conditions::get(&old_status, PROGRESSING);
    let complete = new.replicas.unwrap_or(0) == new.updated_replicas.unwrap_or(0)
        && current.is_some_and(|c| conditions::reason(c) == conditions::NEW_RS_AVAILABLE);
    if deadline.is_some() && !complete {
        let who = subject(d, new_rs);
        if deployment_complete(d, &new) {
            conditions::set(
                &mut new,
                conditions::new_condition(
                    PROGRESSING,
                    conditions::TRUE,
                    conditions::NEW_RS_AVAILABLE,
                    format!("{who} has successfully progressed."),
                    now,
                ),
            );
        } else if deployment_progressing(d, &new) {
            let mut condition = conditions::new_condition(
                PROGRESSING,
                conditions::TRUE,
                conditions::REPLICA_SET_UPDATED,
                format!("{who} is progressing."),
                now,
            );
            if let Some(current) = current {
                if current.status == conditions::TRUE {
                    condition.last_transition_time = current.last_transition_time.clone();
                }
                conditions::remove(&mut new, PROGRESSING);
            }
            conditions::set(&mut new, condition);
        } else if deployment_timed_out(d, &new, now) {
            conditions::set(
                &mut new,
                conditions::new_condition(
                    PROGRESSING,
                    conditions::FALSE,
                    conditions::TIMED_OUT,
                    format!("{who} has timed out progressing."),
                    now,
                ),
            );
        }
    }
    match replica_failure(new_rs, all) {
        Some(failure) => conditions::set(&mut new, failure),
        None => conditions::remove(&mut new, REPLICA_FAILURE),
    }
    new
}

/// `getReplicaFailures`: the first `ReplicaFailure` condition of the new ReplicaSet, else of
/// any ReplicaSet.
fn replica_failure(
    new_rs: Option<&ReplicaSet>,
    all: &[&ReplicaSet],
) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    let failure_of = |rs: &ReplicaSet| {
        rs.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == REPLICA_FAILURE))
            .map(conditions::from_replica_set)
    };
    new_rs
        .and_then(failure_of)
        .or_else(|| all.iter().find_map(|rs| failure_of(rs)))
}

/// When to check an unchanged, unfinished rollout against its deadline again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressCheck {
    /// No deadline to watch (none set, no condition yet, complete, or already exceeded).
    None,
    /// The deadline is less than a second away: requeue now, rate-limited.
    Now,
    /// Sync again after this delay (the deadline plus one second).
    After(Duration),
}

/// `requeueStuckDeployment`.
pub fn progress_check(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> ProgressCheck {
    let Some(deadline) = spec::progress_deadline_seconds(d) else {
        return ProgressCheck::None;
    };
    let old_status = d.status.clone().unwrap_or_default();
    let Some(current) = conditions::get(&old_status, PROGRESSING) else {
        return ProgressCheck::None;
    };
    if deployment_complete(d, new) || conditions::reason(current) == conditions::TIMED_OUT {
        return ProgressCheck::None;
    }
    let from = current
        .last_update_time
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let due = from.as_millisecond() + i64::from(deadline) * 1000;
    let after_ms = due - now.as_millisecond();
    if after_ms < 1000 {
        return ProgressCheck::Now;
    }
    ProgressCheck::After(Duration::from_millis(after_ms.unsigned_abs()) + Duration::from_secs(1))
}

impl<C: DeploymentControl> Syncer<C> {
    /// `syncRolloutStatus`: compute, then write if changed, else schedule the deadline check.
    pub(super) async fn sync_rollout_status(
        &self,
        all: &[&ReplicaSet],
        new_rs: Option<&ReplicaSet>,
        d: &mut Deployment,
    ) -> Result<SyncOutcome, SyncError> {
        let now = self.clock.now();
        let calculated = status::calculate_status(all, new_rs, d, self.report_terminating, now);
        let new = rollout_status(d, calculated, new_rs, all, now);
        if status::same(d.status.as_ref(), &new) {
            return Ok(match progress_check(d, &new, now) {
                ProgressCheck::None => SyncOutcome::Done,
                ProgressCheck::Now => SyncOutcome::RequeueRateLimited,
                ProgressCheck::After(delay) => SyncOutcome::RequeueAfter(delay),
            });
        }
        d.status = Some(new);
        self.update_status(d).await?;
        Ok(SyncOutcome::Done)
    }
}

#[cfg(test)]
mod tests;
