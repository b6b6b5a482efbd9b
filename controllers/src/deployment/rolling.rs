//! The RollingUpdate strategy (upstream rolling.go and util `NewRSNewReplicas`).
//!
//! Each sync first grows the new ReplicaSet as far as `maxSurge` allows, then shrinks old ones
//! as far as `maxUnavailable` allows: unhealthy old replicas first (they cost no
//! availability), then available ones, oldest ReplicaSet first, never below
//! `spec.replicas - maxUnavailable` available. The counting is pure ([`new_rs_new_replicas`],
//! [`max_scaled_down`], [`unhealthy_scale_downs`], [`old_scale_downs`]); the rollout applies it.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::{
    control::DeploymentControl,
    fenceposts::{self, InvalidIntOrPercent, scaled_value},
    replicas, spec,
    spec::Strategy,
    status::deployment_complete,
    sync::{SyncOutcome, Syncer},
};
use crate::runtime::SyncError;

/// Why the new ReplicaSet's size cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum NewReplicasError {
    #[error(transparent)]
    MaxSurge(#[from] InvalidIntOrPercent),
    #[error("deployment type {0} isn't supported")]
    Unsupported(String),
}

/// `NewRSNewReplicas`: the new ReplicaSet's next size, given the Σ `spec.replicas` of all
/// ReplicaSets (`current_total`, the new one included) and its own size now.
pub fn new_rs_new_replicas(
    d: &Deployment,
    current_total: i32,
    new_size: i32,
) -> Result<i32, NewReplicasError> {
    let want = spec::replicas(d);
    match spec::strategy(d) {
        Strategy::RollingUpdate => {
            let zero = k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(0);
            let (surge, _) = spec::rolling_params(d);
            let surge = scaled_value(surge.unwrap_or(&zero), want, true)?;
            let max_total = want + surge;
            if current_total >= max_total {
                return Ok(new_size);
            }
            let scale_up = (max_total - current_total).min(want - new_size);
            Ok(new_size + scale_up)
        }
        Strategy::Recreate => Ok(want),
        Strategy::Other(other) => Err(NewReplicasError::Unsupported(other)),
    }
}

/// How many old replicas may go at most (`reconcileOldReplicaSets`): everything above
/// `minAvailable`, less the new ReplicaSet's replicas that are not available yet.
pub fn max_scaled_down(d: &Deployment, all_total: i32, new_rs: &ReplicaSet) -> i32 {
    let min_available = spec::replicas(d) - fenceposts::max_unavailable(d);
    let new_unavailable = replicas::spec_replicas(new_rs) - replicas::available_replicas(new_rs);
    all_total - min_available - new_unavailable
}

/// `cleanupUnhealthyReplicas`: `old` sorted oldest first; each ReplicaSet with unavailable
/// replicas loses them, up to `max` in total. Returns `(index, new size)`.
pub fn unhealthy_scale_downs(old: &[&ReplicaSet], max: i32) -> Vec<(usize, i32)> {
    let mut done = 0;
    let mut plan = Vec::new();
    for (i, rs) in old.iter().enumerate() {
        if done >= max {
            break;
        }
        let size = replicas::spec_replicas(rs);
        let available = replicas::available_replicas(rs);
        if size == 0 || size == available {
            continue;
        }
        let count = (max - done).min(size - available);
        plan.push((i, size - count));
        done += count;
    }
    plan
}

/// `scaleDownOldReplicaSetsForRollingUpdate`: `old` sorted oldest first; remove the replicas
/// available beyond `min_available` (`available` counts every ReplicaSet's).
pub fn old_scale_downs(
    old: &[&ReplicaSet],
    available: i32,
    min_available: i32,
) -> Vec<(usize, i32)> {
    if available <= min_available {
        return Vec::new();
    }
    let total = available - min_available;
    let mut done = 0;
    let mut plan = Vec::new();
    for (i, rs) in old.iter().enumerate() {
        if done >= total {
            break;
        }
        let size = replicas::spec_replicas(rs);
        if size == 0 {
            continue;
        }
        let count = size.min(total - done);
        plan.push((i, size - count));
        done += count;
    }
    plan
}

