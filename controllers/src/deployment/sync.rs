//! One sync of one Deployment (upstream deployment_controller.go `syncDeployment`,
//! `getReplicaSetsForDeployment`, and sync.go): the dispatch, claiming, `scaleReplicaSet`, the
//! status writes and history cleanup. The new ReplicaSet and revisions live in
//! [`super::new_rs`], scaling events and paused Deployments in [`super::scale`], the strategies
//! in [`super::rolling`], [`super::recreate`] and [`super::rollback`]; every decision is a pure
//! function of the modules they call; all API calls go through [`DeploymentControl`].
//!
//! Dispatch, in upstream's order:
//! 1. gone from the cache → done; an empty selector → `SelectingAll` warning, nothing else;
//! 2. claim the namespace's ReplicaSets (adopt matching orphans, release what stopped matching);
//! 3. being deleted → status only;
//! 4. pause conditions; paused → scale and clean up only;
//! 5. rollback requested → rollback; a scaling event → scale only;
//! 6. otherwise roll out by the strategy.
//!
//! Two deliberate departures, neither visible in the end state: after each write the local
//! copies take the resourceVersion the apiserver returned, so the next write of the same sync
//! does not fail with a conflict as upstream's does (upstream discards the response and
//! retries the whole sync); and a ReplicaSet updated while syncing revisions replaces its stale
//! copy in the sync's list, for the same reason.

use std::{sync::Arc, time::Duration};

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kcm_shared::{
    cached_pod::CachedPod,
    events::EventType,
    informer::{Lister, ObjectKey},
    k8s::new_controller_ref,
    workqueue::WorkQueue,
};

use super::{
    annotations, conditions,
    control::DeploymentControl,
    fenceposts, history, replicas,
    spec::{self, Strategy},
    status,
};
use crate::{
    runtime::{Action, Reconcile, SyncError},
    toolkit::{
        Clock, FailureKind, ObjectSelector,
        claim::{Claimant, check_fresh_owner, claim_objects},
        owner::owned_and_selected_orphans,
    },
};

/// Event reasons of the Deployment controller.
pub const SCALING_REPLICA_SET: &str = "ScalingReplicaSet";
pub const SELECTING_ALL: &str = "SelectingAll";
/// Reported when a Deployment's selector cannot be evaluated (upstream only returns an error;
/// apps/v1 validation makes it unreachable).
pub const INVALID_SELECTOR: &str = "InvalidSelector";

/// What a finished sync asks of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncOutcome {
    Done,
    /// Check the progress deadline again after this delay (`AddAfter`).
    RequeueAfter(Duration),
    /// The deadline is (almost) due: requeue through the rate limiter (`AddRateLimited`).
    RequeueRateLimited,
}

/// Syncs Deployments, acting through `C`.
pub struct Syncer<C> {
    pub(crate) deployments: Lister<Deployment>,
    pub(crate) replica_sets: Lister<ReplicaSet>,
    pub(crate) pods: Lister<CachedPod>,
    pub(crate) control: C,
    pub(crate) queue: Arc<WorkQueue<ObjectKey>>,
    /// The `DeploymentReplicaSetTerminatingReplicas` gate: report `terminatingReplicas`.
    pub(crate) report_terminating: bool,
    pub(crate) clock: Clock,
}

impl<C: DeploymentControl> Reconcile<ObjectKey> for Syncer<C> {
    async fn sync(&self, key: &ObjectKey) -> Result<Action, SyncError> {
        match self.sync_deployment(key).await {
            Ok(SyncOutcome::Done) => Ok(Action::Done),
            Ok(SyncOutcome::RequeueAfter(delay)) => Ok(Action::RequeueAfter(delay)),
            Ok(SyncOutcome::RequeueRateLimited) => {
                // Upstream adds rate-limited, then `handleErr(nil)` forgets the key's history.
                self.queue.add_rate_limited(key.clone());
                Ok(Action::Done)
            }
            // `handleErr`: a terminating namespace is not retried.
            Err(e) if e.failure_kind() == Some(FailureKind::NamespaceTerminating) => {
                Ok(Action::Done)
            }
            Err(e) => Err(e),
        }
    }
}

