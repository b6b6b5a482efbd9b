//! The sync scenarios, each driving one or more syncs against [`super::Fixture`].

use super::*;

#[tokio::test]
async fn scale_up_from_zero_creates_pods_from_the_template_and_expects_them() {
    let f = Fixture::new(vec![replica_set(3)], vec![]);
    f.sync("ns/web").await.unwrap();
    let created = f.created();
    assert_eq!(created.len(), 3);
    for p in &created {
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(p.metadata.labels, Some(app_labels()));
        assert_eq!(p.metadata.owner_references, Some(vec![rs_ref()]));
    }
    assert_eq!(f.pending("ns/web"), Some((3, 0)));
    let events = f.syncer.control.events.lock().clone();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|(t, reason, msg)| *t == EventType::Normal
        && reason == SUCCESSFUL_CREATE
        && msg.starts_with("Created pod: web-")));
    let status = f.written_status().expect("status written");
    assert_eq!(
        status.replicas, 0,
        "new pods count once the informer sees them"
    );
    assert_eq!(status.observed_generation, 2);
    assert_eq!(status.terminating_replicas, Some(0));
}

#[tokio::test]
async fn unmet_expectations_block_creation_but_not_status() {
    let f = Fixture::new(vec![replica_set(3)], vec![owned("a")]);
    f.syncer.expectations.expect_creations(&k("ns/web"), 2);
    f.sync("ns/web").await.unwrap();
    assert!(f.created().is_empty());
    assert_eq!(f.written_status().unwrap().replicas, 1);
}

#[tokio::test]
async fn one_sync_creates_at_most_the_burst() {
    let f = Fixture::new(vec![replica_set(600)], vec![]);
    f.sync("ns/web").await.unwrap();
    assert_eq!(f.created().len(), 500);
    assert_eq!(f.pending("ns/web"), Some((500, 0)));
    // The next sync waits for those 500 to be observed: never more than 600 in total.
    f.sync("ns/web").await.unwrap();
    assert_eq!(f.created().len(), 500);
}

#[tokio::test]
async fn failed_creation_stops_early_sets_the_condition_and_retries() {
    let f = Fixture::new(vec![replica_set(5)], vec![owned("a"), owned("b")]);
    let message = "pods \"web-x\" is forbidden: exceeded quota: q, requested: pods=1";
    *f.syncer.control.create_error.lock() = Some(ApiFailure::new(FailureKind::Other, message));
    let err = f.sync("ns/web").await.unwrap_err();
    assert!(err.to_string() == message, "{err:?}");
    assert_eq!(f.created().len(), 1, "slow start: one failing call");
    assert_eq!(f.event_reasons(), vec![FAILED_CREATE]);
    assert_eq!(
        f.syncer.control.events.lock()[0].2,
        format!("Error creating: {message}")
    );
    assert_eq!(
        f.pending("ns/web"),
        Some((0, 0)),
        "failed creations are not awaited"
    );
    let status = f.written_status().unwrap();
    assert_eq!(status.replicas, 2);
    let condition = &status.conditions[0];
    assert_eq!(condition.type_, REPLICA_FAILURE);
    assert_eq!(condition.reason.as_deref(), Some(REASON_FAILED_CREATE));
    assert_eq!(condition.message.as_deref(), Some(message));
}

#[tokio::test]
async fn a_successful_sync_clears_the_failure_condition() {
    let mut rs = replica_set(1);
    rs = rs.with_replica_status(&ReplicaStatus {
        replicas: 1,
        fully_labeled_replicas: 1,
        terminating_replicas: Some(0),
        observed_generation: 2,
        conditions: vec![ReplicaCondition {
            type_: REPLICA_FAILURE.into(),
            status: "True".into(),
            reason: Some("FailedCreate".into()),
            message: Some("quota".into()),
            last_transition_time: None,
        }],
        ..Default::default()
    });
    let f = Fixture::new(vec![rs], vec![owned("a")]);
    f.sync("ns/web").await.unwrap();
    assert!(f.created().is_empty());
    assert!(f.written_status().unwrap().conditions.is_empty());
}

