//! The Recreate strategy (upstream recreate.go): every old ReplicaSet goes to 0, and the new
//! one is created (or scaled up) only once no old pod is left running — terminating pods held
//! by finalizers included; terminal (Succeeded/Failed) pods do not hold it back. Pod deletions
//! wake the Deployment ([`super::handlers`]), so the wait needs no polling.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kcm_shared::cached_pod::CachedPod;

use super::{
    control::DeploymentControl,
    replicas,
    status::deployment_complete,
    sync::{SyncOutcome, Syncer},
};
use crate::{runtime::SyncError, toolkit::owner::controlled_by};

/// `oldPodsRunning`: old ReplicaSets still report replicas, or a pod of an old ReplicaSet
/// (`old_pods`) is not terminal.
pub fn old_pods_running(old: &[ReplicaSet], old_pods: &[Arc<CachedPod>]) -> bool {
    if replicas::sum_status(old) > 0 {
        return true;
    }
    old_pods
        .iter()
        .any(|pod| !matches!(pod.phase.as_deref(), Some("Failed" | "Succeeded")))
}

impl<C: DeploymentControl> Syncer<C> {
    /// The pods controlled by the ReplicaSets of `rss` other than `new_rs` (upstream's
    /// `getPodMapForDeployment`, read for the old ReplicaSets only).
    fn old_pods(&self, rss: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> Vec<Arc<CachedPod>> {
        let new_uid = new_rs.map(replicas::uid);
        rss.iter()
            .filter(|rs| Some(replicas::uid(rs)) != new_uid)
            .flat_map(|rs| controlled_by(&self.pods, replicas::uid(rs)))
            .filter(|pod| {
                pod.controller
                    .as_ref()
                    .is_some_and(|c| &*c.kind == "ReplicaSet")
            })
            .collect()
    }

    /// `rolloutRecreate`.
    pub(super) async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        rs_list: &mut Vec<ReplicaSet>,
    ) -> Result<SyncOutcome, SyncError> {
        let (mut new_rs, mut old) = self.get_all_and_sync_revision(d, rs_list, false).await?;
        let mut scaled = false;
        for rs in old.iter().filter(|rs| replicas::is_active(rs)) {
            if self.scale_replica_set(rs, 0, d, false).await?.0 {
                scaled = true;
            }
        }
        if scaled {
            let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
            return self.sync_rollout_status(&all, new_rs.as_ref(), d).await;
        }
        let pods = self.old_pods(rs_list, new_rs.as_ref());
        if old_pods_running(&old, &pods) {
            let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
            return self.sync_rollout_status(&all, new_rs.as_ref(), d).await;
        }
        if new_rs.is_none() {
            (new_rs, old) = self.get_all_and_sync_revision(d, rs_list, true).await?;
        }
        if let Some(rs) = new_rs.as_ref() {
            self.scale_replica_set(rs, crate::deployment::spec::replicas(d), d, false)
                .await?;
        }
        if d.status.as_ref().is_some_and(|s| deployment_complete(d, s)) {
            self.cleanup_deployment(&old, d).await?;
        }
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs.as_ref()).collect();
        self.sync_rollout_status(&all, new_rs.as_ref(), d).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::testing::rs;

    fn pod(phase: Option<&str>) -> Arc<CachedPod> {
        let mut cached = CachedPod::default();
        cached.phase = phase.map(Into::into);
        Arc::new(cached)
    }

    #[test]
    fn old_replica_sets_with_replicas_are_running() {
        assert!(old_pods_running(
            &[rs("old", 0, 0, 0), rs("o2", 0, 1, 0)],
            &[]
        ));
        assert!(!old_pods_running(&[rs("old", 0, 0, 0)], &[]));
    }

    #[test]
    fn terminal_pods_do_not_count_but_every_other_phase_does() {
        let old = [rs("old", 0, 0, 0)];
        assert!(!old_pods_running(
            &old,
            &[pod(Some("Failed")), pod(Some("Succeeded"))]
        ));
        for phase in [None, Some("Pending"), Some("Running"), Some("Unknown")] {
            assert!(
                old_pods_running(&old, &[pod(Some("Failed")), pod(phase)]),
                "{phase:?}"
            );
        }
    }
}