/// `(namespace, name)` of an object's metadata.
pub(super) fn ns_name(meta: &ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl<C: DeploymentControl> Syncer<C> {
    async fn sync_deployment(&self, key: &ObjectKey) -> Result<SyncOutcome, SyncError> {
        let Some(cached) = self.deployments.get(key) else {
            tracing::debug!(deployment = %key, "deployment has been deleted");
            return Ok(SyncOutcome::Done);
        };
        let mut d = (*cached).clone();
        if spec::selects_all(&d) {
            self.control.event(
                &d,
                EventType::Warning,
                SELECTING_ALL,
                "This deployment is selecting all pods. A non-empty selector is required.".into(),
            );
            let generation = spec::generation(&d);
            let status = d.status.get_or_insert_with(Default::default);
            if status.observed_generation.unwrap_or(0) < generation {
                status.observed_generation = Some(generation);
                // Upstream ignores this write's error too.
                if let Err(error) = self.control.update_deployment_status(&d).await {
                    tracing::debug!(deployment = %key, %error, "observedGeneration update failed");
                }
            }
            return Ok(SyncOutcome::Done);
        }
        let mut rs_list = self.claim_replica_sets(&d).await?;
        if d.metadata.deletion_timestamp.is_some() {
            let (new_rs, old) = self
                .get_all_and_sync_revision(&mut d, &mut rs_list, false)
                .await?;
            self.sync_deployment_status(&old, new_rs.as_ref(), &mut d)
                .await?;
            return Ok(SyncOutcome::Done);
        }
        self.check_paused_conditions(&mut d).await?;
        if spec::paused(&d) {
            return self.sync_scaling(&mut d, &mut rs_list).await;
        }
        if annotations::rollback_to(&d).is_some() {
            return self.rollback(&mut d, &mut rs_list).await;
        }
        if self.is_scaling_event(&mut d, &mut rs_list).await? {
            return self.sync_scaling(&mut d, &mut rs_list).await;
        }
        match spec::strategy(&d) {
            Strategy::Recreate => self.rollout_recreate(&mut d, &mut rs_list).await,
            Strategy::RollingUpdate => self.rollout_rolling(&mut d, &mut rs_list).await,
            Strategy::Other(other) => Err(SyncError::Permanent(format!(
                "unexpected deployment strategy type: {other}"
            ))),
        }
    }

    /// `getReplicaSetsForDeployment`: the ReplicaSets the Deployment controls after adopting
    /// matching orphans and releasing those whose labels stopped matching.
    async fn claim_replica_sets(&self, d: &Deployment) -> Result<Vec<ReplicaSet>, SyncError> {
        let (namespace, name) = ns_name(&d.metadata);
        let selector = match ObjectSelector::from_label_selector(spec::selector(d)) {
            Ok(selector) => selector,
            Err(error) => {
                self.control.event(
                    d,
                    EventType::Warning,
                    INVALID_SELECTOR,
                    format!("Skipped: {error}"),
                );
                return Err(SyncError::Permanent(format!(
                    "deployment {namespace}/{name} has invalid label selector: {error}"
                )));
            }
        };
        let claimant = Claimant::of(d, &selector);
        let candidates = owned_and_selected_orphans(
            &self.replica_sets,
            claimant.namespace,
            claimant.uid,
            &selector,
        );
        let Some(reference) = new_controller_ref(d) else {
            return Ok(Vec::new());
        };
        let claimed = claim_objects(
            &claimant,
            &reference,
            candidates,
            |namespace, name, patch| async move {
                self.control
                    .patch_replica_set(&namespace, &name, &patch)
                    .await
            },
            || async { check_fresh_owner(d, self.control.get_deployment(namespace, name).await) },
        )
        .await?;
        Ok(claimed.iter().map(|rs| (**rs).clone()).collect())
    }

    /// PUTs the status (and annotations) of `d`, then takes the new resourceVersion.
    pub(super) async fn update_status(&self, d: &mut Deployment) -> Result<(), SyncError> {
        let written = self.control.update_deployment_status(d).await?;
        d.metadata.resource_version = written.metadata.resource_version;
        Ok(())
    }

    /// `checkPausedConditions`: `Progressing=Unknown` with `DeploymentPaused` while paused and
    /// `DeploymentResumed` once resumed, when a deadline is set and not already exceeded.
    async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), SyncError> {
        let Some(condition) = paused_condition(d, self.clock.now()) else {
            return Ok(());
        };
        conditions::set(d.status.get_or_insert_with(Default::default), condition);
        self.update_status(d).await
    }

    /// `scaleReplicaSet`: write the new size and the desired/max annotations if either
    /// differs (`force`: even when the size is the same). Returns whether the size changed and
    /// the ReplicaSet as now known.
    pub(super) async fn scale_replica_set(
        &self,
        rs: &ReplicaSet,
        new_scale: i32,
        d: &Deployment,
        force: bool,
    ) -> Result<(bool, ReplicaSet), SyncError> {
        let old_scale = replicas::spec_replicas(rs);
        if !force && old_scale == new_scale {
            return Ok((false, rs.clone()));
        }
        let desired = spec::replicas(d);
        let max = desired + fenceposts::max_surge(d);
        let size_changed = old_scale != new_scale;
        if !size_changed && !annotations::replicas_annotations_need_update(rs, desired, max) {
            return Ok((false, rs.clone()));
        }
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        annotations::set_replicas_annotations(&mut copy, desired, max);
        let updated = self.control.update_replica_set(&copy).await?;
        if size_changed {
            let direction = if old_scale < new_scale { "up" } else { "down" };
            self.control.event(
                d,
                EventType::Normal,
                SCALING_REPLICA_SET,
                format!(
                    "Scaled {direction} replica set {} from {old_scale} to {new_scale}",
                    replicas::name(&updated)
                ),
            );
        }
        Ok((size_changed, updated))
    }

    /// `syncDeploymentStatus`: write the calculated status if it changed.
    pub(super) async fn sync_deployment_status(
        &self,
        old: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
        d: &mut Deployment,
    ) -> Result<(), SyncError> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new_rs).collect();
        let new =
            status::calculate_status(&all, new_rs, d, self.report_terminating, self.clock.now());
        if status::same(d.status.as_ref(), &new) {
            return Ok(());
        }
        d.status = Some(new);
        self.update_status(d).await
    }

    /// `cleanupDeployment`: delete the oldest old ReplicaSets beyond `revisionHistoryLimit`.
    pub(super) async fn cleanup_deployment(
        &self,
        old: &[ReplicaSet],
        d: &Deployment,
    ) -> Result<(), SyncError> {
        let Some(limit) = spec::revision_history_limit(d) else {
            return Ok(());
        };
        for rs in history::to_delete(old, limit) {
            let (namespace, name) = ns_name(&rs.metadata);
            tracing::debug!(replica_set = %format!("{namespace}/{name}"), "cleaning up old replica set");
            match self.control.delete_replica_set(namespace, name).await {
                Ok(()) => {}
                Err(e) if e.kind == FailureKind::NotFound => {}
                Err(e) => return Err(SyncError::Api(e)),
            }
        }
        Ok(())
    }
}

/// The pause/resume condition `checkPausedConditions` would set, if any.
pub fn paused_condition(
    d: &Deployment,
    now: jiff::Timestamp,
) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    spec::progress_deadline_seconds(d)?;
    let status = d.status.clone().unwrap_or_default();
    let current = conditions::get(&status, conditions::PROGRESSING);
    if current.is_some_and(|c| conditions::reason(c) == conditions::TIMED_OUT) {
        return None;
    }
    let paused_condition_exists =
        current.is_some_and(|c| conditions::reason(c) == conditions::PAUSED);
    let paused = spec::paused(d);
    if paused && !paused_condition_exists {
        return Some(conditions::new_condition(
            conditions::PROGRESSING,
            conditions::UNKNOWN,
            conditions::PAUSED,
            "Deployment is paused",
            now,
        ));
    }
    if !paused && paused_condition_exists {
        return Some(conditions::new_condition(
            conditions::PROGRESSING,
            conditions::UNKNOWN,
            conditions::RESUMED,
            "Deployment is resumed",
            now,
        ));
    }
    None
}

#[cfg(test)]
mod tests;