#[tokio::test]
async fn an_unchanged_status_is_not_written() {
    let rs = replica_set(1).with_replica_status(&ReplicaStatus {
        replicas: 1,
        fully_labeled_replicas: 1,
        terminating_replicas: Some(0),
        observed_generation: 2,
        ..Default::default()
    });
    let f = Fixture::new(vec![rs], vec![owned("a")]);
    f.sync("ns/web").await.unwrap();
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[tokio::test]
async fn scale_down_deletes_the_lowest_ranked_pods_and_tracks_them() {
    let pods = vec![
        ready_since(owned("ready-1"), 600),
        owned("not-ready"),
        ready_since(owned("ready-2"), 600),
    ];
    let f = Fixture::new(vec![replica_set(1)], pods);
    f.sync("ns/web").await.unwrap();
    let deleted = f.deleted();
    assert_eq!(deleted.len(), 2);
    assert!(deleted.contains(&"not-ready".to_string()), "{deleted:?}");
    assert_eq!(f.pending("ns/web"), Some((0, 2)));
    let tracked = f.syncer.expectations.get_uids(&k("ns/web")).unwrap();
    assert!(tracked.contains(&k("ns/not-ready")));
    assert_eq!(
        f.event_reasons(),
        vec![SUCCESSFUL_DELETE, SUCCESSFUL_DELETE]
    );
}

#[tokio::test]
async fn deletion_errors_lower_expectations_and_only_real_failures_count() {
    let f = Fixture::new(vec![replica_set(0)], vec![owned("gone"), owned("stuck")]);
    f.syncer.control.delete_errors.lock().extend([
        (
            "gone".to_string(),
            ApiFailure::new(FailureKind::NotFound, "pods \"gone\" not found"),
        ),
        (
            "stuck".to_string(),
            ApiFailure::new(FailureKind::Other, "etcd timeout"),
        ),
    ]);
    let err = f.sync("ns/web").await.unwrap_err();
    assert!(
        err.to_string() == "unable to delete pods: etcd timeout",
        "{err:?}"
    );
    assert_eq!(f.pending("ns/web"), Some((0, 0)));
    assert_eq!(f.event_reasons(), vec![FAILED_DELETE]);
    let status = f.written_status().unwrap();
    assert_eq!(status.conditions[0].reason.as_deref(), Some("FailedDelete"));
}

#[tokio::test]
async fn orphans_are_adopted_after_one_fresh_owner_read() {
    let f = Fixture::new(
        vec![replica_set(2)],
        vec![pod("orphan-1", None), pod("orphan-2", None)],
    );
    f.sync("ns/web").await.unwrap();
    let calls = f.calls();
    assert_eq!(calls.iter().filter(|c| **c == Call::GetOwner).count(), 1);
    let patches: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Patch(name, patch) => Some((name.clone(), patch.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(patches.len(), 2);
    let (name, patch) = &patches[0];
    assert_eq!(patch, &adopt_patch(&rs_ref(), &format!("uid-{name}")));
    assert!(f.created().is_empty(), "adopted pods count as replicas");
    assert_eq!(f.written_status().unwrap().replicas, 2);
}

#[tokio::test]
async fn adoption_is_refused_when_the_fresh_owner_is_deleted_or_replaced() {
    for fresh in [
        {
            let mut rs = replica_set(1);
            rs.metadata.deletion_timestamp = Some(Time(now()));
            rs
        },
        {
            let mut rs = replica_set(1);
            rs.metadata.uid = Some("recreated".into());
            rs
        },
    ] {
        let f = Fixture::new(vec![replica_set(1)], vec![pod("orphan", None)]);
        *f.syncer.control.fresh_owner.lock() = Some(fresh);
        let err = f.sync("ns/web").await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("can't adopt Pod ns/orphan (uid-orphan)"),
            "{err:?}"
        );
        assert!(!f.calls().iter().any(|c| matches!(c, Call::Patch(..))));
        assert!(f.created().is_empty(), "a failed claim ends the sync");
    }
}

#[tokio::test]
async fn owned_pods_that_stop_matching_are_released_and_replaced_next_time() {
    let mut relabelled = owned("relabelled");
    relabelled.metadata.labels = Some(BTreeMap::from([("app".into(), "other".into())]));
    let f = Fixture::new(vec![replica_set(1)], vec![relabelled]);
    f.sync("ns/web").await.unwrap();
    assert_eq!(
        f.calls()[0],
        Call::Patch(
            "relabelled".into(),
            release_patch("rs-uid", "uid-relabelled")
        )
    );
    assert_eq!(f.created().len(), 1);
}

#[tokio::test]
async fn pods_of_other_controllers_and_other_namespaces_are_not_counted() {
    let mut foreign = pod("foreign", None);
    foreign.metadata.owner_references = Some(vec![OwnerReference {
        uid: "someone-else".into(),
        ..rs_ref()
    }]);
    let mut elsewhere = owned("elsewhere");
    elsewhere.metadata.namespace = Some("other".into());
    let f = Fixture::new(vec![replica_set(1)], vec![foreign, elsewhere]);
    f.sync("ns/web").await.unwrap();
    assert_eq!(f.created().len(), 1);
    assert!(!f.calls().iter().any(|c| matches!(c, Call::Patch(..))));
}

#[tokio::test]
async fn an_owner_being_deleted_only_updates_status() {
    let mut rs = replica_set(3);
    rs.metadata.deletion_timestamp = Some(Time(now()));
    let f = Fixture::new(vec![rs], vec![owned("a"), pod("orphan", None)]);
    f.sync("ns/web").await.unwrap();
    let calls = f.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(f.written_status().unwrap().replicas, 1);
}

#[tokio::test]
async fn terminating_pods_are_counted_separately_and_replaced() {
    let mut terminating = owned("terminating");
    terminating.metadata.deletion_timestamp = Some(Time(now()));
    let mut failed = owned("failed");
    failed.status.as_mut().unwrap().phase = Some("Failed".into());
    let f = Fixture::new(
        vec![replica_set(2)],
        vec![terminating.clone(), failed.clone()],
    );
    f.sync("ns/web").await.unwrap();
    assert_eq!(f.created().len(), 2);
    assert!(
        f.deleted().is_empty(),
        "terminal and terminating pods are never deleted"
    );
    let status = f.written_status().unwrap();
    assert_eq!((status.replicas, status.terminating_replicas), (0, Some(1)));

    let rc = Fixture::new(vec![replication_controller(2)], vec![rc_owned(terminating)]);
    rc.sync("ns/legacy").await.unwrap();
    assert_eq!(rc.written_status().unwrap().terminating_replicas, None);
}

#[tokio::test]
async fn a_failed_status_write_is_retried_once_on_a_fresh_copy() {
    let f = Fixture::new(vec![replica_set(0)], vec![]);
    *f.syncer.control.failing_status_writes.lock() = 1;
    f.sync("ns/web").await.unwrap();
    let kinds: Vec<_> = f.calls().iter().map(std::mem::discriminant).collect();
    assert_eq!(
        kinds,
        vec![
            std::mem::discriminant(&Call::UpdateStatus(ReplicaStatus::default())),
            std::mem::discriminant(&Call::GetOwner),
            std::mem::discriminant(&Call::UpdateStatus(ReplicaStatus::default())),
        ]
    );
    let f2 = Fixture::new(vec![replica_set(0)], vec![]);
    *f2.syncer.control.failing_status_writes.lock() = 2;
    assert!(f2.sync("ns/web").await.is_err());
}

#[tokio::test(start_paused = true)]
async fn min_ready_seconds_requeues_when_the_next_pod_becomes_available() {
    let mut rs = replica_set(2);
    rs.spec.as_mut().unwrap().min_ready_seconds = Some(10);
    let pods = vec![ready_since(owned("a"), 3), ready_since(owned("b"), 30)];
    let f = Fixture::new(vec![rs], pods);
    let action = f.sync("ns/web").await.unwrap();
    let status = f.written_status().unwrap();
    assert_eq!((status.ready_replicas, status.available_replicas), (2, 1));
    // Pod "a" has been ready 3 of its 10 s: sync again when it becomes available.
    assert!(
        matches!(action, Action::RequeueAfter(d)
            if d > Duration::from_millis(6_900) && d <= Duration::from_millis(7_100)),
        "{action:?}"
    );
}

#[tokio::test]
async fn an_invalid_selector_is_reported_and_skipped() {
    let mut rs = replica_set(3);
    rs.spec.as_mut().unwrap().selector.match_expressions = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
            key: "app".into(),
            operator: "Near".into(),
            values: None,
        },
    ]);
    let f = Fixture::new(vec![rs], vec![]);
    f.sync("ns/web").await.unwrap();
    assert!(f.calls().is_empty());
    assert_eq!(f.event_reasons(), vec![INVALID_SELECTOR]);
}

