//! One sync of one ReplicaSet or RC (upstream `syncReplicaSet`, `manageReplicas`,
//! `claimPods` and `updateReplicaSetStatus`): the shell that reads the caches, performs the API
//! calls through [`ReplicaControl`] and leaves every decision to the pure modules.
//!
//! 1. Read the owner from the cache; gone → forget its expectations.
//! 2. Collect its pods: those indexed under its UID plus the matching orphans of its namespace.
//! 3. Claim the active ones (adopt, release), count the terminating ones it controls.
//! 4. If its expectations are met and it is not being deleted, create or delete pods.
//! 5. Write the status if it changed; return the manage error (a rate-limited retry) and, with
//!    `minReadySeconds`, requeue for when the next pod becomes available.

use std::{collections::HashSet, sync::Arc, sync::LazyLock, time::Duration};

use futures::future::join_all;
use jiff::Timestamp;
use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::OwnerReference};
use kcm_shared::{
    events::EventType,
    expectations::UidTrackingExpectations,
    informer::{INDEX_CONTROLLER_UID, Lister, ObjectKey, orphan_index_key},
    k8s::{controller_of, is_pod_active, is_pod_terminating, key_of, new_controller_ref},
    workqueue::WorkQueue,
};
use kube::Resource;
use prometheus::{Histogram, exponential_buckets, register_histogram};

use super::{
    claim::{ClaimDecision, Claimant, adopt_patch, decide, filter_claimed, release_patch},
    control::{ApiFailure, FailureKind, ReplicaControl},
    kind::{ReplicaKind, ReplicaStatus},
    manage::{ReplicaDiff, SLOW_START_INITIAL_BATCH_SIZE, replica_diff, slow_start},
    pod_template::pod_from_template,
    ranking::{RankingGates, deletion_age_ratios, pods_to_delete},
    status::{StatusInputs, calculate_status, needs_update, next_availability_check},
};
use crate::runtime::{Reconcile, SyncError};

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
    pub(crate) pods: Lister<Pod>,
    pub(crate) expectations: Arc<UidTrackingExpectations>,
    pub(crate) queue: Arc<WorkQueue<String>>,
    pub(crate) control: C,
    pub(crate) burst_replicas: usize,
    pub(crate) gates: RankingGates,
    pub(crate) clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

