//! Claiming: which objects an owner keeps, adopts or lets go (upstream
//! `BaseControllerRefManager.ClaimObject`, `PodControllerRefManager.ClaimPods`,
//! `ReplicaSetControllerRefManager.ClaimReplicaSets` and `FilterClaimedPods`), for any owned
//! kind — pods of a ReplicaSet, ReplicaSets of a Deployment.
//!
//! [`decide`] is pure. [`claim_objects`] runs the decisions, patching through a caller-supplied
//! function so it works for every kind and for test fakes. Both patches carry the object's
//! `metadata.uid`, so they fail rather than touch an object that was deleted and recreated
//! under the same name. Adoption is a strategic-merge patch because `ownerReferences` merge by
//! `uid`: an existing non-controller reference to the same owner is upgraded in place, and the
//! apiserver refuses a second controller reference if another controller got there first.
//! Before the first adoption of a sync the owner is re-read uncached ([`check_fresh_owner`]),
//! so an owner that is being deleted never adopts.

use std::{future::Future, sync::Arc};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kcm_shared::meta::ObjectMetaRead;
use kube::Resource;
use serde_json::{Value, json};

use super::{
    api_error::{ApiFailure, FailureKind},
    selector::ObjectSelector,
};
use crate::runtime::SyncError;

/// The owner as claiming sees it.
#[derive(Clone, Copy, Debug)]
pub struct Claimant<'a> {
    pub uid: &'a str,
    pub namespace: &'a str,
    /// The owner has a deletion timestamp: it keeps what it has but adopts and releases nothing.
    pub being_deleted: bool,
    pub selector: &'a ObjectSelector,
}

impl<'a> Claimant<'a> {
    /// The claimant for `owner` with its converted `selector`.
    pub fn of<O: ObjectMetaRead>(owner: &'a O, selector: &'a ObjectSelector) -> Self {
        Self {
            uid: owner.meta_uid().unwrap_or_default(),
            namespace: owner.meta_namespace().unwrap_or_default(),
            being_deleted: owner.is_terminating(),
            selector,
        }
    }
}

/// What to do with one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimDecision {
    /// Ours and selected: keep it.
    Owned,
    /// Ours but no longer selected: remove our controller reference.
    Release,
    /// An orphan that is selected: take it (after the fresh owner check).
    Adopt,
    /// Someone else's, or not for us right now.
    Ignore,
}

/// `ClaimObject` for one object.
pub fn decide<T: ObjectMetaRead>(claimant: &Claimant<'_>, obj: &T) -> ClaimDecision {
    let selected = claimant.selector.matches(obj.meta_labels());
    if let Some(owner) = obj.meta_controller() {
        if owner.uid != claimant.uid {
            return ClaimDecision::Ignore;
        }
        // Keeping what we own is allowed even while being deleted: it takes no action.
        return match (selected, claimant.being_deleted) {
            (true, _) => ClaimDecision::Owned,
            (false, true) => ClaimDecision::Ignore,
            (false, false) => ClaimDecision::Release,
        };
    }
    let same_namespace = obj.meta_namespace() == Some(claimant.namespace);
    if claimant.being_deleted || !selected || obj.is_terminating() || !same_namespace {
        return ClaimDecision::Ignore;
    }
    ClaimDecision::Adopt
}

/// `FilterClaimedPods`: objects already controlled by the owner and still selected. Used for
/// terminating pods, which are counted but never adopted.
pub fn filter_claimed<T: ObjectMetaRead>(claimant: &Claimant<'_>, objs: &[Arc<T>]) -> Vec<Arc<T>> {
    objs.iter()
        .filter(|obj| {
            obj.meta_controller()
                .is_some_and(|owner| owner.uid == claimant.uid)
                && claimant.selector.matches(obj.meta_labels())
        })
        .cloned()
        .collect()
}

