//! Informer event handlers: which owner keys a ReplicaSet/RC or pod change enqueues, and which
//! expectations it fulfils (upstream `addRS`/`updateRS`/`deleteRS`, `addPod`/`updatePod`/
//! `deletePod`).
//!
//! A pod with a controller reference wakes only that owner, found by name and confirmed by UID.
//! An orphan wakes every owner in its namespace whose selector matches it, so one of them can
//! adopt it; orphans never count as observed creations. Handlers only read listers, adjust
//! expectations and enqueue, so they stay cheap.

use std::{sync::Arc, time::Duration};

use kcm_shared::{
    cached_pod::CachedPod,
    expectations::UidTrackingExpectations,
    informer::{Delta, Lister, ObjectKey},
    meta::{ControllerRef, ObjectMetaRead},
    workqueue::WorkQueue,
};

use super::kind::ReplicaKind;
use crate::toolkit::{
    consistency::ConsistencyStore,
    owner::{owners_selecting, resolve_controller_ref},
};

/// The handlers of one replica controller, shared by its two informers.
pub struct EventHandlers<K> {
    owners: Lister<K>,
    queue: Arc<WorkQueue<ObjectKey>>,
    expectations: Arc<UidTrackingExpectations>,
    consistency: Option<Arc<ConsistencyStore>>,
}

impl<K: ReplicaKind> EventHandlers<K> {
    pub fn new(
        owners: Lister<K>,
        queue: Arc<WorkQueue<ObjectKey>>,
        expectations: Arc<UidTrackingExpectations>,
    ) -> Self {
        Self {
            owners,
            queue,
            expectations,
            consistency: None,
        }
    }

    /// Forget an owner's recorded writes when it is deleted (upstream `deleteRS`).
    #[must_use]
    pub fn with_consistency(mut self, store: Option<Arc<ConsistencyStore>>) -> Self {
        self.consistency = store;
        self
    }

    /// ReplicaSet/RC deltas.
    pub fn on_owner(&self, delta: &Delta<K>) {
        match delta {
            Delta::Added { obj, .. } => self.queue.add(ObjectKey::from_object(obj.as_ref())),
            Delta::Updated { old, new } => {
                // A delete and re-create under the same name seen as one update: forget the
                // old object's expectations first.
                if old.meta().uid != new.meta().uid {
                    self.owner_deleted(old);
                }
                // Enqueue on every update, status-only ones and resyncs included: a resync
                // is what retries an owner whose last creations failed.
                self.queue.add(ObjectKey::from_object(new.as_ref()));
            }
            Delta::Deleted { obj, .. } => self.owner_deleted(obj),
        }
    }

    fn owner_deleted(&self, owner: &K) {
        let key = ObjectKey::from_object(owner);
        tracing::debug!(kind = %K::kind(&()), %key, "owner deleted");
        // A new owner with the same name must start without stale expectations.
        self.expectations.delete_expectations(&key);
        if let Some(store) = &self.consistency {
            store.clear(&key, owner.meta_uid());
        }
        self.queue.add(key);
    }

    /// Pod deltas.
    pub fn on_pod(&self, delta: &Delta<CachedPod>) {
        match delta {
            Delta::Added { obj, .. } => self.pod_added(obj),
            Delta::Updated { old, new } => {
                // Resyncs and unchanged relists carry the same resourceVersion.
                if !delta.is_same_resource_version() {
                    self.pod_updated(old, new);
                }
            }
            Delta::Deleted { obj, .. } => self.pod_deleted(obj),
        }
    }

    /// `resolveControllerRef`: the owner a controller reference points to, if it is of our
    /// kind and still the same object (names can be reused; UIDs cannot).
    fn resolve(&self, namespace: &str, reference: ControllerRef<'_>) -> Option<Arc<K>> {
        resolve_controller_ref(&self.owners, namespace, reference)
    }

    /// `getPodReplicaSets`: owners in the pod's namespace whose non-empty selector matches it.
    fn owners_selecting(&self, pod: &CachedPod) -> Vec<Arc<K>> {
        let owners = owners_selecting(&self.owners, pod, |owner: &K| owner.pod_selector());
        if owners.len() > 1 {
            // The controller references keep this safe, but it is a user error worth a line.
            tracing::warn!(
                kind = %K::kind(&()),
                pod = %pod.cache_key(),
                count = owners.len(),
                "more than one owner selects the pod's labels"
            );
        }
        owners
    }

    fn pod_namespace(pod: &CachedPod) -> &str {
        &pod.namespace
    }

    fn pod_added(&self, pod: &CachedPod) {
        if pod.is_terminating() {
            // Seen for the first time while already being deleted (e.g. after a restart):
            // that is a deletion, never an observed creation.
            self.pod_deleted(pod);
            return;
        }
        if let Some(reference) = pod.meta_controller() {
            if let Some(owner) = self.resolve(Self::pod_namespace(pod), reference) {
                let key = ObjectKey::from_object(owner.as_ref());
                self.expectations.creation_observed(&key);
                self.queue.add(key);
            }
            return;
        }
        for owner in self.owners_selecting(pod) {
            self.queue.add(ObjectKey::from_object(owner.as_ref()));
        }
    }

    fn pod_updated(&self, old: &CachedPod, cur: &CachedPod) {
        let labels_changed = old.meta_labels() != cur.meta_labels();
        if cur.is_terminating() {
            // Graceful deletion starts with the timestamp; the owner should replace the pod
            // now rather than when the kubelet finishes.
            self.pod_deleted(cur);
            if labels_changed {
                self.pod_deleted(old);
            }
            return;
        }
        let namespace = Self::pod_namespace(cur);
        let cur_ref = cur.meta_controller();
        let old_ref = old.meta_controller();
        let ref_changed = cur_ref != old_ref;
        if ref_changed
            && let Some(old_ref) = old_ref
            && let Some(owner) = self.resolve(namespace, old_ref)
        {
            self.queue.add(ObjectKey::from_object(owner.as_ref()));
        }
        if let Some(cur_ref) = cur_ref {
            let Some(owner) = self.resolve(namespace, cur_ref) else {
                return;
            };
            let key = ObjectKey::from_object(owner.as_ref());
            let min_ready_seconds = owner.min_ready_seconds();
            if !old.is_ready() && cur.is_ready() && min_ready_seconds > 0 {
                // Check availability once minReadySeconds have passed; the extra second
                // absorbs clock skew between us and whoever wrote the Ready time.
                let delay = Duration::from_secs(u64::try_from(min_ready_seconds).unwrap_or(0))
                    + Duration::from_secs(1);
                self.queue.add_after(key.clone(), delay);
            }
            self.queue.add(key);
            return;
        }
        if labels_changed || ref_changed {
            for owner in self.owners_selecting(cur) {
                self.queue.add(ObjectKey::from_object(owner.as_ref()));
            }
        }
    }

    fn pod_deleted(&self, pod: &CachedPod) {
        let Some(reference) = pod.meta_controller() else {
            return;
        };
        let Some(owner) = self.resolve(Self::pod_namespace(pod), reference) else {
            return;
        };
        let key = ObjectKey::from_object(owner.as_ref());
        self.expectations.deletion_observed(&key, &pod.cache_key());
        self.queue.add(key);
    }
}

#[cfg(test)]
mod tests;
