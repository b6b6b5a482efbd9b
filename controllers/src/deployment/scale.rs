//! Scaling events and paused Deployments (upstream sync.go `sync`, `scale`, `isScalingEvent`
//! and util `GetReplicaSetProportion`, `getReplicaSetFraction`): a Deployment whose active
//! ReplicaSets were sized for another `spec.replicas`, or that is paused, is scaled without
//! rolling out. With one active ReplicaSet (or none) that one (or the newest) takes the whole
//! size; with several, the extra (or missing) replicas are spread over them in proportion to
//! their size.
//!
//! Each ReplicaSet's base is its share of the `max-replicas` annotation it was last scaled
//! for; rounding leftovers go to the first ReplicaSet in the scaling order (the largest, newer
//! first when adding, older first when removing).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::{
    annotations,
    control::DeploymentControl,
    fenceposts,
    replicas::{self, ActiveOrLatest},
    spec,
    sync::{SyncOutcome, Syncer},
};
use crate::runtime::SyncError;

/// `getReplicaSetFraction`: how many replicas `rs` gains (or loses) when the Deployment goes
/// from the size its `max-replicas` annotation records to `spec.replicas + maxSurge`.
pub fn replica_set_fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let size = replicas::spec_replicas(rs);
    let want = spec::replicas(d);
    if want == 0 {
        return -size;
    }
    let max_now = want + fenceposts::max_surge(d);
    let max_before = match annotations::max_replicas(rs) {
        Some(n) if n != 0 => n,
        _ => {
            let status_replicas = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            if status_replicas == 0 {
                return 0;
            }
            status_replicas
        }
    };
    let scaled = (i64::from(size) * i64::from(max_now)) as f64 / f64::from(max_before);
    scaled.round() as i32 - size
}

/// `GetReplicaSetProportion`: the fraction, capped by what is left to add (or remove).
pub fn replica_set_proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if replicas::spec_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = replica_set_fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The proportional part of `scale` for a RollingUpdate Deployment: the new size of each of
/// the `active` ReplicaSets, in the order they are to be written (each is written even when
/// its size stays, to refresh its annotations). Returns `(index into active, new size)`.
pub fn proportional_sizes(d: &Deployment, active: &[&ReplicaSet]) -> Vec<(usize, i32)> {
    let want = spec::replicas(d);
    let allowed = if want > 0 {
        want + fenceposts::max_surge(d)
    } else {
        0
    };
    let to_add = allowed - replicas::sum_spec(active.iter().copied());
    let mut order: Vec<usize> = (0..active.len()).collect();
    if to_add > 0 {
        order.sort_by(|&a, &b| replicas::by_size_newer(active[a], active[b]));
    } else if to_add < 0 {
        order.sort_by(|&a, &b| replicas::by_size_older(active[a], active[b]));
    }
    let mut added = 0;
    let mut sizes: Vec<(usize, i32)> = order
        .iter()
        .map(|&i| {
            let size = replicas::spec_replicas(active[i]);
            if to_add == 0 {
                return (i, size);
            }
            let proportion = replica_set_proportion(active[i], d, to_add, added);
            added += proportion;
            (i, size + proportion)
        })
        .collect();
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        first.1 = (first.1 + to_add - added).max(0);
    }
    sizes
}

impl<C: DeploymentControl> Syncer<C> {
    /// upstream `sync`: scaling (and history cleanup while paused) without rolling out.
    pub(super) async fn sync_scaling(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<SyncOutcome, SyncError> {
        let (new_rs, mut old) = self.get_all_and_sync_revision(d, rs_list, false).await?;
        self.scale(d, new_rs.as_ref(), &mut old).await?;
        if spec::paused(d) && annotations::rollback_to(d).is_none() {
            self.cleanup_deployment(&old, d).await?;
        }
        self.sync_deployment_status(&old, new_rs.as_ref(), d)
            .await?;
        Ok(SyncOutcome::Done)
    }

    /// `scale`: bring the active ReplicaSets to the Deployment's size.
    async fn scale(
        &self,
        d: &Deployment,
        new_rs: Option<&ReplicaSet>,
        old: &mut [ReplicaSet],
    ) -> Result<(), SyncError> {
        let want = spec::replicas(d);
        // FindActiveOrLatest sorts the old ReplicaSets newest first, in place.
        old.sort_by(|a, b| replicas::by_creation(b, a));
        if let Some(which) = replicas::find_active_or_latest(new_rs, old) {
            let rs = match which {
                ActiveOrLatest::New => new_rs,
                ActiveOrLatest::Old(i) => old.get(i),
            };
            if let Some(rs) = rs
                && replicas::spec_replicas(rs) != want
            {
                self.scale_replica_set(rs, want, d, false).await?;
            }
            return Ok(());
        }
        if replicas::is_saturated(d, new_rs) {
            for rs in old.iter().filter(|rs| replicas::is_active(rs)) {
                self.scale_replica_set(rs, 0, d, false).await?;
            }
            return Ok(());
        }
        if spec::is_rolling_update(d) {
            let active: Vec<&ReplicaSet> = old
                .iter()
                .chain(new_rs)
                .filter(|rs| replicas::is_active(rs))
                .collect();
            for (i, size) in proportional_sizes(d, &active) {
                self.scale_replica_set(active[i], size, d, true).await?;
            }
        }
        Ok(())
    }

    /// `isScalingEvent`: an active ReplicaSet was sized for a different `spec.replicas`.
    pub(super) async fn is_scaling_event(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<bool, SyncError> {
        let (new_rs, old) = self.get_all_and_sync_revision(d, rs_list, false).await?;
        let want = spec::replicas(d);
        Ok(old
            .iter()
            .chain(new_rs.as_ref())
            .filter(|rs| replicas::is_active(rs))
            .filter_map(annotations::desired_replicas)
            .any(|desired| desired != want))
    }
}

#[cfg(test)]
mod tests;
