//! Informer event handlers: which Deployment keys a Deployment, ReplicaSet or pod change
//! enqueues (upstream `addDeployment`/`updateDeployment`/`deleteDeployment`,
//! `addReplicaSet`/`updateReplicaSet`/`deleteReplicaSet`, `deletePod`).
//!
//! A ReplicaSet with a controller reference wakes that Deployment (found by name, confirmed by
//! UID); an orphan wakes every Deployment of its namespace whose non-empty selector matches its
//! labels, so one can adopt it. Pods matter only when deleted, and only to a Recreate
//! Deployment, which waits for its old pods to be gone; readiness reaches Deployments through
//! their ReplicaSets' status.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kcm_shared::{
    cached_pod::CachedPod,
    informer::{Delta, Lister, ObjectKey},
    meta::ObjectMetaRead,
    workqueue::WorkQueue,
};

use super::spec::{self, Strategy};
use crate::toolkit::{
    ObjectSelector,
    owner::{owners_selecting, resolve_controller_ref},
};

/// The handlers of the Deployment controller, shared by its three informers.
pub struct EventHandlers {
    deployments: Lister<Deployment>,
    replica_sets: Lister<ReplicaSet>,
    queue: Arc<WorkQueue<ObjectKey>>,
}

impl EventHandlers {
    pub fn new(
        deployments: Lister<Deployment>,
        replica_sets: Lister<ReplicaSet>,
        queue: Arc<WorkQueue<ObjectKey>>,
    ) -> Self {
        Self {
            deployments,
            replica_sets,
            queue,
        }
    }

    fn enqueue(&self, d: &Deployment) {
        self.queue.add(ObjectKey::from_object(d));
    }

    /// Deployment deltas: every add, update (resyncs included) and delete enqueues it.
    pub fn on_deployment(&self, delta: &Delta<Deployment>) {
        self.enqueue(delta.object());
    }

    /// `GetDeploymentsForReplicaSet`: Deployments whose non-empty selector matches the labels.
    fn deployments_selecting(&self, rs: &ReplicaSet) -> Vec<Arc<Deployment>> {
        if rs.meta_labels().is_empty() {
            return Vec::new();
        }
        let found = owners_selecting(&self.deployments, rs, |d: &Deployment| {
            ObjectSelector::from_label_selector(spec::selector(d))
        });
        if found.len() > 1 {
            tracing::debug!(
                replica_set = %rs.cache_key(),
                count = found.len(),
                "user error: more than one deployment selects the replica set"
            );
        }
        found
    }

    fn owner_of(&self, rs: &ReplicaSet) -> Option<Arc<Deployment>> {
        let reference = rs.meta_controller()?;
        resolve_controller_ref(
            &self.deployments,
            rs.meta_namespace().unwrap_or_default(),
            reference,
        )
    }

    /// ReplicaSet deltas.
    pub fn on_replica_set(&self, delta: &Delta<ReplicaSet>) {
        match delta {
            Delta::Added { obj, .. } => self.replica_set_added(obj),
            Delta::Updated { old, new } => {
                if !delta.is_same_resource_version() {
                    self.replica_set_updated(old, new);
                }
            }
            Delta::Deleted { obj, .. } => self.replica_set_deleted(obj),
        }
    }

    fn replica_set_added(&self, rs: &ReplicaSet) {
        if rs.is_terminating() {
            // Seen for the first time while being deleted (e.g. after a restart).
            self.replica_set_deleted(rs);
            return;
        }
        if rs.meta_controller().is_some() {
            if let Some(d) = self.owner_of(rs) {
                self.enqueue(&d);
            }
            return;
        }
        for d in self.deployments_selecting(rs) {
            self.enqueue(&d);
        }
    }

    fn replica_set_updated(&self, old: &ReplicaSet, cur: &ReplicaSet) {
        let ref_changed = old.meta_controller() != cur.meta_controller();
        if ref_changed
            && old.meta_controller().is_some()
            && let Some(d) = self.owner_of(old)
        {
            self.enqueue(&d);
        }
        if cur.meta_controller().is_some() {
            if let Some(d) = self.owner_of(cur) {
                self.enqueue(&d);
            }
            return;
        }
        let labels_changed = old.meta_labels() != cur.meta_labels();
        if labels_changed || ref_changed {
            for d in self.deployments_selecting(cur) {
                self.enqueue(&d);
            }
        }
    }

    fn replica_set_deleted(&self, rs: &ReplicaSet) {
        if let Some(d) = self.owner_of(rs) {
            self.enqueue(&d);
        }
    }

    /// Pod deltas: a deleted pod wakes the Recreate Deployment owning its ReplicaSet.
    pub fn on_pod(&self, delta: &Delta<CachedPod>) {
        let Delta::Deleted { obj, .. } = delta else {
            return;
        };
        let Some(d) = self.deployment_for_pod(obj) else {
            return;
        };
        if spec::strategy(&d) == Strategy::Recreate {
            self.enqueue(&d);
        }
    }

    /// `getDeploymentForPod`: pod → controlling ReplicaSet → controlling Deployment.
    fn deployment_for_pod(&self, pod: &CachedPod) -> Option<Arc<Deployment>> {
        let reference = pod.meta_controller()?;
        let rs = resolve_controller_ref(&self.replica_sets, &pod.namespace, reference)?;
        self.owner_of(&rs)
    }
}

#[cfg(test)]
mod tests;
