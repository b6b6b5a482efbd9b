//! Which pods a ReplicaSet or RC owns, adopts or lets go (upstream
//! `BaseControllerRefManager.ClaimObject`, `PodControllerRefManager` and `FilterClaimedPods`),
//! and the patches that adopt and release.
//!
//! The decision is pure; [`super::sync`] performs the patches. Both patches carry the pod's
//! `metadata.uid`, so they fail rather than touch a pod that was deleted and recreated under
//! the same name. Adoption is a strategic-merge patch because `ownerReferences` merge by `uid`:
//! an existing non-controller reference to the same owner is upgraded in place, and the
//! apiserver refuses a second controller reference if another controller got there first.

use std::sync::Arc;

use k8s_openapi::{api::core::v1::Pod, apimachinery::pkg::apis::meta::v1::OwnerReference};
use kcm_shared::k8s::controller_of;
use serde_json::{Value, json};

use super::kind::PodSelector;

/// The owner as claiming sees it.
#[derive(Clone, Copy, Debug)]
pub struct Claimant<'a> {
    pub uid: &'a str,
    pub namespace: &'a str,
    /// The owner has a deletion timestamp: it keeps what it has but adopts and releases nothing.
    pub being_deleted: bool,
    pub selector: &'a PodSelector,
}

/// What to do with one candidate pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimDecision {
    /// Ours and selected: counts as a replica.
    Owned,
    /// Ours but no longer selected: remove our controller reference.
    Release,
    /// An orphan that is selected: take it (after the fresh owner check).
    Adopt,
    /// Someone else's, or not for us right now.
    Ignore,
}

/// `ClaimObject` for one pod.
pub fn decide(claimant: &Claimant<'_>, pod: &Pod) -> ClaimDecision {
    let selected = claimant.selector.matches(pod.metadata.labels.as_ref());
    if let Some(owner) = controller_of(&pod.metadata) {
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
    let same_namespace = pod.metadata.namespace.as_deref() == Some(claimant.namespace);
    if claimant.being_deleted
        || !selected
        || pod.metadata.deletion_timestamp.is_some()
        || !same_namespace
    {
        return ClaimDecision::Ignore;
    }
    ClaimDecision::Adopt
}

/// `FilterClaimedPods`: pods already controlled by the owner and still selected. Used for
/// terminating pods, which are counted but never adopted.
pub fn filter_claimed(claimant: &Claimant<'_>, pods: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
    pods.iter()
        .filter(|pod| {
            controller_of(&pod.metadata).is_some_and(|owner| owner.uid == claimant.uid)
                && claimant.selector.matches(pod.metadata.labels.as_ref())
        })
        .cloned()
        .collect()
}

/// `ownerRefControllerPatch`: make `controller_ref` the pod's controller, guarded by the pod UID.
pub fn adopt_patch(controller_ref: &OwnerReference, pod_uid: &str) -> Value {
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
            "uid": pod_uid,
        }
    })
}

/// `GenerateDeleteOwnerRefStrategicMergeBytes`: drop the reference to `owner_uid`, guarded by the
/// pod UID.
pub fn release_patch(owner_uid: &str, pod_uid: &str) -> Value {
    json!({
        "metadata": {
            "ownerReferences": [{ "$patch": "delete", "uid": owner_uid }],
            "uid": pod_uid,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use std::collections::BTreeMap;

    fn selector() -> PodSelector {
        PodSelector::Matching([("app", "web")].into_iter().collect())
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
                name: Some("p".into()),
                namespace: Some("ns".into()),
                uid: Some("pod-uid".into()),
                labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
                owner_references: Some(refs),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn claimant(selector: &PodSelector, being_deleted: bool) -> Claimant<'_> {
        Claimant {
            uid: "me",
            namespace: "ns",
            being_deleted,
            selector,
        }
    }

    #[test]
    fn owned_and_selected_pods_are_kept_even_while_the_owner_is_deleted() {
        let s = selector();
        let p = pod("web", vec![owner_ref("me", true)]);
        assert_eq!(decide(&claimant(&s, false), &p), ClaimDecision::Owned);
        assert_eq!(decide(&claimant(&s, true), &p), ClaimDecision::Owned);
    }

    #[test]
    fn owned_pods_that_stop_matching_are_released_unless_the_owner_is_deleted() {
        let s = selector();
        let p = pod("other", vec![owner_ref("me", true)]);
        assert_eq!(decide(&claimant(&s, false), &p), ClaimDecision::Release);
        assert_eq!(decide(&claimant(&s, true), &p), ClaimDecision::Ignore);
    }

    #[test]
    fn pods_of_another_controller_are_ignored() {
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
        // A non-controller reference (to us or anyone) leaves the pod an orphan.
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
    fn filter_claimed_keeps_only_our_selected_pods() {
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
    fn patches_match_upstream_and_are_guarded_by_the_pod_uid() {
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
}