#[tokio::test]
async fn a_vanished_owner_forgets_its_expectations() {
    let f = Fixture::new(Vec::<ReplicaSet>::new(), vec![]);
    f.syncer.expectations.expect_creations(&k("ns/web"), 4);
    f.sync("ns/web").await.unwrap();
    assert_eq!(f.pending("ns/web"), None);
    assert!(f.calls().is_empty());
    assert_eq!(f.owners.lister().list().len(), 0);
}

#[tokio::test]
async fn doubled_up_pods_of_sibling_replica_sets_go_first() {
    let deployment_ref = OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "d".into(),
        uid: "deploy-uid".into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut rs = replica_set(1);
    rs.metadata.owner_references = Some(vec![deployment_ref.clone()]);
    let mut sibling = replica_set(3);
    sibling.metadata.name = Some("web-old".into());
    sibling.metadata.uid = Some("sibling-uid".into());
    sibling.metadata.owner_references = Some(vec![deployment_ref]);
    let sibling_ref = new_controller_ref(&sibling).unwrap();
    let on = |mut p: Pod, node: &str| {
        p.spec.as_mut().unwrap().node_name = Some(node.into());
        p
    };
    let pods = vec![
        on(owned("crowded"), "node-a"),
        on(owned("alone"), "node-b"),
        on(pod("s1", Some(sibling_ref.clone())), "node-a"),
        on(pod("s2", Some(sibling_ref)), "node-a"),
    ];
    // Sibling pods carry other labels so this ReplicaSet does not count them.
    let pods: Vec<Pod> = pods
        .into_iter()
        .map(|mut p| {
            if p.metadata.name.as_deref().unwrap().starts_with('s') {
                p.metadata.labels = Some(BTreeMap::from([("app".into(), "old".into())]));
            }
            p
        })
        .collect();
    let f = Fixture::new(vec![rs, sibling], pods);
    f.sync("ns/web").await.unwrap();
    assert_eq!(f.deleted(), vec!["crowded"]);
    assert_eq!(f.pods.lister().list().len(), 4);
}

fn replication_controller(replicas: i32) -> ReplicationController {
    ReplicationController {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("legacy".into()),
            uid: Some("rc-uid".into()),
            generation: Some(1),
            ..Default::default()
        },
        spec: Some(ReplicationControllerSpec {
            replicas: Some(replicas),
            selector: Some(app_labels()),
            template: Some(template()),
            min_ready_seconds: None,
        }),
        status: None,
    }
}

fn rc_owned(mut p: Pod) -> Pod {
    p.metadata.owner_references = Some(vec![
        new_controller_ref(&replication_controller(1)).unwrap(),
    ]);
    p
}

#[tokio::test]
async fn replication_controllers_create_pods_they_control() {
    let f = Fixture::new(vec![replication_controller(2)], vec![rc_owned(owned("a"))]);
    f.sync("ns/legacy").await.unwrap();
    let created = f.created();
    assert_eq!(created.len(), 1);
    let reference = &created[0].metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (reference.api_version.as_str(), reference.kind.as_str()),
        ("v1", "ReplicationController")
    );
    assert_eq!(
        created[0].metadata.generate_name.as_deref(),
        Some("legacy-")
    );
    let status = f.written_status().unwrap();
    assert_eq!((status.replicas, status.observed_generation), (1, 1));
}