impl<C: DeploymentControl> Syncer<C> {
    /// `rolloutRolling`.
    pub(super) async fn rollout_rolling(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<SyncOutcome, SyncError> {
        let (new_rs, old) = self.get_all_and_sync_revision(d, rs_list, true).await?;
        let Some(new_rs) = new_rs else {
            return Err(SyncError::Retry(
                "no new replica set after creating it".into(),
            ));
        };
        let all: Vec<&ReplicaSet> = old.iter().chain([&new_rs]).collect();
        if self.reconcile_new_replica_set(&all, &new_rs, d).await? {
            return self.sync_rollout_status(&all, Some(&new_rs), d).await;
        }
        let active_old: Vec<ReplicaSet> = old
            .iter()
            .filter(|rs| replicas::is_active(rs))
            .cloned()
            .collect();
        if self
            .reconcile_old_replica_sets(&all, active_old, &new_rs, d)
            .await
        {
            return self.sync_rollout_status(&all, Some(&new_rs), d).await;
        }
        if d.status.as_ref().is_some_and(|s| deployment_complete(d, s)) {
            self.cleanup_deployment(&old, d).await?;
        }
        self.sync_rollout_status(&all, Some(&new_rs), d).await
    }

    /// `reconcileNewReplicaSet`: true if the new ReplicaSet was resized.
    async fn reconcile_new_replica_set(
        &self,
        all: &[&ReplicaSet],
        new_rs: &ReplicaSet,
        d: &Deployment,
    ) -> Result<bool, SyncError> {
        let want = spec::replicas(d);
        let size = replicas::spec_replicas(new_rs);
        if size == want {
            return Ok(false);
        }
        let target = if size > want {
            want
        } else {
            new_rs_new_replicas(d, replicas::sum_spec(all.iter().copied()), size)
                .map_err(|e| SyncError::Permanent(e.to_string()))?
        };
        Ok(self.scale_replica_set(new_rs, target, d, false).await?.0)
    }

    /// `reconcileOldReplicaSets`: true if any old replica was scaled down. Failures end the
    /// step and are not returned, as upstream's are not.
    async fn reconcile_old_replica_sets(
        &self,
        all: &[&ReplicaSet],
        mut old: Vec<ReplicaSet>,
        new_rs: &ReplicaSet,
        d: &Deployment,
    ) -> bool {
        if replicas::sum_spec(&old) == 0 {
            return false;
        }
        let max = max_scaled_down(d, replicas::sum_spec(all.iter().copied()), new_rs);
        if max <= 0 {
            return false;
        }
        old.sort_by(replicas::by_creation);
        let plan = unhealthy_scale_downs(&old.iter().collect::<Vec<_>>(), max);
        let mut scaled = 0;
        for (i, size) in plan {
            let before = replicas::spec_replicas(&old[i]);
            match self.scale_replica_set(&old[i], size, d, false).await {
                Ok((_, updated)) => old[i] = updated,
                Err(error) => {
                    tracing::debug!(%error, "scaling down unhealthy old replicas failed");
                    return false;
                }
            }
            scaled += before - size;
        }
        let available = replicas::sum_available(old.iter().chain([new_rs]));
        let min_available = spec::replicas(d) - fenceposts::max_unavailable(d);
        for (i, size) in old_scale_downs(&old.iter().collect::<Vec<_>>(), available, min_available)
        {
            let before = replicas::spec_replicas(&old[i]);
            if let Err(error) = self.scale_replica_set(&old[i], size, d, false).await {
                tracing::debug!(%error, "scaling down old replicas failed");
                return false;
            }
            scaled += before - size;
        }
        scaled > 0
    }
}

#[cfg(test)]
mod tests;
