//! One sync of one ReplicaSet or RC (upstream `syncReplicaSet`, `manageReplicas`,
//! `claimPods` and `updateReplicaSetStatus`): the shell that reads the caches, performs the API
//! calls through [`ReplicaControl`] and leaves every decision to the pure modules.
//!
//! 0. ReplicaSets only: wait until the caches show this controller's own last writes for the
//!    owner (`StaleControllerConsistencyReplicaSet`, [`ConsistencyStore`]).
//! 1. Read the owner from the cache; gone → forget its expectations.
//! 2. Collect its pods: those indexed under its UID plus the matching orphans of its namespace.
//! 3. Claim the active ones (adopt, release), count the terminating ones it controls.
//! 4. If its expectations are met and it is not being deleted, create or delete pods.
//! 5. Write the status if it changed; return the manage error (a rate-limited retry) and, with
//!    `minReadySeconds`, ask to be synced again when the next pod becomes available.

use std::{collections::HashSet, sync::Arc, sync::LazyLock, time::Duration};

use futures::future::join_all;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kcm_shared::{
    cached_pod::CachedPod,
    events::EventType,
    expectations::UidTrackingExpectations,
    informer::{Lister, ObjectKey},
    k8s::new_controller_ref,
    meta::ObjectMetaRead,
};
use kube::Resource;
use prometheus::{
    Histogram, IntCounterVec, exponential_buckets, register_histogram, register_int_counter_vec,
};

use super::{
    control::ReplicaControl,
    kind::{ReplicaKind, ReplicaStatus},
    manage::{ReplicaDiff, SLOW_START_INITIAL_BATCH_SIZE, replica_diff, slow_start},
    pod_template::pod_from_template,
    ranking::{RankingGates, deletion_age_ratios, pods_to_delete},
    status::{StatusInputs, calculate_status, needs_update, next_availability_check},
};
use crate::{
    runtime::{Action, Reconcile, SyncError},
    toolkit::{
        Clock, FailureKind,
        claim::{Claimant, check_fresh_owner, claim_objects, filter_claimed},
        consistency::{ConsistencyStore, GroupResource},
        owner::{controlled_by, owned_and_selected_orphans},
    },
};

/// Upstream `replicaset_controller_sorting_deletion_age_ratio`.
pub(crate) static SORTING_DELETION_AGE_RATIO: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "replicaset_controller_sorting_deletion_age_ratio",
        "The ratio of chosen deleted pod's ages to the current youngest pod's age (at the time). \
         Should be <2. The intent of this metric is to measure the rough efficacy of the \
         LogarithmicScaleDown feature gate's effect on the sorting (and deletion) of pods when a \
         replicaset scales down. This only considers Ready pods when calculating and reporting.",
        exponential_buckets(0.25, 2.0, 6).unwrap_or_default()
    )
    .expect("replicaset_controller_sorting_deletion_age_ratio registers once")
});

/// Event reasons (`controller.SuccessfulCreatePodReason` and friends).
pub const SUCCESSFUL_CREATE: &str = "SuccessfulCreate";
pub const FAILED_CREATE: &str = "FailedCreate";
pub const SUCCESSFUL_DELETE: &str = "SuccessfulDelete";
pub const FAILED_DELETE: &str = "FailedDelete";
/// Reported once per sync of an owner whose selector cannot be evaluated. Upstream only logs;
/// an event makes the skipped owner visible in `kubectl describe`.
pub const INVALID_SELECTOR: &str = "InvalidSelector";

/// Syncs owners of kind `K`, acting through `C`.
pub struct Syncer<K, C> {
    pub(crate) owners: Lister<K>,
    pub(crate) pods: Lister<CachedPod>,
    pub(crate) expectations: Arc<UidTrackingExpectations>,
    pub(crate) control: C,
    pub(crate) burst_replicas: usize,
    pub(crate) gates: RankingGates,
    /// Whether `status.terminatingReplicas` is reported: ReplicaSets with the
    /// `DeploymentReplicaSetTerminatingReplicas` gate on (upstream leaves it nil otherwise).
    pub(crate) report_terminating: bool,
    pub(crate) clock: Clock,
    /// Records this controller's writes per owner; `None` for RCs and with the gate off.
    pub(crate) consistency: Option<Arc<ConsistencyStore>>,
}