/// `ownerRefControllerPatch`: make `controller_ref` the object's controller, guarded by its UID.
pub fn adopt_patch(controller_ref: &OwnerReference, uid: &str) -> Value {
    json!({
        "metadata": {
            "ownerReferences": [{
                "apiVersion": controller_ref.api_version,
                "kind": controller_ref.kind,
                "name": controller_ref.name,
                "uid": controller_ref.uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
            "uid": uid,
        }
    })
}

/// `GenerateDeleteOwnerRefStrategicMergeBytes`: drop the reference to `owner_uid`, guarded by
/// the object's UID.
pub fn release_patch(owner_uid: &str, uid: &str) -> Value {
    json!({
        "metadata": {
            "ownerReferences": [{ "$patch": "delete", "uid": owner_uid }],
            "uid": uid,
        }
    })
}

/// `RecheckDeletionTimestamp`: the uncached read of the owner proves it still exists, is the
/// same object and is not being deleted.
pub fn check_fresh_owner<O: Resource<DynamicType = ()>>(
    cached: &O,
    fresh: Result<O, ApiFailure>,
) -> Result<(), String> {
    let meta = cached.meta();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let fresh = fresh.map_err(|e| e.message)?;
    let (want, got) = (meta.uid.as_deref(), fresh.meta().uid.as_deref());
    if want != got {
        return Err(format!(
            "original {} {namespace}/{name} is gone: got uid {}, wanted {}",
            O::kind(&()),
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

/// `ClaimObject` over every candidate: adopt and release as [`decide`] says and return what the
/// owner now controls. `patch(namespace, name, body)` applies a strategic-merge patch to one
/// candidate; `recheck()` is the fresh owner check, run at most once, before the first adoption.
/// Errors are collected and returned together after every candidate was tried, as upstream
/// aggregates them.
pub async fn claim_objects<T, P, PFut, R, RFut>(
    claimant: &Claimant<'_>,
    controller_ref: &OwnerReference,
    candidates: Vec<Arc<T>>,
    patch: P,
    recheck: R,
) -> Result<Vec<Arc<T>>, SyncError>
where
    T: ObjectMetaRead,
    P: Fn(String, String, Value) -> PFut,
    PFut: Future<Output = Result<(), ApiFailure>>,
    R: FnOnce() -> RFut,
    RFut: Future<Output = Result<(), String>>,
{
    let mut claimed = Vec::with_capacity(candidates.len());
    let mut errors = Vec::new();
    let mut recheck = Some(recheck);
    let mut can_adopt: Option<Result<(), String>> = None;
    for obj in candidates {
        let namespace = obj.meta_namespace().unwrap_or_default().to_owned();
        let name = obj.meta_name().to_owned();
        let uid = obj.meta_uid().unwrap_or_default().to_owned();
        match decide(claimant, obj.as_ref()) {
            ClaimDecision::Owned => claimed.push(obj),
            ClaimDecision::Ignore => {}
            ClaimDecision::Release => {
                let body = release_patch(claimant.uid, &uid);
                match patch(namespace.clone(), name.clone(), body).await {
                    Ok(()) => {
                        tracing::debug!(kind = %T::kind(&()), object = %format!("{namespace}/{name}"), "released")
                    }
                    // Gone, or recreated under the same name: nothing left to release.
                    Err(e) if matches!(e.kind, FailureKind::NotFound | FailureKind::Invalid) => {}
                    Err(e) => errors.push(SyncError::Api(e)),
                }
            }
            ClaimDecision::Adopt => {
                if can_adopt.is_none()
                    && let Some(recheck) = recheck.take()
                {
                    can_adopt = Some(recheck().await);
                }
                if let Some(Err(reason)) = &can_adopt {
                    errors.push(SyncError::Retry(format!(
                        "can't adopt {} {namespace}/{name} ({uid}): {reason}",
                        T::kind(&())
                    )));
                    continue;
                }
                match patch(namespace, name, adopt_patch(controller_ref, &uid)).await {
                    Ok(()) => claimed.push(obj),
                    Err(e) if e.kind == FailureKind::NotFound => {}
                    Err(e) => errors.push(SyncError::Api(e)),
                }
            }
        }
    }
    match SyncError::aggregate(errors) {
        None => Ok(claimed),
        Some(error) => Err(error),
    }
}

#[cfg(test)]
mod tests;
