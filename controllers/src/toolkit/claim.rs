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
use kcm_shared::k8s::controller_of;
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
    pub fn of<O: Resource>(owner: &'a O, selector: &'a ObjectSelector) -> Self {
        let meta = owner.meta();
        Self {
            uid: meta.uid.as_deref().unwrap_or_default(),
            namespace: meta.namespace.as_deref().unwrap_or_default(),
            being_deleted: meta.deletion_timestamp.is_some(),
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
pub fn decide<T: Resource>(claimant: &Claimant<'_>, obj: &T) -> ClaimDecision {
    let meta = obj.meta();
    let selected = claimant.selector.matches(meta.labels.as_ref());
    if let Some(owner) = controller_of(meta) {
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
    let same_namespace = meta.namespace.as_deref() == Some(claimant.namespace);
    if claimant.being_deleted || !selected || meta.deletion_timestamp.is_some() || !same_namespace {
        return ClaimDecision::Ignore;
    }
    ClaimDecision::Adopt
}

/// `FilterClaimedPods`: objects already controlled by the owner and still selected. Used for
/// terminating pods, which are counted but never adopted.
pub fn filter_claimed<T: Resource>(claimant: &Claimant<'_>, objs: &[Arc<T>]) -> Vec<Arc<T>> {
    objs.iter()
        .filter(|obj| {
            controller_of(obj.meta()).is_some_and(|owner| owner.uid == claimant.uid)
                && claimant.selector.matches(obj.meta().labels.as_ref())
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
    T: Resource<DynamicType = ()>,
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
        let meta = obj.meta();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let uid = meta.uid.clone().unwrap_or_default();
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
mod tests {
    use super::*;
    use k8s_openapi::{
        api::core::v1::Pod,
        apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
    };
    use parking_lot::Mutex;
    use std::collections::BTreeMap;

    fn selector() -> ObjectSelector {
        ObjectSelector::Matching([("app", "web")].into_iter().collect())
    }

    fn owner_ref(uid: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(controller),
            block_owner_deletion: Some(true),
        }
    }

    fn pod(app: &str, refs: Vec<OwnerReference>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(format!("p-{app}-{}", refs.len())),
                namespace: Some("ns".into()),
                uid: Some("pod-uid".into()),
                labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
                owner_references: Some(refs),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn claimant(selector: &ObjectSelector, being_deleted: bool) -> Claimant<'_> {
        Claimant {
            uid: "me",
            namespace: "ns",
            being_deleted,
            selector,
        }
    }

    #[test]
    fn owned_and_selected_objects_are_kept_even_while_the_owner_is_deleted() {
        let s = selector();
        let p = pod("web", vec![owner_ref("me", true)]);
        assert_eq!(decide(&claimant(&s, false), &p), ClaimDecision::Owned);
        assert_eq!(decide(&claimant(&s, true), &p), ClaimDecision::Owned);
    }

    #[test]
    fn owned_objects_that_stop_matching_are_released_unless_the_owner_is_deleted() {
        let s = selector();
        let p = pod("other", vec![owner_ref("me", true)]);
        assert_eq!(decide(&claimant(&s, false), &p), ClaimDecision::Release);
        assert_eq!(decide(&claimant(&s, true), &p), ClaimDecision::Ignore);
    }

    #[test]
    fn objects_of_another_controller_are_ignored() {
        let s = selector();
        let p = pod("web", vec![owner_ref("someone-else", true)]);
        assert_eq!(decide(&claimant(&s, false), &p), ClaimDecision::Ignore);
    }

    #[test]
    fn matching_orphans_are_adopted_including_non_controller_references() {
        let s = selector();
        assert_eq!(
            decide(&claimant(&s, false), &pod("web", vec![])),
            ClaimDecision::Adopt
        );
        let p = pod("web", vec![owner_ref("me", false), owner_ref("sts", false)]);
        assert_eq!(decide(&claimant(&s, false), &p), ClaimDecision::Adopt);
    }

    #[test]
    fn orphans_are_not_adopted_when_deleted_unmatched_elsewhere_or_owner_deleted() {
        let s = selector();
        let c = claimant(&s, false);
        let mut deleting = pod("web", vec![]);
        deleting.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(decide(&c, &deleting), ClaimDecision::Ignore);
        assert_eq!(decide(&c, &pod("other", vec![])), ClaimDecision::Ignore);
        let mut elsewhere = pod("web", vec![]);
        elsewhere.metadata.namespace = Some("other-ns".into());
        assert_eq!(decide(&c, &elsewhere), ClaimDecision::Ignore);
        assert_eq!(
            decide(&claimant(&s, true), &pod("web", vec![])),
            ClaimDecision::Ignore
        );
    }

    #[test]
    fn filter_claimed_keeps_only_our_selected_objects() {
        let s = selector();
        let ours = Arc::new(pod("web", vec![owner_ref("me", true)]));
        let unselected = Arc::new(pod("other", vec![owner_ref("me", true)]));
        let theirs = Arc::new(pod("web", vec![owner_ref("x", true)]));
        let orphan = Arc::new(pod("web", vec![]));
        let kept = filter_claimed(
            &claimant(&s, false),
            &[ours.clone(), unselected, theirs, orphan],
        );
        assert_eq!(kept.len(), 1);
        assert!(Arc::ptr_eq(&kept[0], &ours));
    }

    #[test]
    fn patches_match_upstream_and_are_guarded_by_the_uid() {
        let adopt = adopt_patch(&owner_ref("me", true), "pod-uid");
        assert_eq!(
            adopt,
            json!({"metadata": {
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "rs-me", "uid": "me", "controller": true, "blockOwnerDeletion": true}],
                "uid": "pod-uid"}})
        );
        let release = release_patch("me", "pod-uid");
        assert_eq!(
            release,
            json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "me"}],
                "uid": "pod-uid"}})
        );
    }

    #[tokio::test]
    async fn claiming_adopts_releases_and_rechecks_the_owner_once() {
        let s = selector();
        let c = claimant(&s, false);
        let patched = Mutex::new(Vec::new());
        let rechecks = Mutex::new(0);
        let candidates = vec![
            Arc::new(pod("web", vec![owner_ref("me", true)])),
            Arc::new(pod("other", vec![owner_ref("me", true)])),
            Arc::new(pod("web", vec![])),
            Arc::new(pod("web", vec![owner_ref("sts", false)])),
        ];
        let claimed = claim_objects(
            &c,
            &owner_ref("me", true),
            candidates,
            |ns, name, body| {
                patched.lock().push((ns, name, body));
                async { Ok(()) }
            },
            || {
                *rechecks.lock() += 1;
                async { Ok(()) }
            },
        )
        .await
        .expect("claims");
        assert_eq!(claimed.len(), 3, "owned + two adopted");
        assert_eq!(patched.lock().len(), 3, "one release, two adoptions");
        assert_eq!(*rechecks.lock(), 1);
    }

    #[tokio::test]
    async fn a_failed_recheck_adopts_nothing_and_errors_are_aggregated() {
        let s = selector();
        let c = claimant(&s, false);
        let candidates = vec![
            Arc::new(pod("web", vec![])),
            Arc::new(pod("web", vec![owner_ref("x", false)])),
            Arc::new(pod("other", vec![owner_ref("me", true)])),
        ];
        let error = claim_objects(
            &c,
            &owner_ref("me", true),
            candidates,
            |_, _, _| async { Err(ApiFailure::new(FailureKind::Other, "etcd is sad")) },
            || async { Err("ns/rs has just been deleted at 2026-01-01T00:00:00Z".to_string()) },
        )
        .await
        .expect_err("fails");
        let text = error.to_string();
        assert!(
            text.starts_with("[can't adopt Pod ns/p-web-0 (pod-uid): ns/rs has just been deleted"),
            "{text}"
        );
        assert!(text.ends_with(", etcd is sad]"), "{text}");
    }

    #[test]
    fn the_fresh_owner_must_be_the_same_and_not_deleted() {
        let mut cached = k8s_openapi::api::apps::v1::ReplicaSet::default();
        cached.metadata.namespace = Some("ns".into());
        cached.metadata.name = Some("rs".into());
        cached.metadata.uid = Some("a".into());
        assert_eq!(check_fresh_owner(&cached, Ok(cached.clone())), Ok(()));
        let mut replaced = cached.clone();
        replaced.metadata.uid = Some("b".into());
        assert_eq!(
            check_fresh_owner(&cached, Ok(replaced)),
            Err("original ReplicaSet ns/rs is gone: got uid b, wanted a".into())
        );
        let mut deleting = cached.clone();
        deleting.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert!(
            check_fresh_owner(&cached, Ok(deleting))
                .unwrap_err()
                .starts_with("ns/rs has just been deleted at 1970")
        );
        assert_eq!(
            check_fresh_owner(
                &cached,
                Err(ApiFailure::new(FailureKind::NotFound, "not found"))
            ),
            Err("not found".into())
        );
    }
}
