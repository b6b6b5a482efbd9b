use super::*;
use k8s_openapi::{
    api::core::v1::Pod,
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time},
};
use parking_lot::Mutex;
use std::collections::BTreeMap;

fn selector() -> ObjectSelector {
    ObjectSelector::from_map(Some(
        &[("app".to_string(), "web".to_string())]
            .into_iter()
            .collect(),
    ))
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