/// Upstream `replicaset_controller_stale_sync_skips_total`.
pub(crate) static STALE_SYNC_SKIPS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "replicaset_controller_stale_sync_skips_total",
        "[ALPHA] Total number of ReplicaSet syncs skipped due to a stale watch cache.",
        &["group", "resource"]
    )
    .expect("replicaset_controller_stale_sync_skips_total registers once")
});

impl<K: ReplicaKind, C: ReplicaControl<K>> Reconcile<ObjectKey> for Syncer<K, C> {
    async fn sync(&self, key: &ObjectKey) -> Result<Action, SyncError> {
        self.sync_owner(key).await
    }
}

/// Namespace and name of an object, empty when unset.
fn ns_name<R: Resource>(obj: &R) -> (&str, &str) {
    let meta = obj.meta();
    (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl<K: ReplicaKind, C: ReplicaControl<K>> Syncer<K, C> {
    async fn sync_owner(&self, key: &ObjectKey) -> Result<Action, SyncError> {
        if let Some(store) = &self.consistency
            && let Err(stale) = store.ensure_ready(key)
        {
            STALE_SYNC_SKIPS
                .with_label_values(&[stale.resource.group, stale.resource.resource])
                .inc();
            return Err(SyncError::Retry(stale.to_string()));
        }
        let Some(owner) = self.owners.get(key) else {
            tracing::debug!(kind = %K::kind(&()), %key, "deleted");
            if let Some(store) = &self.consistency {
                store.clear(key, None);
            }
            self.expectations.delete_expectations(key);
            return Ok(Action::Done);
        };
        let needs_sync = self.expectations.satisfied_expectations(key);
        let selector = match owner.pod_selector() {
            Ok(selector) => selector,
            Err(error) => {
                tracing::warn!(kind = %K::kind(&()), %key, %error, "skipping: invalid selector");
                self.control.event(
                    &owner,
                    EventType::Warning,
                    INVALID_SELECTOR,
                    format!("Skipped: {error}"),
                );
                return Ok(Action::Done);
            }
        };
        let claimant = Claimant::of(owner.as_ref(), &selector);

        let candidates =
            owned_and_selected_orphans(&self.pods, claimant.namespace, claimant.uid, &selector);
        let active: Vec<Arc<CachedPod>> = candidates
            .iter()
            .filter(|p| p.is_active())
            .cloned()
            .collect();
        let active = self.claim_pods(&owner, &claimant, active).await?;
        let terminating = self.report_terminating.then(|| {
            let terminating: Vec<Arc<CachedPod>> = candidates
                .iter()
                .filter(|p| p.is_terminating_not_terminal())
                .cloned()
                .collect();
            filter_claimed(&claimant, &terminating).len()
        });

        let manage_error = if needs_sync && !claimant.being_deleted {
            self.manage_replicas(&owner, key, &active).await.err()
        } else {
            None
        };

        let now = self.clock.now();
        let current = owner.replica_status();
        let manage_message = manage_error.as_ref().map(ToString::to_string);
        let mut status = calculate_status(&StatusInputs {
            current: &current,
            desired_replicas: owner.desired_replicas(),
            min_ready_seconds: owner.min_ready_seconds(),
            template_labels: owner
                .pod_template()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
            active: &active,
            terminating,
            manage_error: manage_message.as_deref(),
            now,
        });
        let generation = owner.meta().generation.unwrap_or(0);
        if needs_update(&current, &status, generation) {
            status.observed_generation = generation;
            if let Err(status_error) = self.write_status(&owner, &status).await {
                // Report both: the status failure must not hide why managing replicas failed.
                let errors = manage_error.into_iter().chain([status_error]).collect();
                return Err(SyncError::aggregate(errors)
                    .unwrap_or(SyncError::Retry("status update failed".into())));
            }
        }
        if let Some(error) = manage_error {
            return Err(error);
        }
        let min_ready_seconds = owner.min_ready_seconds();
        if min_ready_seconds > 0 && status.ready_replicas != status.available_replicas {
            let delay = next_availability_check(&active, min_ready_seconds, now, self.clock.now())
                .unwrap_or(Duration::from_secs(min_ready_seconds.unsigned_abs().into()));
            return Ok(Action::RequeueAfter(delay));
        }
        Ok(Action::Done)
    }

    /// `ClaimPods`: adopt and release; the adopted and owned pods are the owner's replicas.
    async fn claim_pods(
        &self,
        owner: &K,
        claimant: &Claimant<'_>,
        pods: Vec<Arc<CachedPod>>,
    ) -> Result<Vec<Arc<CachedPod>>, SyncError> {
        let Some(reference) = self.controller_ref(owner) else {
            return Ok(Vec::new());
        };
        claim_objects(
            claimant,
            &reference,
            pods,
            |namespace, name, patch| async move {
                self.control.patch_pod(&namespace, &name, &patch).await
            },
            || async {
                let (namespace, name) = ns_name(owner);
                check_fresh_owner(owner, self.control.get_owner(namespace, name).await)
            },
        )
        .await
    }

    fn controller_ref(&self, owner: &K) -> Option<OwnerReference> {
        let reference = new_controller_ref(owner);
        if reference.is_none() {
            tracing::error!(kind = %K::kind(&()), owner = %ObjectKey::from_object(owner), "owner has no name or uid");
        }
        reference
    }

    /// `manageReplicas`: create or delete the difference, recording expectations first.
    /// The error's message is what upstream puts into the `ReplicaFailure` condition.
    async fn manage_replicas(
        &self,
        owner: &K,
        key: &ObjectKey,
        active: &[Arc<CachedPod>],
    ) -> Result<(), SyncError> {
        match replica_diff(active.len(), owner.desired_replicas(), self.burst_replicas) {
            ReplicaDiff::InSync => Ok(()),
            ReplicaDiff::Create(count) => self.create_pods(owner, key, count).await,
            ReplicaDiff::Delete(count) => self.delete_pods(owner, key, active, count).await,
        }
    }

    async fn create_pods(&self, owner: &K, key: &ObjectKey, count: usize) -> Result<(), SyncError> {
        let Some(reference) = self.controller_ref(owner) else {
            return Ok(());
        };
        tracing::debug!(kind = %K::kind(&()), %key, creating = count, "too few replicas");
        self.expectations
            .expect_creations(key, i64::try_from(count).unwrap_or(i64::MAX));
        let outcome = slow_start(
            count,
            SLOW_START_INITIAL_BATCH_SIZE,
            crate::runtime::stopping,
            || self.create_pod(owner, &reference),
        )
        .await;
        // Creations never attempted, or failed, will not be observed: stop waiting for them.
        for _ in outcome.successes..count {
            self.expectations.creation_observed(key);
        }
        outcome.error.map_or(Ok(()), Err)
    }

    /// One creation, with its event (`RealPodControl.createPods`).
    async fn create_pod(&self, owner: &K, reference: &OwnerReference) -> Result<(), SyncError> {
        let (namespace, name) = ns_name(owner);
        let pod = pod_from_template(owner.pod_template(), name, reference.clone())
            .map_err(|e| SyncError::Retry(e.to_string()))?;
        match self.control.create_pod(namespace, &pod).await {
            Ok(created) => {
                self.wrote(owner, GroupResource::PODS, &created.metadata);
                let created = created.metadata.name.unwrap_or_default();
                self.control.event(
                    owner,
                    EventType::Normal,
                    SUCCESSFUL_CREATE,
                    format!("Created pod: {created}"),
                );
                Ok(())
            }
            // Every creation would fail the same way; the namespace is going away anyway.
            Err(e) if e.kind == FailureKind::NamespaceTerminating => Ok(()),
            Err(e) => {
                self.control.event(
                    owner,
                    EventType::Warning,
                    FAILED_CREATE,
                    format!("Error creating: {}", e.message),
                );
                Err(SyncError::Api(e))
            }
        }
    }

    async fn delete_pods(
        &self,
        owner: &K,
        key: &ObjectKey,
        active: &[Arc<CachedPod>],
        count: usize,
    ) -> Result<(), SyncError> {
        tracing::debug!(kind = %K::kind(&()), %key, deleting = count, "too many replicas");
        let now = self.clock.now();
        let related = self.related_pods(owner);
        let victims = pods_to_delete(active, &related, count, now, self.gates);
        if count < active.len() {
            for ratio in deletion_age_ratios(active, &victims, now) {
                SORTING_DELETION_AGE_RATIO.observe(ratio);
            }
        }
        // Remember exactly which pods go, so each is counted once whether it is seen with a
        // deletion timestamp first or only as deleted.
        self.expectations
            .expect_deletions(key, victims.iter().map(|p| p.cache_key()));
        let results = join_all(victims.iter().map(|pod| self.delete_pod(owner, key, pod))).await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// One deletion, with its event (`RealPodControl.DeletePod`).
    async fn delete_pod(
        &self,
        owner: &K,
        key: &ObjectKey,
        pod: &CachedPod,
    ) -> Result<(), SyncError> {
        let (namespace, name) = (&*pod.namespace, &*pod.name);
        match self.control.delete_pod(namespace, name).await {
            Ok(()) => {
                self.control.event(
                    owner,
                    EventType::Normal,
                    SUCCESSFUL_DELETE,
                    format!("Deleted pod: {name}"),
                );
                Ok(())
            }
            Err(e) => {
                // The informer will not report a deletion that did not happen.
                self.expectations.deletion_observed(key, &pod.cache_key());
                if e.kind == FailureKind::NotFound {
                    return Ok(());
                }
                self.control.event(
                    owner,
                    EventType::Warning,
                    FAILED_DELETE,
                    format!("Error deleting: {}", e.message),
                );
                Err(SyncError::api("unable to delete pods", e))
            }
        }
    }

    /// `getIndirectlyRelatedPods`: the pods of every object controlled by the same controller
    /// as `owner` (all ReplicaSets of its Deployment), for colocation ranking.
    fn related_pods(&self, owner: &K) -> Vec<Arc<CachedPod>> {
        if !K::INDEXED_BY_CONTROLLER {
            return Vec::new();
        }
        let Some(controller) = owner.meta_controller() else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        controlled_by(&self.owners, controller.uid)
            .iter()
            .filter_map(|sibling| sibling.meta().uid.clone())
            .flat_map(|sibling_uid| controlled_by(&self.pods, &sibling_uid))
            .filter(|pod| seen.insert(pod.uid.clone()))
            .collect()
    }

    /// Records a write of this controller for `owner` (upstream `consistencyStore.WroteAt`).
    fn wrote(&self, owner: &K, resource: GroupResource, written: &ObjectMeta) {
        if let Some(store) = &self.consistency {
            store.wrote_at(
                &ObjectKey::from_object(owner),
                owner.meta_uid().unwrap_or_default(),
                resource,
                written.resource_version.as_deref(),
            );
        }
    }

    /// `updateReplicaSetStatus`: PUT the status; on failure re-read the owner and try once more.
    async fn write_status(&self, owner: &K, status: &ReplicaStatus) -> Result<(), SyncError> {
        let first = match self
            .control
            .update_status(&owner.with_replica_status(status))
            .await
        {
            Ok(written) => {
                self.wrote(owner, GroupResource::REPLICA_SETS, written.meta());
                return Ok(());
            }
            Err(e) => e,
        };
        tracing::debug!(kind = %K::kind(&()), owner = %ObjectKey::from_object(owner), error = %first, "status update failed; retrying with a fresh copy");
        let (namespace, name) = ns_name(owner);
        let fresh = self.control.get_owner(namespace, name).await?;
        let written = self
            .control
            .update_status(&fresh.with_replica_status(status))
            .await?;
        self.wrote(owner, GroupResource::REPLICA_SETS, written.meta());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