impl<K: ReplicaKind, C: ReplicaControl<K>> Reconcile<String> for Syncer<K, C> {
    async fn sync(&self, key: &String) -> Result<(), SyncError> {
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
    async fn sync_owner(&self, key: &str) -> Result<(), SyncError> {
        let object_key = ObjectKey::parse(key).map_err(|e| SyncError::Permanent(e.to_string()))?;
        let Some(owner) = self.owners.get(&object_key) else {
            tracing::debug!(kind = %K::kind(&()), key, "deleted");
            self.expectations.delete_expectations(key);
            return Ok(());
        };
        let needs_sync = self.expectations.satisfied_expectations(key);
        let selector = match owner.pod_selector() {
            Ok(selector) => selector,
            Err(error) => {
                tracing::warn!(kind = %K::kind(&()), key, %error, "skipping: invalid selector");
                self.control.event(
                    &owner,
                    EventType::Warning,
                    INVALID_SELECTOR,
                    format!("Skipped: {error}"),
                );
                return Ok(());
            }
        };
        let (namespace, _) = ns_name(owner.as_ref());
        let uid = owner.meta().uid.clone().unwrap_or_default();
        let claimant = Claimant {
            uid: &uid,
            namespace,
            being_deleted: owner.meta().deletion_timestamp.is_some(),
            selector: &selector,
        };

        let candidates = self.candidate_pods(&claimant);
        let active: Vec<Arc<Pod>> = candidates
            .iter()
            .filter(|p| is_pod_active(p))
            .cloned()
            .collect();
        let active = self.claim_pods(&owner, &claimant, active).await?;
        let terminating = K::REPORTS_TERMINATING.then(|| {
            let terminating: Vec<Arc<Pod>> = candidates
                .iter()
                .filter(|p| is_pod_terminating(p))
                .cloned()
                .collect();
            filter_claimed(&claimant, &terminating).len()
        });

        let manage_error = if needs_sync && !claimant.being_deleted {
            self.manage_replicas(&owner, key, &active).await.err()
        } else {
            None
        };

        let now = (self.clock)();
        let current = owner.replica_status();
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
            manage_error: manage_error.as_deref(),
            now,
        });
        let generation = owner.meta().generation.unwrap_or(0);
        if needs_update(&current, &status, generation) {
            status.observed_generation = generation;
            self.write_status(&owner, &status).await?;
        }
        if let Some(error) = manage_error {
            return Err(SyncError::Retry(error));
        }
        let min_ready_seconds = owner.min_ready_seconds();
        if min_ready_seconds > 0 && status.ready_replicas != status.available_replicas {
            let delay = next_availability_check(&active, min_ready_seconds, now, (self.clock)())
                .unwrap_or(Duration::from_secs(min_ready_seconds.unsigned_abs().into()));
            self.queue.add_after(key.to_owned(), delay);
        }
        Ok(())
    }

    /// `FilterPodsByOwner(…, includeOrphanedPods=true)`: pods whose controller is this owner
    /// (whatever their labels, so stale ones can be released) plus the selected orphans of its
    /// namespace.
    fn candidate_pods(&self, claimant: &Claimant<'_>) -> Vec<Arc<Pod>> {
        let in_namespace =
            |p: &Arc<Pod>| p.metadata.namespace.as_deref() == Some(claimant.namespace);
        let mut pods: Vec<Arc<Pod>> = self
            .pods
            .by_index(INDEX_CONTROLLER_UID, claimant.uid)
            .into_iter()
            .filter(in_namespace)
            .collect();
        pods.extend(
            self.pods
                .by_index(INDEX_CONTROLLER_UID, &orphan_index_key(claimant.namespace))
                .into_iter()
                .filter(|p| claimant.selector.matches(p.metadata.labels.as_ref())),
        );
        pods
    }

    /// `ClaimPods`: adopt and release as [`decide`] says; the adopted and owned pods are the
    /// owner's replicas. Errors are collected and fail the sync after every pod was tried.
    async fn claim_pods(
        &self,
        owner: &K,
        claimant: &Claimant<'_>,
        pods: Vec<Arc<Pod>>,
    ) -> Result<Vec<Arc<Pod>>, SyncError> {
        let mut claimed = Vec::with_capacity(pods.len());
        let mut errors = Vec::new();
        // The fresh owner read happens at most once per sync, before the first adoption.
        let mut can_adopt: Option<Result<(), String>> = None;
        for pod in pods {
            let (namespace, name) = ns_name(pod.as_ref());
            let pod_uid = pod.metadata.uid.as_deref().unwrap_or_default();
            match decide(claimant, &pod) {
                ClaimDecision::Owned => claimed.push(pod),
                ClaimDecision::Ignore => {}
                ClaimDecision::Release => {
                    let patch = release_patch(claimant.uid, pod_uid);
                    match self.control.patch_pod(namespace, name, &patch).await {
                        Ok(()) => tracing::debug!(pod = %key_of(pod.as_ref()), "released pod"),
                        // Gone, or recreated under the same name: nothing left to release.
                        Err(e)
                            if matches!(e.kind, FailureKind::NotFound | FailureKind::Invalid) => {}
                        Err(e) => errors.push(e.message),
                    }
                }
                ClaimDecision::Adopt => {
                    if can_adopt.is_none() {
                        can_adopt = Some(self.recheck_owner(owner).await);
                    }
                    if let Some(Err(reason)) = &can_adopt {
                        errors.push(format!(
                            "can't adopt Pod {namespace}/{name} ({pod_uid}): {reason}"
                        ));
                        continue;
                    }
                    let Some(reference) = self.controller_ref(owner) else {
                        continue;
                    };
                    match self
                        .control
                        .patch_pod(namespace, name, &adopt_patch(&reference, pod_uid))
                        .await
                    {
                        Ok(()) => claimed.push(pod),
                        Err(e) if e.kind == FailureKind::NotFound => {}
                        Err(e) => errors.push(e.message),
                    }
                }
            }
        }
        match errors.len() {
            0 => Ok(claimed),
            1 => Err(SyncError::Retry(errors.remove(0))),
            _ => Err(SyncError::Retry(format!("[{}]", errors.join(", ")))),
        }
    }

    /// `RecheckDeletionTimestamp`: an uncached read proving the owner still exists, is the
    /// same object and is not being deleted, before anything is adopted.
    async fn recheck_owner(&self, owner: &K) -> Result<(), String> {
        let (namespace, name) = ns_name(owner);
        let fresh = self
            .control
            .get_owner(namespace, name)
            .await
            .map_err(|e| e.message)?;
        let (want, got) = (owner.meta().uid.as_deref(), fresh.meta().uid.as_deref());
        if want != got {
            return Err(format!(
                "original {} {namespace}/{name} is gone: got uid {}, wanted {}",
                K::kind(&()),
                got.unwrap_or_default(),
                want.unwrap_or_default()
            ));
        }
        if let Some(deleted) = &fresh.meta().deletion_timestamp {
            return Err(format!(
                "{namespace}/{name} has just been deleted at {}",
                deleted.0
            ));
        }
        Ok(())
    }

    fn controller_ref(&self, owner: &K) -> Option<OwnerReference> {
        let reference = new_controller_ref(owner);
        if reference.is_none() {
            tracing::error!(kind = %K::kind(&()), owner = %key_of(owner), "owner has no name or uid");
        }
        reference
    }

    /// `manageReplicas`: create or delete the difference, recording expectations first.
    /// Returns the error message upstream would put into the `ReplicaFailure` condition.
    async fn manage_replicas(
        &self,
        owner: &K,
        key: &str,
        active: &[Arc<Pod>],
    ) -> Result<(), String> {
        match replica_diff(active.len(), owner.desired_replicas(), self.burst_replicas) {
            ReplicaDiff::InSync => Ok(()),
            ReplicaDiff::Create(count) => self.create_pods(owner, key, count).await,
            ReplicaDiff::Delete(count) => self.delete_pods(owner, key, active, count).await,
        }
    }

    async fn create_pods(&self, owner: &K, key: &str, count: usize) -> Result<(), String> {
        let Some(reference) = self.controller_ref(owner) else {
            return Ok(());
        };
        tracing::debug!(kind = %K::kind(&()), key, creating = count, "too few replicas");
        self.expectations
            .expect_creations(key, i64::try_from(count).unwrap_or(i64::MAX));
        let outcome = slow_start(count, SLOW_START_INITIAL_BATCH_SIZE, || {
            self.create_pod(owner, &reference)
        })
        .await;
        // Creations never attempted, or failed, will not be observed: stop waiting for them.
        for _ in outcome.successes..count {
            self.expectations.creation_observed(key);
        }
        outcome.error.map_or(Ok(()), Err)
    }

    /// One creation, with its event (`RealPodControl.createPods`).
    async fn create_pod(&self, owner: &K, reference: &OwnerReference) -> Result<(), String> {
        let (namespace, name) = ns_name(owner);
        let pod = pod_from_template(owner.pod_template(), name, reference.clone())
            .map_err(|e| e.to_string())?;
        match self.control.create_pod(namespace, &pod).await {
            Ok(created) => {
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
                Err(e.message)
            }
        }
    }

    async fn delete_pods(
        &self,
        owner: &K,
        key: &str,
        active: &[Arc<Pod>],
        count: usize,
    ) -> Result<(), String> {
        tracing::debug!(kind = %K::kind(&()), key, deleting = count, "too many replicas");
        let now = (self.clock)();
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
            .expect_deletions(key, victims.iter().map(|p| key_of(p.as_ref())));
        let results = join_all(victims.iter().map(|pod| self.delete_pod(owner, key, pod))).await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// One deletion, with its event (`RealPodControl.DeletePod`).
    async fn delete_pod(&self, owner: &K, key: &str, pod: &Pod) -> Result<(), String> {
        let (namespace, name) = ns_name(pod);
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
                self.expectations.deletion_observed(key, &key_of(pod));
                if e.kind == FailureKind::NotFound {
                    return Ok(());
                }
                self.control.event(
                    owner,
                    EventType::Warning,
                    FAILED_DELETE,
                    format!("Error deleting: {}", e.message),
                );
                Err(format!("unable to delete pods: {}", e.message))
            }
        }
    }

    /// `getIndirectlyRelatedPods`: the pods of every object controlled by the same controller
    /// as `owner` (all ReplicaSets of its Deployment), for colocation ranking.
    fn related_pods(&self, owner: &K) -> Vec<Arc<Pod>> {
        if !K::INDEXED_BY_CONTROLLER {
            return Vec::new();
        }
        let Some(controller) = controller_of(owner.meta()) else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        self.owners
            .by_index(INDEX_CONTROLLER_UID, &controller.uid)
            .iter()
            .filter_map(|sibling| sibling.meta().uid.clone())
            .flat_map(|sibling_uid| self.pods.by_index(INDEX_CONTROLLER_UID, &sibling_uid))
            .filter(|pod| seen.insert(pod.metadata.uid.clone()))
            .collect()
    }

    /// `updateReplicaSetStatus`: PUT the status; on failure re-read the owner and try once more.
    async fn write_status(&self, owner: &K, status: &ReplicaStatus) -> Result<(), SyncError> {
        let first = match self
            .control
            .update_status(&owner.with_replica_status(status))
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        tracing::debug!(kind = %K::kind(&()), owner = %key_of(owner), error = %first, "status update failed; retrying with a fresh copy");
        let (namespace, name) = ns_name(owner);
        let fresh = self
            .control
            .get_owner(namespace, name)
            .await
            .map_err(|e: ApiFailure| SyncError::Retry(e.message))?;
        self.control
            .update_status(&fresh.with_replica_status(status))
            .await
            .map(|_| ())
            .map_err(|e| SyncError::Retry(e.message))
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
